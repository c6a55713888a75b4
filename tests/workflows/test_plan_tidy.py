"""Plan tidying: entries that are no task, test tasks the model labelled as code."""

from __future__ import annotations

from pathlib import Path

import anyio

from specloom.settings import Settings
from specloom.spec.graph import TaskGraph
from specloom.spec.tasks import is_test_title, parse_tasks
from specloom.workflows.authoring import create_spec
from specloom.workflows.authoring_schemas import TaskDraft, TasksDraft, tasks_check
from specloom.workflows.plan_tidy import complete_plan, tidy_plan, without_non_tasks

CRITERIA = {
    "1.1": "WHEN a text is given, THE Counter SHALL count each word case-insensitively",
    "1.2": "THE Counter SHALL print the words most frequent first",
}


def test_an_echoed_repair_line_is_no_task_and_its_dependents_keep_their_order() -> None:
    # The embedded model's plan ended with a line of the repair message as a task.
    draft = TasksDraft(
        tasks=[
            TaskDraft(title="Implement count_words", requirements=["1.1"]),
            TaskDraft(title="(5 more problems.)", requirements=["1.1", "1.2"], depends_on=[1]),
            TaskDraft(title="Implement main", requirements=["1.2"], depends_on=[2]),
            TaskDraft(title="...", requirements=["1.2"], depends_on=[3]),
            TaskDraft(title="[Write the tests]", requirements=["1.2"], depends_on=[4]),
            TaskDraft(title="Write the tests (all of them)", requirements=["1.2"], depends_on=[5]),
        ]
    )

    changes = without_non_tasks(draft)

    assert [task.title for task in draft.tasks] == [
        "Implement count_words",
        "Implement main",
        "Write the tests (all of them)",
    ]
    # Through the entries left out, each task still waits for what they waited for.
    assert [task.depends_on for task in draft.tasks] == [[], [1], [2]]
    assert changes == [
        'task 2: left out, "(5 more problems.)" is no task',
        'task 4: left out, "..." is no task',
        'task 5: left out, "[Write the tests]" is no task',
    ]
    assert without_non_tasks(draft) == []


def test_a_code_task_titled_as_tests_is_a_unit_test_task_and_is_unchained() -> None:
    draft = TasksDraft(
        tasks=[
            TaskDraft(title="Implement count_words", requirements=["1.1"]),
            TaskDraft(title="Implement main", requirements=["1.2"], depends_on=[1]),
            TaskDraft(title="Write unit tests for count_words", requirements=["1.1"],
                      depends_on=[2]),
            TaskDraft(title="Write unit tests for main", requirements=["1.2"], depends_on=[3]),
            TaskDraft(title="Implement main with a unit test", requirements=["1.2"],
                      depends_on=[2]),
        ]
    )  # fmt: skip

    changes = tidy_plan(draft)

    assert [task.kind for task in draft.tasks] == ["code", "code", "unit-test", "unit-test", "code"]
    # The tests of main no longer wait for the tests of count_words.
    assert [task.depends_on for task in draft.tasks] == [[], [1], [2], [2], [2]]
    assert changes == [
        "task 3: a unit-test task, as its title says",
        "task 4: a unit-test task, as its title says",
        "task 4: depends on 2, the code it tests, not on other test tasks",
    ]


def test_a_completed_plan_counts_test_tasks_by_title_and_adds_no_other() -> None:
    draft = TasksDraft(
        tasks=[
            TaskDraft(title="Implement count_words", requirements=[]),
            TaskDraft(title="Write unit tests for count_words", requirements=[], depends_on=[1]),
            TaskDraft(title="(3 more problems.)", requirements=[], depends_on=[2]),
        ]
    )

    completed, changes = complete_plan(draft, CRITERIA, {})

    assert [task.title for task in completed.tasks] == [
        "Implement count_words",
        "Write unit tests for count_words",
    ]
    assert completed.tasks[1].kind == "unit-test"
    assert changes[:2] == [
        'task 3: left out, "(3 more problems.)" is no task',
        "task 2: a unit-test task, as its title says",
    ]
    assert not any("added" in change for change in changes)
    assert tasks_check(list(CRITERIA), {})(completed) == []
    assert len(draft.tasks) == 3  # the model's answer itself is not changed


def test_test_titles_name_tests_as_what_the_task_makes() -> None:
    for title in (
        "Write unit tests for count_words",
        "Tests of the parser",
        "Implement the unit tests for main",
        "Add property-based tests",
        "Testing",
    ):
        assert is_test_title(title), title
    for title in (
        "Implement wordcount.py tool with unit-test for requirement 2.1",
        "Implement count_words",
        "Make the tests pass by fixing main",
        "Contest entry form",
    ):
        assert not is_test_title(title), title  # fmt: skip


def test_a_plan_chained_task_to_task_is_read_as_its_order() -> None:
    # The embedded model's plan: each task depends on the one before it.
    draft = TasksDraft(
        tasks=[
            TaskDraft(title="Implement wordcount.py tool", requirements=["1.1", "1.2"]),
            TaskDraft(title="Implement count_words function", requirements=["1.1"],
                      depends_on=[1]),
            TaskDraft(title="Implement main function", requirements=["1.2"],
                      depends_on=[2, 2, 3]),  # the same, written twice and with itself
            TaskDraft(title="Write unit tests for count_words function", requirements=["1.2"],
                      depends_on=[3]),
            TaskDraft(title="Write unit tests for the sorting", requirements=["1.2"],
                      depends_on=[4]),
            TaskDraft(title="Write unit tests", requirements=[], depends_on=[5]),
        ]
    )  # fmt: skip

    changes = tidy_plan(draft)

    assert [task.depends_on for task in draft.tasks] == [
        [],
        [],
        [],
        [2],  # the code its title names, not the code citing its criteria
        [1, 3],  # no code task's title shares a word: the ones citing its criterion 1.2
        [1, 2, 3],  # neither: every code task before it
    ]
    assert any("every task depended on the one before it" in change for change in changes)


def test_real_dependencies_and_short_chains_are_kept() -> None:
    def plan(*depends: list[int]) -> TasksDraft:
        return TasksDraft(
            tasks=[
                TaskDraft(title=f"Implement part {n}", requirements=["1.1"], depends_on=d)
                for n, d in enumerate(depends, start=1)
            ]
        )

    for kept in (plan([], [1], [1]), plan([], [1], [1, 2]), plan([], [1]), plan([2], [], [2])):
        before = [list(task.depends_on) for task in kept.tasks]
        assert not any("one before it" in change for change in tidy_plan(kept))
        assert [task.depends_on for task in kept.tasks] == before


def test_a_chained_plan_without_tests_is_read_as_order_before_its_test_task_is_added() -> None:
    draft = TasksDraft(
        tasks=[
            TaskDraft(title="Read the file", requirements=["1.1"]),
            TaskDraft(title="Ignore case", requirements=["1.1"], depends_on=[1]),
            TaskDraft(title="Sort by frequency", requirements=["1.2"], depends_on=[2]),
        ]
    )

    completed, changes = complete_plan(draft, CRITERIA, {})

    assert [task.depends_on for task in completed.tasks] == [[], [], [], [1, 2, 3]]
    assert completed.tasks[3].kind == "unit-test"
    assert changes[0].startswith("every task depended on the one before it")
    assert changes[1] == "task 4: added, a unit-test task for every criterion"


def test_a_written_plan_that_states_no_dependencies_has_independent_tasks(tmp_path: Path) -> None:
    # The embedded model's plan: six tasks and no depends_on at all. Written in document
    # order, one failed task skipped every later one.
    from tests.workflows.test_authoring import Script

    script = Script()
    script.answers["tasks"] = {
        "tasks": [
            {"title": "Implement the Note_Service", "requirements": ["1.1", "1.2"]},
            {"title": "List the notes", "requirements": ["2.1"]},
            {"title": "Delete notes", "requirements": ["3.1"]},
            {"title": "Write unit tests for listing", "requirements": ["2.1"],
             "kind": "unit-test"},
        ]
    }  # fmt: skip
    root = tmp_path / "project"
    (root / ".kiro" / "specs").mkdir(parents=True)

    model = script.model()
    result = anyio.run(
        lambda: create_spec(root, "Add notes", model=model, settings=Settings(), kind="quick")
    )

    graph = TaskGraph(parse_tasks((result.folder / "tasks.md").read_text()))
    # The code tasks are independent; the test task waits for the code it tests.
    assert [graph.dependencies(leaf) for leaf in graph.leaves] == [[], [], [], ["2"]]
    assert graph.waves() == [["1", "2", "3"], ["4"]]
    [notice] = [n for n in result.notices if "tidied mechanically" in n]
    assert "task 4: depends on 2, the code it tests" in notice
