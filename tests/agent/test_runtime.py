"""A whole agent run as the interfaces assemble it (``prepare_agent``): real MCP servers
(``mcp-server-time``, ``mcp-server-git``) gated by the policy, the interface's approval
prompt, grants, the destructive guard in autopilot, and the audit trail of it all."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from specloom.agent.audit import AuditLog
from specloom.agent.events import AgentEvent, ApprovalNeeded, ApprovalSettled
from specloom.agent.policy import Answer, Decision
from specloom.agent.runtime import prepare_agent
from specloom.agent.tool_env import ApprovalRequest
from specloom.settings import load_settings
from tests.agent.test_checkpoints import git

pytestmark = pytest.mark.anyio


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q")
    (root / "app.py").write_text("print('hi')\n")
    git(root, "add", "app.py")
    git(root, "commit", "-q", "-m", "first")
    return root


def scripted(steps: list[ModelResponse], seen: list[list[ModelMessage]]) -> FunctionModel:
    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        seen.append(list(messages))
        return steps[min(len(seen) - 1, len(steps) - 1)]

    return FunctionModel(answer, model_name="scripted")


def call(tool: str, call_id: str, **args: Any) -> ModelResponse:
    return ModelResponse(parts=[ToolCallPart(tool, args, tool_call_id=call_id)])


def returned(messages: list[ModelMessage], call_id: str) -> tuple[str, str]:
    for message in messages:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, ToolReturnPart) and part.tool_call_id == call_id:
                    return part.outcome, str(part.content)
    raise AssertionError(f"no result for {call_id}")


@pytest.mark.slow
async def test_mcp_tools_run_through_the_policy(project: Path) -> None:
    servers = {
        "time": {
            "command": sys.executable,
            "args": ["-m", "mcp_server_time", "--local-timezone", "UTC"],
            "autoApprove": ["get_current_time"],
        },
        "git": {
            "command": sys.executable,
            "args": ["-m", "mcp_server_git", "--repository", str(project)],
        },
    }
    (project / ".kiro" / "settings").mkdir(parents=True)
    (project / ".kiro" / "settings" / "mcp.json").write_text(json.dumps({"mcpServers": servers}))
    seen: list[list[ModelMessage]] = []
    model = scripted(
        [
            call("time__get_current_time", "t1", timezone="Europe/Paris"),
            call("git__git_status", "g1", repo_path=str(project)),
            ModelResponse(parts=[TextPart("done")]),
        ],
        seen,
    )
    events: list[AgentEvent] = []
    prepared = prepare_agent(
        project, model, settings=load_settings(project), on_event=events.append, run_id="mcp-run"
    )

    result = await prepared.run("What time is it, and what is the git status?")
    prepared.close()

    assert result.completed, result.detail
    outcome, content = returned(seen[1], "t1")
    assert outcome == "success"
    assert "Europe/Paris" in content  # the real server answered
    outcome, content = returned(seen[2], "g1")
    assert outcome == "failed"  # supervised, not auto-approved, nobody to ask
    assert content.startswith("The user declined")
    settled = [event for event in events if isinstance(event, ApprovalSettled)]
    assert [(event.allowed, event.by) for event in settled] == [(True, "rule"), (False, "policy")]
    log = AuditLog.for_project(project)
    entries = log.entries(run_id="mcp-run")
    kinds = [entry.kind for entry in entries]
    assert kinds[0] == "run_start" and kinds[-1] == "run_end"
    assert kinds.count("approval") == 2
    assert kinds.count("tool_call") == 2
    log.close()


async def test_the_interface_is_asked_and_its_grants_hold(project: Path) -> None:
    seen: list[list[ModelMessage]] = []
    model = scripted(
        [
            call("write_file", "w1", path="notes.md", content="one"),
            call("write_file", "w2", path="notes.md", content="two"),
            call("run_command", "r1", command="rm -rf src"),
            ModelResponse(parts=[TextPart("done")]),
        ],
        seen,
    )
    asked: list[tuple[str, bool]] = []

    async def ask(request: ApprovalRequest, decision: Decision) -> Answer:
        asked.append((request.kind, decision.destructive))
        return Answer("file") if request.kind == "write" else Answer("deny")

    events: list[AgentEvent] = []
    prepared = prepare_agent(
        project, model, settings=load_settings(project), ask=ask, on_event=events.append
    )
    (project / "src").mkdir()
    (project / "src" / "keep.py").write_text("x = 1\n")

    result = await prepared.run("Take notes.")
    prepared.close()

    assert result.completed
    assert (project / "notes.md").read_text() == "two"
    assert (project / "src" / "keep.py").exists()
    assert asked == [("write", False), ("command", True)]  # the second write was granted
    needed = [event for event in events if isinstance(event, ApprovalNeeded)]
    assert [event.destructive for event in needed] == [False, True]
    assert needed[1].details["command"] == "rm -rf src"
    settled = [event for event in events if isinstance(event, ApprovalSettled)]
    assert [(event.allowed, event.by) for event in settled] == [
        (True, "user"),
        (True, "grant"),
        (False, "user"),
    ]


async def test_autopilot_approves_work_but_not_destruction(project: Path) -> None:
    seen: list[list[ModelMessage]] = []
    model = scripted(
        [
            call("write_file", "w1", path="notes.md", content="one"),
            call("run_command", "r1", command="git status --short"),
            call("run_command", "r2", command="echo ok && git reset --hard HEAD"),
            ModelResponse(parts=[TextPart("done")]),
        ],
        seen,
    )
    prepared = prepare_agent(project, model, settings=load_settings(project), mode="autopilot")

    result = await prepared.run("Work.")
    prepared.close()

    assert result.completed
    assert (project / "notes.md").read_text() == "one"  # not reset
    assert returned(seen[2], "r1")[0] == "success"
    outcome, content = returned(seen[3], "r2")
    assert outcome == "failed"
    assert content.startswith("The user declined")
    assert len(result.checkpoints) == 2  # before the write, before the first command


def test_the_context_cap_follows_the_smallest_context_window() -> None:
    from pydantic_ai.models.fallback import FallbackModel

    from specloom.agent.runtime import context_chars
    from specloom.llm.catalog import ModelEntry
    from specloom.llm.metering import UsageRecorder
    from specloom.llm.routing import RoutedModel

    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[TextPart("ok")])

    def routed(window: int | None) -> RoutedModel:
        entry = ModelEntry("m", "openai", "m", context_window=window)
        return RoutedModel(entry, FunctionModel(answer), UsageRecorder())

    assert context_chars(routed(4096)) == 4096  # the embedded model: room for tools and work
    assert context_chars(routed(200_000)) == 48_000
    assert context_chars(routed(512)) == 1_500
    assert context_chars(FallbackModel(routed(200_000), routed(4096))) == 4096
    assert context_chars(routed(None)) is None
    assert context_chars(FunctionModel(answer)) is None


async def test_a_run_in_a_worktree_keeps_its_record_in_the_project(
    project: Path, tmp_path: Path
) -> None:
    # A task working in its own checkout writes the audit log into the project, so the
    # record outlives the checkout.
    checkout = tmp_path / "checkout"
    git(project, "worktree", "add", "-q", "--detach", str(checkout))
    seen: list[list[ModelMessage]] = []
    model = scripted(
        [
            call("write_file", "w1", path="notes.txt", content="done\n"),
            ModelResponse([TextPart("ok")]),
        ],
        seen,
    )
    prepared = prepare_agent(
        checkout,
        model,
        settings=load_settings(project),
        mode="autopilot",
        run_id="worktree-run",
        use_mcp=False,
        state_root=project,
    )
    try:
        result = await prepared.run("write the notes", with_context=False)
    finally:
        prepared.close()
    assert result.stop == "completed"
    assert (checkout / "notes.txt").read_text() == "done\n"
    assert not (project / "notes.txt").exists()
    kinds = [entry.kind for entry in AuditLog.for_project(project).entries(run_id="worktree-run")]
    assert kinds[0] == "run_start" and "tool_call" in kinds and "checkpoint" in kinds
    assert not (checkout / ".kiro" / ".specloom" / "audit.sqlite3").exists()
