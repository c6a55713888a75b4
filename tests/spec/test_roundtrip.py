"""Parsing then rendering gives every file back byte for byte; new files render in Kiro style
and parse back to the same objects."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from specloom.spec.bugfix import parse_bugfix
from specloom.spec.design import parse_design
from specloom.spec.meta import parse_config, parse_tasks_meta
from specloom.spec.requirements import (
    Criterion,
    GlossaryEntry,
    Requirement,
    RequirementsDocument,
    parse_requirements,
    render_requirements,
)
from specloom.spec.tasks import Status, Task, TasksDocument, parse_tasks, set_status
from specloom.spec.tasks_writer import render_tasks
from tests.conftest import example_files

PARSERS = {
    "requirements": parse_requirements,
    "bugfix": parse_bugfix,
    "design": parse_design,
    "tasks": parse_tasks,
}


def _parser_for(path: Path):  # type: ignore[no-untyped-def]
    for key, parser in PARSERS.items():
        if key in path.name:
            return parser
    return None


SPEC_FILES = [p for p in example_files("*.md") if _parser_for(p) is not None]


def test_there_are_real_files_of_every_kind() -> None:
    names = " ".join(p.name for p in SPEC_FILES)
    for kind in PARSERS:
        assert kind in names


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: str(p.relative_to(p.parents[2])))
def test_real_file_round_trips_byte_for_byte(path: Path) -> None:
    raw = path.read_bytes().decode("utf-8")
    assert _parser_for(path)(raw, str(path)).render() == raw


@pytest.mark.parametrize("path", example_files(".config.kiro") + example_files(".tasks-meta.json"))
def test_kiro_json_files_round_trip(path: Path) -> None:
    raw = path.read_text(encoding="utf-8")
    parsed = parse_config(raw) if path.name == ".config.kiro" else parse_tasks_meta(raw)
    assert parsed.render() == raw


@pytest.mark.parametrize("path", example_files("tasks.md"), ids=lambda p: p.parent.name)
def test_status_change_edits_exactly_one_character(path: Path) -> None:
    raw = path.read_bytes().decode("utf-8")
    document = parse_tasks(raw)
    for task in document.tasks[:: max(1, len(document.tasks) // 7)]:
        for status in Status:
            changed = set_status(raw, task.id, status)
            assert len(changed) == len(raw)
            differences = [i for i, (a, b) in enumerate(zip(raw, changed, strict=True)) if a != b]
            assert len(differences) == (0 if task.status is status else 1)
            assert parse_tasks(changed).task(task.id).status is status


def test_status_change_keeps_crlf_and_escaped_optional_marker() -> None:
    raw = "# Plan\r\n\r\n- [ ]\\* 1. Optional\r\n  - _Requirements: 1.1_\r\n- [ ] 2. Next\r\n"
    changed = set_status(raw, "1", Status.DONE)
    assert changed == raw.replace("- [ ]\\*", "- [x]\\*")
    task = parse_tasks(changed).task("1")
    assert task.optional and task.status is Status.DONE and task.requirements == ["1.1"]


# -- generated specs --------------------------------------------------------------------

_WORDS = st.text("abcdefghij klmnop", min_size=1, max_size=30).map(" ".join).map(str.split)
_PHRASE = st.lists(st.sampled_from(["user", "file", "saves", "report", "token", "list", "42"]),
                   min_size=1, max_size=6).map(" ".join)  # fmt: skip


@st.composite
def requirements_documents(draw: st.DrawFn) -> RequirementsDocument:
    requirements: list[Requirement] = []
    for number in range(1, draw(st.integers(1, 6)) + 1):
        criteria = [
            Criterion(f"{number}.{c}", f"WHEN the {draw(_PHRASE)}, THE System SHALL "
                      f"{draw(_PHRASE)}", 0, 0)
            for c in range(1, draw(st.integers(1, 5)) + 1)
        ]  # fmt: skip
        requirements.append(Requirement(str(number), draw(_PHRASE).title(),
                                         f"As a {draw(_PHRASE)}, I want {draw(_PHRASE)}, so "
                                         f"that {draw(_PHRASE)}.", criteria))  # fmt: skip
    glossary = [GlossaryEntry(f"Term_{i}", draw(_PHRASE)) for i in range(draw(st.integers(0, 3)))]
    return RequirementsDocument("requirements.md", "Requirements Document",
                                draw(_PHRASE) + ".", glossary, requirements)  # fmt: skip


@given(requirements_documents())
def test_generated_requirements_render_and_parse_back(document: RequirementsDocument) -> None:
    text = render_requirements(document)
    parsed = parse_requirements(text)
    assert parsed.render() == text
    assert parsed.introduction == document.introduction
    assert [(g.term, g.definition) for g in parsed.glossary] == [
        (g.term, g.definition) for g in document.glossary
    ]
    assert [(r.id, r.title, r.user_story) for r in parsed.requirements] == [
        (r.id, r.title, r.user_story) for r in document.requirements
    ]
    assert [(c.id, c.text) for c in parsed.criteria()] == [
        (c.id, c.text) for c in document.criteria()
    ]
    # Rendering the parsed objects afresh gives the same text: the render is a fixed point.
    parsed.document = None
    assert render_requirements(parsed) == text


@st.composite
def task_documents(draw: st.DrawFn) -> TasksDocument:
    tasks: list[Task] = []
    for number in range(1, draw(st.integers(1, 6)) + 1):
        parent = Task(str(number), draw(_PHRASE), draw(st.sampled_from(list(Status))),
                      draw(st.booleans()), 0, 0, 0)  # fmt: skip
        tasks.append(parent)
        for sub in range(1, draw(st.integers(0, 3)) + 1):
            child = Task(f"{number}.{sub}", draw(_PHRASE), draw(st.sampled_from(list(Status))),
                         draw(st.booleans()), 0, 0, 0, parent=parent.id)  # fmt: skip
            child.requirements = draw(st.lists(st.sampled_from(["1.1", "1.2", "2.1", "3"]),
                                               unique=True, max_size=3))  # fmt: skip
            child.details = draw(st.lists(_PHRASE, max_size=2))
            parent.children.append(child.id)
            tasks.append(child)
    leaves = [t for t in tasks if not t.children]
    for position, leaf in enumerate(leaves):
        earlier = [t.id for t in leaves[:position]]
        if earlier:
            leaf.depends_on = draw(st.lists(st.sampled_from(earlier), unique=True, max_size=2))
    return TasksDocument("tasks.md", "Implementation Plan", tasks)


@given(task_documents())
def test_generated_tasks_render_and_parse_back(document: TasksDocument) -> None:
    from specloom.spec.graph import TaskGraph

    text = render_tasks(document)
    parsed = parse_tasks(text)
    assert parsed.render() == text
    assert [(t.id, t.title, t.status, t.optional, t.parent, t.requirements, t.details)
            for t in parsed.tasks] == [
        (t.id, t.title, t.status, t.optional, t.parent, t.requirements, t.details)
        for t in document.tasks
    ]  # fmt: skip
    graph = TaskGraph(parsed)
    stated = any(t.depends_on for t in parsed.tasks)
    assert graph.source == ("explicit" if stated else "waves")
    assert stated == (len(graph.leaves) > 1)  # document order is written out explicitly
    # The waves block written beside the _Depends on:_ lines says the same thing they do.
    assert parsed.waves is not None
    assert parsed.waves.waves == graph.waves()
    wave_of = {task: index for index, wave in enumerate(parsed.waves.waves) for task in wave}
    assert sorted(wave_of) == sorted(graph.leaves)
    for leaf in graph.leaves:
        for dependency in graph.dependencies(leaf):
            assert wave_of[dependency] < wave_of[leaf]
    parsed.document = None
    assert render_tasks(parsed) == text


@given(task_documents())
def test_a_plan_of_independent_tasks_stays_independent(document: TasksDocument) -> None:
    from specloom.spec.graph import TaskGraph

    for task in document.tasks:
        task.depends_on = []
    ordered = TaskGraph(parse_tasks(render_tasks(document)))
    text = render_tasks(document, unordered=True)
    graph = TaskGraph(parse_tasks(text))

    assert "_Depends on:" not in text
    assert all(graph.dependencies(leaf) == [] for leaf in graph.leaves)
    assert graph.waves() == ([list(graph.leaves)] if graph.leaves else [])
    assert graph.leaves == ordered.leaves
    # Stated dependencies are written whatever ``unordered`` says.
    leaves = [task for task in document.tasks if not task.children]
    if len(leaves) > 1:
        leaves[-1].depends_on = [leaves[0].id]
        assert render_tasks(document, unordered=True) == render_tasks(document)


def test_new_bugfix_and_design_documents_render_in_kiro_layout_and_parse_back() -> None:
    from specloom.spec.bugfix import BugCondition, BugfixDocument, render_bugfix
    from specloom.spec.design import Property, render_design

    bugfix = BugfixDocument(
        "bugfix.md", "", "Saving drops the last line.",
        [Criterion("1.1", "WHEN a file ends without a newline THEN the system drops the last "
                   "line", 0, 0, "current")],
        [Criterion("2.1", "WHEN a file ends without a newline THEN the system SHALL keep the "
                   "last line", 0, 0, "expected")],
        [Criterion("3.1", "WHEN a file ends with a newline THEN the system SHALL CONTINUE TO "
                   "save it unchanged", 0, 0, "unchanged")],
        BugCondition("FUNCTION isBugCondition(X)\n  RETURN NOT X.endsWithNewline\nEND FUNCTION",
                     "FOR ALL X WHERE isBugCondition(X) DO\n  ASSERT keepsLastLine(X)\nEND FOR",
                     "FOR ALL X WHERE NOT isBugCondition(X) DO\n  ASSERT F(X) = F'(X)\nEND FOR"),
    )  # fmt: skip
    text = render_bugfix(bugfix)
    assert text.startswith("# Bugfix Requirements Document\n\n## Introduction\n")
    assert "### Current Behavior (Defect)\n\n1.1 WHEN a file ends" in text
    parsed = parse_bugfix(text)
    assert parsed.render() == text
    assert [(c.id, c.text, c.kind) for c in parsed.criteria()] == [
        (c.id, c.text, c.kind) for c in bugfix.criteria()
    ]
    assert parsed.bug_condition is not None and bugfix.bug_condition is not None
    assert parsed.bug_condition.condition == bugfix.bug_condition.condition
    assert parsed.bug_condition.fix_checking == bugfix.bug_condition.fix_checking
    assert parsed.bug_condition.preservation_checking == bugfix.bug_condition.preservation_checking

    properties = [Property("1", "Round trip", "*For any* file, saving keeps it.", ["2.1"], 0)]
    design = render_design(
        "Design Document",
        [("Overview", "One module."), ("Testing Strategy", "Hypothesis.")],
        properties,
    )
    assert design.index("## Correctness Properties") < design.index("## Testing Strategy")
    parsed_design = parse_design(design)
    assert [(p.id, p.title, p.statement, p.validates) for p in parsed_design.properties] == [
        ("1", "Round trip", "*For any* file, saving keeps it.", ["2.1"])
    ]  # fmt: skip
