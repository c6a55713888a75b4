"""Write a new ``tasks.md`` in Kiro's layout, with dependencies stated twice, consistently.

Every task gets a precise ``_Depends on:_`` line (what specloom schedules by) and the file ends
with newer Kiro's ``## Task Dependency Graph`` waves block derived from those same lines, so
Kiro can run the file too. When the plan states no dependencies at all, document order is
written out explicitly, or, for a plan whose tasks are independent (``unordered``), nothing
is: one wave holds every task.

May import: sibling modules of ``specloom.spec``.
"""

from __future__ import annotations

from specloom.spec.graph import TaskGraph, waves_block
from specloom.spec.refs import format_ids
from specloom.spec.tasks import STATUS_CHARS, Task, TasksDocument

__all__ = ["render_tasks"]


def render_tasks(document: TasksDocument, *, waves: bool = True, unordered: bool = False) -> str:
    """Write ``document``'s tasks as a Kiro-style implementation plan.

    Args:
        document: Tasks in document order; sub-tasks name their ``parent`` and are listed
            in their parent's ``children``.
        waves: Whether to end with the ``## Task Dependency Graph`` block.
        unordered: Whether a plan that states no dependencies has independent tasks (a
            plan written with "dependencies only where a task needs another"): no task then
            depends on the one before it, and the waves block is one wave.

    Returns:
        Markdown text ending with one newline.

    Raises:
        DependencyCycleError: The dependencies form a cycle.
    """
    probe = TasksDocument(document.path, document.title, document.tasks)
    graph = TaskGraph(probe)
    graph.check()
    derived = graph.source != "explicit"
    grouped = graph.waves()
    if unordered and graph.source == "document-order":
        derived, grouped = False, [list(graph.leaves)]
    by_id = {task.id: task for task in document.tasks}
    out: list[str] = [f"# {document.title or 'Implementation Plan'}", ""]
    for task in document.tasks:
        if task.parent is not None:
            continue
        _write_task(out, task, by_id, graph, derived, depth=0)
        out.append("")
    if waves and graph.leaves:
        out += ["## Task Dependency Graph", "", "```json", waves_block(grouped), "```", ""]
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"


def _write_task(
    out: list[str],
    task: Task,
    by_id: dict[str, Task],
    graph: TaskGraph,
    derived: bool,
    depth: int,
) -> None:
    pad = "  " * depth
    optional = "*" if task.optional else ""
    number = f"{task.id}." if "." not in task.id else task.id
    parallel = " (P)" if task.parallel else ""
    out.append(f"{pad}- [{STATUS_CHARS[task.status]}]{optional} {number} {task.title}{parallel}")
    inner = pad + "  "
    for detail in task.details:
        out.append(f"{inner}- {detail}")
    if task.requirements:
        out.append(f"{inner}- _Requirements: {format_ids(task.requirements)}_")
    depends = graph.dependencies(task.id) if derived and task.is_leaf else task.depends_on
    if depends:
        out.append(f"{inner}- _Depends on: {format_ids(depends)}_")
    for position, child_id in enumerate(task.children):
        if position or task.details or task.requirements or depends:
            out.append("")
        _write_task(out, by_id[child_id], by_id, graph, derived, depth + 1)
