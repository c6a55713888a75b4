"""The run's state on disk: the spec lock, the status book (``tasks.md`` and
``.tasks-meta.json``) and the run journal, on real files."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import pytest

from specloom.errors import UsageError
from specloom.spec.tasks import Status, parse_tasks
from specloom.workflows.run_state import (
    KEPT_JOURNALS,
    RunJournal,
    RunSummary,
    SpecLock,
    StatusBook,
    StatusWriter,
    TaskResult,
)

TASKS = """\
# Implementation Plan

Some intro text with a [ ] box that is not a task.

- [ ] 1. Set up
  - [ ] 1.1 Create the package
    - Details here
    - _Requirements: 1.1_
  - [ ] 1.2 Write the tests
    - _Depends on: 1.1_
- [ ] 2. Model
  - _Depends on: 1_
- [ ]* 3. Optional extra

```md
- [ ] 9. Not a task: inside a code fence
```
"""


def folder_with(tmp_path: Path, tasks: str = TASKS, meta: str | None = None) -> Path:
    folder = tmp_path / ".kiro" / "specs" / "demo"
    folder.mkdir(parents=True)
    (folder / "tasks.md").write_bytes(tasks.encode())
    if meta is not None:
        (folder / ".tasks-meta.json").write_text(meta, encoding="utf-8")
    return folder


def book_for(folder: Path) -> StatusBook:
    clock = iter(datetime(2026, 1, 2, 3, 4, second) for second in range(60))
    return StatusBook(folder, ".kiro/specs/demo", clock=lambda: next(clock))


def differing_positions(before: bytes, after: bytes) -> list[int]:
    assert len(before) == len(after)
    return [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]


def status_chars(text: str) -> dict[str, str]:
    document = parse_tasks(text)
    assert document.document is not None
    return {
        task.id: document.document.line(task.line).raw[task.status_column]
        for task in document.tasks
    }


def test_each_change_touches_exactly_the_status_characters(tmp_path: Path) -> None:
    folder = folder_with(tmp_path)
    book = book_for(folder)
    before = (folder / "tasks.md").read_bytes()

    book.set("1.1", Status.IN_PROGRESS)
    middle = (folder / "tasks.md").read_bytes()
    # the leaf and its parent become [-]; nothing else moves
    assert len(differing_positions(before, middle)) == 2
    assert status_chars(middle.decode()) == {"1": "-", "1.1": "-", "1.2": " ", "2": " ", "3": " "}

    book.set("1.1", Status.DONE)
    book.set("1.2", Status.DONE)
    after = (folder / "tasks.md").read_bytes()
    assert len(differing_positions(before, after)) == 3
    assert status_chars(after.decode()) == {"1": "x", "1.1": "x", "1.2": "x", "2": " ", "3": " "}
    assert b"- [ ] 9. Not a task" in after


def test_a_parent_stays_in_progress_while_another_of_its_leaves_runs(tmp_path: Path) -> None:
    folder = folder_with(tmp_path)
    book = book_for(folder)

    book.set("1.1", Status.IN_PROGRESS, running={"1.2"})
    book.set("1.2", Status.IN_PROGRESS, running={"1.1"})
    book.set("1.1", Status.TODO, running={"1.2"})  # failed: 1.2 still runs
    assert status_chars((folder / "tasks.md").read_text())["1"] == "-"
    book.set("1.2", Status.DONE, running=set())
    # 1.1 is not done, nothing runs: the parent is back to not started
    assert status_chars((folder / "tasks.md").read_text())["1"] == " "


def test_an_edit_the_user_saved_meanwhile_is_kept(tmp_path: Path) -> None:
    folder = folder_with(tmp_path)
    book = book_for(folder)
    book.set("2", Status.IN_PROGRESS)
    edited = (folder / "tasks.md").read_text().replace("Details here", "Details the user wrote")
    edited += "\n## Notes\n\nAdded while the task ran.\n"
    (folder / "tasks.md").write_text(edited)

    book.set("2", Status.DONE)

    text = (folder / "tasks.md").read_text()
    assert "Details the user wrote" in text
    assert text.endswith("Added while the task ran.\n")
    assert differing_positions(edited.encode(), text.encode()) == [edited.index("[-] 2.") + 1]


def test_concurrent_writers_from_threads_lose_no_update(tmp_path: Path) -> None:
    leaves = "".join(f"- [ ] {n}. Task {n}\n" for n in range(1, 21))
    folder = folder_with(tmp_path, "# Plan\n\n" + leaves)
    book = StatusBook(folder, "demo")

    def finish(n: int) -> None:
        book.set(str(n), Status.IN_PROGRESS)
        book.set(str(n), Status.DONE)

    threads = [threading.Thread(target=finish, args=(n,)) for n in range(1, 21)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert set(status_chars((folder / "tasks.md").read_text()).values()) == {"x"}
    meta = json.loads((folder / ".tasks-meta.json").read_text())
    assert meta["statuses"] == {str(n): "completed" for n in range(1, 21)}
    assert len(meta["history"]) == 40


def test_meta_records_kiro_shaped_entries_and_keeps_unknown_keys(tmp_path: Path) -> None:
    meta = {"statuses": {"1.1": "queued"}, "pbt": {"p1": "passed"}, "history": [],
            "custom": {"kept": True}}  # fmt: skip
    folder = folder_with(tmp_path, meta=json.dumps(meta, indent=2))
    book = book_for(folder)

    book.record_run(3)
    book.set("1.1", Status.IN_PROGRESS, history={"runId": "r1"})
    book.set("1.1", Status.DONE, history={"changedFiles": ["a.py"], "checkpoint": "abc123"})
    book.set("2", Status.IN_PROGRESS)
    book.set("2", Status.TODO, history={"outcome": "failed", "reason": "tests failed"})

    written = (folder / ".tasks-meta.json").read_text()
    data = json.loads(written)
    assert list(data) == ["statuses", "pbt", "history", "custom"]
    assert data["custom"] == {"kept": True} and data["pbt"] == {"p1": "passed"}
    assert data["statuses"] == {"1.1": "completed"}
    assert data["history"] == [
        {"ts": "2026-01-02T03:04:00", "taskId": "*", "status": "queued", "count": 3},
        {"ts": "2026-01-02T03:04:01", "taskId": "1.1", "status": "in_progress", "runId": "r1"},
        {"ts": "2026-01-02T03:04:02", "taskId": "1.1", "status": "completed",
         "changedFiles": ["a.py"], "checkpoint": "abc123"},
        {"ts": "2026-01-02T03:04:03", "taskId": "2", "status": "in_progress"},
        {"ts": "2026-01-02T03:04:04", "taskId": "2", "status": "todo", "outcome": "failed",
         "reason": "tests failed"},
    ]  # fmt: skip
    assert written.startswith('{\n  "statuses"')  # Kiro's two-space layout


def test_a_meta_file_that_is_not_json_is_left_alone_and_noted(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, meta="{not json")
    book = book_for(folder)

    book.set("2", Status.DONE)

    assert (folder / ".tasks-meta.json").read_text() == "{not json"
    assert status_chars((folder / "tasks.md").read_text())["2"] == "x"
    assert len(book.notes) == 1 and ".tasks-meta.json" in book.notes[0]


def test_a_task_deleted_by_the_user_is_noted_not_fatal(tmp_path: Path) -> None:
    folder = folder_with(tmp_path)
    book = book_for(folder)

    book.set("7", Status.DONE)

    assert (folder / "tasks.md").read_text() == TASKS
    assert "no task '7'" in book.notes[0]


def test_reset_in_progress_turns_stale_marks_back_and_says_which(tmp_path: Path) -> None:
    stale = TASKS.replace("- [ ] 1. Set up", "- [-] 1. Set up").replace(
        "- [ ] 1.2 Write", "- [-] 1.2 Write"
    )
    meta = {"statuses": {"2": "in_progress", "1.1": "completed"}, "pbt": {}, "history": []}
    folder = folder_with(tmp_path, stale, json.dumps(meta))
    book = book_for(folder)

    assert book.reset_in_progress() == ["1.2", "2"]

    assert (folder / "tasks.md").read_text() == TASKS
    data = json.loads((folder / ".tasks-meta.json").read_text())
    assert data["statuses"] == {"1.1": "completed"}
    assert book.reset_in_progress() == []


def test_a_byte_order_mark_is_kept(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, "\ufeff" + TASKS)
    StatusBook(folder, "demo").set("2", Status.DONE)
    raw = (folder / "tasks.md").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert b"- [x] 2. Model" in raw


def test_the_spec_lock_refuses_a_second_holder_until_released(tmp_path: Path) -> None:
    first = SpecLock(tmp_path, "demo")
    first.acquire("run-1")
    second = SpecLock(tmp_path, "demo")
    with pytest.raises(UsageError, match="another `specloom run`") as refused:
        second.acquire("run-2")
    assert "process" in refused.value.message
    other_spec = SpecLock(tmp_path, "other")
    other_spec.acquire("run-3")  # another spec of the same project is fine
    other_spec.release()

    first.release()
    second.acquire("run-2")
    second.release()


def test_the_spec_lock_is_dropped_when_its_process_dies(tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path\n"
        "from specloom.workflows.run_state import SpecLock\n"
        "lock = SpecLock(Path(sys.argv[1]), 'demo'); lock.acquire('r'); print('held', flush=True)\n"
        "sys.stdin.read()\n"
    )
    with subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as child:  # fmt: skip
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == "held"
            with pytest.raises(UsageError, match=f"process {child.pid}"):
                SpecLock(tmp_path, "demo").acquire("mine")
        finally:
            child.kill()
            child.wait()
    lock = SpecLock(tmp_path, "demo")
    lock.acquire("mine")
    lock.release()


def test_the_journal_is_saved_at_each_step_and_found_when_unfinished(tmp_path: Path) -> None:
    journal = RunJournal.start(tmp_path, "demo", "abc", parallel=2, worktrees=True,
                               requested=["1.1", "2"])  # fmt: skip
    journal.update("1.1", state="running", worktree="/w/1")
    journal.update("1.1", state="merged", changed_files=["a.py"])

    again = RunJournal.load(journal.path)
    assert again.tasks == {"1.1": {"state": "merged", "worktree": "/w/1",
                                   "changed_files": ["a.py"]}}  # fmt: skip
    assert [j.data["run_id"] for j in RunJournal.unfinished(tmp_path, "demo")] == ["abc"]

    journal.close("finished")
    assert RunJournal.unfinished(tmp_path, "demo") == []
    (journal.path.parent / "broken.json").write_text("{")
    assert RunJournal.unfinished(tmp_path, "demo") == []


def test_the_summary_counts_and_exit_codes() -> None:
    done = TaskResult("1", "a", "done", cost_usd=0.5, input_tokens=10)
    before = TaskResult("2", "b", "already_done")
    failed = TaskResult("3", "c", "failed", cost_usd=0.25, output_tokens=4)
    assert RunSummary("r", "s", 1, False, [done, before]).exit_code == 0
    summary = RunSummary("r", "s", 1, False, [done, before, failed])
    assert summary.exit_code == 1
    assert summary.to_dict()["counts"]["failed"] == 1
    assert summary.totals() == {"input_tokens": 10, "output_tokens": 4, "cost_usd": 0.75,
                                "attempts": 0}  # fmt: skip
    assert RunSummary("r", "s", 1, False, [done], interrupted=True).exit_code == 130


def test_the_writer_writes_queued_changes_in_order_off_the_caller(tmp_path: Path) -> None:
    folder = folder_with(tmp_path)
    book = book_for(folder)
    journal = RunJournal.start(tmp_path, "demo", "w1", parallel=2, worktrees=False,
                               requested=["1.1", "1.2", "2"])  # fmt: skip
    writer = StatusWriter(book, journal)
    writer.submit("*", Status.QUEUED, history={"count": 3})
    writer.submit("1.1", Status.IN_PROGRESS, running={"1.1"}, journal={"state": "running"})
    writer.submit("2", Status.IN_PROGRESS, running={"1.1", "2"}, journal={"state": "running"})
    ticket = writer.submit("1.1", Status.DONE, running={"2"}, journal={"state": "merged"})
    writer.wait(ticket)

    assert status_chars((folder / "tasks.md").read_text())["1.1"] == "x"
    assert RunJournal.load(journal.path).tasks["1.1"] == {"state": "merged"}
    writer.submit("2", Status.TODO, running=set(), history={"outcome": "failed"},
                  journal={"state": "failed"})  # fmt: skip
    writer.submit("1.2", journal={"state": "skipped"})  # the journal only
    writer.close()

    assert status_chars((folder / "tasks.md").read_text()) == {
        "1": " ", "1.1": "x", "1.2": " ", "2": " ", "3": " "}  # fmt: skip
    history = json.loads((folder / ".tasks-meta.json").read_text())["history"]
    assert [(h["taskId"], h["status"]) for h in history] == [
        ("*", "queued"), ("1.1", "in_progress"), ("2", "in_progress"), ("1.1", "completed"),
        ("2", "todo"),
    ]  # fmt: skip
    assert history[-1]["outcome"] == "failed"
    assert RunJournal.load(journal.path).tasks == {
        "1.1": {"state": "merged"},
        "2": {"state": "failed"},
        "1.2": {"state": "skipped"},
    }


def test_old_closed_journals_are_forgotten_but_killed_runs_kept(tmp_path: Path) -> None:
    killed = RunJournal.start(tmp_path, "demo", "killed", parallel=1, worktrees=False,
                              requested=[])  # fmt: skip
    for number in range(KEPT_JOURNALS + 5):
        RunJournal.start(tmp_path, "demo", f"run{number:03}", parallel=1, worktrees=False,
                         requested=[]).close("finished")  # fmt: skip

    names = {path.stem for path in killed.path.parent.glob("*.json")}

    # the newest run, the 50 closed before it, and the killed run's (its recovery needs it)
    assert names == {"killed"} | {f"run{number:03}" for number in range(4, KEPT_JOURNALS + 5)}
