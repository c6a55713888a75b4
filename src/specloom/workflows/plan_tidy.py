"""Tidying a plan the model wrote, mechanically: what small models get wrong in a plan's
bookkeeping, made right without another request.

``complete_plan`` finishes a plan the model left incomplete (citations, dependencies, test
tasks); ``tidy_plan`` makes a valid one right: ``without_non_tasks`` leaves out entries
that are no task (a small model copies a line of the repair message, "(5 more problems.)",
into its plan), ``without_repeats`` leaves out tasks written twice, ``test_kinds_by_title``
makes a "code" task titled "Write unit tests for ..." a unit-test task, ``unchain_order``
reads a plan whose every task depends on the one before as written in order (code tasks need
nothing, test tasks the code they test), ``tests_wait_for_code`` makes a test task that
depends on nothing wait for the code it tests, and ``unchain_tests`` makes test tasks depend
on the code they test rather than on each other.
Each returns one line per change, for the user.

May import: the standard library, ``specloom.spec`` and
``specloom.workflows.authoring_schemas``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from specloom.spec.similarity import jaccard, normalize, tokens
from specloom.spec.tasks import is_test_title
from specloom.workflows.authoring_schemas import TEST_KINDS, TaskDraft, TasksDraft, resolve_ids

__all__ = [
    "complete_plan",
    "test_kinds_by_title",
    "tests_wait_for_code",
    "tidy_plan",
    "unchain_order",
    "unchain_tests",
    "without_non_tasks",
    "without_repeats",
]

# An entry that is no task: a title all in parentheses or brackets, or with no letter.
_NOT_A_TASK = re.compile(r"\s*[(\[].*[)\]]\s*|[^A-Za-z]*", re.DOTALL)


def tidy_plan(draft: TasksDraft) -> list[str]:
    """Make a plan's bookkeeping right (in place): every change below, in order, one line
    per change."""
    return (
        without_non_tasks(draft)
        + without_repeats(draft)
        + test_kinds_by_title(draft)
        + unchain_order(draft)
        + tests_wait_for_code(draft)
        + unchain_tests(draft)
    )


def without_non_tasks(draft: TasksDraft) -> list[str]:
    """Leave out of ``draft`` (in place) each entry whose title is no task (all in
    parentheses, or without a letter: "(5 more problems.)"); the tasks that depended on it
    depend on what it depended on, and tasks after it are renumbered."""
    kept: list[TaskDraft] = []
    to: dict[int, int] = {}  # old number -> new number
    needed: dict[int, list[int]] = {}  # old number of a left-out entry -> what it needed
    changes: list[str] = []
    for number, task in enumerate(draft.tasks, start=1):
        if _NOT_A_TASK.fullmatch(task.title):
            needed[number] = task.depends_on
            shown = " ".join(task.title.split())[:60]
            changes.append(f'task {number}: left out, "{shown}" is no task')
            continue
        kept.append(task)
        to[number] = len(kept)
    if not changes:
        return []

    def through(depends_on: Sequence[int], seen: frozenset[int]) -> list[int]:
        out: list[int] = []
        for need in depends_on:
            if need in to:
                out.append(to[need])
            elif need in needed and need not in seen:
                out += through(needed[need], seen | {need})
        return out

    for number, task in enumerate(kept, start=1):
        task.depends_on = sorted({n for n in through(task.depends_on, frozenset()) if n != number})
    draft.tasks = kept
    return changes


def test_kinds_by_title(draft: TasksDraft) -> list[str]:
    """Make each "code" task of ``draft`` whose title is about tests only ("Write unit tests
    for count_words") a unit-test task (in place); one line per change."""
    changes: list[str] = []
    for number, task in enumerate(draft.tasks, start=1):
        if task.kind == "code" and is_test_title(task.title):
            task.kind = "unit-test"
            changes.append(f"task {number}: a unit-test task, as its title says")
    return changes


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


_CHAIN_MIN = 3
"""Tasks a plan must have for a chain through all of them to be read as mere order."""
# Words of a task title that say what kind of work it is, not what it is about.
_WORK_WORDS = frozenset(
    {"implement", "write", "add", "create", "make", "build", "unit", "test", "tests",
     "testing", "property", "function", "functions", "method", "class", "module", "code",
     "tool", "the", "for", "of"}
)  # fmt: skip


def unchain_order(draft: TasksDraft) -> list[str]:
    """Read a plan (in place) whose every task depends on exactly the one before it as a
    plan written in order, not a chain of needs: small models chain every task, and one
    failed task then skips every later one, whatever it needs. Code tasks then depend on
    nothing (they still run in the plan's order); each test task depends on the earlier code
    tasks its title shares a word with ("Write unit tests for count_words" -> "Implement
    count_words"), else on those citing one of its criteria, else on every earlier code task.
    One line for the user, or none when the plan is no such chain."""
    tasks = draft.tasks
    # Written twice or naming the task itself, a dependency still says the same.
    if len(tasks) < _CHAIN_MIN or any(
        set(task.depends_on) - {number} != ({number - 1} if number > 1 else set())
        for number, task in enumerate(tasks, start=1)
    ):
        return []
    for number, task in enumerate(tasks, start=1):
        task.depends_on = _tested_code(tasks, number) if task.kind in TEST_KINDS else []
    return [
        "every task depended on the one before it: read as the plan's order, so code tasks "
        "run in that order and each test task waits only for the code it tests"
    ]


def tests_wait_for_code(draft: TasksDraft) -> list[str]:
    """Make each test task of ``draft`` that depends on nothing depend on the earlier code
    it tests (``_tested_code``), in place: a plan that states no dependencies has
    independent tasks, but a test of code not written yet fails. One line per change."""
    changes: list[str] = []
    for number, task in enumerate(draft.tasks, start=1):
        if task.kind in TEST_KINDS and not task.depends_on:
            task.depends_on = _tested_code(draft.tasks, number)
            if task.depends_on:
                shown = ", ".join(map(str, task.depends_on))
                changes.append(f"task {number}: depends on {shown}, the code it tests")
    return changes


def _tested_code(tasks: Sequence[TaskDraft], number: int) -> list[int]:
    """The earlier code tasks task ``number`` tests: those its title shares a word with,
    else those citing one of its criteria, else every earlier code task."""
    task = tasks[number - 1]
    code = [n for n, other in enumerate(tasks[: number - 1], start=1) if other.kind == "code"]
    about = _subject(task.title)
    named = [n for n in code if about & _subject(tasks[n - 1].title)]
    cited = [n for n in code if set(task.requirements) & set(tasks[n - 1].requirements)]
    return named or cited or code


def _subject(title: str) -> set[str]:
    """The words of a task title that say what it is about (``count_words``)."""
    return {word for word in tokens(title) if word not in _WORK_WORDS}


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
    an entry that is no task is left out (``without_non_tasks``);
    a property test naming no design property becomes a unit test; a plan with no test task
    gets one that checks every criterion, after the code tasks; a task that repeats an
    earlier one is left out (``without_repeats``); a code task titled as tests is a unit-test
    task (``test_kinds_by_title``); a plan chained task to task is read as its order
    (``unchain_order``); and a test task depends on the code tasks it tests rather than on
    other test tasks (``unchain_tests``).

    Args:
        draft: The model's plan (not changed).
        criteria: Each acceptance criterion id and its text.
        properties: The design's property ids and the criteria each validates.

    Returns:
        The completed plan and one line per change, for the user.
    """
    ids = list(criteria)
    copied = TasksDraft.model_construct(tasks=[task.model_copy(deep=True) for task in draft.tasks])
    changes = without_non_tasks(copied) + test_kinds_by_title(copied)
    tasks = copied.tasks
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
    # Before a test task is added: it would depend on every code task, and the chain
    # would no longer read as one.
    changes += unchain_order(TasksDraft.model_construct(tasks=tasks))
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
    return plan, (changes + without_repeats(plan) + tests_wait_for_code(plan) + unchain_tests(plan))
