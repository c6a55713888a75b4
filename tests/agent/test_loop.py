"""The agent loop with scripted models on a real git workspace: events in order, checkpoints
before changes (and restorable), the audit log, approvals refused, and every way a run stops
(step limit, cancellation, timeout, budget)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
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
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

from specloom.agent.audit import AuditLog, AuditTrail
from specloom.agent.checkpoints import CheckpointStore
from specloom.agent.events import (
    AgentEvent,
    CheckpointMade,
    StepFinished,
    TextDelta,
    ToolFinished,
    ToolStarted,
)
from specloom.agent.loop import AgentLimits, AgentRunner
from specloom.agent.tool_env import DECLINED, ApprovalRequest
from specloom.errors import BudgetExceededError
from tests.agent.test_checkpoints import git

pytestmark = pytest.mark.anyio


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    (root / "app.py").write_text("def add(a, b):\n    return a - b\n")
    git(root, "add", "app.py")
    git(root, "commit", "-q", "-m", "first")
    return root


@dataclass
class Approver:
    """Approves what ``allow`` says; records every request."""

    allow: bool = True
    requests: list[ApprovalRequest] = field(default_factory=list)
    tool_calls: list[tuple[str, str]] = field(default_factory=list)

    async def approve(self, request: ApprovalRequest) -> bool:
        self.requests.append(request)
        return self.allow

    async def approve_tool(self, server: str, tool: str, arguments: dict[str, Any]) -> bool:
        self.tool_calls.append((server, tool))
        return self.allow


@dataclass
class Script:
    """A model that answers with the next scripted response and keeps what it was sent."""

    responses: list[ModelResponse]
    seen: list[list[ModelMessage]] = field(default_factory=list)

    def answer(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        self.seen.append(list(messages))
        if len(self.seen) > len(self.responses):
            return self.responses[-1]
        return self.responses[len(self.seen) - 1]

    async def stream(
        self, messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | dict[int, DeltaToolCall]]:
        response = self.answer(messages, info)
        for index, part in enumerate(response.parts):
            if isinstance(part, TextPart):
                words = part.content.split(" ")
                for number, word in enumerate(words):
                    yield word if number == len(words) - 1 else word + " "
            elif isinstance(part, ToolCallPart):
                delta = DeltaToolCall(
                    part.tool_name, part.args_as_json_str(), tool_call_id=part.tool_call_id
                )
                yield {index: delta}

    def model(self, *, stream: bool) -> FunctionModel:
        if stream:
            return FunctionModel(stream_function=self.stream, model_name="scripted")
        return FunctionModel(self.answer, model_name="scripted")


def call(tool: str, call_id: str, **args: Any) -> ModelResponse:
    return ModelResponse(parts=[ToolCallPart(tool, args, tool_call_id=call_id)])


def text(content: str) -> ModelResponse:
    return ModelResponse(parts=[TextPart(content)])


def returns(messages: list[ModelMessage]) -> list[ToolReturnPart]:
    return [
        part
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, ToolReturnPart)
    ]


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
async def test_a_run_writes_checks_and_reports_every_step(repo: Path, stream: bool) -> None:
    script = Script(
        [
            call("edit_file", "c1", path="app.py", old_text="a - b", new_text="a + b"),
            call("write_file", "c2", path="test_app.py", content=TEST_FILE),
            call("run_command", "c3", command="python -m pytest -q test_app.py"),
            text("Fixed add and checked it with a test."),
        ]
    )
    events: list[AgentEvent] = []
    store = CheckpointStore(repo)
    log = AuditLog.for_project(repo)
    approver = Approver()
    runner = AgentRunner(
        repo,
        script.model(stream=stream),
        approver,
        audit=AuditTrail(log, "run-1", spec="calc", task="1"),
        checkpoints=store,
        on_event=events.append,
        stream=stream,
        task="1",
        spec="calc",
    )

    result = await runner.run("Fix add.")

    assert result.completed, result.detail
    assert result.output == "Fixed add and checked it with a test."
    assert result.steps == 4
    assert result.tool_calls == 3
    assert result.changed_files == ["app.py", "test_app.py"]
    assert (repo / "app.py").read_text() == "def add(a, b):\n    return a + b\n"
    test_run = returns(script.seen[3])[-1]
    assert "1 passed" in test_run.model_response_str()
    assert [request.kind for request in approver.requests] == ["edit", "write", "command"]

    # One checkpoint per changing step, each taken before that step's change.
    made = [event for event in events if isinstance(event, CheckpointMade)]
    assert [event.step for event in made] == [1, 2, 3]
    assert result.checkpoints == [event.checkpoint_id for event in made]
    store.restore(result.checkpoints[0])
    assert (repo / "app.py").read_text() == "def add(a, b):\n    return a - b\n"
    assert not (repo / "test_app.py").exists()

    # Events in order: the checkpoint comes after the call starts and before it finishes.
    kinds = [event.kind for event in events]
    first_call = kinds.index("tool_started")
    assert kinds[first_call : first_call + 3] == ["tool_started", "checkpoint", "tool_finished"]
    assert [event.step for event in events if isinstance(event, StepFinished)] == [1, 2, 3, 4]
    finished = [event for event in events if isinstance(event, ToolFinished)]
    assert [event.tool for event in finished] == ["edit_file", "write_file", "run_command"]
    assert all(event.ok for event in finished)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)).split() == (
        "Fixed add and checked it with a test.".split()
    )
    assert [e.call_id for e in events if isinstance(e, ToolStarted)] == ["c1", "c2", "c3"]

    kinds_logged = [entry.kind for entry in log.entries(spec="calc")]
    assert kinds_logged.count("model_request") == 4
    assert kinds_logged.count("tool_call") == 3
    assert kinds_logged.count("tool_result") == 3
    assert kinds_logged.count("checkpoint") == 3
    assert git(repo, "status", "--porcelain") == ""  # back to the commit; index untouched
    log.close()


TEST_FILE = "from app import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


async def test_a_refused_change_is_not_made_and_the_model_is_told(repo: Path) -> None:
    script = Script(
        [call("write_file", "c1", path="notes.txt", content="hello"), text("I could not.")]
    )
    events: list[AgentEvent] = []
    runner = AgentRunner(
        repo,
        script.model(stream=False),
        Approver(allow=False),
        checkpoints=CheckpointStore(repo),
        on_event=events.append,
        stream=False,
    )

    result = await runner.run("Write notes.")

    assert result.completed
    assert not (repo / "notes.txt").exists()
    assert result.changed_files == []
    assert result.checkpoints == []  # nothing was going to change
    told = returns(script.seen[1])[-1]
    assert told.outcome == "failed"
    assert str(told.content).startswith(DECLINED)
    finished = [event for event in events if isinstance(event, ToolFinished)]
    assert [event.ok for event in finished] == [False]


async def test_the_step_limit_stops_a_looping_model(repo: Path) -> None:
    script = Script([call("read_file", "c1", path="app.py")])  # repeats for ever
    log = AuditLog.for_project(repo)
    runner = AgentRunner(
        repo,
        script.model(stream=False),
        Approver(),
        audit=AuditTrail(log, "run-2"),
        limits=AgentLimits(max_steps=3),
        stream=False,
    )

    result = await runner.run("Read it.")

    assert result.stop == "step_limit"
    assert "step limit (3 model requests)" in result.detail
    assert result.steps == 3
    assert len(script.seen) == 3
    assert len(returns(result.messages)) >= 2  # the work done so far is kept
    errors = [entry for entry in log.entries(kind="error") if entry.run_id == "run-2"]
    assert len(errors) == 1
    log.close()


async def test_cancel_from_an_event_handler_stops_the_run(repo: Path) -> None:
    script = Script([call("read_file", "c1", path="app.py")])
    runner: AgentRunner

    def on_event(event: AgentEvent) -> None:
        if isinstance(event, ToolFinished):
            runner.cancel()

    runner = AgentRunner(
        repo, script.model(stream=True), Approver(), on_event=on_event, stream=True
    )

    result = await runner.run("Read it.")

    assert result.stop == "cancelled"
    assert result.output == ""
    assert len(script.seen) == 1  # no further model request after the cancel
    responses = [message for message in result.messages if isinstance(message, ModelResponse)]
    assert [part.tool_name for part in responses[-1].tool_calls] == ["read_file"]

    # A runner cancelled before its run does not start it.
    idle = AgentRunner(repo, script.model(stream=False), Approver(), stream=False)
    idle.cancel()
    stopped = await idle.run("Anything.")
    assert stopped.stop == "cancelled"
    assert len(script.seen) == 1


async def test_the_timeout_stops_a_slow_command(repo: Path) -> None:
    script = Script([call("run_command", "c1", command="sleep 30"), text("done")])
    runner = AgentRunner(
        repo,
        script.model(stream=False),
        Approver(),
        limits=AgentLimits(timeout_s=1.5),
        stream=False,
    )

    result = await runner.run("Wait.")

    assert result.stop == "timeout"
    assert result.detail.startswith("the run passed its time limit (1.5 s)")
    assert result.steps == 1


async def test_a_spent_budget_stops_the_run_cleanly(repo: Path) -> None:
    def broke(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        raise BudgetExceededError(scope="run", unit="usd", cap=1.0, spent=1.02)

    runner = AgentRunner(repo, FunctionModel(broke), Approver(), stream=False)

    result = await runner.run("Anything.")

    assert result.stop == "budget"
    assert "$1.0200 of $1.00 spent" in result.detail


async def test_read_only_runs_offer_no_changing_tools(repo: Path) -> None:
    offered: list[str] = []

    def look(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        offered.extend(tool.name for tool in info.function_tools)
        return text("looked")

    runner = AgentRunner(repo, FunctionModel(look), Approver(), read_only=True, stream=False)

    result = await runner.run("Look around.")

    assert result.output == "looked"
    assert sorted(offered) == ["list_files", "read_file", "read_spec", "search_files"]


@dataclass
class FixedContext:
    problems: list[str]

    def render(self) -> str:
        return "## Steering: tech\nUse pytest."

    def audit_items(self) -> list[tuple[str, str, int]]:
        return [("steering", "tech.md", 25), ("repomap", "repository map", 120)]


async def test_context_goes_into_the_instructions_and_the_audit_log(repo: Path) -> None:
    seen: list[str] = []

    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        seen.append(info.instructions or "")
        return text("ok")

    log = AuditLog.for_project(repo)
    events: list[AgentEvent] = []
    runner = AgentRunner(
        repo,
        FunctionModel(answer),
        Approver(),
        audit=AuditTrail(log, "run-3"),
        on_event=events.append,
        stream=False,
    )

    await runner.run("Hi.", context=FixedContext(["steering/bad.md line 2: no closing ---"]))

    assert "Use pytest." in seen[0]
    assert str(repo) in seen[0]
    logged = [entry.summary for entry in log.entries(kind="context")]
    assert logged == ["steering tech.md (25 chars)", "repomap repository map (120 chars)"]
    assert events[0].kind == "context"
    log.close()
