"""``HookedToolset`` in a real pydantic-ai agent run: a pre-tool hook blocks a call (the tool
never runs, the model reads why), a post-tool hook's output reaches the model with the result."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.toolsets import FunctionToolset

from specloom.hooks.bus import HookBus
from specloom.hooks.toolset import with_hooks
from tests.hooks.conftest import legacy_hook, script, v1_hooks

pytestmark = pytest.mark.anyio


def results(messages: list[ModelMessage]) -> dict[str, str]:
    found: dict[str, str] = {}
    for message in messages:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, ToolReturnPart | RetryPromptPart) and part.tool_call_id:
                    found[part.tool_call_id] = str(part.content)
    return found


async def test_tool_hooks_block_calls_and_add_to_results(project: Path) -> None:
    legacy_hook(
        project,
        "no-env",
        event="preToolUse",
        tools=["write"],
        command=script(
            project,
            "guard.py",
            (
                "import json, sys\n"
                "if json.load(sys.stdin)['tool_input']['path'].endswith('.env'):\n"
                "    sys.exit('secrets stay out of .env files in the repository')\n"
            ),
        ),
    )
    v1_hooks(
        project,
        "after",
        [
            {
                "name": "formatted",
                "trigger": "PostToolUse",
                "matcher": "fs_write",
                "action": {"type": "command", "command": "echo formatted $SPECLOOM_FILE"},
            }
        ],
    )
    written: list[str] = []

    def write_file(path: str, content: str) -> str:
        """Write a file."""
        written.append(path)
        return f"wrote {path}"

    seen: list[list[ModelMessage]] = []

    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        seen.append(list(messages))
        if len(seen) == 1:
            return ModelResponse(
                parts=[
                    ToolCallPart(
                        "write_file", {"path": "config/.env", "content": "KEY=1"}, tool_call_id="a"
                    ),
                    ToolCallPart(
                        "write_file", {"path": "app.py", "content": "x = 1"}, tool_call_id="b"
                    ),
                ]
            )
        return ModelResponse(parts=[TextPart("done")])

    bus = HookBus.load(project)
    toolsets = with_hooks([FunctionToolset([write_file])], bus, session_id="run-1")
    agent = Agent(FunctionModel(answer), toolsets=toolsets)
    result = await agent.run("write the files")
    bus.close()

    assert result.output == "done"
    assert written == ["app.py"]  # the blocked call never reached the tool
    returned = results(seen[1])
    assert "A hook blocked this call of write_file" in returned["a"]
    assert "secrets stay out of .env files in the repository" in returned["a"]
    assert returned["b"] == "wrote app.py\n\n[hook] formatted app.py"
