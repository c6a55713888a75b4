"""The task executor on a real project: a scripted model drives the agent's real tools in a
real git repository, and a real pytest run decides. Success only when the tests pass, the
test output fed back on a retry, stuck detection, no test command, property tasks, worktrees
and cancellation."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

from specloom.errors import SettingsError
from specloom.settings import load_settings
from specloom.spec.trace import find_test_references
from specloom.workflows.execution import RunEvent, TaskJob, TaskOutcome
from specloom.workflows.task_runner import make_executor

pytestmark = pytest.mark.anyio

PYTEST = f"{shlex.quote(sys.executable)} -m pytest -q -p no:cacheprovider"

REQUIREMENTS = """\
# Requirements Document

## Introduction

A tiny calculator library.

## Glossary

- **Calculator**: the `calc` module

## Requirements

### Requirement 1: Arithmetic

**User Story:** As a user, I want arithmetic, so that I can compute.

#### Acceptance Criteria

1. WHEN two numbers are given, THE Calculator SHALL return their product from `multiply`
2. WHEN two numbers are given, THE Calculator SHALL return their sum from `add`

### Requirement 2: Reporting

**User Story:** As a user, I want a report, so that I can read results.

#### Acceptance Criteria

1. THE Calculator SHALL format results with `render_report`, one line per result
"""

DESIGN = """\
# Design Document

## Overview

A single module.

## Components

### Adding

`add(a, b)` returns `a + b` for integers and floats alike.

### Reporting

`render_report(results)` joins the results with newlines.

## Correctness Properties

### Property 1: Addition commutes

*For any* integers a and b, `add(a, b)` equals `add(b, a)`.

**Validates: Requirements 1.2**

## Error Handling

Bad input raises `TypeError`.
"""

TASKS = """\
# Implementation Plan

- [ ] 1. Fix addition
  - Make `add` in `calc.py` return the sum
  - _Requirements: 1.2_

- [ ]* 2. Write property test for addition
  - **Property 1: Addition commutes**
  - **Validates: Requirements 1.2**
"""

CALC = """\
def add(a, b):
    return a - b


def render_report(results):
    return "\\n".join(str(result) for result in results)
"""

TEST_CALC = '''\
from calc import add


def test_add():
    """Validates: Requirements 1.2"""
    assert add(2, 3) == 5
'''

IDENTITY = ["-c", "user.name=test", "-c", "user.email=test@example.com"]


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *IDENTITY, *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def make_project(
    root: Path,
    *,
    verify: str | None = PYTEST,
    with_tests: bool = True,
    steering: dict[str, str] | None = None,
) -> Path:
    """A committed git project: calc.py with a bug, its test, the calc spec, steering."""
    root.mkdir(parents=True)
    spec = root / ".kiro" / "specs" / "calc"
    spec.mkdir(parents=True)
    (spec / "requirements.md").write_text(REQUIREMENTS)
    (spec / "design.md").write_text(DESIGN)
    (spec / "tasks.md").write_text(TASKS)
    files = {
        "calc.py": CALC,
        ".kiro/steering/tech.md": "---\ninclusion: always\n---\n# Tech\n\nPython 3.11; pytest.\n",
        ".kiro/steering/frontend.md": (
            "---\ninclusion: fileMatch\nfileMatchPattern: 'web/**/*.ts'\n---\nUse Svelte stores.\n"
        ),
        **(steering or {}),
    }
    if with_tests:
        files["tests/test_calc.py"] = TEST_CALC
    if verify is not None:
        files[".kiro/settings/specloom.json"] = json.dumps({"verify": {"command": verify}})
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "start")
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "calc")


Responder = Callable[[list[ModelMessage], AgentInfo], ModelResponse]


@dataclass
class Script:
    """A model that answers the agent with scripted responses, in order, and keeps every
    request (messages and instructions) it was sent; structured-output requests (the
    property tests) go to ``structured`` instead."""

    responses: list[ModelResponse]
    structured: Responder | None = None
    seen: list[list[ModelMessage]] = field(default_factory=list)
    instructions: list[str | None] = field(default_factory=list)

    def answer(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if is_structured(info) and self.structured is not None:
            return self.structured(messages, info)
        self.seen.append(list(messages))
        self.instructions.append(info.instructions)
        position = min(len(self.seen), len(self.responses)) - 1
        return self.responses[position]

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
                yield {
                    index: DeltaToolCall(
                        part.tool_name, part.args_as_json_str(), tool_call_id=part.tool_call_id
                    )
                }

    def model(self, *, stream: bool = False) -> FunctionModel:
        if stream:
            return FunctionModel(self.answer, stream_function=self.stream, model_name="script")
        return FunctionModel(self.answer, model_name="script")


def is_structured(info: AgentInfo) -> bool:
    """A request for structured output (``specloom.llm.structured``), not an agent step."""
    return info.model_request_parameters.output_mode in ("native", "tool")


def structured_answer(info: AgentInfo, payload: dict[str, Any]) -> ModelResponse:
    """The answer the way the request asks for it: native JSON text or an output tool call."""
    if info.output_tools:
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, json.dumps(payload))])
    return ModelResponse(parts=[TextPart(json.dumps(payload))])


def call(tool: str, call_id: str, **args: Any) -> ModelResponse:
    return ModelResponse(parts=[ToolCallPart(tool, args, tool_call_id=call_id)])


def text(content: str) -> ModelResponse:
    return ModelResponse(parts=[TextPart(content)])


def edit(call_id: str, old: str, new: str) -> ModelResponse:
    return call("edit_file", call_id, path="calc.py", old_text=old, new_text=new)


def user_prompts(messages: list[ModelMessage]) -> list[str]:
    return [
        str(part.content)
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, UserPromptPart)
    ]


def job(root: Path, task_id: str = "1", *, workdir: Path | None = None) -> TaskJob:
    return TaskJob("calc", task_id, root, workdir or root, "run-1")


async def execute(
    root: Path, script: Script, *, retries: int | None = None, task_id: str = "1",
    workdir: Path | None = None, stream: bool = False,
) -> tuple[TaskOutcome, list[RunEvent]]:  # fmt: skip
    executor = make_executor(
        model=script.model(stream=stream),
        settings=load_settings(root),
        mode="autopilot",
        retries=retries,
    )
    events: list[RunEvent] = []
    outcome = await executor(job(root, task_id, workdir=workdir), events.append)
    return outcome, events


def verifications(events: list[RunEvent]) -> list[dict[str, Any]]:
    return [event.data for event in events if event.kind == "verification"]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_a_fix_is_done_when_the_tests_pass(project: Path, stream: bool) -> None:
    script = Script([edit("e1", "a - b", "a + b"), text("Made add return the sum of a and b.")])

    outcome, events = await execute(project, script, stream=stream)

    assert outcome.ok, outcome.reason
    assert outcome.reason.startswith("verified: ") and PYTEST in outcome.reason
    assert (outcome.attempts, outcome.stuck) == (1, False)
    assert outcome.changed_files == ["calc.py"]
    assert "a + b" in (project / "calc.py").read_text()
    assert outcome.checkpoint is not None
    assert git(project, "cat-file", "-t", outcome.checkpoint).strip() == "commit"
    assert outcome.input_tokens > 0 and outcome.output_tokens > 0
    assert "1 passed" in outcome.verification
    kinds = [event.kind for event in events]
    assert kinds[0] == "attempt_started" and kinds[-1] == "verification"
    assert all(event.task_id == "1" for event in events)
    [check] = verifications(events)
    assert check["passed"] is True and check["exit_code"] == 0 and check["command"] == PYTEST
    assert check["duration_s"] > 0
    agent = [event.data for event in events if event.kind == "agent_event"]
    types = [data["type"] for data in agent]
    assert types.index("tool_started") < types.index("tool_finished")
    texts = [data["text"] for data in agent if data["type"] == "text"]
    # Streamed word by word or not, the answer arrives as one piece.
    assert texts == ["Made add return the sum of a and b."]
    json.dumps([event.to_dict() for event in events])  # every event is JSON-ready


async def test_a_model_that_claims_success_without_fixing_fails(project: Path) -> None:
    script = Script(
        [
            call("write_file", "w1", path="NOTES.md", content="add is fixed\n"),
            text("Fixed add; all tests pass."),
        ]
    )

    outcome, events = await execute(project, script, retries=0)

    assert not outcome.ok
    assert outcome.attempts == 1 and not outcome.stuck
    assert outcome.reason.startswith("verification failed after 1 attempt(s)")
    assert "exit code 1" in outcome.reason
    assert "assert -1 == 5" in outcome.verification
    assert verifications(events)[0]["passed"] is False
    assert (project / "calc.py").read_text() == CALC


@pytest.mark.slow
async def test_a_failure_is_fed_back_and_the_retry_succeeds(project: Path) -> None:
    script = Script(
        [
            edit("e1", "a - b", "a * b"),
            text("Fixed."),
            edit("e2", "a * b", "a + b"),
            text("Fixed for real."),
        ]
    )

    outcome, events = await execute(project, script, retries=2)

    assert outcome.ok, outcome.reason
    assert outcome.attempts == 2
    assert outcome.reason.startswith("verified after 2 attempts")
    first_attempt, retry = script.seen[0], script.seen[2]
    assert len(user_prompts(first_attempt)) == 1
    # The retry continues the conversation and carries the end of the test output.
    assert user_prompts(retry)[0] == user_prompts(first_attempt)[0]
    feedback = user_prompts(retry)[-1]
    assert feedback.startswith("Verification failed (attempt 1 of 3)")
    assert "assert 6 == 5" in feedback and "1 failed" in feedback
    assert [check["passed"] for check in verifications(events)] == [False, True]
    started = [event.data for event in events if event.kind == "attempt_started"]
    assert started == [
        {"attempt": 1, "attempts": 3, "retry": False},
        {"attempt": 2, "attempts": 3, "retry": True},
    ]
    # The checkpoint is the one before the first change: restoring it undoes the task.
    assert outcome.checkpoint is not None
    assert "a - b" in git(project, "show", f"{outcome.checkpoint}:calc.py")


@pytest.mark.slow
async def test_the_same_failure_twice_is_stuck_before_the_retry_limit(project: Path) -> None:
    script = Script(
        [
            call("write_file", "w1", path="NOTES.md", content="first try\n"),
            text("Done."),
            call("write_file", "w2", path="NOTES.md", content="second try\n"),
            text("Done again."),
            call("write_file", "w3", path="NOTES.md", content="third try\n"),
            text("Done once more."),
        ]
    )

    outcome, events = await execute(project, script, retries=3)

    assert not outcome.ok and outcome.stuck
    assert outcome.attempts == 2  # of the 4 allowed
    assert outcome.reason.startswith("stuck: attempts 1 and 2 failed the same way")
    assert len(verifications(events)) == 2
    assert (project / "NOTES.md").read_text() == "second try\n"


async def test_an_attempt_that_changes_no_file_is_stuck(project: Path) -> None:
    script = Script([call("read_file", "r1", path="calc.py"), text("Looks right to me.")])

    outcome, _ = await execute(project, script, retries=2)

    assert not outcome.ok and outcome.stuck
    assert outcome.attempts == 2  # the first is told it changed nothing, then it stops
    assert outcome.reason.startswith("stuck: attempts 1 and 2 changed no file")
    assert outcome.changed_files == []
    assert "Your last answer changed no file" in str(script.seen[-1][-1])


@pytest.mark.slow
async def test_running_the_tests_alone_changes_nothing(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Test runs leave caches (__pycache__, not ignored in this project): they are no change.
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    script = Script([call("run_command", "c1", command=PYTEST), text("The tests fail.")])

    outcome, _ = await execute(project, script, retries=2)

    assert outcome.stuck and outcome.attempts == 2
    assert outcome.reason.startswith("stuck: attempts 1 and 2 changed no file")
    assert (project / "tests" / "__pycache__").is_dir()


async def test_files_a_command_changes_count_as_changes(project: Path) -> None:
    script = Script(
        [
            call("run_command", "c1", command="echo 'tried' > NOTES.md"),
            text("Tried something."),
        ]
    )

    outcome, _ = await execute(project, script, retries=0)

    assert not outcome.stuck
    assert outcome.reason.startswith("verification failed after 1 attempt(s)")
    assert (project / "NOTES.md").read_text() == "tried\n"


async def test_without_a_test_command_the_task_fails_before_any_request(tmp_path: Path) -> None:
    root = make_project(tmp_path / "bare", verify=None, with_tests=False)
    script = Script([edit("e1", "a - b", "a + b"), text("Fixed.")])

    outcome, events = await execute(root, script)

    assert not outcome.ok and outcome.attempts == 0
    assert "verify.command" in outcome.reason and ".kiro/settings/specloom.json" in outcome.reason
    assert script.seen == []
    assert (root / "calc.py").read_text() == CALC
    assert verifications(events)[0]["command"] is None


async def test_the_test_command_can_come_from_steering(tmp_path: Path) -> None:
    root = make_project(
        tmp_path / "steered",
        verify=None,
        steering={".kiro/steering/tech.md": f"# Tech\n\nTest command: `{PYTEST} tests`\n"},
    )
    script = Script([edit("e1", "a - b", "a + b"), text("Fixed.")])

    outcome, events = await execute(root, script)

    assert outcome.ok, outcome.reason
    assert verifications(events)[0]["source"] == "steering"
    assert verifications(events)[0]["command"] == f"{PYTEST} tests"


async def test_the_prompt_is_the_focused_task_and_steering_goes_into_instructions(
    project: Path,
) -> None:
    script = Script([edit("e1", "a - b", "a + b"), text("Fixed.")])

    outcome, _ = await execute(project, script)

    assert outcome.ok, outcome.reason
    [prompt] = user_prompts(script.seen[0])
    assert "return their sum from `add`" in prompt  # criterion 1.2, cited
    assert "multiply" not in prompt and "render_report" not in prompt  # 1.1 and 2.1 are not
    assert "`add(a, b)` returns `a + b`" in prompt  # the design section it needs
    assert "joins the results" not in prompt and "TypeError" not in prompt
    assert PYTEST in prompt
    instructions = script.instructions[0] or ""
    assert "Python 3.11; pytest." in instructions  # always-included steering
    assert "Svelte" not in instructions  # fileMatch steering for files the task does not touch


async def test_a_worktree_task_edits_the_worktree_with_the_project_s_spec(
    tmp_path: Path,
) -> None:
    root = make_project(tmp_path / "main")
    tree = tmp_path / "tree"
    git(root, "worktree", "add", "-q", "--detach", str(tree))
    # The spec and steering as they are now in the project, not as committed.
    (root / ".kiro" / "steering" / "tech.md").write_text("# Tech\n\nPrefer tiny functions.\n")
    script = Script([edit("e1", "a - b", "a + b"), text("Fixed.")])

    outcome, _ = await execute(root, script, workdir=tree)

    assert outcome.ok, outcome.reason
    assert "a + b" in (tree / "calc.py").read_text()
    assert (root / "calc.py").read_text() == CALC
    assert "Prefer tiny functions." in (script.instructions[0] or "")


@pytest.mark.slow
async def test_a_property_task_writes_hypothesis_tests_that_the_agent_makes_pass(
    project: Path,
) -> None:
    def structured(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        draft = {
            "test_name": "test_addition_commutes",
            "imports": ["from calc import add"],
            "arguments": [
                {"name": "a", "strategy": "st.integers()"},
                {"name": "b", "strategy": "st.integers()"},
            ],
            "body": "assert add(a, b) == add(b, a)",
        }
        return structured_answer(info, draft)

    script = Script([edit("e1", "a - b", "a + b"), text("add commutes now.")], structured)

    outcome, events = await execute(project, script, task_id="2")

    assert outcome.ok, outcome.reason
    written = project / "tests" / "test_calc_properties.py"
    source = written.read_text()
    assert "@given(a=st.integers(), b=st.integers())" in source
    references = find_test_references("tests/test_calc_properties.py", source, "calc")
    assert [(r.test, r.ids) for r in references] == [
        ("tests/test_calc_properties.py::test_addition_commutes", ("1.2",))
    ]
    prompt = user_prompts(script.seen[0])[0]
    assert "tests/test_calc_properties.py" in prompt and "make them pass" in prompt
    assert "Property 1: Addition commutes" in prompt
    checks = verifications(events)
    assert [check["source"] for check in checks] == ["settings", "property tests"]
    assert checks[1]["command"].endswith("-q tests/test_calc_properties.py")
    assert all(check["passed"] for check in checks)
    [notice] = [e.data for e in events if e.data.get("type") == "property_tests"]
    assert notice["tests"] == ["test_addition_commutes"]
    # The checkpoint precedes the generated file too, so undoing the task removes it.
    assert outcome.checkpoint is not None
    listed = git(project, "ls-tree", "-r", "--name-only", outcome.checkpoint)
    assert "tests/test_calc_properties.py" not in listed.split()


async def test_a_cancelled_run_cancels_the_agent_and_propagates(project: Path) -> None:
    started = anyio.Event()

    async def slow(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        started.set()
        await anyio.sleep(30)
        return text("never")

    executor = make_executor(
        model=FunctionModel(slow, model_name="slow"),
        settings=load_settings(project),
        mode="autopilot",
    )
    cancelled = False

    async def run() -> None:
        nonlocal cancelled
        try:
            await executor(job(project), lambda event: None)
        except anyio.get_cancelled_exc_class():
            cancelled = True
            raise

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(run)
            await started.wait()
            group.cancel_scope.cancel()

    assert cancelled


def test_a_bad_retries_setting_is_an_error_naming_the_file(project: Path) -> None:
    settings_file = project / ".kiro" / "settings" / "specloom.json"
    settings_file.write_text('{\n  "run": {\n    "retries": "two"\n  }\n}\n')

    with pytest.raises(SettingsError) as caught:
        make_executor(model=Script([]).model(), settings=load_settings(project))

    assert caught.value.file == str(settings_file) and caught.value.line == 3
    assert "run.retries" in caught.value.message


@pytest.mark.parametrize("parallel", [False, True], ids=["alone", "beside-others"])
async def test_the_cost_comes_from_the_usage_recorder(project: Path, parallel: bool) -> None:
    from specloom.llm.catalog import ModelEntry, Prices
    from specloom.llm.metering import UsageRecorder
    from specloom.llm.routing import RoutedModel

    entry = ModelEntry("priced", "openai", "priced", prices=Prices(1.0, 2.0, source="settings"))
    recorder = UsageRecorder()
    recorder.record(entry, input_tokens=5_000, output_tokens=5_000)  # before the task: not its
    script = Script([edit("e1", "a - b", "a + b"), text("Fixed.")])
    model = RoutedModel(entry, script.model(), recorder)
    executor = make_executor(
        model=model, settings=load_settings(project), mode="autopilot", recorder=recorder
    )

    def emit(event: RunEvent) -> None:
        if event.kind == "verification":  # another task's request, made meanwhile
            recorder.record(entry, input_tokens=10_000, output_tokens=0)

    work = TaskJob("calc", "1", project, project, "run-1", parallel=parallel)
    outcome = await executor(work, emit)

    assert outcome.ok, outcome.reason
    own = recorder.answers[1:-1]
    assert sum(a.input_tokens for a in own) == outcome.input_tokens
    window = recorder.answers[1:]
    window_cost = sum(a.cost_usd or 0.0 for a in window)
    assert outcome.cost_usd is not None
    if parallel:
        mine = outcome.input_tokens + outcome.output_tokens
        share = window_cost * mine / (mine + 10_000)
        assert outcome.cost_usd == pytest.approx(share, abs=1e-6)
        assert outcome.cost_usd < window_cost
    else:
        assert outcome.cost_usd == pytest.approx(window_cost, abs=1e-6)


async def test_supervised_work_goes_through_the_interface_s_prompt(project: Path) -> None:
    from specloom.agent.policy import Answer, Decision
    from specloom.agent.tool_env import ApprovalRequest

    asked: list[str] = []

    async def ask(request: ApprovalRequest, decision: Decision) -> Answer:
        asked.append(request.summary)
        return Answer("once")

    script = Script([edit("e1", "a - b", "a + b"), text("Fixed.")])
    executor = make_executor(
        model=script.model(), settings=load_settings(project), mode="supervised", ask=ask
    )
    events: list[RunEvent] = []

    outcome = await executor(job(project), events.append)

    assert outcome.ok, outcome.reason
    assert len(asked) == 1 and "calc.py" in asked[0]
    types = [e.data.get("type") for e in events if e.kind == "agent_event"]
    assert "approval_needed" in types and "approval_settled" in types


async def test_a_model_that_keeps_misbehaving_fails_the_task_without_raising(
    project: Path,
) -> None:
    script = Script([call("no_such_tool", "x1", anything=1)])

    outcome, _ = await execute(project, script)

    assert not outcome.ok and outcome.attempts == 1
    assert outcome.reason.startswith("attempt 1 stopped: the model failed:")
