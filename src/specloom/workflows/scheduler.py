"""Running a spec's tasks: ``specloom run <spec> <task>...`` and ``--all``.

Scheduling is by dependencies, not waves: a task starts as soon as its own dependencies are
done (``TaskGraph``), up to ``parallel`` at a time, the ready task with the longest chain
of tasks after it first. Each task is marked ``[-]`` when it starts and ``[x]`` when the
executor's verification passed (and, in a worktree, its work was merged back); a failed
task goes back to ``[ ]`` with its reason recorded, and the tasks that depend on it are
skipped while the others go on. Done tasks are never redone; optional tasks (``*``) are
left out of ``--all`` unless asked for.

With ``parallel`` above 1 in a git repository each task works in a worktree of its own
(``specloom.workflows.worktrees``); in a folder that is not a repository tasks run one at
a time in the project itself, and the run says so. Every status change goes through the
run's one ``StatusWriter``; the spec's ``SpecLock`` keeps a second run of the same spec
out.

A run survives being killed at any moment: its journal (``RunJournal``) says which task
had finished but was not yet marked done (it is marked now, not redone), which patch was
being merged (finished or kept), which worktree was whose (its partial work is kept as a
patch, then it is removed); a ``[-]`` nobody owns goes back to ``[ ]``, and the run says
which.

May import: the standard library, ``specloom.errors``, ``specloom.spec``,
``specloom.workspace``, ``specloom.settings``, ``specloom.agent.git`` and the sibling
modules ``execution``, ``run_state`` and ``worktrees``.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from specloom.agent.git import Git
from specloom.errors import SpecNotFoundError, UsageError, UserFacingError
from specloom.spec.graph import TaskGraph
from specloom.spec.tasks import Status
from specloom.workflows.execution import Emit, RunEvent, TaskExecutor, TaskJob, TaskOutcome
from specloom.workflows.run_state import (
    RunJournal,
    RunSummary,
    SpecLock,
    StatusBook,
    StatusWriter,
    TaskResult,
    kiro_timestamp,
    runs_dir,
)
from specloom.workflows.worktrees import (
    MergeResult,
    ParallelWorkspace,
    TaskPatch,
    Worktree,
    atomic_write_bytes,
    unavailable_reason,
)
from specloom.workspace import Workspace

__all__ = ["RunPlan", "RunSummary", "TaskResult", "plan_run", "run_tasks"]

T = TypeVar("T")


@dataclass(slots=True)
class RunPlan:
    """Which tasks a run takes on, before it starts.

    Attributes:
        spec: The spec's folder name.
        folder: The spec's folder.
        display: The spec's folder as shown in messages.
        graph: The task graph.
        requested: Leaf tasks asked for, in document order.
        to_run: Those not done yet.
        already_done: Those done already (never redone).
        blocked: Tasks that cannot run because a dependency is neither done nor part of
            this run, with the reason.
        satisfied: Leaves that count as done for dependencies (done ones, and optional
            ones left out of the run).
        titles: Task titles by id.
    """

    spec: str
    folder: Path
    display: str
    graph: TaskGraph
    requested: list[str]
    to_run: list[str]
    already_done: list[str]
    blocked: dict[str, str]
    satisfied: set[str]
    titles: dict[str, str]


def plan_run(
    root: Path,
    spec: str,
    task_ids: Sequence[str] | None,
    *,
    include_optional: bool = False,
) -> RunPlan:
    """Check a run request against the spec and say which tasks it takes on.

    Args:
        root: The project root.
        spec: The spec's name.
        task_ids: Tasks to run (a parent means its leaves); ``None`` for every task.
        include_optional: Take optional tasks (``*``) too (with ``None``, or under a
            parent named); an optional leaf named on its own is always taken.

    Raises:
        SpecNotFoundError: No such spec, no ``tasks.md``, or no such task.
        SpecSyntaxError: ``tasks.md`` cannot be read, or its dependencies form a cycle.
        UsageError: An empty list of tasks.
    """
    workspace = Workspace(root)
    loaded = workspace.load(spec)
    if loaded.tasks is None:
        raise SpecNotFoundError(
            "this spec has no tasks.md yet, so there is nothing to run.",
            file=loaded.file("tasks.md"),
            hint="Approve the design to generate the tasks, or write tasks.md.",
        )
    tasks = loaded.tasks
    graph = TaskGraph(tasks)
    graph.check()
    optional = {task.id for task in tasks.tasks if task.optional}
    leaf_optional = {
        leaf for leaf in graph.leaves
        if leaf in optional or any(a in optional for a in _ancestors(tasks, leaf))
    }  # fmt: skip
    chosen: set[str] = set()
    if task_ids is None:
        chosen = {leaf for leaf in graph.leaves if include_optional or leaf not in leaf_optional}
    else:
        if not task_ids:
            raise UsageError("no task to run was named.", hint="Name task ids, or use --all.")
        for task_id in task_ids:
            task = tasks.task(task_id)
            if task.is_leaf:
                chosen.add(task.id)
                continue
            chosen.update(
                leaf for leaf in graph.leaves_of(task.id)
                if include_optional or leaf not in leaf_optional or task.optional
            )  # fmt: skip
    requested = [leaf for leaf in graph.leaves if leaf in chosen]
    done = {task.id for task in tasks.tasks if task.is_leaf and task.status is Status.DONE}
    satisfied = done | {leaf for leaf in leaf_optional if leaf not in chosen}
    to_run = [leaf for leaf in requested if leaf not in done]
    blocked: dict[str, str] = {}
    missing_roots: dict[str, list[str]] = {}
    for leaf in graph.topological_order():
        if leaf not in to_run:
            continue
        roots: list[str] = []
        for dependency in graph.dependencies(leaf):
            if dependency in satisfied:
                continue
            if dependency not in chosen:
                roots.append(dependency)
            roots.extend(r for r in missing_roots.get(dependency, []) if r not in roots)
        if roots:
            missing_roots[leaf] = roots
            plural = "are" if len(roots) > 1 else "is"
            blocked[leaf] = (
                f"depends on {', '.join(roots)}, which {plural} not done and not part of this "
                "run (name it too, or use --all)"
            )
    return RunPlan(
        spec=Path(loaded.folder).name if loaded.folder else spec,
        folder=workspace.spec_folder(spec),
        display=loaded.folder,
        graph=graph,
        requested=requested,
        to_run=to_run,
        already_done=[leaf for leaf in requested if leaf in done],
        blocked=blocked,
        satisfied=satisfied,
        titles={task.id: task.title for task in tasks.tasks},
    )


def _ancestors(tasks: Any, leaf: str) -> list[str]:
    found: list[str] = []
    parent = tasks.task(leaf).parent
    while parent is not None:
        found.append(parent)
        parent = tasks.task(parent).parent
    return found


async def run_tasks(
    root: Path,
    spec: str,
    task_ids: Sequence[str] | None,
    *,
    executor: TaskExecutor,
    parallel: int = 1,
    include_optional: bool = False,
    emit: Emit | None = None,
    worktrees: bool | None = None,
    git: Git | None = None,
) -> RunSummary:
    """Run a spec's tasks by their dependencies and record every status change.

    Args:
        root: The project root.
        spec: The spec's name.
        task_ids: Tasks to run (a parent means its leaves); ``None`` for ``--all``.
        executor: Does one task (``specloom.workflows.task_runner.make_executor``).
        parallel: Tasks at most at a time.
        include_optional: Take optional tasks too.
        emit: Where run events go (the live board, ``--json``).
        worktrees: Run each task in a worktree of its own; default: when ``parallel`` is
            above 1 and the project is a git repository. ``False`` with ``parallel`` above
            1 runs tasks side by side in the project itself (only for tasks that touch
            different files).
        git: How git is run.

    Returns:
        What happened to each requested task.

    Raises:
        SpecNotFoundError, SpecSyntaxError: A bad spec, task id or ``tasks.md``.
        UsageError: ``parallel`` below 1, or another run holds this spec.
        asyncio.CancelledError: The run was stopped; tasks in progress are back to ``[ ]``
            and their partial work in worktrees is saved as patches.
    """
    if parallel < 1:
        raise UsageError("--parallel must be at least 1.", hint="Use --parallel 1 or more.")
    root = Path(os.path.realpath(root))
    plan = plan_run(root, spec, task_ids, include_optional=include_optional)
    run_id = uuid.uuid4().hex[:12]
    lock = SpecLock(root, plan.spec)
    lock.acquire(run_id)
    try:
        run = _Run(root, plan, run_id, executor, emit, parallel, worktrees, git or Git())
        return await run.execute(spec, task_ids, include_optional)
    finally:
        lock.release()


class _Run:
    """One run's state while it goes."""

    def __init__(
        self,
        root: Path,
        plan: RunPlan,
        run_id: str,
        executor: TaskExecutor,
        emit: Emit | None,
        parallel: int,
        worktrees: bool | None,
        git: Git,
    ) -> None:
        self.root = root
        self.plan = plan
        self.run_id = run_id
        self.executor = executor
        self._emit_to: Emit = emit or (lambda _event: None)
        self.parallel = parallel
        self.git = git
        self.book = StatusBook(plan.folder, plan.display)
        self.results: dict[str, TaskResult] = {}
        self.running: set[str] = set()
        self.stop_reason: str | None = None
        self.notes: list[str] = []
        self.started = time.monotonic()
        self.pool: ParallelWorkspace | None = None
        self._pool_checked = False
        wanted = parallel > 1 if worktrees is None else worktrees
        if wanted and self._open_pool() is None:
            self.parallel = 1
        self.use_worktrees = wanted and self.pool is not None
        self.journal: RunJournal | None = None
        self.writer: StatusWriter | None = None
        self._threads: ThreadPoolExecutor | None = None

    def _open_pool(self) -> ParallelWorkspace | None:
        """The worktrees of this run (``None`` when git cannot be used, which is noted)."""
        if not self._pool_checked:
            self._pool_checked = True
            reason = unavailable_reason(self.root, self.git)
            if reason is None:
                self.pool = ParallelWorkspace(self.root, self.plan.spec, git=self.git)
            else:
                self.notes.append(f"{reason}: tasks run one at a time in the project itself")
        return self.pool

    def emit(self, kind: str, task_id: str | None = None, **data: Any) -> None:
        self._emit_to(RunEvent(kind, task_id, data))

    async def _in_thread(self, function: Callable[..., T], *args: Any) -> T:
        """Run git work on the run's own threads (one per task slot, so it never waits
        behind the executor's use of the shared default pool)."""
        if self._threads is None:
            self._threads = ThreadPoolExecutor(self.parallel + 1, thread_name_prefix="specloom-git")
        return await asyncio.get_running_loop().run_in_executor(self._threads, function, *args)

    # -- the run ----------------------------------------------------------------------------

    async def execute(
        self, spec: str, task_ids: Sequence[str] | None, include_optional: bool
    ) -> RunSummary:
        recovered = self._recover()
        reset = self.book.reset_in_progress()
        if recovered or reset:  # statuses changed: plan again from the file as it is now
            self.plan = plan_run(self.root, spec, task_ids, include_optional=include_optional)
        plan = self.plan
        self.journal = RunJournal.start(
            self.root, plan.spec, self.run_id, parallel=self.parallel,
            worktrees=self.use_worktrees, requested=plan.requested,
        )  # fmt: skip
        self.writer = StatusWriter(self.book, self.journal)
        for leaf in plan.already_done:
            self.results[leaf] = TaskResult(leaf, plan.titles[leaf], "already_done", "done before")
        if task_ids is None and plan.to_run:
            self.writer.submit("*", Status.QUEUED, history={"count": len(plan.to_run)})
        self.emit(
            "run_started",
            spec=plan.spec, run_id=self.run_id, parallel=self.parallel,
            worktrees=self.use_worktrees, reset=reset, recovered=recovered,
            notes=[*self.notes, *self.book.notes],
            tasks=[{"id": leaf, "title": plan.titles[leaf],
                    "status": "done" if leaf in plan.already_done else "queued"}
                   for leaf in plan.requested],
        )  # fmt: skip
        for leaf, reason in plan.blocked.items():
            self._skip(leaf, reason)
        interrupted = False
        try:
            await self._schedule()
        except (asyncio.CancelledError, KeyboardInterrupt):
            interrupted = True
            raise
        finally:
            if self._threads is not None:
                self._threads.shutdown(wait=True)
            self.writer.close()  # every status is on disk before the run reports its end
            summary = self._summary(reset, recovered, interrupted)
            self.journal.close("interrupted" if interrupted else "finished")
            self.emit("run_finished", **summary.to_dict())
        return summary

    async def _schedule(self) -> None:
        plan = self.plan
        graph = plan.graph
        pending = [leaf for leaf in plan.to_run if leaf not in self.results]
        rank = _chain_lengths(graph, set(pending))
        order = {leaf: index for index, leaf in enumerate(graph.leaves)}
        satisfied = set(plan.satisfied)
        active: dict[asyncio.Task[None], str] = {}
        try:
            while True:
                ready = [leaf for leaf in pending
                         if all(d in satisfied for d in graph.dependencies(leaf))]  # fmt: skip
                ready.sort(key=lambda leaf: (-rank[leaf], order[leaf]))
                starting = ready[: self.parallel - len(active)] if self.stop_reason is None else []
                if starting:
                    base = await self._snapshot(starting)
                    for leaf in starting:
                        pending.remove(leaf)
                        if leaf in self.results:  # the snapshot failed
                            continue
                        active[asyncio.create_task(self._one(leaf, base))] = leaf
                    if not active:
                        continue
                if not active:
                    break
                finished, _ = await asyncio.wait(active, return_when=asyncio.FIRST_COMPLETED)
                for future in finished:
                    leaf = active.pop(future)
                    future.result()
                    if self.results[leaf].status == "done":
                        satisfied.add(leaf)
                        continue
                    verb = "failed" if self.results[leaf].status == "failed" else "did not finish"
                    for dependent in graph.blocked_by([leaf]):
                        if dependent in pending:
                            pending.remove(dependent)
                            self._skip(dependent, f"depends on {leaf}, which {verb}")
            for leaf in pending:
                reason = f"not started: {self.stop_reason or 'the run stopped'}"
                self.results[leaf] = TaskResult(leaf, plan.titles[leaf], "not_run", reason)
                self.emit("task_skipped", leaf, reason=reason, status="not_run")
        except BaseException:
            for future in active:
                future.cancel()
            await asyncio.gather(*active, return_exceptions=True)
            raise

    async def _snapshot(self, starting: list[str]) -> str | None:
        if not self.use_worktrees:
            return None
        assert self.pool is not None
        try:
            return await self._in_thread(self.pool.snapshot)
        except UserFacingError as error:
            self.stop_reason = error.render()
            for leaf in starting:
                result = TaskResult(leaf, self.plan.titles[leaf], "failed", error.render())
                self.results[leaf] = result
                self.emit("task_finished", leaf, ok=False, **_event_data(result))
            return None

    def _skip(self, leaf: str, reason: str) -> None:
        self.results[leaf] = TaskResult(leaf, self.plan.titles[leaf], "skipped", reason)
        assert self.writer is not None
        self.writer.submit(leaf, journal={"state": "skipped", "reason": reason})
        self.emit("task_skipped", leaf, reason=reason, status="skipped")

    # -- one task ---------------------------------------------------------------------------

    async def _one(self, leaf: str, base: str | None) -> None:
        writer = self.writer
        assert writer is not None
        started = time.monotonic()
        self.running.add(leaf)
        worktree: Worktree | None = None
        journal = {"state": "running", "title": self.plan.titles[leaf], "started": kiro_timestamp()}
        writer.submit(leaf, Status.IN_PROGRESS, running=self.running,
                      history={"runId": self.run_id}, journal=journal)  # fmt: skip
        try:
            if self.use_worktrees and self.pool is not None and base is not None:
                try:
                    worktree = await self._in_thread(self.pool.create, leaf, self.run_id, base)
                except UserFacingError as error:
                    failure = TaskOutcome(leaf, False, f"no worktree: {error.render()}")
                    self._record(leaf, _result(failure, self.plan.titles[leaf]), started)
                    return
                writer.submit(leaf, journal={
                    "worktree": str(worktree.path), "workdir": str(worktree.workdir),
                    "base": base, "excludes": list(worktree.excludes)})  # fmt: skip
            workdir = worktree.workdir if worktree is not None else self.root
            self.emit("task_started", leaf, title=self.plan.titles[leaf],
                      workdir=str(workdir), worktree=worktree is not None)  # fmt: skip
            job = TaskJob(self.plan.spec, leaf, self.root, workdir, self.run_id,
                          parallel=self.parallel > 1)  # fmt: skip
            outcome = await self._execute(job)
        except asyncio.CancelledError:
            self._interrupted(leaf, worktree, started)
            raise
        # From here on the task's end is recorded even if the run is being stopped: its
        # merge and its status must land together.
        finishing = asyncio.ensure_future(self._finish(leaf, outcome, worktree, started))
        try:
            await asyncio.shield(finishing)
        except asyncio.CancelledError:
            await finishing
            raise

    async def _execute(self, job: TaskJob) -> TaskOutcome:
        try:
            return await self.executor(job, self._emit_to)
        except UserFacingError as error:
            # A budget used up, a model gone: every other task would meet it too.
            self.stop_reason = error.render()
            return TaskOutcome(job.task_id, False, error.render())
        except Exception as error:  # noqa: BLE001 - reported as the task's failure, in full
            return TaskOutcome(
                job.task_id, False, f"the task executor failed: {type(error).__name__}: {error}"
            )

    async def _finish(
        self, leaf: str, outcome: TaskOutcome, worktree: Worktree | None, started: float
    ) -> None:
        result = _result(outcome, self.plan.titles[leaf])
        if worktree is not None:
            assert self.pool is not None
            if outcome.ok:
                await self._merge_back(leaf, worktree, result)
            else:  # not merged, not lost: what the failed attempts left is kept as a patch
                saved = await self._in_thread(_keep_partial, self.pool, worktree, "failed")
                if saved is not None:
                    result.patch = self.pool.display(saved)
                    result.reason += f"; its changes are saved in {result.patch}"
            await self._in_thread(self.pool.remove, worktree)
        self._record(leaf, result, started)

    async def _merge_back(self, leaf: str, worktree: Worktree, result: TaskResult) -> None:
        assert self.pool is not None and self.writer is not None
        pool, writer = self.pool, self.writer
        try:
            patch: TaskPatch = await self._in_thread(pool.collect, worktree)
        except UserFacingError as error:
            result.status, result.reason = "failed", f"its work could not be taken: {error}"
            return
        result.changed_files = list(patch.files)
        if not patch.text:
            return
        pending = runs_dir(self.root) / self.plan.spec / self.run_id / f"{leaf}.patch"

        def merge() -> MergeResult:
            # The journal names the patch before the project's files change: a run killed
            # while merging is finished (or its patch kept) by the next one.
            atomic_write_bytes(pending, patch.text)
            writer.wait(writer.submit(leaf, journal={"state": "merging",
                                                     "pending_patch": str(pending)}))  # fmt: skip
            return pool.merge(patch)

        try:
            merged = await self._in_thread(merge)
        except UserFacingError as error:
            merged = MergeResult(False, message=error.render())
        if merged.ok:
            result.changed_files = merged.files or list(patch.files)
            self.emit("merge", leaf, ok=True, files=result.changed_files, conflicts=[])
            pending.unlink(missing_ok=True)
            return
        saved = await self._in_thread(pool.keep, leaf, patch.text, worktree)
        pending.unlink(missing_ok=True)
        result.patch = pool.display(saved)
        conflicts = merged.conflicts
        where = f"; in conflict: {', '.join(conflicts)}" if conflicts else ""
        result.status = "failed"
        result.reason = (
            f"its work could not be merged into the project{where}. Nothing in the project "
            f"changed; the work is saved in {result.patch} (apply it by hand with `git apply "
            f"--3way {result.patch}`, then mark the task done)"
        )
        self.emit("merge", leaf, ok=False, files=list(patch.files), conflicts=conflicts,
                  patch=result.patch, message=merged.message)  # fmt: skip

    def _record(self, leaf: str, result: TaskResult, started: float) -> None:
        """Write the task's end: journal first (so a kill in between is picked up), then
        ``tasks.md`` and ``.tasks-meta.json``."""
        assert self.writer is not None
        result.elapsed_s = time.monotonic() - started
        self.results[leaf] = result
        self.running.discard(leaf)
        record = {"reason": result.reason, "attempts": result.attempts, "stuck": result.stuck,
                  "changed_files": result.changed_files, "checkpoint": result.checkpoint,
                  "patch": result.patch, "ended": kiro_timestamp()}  # fmt: skip
        # One batch: the journal says "merged" (its work is in the project) before tasks.md
        # says [x], so a kill between the two is finished by the next run, not redone.
        if result.status == "done":
            self.writer.submit(leaf, Status.DONE, running=self.running, history={
                "runId": self.run_id, "changedFiles": result.changed_files,
                "checkpoint": result.checkpoint, "attempts": result.attempts},
                journal={"state": "merged", **record})  # fmt: skip
        else:
            self.writer.submit(leaf, Status.TODO, running=self.running, history={
                "runId": self.run_id, "outcome": "stuck" if result.stuck else "failed",
                "reason": result.reason}, journal={"state": "failed", **record})  # fmt: skip
        self.emit("task_finished", leaf, ok=result.status == "done", **_event_data(result))

    def _interrupted(self, leaf: str, worktree: Worktree | None, started: float) -> None:
        """A task stopped by Ctrl-C: keep its partial work, put it back to ``[ ]``."""
        result = TaskResult(leaf, self.plan.titles[leaf], "interrupted", "the run was stopped")
        if worktree is not None and self.pool is not None:
            saved = _keep_partial(self.pool, worktree)
            if saved is not None:
                result.patch = self.pool.display(saved)
                result.reason += f"; its partial work is saved in {result.patch}"
            self.pool.remove(worktree)
        result.elapsed_s = time.monotonic() - started
        self.results[leaf] = result
        self.running.discard(leaf)
        assert self.writer is not None
        self.writer.submit(leaf, Status.TODO, running=self.running,
                           history={"runId": self.run_id, "outcome": "interrupted"},
                           journal={"state": "interrupted", "reason": result.reason,
                                    "patch": result.patch})  # fmt: skip
        self.emit("task_finished", leaf, ok=False, **_event_data(result))

    # -- picking up a run that stopped ------------------------------------------------------

    def _recover(self) -> list[str]:
        """Finish the bookkeeping of this spec's runs that were killed; remove their
        worktrees. Returns the tasks found finished (now marked done)."""
        finished: dict[str, dict[str, Any]] = {}
        for journal in RunJournal.unfinished(self.root, self.plan.spec):
            if any(r.get("worktree") or r.get("pending_patch") for r in journal.tasks.values()):
                self._open_pool()
            for leaf, record in journal.tasks.items():
                state = record.get("state")
                if state == "merged":
                    finished[leaf] = record
                elif state == "merging" and self._recover_merge(leaf, record):
                    finished[leaf] = record
                elif state == "running" and record.get("worktree") and self.pool is not None:
                    worktree = Worktree(leaf, Path(record["worktree"]),
                                        Path(record.get("workdir") or record["worktree"]),
                                        str(record.get("base")),
                                        tuple(record.get("excludes") or ()))  # fmt: skip
                    if worktree.path.exists():
                        saved = _keep_partial(self.pool, worktree)
                        if saved is not None:
                            self.notes.append(f"task {leaf} was stopped by a run that ended "
                                              "early; its partial work is saved in "
                                              f"{self.pool.display(saved)}")  # fmt: skip
                elif state == "running":
                    self.notes.append(
                        f"task {leaf} was stopped by a run that ended early; "
                        "what it had changed is still in the project's files"
                    )
            journal.close("crashed")
        if ParallelWorkspace.has_leftovers(self.root, self.plan.spec) and self._open_pool():
            assert self.pool is not None
            self.pool.prune()
        done = {task.id for task in self.book.read().tasks if task.status is Status.DONE}
        for leaf, record in finished.items():
            if leaf in done:
                continue
            self.book.set(leaf, Status.DONE, history={
                "runId": self.run_id, "changedFiles": record.get("changed_files", []),
                "checkpoint": record.get("checkpoint"), "recovered": True})  # fmt: skip
        return list(finished)

    def _recover_merge(self, leaf: str, record: dict[str, Any]) -> bool:
        path = Path(str(record.get("pending_patch", "")))
        if self.pool is None or not path.is_file():
            return False
        patch = path.read_bytes()
        if self.pool.is_applied(patch):
            path.unlink(missing_ok=True)
            return True
        try:
            merged = self.pool.merge(patch)
        except UserFacingError:
            merged = None
        if merged is not None and merged.ok:
            path.unlink(missing_ok=True)
            return True
        saved = self.pool.keep(leaf, patch)
        path.unlink(missing_ok=True)
        self.notes.append(
            f"task {leaf} had finished but its work could not be merged after the run "
            f"stopped; it is saved in {self.pool.display(saved)}"
        )
        return False

    def _summary(self, reset: list[str], recovered: list[str], interrupted: bool) -> RunSummary:
        results = [self.results[leaf] for leaf in self.plan.requested if leaf in self.results]
        return RunSummary(
            run_id=self.run_id, spec=self.plan.spec, parallel=self.parallel,
            worktrees=self.use_worktrees, results=results, reset=reset, recovered=recovered,
            notes=[*self.notes, *self.book.notes], elapsed_s=time.monotonic() - self.started,
            interrupted=interrupted,
        )  # fmt: skip


def _result(outcome: TaskOutcome, title: str) -> TaskResult:
    reason = outcome.reason
    if outcome.stuck and not reason.lower().startswith("stuck"):
        reason = f"stuck: {reason}"
    return TaskResult(
        task_id=outcome.task_id, title=title, status="done" if outcome.ok else "failed",
        reason=reason, attempts=outcome.attempts, stuck=outcome.stuck,
        changed_files=list(outcome.changed_files), checkpoint=outcome.checkpoint,
        input_tokens=outcome.input_tokens, output_tokens=outcome.output_tokens,
        cost_usd=outcome.cost_usd,
    )  # fmt: skip


def _event_data(result: TaskResult) -> dict[str, Any]:
    data = result.to_dict()
    data.pop("task_id")
    return data


def _keep_partial(
    pool: ParallelWorkspace, worktree: Worktree, why: str = "interrupted"
) -> Path | None:
    """Save what a task that stopped or failed had changed in its worktree (as
    ``<task>-<why>.patch``); ``None`` when it changed nothing."""
    try:
        patch = pool.collect(worktree)
    except UserFacingError:
        return None
    if not patch.text:
        return None
    return pool.keep(f"{worktree.task_id}-{why}", patch.text, worktree)


def _chain_lengths(graph: TaskGraph, among: set[str]) -> dict[str, int]:
    """For each leaf in ``among``: how many tasks of ``among`` follow it on its longest
    chain of dependents (the critical-path-first priority)."""
    length: dict[str, int] = {}
    for leaf in reversed(graph.topological_order()):
        if leaf in among:
            after = [length[d] for d in graph.dependents(leaf) if d in length]
            length[leaf] = 1 + max(after, default=0)
    return length
