"""``specloom run``: the ``--json`` event stream, plain output, exit codes, a second run on
the same spec refused, Ctrl-C, and the task board.

The command builds its executor with ``specloom.workflows.task_runner.make_executor``; here
a small fake stands in for that module (in this process through ``sys.modules``, in child
processes through a helper script that installs it before starting the CLI), so the
scheduler, the status files and the CLI run for real while the tasks only sleep and write
files. ``--model py:...`` loads a scripted pydantic-ai model, as a user's gateway would be.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import specloom.interfaces.cli.run_commands  # noqa: F401 - registers `run`
from specloom.interfaces.cli import app
from specloom.interfaces.cli.board import TaskBoard
from specloom.spec.tasks import parse_tasks
from specloom.workflows.execution import Emit, RunEvent, TaskJob, TaskOutcome
from tests.agent.test_checkpoints import git

TASKS = """\
# Implementation Plan

- [ ] 1. Write the parser
  - _Requirements: 1.1_
- [ ] 2. Write the printer
  - _Depends on: none_
- [ ] 3. Wire both
  - _Depends on: 1, 2_
"""

MODEL = """\
from pydantic_ai.messages import ModelResponse, TextPart
from pydantic_ai.models.function import FunctionModel

model = FunctionModel(lambda messages, info: ModelResponse(parts=[TextPart("ok")]),
                      model_name="scripted")
"""

FAKE_RUNNER = """\
import asyncio, sys, types
from specloom.workflows.execution import RunEvent, TaskOutcome

DELAY = float(sys.argv.pop(1))

def make_executor(*, model, settings, mode="supervised", retries=None, recorder=None,
                  ask=None, ask_tool=None):
    async def execute(job, emit):
        emit(RunEvent("attempt_started", job.task_id, {"attempt": 1, "attempts": 1}))
        await asyncio.sleep(DELAY)
        (job.workdir / ("out-" + job.task_id + ".txt")).write_text("x")
        return TaskOutcome(job.task_id, True, "verified", attempts=1,
                           changed_files=["out-" + job.task_id + ".txt"])
    return execute

runner = types.ModuleType("specloom.workflows.task_runner")
runner.make_executor = make_executor
sys.modules["specloom.workflows.task_runner"] = runner
import specloom.interfaces.cli.run_commands
from specloom.interfaces.cli import main
main()
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    folder = root / ".kiro" / "specs" / "parser"
    folder.mkdir(parents=True)
    (folder / "tasks.md").write_text(TASKS)
    (root / "app.py").write_text("print('app')\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    (tmp_path / "scripted_model.py").write_text(MODEL)
    return root


class FakeRunner:
    """Stands in for ``specloom.workflows.task_runner``; records how it was called."""

    def __init__(self, failing: set[str] | None = None) -> None:
        self.failing = failing or set()
        self.options: dict[str, Any] = {}
        self.jobs: list[TaskJob] = []

    def make_executor(self, **options: Any) -> Any:
        self.options = options

        async def execute(job: TaskJob, emit: Emit) -> TaskOutcome:
            self.jobs.append(job)
            emit(RunEvent("attempt_started", job.task_id, {"attempt": 1, "attempts": 3}))
            emit(RunEvent("agent_event", job.task_id,
                          {"type": "step", "input_tokens": 50, "output_tokens": 5}))  # fmt: skip
            await asyncio.sleep(0.01)
            if job.task_id in self.failing:
                return TaskOutcome(job.task_id, False, "2 tests failed", attempts=3,
                                   input_tokens=150, output_tokens=15)  # fmt: skip
            name = f"out-{job.task_id}.txt"
            (job.workdir / name).write_text(job.task_id)
            return TaskOutcome(job.task_id, True, "tests passed", attempts=1,
                               changed_files=[name], checkpoint=f"ab{job.task_id}cd",
                               input_tokens=50, output_tokens=5, cost_usd=0.002)  # fmt: skip

        return execute


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> FakeRunner:
    fake = FakeRunner()
    module = types.ModuleType("specloom.workflows.task_runner")
    module.make_executor = fake.make_executor  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "specloom.workflows.task_runner", module)
    return fake


def invoke(project: Path, *args: str) -> Result:
    model = f"py:{project.parent / 'scripted_model.py'}:model"
    return CliRunner().invoke(app, ["run", *args, "--model", model, "--root", str(project)])


def events_of(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def statuses(project: Path) -> dict[str, str]:
    text = (project / ".kiro" / "specs" / "parser" / "tasks.md").read_text()
    return {task.id: task.status.value for task in parse_tasks(text).tasks}


def test_json_prints_one_event_per_line_ending_with_the_summary(
    project: Path, runner: FakeRunner
) -> None:
    result = invoke(project, "parser", "--all", "--json", "--parallel", "2",
                    "--mode", "autopilot", "--retries", "3")  # fmt: skip

    assert result.exit_code == 0, result.output
    events = events_of(result)
    assert events[0]["event"] == "run_started"
    assert events[0]["parallel"] == 2 and events[0]["worktrees"] is True
    assert [t["id"] for t in events[0]["tasks"]] == ["1", "2", "3"]
    kinds = [(e["event"], e["task"]) for e in events]
    for task in ("1", "2", "3"):
        started = kinds.index(("task_started", task))
        assert started < kinds.index(("attempt_started", task))
        assert kinds.index(("merge", task)) < kinds.index(("task_finished", task))
    finished = {e["task"]: e for e in events if e["event"] == "task_finished"}
    assert finished["1"]["ok"] is True and finished["1"]["changed_files"] == ["out-1.txt"]
    assert finished["1"]["checkpoint"] == "ab1cd"
    last = events[-1]
    assert last["event"] == "run_finished" and last["task"] is None
    assert last["exit_code"] == 0 and last["counts"]["done"] == 3
    assert last["totals"]["input_tokens"] == 150
    assert statuses(project) == {"1": "done", "2": "done", "3": "done"}
    # the executor was built with the real factory's arguments
    assert runner.options["mode"] == "autopilot" and runner.options["retries"] == 3
    assert type(runner.options["model"].wrapped).__name__ == "FunctionModel"  # --model py:...
    assert runner.options["recorder"] is not None and runner.options["settings"] is not None
    assert "ask" not in runner.options  # nobody to ask with --json
    assert all(job.parallel and job.root == project.resolve() for job in runner.jobs)


def test_a_failed_task_exits_1_and_its_dependants_are_skipped(
    project: Path, runner: FakeRunner
) -> None:
    runner.failing = {"2"}

    result = invoke(project, "parser", "--all", "--json")

    assert result.exit_code == 1
    events = events_of(result)
    skipped = [e for e in events if e["event"] == "task_skipped"]
    assert [(e["task"], e["reason"]) for e in skipped] == [("3", "depends on 2, which failed")]
    assert events[-1]["counts"] == {"done": 1, "already_done": 0, "failed": 1, "skipped": 1,
                                    "interrupted": 0, "not_run": 0}  # fmt: skip
    assert statuses(project) == {"1": "done", "2": "todo", "3": "todo"}


def test_plain_output_names_each_task_its_files_and_how_to_undo(
    project: Path, runner: FakeRunner
) -> None:
    result = invoke(project, "parser", "1", "2")

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "started 1 Write the parser" in out
    assert "done 1 (" in out and "out-1.txt" in out
    assert "1: undo with `specloom checkpoint restore ab1cd`" in out
    assert "2 done in" in out and "100 tokens in, 10 out" in out
    assert [job.task_id for job in runner.jobs] == ["1", "2"]
    assert all(job.workdir == project.resolve() for job in runner.jobs)
    assert statuses(project)["3"] == "todo"


def test_plain_output_says_once_which_stale_marks_were_reset(
    project: Path, runner: FakeRunner
) -> None:
    tasks_md = project / ".kiro" / "specs" / "parser" / "tasks.md"
    tasks_md.write_text(TASKS.replace("- [ ] 2.", "- [-] 2."))

    result = invoke(project, "parser", "--all")

    assert result.exit_code == 0, result.output
    note = "note: left in progress by a run that stopped, back to not started: 2"
    assert result.stdout.count(note) == 1
    assert statuses(project) == {"1": "done", "2": "done", "3": "done"}


def test_already_done_tasks_are_not_redone(project: Path, runner: FakeRunner) -> None:
    assert invoke(project, "parser", "--all", "--json").exit_code == 0
    runner.jobs.clear()

    again = invoke(project, "parser", "--all", "--json")

    assert again.exit_code == 0 and runner.jobs == []
    assert events_of(again)[-1]["counts"]["already_done"] == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["parser"], "name the tasks to run, or use --all"),
        (["parser", "1", "--all"], "give task ids or --all, not both"),
        (["nosuch", "--all"], "there is no spec named 'nosuch'"),
        (["parser", "9"], "there is no task '9'"),
        (["parser", "--all", "--parallel", "0"], "0 is not in the range x>=1"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(
    project: Path, runner: FakeRunner, args: list[str], message: str
) -> None:
    result = invoke(project, *args)

    assert result.exit_code == 2
    assert message in result.output
    assert runner.jobs == []
    assert statuses(project) == {"1": "todo", "2": "todo", "3": "todo"}


def test_bad_input_with_json_is_a_json_error(project: Path, runner: FakeRunner) -> None:
    result = invoke(project, "parser", "7", "--json")

    assert result.exit_code == 2
    error = json.loads(result.stdout)
    assert error["error"] == "SpecNotFoundError" and error["file"].endswith("tasks.md")


def start_cli(project: Path, delay: float, *args: str) -> subprocess.Popen[str]:
    script = project.parent / "cli_with_fake_runner.py"
    script.write_text(FAKE_RUNNER)
    model = f"py:{project.parent / 'scripted_model.py'}:model"
    command = [sys.executable, str(script), str(delay), "run", *args, "--model", model,
               "--root", str(project)]  # fmt: skip
    environment = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=environment, preexec_fn=_as_on_a_terminal)  # fmt: skip


def _as_on_a_terminal() -> None:
    """Ctrl-C's default action, as a command started on a terminal has it: a test process
    started in the background by a shell without job control ignores SIGINT, and a child
    inherits an ignored signal (Python then installs no KeyboardInterrupt handler)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def read_until(child: subprocess.Popen[str], kind: str, task: str | None) -> list[dict[str, Any]]:
    assert child.stdout is not None
    seen = []
    deadline = time.monotonic() + 60
    for line in child.stdout:
        event = json.loads(line)
        seen.append(event)
        if event["event"] == kind and event["task"] == task:
            return seen
        assert time.monotonic() < deadline
    raise AssertionError(f"no {kind} event for {task}: {seen}")


@pytest.mark.slow
def test_a_second_run_on_the_same_spec_is_refused_while_the_first_works(
    project: Path, runner: FakeRunner
) -> None:
    with start_cli(project, 1.5, "parser", "--all", "--json") as first:
        read_until(first, "task_started", "1")

        second = invoke(project, "parser", "--all", "--json")

        assert second.exit_code == 2
        refusal = json.loads(second.stdout)
        assert refusal["error"] == "UsageError"
        assert (
            f"another `specloom run` is working on the tasks of spec 'parser' (process "
            f"{first.pid}" in refusal["message"]
        )
        assert runner.jobs == []
        output, errors = first.communicate(timeout=120)
        assert first.returncode == 0, errors
    assert json.loads(output.splitlines()[-1])["counts"]["done"] == 3


@pytest.mark.slow
def test_ctrl_c_exits_130_and_puts_running_tasks_back(project: Path) -> None:
    with start_cli(project, 30, "parser", "--all", "--json", "--parallel", "2") as child:
        read_until(child, "task_started", "2")
        time.sleep(0.3)
        child.send_signal(signal.SIGINT)
        output, errors = child.communicate(timeout=60)

    assert child.returncode == 130, errors
    assert "Traceback" not in errors
    last = json.loads(output.splitlines()[-1])
    assert last["event"] == "run_finished" and last["interrupted"] is True
    assert last["counts"]["interrupted"] == 2
    assert statuses(project) == {"1": "todo", "2": "todo", "3": "todo"}
    assert not list((project / ".kiro" / ".specloom" / "worktrees" / "parser").iterdir())


def test_the_board_tracks_each_task_and_the_totals() -> None:
    clock = iter(float(n) for n in range(100))
    stream = io.StringIO()
    board = TaskBoard(live=False, stream=stream, clock=lambda: next(clock))
    started = {"spec": "parser", "parallel": 2, "worktrees": True, "reset": ["2"],
               "recovered": [], "notes": ["a note"],
               "tasks": [{"id": "1", "title": "One", "status": "queued"},
                         {"id": "2", "title": "Two", "status": "queued"},
                         {"id": "3", "title": "Three", "status": "done"}]}  # fmt: skip
    for event in (
        RunEvent("run_started", None, started),
        RunEvent("task_started", "1", {"title": "One"}),
        RunEvent("attempt_started", "1", {"attempt": 1, "attempts": 3}),
        RunEvent("agent_event", "1", {"type": "step", "input_tokens": 7, "output_tokens": 3}),
        RunEvent("attempt_started", "1", {"attempt": 2, "attempts": 3}),
        RunEvent("task_finished", "1", {"ok": True, "status": "done", "elapsed_s": 4.5,
                                        "attempts": 2, "input_tokens": 70, "output_tokens": 30,
                                        "cost_usd": 0.25, "changed_files": ["a.py"]}),
        RunEvent("task_skipped", "2", {"reason": "depends on 1, which failed"}),
    ):  # fmt: skip
        board(event)

    rows = board.rows
    assert (rows["1"].status, rows["1"].attempts, rows["1"].elapsed) == ("done", 2, 4.5)
    assert (rows["1"].input_tokens, rows["1"].output_tokens, rows["1"].detail) == (70, 30, "a.py")
    assert rows["2"].status == "skipped" and rows["3"].status == "already done"
    assert board.totals() == {"input_tokens": 70, "output_tokens": 30, "cost_usd": 0.25,
                              "attempts": 2}  # fmt: skip
    lines = stream.getvalue().splitlines()
    assert lines[0] == "specloom run parser: 2 task(s) to run, 2 at a time in worktrees"
    assert "note: a note" in lines and "retry 1: attempt 2 of 3" in lines
    assert "done 1 (4.5 s): a.py" in lines
    assert "skipped 2: depends on 1, which failed" in lines

    from rich.console import Console

    console = Console(record=True, width=160)
    console.print(board.render())
    drawn = console.export_text()
    assert "already done" in drawn and "70 / 30" in drawn and "$0.2500" in drawn
    assert "1/3 done" not in drawn and "2/3 done" in drawn


def test_the_live_board_draws_and_stops_on_a_stream() -> None:
    stream = io.StringIO()
    board = TaskBoard(live=True, stream=stream)
    with board:
        board(RunEvent("run_started", None, {"spec": "s", "tasks": [{"id": "1", "title": "T"}]}))
        board(RunEvent("task_started", "1", {"title": "T"}))
        with board.paused():
            stream.write("a question\n")
    assert "a question" in stream.getvalue() and "running" in stream.getvalue()


WRITING_MODEL = """\
import re
from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import FunctionModel


def answer(messages, info):
    last = messages[-1]
    if any(isinstance(part, ToolReturnPart) for part in last.parts):
        return ModelResponse(parts=[TextPart("Done.")])
    text = " ".join(str(getattr(part, "content", "")) for m in messages for part in m.parts)
    name = re.search(r"mod_[0-9]+[.]py", text).group(0)
    return ModelResponse(parts=[ToolCallPart("write_file", {"path": name, "content": "X = 1\\n"},
                                             tool_call_id="c1")])


model = FunctionModel(answer, model_name="scripted-writer")
"""

REAL_TASKS = """\
# Implementation Plan

- [ ] 1. Create the first module
  - Write `mod_1.py`
- [ ] 2. Create the second module
  - Write `mod_2.py`
  - _Depends on: none_
- [ ] 3. Create the third module
  - Write `mod_3.py`
  - _Depends on: 1, 2_
"""


@pytest.mark.slow
def test_the_real_executor_does_each_task_in_its_worktree(tmp_path: Path) -> None:
    root = tmp_path / "project"
    folder = root / ".kiro" / "specs" / "modules"
    folder.mkdir(parents=True)
    (folder / "tasks.md").write_text(REAL_TASKS)
    check = "import glob, sys; sys.exit(0 if glob.glob('mod_*.py') else 1)"
    settings = {"verify": {"command": [sys.executable, "-c", check]}}
    (root / ".kiro" / "settings").mkdir()
    (root / ".kiro" / "settings" / "specloom.json").write_text(json.dumps(settings))
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    (tmp_path / "writer.py").write_text(WRITING_MODEL)
    entry = (
        "import specloom.interfaces.cli.run_commands\n"
        "from specloom.interfaces.cli import main\n"
        "main()\n"
    )
    command = [sys.executable, "-c", entry, "run", "modules", "--all", "--json", "--parallel", "2",
               "--mode", "autopilot", "--model", f"py:{tmp_path / 'writer.py'}:model",
               "--root", str(root)]  # fmt: skip
    environment = {**os.environ, "PYTHONPATH": str(Path.cwd())}

    result = subprocess.run(command, capture_output=True, text=True, env=environment,
                            timeout=300, check=False)  # fmt: skip

    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 0, (result.stderr, events[-1])
    assert all((root / f"mod_{n}.py").read_text() == "X = 1\n" for n in (1, 2, 3))
    finished = {e["task"]: e for e in events if e["event"] == "task_finished"}
    assert all(finished[t]["ok"] and finished[t]["changed_files"] == [f"mod_{t}.py"]
               for t in ("1", "2", "3"))  # fmt: skip
    assert any(e["event"] == "verification" for e in events)
    text = (folder / "tasks.md").read_text()
    assert text == REAL_TASKS.replace("[ ]", "[x]")
