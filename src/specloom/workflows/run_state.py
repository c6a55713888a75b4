"""What a run of a spec's tasks keeps on disk: the lock that makes it the spec's only run,
the status book that writes ``tasks.md`` and ``.tasks-meta.json``, and the run journal.

- ``SpecLock``: an inter-process lock per spec (``.kiro/.specloom/runs/<spec>.lock``). The
  operating system drops it when its holder ends, so a crashed run never blocks the next
  one; a second run on the same spec is refused with the first one's process id.
- ``StatusBook``: writes task statuses. Each change re-reads ``tasks.md`` (so an edit the
  user saved meanwhile is kept), changes exactly one status character per task and
  replaces the file atomically; then records the status and a Kiro-shaped history entry
  in ``.tasks-meta.json`` (every other key kept). A parent task follows its leaves:
  ``[x]`` when all are done, ``[-]`` while one of them runs.
- ``RunJournal``: one small JSON file per run (``runs/<spec>/<run id>.json``), replaced
  at each step of each task, so that a run that was killed can be picked up: which
  worktree belonged to which task, which task had finished but was not yet marked done,
  which patch was being merged.
- ``StatusWriter``: the run's one writer of both, on a thread of its own: the scheduler
  queues changes and goes on; changes that arrive together are written together, the
  journal before the status files.
- ``TaskResult`` and ``RunSummary``: what a run reports when it ends.

May import: the standard library, ``specloom.errors``, ``specloom.spec``,
``specloom.workspace``, ``specloom.settings`` and ``specloom.agent.git``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from specloom.agent.git import exclusive_lock
from specloom.errors import SpecSyntaxError, StateFileError, UsageError, UserFacingError
from specloom.settings import state_dir
from specloom.spec.graph import TaskGraph
from specloom.spec.meta import TasksMeta, parse_tasks_meta
from specloom.spec.tasks import STATUS_CHARS, Status, TasksDocument, parse_tasks, set_status
from specloom.workspace import atomic_write, read_text

__all__ = [
    "FINISHED",
    "RunJournal",
    "RunSummary",
    "SpecLock",
    "StatusBook",
    "StatusWriter",
    "TaskResult",
    "kiro_timestamp",
    "runs_dir",
]

_BOM = "\ufeff"
KEPT_JOURNALS = 50
"""Journals of closed runs kept per spec (older ones are deleted when a run starts)."""


def kiro_timestamp(moment: datetime | None = None) -> str:
    """A time as Kiro writes it in ``.tasks-meta.json``: local, ISO-8601, no zone."""
    return (moment or datetime.now()).strftime("%Y-%m-%dT%H:%M:%S")


def runs_dir(root: Path) -> Path:
    """``.kiro/.specloom/runs/``: locks and journals of task runs (created on first use)."""
    folder = state_dir(root) / "runs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# -- what a run reports ------------------------------------------------------------------

FINISHED = ("done", "already_done")
"""Task results that count as success."""


@dataclass(slots=True)
class TaskResult:
    """How one requested task ended in a run.

    Attributes:
        task_id: The leaf task.
        title: Its title.
        status: ``done``, ``already_done`` (done before the run), ``failed``, ``skipped``
            (a dependency failed or is missing), ``interrupted`` or ``not_run`` (the run
            stopped before it).
        reason: One line: what verified it, or why it failed or was skipped.
        attempts: Agent runs made.
        stuck: The executor stopped it early (attempts repeated the same failure).
        changed_files: Files it changed, relative to the project root.
        checkpoint: The checkpoint taken before its first change (to undo it), if any.
        patch: Where its work was saved when it could not be merged (relative path).
        elapsed_s: Seconds from its start to its end.
        input_tokens: Input tokens over all attempts.
        output_tokens: Output tokens over all attempts.
        cost_usd: Cost over all attempts, where prices are known.
    """

    task_id: str
    title: str
    status: str
    reason: str = ""
    attempts: int = 0
    stuck: bool = False
    changed_files: list[str] = field(default_factory=list)
    checkpoint: str | None = None
    patch: str | None = None
    elapsed_s: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        data = asdict(self)
        data["elapsed_s"] = round(self.elapsed_s, 3)
        return data


@dataclass(slots=True)
class RunSummary:
    """What a run did.

    Attributes:
        run_id: The run's id (journal, ledger and events carry it).
        spec: The spec's name.
        parallel: Tasks at most at a time (1 when worktrees could not be used).
        worktrees: Whether tasks ran in worktrees of their own.
        results: One per requested task, in document order.
        reset: Tasks a run that stopped had left ``[-]``, set back to ``[ ]``.
        recovered: Tasks a run that stopped had finished, marked done now.
        notes: Things the user should know (no git, a status that could not be written).
        elapsed_s: The run's wall time.
        interrupted: The run was stopped (Ctrl-C).
    """

    run_id: str
    spec: str
    parallel: int
    worktrees: bool
    results: list[TaskResult] = field(default_factory=list)
    reset: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    interrupted: bool = False

    def count(self, status: str) -> int:
        """How many results have ``status``."""
        return sum(1 for result in self.results if result.status == status)

    @property
    def ok(self) -> bool:
        """Whether every requested task is done."""
        return not self.interrupted and all(r.status in FINISHED for r in self.results)

    @property
    def exit_code(self) -> int:
        """0 every requested task done, 1 some failed or were skipped, 130 interrupted."""
        if self.interrupted:
            return 130
        return 0 if self.ok else 1

    def totals(self) -> dict[str, Any]:
        """Tokens and cost over every task."""
        costs = [r.cost_usd for r in self.results if r.cost_usd is not None]
        return {
            "input_tokens": sum(r.input_tokens for r in self.results),
            "output_tokens": sum(r.output_tokens for r in self.results),
            "cost_usd": round(sum(costs), 6) if costs else None,
            "attempts": sum(r.attempts for r in self.results),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (the ``run_finished`` event carries it)."""
        statuses = ("done", "already_done", "failed", "skipped", "interrupted", "not_run")
        return {
            "run_id": self.run_id,
            "spec": self.spec,
            "ok": self.ok,
            "exit_code": self.exit_code,
            "interrupted": self.interrupted,
            "parallel": self.parallel,
            "worktrees": self.worktrees,
            "elapsed_s": round(self.elapsed_s, 3),
            "counts": {status: self.count(status) for status in statuses},
            "totals": self.totals(),
            "reset": list(self.reset),
            "recovered": list(self.recovered),
            "notes": list(self.notes),
            "tasks": [result.to_dict() for result in self.results],
        }


# -- the lock ---------------------------------------------------------------------------------


class SpecLock:
    """Makes one process the only runner of a spec's tasks.

    Attributes:
        path: The lock file.
        spec: The spec's name.
    """

    def __init__(self, root: Path, spec: str) -> None:
        self.spec = spec
        self.path = runs_dir(root) / f"{spec}.lock"
        self._owner = self.path.with_suffix(".owner.json")
        self._stack: ExitStack | None = None

    def acquire(self, run_id: str) -> None:
        """Take the lock without waiting.

        Raises:
            UsageError: Another process holds it (it is running this spec's tasks).
        """
        stack = ExitStack()
        try:
            stack.enter_context(exclusive_lock(self.path, 0.0))
        except TimeoutError:
            stack.close()
            owner = self._read_owner()
            who = f" (process {owner['pid']}, started {owner['started']})" if owner else ""
            raise UsageError(
                f"another `specloom run` is working on the tasks of spec {self.spec!r}{who}.",
                file=str(self.path),
                hint="Wait for it to finish or stop it, then run again; two runs on one spec "
                "would step on each other's status updates.",
            ) from None
        self._stack = stack
        owner = {"pid": os.getpid(), "run_id": run_id, "started": kiro_timestamp()}
        _replace_text(self._owner, json.dumps(owner))

    def release(self) -> None:
        """Give the lock back (nothing happens when it is not held)."""
        if self._stack is not None:
            self._owner.unlink(missing_ok=True)
            self._stack.close()
            self._stack = None

    def _read_owner(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self._owner.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if isinstance(data, dict) and "pid" in data and "started" in data:
            return data
        return None


# -- the status book --------------------------------------------------------------------------


class StatusBook:
    """Writes task statuses into a spec's ``tasks.md`` and ``.tasks-meta.json``.

    Every method may be called from any thread; changes are serialised.

    Attributes:
        folder: The spec's folder.
        display: The spec's folder as shown in messages.
        notes: Problems met while writing (a task the user deleted meanwhile, a meta file
            that is not valid JSON); the run goes on and reports them.
    """

    def __init__(
        self,
        folder: Path,
        display: str,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.folder = folder
        self.display = display
        self.notes: list[str] = []
        self._clock = clock or datetime.now
        self._lock = threading.Lock()
        self._meta_broken = False

    @property
    def tasks_path(self) -> Path:
        """The spec's ``tasks.md``."""
        return self.folder / "tasks.md"

    @property
    def meta_path(self) -> Path:
        """The spec's ``.tasks-meta.json``."""
        return self.folder / ".tasks-meta.json"

    def read(self) -> TasksDocument:
        """``tasks.md`` as it is now."""
        text = read_text(self.tasks_path, f"{self.display}/tasks.md")
        return parse_tasks(text, f"{self.display}/tasks.md")

    def set(
        self,
        task_id: str,
        status: Status,
        *,
        running: Iterable[str] = (),
        history: dict[str, Any] | None = None,
    ) -> None:
        """Set a leaf task's status (and its parents'), and record it in the meta file.

        Args:
            task_id: The leaf task.
            status: Its new status.
            running: Leaf tasks in progress now (a parent of one stays ``[-]``).
            history: Extra keys for the history entry (``changedFiles``, ``reason``...).
        """
        self.apply([(task_id, status, history or {})], running)

    def apply(
        self, entries: Sequence[tuple[str, Status, dict[str, Any]]], running: Iterable[str] = ()
    ) -> None:
        """Set several leaf statuses at once: one write of ``tasks.md`` (each task's final
        status) and one of ``.tasks-meta.json`` (every entry, in order).

        Args:
            entries: ``(task id, status, extra history keys)``; task id ``"*"`` with
                ``Status.QUEUED`` is Kiro's "run all tasks" entry (its extra keys: ``count``).
            running: Leaf tasks in progress after these changes.
        """
        wanted = {task_id: status for task_id, status, _ in entries if task_id != "*"}
        active = set(running)
        for task_id, status in wanted.items():
            if status is Status.IN_PROGRESS:
                active.add(task_id)
            else:
                active.discard(task_id)
        with self._lock:
            known, tasks_text = self._tasks_update(wanted, active)
            recorded = [entry for entry in entries if entry[0] in known or entry[0] == "*"]
            meta_text = self._meta_update(recorded) if recorded else None
            self._write(tasks_text, meta_text)

    def reset_in_progress(self) -> list[str]:
        """Turn every ``[-]`` (and every ``in_progress`` in the meta file) that no run
        owns back into ``[ ]``: what a run that stopped without cleaning up left behind.

        Returns:
            The ids of the tasks reset, in document order.
        """
        with self._lock:
            document = self.read()
            marked = [task for task in document.tasks if task.status is Status.IN_PROGRESS]
            stale = [task.id for task in marked if task.is_leaf]
            if marked:
                self._write(self._tasks_update(dict.fromkeys(stale, Status.TODO), set())[1], None)
            reset = list(stale)
            meta = self._read_meta() if self.meta_path.exists() else None
            recorded = meta.statuses() if meta is not None else {}
            if any(status is Status.IN_PROGRESS for status in recorded.values()):
                now = {task.id: task.status for task in self.read().tasks}
                entries: list[tuple[str, Status, dict[str, Any]]] = []
                for task_id, status in recorded.items():
                    if status is not Status.IN_PROGRESS or task_id not in now:
                        continue
                    entries.append((task_id, now[task_id], {}))
                    if now[task_id] is Status.TODO and task_id not in reset:
                        reset.append(task_id)
                if entries:
                    self._write(None, self._meta_update(entries))
            order = {task.id: index for index, task in enumerate(document.tasks)}
            return sorted(reset, key=lambda task_id: order.get(task_id, len(order)))

    def record_run(self, count: int) -> None:
        """Add Kiro's "run all tasks" history entry (``taskId`` ``*``, ``queued``)."""
        self.apply([("*", Status.QUEUED, {"count": count})])

    # -- internals --------------------------------------------------------------------------

    def _tasks_update(
        self, wanted: dict[str, Status], running: set[str]
    ) -> tuple[set[str], str | None]:
        """The new ``tasks.md`` for these leaf statuses and what they imply for parents
        (``None`` when nothing changes), and the tasks found (one the user deleted
        meanwhile is noted and left out)."""
        display = f"{self.display}/tasks.md"
        try:
            raw = read_text(self.tasks_path, display)
            document = parse_tasks(raw, display)
        except UserFacingError as error:
            self.notes.append(f"could not record statuses in tasks.md: {error.render()}")
            return set(), None
        for task_id in list(wanted):
            try:
                document.task(task_id)
            except UserFacingError as error:
                self.notes.append(f"could not record the status in tasks.md: {error.render()}")
                del wanted[task_id]
        graph = TaskGraph(document)
        current = {task.id: task.status for task in document.tasks}
        leaves = {task.id: task.status for task in document.tasks if task.is_leaf}
        leaves.update(wanted)
        changes = {task_id: status for task_id, status in wanted.items()
                   if current.get(task_id) is not status}  # fmt: skip
        for task in document.tasks:
            if task.is_leaf:
                continue
            under = graph.leaves_of(task.id)
            touched = any(leaf in wanted for leaf in under)
            if not touched and task.status is not Status.IN_PROGRESS:
                continue
            if under and all(leaves.get(leaf) is Status.DONE for leaf in under):
                target = Status.DONE
            elif any(leaf in running for leaf in under):
                target = Status.IN_PROGRESS
            elif task.status is Status.IN_PROGRESS:
                target = Status.TODO
            else:
                continue
            if target is not task.status:
                changes[task.id] = target
        if not changes:
            return set(wanted), None
        text = _set_statuses(raw, document, changes)
        # read_text drops a byte-order mark; the user's editor wrote one, so keep it.
        if self.tasks_path.read_bytes().startswith(_BOM.encode()):
            text = _BOM + text
        return set(wanted), text

    def _write(self, tasks_text: str | None, meta_text: str | None) -> None:
        """Replace ``tasks.md`` and ``.tasks-meta.json``; both at once when both change
        (each write waits for the disk)."""
        if tasks_text is not None and meta_text is not None:
            meta = threading.Thread(target=atomic_write, args=(self.meta_path, meta_text))
            meta.start()
            try:
                atomic_write(self.tasks_path, tasks_text)
            finally:
                meta.join()
            return
        if tasks_text is not None:
            atomic_write(self.tasks_path, tasks_text)
        if meta_text is not None:
            atomic_write(self.meta_path, meta_text)

    def _read_meta(self, *, create: bool = False) -> TasksMeta | None:
        display = f"{self.display}/.tasks-meta.json"
        if not self.meta_path.exists():
            return TasksMeta() if create else None
        try:
            return parse_tasks_meta(read_text(self.meta_path, display), display)
        except SpecSyntaxError as error:
            if not self._meta_broken:
                self._meta_broken = True
                self.notes.append(
                    f"statuses were not recorded in .tasks-meta.json: {error.render()}"
                )
            return None

    def _meta_update(self, entries: Sequence[tuple[str, Status, dict[str, Any]]]) -> str | None:
        """The new ``.tasks-meta.json`` with these entries (``None`` when it cannot be
        read)."""
        meta = self._read_meta(create=True)
        if meta is None:
            return None
        stamp = kiro_timestamp(self._clock())
        meta.data.setdefault("statuses", {})
        meta.data.setdefault("pbt", {})
        for task_id, status, extra in entries:
            if task_id == "*":
                history = meta.data.setdefault("history", [])
                if not isinstance(history, list):
                    history = meta.data["history"] = []
                history.append({"ts": stamp, "taskId": "*", "status": "queued", **extra})
                continue
            meta.record(task_id, status, stamp)
            history = meta.data["history"]
            if extra and isinstance(history, list) and history:
                history[-1].update(extra)
        return meta.render()


def _set_statuses(text: str, document: TasksDocument, changes: dict[str, Status]) -> str:
    """``text`` with the status character of each changed task replaced: what
    ``set_status`` does for one task, for several at once from one parse."""
    if len(changes) == 1:
        ((task_id, status),) = changes.items()
        return set_status(text, task_id, status, document.path)
    scanned = document.document
    assert scanned is not None
    starts = [0]
    for line in scanned.lines:
        starts.append(starts[-1] + len(line.raw))
    positions = sorted(
        (starts[task.line - 1] + task.status_column, STATUS_CHARS[changes[task.id]])
        for task in document.tasks
        if task.id in changes
    )
    pieces: list[str] = []
    previous = 0
    for position, char in positions:
        pieces.append(text[previous:position])
        pieces.append(char)
        previous = position + 1
    pieces.append(text[previous:])
    return "".join(pieces)


# -- the run journal --------------------------------------------------------------------------


class RunJournal:
    """What one run did, task by task, kept on disk as it goes.

    ``data`` holds ``run_id``, ``spec``, ``pid``, ``started``, ``ended``, ``state``
    (``running``, then ``finished``, ``interrupted`` or ``crashed``), ``parallel``,
    ``worktrees``, ``requested`` and ``tasks``: task id to a record whose ``state`` is
    ``running``, ``merging`` (its patch is being applied to the project), ``merged`` (its
    work is in the project; the status is written next), ``done``, ``failed``, ``skipped``
    or ``interrupted``, with the task's worktree, base snapshot, patch, changed files,
    checkpoint, attempts and reason.

    Attributes:
        path: The journal file.
        data: Its content.
    """

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data
        self._lock = threading.Lock()

    @classmethod
    def start(
        cls,
        root: Path,
        spec: str,
        run_id: str,
        *,
        parallel: int,
        worktrees: bool,
        requested: list[str],
    ) -> RunJournal:
        """Create the journal of a new run."""
        folder = runs_dir(root) / spec
        journal = cls(
            folder / f"{run_id}.json",
            {
                "run_id": run_id,
                "spec": spec,
                "pid": os.getpid(),
                "started": kiro_timestamp(),
                "ended": None,
                "state": "running",
                "parallel": parallel,
                "worktrees": worktrees,
                "requested": list(requested),
                "tasks": {},
            },
        )
        journal.save()
        journal._forget_old(folder)
        return journal

    def _forget_old(self, folder: Path, keep: int = KEPT_JOURNALS) -> None:
        """Delete the oldest closed journals (and their leftover folders) of this spec."""
        closed = [path for path in folder.glob("*.json") if path != self.path]
        if len(closed) < keep:
            return
        closed.sort(key=lambda path: path.stat().st_mtime)
        for path in closed[: len(closed) - keep]:
            try:
                state = json.loads(path.read_text(encoding="utf-8")).get("state")
            except (OSError, ValueError, AttributeError):
                state = None
            if state == "running":
                continue  # a killed run: the next run's recovery reads it
            path.unlink(missing_ok=True)
            shutil.rmtree(path.with_suffix(""), ignore_errors=True)

    @classmethod
    def load(cls, path: Path) -> RunJournal:
        """Read a journal.

        Raises:
            StateFileError: It is not a journal (damaged, or not JSON).
        """
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise StateFileError(
                f"the run journal cannot be read: {error}.",
                file=str(path),
                hint="Delete the file; only the pick-up of an interrupted run needs it.",
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("tasks"), dict):
            raise StateFileError(
                "the run journal is not a JSON object with a `tasks` mapping.",
                file=str(path),
                hint="Delete the file; only the pick-up of an interrupted run needs it.",
            )
        return cls(path, data)

    @classmethod
    def unfinished(cls, root: Path, spec: str) -> list[RunJournal]:
        """Journals of this spec's runs that ended without closing them (oldest first).

        Call only while holding the spec's ``SpecLock``: then their runs are gone.
        """
        folder = runs_dir(root) / spec
        found: list[RunJournal] = []
        if not folder.is_dir():
            return found
        for path in sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime):
            try:
                journal = cls.load(path)
            except StateFileError:
                continue
            if journal.data.get("state") == "running":
                found.append(journal)
        return found

    @property
    def tasks(self) -> dict[str, dict[str, Any]]:
        """Task id to its record."""
        return self.data["tasks"]

    def update(self, task_id: str, **fields: Any) -> None:
        """Change fields of a task's record and save the journal."""
        with self._lock:
            self.tasks.setdefault(task_id, {}).update(fields)
            self._save()

    def stage(self, task_id: str, **fields: Any) -> None:
        """Change fields of a task's record; the next ``save`` writes them."""
        with self._lock:
            self.tasks.setdefault(task_id, {}).update(fields)

    def close(self, state: str) -> None:
        """Mark the run ended (``finished``, ``interrupted`` or ``crashed``)."""
        with self._lock:
            self.data["state"] = state
            self.data["ended"] = kiro_timestamp()
            self._save()

    def save(self) -> None:
        """Write the journal atomically."""
        with self._lock:
            self._save()

    def _save(self) -> None:
        # Not synced to disk each time: it is specloom's own bookkeeping, written several
        # times per task; the rename still leaves the old journal or the new one.
        _replace_text(self.path, json.dumps(self.data, indent=1, ensure_ascii=False) + "\n")


def _replace_text(path: Path, text: str) -> None:
    """Write ``path`` through a temporary file and a rename, without ``fsync``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# -- the writer ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Change:
    task_id: str
    status: Status | None
    history: dict[str, Any]
    journal: dict[str, Any]
    running: frozenset[str]


class StatusWriter:
    """The one writer of a run's statuses and journal, off the event loop.

    The scheduler queues changes (``submit`` returns at once); a worker thread writes them
    in batches: the journal first, then ``tasks.md`` (each task's newest status), then
    ``.tasks-meta.json`` (every entry, in order). So a task's "finished" reaches the journal
    before its ``[x]`` reaches ``tasks.md``, and tasks finishing together share one write of
    each file instead of waiting for each other's.

    Attributes:
        book: Where statuses go.
        journal: The run's journal.
    """

    def __init__(self, book: StatusBook, journal: RunJournal) -> None:
        self.book = book
        self.journal = journal
        self._pending: list[_Change] = []
        self._condition = threading.Condition()
        self._queued = 0
        self._written = 0
        self._stopping = False
        self._thread = threading.Thread(target=self._work, name="specloom-status", daemon=True)
        self._thread.start()

    def submit(
        self,
        task_id: str,
        status: Status | None = None,
        *,
        running: Iterable[str] = (),
        history: dict[str, Any] | None = None,
        journal: dict[str, Any] | None = None,
    ) -> int:
        """Queue a change: journal fields of a task and/or its new status.

        Returns:
            A ticket for ``wait``.
        """
        change = _Change(task_id, status, history or {}, journal or {}, frozenset(running))
        with self._condition:
            self._pending.append(change)
            self._queued += 1
            self._condition.notify_all()
            return self._queued

    def wait(self, ticket: int | None = None) -> None:
        """Block until the change ``ticket`` (default: every change so far) is written."""
        with self._condition:
            target = self._queued if ticket is None else ticket
            while self._written < target and self._thread.is_alive():
                self._condition.wait(0.5)

    async def flush(self) -> None:
        """Wait (without blocking the event loop) until every change so far is written."""
        import asyncio

        with self._condition:
            target = self._queued
        if self._written < target:
            await asyncio.to_thread(self.wait, target)

    def close(self) -> None:
        """Write what is queued, then stop the worker."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        self._thread.join()

    def _work(self) -> None:
        while True:
            with self._condition:
                while not self._pending and not self._stopping:
                    self._condition.wait()
                if not self._pending:
                    return
                batch, self._pending = self._pending, []
            try:
                self._write(batch)
            except OSError as error:  # a full disk, a folder made read-only: say so, go on
                self.book.notes.append(f"could not write the run's state: {error}")
            finally:
                with self._condition:
                    self._written += len(batch)
                    self._condition.notify_all()

    def _write(self, batch: list[_Change]) -> None:
        staged = False
        for change in batch:
            if change.journal:
                self.journal.stage(change.task_id, **change.journal)
                staged = True
        if staged:
            self.journal.save()
        entries: list[tuple[str, Status, dict[str, Any]]] = []
        running: frozenset[str] = frozenset()
        for change in batch:
            if change.status is not None:
                entries.append((change.task_id, change.status, change.history))
                running = change.running
        if entries:
            self.book.apply(entries, running)
