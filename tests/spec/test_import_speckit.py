"""spec-kit feature folder -> Kiro spec: requirements, design, tasks and their dependencies.

The fixture folder ``fixtures/speckit/specs/001-photo-albums/`` is our own sample content
written in spec-kit's real formats (templates/spec-template.md, plan-template.md,
tasks-template.md of github/spec-kit). Every produced file is read back with specloom's own
parsers.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from specloom.errors import ImportFormatError
from specloom.spec.design import parse_design
from specloom.spec.ears import Pattern, classify
from specloom.spec.graph import TaskGraph
from specloom.spec.importers import ImportedSpec, import_speckit
from specloom.spec.markdown import scan
from specloom.spec.meta import parse_config
from specloom.spec.requirements import RequirementsDocument, parse_requirements
from specloom.spec.tasks import Status, TasksDocument, parse_tasks

FEATURE = Path(__file__).parent / "fixtures" / "speckit" / "specs" / "001-photo-albums"


def feature_files(folder: Path = FEATURE) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def imported() -> ImportedSpec:
    return import_speckit(feature_files(), FEATURE.name)


@pytest.fixture(scope="module")
def requirements(imported: ImportedSpec) -> RequirementsDocument:
    return parse_requirements(imported.files["requirements.md"])


@pytest.fixture(scope="module")
def tasks(imported: ImportedSpec) -> TasksDocument:
    return parse_tasks(imported.files["tasks.md"])


def test_the_spec_is_named_after_the_feature_folder_without_its_number(
    imported: ImportedSpec,
) -> None:
    assert imported.name == "photo-albums"
    assert list(imported.files) == ["requirements.md", "design.md", "tasks.md", ".config.kiro"]


def test_config_is_a_new_feature_spec(imported: ImportedSpec) -> None:
    config = parse_config(imported.files[".config.kiro"])
    assert config.spec_type == "feature"
    assert config.workflow_type == "requirements-first"
    assert uuid.UUID(str(config.data["specId"]))


def test_user_stories_become_requirements_with_ears_criteria(
    requirements: RequirementsDocument,
) -> None:
    assert [(r.id, r.title) for r in requirements.requirements] == [
        ("1", "Browse albums grouped by date"),
        ("2", "Re-organise albums by drag and drop"),
        ("3", "Preview photos as tiles"),
        ("4", "Functional Requirements"),
        ("5", "Edge Cases"),
    ]
    first, second, third = requirements.requirements[:3]
    assert first.user_story == (
        "As a photo owner, I want to see my albums grouped by date on the main page, so that I "
        "can find an album without remembering its name."
    )
    assert first.story_parts() is not None
    assert second.user_story.startswith("A user drags an album to another position")
    assert [(c.id, c.text) for c in first.criteria + second.criteria + third.criteria] == [
        (
            "1.1",
            "WHEN the user opens the main page and the library holds albums dated January, "
            "March and March, THE System SHALL ensure that the albums are shown in two date "
            "groups, newest first",
        ),
        (
            "1.2",
            "WHEN the user opens the main page and the library holds no albums, THE System "
            "SHALL show an empty state that offers to create an album",
        ),
        (
            "2.1",
            "WHEN the user drops B before A and a date group holds albums A and B, THE System "
            "SHALL ensure that the order B, A is saved and that it survives a reload",
        ),
        (
            "2.2",
            "WHEN the user drops it onto another album, given an album, THE System SHALL "
            "reject the drop",
        ),
        (
            "3.1",
            "WHEN the user opens it, given an album with 20 photos, THE System SHALL ensure "
            "that 20 tiles are shown in a grid",
        ),
        ("3.2", "WHEN the user selects a tile, THE System SHALL display the photo at full size"),
    ]


def test_functional_requirements_become_shall_criteria_keeping_clarification_markers(
    requirements: RequirementsDocument,
) -> None:
    functional = requirements.requirements[3]
    assert functional.user_story == ""
    assert [(c.id, c.text) for c in functional.criteria] == [
        ("4.1", "THE System SHALL let users create, rename and delete albums"),
        ("4.2", "THE System SHALL group albums by their date on the main page"),
        (
            "4.3",
            "THE System SHALL allow users to reorder albums within a date group by drag and drop",
        ),
        ("4.4", "THE System SHALL NOT allow an album to contain another album"),
        (
            "4.5",
            "THE System SHALL import photos from [NEEDS CLARIFICATION: which sources - folders "
            "only, or phones and cameras too?]",
        ),
    ]


def test_edge_cases_with_an_outcome_become_unwanted_behaviour_criteria(
    requirements: RequirementsDocument,
) -> None:
    assert [(c.id, c.text) for c in requirements.requirements[4].criteria] == [
        (
            "5.1",
            "IF a photo file is missing from disk, THEN THE System SHALL ensure that the tile "
            'shows a "missing file" placeholder and the album still opens',
        ),
        (
            "5.2",
            "IF the System encounters an album with 10,000 photos, THEN THE System SHALL ensure "
            "that tiles are loaded lazily as the user scrolls",
        ),
    ]


def test_every_criterion_is_ears(requirements: RequirementsDocument) -> None:
    patterns = [classify(c.text).pattern for c in requirements.criteria()]
    assert Pattern.NOT_EARS not in patterns
    assert patterns.count(Pattern.UNWANTED) == 2


def test_introduction_and_glossary_carry_the_rest_of_spec_md(
    requirements: RequirementsDocument,
) -> None:
    intro = requirements.introduction
    assert intro.startswith("Build an application that helps me organise my photos")
    assert "Imported from the spec-kit feature `001-photo-albums`" in intro
    assert "- Requirement 2: User Story 2, priority P2. Why: Ordering matters" in intro
    assert "**SC-001**: Users find a given album in under 10 seconds" in intro
    assert "Q: Can a photo belong to more than one album?" in intro
    assert "- What happens when two albums have the same name?" in intro
    assert "#" not in intro.replace("# ", "")  # no headings leak into the introduction
    assert [(g.term, g.definition) for g in requirements.glossary] == [
        ("Album", "A named, dated collection of photos with a position in its date group."),
        ("Photo", "One image file on the local disk, with its capture date and a thumbnail."),
    ]


def test_warnings_name_what_was_not_carried_over(imported: ImportedSpec) -> None:
    assert imported.warnings == [
        "spec.md:63: an acceptance scenario of User Story 3 has no Then; not imported: "
        "**Given** an album with one photo, **When** the user opens it",
        "spec.md:71: an edge case states no outcome; kept in the introduction only: What "
        "happens when two albums have the same name?",
        "plan.md: spec-kit workflow sections not carried over: Progress Tracking.",
        "checklists/requirements.md: not imported (a Kiro spec has no place for it).",
    ]


def test_plan_research_data_model_contracts_and_quickstart_become_the_design(
    imported: ImportedSpec,
) -> None:
    design = parse_design(imported.files["design.md"])
    assert design.title == "Design Document"
    assert [s.title for s in design.sections if s.level == 2] == [
        "Overview",
        "Technical Context",
        "Architecture",
        "Components and Interfaces",
        "Data Models",
        "Research Decisions",
        "Constitution Check",
        "Complexity Tracking",
        "Quickstart",
        "Testing Strategy",
    ]
    text = imported.files["design.md"]
    assert "- **Language/Version**: Python 3.12" in text
    assert "#### Album\n" in text  # data-model.md's "### Album", one level down
    assert "```yaml\nopenapi: 3.1.0\n" in text
    assert "**Structure Decision**: Single project" in text
    assert "- Requirement 3 (User Story 3): Open an album that holds 20 photos" in text
    assert "Progress Tracking" not in text


def test_phases_become_parent_tasks_with_statuses_and_trace_ids(tasks: TasksDocument) -> None:
    # id:status, "|P" where the task runs in parallel.
    assert [f"{t.id}:{t.status.value}{'|P' if t.parallel else ''}" for t in tasks.tasks] == (
        "1:done 1.1:done 1.2:done 1.3:done|P "
        "2:in_progress 2.1:done 2.2:todo|P 2.3:todo|P 2.4:todo "
        "3:todo 3.1:todo|P 3.2:todo|P 3.3:todo 3.4:todo 3.5:todo "
        "4:todo 4.1:todo|P 4.2:todo 4.3:todo "
        "5:todo 5.1:todo|P 5.2:todo|P 5.3:todo "
        "6:todo 6.1:todo|P 6.2:todo"
    ).split()
    task = tasks.task
    assert task("1").title == "Setup (Shared Infrastructure)"
    assert task("3").title == "User Story 1 - Browse albums grouped by date (Priority: P1) 🎯 MVP"
    assert task("1.1").title == "Create project structure per implementation plan (T001)"
    assert task("3.4").title == (
        "Implement GET /albums and the main page in src/photo_albums/routes/albums.py (T011)"
    )
    assert task("3").details == [
        "Goal: Show the albums grouped by date on the main page",
        "Independent Test: Seed three albums with different dates and open the main page",
        "Checkpoint: At this point, User Story 1 should be fully functional and testable "
        "independently",
    ]
    assert [t.title[-6:] for t in tasks.tasks if t.parent] == [f"(T{n:03})" for n in range(1, 21)]


def test_story_labels_cite_every_criterion_of_the_story_and_fr_ids_their_criterion(
    tasks: TasksDocument,
) -> None:
    cited = {t.id: t.requirements for t in tasks.tasks if t.requirements}
    assert cited == {
        "3.1": ["1.1", "1.2"],
        "3.2": ["1.1", "1.2"],
        "3.3": ["1.1", "1.2"],
        "3.4": ["1.1", "1.2"],
        "3.5": ["1.1", "1.2"],
        "4.1": ["2.1", "2.2"],
        "4.2": ["2.1", "2.2", "4.4"],
        "4.3": ["2.1", "2.2"],
        "5.1": ["3.1", "3.2"],
        "5.2": ["3.1", "3.2"],
        "5.3": ["3.1", "3.2"],
    }


def test_phase_order_and_parallel_markers_become_explicit_dependencies(
    tasks: TasksDocument,
) -> None:
    graph = TaskGraph(tasks)
    assert graph.source == "explicit"
    setup = ["1.1", "1.2", "1.3"]
    foundation = ["2.1", "2.2", "2.3", "2.4"]
    story_one = ["3.1", "3.2", "3.3", "3.4", "3.5"]
    assert {leaf: graph.dependencies(leaf) for leaf in graph.leaves} == {
        "1.1": [],
        "1.2": ["1.1"],
        "1.3": ["1.2"],
        "2.1": setup,
        "2.2": [*setup, "2.1"],
        "2.3": [*setup, "2.1"],
        "2.4": [*setup, "2.2", "2.3"],
        "3.1": foundation,
        "3.2": foundation,
        "3.3": [*foundation, "3.1", "3.2"],
        "3.4": [*foundation, "3.3"],  # "(depends on T010)" names 3.3 as well
        "3.5": [*foundation, "3.4"],
        "4.1": story_one,
        "4.2": [*story_one, "4.1"],
        "4.3": [*story_one, "4.2"],
        "5.1": ["4.1", "4.2", "4.3"],
        "5.2": ["4.1", "4.2", "4.3"],
        "5.3": ["4.1", "4.2", "4.3", "5.1", "5.2"],
        "6.1": ["5.1", "5.2", "5.3"],
        "6.2": ["5.1", "5.2", "5.3", "6.1"],
    }
    assert tasks.task("3").depends_on == ["2"]
    assert tasks.task("3.4").depends_on == ["3.3"]
    assert tasks.waves is not None
    assert tasks.waves.waves == graph.waves()
    assert graph.waves()[:3] == [["1.1"], ["1.2"], ["1.3"]]
    assert ["2.2", "2.3"] in graph.waves()


def spec_md(stories: str = "", requirements: str = "") -> str:
    return (
        "# Feature Specification: Trips\n\n**Feature Branch**: `007-trips`\n\n"
        "## User Scenarios & Testing *(mandatory)*\n\n"
        f"{stories}\n\n## Requirements *(mandatory)*\n\n### Functional Requirements\n\n"
        f"{requirements}\n"
    )


def story(*scenarios: str, number: int = 1) -> str:
    listed = "\n".join(f"{n}. {s}" for n, s in enumerate(scenarios, start=1))
    return (
        f"### User Story {number} - Plan a trip (Priority: P1)\n\nAs a traveller, I want to "
        f"plan a trip, so that I know where to go.\n\n**Acceptance Scenarios**:\n\n{listed}\n"
    )


def criteria_of(result: ImportedSpec) -> list[str]:
    return [c.text for c in parse_requirements(result.files["requirements.md"]).criteria()]


@pytest.mark.parametrize(
    ("scenario", "criterion"),
    [
        (
            "**Given** the user is signed in, **When** they open a trip, **Then** the system "
            "shows its stops",
            "WHEN they open a trip and the user is signed in, THE System SHALL show its stops",
        ),
        (
            "**When** a stop is deleted **Then** the map redraws **And** the system saves the trip",
            "WHEN a stop is deleted, THE System SHALL ensure that the map redraws and save the "
            "trip",
        ),
        (
            "**Given** a trip with two stops, **Then** the system MUST NOT allow a third stop",
            "WHILE a trip with two stops, THE System SHALL NOT allow a third stop",
        ),
        (
            "_Given_ a trip, _When_ the user shares it, _Then_ a link is created",
            "WHEN the user shares it, given a trip, THE System SHALL ensure that a link is created",
        ),
        (
            "Given a trip, when the user prints it, then print one page per stop",
            "WHEN the user prints it, given a trip, THE System SHALL print one page per stop",
        ),
        (
            "**Then** the planner service MUST reply within 2 seconds",
            "THE planner service SHALL reply within 2 seconds",
        ),
    ],
)
def test_scenario_forms(scenario: str, criterion: str) -> None:
    result = import_speckit({"spec.md": spec_md(story(scenario))})
    assert criteria_of(result) == [criterion]
    assert classify(criterion).pattern is not Pattern.NOT_EARS


@pytest.mark.parametrize(
    ("requirement", "criterion", "exact"),
    [
        ("System MUST store trips locally", "THE System SHALL store trips locally", True),
        ("The system SHALL NOT share trips", "THE System SHALL NOT share trips", True),
        (
            "Users MUST be able to export a trip [NEEDS CLARIFICATION: format?]",
            "THE System SHALL allow users to export a trip [NEEDS CLARIFICATION: format?]",
            True,
        ),
        (
            "Trip names MUST be unique per user",
            "THE System SHALL ensure that trip names be unique per user",
            True,
        ),
        (
            "When offline, the system MUST queue edits",
            "WHEN offline, THE System SHALL queue edits",
            True,
        ),
        ("System SHOULD warn about long trips", "THE System SHALL warn about long trips", False),
        (
            "Trips are sorted by date",
            "THE System SHALL ensure that trips are sorted by date",
            False,
        ),
    ],
)
def test_functional_requirement_forms(requirement: str, criterion: str, exact: bool) -> None:
    result = import_speckit({"spec.md": spec_md(requirements=f"- **FR-001**: {requirement}")})
    assert criteria_of(result) == [criterion]
    assert bool(result.warnings) is not exact
    assert classify(criterion).pattern is not Pattern.NOT_EARS


def test_older_template_with_one_primary_user_story() -> None:
    text = """# Feature Specification: Trip Planner

**Feature Branch**: `002-trip-planner`

## User Scenarios & Testing *(mandatory)*

### Primary User Story
As a traveller, I want to plan a trip, so that I know where to go.

### Acceptance Scenarios
1. **Given** an empty trip, **When** the user adds a stop, **Then** the stop is listed

### Edge Cases
- If the stop has no address, the system asks for one.

## Requirements *(mandatory)*

### Functional Requirements
- **FR-001**: System MUST let users add stops
"""
    result = import_speckit({"spec.md": text})
    doc = parse_requirements(result.files["requirements.md"])
    assert result.name == "trip-planner"
    assert [(r.id, r.title) for r in doc.requirements] == [
        ("1", "Trip Planner"),
        ("2", "Functional Requirements"),
        ("3", "Edge Cases"),
    ]
    assert doc.requirements[0].user_story.startswith("As a traveller")
    assert [c.text for c in doc.criteria()] == [
        "WHEN the user adds a stop, given an empty trip, THE System SHALL ensure that the stop "
        "is listed",
        "THE System SHALL let users add stops",
        "IF the stop has no address, THEN THE System SHALL ask for one",
    ]
    assert result.warnings == []
    assert list(result.files) == ["requirements.md", ".config.kiro"]


def test_functional_requirements_inside_a_story_belong_to_its_requirement() -> None:
    stories = story("**When** the user adds a stop, **Then** the stop is listed") + (
        "\n**Functional Requirements**:\n\n- **FR-001**: System MUST keep stops in order\n"
    )
    tasks = "## Phase 1: Core\n\n- [ ] T001 [US1] Keep stops in order (FR-001) in trips.py\n"
    result = import_speckit({"spec.md": spec_md(stories), "tasks.md": tasks}, "007-trips")
    doc = parse_requirements(result.files["requirements.md"])
    assert [c.id for c in doc.requirements[0].criteria] == ["1.1", "1.2"]
    assert doc.requirements[0].criteria[1].text == "THE System SHALL keep stops in order"
    assert parse_tasks(result.files["tasks.md"]).task("1.1").requirements == ["1.1", "1.2"]


def test_prose_in_list_sections_is_reported() -> None:
    requirements = (
        "*Example of marking unclear requirements:*\n\n- **FR-001**: System MUST plan trips\n"
    )
    result = import_speckit({"spec.md": spec_md(requirements=requirements)})
    assert criteria_of(result) == ["THE System SHALL plan trips"]
    assert result.warnings == [
        "spec.md:13: not imported: *Example of marking unclear requirements:*"
    ]


def test_name_comes_from_the_folder_then_the_branch_then_the_title() -> None:
    spec = spec_md(story("**When** x happens, **Then** the system does y"))
    assert import_speckit({"spec.md": spec}, "012-trip-sharing").name == "trip-sharing"
    assert import_speckit({"spec.md": spec}, "specs/012-trip-sharing/").name == "trip-sharing"
    assert import_speckit({"spec.md": spec}, "My Trips").name == "my-trips"
    assert import_speckit({"spec.md": spec}).name == "trips"  # from `007-trips`
    untitled = spec.replace("**Feature Branch**: `007-trips`", "")
    assert import_speckit({"spec.md": untitled}).name == "trips"  # from the title


def test_tasks_in_one_phase_with_nested_tasks_and_explicit_dependencies() -> None:
    tasks = """# Tasks

## Phase 1: Core

- [x] T001 Create trips.py
- [ ] T002 [P] Write the model (depends on T001)
  - [x] Fields
  - [ ] Validation
  - note: keep it small
- [ ] T003 [P] Write the store (depends on T009)
- [ ] T004 Wire them (depends on T005)
- [ ] T005 Document them
"""
    result = import_speckit(
        {"spec.md": spec_md(story("**When** a, **Then** b")), "tasks.md": tasks}
    )
    doc = parse_tasks(result.files["tasks.md"])
    graph = TaskGraph(doc)
    assert [(t.id, t.status) for t in doc.tasks] == [
        ("1", Status.IN_PROGRESS),
        ("1.1", Status.DONE),
        ("1.2", Status.IN_PROGRESS),
        ("1.2.1", Status.DONE),
        ("1.2.2", Status.TODO),
        ("1.3", Status.TODO),
        ("1.4", Status.TODO),
        ("1.5", Status.TODO),
    ]
    assert doc.task("1.2").title == "Write the model (T002)"
    assert doc.task("1.2").details == ["note: keep it small"]
    assert {leaf: graph.dependencies(leaf) for leaf in graph.leaves} == {
        "1.1": [],
        "1.2.1": ["1.1"],
        "1.2.2": ["1.1", "1.2.1"],
        "1.3": ["1.1"],
        "1.4": ["1.2.1", "1.2.2", "1.3"],
        "1.5": ["1.4"],
    }
    assert result.warnings == [
        "tasks.md:10: the dependency on T009 is not kept (no earlier task has that id).",
        "tasks.md:11: the dependency on T005 is not kept (no earlier task has that id).",
    ]


def test_deeply_nested_tasks_and_details_that_look_like_references() -> None:
    tasks = r"""## Phase 1: Core

- [ ] T001 Build the planner
  - [ ] Parse stops
    - [x] Read addresses
    - [ ] Geocode them
  - Requirements: none, this is prose
  - Depends on the weather
  - \[x] looks like a task but is prose
  - validates 3 inputs against Property 2
"""
    spec = spec_md(story("**When** a, **Then** b"))
    result = import_speckit({"spec.md": spec, "tasks.md": tasks})
    doc = parse_tasks(result.files["tasks.md"])
    assert [t.id for t in doc.tasks] == ["1", "1.1", "1.1.1", "1.1.1.1", "1.1.1.2"]
    planner = doc.task("1.1")
    assert planner.details == [
        "Note: Requirements: none, this is prose",
        "Depends on the weather",
        "\\[x] looks like a task but is prose",
        "validates 3 inputs against Property 2",
    ]
    assert (planner.requirements, planner.validates, planner.properties) == ([], [], [])
    graph = TaskGraph(doc)
    assert graph.dependencies("1.1.1.2") == ["1.1.1.1"]


def test_without_plan_the_independent_tests_stay_in_the_introduction() -> None:
    scenarios = "**Acceptance Scenarios**"
    text = spec_md(story("**When** a, **Then** b")).replace(
        scenarios, f"**Independent Test**: Plan one trip.\n\n{scenarios}"
    )
    result = import_speckit({"spec.md": text, "tasks.md": "# Tasks\n\nNothing yet.\n"})
    assert list(result.files) == ["requirements.md", ".config.kiro"]
    intro = parse_requirements(result.files["requirements.md"]).introduction
    assert "- Requirement 1: User Story 1, priority P1. Independent test: Plan one trip." in intro
    assert result.warnings == ["tasks.md: no `- [ ] T001 ...` tasks found; no tasks.md written."]


def test_plan_front_matter_comments_and_unclosed_fences_do_not_leak() -> None:
    plan = (
        "---\ndescription: plan\n---\n# Implementation Plan: Trips\n\n## Summary\n"
        "<!-- ACTION REQUIRED -->\nPlan trips offline.\n\n## Source\n\n```text\nsrc/\n"
    )
    result = import_speckit({"spec.md": spec_md(story("**When** a, **Then** b")), "plan.md": plan})
    design = result.files["design.md"]
    assert "description: plan" not in design
    assert "ACTION REQUIRED" not in design
    assert design.endswith("```text\nsrc/\n```\n")
    assert [s.title for s in parse_design(design).sections] == [
        "Design Document",
        "Overview",
        "Source",
    ]


def test_a_folder_without_spec_md_is_refused() -> None:
    with pytest.raises(ImportFormatError) as raised:
        import_speckit({"plan.md": "# Plan\n", "tasks.md": "- [ ] T001 x\n"})
    assert raised.value.file == "spec.md"
    assert raised.value.hint and "specs/NNN-feature-name/" in raised.value.hint


def test_a_spec_without_stories_or_requirements_is_refused() -> None:
    with pytest.raises(ImportFormatError) as raised:
        import_speckit({"spec.md": "# Feature Specification: Trips\n\nSome notes.\n"})
    assert (raised.value.file, raised.value.line) == ("spec.md", 1)
    assert "User Story 1" in str(raised.value)


def checkboxes(text: str) -> int:
    return sum(1 for item in scan(text).items if re.match(r"\[[ xX~-]\](?:[ \t]|$)", item.content))


def check_round_trip(result: ImportedSpec, tasks_source: str | None = None) -> None:
    """What the importer wrote reads back as what it built."""
    requirements = parse_requirements(result.files["requirements.md"])
    assert [r.id for r in requirements.requirements] == [
        str(n) for n in range(1, len(requirements.requirements) + 1)
    ]
    for requirement in requirements.requirements:
        assert [c.id for c in requirement.criteria] == [
            f"{requirement.id}.{n}" for n in range(1, len(requirement.criteria) + 1)
        ]
    assert requirements.glossary == [] or all(g.term for g in requirements.glossary)
    json.loads(result.files[".config.kiro"])
    if "tasks.md" in result.files:
        tasks = parse_tasks(result.files["tasks.md"])
        graph = TaskGraph(tasks)
        graph.check()
        assert tasks.waves is not None and tasks.waves.waves == graph.waves()
        known = {c.id for c in requirements.criteria()} | {r.id for r in requirements.requirements}
        assert all(ref in known for task in tasks.tasks for ref in task.requirements)
        assert all(not (task.validates or task.properties) for task in tasks.tasks)
        if tasks_source is not None:
            assert sum(1 for task in tasks.tasks if task.parent) == checkboxes(tasks_source)
    elif tasks_source is not None:
        assert checkboxes(tasks_source) == 0
    if "design.md" in result.files:
        parse_design(result.files["design.md"])


SPEC_LINES = st.sampled_from(
    [
        "### User Story 1 - Plan (Priority: P1)",
        "### User Story 2 - Share",
        "## Requirements",
        "### Functional Requirements",
        "### Edge Cases",
        "### Key Entities",
        "## Success Criteria",
        "**Acceptance Scenarios**:",
        "**Why this priority**: because",
        "1. **Given** a, **When** b, **Then** c",
        "2. **When** x **Then** the system MUST y **And** z",
        "- **FR-001**: System MUST do [NEEDS CLARIFICATION: what?]",
        "- **FR-002**: Users MUST be able to go",
        "- What happens when it rains? It pours.",
        "- **Trip**: a journey",
        "```",
        "<!--",
        "-->",
        "  - nested",
        "As a user, I want x, so that y.",
        "",
    ]
)
TASK_LINES = st.sampled_from(
    [
        "## Phase 1: Setup",
        "## Phase 2: Core",
        "### Tests",
        "- [ ] T001 [P] [US1] Do it",
        "- [x] T002 [US2] Do that (depends on T001)",
        "- [X] T003 Last (depends on T004)",
        "  - [ ] nested task",
        "  - detail _Requirements: 9.9_",
        "  - Depends on T001",
        "    - [x] T009 deep",
        "  - validates 2",
        "- [ ] [P] no id",
        "**Purpose**: why",
        "```",
        "",
    ]
)


@given(
    spec=st.text(),
    plan=st.text(),
    tasks=st.text(),
    research=st.text(max_size=200),
    contract=st.text(max_size=200),
)
def test_arbitrary_text_raises_only_import_format_error(
    spec: str, plan: str, tasks: str, research: str, contract: str
) -> None:
    files = {
        "spec.md": spec,
        "plan.md": plan,
        "tasks.md": tasks,
        "research.md": research,
        "contracts/api.yaml": contract,
    }
    try:
        result = import_speckit(files)
    except ImportFormatError:
        return
    check_round_trip(result)


@given(
    spec=st.lists(SPEC_LINES, max_size=40).map("\n".join),
    tasks=st.lists(TASK_LINES, max_size=30).map("\n".join),
    noise=st.text(max_size=30),
)
def test_spec_kit_shaped_text_imports_into_files_that_read_back(
    spec: str, tasks: str, noise: str
) -> None:
    try:
        result = import_speckit({"spec.md": spec + "\n" + noise, "tasks.md": tasks}, noise)
    except ImportFormatError:
        return
    check_round_trip(result, tasks)
