"""Dependencies, ready sets, waves, critical path and cycles of the task graph."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from specloom.errors import DependencyCycleError
from specloom.spec.graph import TaskGraph
from specloom.spec.tasks import Status, Task, TasksDocument, parse_tasks

PLAN = """# Implementation Plan

- [ ] 1. Models
  - [x] 1.1 Account model
  - [ ] 1.2 Ledger model
    - _Depends on: 1.1_
- [ ] 2. API
  - _Depends on: 1_
  - [ ] 2.1 Routes
  - [ ] 2.2 Auth
- [ ] 3. Docs
  - _Depends on: 1.1_
"""


def test_parent_dependencies_expand_to_leaves_and_apply_to_children() -> None:
    graph = TaskGraph(parse_tasks(PLAN))
    assert graph.source == "explicit"
    assert graph.leaves == ["1.1", "1.2", "2.1", "2.2", "3"]
    assert graph.dependencies("1.2") == ["1.1"]
    assert graph.dependencies("2.1") == ["1.1", "1.2"]
    assert graph.dependencies("3") == ["1.1"]
    assert graph.ready(done=["1.1"]) == ["1.2", "3"]
    assert graph.ready(done=["1.1"], running=["1.2"]) == ["3"]
    assert graph.blocked_by(["1.2"]) == ["2.1", "2.2"]
    assert graph.waves() == [["1.1"], ["1.2", "3"], ["2.1", "2.2"]]
    assert graph.critical_path() == (["1.1", "1.2", "2.1"], 3.0)
    durations = {"3": 10.0}
    assert graph.critical_path(durations) == (["1.1", "3"], 11.0)


def test_parent_status_follows_children() -> None:
    graph = TaskGraph(parse_tasks(PLAN))
    statuses = {"1.1": Status.DONE, "1.2": Status.DONE}
    assert graph.status_of("1", statuses) is Status.DONE
    assert graph.status_of("2", {"2.1": Status.DONE}) is Status.IN_PROGRESS
    assert graph.status_of("2", {}) is Status.TODO


def test_no_dependency_lines_means_document_order() -> None:
    graph = TaskGraph(parse_tasks("- [ ] 1. a\n- [ ] 2. b\n  - [ ] 2.1 c\n- [ ] 3. d\n"))
    assert graph.source == "document-order"
    assert [graph.dependencies(t) for t in graph.leaves] == [[], ["1"], ["2.1"]]


def test_a_plan_whose_tasks_all_depend_on_none_is_fully_parallel() -> None:
    text = "- [ ] 1. a\n  - _Depends on: none_\n- [ ] 2. b\n  - _Depends on: -_\n- [ ] 3. c\n"
    graph = TaskGraph(parse_tasks(text))
    assert graph.source == "explicit"
    assert [graph.dependencies(t) for t in graph.leaves] == [[], [], []]
    assert graph.ready(done=[]) == ["1", "2", "3"]


def test_waves_block_orders_tasks_and_unlisted_leaves_wait() -> None:
    text = (
        "- [ ] 1. a\n- [ ] 2. b\n- [ ] 3. c\n- [ ] 4. Checkpoint\n\n"
        '```json\n{"waves": [{"id": 1, "tasks": ["3"]}, {"id": 0, "tasks": ["1", "2"]}]}\n```\n'
    )
    graph = TaskGraph(parse_tasks(text))
    assert graph.source == "waves"
    assert graph.dependencies("3") == ["1", "2"]
    assert graph.dependencies("1") == []
    assert graph.dependencies("4") == ["1", "2", "3"]


def test_cc_sdd_parallel_markers() -> None:
    text = "- [ ] 1. setup\n- [ ] 2. a (P)\n- [ ] 3. b (P)\n- [ ] 4. join\n- [ ] 5. c (P)\n"
    graph = TaskGraph(parse_tasks(text))
    assert graph.source == "parallel-markers"
    assert [graph.dependencies(t) for t in graph.leaves] == [[], ["1"], ["1"], ["2", "3"], ["4"]]


def test_cycle_is_named_with_file_and_line() -> None:
    text = (
        "- [ ] 1. a\n  - _Depends on: 3_\n- [ ] 2. b\n  - _Depends on: 1_\n"
        "- [ ] 3. c\n  - _Depends on: 2_\n"
    )
    graph = TaskGraph(parse_tasks(text, "specs/s/tasks.md"))
    cycle = graph.find_cycle()
    assert cycle is not None and cycle[0] == cycle[-1] and set(cycle) == {"1", "2", "3"}
    with pytest.raises(DependencyCycleError) as raised:
        graph.check()
    assert raised.value.file == "specs/s/tasks.md" and raised.value.line in (1, 3, 5)
    assert "->" in raised.value.message


def test_a_task_depending_on_its_parent_is_a_cycle() -> None:
    graph = TaskGraph(parse_tasks("- [ ] 1. p\n  - [ ] 1.1 c\n    - _Depends on: 1_\n"))
    assert graph.find_cycle() == ["1.1", "1.1"]


def test_schedule_uses_the_ready_set_not_barriers() -> None:
    # a1 -> a2 (long chain) and b (short) : with 2 workers, b runs beside the chain.
    text = (
        "- [ ] 1. a1\n- [ ] 2. a2\n  - _Depends on: 1_\n- [ ] 3. b\n  - _Depends on: 1_\n"
        "- [ ] 4. c\n  - _Depends on: 3_\n"
    )
    graph = TaskGraph(parse_tasks(text))
    durations = {"1": 1.0, "2": 5.0, "3": 1.0, "4": 1.0}
    schedule = graph.schedule(2, durations)
    assert schedule.makespan == 6.0
    assert graph.critical_path(durations)[1] == 6.0
    starts = {entry.task: entry.start for entry in schedule.entries}
    assert starts["4"] == 2.0  # a barrier between waves would start it at 6


@st.composite
def random_dags(draw: st.DrawFn) -> TasksDocument:
    count = draw(st.integers(1, 25))
    tasks = []
    for index in range(count):
        task = Task(str(index + 1), f"t{index}", Status.TODO, False, 0, 0, 0)
        if index:
            task.depends_on = draw(st.lists(st.integers(1, index).map(str), unique=True,
                                            max_size=3))  # fmt: skip
        tasks.append(task)
    return TasksDocument("tasks.md", "", tasks)


@given(random_dags(), st.integers(1, 6), st.lists(st.floats(0.5, 9.0), min_size=25, max_size=25))
def test_schedule_invariants(document: TasksDocument, workers: int, times: list[float]) -> None:
    graph = TaskGraph(document)
    durations = {leaf: times[i] for i, leaf in enumerate(graph.leaves)}
    schedule = graph.schedule(workers, durations)
    _, bound = graph.critical_path(durations)
    total = sum(durations.values())
    assert schedule.makespan >= bound - 1e-9
    assert schedule.makespan >= total / workers - 1e-9
    # Graham's bound for list scheduling.
    assert schedule.makespan <= total / workers + bound + 1e-9
    ends = {e.task: e.end for e in schedule.entries}
    starts = {e.task: e.start for e in schedule.entries}
    assert sorted(ends) == sorted(graph.leaves)
    for leaf in graph.leaves:
        for dependency in graph.dependencies(leaf):
            assert ends[dependency] <= starts[leaf] + 1e-9
    # No worker runs two tasks at once.
    by_worker: dict[int, list[tuple[float, float]]] = {}
    for entry in schedule.entries:
        by_worker.setdefault(entry.worker, []).append((entry.start, entry.end))
    for spans in by_worker.values():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert end <= start + 1e-9
    if workers >= len(graph.leaves):
        assert abs(schedule.makespan - bound) < 1e-9
    order = graph.topological_order()
    position = {leaf: i for i, leaf in enumerate(order)}
    for leaf in graph.leaves:
        assert all(position[d] < position[leaf] for d in graph.dependencies(leaf))


def test_mermaid_and_json_views() -> None:
    graph = TaskGraph(parse_tasks(PLAN))
    mermaid = graph.to_mermaid()
    assert mermaid.startswith("graph TD\n")
    assert '    t1_1["1.1 Account model"]' in mermaid and "    t1_1 --> t1_2" in mermaid
    data = graph.to_json()
    assert data["critical_path"] == {"tasks": ["1.1", "1.2", "2.1"], "length": 3.0}
    assert [1, 2] not in data["edges"] and ["1.1", "1.2"] in data["edges"]
