"""The task graph: what depends on what, what can run now, and how long it all takes.

The executable units are leaf tasks (a parent is done when its children are). Edges come from
the first of these that the file has:

- ``_Depends on:_`` lines; a dependency on a parent means on each of its leaves, and a
  parent's dependencies apply to each of its leaves (a waves block beside them is derived
  from them, so it adds nothing);
- the waves block: every leaf of wave *k* depends on the leaves of the wave before it, and a
  leaf the block leaves out waits for every leaf above it;
- cc-sdd's ``(P)`` markers, when nothing else is said: ``(P)`` tasks run beside each other,
  any other task waits for everything before it;
- when a file says nothing about dependencies at all, document order (the safe default).

Scheduling is by ready set, not by waves: a task may start as soon as its own dependencies are
done, so the bound is the critical path.

May import: ``specloom.errors`` and sibling modules of ``specloom.spec``.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from specloom.errors import DependencyCycleError
from specloom.spec.tasks import Status, Task, TasksDocument

__all__ = ["ScheduledTask", "Schedule", "TaskGraph", "waves_block"]


@dataclass(frozen=True, slots=True)
class ScheduledTask:
    """One task's place in a simulated schedule."""

    task: str
    worker: int
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Schedule:
    """A simulated run: when each task starts and ends, and the total time."""

    entries: list[ScheduledTask]
    makespan: float
    workers: int


class TaskGraph:
    """Dependencies between the leaf tasks of a ``tasks.md``.

    Attributes:
        tasks: The document the graph was built from.
        leaves: Leaf task ids in document order.
        source: Where the edges came from: ``explicit`` (``_Depends on:_`` lines; a waves
            block beside them is not used), ``waves``, ``parallel-markers`` or
            ``document-order``.
    """

    def __init__(self, tasks: TasksDocument) -> None:
        self.tasks = tasks
        self._task: dict[str, Task] = {task.id: task for task in tasks.tasks}
        self.leaves: list[str] = [task.id for task in tasks.tasks if task.is_leaf]
        self._order = {leaf: position for position, leaf in enumerate(self.leaves)}
        self._leaves_of: dict[str, list[str]] = {}
        self._deps: dict[str, set[str]] = {leaf: set() for leaf in self.leaves}
        self.source = self._build_edges()
        self._dependents: dict[str, list[str]] = {leaf: [] for leaf in self.leaves}
        for leaf in self.leaves:
            for dependency in self._deps[leaf]:
                self._dependents[dependency].append(leaf)
        self._topological: list[str] | None = None

    # -- construction -------------------------------------------------------------------

    def leaves_of(self, task_id: str) -> list[str]:
        """The leaf tasks under ``task_id`` (itself when it is a leaf); empty when unknown."""
        cached = self._leaves_of.get(task_id)
        if cached is not None:
            return cached
        task = self._task.get(task_id)
        if task is None:
            return []
        if task.is_leaf:
            result = [task_id]
        else:
            result = [leaf for child in task.children for leaf in self.leaves_of(child)]
        self._leaves_of[task_id] = result
        return result

    def _ancestors(self, task: Task) -> Iterable[Task]:
        parent = task.parent
        while parent is not None:
            ancestor = self._task[parent]
            yield ancestor
            parent = ancestor.parent

    def _build_edges(self) -> str:
        if self.tasks.has_dependency_lines():
            # Precise per-task lines win; a waves block beside them is derived from them (and
            # `analyze` reports where the two disagree).
            for leaf in self.leaves:
                task = self._task[leaf]
                for holder in (task, *self._ancestors(task)):
                    for dependency in holder.depends_on:
                        self._deps[leaf].update(self.leaves_of(dependency))
            return "explicit"
        waves = self.tasks.waves
        if waves is not None and waves.waves:
            listed: set[str] = set()
            previous: list[str] = []
            for wave in waves.waves:
                members = [leaf for task_id in wave for leaf in self.leaves_of(task_id)]
                for leaf in members:
                    self._deps[leaf].update(previous)
                listed.update(members)
                if members:
                    previous = members
            # A leaf the block does not mention (a checkpoint, say) waits for every leaf
            # before it in the file: the safe default.
            before: list[str] = []
            for leaf in self.leaves:
                if leaf not in listed:
                    self._deps[leaf].update(before)
                before.append(leaf)
            return "waves"
        if any(self._task[leaf].parallel for leaf in self.leaves):
            barrier: list[str] = []
            since_barrier: list[str] = []
            for leaf in self.leaves:
                if self._task[leaf].parallel:
                    self._deps[leaf].update(barrier)
                    since_barrier.append(leaf)
                else:
                    self._deps[leaf].update(since_barrier or barrier)
                    barrier = [leaf]
                    since_barrier = []
            return "parallel-markers"
        for before_leaf, after in zip(self.leaves, self.leaves[1:], strict=False):
            self._deps[after].add(before_leaf)
        return "document-order"

    # -- queries ------------------------------------------------------------------------

    def dependencies(self, leaf: str) -> list[str]:
        """Direct dependencies of a leaf task, in document order."""
        return sorted(self._deps.get(leaf, ()), key=self._order.__getitem__)

    def dependents(self, leaf: str) -> list[str]:
        """Leaf tasks that directly depend on ``leaf``."""
        return list(self._dependents.get(leaf, ()))

    def find_cycle(self) -> list[str] | None:
        """A dependency cycle as ``[a, b, ..., a]``, or ``None`` when there is none."""
        white, grey, black = 0, 1, 2
        color = dict.fromkeys(self.leaves, white)
        for root in self.leaves:
            if color[root] != white:
                continue
            stack: list[tuple[str, list[str]]] = [(root, self.dependencies(root))]
            path = [root]
            color[root] = grey
            while stack:
                node, pending = stack[-1]
                if not pending:
                    color[node] = black
                    stack.pop()
                    path.pop()
                    continue
                nxt = pending.pop()
                if color[nxt] == grey:
                    cycle = path[path.index(nxt) :] + [nxt]
                    cycle.reverse()  # show it in "depends on" order reversed: run order
                    return cycle
                if color[nxt] == white:
                    color[nxt] = grey
                    path.append(nxt)
                    stack.append((nxt, self.dependencies(nxt)))
        return None

    def check(self) -> None:
        """Raise when the dependencies form a cycle.

        Raises:
            DependencyCycleError: Naming the tasks around the cycle.
        """
        cycle = self.find_cycle()
        if cycle is not None:
            line = self._task[cycle[0]].line
            raise DependencyCycleError(cycle, file=self.tasks.path, line=line)

    def topological_order(self) -> list[str]:
        """Leaves ordered so each comes after its dependencies (document order on ties)."""
        if self._topological is not None:
            return self._topological
        self.check()
        remaining = {leaf: len(self._deps[leaf]) for leaf in self.leaves}
        ready = [self._order[leaf] for leaf in self.leaves if remaining[leaf] == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            leaf = self.leaves[heapq.heappop(ready)]
            order.append(leaf)
            for dependent in self._dependents[leaf]:
                remaining[dependent] -= 1
                if remaining[dependent] == 0:
                    heapq.heappush(ready, self._order[dependent])
        self._topological = order
        return order

    def ready(
        self,
        done: Iterable[str],
        running: Iterable[str] = (),
        failed: Iterable[str] = (),
    ) -> list[str]:
        """Leaf tasks that may start now, in document order.

        Args:
            done: Leaves that finished successfully.
            running: Leaves in progress.
            failed: Leaves that failed; what depends on them stays blocked.
        """
        finished = set(done)
        excluded = finished | set(running) | set(failed)
        return [
            leaf for leaf in self.leaves if leaf not in excluded and self._deps[leaf] <= finished
        ]

    def blocked_by(self, failed: Iterable[str]) -> list[str]:
        """Leaves that can never run because they (transitively) depend on a failed one."""
        seen: set[str] = set()
        frontier = list(failed)
        while frontier:
            for dependent in self._dependents.get(frontier.pop(), ()):
                if dependent not in seen:
                    seen.add(dependent)
                    frontier.append(dependent)
        return sorted(seen, key=self._order.__getitem__)

    def waves(self) -> list[list[str]]:
        """Leaves grouped by the earliest wave they could run in (for display and for the
        waves block specloom writes)."""
        level: dict[str, int] = {}
        for leaf in self.topological_order():
            level[leaf] = 1 + max((level[d] for d in self._deps[leaf]), default=-1)
        grouped: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
        for leaf in self.leaves:
            grouped[level[leaf]].append(leaf)
        return grouped

    def critical_path(
        self, duration: Callable[[str], float] | Mapping[str, float] | None = None
    ) -> tuple[list[str], float]:
        """The longest chain of dependent leaves and its length.

        Args:
            duration: Time per leaf (a mapping or a function); 1 for each when omitted.

        Returns:
            ``(path, length)``, the path in run order.
        """
        cost = _duration_function(duration)
        finish: dict[str, float] = {}
        previous: dict[str, str | None] = {}
        for leaf in self.topological_order():
            best: str | None = None
            start = 0.0
            for dependency in self._deps[leaf]:
                if finish[dependency] > start or (
                    finish[dependency] == start
                    and best is not None
                    and self._order[dependency] < self._order[best]
                ):
                    start, best = finish[dependency], dependency
            finish[leaf] = start + cost(leaf)
            previous[leaf] = best
        if not finish:
            return [], 0.0
        end = max(self.leaves, key=lambda leaf: (finish[leaf], -self._order[leaf]))
        path: list[str] = []
        node: str | None = end
        while node is not None:
            path.append(node)
            node = previous[node]
        path.reverse()
        return path, finish[end]

    def schedule(
        self,
        workers: int,
        duration: Callable[[str], float] | Mapping[str, float] | None = None,
    ) -> Schedule:
        """Simulate ready-set list scheduling on ``workers`` workers.

        Each free worker takes the ready task with the longest remaining path to the end
        (critical path first), ties broken by document order.
        """
        if workers < 1:
            raise ValueError("workers must be at least 1")
        cost = _duration_function(duration)
        order = self.topological_order()
        rank: dict[str, float] = {}
        for leaf in reversed(order):
            rank[leaf] = cost(leaf) + max((rank[d] for d in self._dependents[leaf]), default=0.0)
        remaining = {leaf: len(self._deps[leaf]) for leaf in self.leaves}
        ready: list[tuple[float, int, str]] = [
            (-rank[leaf], self._order[leaf], leaf) for leaf in self.leaves if not remaining[leaf]
        ]
        heapq.heapify(ready)
        running: list[tuple[float, int, str]] = []  # (end, worker, leaf)
        free = list(range(workers))
        heapq.heapify(free)
        now = 0.0
        entries: list[ScheduledTask] = []
        while ready or running:
            while ready and free:
                _, _, leaf = heapq.heappop(ready)
                worker = heapq.heappop(free)
                end = now + cost(leaf)
                entries.append(ScheduledTask(leaf, worker, now, end))
                heapq.heappush(running, (end, worker, leaf))
            end, worker, leaf = heapq.heappop(running)
            now = end
            finished = [(worker, leaf)]
            while running and running[0][0] == now:
                _, other_worker, other = heapq.heappop(running)
                finished.append((other_worker, other))
            for worker_id, done in finished:
                heapq.heappush(free, worker_id)
                for dependent in self._dependents[done]:
                    remaining[dependent] -= 1
                    if not remaining[dependent]:
                        heapq.heappush(ready, (-rank[dependent], self._order[dependent], dependent))
        return Schedule(entries, now, workers)

    def status_of(self, task_id: str, statuses: Mapping[str, Status]) -> Status:
        """A task's status; a parent's follows its children (done when all are done)."""
        task = self._task[task_id]
        if task.is_leaf:
            return statuses.get(task_id, task.status)
        children = [self.status_of(child, statuses) for child in task.children]
        if all(status is Status.DONE for status in children):
            return Status.DONE
        if any(status is Status.IN_PROGRESS for status in children):
            return Status.IN_PROGRESS
        if any(status is Status.DONE for status in children):
            return Status.IN_PROGRESS
        if all(status is Status.QUEUED for status in children):
            return Status.QUEUED
        return Status.TODO

    # -- output -------------------------------------------------------------------------

    def to_json(self) -> dict[str, object]:
        """Nodes, edges, waves and the critical path as a JSON-ready mapping."""
        path, length = self.critical_path()
        return {
            "source": self.source,
            "nodes": [
                {"id": leaf, "title": self._task[leaf].title, "depends_on": self.dependencies(leaf)}
                for leaf in self.leaves
            ],
            "edges": [[d, leaf] for leaf in self.leaves for d in self.dependencies(leaf)],
            "waves": [{"id": index, "tasks": wave} for index, wave in enumerate(self.waves())],
            "critical_path": {"tasks": path, "length": length},
        }

    def to_mermaid(self) -> str:
        """The graph as a mermaid flowchart (``graph TD``)."""
        lines = ["graph TD"]
        for leaf in self.leaves:
            title = self._task[leaf].title.replace('"', "'")
            lines.append(f'    {_node(leaf)}["{leaf} {title}"]')
        for leaf in self.leaves:
            for dependency in self.dependencies(leaf):
                lines.append(f"    {_node(dependency)} --> {_node(leaf)}")
        return "\n".join(lines) + "\n"


def _node(task_id: str) -> str:
    return "t" + "".join(ch if ch.isalnum() else "_" for ch in task_id)


def _duration_function(
    duration: Callable[[str], float] | Mapping[str, float] | None,
) -> Callable[[str], float]:
    if duration is None:
        return lambda _leaf: 1.0
    if callable(duration):
        return duration
    mapping = duration
    return lambda leaf: float(mapping.get(leaf, 1.0))


def waves_block(waves: list[list[str]]) -> str:
    """The JSON of a ``## Task Dependency Graph`` block, in Kiro's one-line layout."""
    return json.dumps({"waves": [{"id": i, "tasks": wave} for i, wave in enumerate(waves)]})
