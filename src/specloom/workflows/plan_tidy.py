"""Tidying a plan the model wrote, mechanically: what small models get wrong in a plan's
bookkeeping, made right without another request.

``complete_plan`` finishes a plan the model left incomplete (citations, dependencies, test
tasks); ``without_repeats`` leaves out tasks written twice; ``unchain_tests`` makes test
tasks depend on the code they test rather than on each other. Each returns one line per
change, for the user.

May import: the standard library, ``specloom.spec`` and
``specloom.workflows.authoring_schemas``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from specloom.spec.similarity import jaccard, normalize, tokens
from specloom.workflows.authoring_schemas import TEST_KINDS, TaskDraft, TasksDraft, resolve_ids

__all__ = ["complete_plan", "unchain_tests", "without_repeats"]


def without_repeats(draft: TasksDraft) -> list[str]:
    """Leave out of ``draft`` (in place) each task that repeats an earlier one (same title
    and property, whatever its kind: small models write a task again at the plan's end, or as
    a test task with the code task's title): its criteria go to the earlier task, and tasks
    after it are renumbered. One line per task left out."""
    first: dict[tuple[str, int], int] = {}
    to: dict[int, int] = {}  # old number -> new number
    kept: list[TaskDraft] = []
    changes: list[str] = []
    for number, task in enumerate(draft.tasks, start=1):
        key = (normalize(task.title), task.property)
        if key in first:
            earlier = kept[first[key] - 1]
            earlier.requirements += [r for r in task.requirements if r not in earlier.requirements]
            to[number] = first[key]
            changes.append(f"task {number}: left out, it repeats task {first[key]}")
            continue
        kept.append(task)
        first[key] = to[number] = len(kept)
    if not changes:
        return []
    for number, task in enumerate(kept, start=1):
        needs = [to[d] for d in task.depends_on if d in to]
        task.depends_on = sorted({need for need in needs if need != number})
    draft.tasks = kept
    return changes


def unchain_tests(draft: TasksDraft) -> list[str]:
    """Make each test task of ``draft`` (in place) depend on the code it tests, not on other
    test tasks (``_code_needs``); one line per change, for the user."""
    changes: list[str] = []
    for number, task in enumerate(draft.tasks, start=1):
        if task.kind not in TEST_KINDS:
            continue
        own = [need for need in _code_needs(draft.tasks, task.depends_on, frozenset({number}))
               if need != number]  # fmt: skip
        if own != task.depends_on:
            shown = ", ".join(map(str, own)) or "no task"
            changes.append(
                f"task {number}: depends on {shown}, the code it tests, not on other test tasks"
            )
            task.depends_on = own
    return changes


def _code_needs(
    tasks: Sequence[TaskDraft], depends_on: Sequence[int], seen: frozenset[int] = frozenset()
) -> list[int]:
    """``depends_on`` with each test task replaced by what it needs in turn (tests of other
    code do not order a test task: small models chain every test task to the one before,
    and one failed test task then skips all the others). A dependency met again on the way
    (a loop) or naming no task is left as it is."""
    needs: list[int] = []
    for number in depends_on:
        task = tasks[number - 1] if 1 <= number <= len(tasks) else None
        if task is not None and task.kind in TEST_KINDS and number not in seen:
            found = _code_needs(tasks, task.depends_on, seen | {number})
        else:
            found = [number]
        for need in found:
            if need not in needs:
                needs.append(need)
    return sorted(needs)


def complete_plan(
    draft: TasksDraft,
    criteria: Mapping[str, str],
    properties: Mapping[str, Sequence[str]],
) -> tuple[TasksDraft, list[str]]:
    """Finish a plan whose tasks a model left incomplete, mechanically, and say what changed.

    Small models write sensible tasks but often leave out the bookkeeping. A task citing no
    criterion cites the ones whose words it shares most (else the criteria no other task
    cites); unknown ids and dependencies on no earlier task are dropped (so no loop is left);
    a property test naming no design property becomes a unit test; a plan with no test task
    gets one that checks every criterion, after the code tasks; a task that repeats an
    earlier one is left out (``without_repeats``); and a test task depends on the code tasks
    it tests rather than on other test tasks (``unchain_tests``).

    Args:
        draft: The model's plan (not changed).
        criteria: Each acceptance criterion id and its text.
        properties: The design's property ids and the criteria each validates.

    Returns:
        The completed plan and one line per change, for the user.
    """
    ids = list(criteria)
    tasks = [task.model_copy(deep=True) for task in draft.tasks]
    changes: list[str] = []
    words = {cid: tokens(text) for cid, text in criteria.items()}
    cited: set[str] = set()
    for task in tasks:
        found, _unknown = resolve_ids(task.requirements, ids)
        task.requirements = found
        cited.update(found)
    for number, task in enumerate(tasks, start=1):
        kept = [d for d in task.depends_on if 1 <= d < number]
        if kept != task.depends_on:
            task.depends_on = kept
            changes.append(f"task {number}: dropped dependencies on no earlier task")
        if task.kind == "property-test" and str(task.property) not in properties:
            task.kind = "unit-test"
            changes.append(f"task {number}: a property test naming no design property")
        if task.requirements or task.kind == "checkpoint":
            continue
        text = tokens(" ".join([task.title, *task.details]))
        scored = sorted(
            ((jaccard(text, words[cid]), cid) for cid in ids), key=lambda item: -item[0]
        )
        best = scored[0][0] if scored else 0.0
        chosen = [cid for score, cid in scored if best > 0 and score >= best * 0.6][:4]
        if not chosen:
            chosen = [cid for cid in ids if cid not in cited] or ids
        task.requirements = sorted(chosen, key=ids.index)
        cited.update(chosen)
        changes.append(f"task {number}: cited {', '.join(task.requirements)} by its wording")
    if ids and not any(task.kind in TEST_KINDS for task in tasks):
        code = [n for n, task in enumerate(tasks, start=1) if task.kind == "code"]
        # Built without validation: the schema's list caps bound what the model writes
        # (its grammar), not a plan completed here (13 criteria, 31 tasks are fine).
        tasks.append(
            TaskDraft.model_construct(
                title="Write unit tests for the acceptance criteria",
                details=["One test per criterion, tagged with the criterion it validates"],
                requirements=ids,
                depends_on=code,
                kind="unit-test",
                property=0,
                optional=False,
            )
        )
        changes.append(f"task {len(tasks)}: added, a unit-test task for every criterion")
    plan = TasksDraft.model_construct(tasks=tasks)
    return plan, changes + without_repeats(plan) + unchain_tests(plan)
