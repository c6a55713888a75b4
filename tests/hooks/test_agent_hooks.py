"""``askAgent`` hooks: on a file event the agent runs (scripted model, real tools, real git diff
in its request); on an event inside a running agent the prompt joins that agent's context and
no model is called."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from specloom.agent.audit import AuditLog
from specloom.hooks.bus import HookBus
from specloom.hooks.model import EventKind, HookEvent
from tests.hooks.conftest import legacy_hook, v1_hooks

pytestmark = pytest.mark.anyio

TEST_FILE = "def test_add():\n    from app import add\n    assert add(2, 3) == -1\n"


def user_prompt(messages: list[ModelMessage]) -> str:
    for message in messages:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                    return part.content
    raise AssertionError("no user prompt")


async def test_a_file_event_runs_the_agent_with_the_file_and_its_diff(project: Path) -> None:
    legacy_hook(
        project,
        "tests-on-save",
        event="fileEdited",
        patterns=["*.py", "!tests/**"],
        prompt="Update the unit tests for the changed code.",
    )
    (project / "app.py").write_text("def add(a, b):\n    return a - b\n")
    prompts: list[str] = []

    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        prompts.append(user_prompt(messages))
        if sum(1 for message in messages if isinstance(message, ModelResponse)) == 0:
            call = ToolCallPart(
                "write_file", {"path": "tests/test_app.py", "content": TEST_FILE}, tool_call_id="w1"
            )
            return ModelResponse(parts=[call])
        return ModelResponse(parts=[TextPart("Added tests/test_app.py for the new add.")])

    bus = HookBus.load(
        project, model=FunctionModel(answer, model_name="scripted"), mode="autopilot", use_mcp=False
    )
    outcome = await bus.dispatch(HookEvent(EventKind.fileEdited, project, files=("app.py",)))
    bus.close()

    (run,) = outcome.runs
    assert run.outcome == "ok", run.detail
    assert run.changed_files == ("tests/test_app.py",)
    assert (project / "tests" / "test_app.py").read_text() == TEST_FILE
    assert outcome.context == ["Added tests/test_app.py for the new add."]
    request = prompts[0]
    assert request.startswith("Update the unit tests for the changed code.")
    assert 'Hook "tests-on-save" fired on fileEdited.' in request
    assert "Files saved: app.py" in request
    assert "-    return a + b\n+    return a - b" in request  # the real git diff of the file
    log = AuditLog.for_project(project)
    agent_kinds = [entry.kind for entry in log.entries(run_id=f"{run.run_id}-agent")]
    hook_end = log.entries(run_id=run.run_id)[-1]
    log.close()
    assert "tool_call" in agent_kinds and agent_kinds[0] == "run_start"
    assert hook_end.data["action"] == "askAgent" and hook_end.data["outcome"] == "ok"
    assert hook_end.data["changed_files"] == ["tests/test_app.py"]


async def test_inside_a_running_agent_the_prompt_joins_its_context(project: Path) -> None:
    legacy_hook(
        project,
        "write-gate",
        event="preToolUse",
        tools=["write"],
        prompt="Never write credentials into files.",
    )
    v1_hooks(
        project,
        "v1",
        [
            {
                "name": "remind",
                "trigger": "Stop",
                "action": {"type": "agent", "prompt": "Summarise what changed."},
            }
        ],
    )

    def no_model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        raise AssertionError("no model may be called for an injected prompt")

    bus = HookBus.load(project, model=FunctionModel(no_model), use_mcp=False)
    before = await bus.dispatch(
        HookEvent(
            EventKind.preToolUse, project, tool_name="write_file", tool_input={"path": "config.py"}
        )
    )
    stop = await bus.dispatch(HookEvent(EventKind.agentStop, project))
    bus.close()

    assert not before.blocked
    (text,) = before.context
    assert text.startswith("Never write credentials into files.")
    assert 'Tool call: write_file {"path": "config.py"}' in text
    assert [run.outcome for run in before.runs] == ["ok"]
    assert stop.context[0].startswith("Summarise what changed.")


async def test_a_model_that_cannot_be_opened_is_a_failed_run_not_a_crash(project: Path) -> None:
    legacy_hook(project, "docs", event="fileEdited", patterns=["*.py"], prompt="Update docs.")
    bus = HookBus.load(project, model_name="no-such-model", use_mcp=False)

    outcome = await bus.dispatch(HookEvent(EventKind.fileEdited, project, files=("app.py",)))
    bus.close()

    (run,) = outcome.runs
    assert run.outcome == "error" and "no-such-model" in run.detail
    assert not outcome.blocked
