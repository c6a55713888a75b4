"""The task scheduler on real projects: dependency-driven starts, parallel worktrees and
their merges, failures and what depends on them, status files, crash recovery and resume.

The executors here are small fakes (the contract in ``specloom.workflows.execution``): they
sleep, write files in the folder they are given, and report an outcome."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from specloom.errors import BudgetExceededError, SpecNotFoundError, UsageError
from specloom.spec.graph import TaskGraph
from specloom.spec.tasks import parse_tasks
from specloom.workflows.execution import Emit, RunEvent, TaskJob, TaskOutcome
from specloom.workflows.run_state import RunJournal, runs_dir
from specloom.workflows.scheduler import RunSummary, plan_run, run_tasks
from specloom.workflows.worktrees import ParallelWorkspace
from tests.agent.test_checkpoints import git

SPEC = "demo"
LINES = "".join(f"line {n}\n" for n in range(1, 21))


def make_project(tmp_path: Path, tasks: str, *, repository: bool = True) -> Path:
    root = tmp_path / "project"
    folder = root / ".kiro" / "specs" / SPEC
    folder.mkdir(parents=True)
    (folder / "tasks.md").write_text(textwrap.dedent(tasks))
    (root / "lines.txt").write_text(LINES)
    if repository:
        git(root, "init", "-q")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "first")
    return root


def tasks_text(root: Path) -> str:
    return (root / ".kiro" / "specs" / SPEC / "tasks.md").read_text()


def statuses(root: Path) -> dict[str, str]:
    return {task.id: task.status.value for task in parse_tasks(tasks_text(root)).tasks}


def meta(root: Path) -> dict[str, object]:
    return json.loads((root / ".kiro" / "specs" / SPEC / ".tasks-meta.json").read_text())


def edit_line(path: Path, number: int, text: str) -> None:
    lines = path.read_text().splitlines(keepends=True)
    lines[number - 1] = text + "\n"
    path.write_text("".join(lines))


@dataclass
class Step:
    """What the fake executor does for one task."""

    delay: float = 0.0
    ok: bool = True
    stuck: bool = False
    line: tuple[int, str] | None = None  # edit a line of lines.txt
    files: dict[str, str] = field(default_factory=dict)
    raises: BaseException | None = None
    action: Callable[[TaskJob], None] | None = None


class FakeExecutor:
    """Records when each task started and ended, where it ran, and how many ran at once."""

    def __init__(self, steps: dict[str, Step] | None = None) -> None:
        self.steps = steps or {}
        self.started: dict[str, float] = {}
        self.ended: dict[str, float] = {}
        self.workdirs: dict[str, Path] = {}
        self.calls: list[str] = []
        self.active = 0
        self.most_at_once = 0
        self.origin = time.monotonic()

    async def __call__(self, job: TaskJob, emit: Emit) -> TaskOutcome:
        step = self.steps.get(job.task_id, Step())
        self.calls.append(job.task_id)
        self.started[job.task_id] = time.monotonic() - self.origin
        self.workdirs[job.task_id] = job.workdir
        self.active += 1
        self.most_at_once = max(self.most_at_once, self.active)
        try:
            emit(RunEvent("attempt_started", job.task_id, {"attempt": 1, "attempts": 1}))
            await asyncio.sleep(step.delay)
            if step.raises is not None:
                raise step.raises
            if step.action is not None:
                step.action(job)
            changed: list[str] = []
            if step.line is not None:
                edit_line(job.workdir / "lines.txt", *step.line)
                changed.append("lines.txt")
            for name, text in step.files.items():
                (job.workdir / name).parent.mkdir(parents=True, exist_ok=True)
                (job.workdir / name).write_text(text)
                changed.append(name)
            return TaskOutcome(job.task_id, step.ok, "tests passed" if step.ok else "tests failed",
                               attempts=1, stuck=step.stuck, changed_files=changed,
                               checkpoint=f"cp-{job.task_id}", input_tokens=100,
                               output_tokens=20, cost_usd=0.01)  # fmt: skip
        finally:
            self.active -= 1
            self.ended[job.task_id] = time.monotonic() - self.origin


def run(root: Path, executor: FakeExecutor, task_ids: list[str] | None = None,
        **options: object) -> tuple[RunSummary, list[RunEvent]]:  # fmt: skip
    events: list[RunEvent] = []
    summary = asyncio.run(
        run_tasks(root, SPEC, task_ids, executor=executor, emit=events.append, **options)  # type: ignore[arg-type]
    )
    return summary, events


def by_id(summary: RunSummary) -> dict[str, tuple[str, str]]:
    return {result.task_id: (result.status, result.reason) for result in summary.results}


# -- scheduling --------------------------------------------------------------------------------

CHAIN_AND_LONG = """\
    # Plan

    - [ ] 1. Short first step
    - [ ] 2. Long independent step
      - _Depends on: none_
    - [ ] 3. Short second step
      - _Depends on: 1_
    - [ ] 4. Short third step
      - _Depends on: 3_
"""


def test_a_task_starts_when_its_own_dependencies_finish_not_its_wave(tmp_path: Path) -> None:
    root = make_project(tmp_path, CHAIN_AND_LONG)
    executor = FakeExecutor({"1": Step(0.05), "2": Step(1.2), "3": Step(0.05), "4": Step(0.05)})

    summary, _ = run(root, executor, parallel=2, worktrees=False)

    assert summary.exit_code == 0
    # 3 and 4 are in waves after 2's, yet both ran while 2 was still running
    assert executor.started["3"] >= executor.ended["1"]
    assert executor.started["4"] >= executor.ended["3"]
    assert executor.ended["4"] < executor.ended["2"] - 0.5
    assert executor.most_at_once == 2


def test_at_most_parallel_tasks_run_at_once(tmp_path: Path) -> None:
    wide = "# Plan\n\n" + "".join(f"- [ ] {n}. Task\n  - _Depends on: none_\n" for n in range(1, 7))
    root = make_project(tmp_path, wide + "- [ ] 7. Last\n  - _Depends on: 1_\n")
    executor = FakeExecutor({str(n): Step(0.1) for n in range(1, 8)})

    summary, _ = run(root, executor, parallel=3, worktrees=False)

    assert summary.exit_code == 0 and executor.most_at_once == 3
    assert set(statuses(root).values()) == {"done"}


def test_the_longest_chain_starts_first(tmp_path: Path) -> None:
    plan = """\
        # Plan

        - [ ] 1. Lone task
          - _Depends on: none_
        - [ ] 2. Head of a chain
          - _Depends on: none_
        - [ ] 3. Chain
          - _Depends on: 2_
    """
    root = make_project(tmp_path, plan)
    executor = FakeExecutor()

    run(root, executor, parallel=1)

    assert executor.calls == ["2", "1", "3"]


def test_failure_skips_its_dependants_and_the_others_go_on(tmp_path: Path) -> None:
    plan = """\
        # Plan

        - [ ] 1. Fails
        - [ ] 2. Needs 1
          - _Depends on: 1_
        - [ ] 3. Needs 2
          - _Depends on: 2_
        - [ ] 4. Independent
          - _Depends on: none_
    """
    root = make_project(tmp_path, plan)
    executor = FakeExecutor({"1": Step(ok=False)})

    summary, events = run(root, executor)

    assert by_id(summary) == {
        "1": ("failed", "tests failed"),
        "2": ("skipped", "depends on 1, which failed"),
        "3": ("skipped", "depends on 1, which failed"),
        "4": ("done", "tests passed"),
    }
    assert sorted(executor.calls) == ["1", "4"]
    assert statuses(root) == {"1": "todo", "2": "todo", "3": "todo", "4": "done"}
    assert summary.exit_code == 1
    skipped = [e.task_id for e in events if e.kind == "task_skipped"]
    assert skipped == ["2", "3"]
    history = meta(root)["history"]
    assert isinstance(history, list)
    failed = [h for h in history if h.get("outcome") == "failed"]
    assert failed == [{"ts": failed[0]["ts"], "taskId": "1", "status": "todo",
                       "runId": summary.run_id, "outcome": "failed",
                       "reason": "tests failed"}]  # fmt: skip


def test_done_tasks_are_never_redone_and_optional_ones_wait_to_be_asked(tmp_path: Path) -> None:
    plan = """\
        # Plan

        - [x] 1. Done already
        - [ ]* 2. Optional test
        - [ ] 3. Needs the optional one
          - _Depends on: 2_
    """
    root = make_project(tmp_path, plan)
    executor = FakeExecutor()

    summary, events = run(root, executor)

    assert executor.calls == ["3"]
    assert by_id(summary) == {"1": ("already_done", "done before"), "3": ("done", "tests passed")}
    started = events[0]
    assert started.kind == "run_started"
    assert started.data["tasks"] == [
        {"id": "1", "title": "Done already", "status": "done"},
        {"id": "3", "title": "Needs the optional one", "status": "queued"},
    ]
    second = FakeExecutor()
    summary, _ = run(root, second, include_optional=True)
    assert second.calls == ["2"] and summary.exit_code == 0
    assert statuses(root) == {"1": "done", "2": "done", "3": "done"}


def test_named_tasks_run_alone_and_say_which_dependency_is_missing(tmp_path: Path) -> None:
    plan = """\
        # Plan

        - [ ] 1. Base
        - [ ] 2. Group
          - [ ] 2.1 Part one
            - _Depends on: 1_
          - [ ] 2.2 Part two
            - _Depends on: none_
    """
    root = make_project(tmp_path, plan)
    executor = FakeExecutor()

    summary, _ = run(root, executor, ["2"])

    assert executor.calls == ["2.2"]
    assert by_id(summary)["2.1"] == (
        "skipped",
        "depends on 1, which is not done and not part of this run (name it too, or use --all)",
    )
    assert summary.exit_code == 1
    with pytest.raises(SpecNotFoundError, match="there is no task '9'"):
        run(root, executor, ["9"])
    with pytest.raises(UsageError, match="no task to run"):
        plan_run(root, SPEC, [])


def test_stuck_and_crashing_executors_are_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    plan = "# Plan\n\n- [ ] 1. Stuck\n- [ ] 2. Crashes\n  - _Depends on: none_\n- [ ] 3. Fine\n"
    plan += "  - _Depends on: none_\n- [ ] 4. After 1\n  - _Depends on: 1_\n"
    root = make_project(tmp_path, plan)
    executor = FakeExecutor(
        {"1": Step(ok=False, stuck=True), "2": Step(raises=RuntimeError("disk on fire"))}
    )

    summary, events = run(root, executor)

    results = by_id(summary)
    assert results["1"] == ("failed", "stuck: tests failed")
    assert results["2"] == ("failed", "the task executor failed: RuntimeError: disk on fire")
    assert results["3"][0] == "done"
    finished = {e.task_id: e.data for e in events if e.kind == "task_finished"}
    assert finished["1"]["stuck"] is True and finished["1"]["ok"] is False
    history = meta(root)["history"]
    assert isinstance(history, list)
    assert [h["outcome"] for h in history if "outcome" in h] == ["stuck", "failed"]


def test_a_used_up_budget_stops_the_run(tmp_path: Path) -> None:
    plan = "# Plan\n\n- [ ] 1. Spends it\n- [ ] 2. Never starts\n  - _Depends on: none_\n"
    root = make_project(tmp_path, plan + "- [ ] 3. After 1\n  - _Depends on: 1_\n")
    executor = FakeExecutor(
        {"1": Step(raises=BudgetExceededError(scope="run", unit="usd", cap=1.0, spent=1.2))}
    )

    summary, _ = run(root, executor)

    assert executor.calls == ["1"]
    status, reason = by_id(summary)["2"]
    assert status == "not_run" and "budget is used up" in reason


def test_a_folder_that_is_not_a_repository_runs_one_task_at_a_time(tmp_path: Path) -> None:
    wide = "# Plan\n\n" + "".join(f"- [ ] {n}. Task\n  - _Depends on: none_\n" for n in range(1, 4))
    root = make_project(tmp_path, wide + "- [ ] 4. Last\n  - _Depends on: 1_\n", repository=False)
    executor = FakeExecutor({str(n): Step(0.05, files={f"f{n}.txt": "x"}) for n in range(1, 4)})

    summary, events = run(root, executor, parallel=4)

    assert summary.parallel == 1 and not summary.worktrees
    assert summary.notes == ["the project is not a git repository: tasks run one at a time in "
                             "the project itself"]  # fmt: skip
    assert events[0].data["notes"] == summary.notes
    assert executor.most_at_once == 1
    assert set(executor.workdirs.values()) == {root.resolve()}
    assert all((root / f"f{n}.txt").exists() for n in range(1, 4))


# -- worktrees and merging ---------------------------------------------------------------------

TWO_INDEPENDENT = """\
    # Plan

    - [ ] 1. Edit the top
    - [ ] 2. Edit the bottom
      - _Depends on: none_
    - [ ] 3. After both
      - _Depends on: 1, 2_
"""


def test_parallel_tasks_work_in_worktrees_and_merge_back(tmp_path: Path) -> None:
    root = make_project(tmp_path, TWO_INDEPENDENT)
    head = git(root, "rev-parse", "HEAD")
    seen: dict[str, str] = {}

    def read_merged(job: TaskJob) -> None:  # task 3 starts from both tasks' work
        seen["3"] = (job.workdir / "lines.txt").read_text()

    executor = FakeExecutor({
        "1": Step(0.3, line=(2, "top by task 1"), files={"one.py": "one = 1\n"}),
        "2": Step(0.3, line=(19, "bottom by task 2")),
        "3": Step(action=read_merged),
    })  # fmt: skip

    summary, events = run(root, executor, parallel=2)

    assert summary.exit_code == 0 and summary.worktrees
    assert executor.most_at_once == 2
    worktrees = root / ".kiro" / ".specloom" / "worktrees" / SPEC
    assert all(executor.workdirs[t].parent == worktrees for t in ("1", "2", "3"))
    lines = (root / "lines.txt").read_text().splitlines()
    assert lines[1] == "top by task 1" and lines[18] == "bottom by task 2"
    assert seen["3"].splitlines()[1] == "top by task 1"
    assert (root / "one.py").read_text() == "one = 1\n"
    assert git(root, "rev-parse", "HEAD") == head
    assert list(worktrees.iterdir()) == []
    assert git(root, "worktree", "list").count("\n") == 1
    merges = {e.task_id: e.data for e in events if e.kind == "merge"}
    assert merges["1"]["ok"] and sorted(merges["1"]["files"]) == ["lines.txt", "one.py"]
    result = {r.task_id: r for r in summary.results}["1"]
    assert sorted(result.changed_files) == ["lines.txt", "one.py"]
    assert result.checkpoint == "cp-1"


def test_a_merge_conflict_fails_the_task_keeps_its_work_and_skips_dependants(
    tmp_path: Path,
) -> None:
    root = make_project(tmp_path, TWO_INDEPENDENT)
    executor = FakeExecutor({
        "1": Step(0.05, line=(5, "task 1 wrote this")),
        "2": Step(0.6, line=(5, "task 2 wrote this"), files={"two.py": "two = 2\n"}),
    })  # fmt: skip

    summary, events = run(root, executor, parallel=2)

    status, reason = by_id(summary)["2"]
    assert status == "failed"
    patch = ".kiro/.specloom/patches/demo/2.patch"
    assert "in conflict: lines.txt" in reason and patch in reason
    assert by_id(summary)["3"] == ("skipped", "depends on 2, which failed")
    assert (root / "lines.txt").read_text().splitlines()[4] == "task 1 wrote this"
    assert not (root / "two.py").exists()  # nothing of task 2 reached the project
    saved = (root / patch).read_text()
    assert "+task 2 wrote this" in saved and "two.py" in saved
    assert git(root, "show", "refs/specloom/tasks/demo/2:two.py") == "two = 2\n"
    conflict = next(e for e in events if e.kind == "merge" and not e.data["ok"])
    assert conflict.task_id == "2" and conflict.data["conflicts"] == ["lines.txt"]
    assert statuses(root) == {"1": "done", "2": "todo", "3": "todo"}


def test_a_failed_task_in_a_worktree_keeps_its_changes_as_a_patch(tmp_path: Path) -> None:
    root = make_project(tmp_path, TWO_INDEPENDENT)
    executor = FakeExecutor({"2": Step(ok=False, line=(9, "half done"))})

    summary, _ = run(root, executor, parallel=2)

    status, reason = by_id(summary)["2"]
    patch = ".kiro/.specloom/patches/demo/2-failed.patch"
    assert status == "failed" and reason == f"tests failed; its changes are saved in {patch}"
    assert "+half done" in (root / patch).read_text()
    assert (root / "lines.txt").read_text() == LINES  # never merged


def test_status_writes_change_only_status_characters_and_keep_user_edits(
    tmp_path: Path,
) -> None:
    root = make_project(tmp_path, TWO_INDEPENDENT)
    tasks_md = root / ".kiro" / "specs" / SPEC / "tasks.md"
    original = tasks_md.read_bytes()

    def user_edits(job: TaskJob) -> None:  # the user saves tasks.md while task 2 runs
        text = tasks_md.read_text()
        tasks_md.write_text(text + "\n## Notes\n\nWritten during the run.\n")

    executor = FakeExecutor({"2": Step(0.1, action=user_edits)})
    summary, _ = run(root, executor, parallel=2)

    assert summary.exit_code == 0
    final = tasks_md.read_bytes()
    note = b"\n## Notes\n\nWritten during the run.\n"
    assert final.endswith(note)
    body = final[: -len(note)]
    assert len(body) == len(original)
    changed = [i for i, (a, b) in enumerate(zip(original, body, strict=True)) if a != b]
    assert [body[i : i + 1] for i in changed] == [b"x", b"x", b"x"]
    assert all(original[i - 1 : i] == b"[" for i in changed)


def test_the_meta_file_gets_a_history_entry_per_change(tmp_path: Path) -> None:
    root = make_project(tmp_path, TWO_INDEPENDENT)
    summary, _ = run(root, FakeExecutor({"1": Step(files={"a.py": "a\n"})}), parallel=1)

    data = meta(root)
    assert data["statuses"] == {"1": "completed", "2": "completed", "3": "completed"}
    history = data["history"]
    assert isinstance(history, list)
    assert history[0] == {"ts": history[0]["ts"], "taskId": "*", "status": "queued", "count": 3}
    assert [(h["taskId"], h["status"]) for h in history[1:]] == [
        ("1", "in_progress"), ("1", "completed"), ("2", "in_progress"), ("2", "completed"),
        ("3", "in_progress"), ("3", "completed"),
    ]  # fmt: skip
    assert history[2]["changedFiles"] == ["a.py"] and history[2]["checkpoint"] == "cp-1"
    assert all(h.get("runId", summary.run_id) == summary.run_id for h in history)


# -- recovery and resume -----------------------------------------------------------------------


def test_a_stale_in_progress_mark_goes_back_to_todo_and_the_run_says_so(tmp_path: Path) -> None:
    root = make_project(tmp_path, TWO_INDEPENDENT.replace("[ ] 2.", "[-] 2."))
    executor = FakeExecutor()

    summary, events = run(root, executor)

    assert summary.reset == ["2"] and events[0].data["reset"] == ["2"]
    assert sorted(executor.calls) == ["1", "2", "3"]
    assert set(statuses(root).values()) == {"done"}


def test_a_task_that_finished_before_a_crash_is_marked_done_not_redone(tmp_path: Path) -> None:
    root = make_project(tmp_path, TWO_INDEPENDENT.replace("[ ] 1.", "[-] 1."))
    dead = RunJournal.start(root, SPEC, "dead", parallel=1, worktrees=False, requested=["1"])
    dead.update("1", state="merged", changed_files=["lines.txt"], checkpoint="cp-old")
    executor = FakeExecutor()

    summary, _ = run(root, executor)

    assert sorted(executor.calls) == ["2", "3"]
    assert summary.recovered == ["1"] and summary.reset == []
    assert by_id(summary)["1"] == ("already_done", "done before")
    assert RunJournal.load(dead.path).data["state"] == "crashed"
    entry = next(h for h in meta(root)["history"] if h.get("recovered"))  # type: ignore[union-attr]
    assert entry["taskId"] == "1" and entry["changedFiles"] == ["lines.txt"]


def test_a_merge_cut_short_by_a_crash_is_finished_on_the_next_run(tmp_path: Path) -> None:
    root = make_project(tmp_path, TWO_INDEPENDENT.replace("[ ] 1.", "[-] 1."))
    pool = ParallelWorkspace(root, SPEC)
    worktree = pool.create("1", "dead", pool.snapshot())
    edit_line(worktree.workdir / "lines.txt", 3, "merged after the crash")
    patch = pool.collect(worktree)
    pending = runs_dir(root) / SPEC / "dead" / "1.patch"
    pending.parent.mkdir(parents=True)
    pending.write_bytes(patch.text)
    dead = RunJournal.start(root, SPEC, "dead", parallel=2, worktrees=True, requested=["1"])
    dead.update("1", state="merging", worktree=str(worktree.path), pending_patch=str(pending))
    executor = FakeExecutor()

    summary, _ = run(root, executor, parallel=2)

    assert "1" not in executor.calls and summary.recovered == ["1"]
    assert (root / "lines.txt").read_text().splitlines()[2] == "merged after the crash"
    assert not worktree.path.exists() and not pending.exists()
    assert set(statuses(root).values()) == {"done"}


def test_a_second_run_on_the_same_spec_is_refused(tmp_path: Path) -> None:
    root = make_project(tmp_path, TWO_INDEPENDENT)

    async def both() -> str:
        first = asyncio.create_task(
            run_tasks(root, SPEC, None, executor=FakeExecutor({"1": Step(0.5)}))
        )
        await asyncio.sleep(0.2)
        try:
            await run_tasks(root, SPEC, None, executor=FakeExecutor())
        except UsageError as error:
            message = error.message
        else:
            message = "not refused"
        await first
        return message

    assert "another `specloom run` is working on the tasks of spec 'demo'" in asyncio.run(both())
    assert set(statuses(root).values()) == {"done"}


def test_a_cancelled_run_puts_running_tasks_back_and_keeps_their_work(tmp_path: Path) -> None:
    root = make_project(tmp_path, TWO_INDEPENDENT)
    started = asyncio.Event()

    def signal_started(job: TaskJob) -> None:
        started.set()

    async def slow_write(job: TaskJob, emit: Emit) -> TaskOutcome:
        edit_line(job.workdir / "lines.txt", 7, f"partial {job.task_id}")
        started.set()
        await asyncio.sleep(30)
        raise AssertionError("not cancelled")

    events: list[RunEvent] = []

    async def go() -> None:
        running = asyncio.create_task(
            run_tasks(root, SPEC, None, executor=slow_write, parallel=2, emit=events.append)
        )
        await started.wait()
        await asyncio.sleep(0.1)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running

    asyncio.run(go())

    assert statuses(root) == {"1": "todo", "2": "todo", "3": "todo"}
    assert (root / "lines.txt").read_text() == LINES
    patches = sorted((root / ".kiro" / ".specloom" / "patches" / SPEC).iterdir())
    assert [p.name for p in patches] == ["1-interrupted.patch", "2-interrupted.patch"]
    assert "+partial 1" in patches[0].read_text()
    final = events[-1]
    assert final.kind == "run_finished" and final.data["interrupted"] is True
    assert final.data["counts"]["interrupted"] == 2
    journal = next((runs_dir(root) / SPEC).glob("*.json"))
    assert json.loads(journal.read_text())["state"] == "interrupted"
    assert list((root / ".kiro" / ".specloom" / "worktrees" / SPEC).iterdir()) == []


RESUMABLE = """\
import asyncio, json, sys, time
from pathlib import Path
from specloom.workflows.execution import TaskOutcome
from specloom.workflows.scheduler import run_tasks

root, delay, log = Path(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3])

async def executor(job, emit):
    with log.open("a") as stream:
        stream.write(job.task_id + "\\n")
    await asyncio.sleep(delay)
    name = "out-" + job.task_id + ".txt"
    (job.workdir / name).write_text("made by " + job.task_id + "\\n")
    return TaskOutcome(job.task_id, True, "verified", attempts=1, changed_files=[name])

def emit(event):
    print(json.dumps(event.to_dict()), flush=True)

summary = asyncio.run(run_tasks(root, "demo", None, executor=executor, emit=emit))
sys.exit(summary.exit_code)
"""

CHAIN = """\
    # Plan

    - [ ] 1. First
    - [ ] 2. Second
      - _Depends on: 1_
    - [ ] 3. Third
      - _Depends on: 2_
"""


@pytest.mark.slow
def test_a_run_killed_mid_task_resumes_without_redoing_anything(tmp_path: Path) -> None:
    root = make_project(tmp_path, CHAIN)
    script = tmp_path / "resumable_run.py"
    script.write_text(RESUMABLE)
    log = tmp_path / "started.log"
    environment = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    with subprocess.Popen([sys.executable, str(script), str(root), "0.8", str(log)],
                          stdout=subprocess.PIPE, text=True, env=environment) as first:  # fmt: skip
        assert first.stdout is not None
        seen: list[tuple[str, str | None]] = []
        for line in first.stdout:
            event = json.loads(line)
            seen.append((event["event"], event["task"]))
            if event["event"] == "task_started" and event["task"] == "2":
                break
        time.sleep(0.2)  # task 2 is in its executor now
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert ("task_finished", "1") in seen
    assert statuses(root) == {"1": "done", "2": "in_progress", "3": "todo"}
    assert (root / "out-1.txt").exists() and not (root / "out-2.txt").exists()

    again = [sys.executable, str(script), str(root), "0.05", str(log)]
    resumed = subprocess.run(again, capture_output=True, text=True, env=environment, timeout=120)

    assert resumed.returncode == 0, resumed.stderr
    events = [json.loads(line) for line in resumed.stdout.splitlines()]
    assert events[0]["event"] == "run_started" and events[0]["reset"] == ["2"]
    assert log.read_text().split() == ["1", "2", "2", "3"]  # 1 ran once; 2 again
    assert statuses(root) == {"1": "done", "2": "done", "3": "done"}
    assert all((root / f"out-{n}.txt").exists() for n in (1, 2, 3))
    history = meta(root)["history"]
    assert isinstance(history, list)
    assert [(h["taskId"], h["status"]) for h in history if h["taskId"] == "2"] == [
        ("2", "in_progress"), ("2", "todo"), ("2", "in_progress"), ("2", "completed"),
    ]  # fmt: skip


def test_the_benchmark_graphs_and_the_wave_barrier_variant() -> None:
    bench = Path(__file__).resolve().parents[2] / "bench"
    sys.path.insert(0, str(bench))
    try:
        import scheduler as module  # pyright: ignore[reportMissingImports]

        assert Path(module.__file__ or "").parent == bench
        graphs = {graph.name: graph for graph in module.generate_graphs()}
        skewed = graphs["skewed"]
        dependency = skewed.graph()
        barrier = TaskGraph(parse_tasks(module.barrier_tasks_md(skewed)))
        assert dependency.source == "explicit" and barrier.source == "waves"
        assert barrier.waves() == dependency.waves()
        # under barriers a task of wave 2 waits for every task of wave 1, not only its own
        second = dependency.waves()[1][0]
        assert dependency.dependencies(second) == [str(int(second) - 1)]
        assert set(barrier.dependencies(second)) == set(dependency.waves()[0])
        for graph in graphs.values():
            assert graph.graph().find_cycle() is None
            critical = graph.bound(10**6)
            assert module.simulate(graph.graph(), graph.latency, 10**6) == pytest.approx(critical)
            assert module.simulate(graph.graph(), graph.latency, 1) == pytest.approx(
                sum(graph.latency.values())
            )
        assert module.simulate(dependency, skewed.latency, 8) == pytest.approx(0.7)
        assert module.simulate(barrier, skewed.latency, 8) > 2 * 0.7
    finally:
        sys.path.remove(str(bench))
        for name in ("scheduler", "reporting"):
            sys.modules.pop(name, None)
