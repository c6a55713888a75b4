"""OpenSpec change folder (or capability folder) -> Kiro spec.

The fixtures under ``fixtures/openspec/openspec/`` are our own sample content in OpenSpec's
real formats (Fission-AI/OpenSpec: schemas/spec-driven/templates/*.md and schema.yaml,
docs/concepts.md, openspec/specs/*/spec.md). Every produced file is read back with specloom's
own parsers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from specloom.errors import ImportFormatError
from specloom.spec.design import parse_design
from specloom.spec.ears import Pattern, classify
from specloom.spec.graph import TaskGraph
from specloom.spec.importers import ImportedSpec, import_openspec
from specloom.spec.markdown import scan
from specloom.spec.meta import parse_config
from specloom.spec.requirements import RequirementsDocument, parse_requirements
from specloom.spec.tasks import Status, TasksDocument, parse_tasks

OPENSPEC = Path(__file__).parent / "fixtures" / "openspec" / "openspec"
CHANGE = OPENSPEC / "changes" / "add-shared-albums"
MAIN_SPEC = OPENSPEC / "specs" / "albums"


def folder_files(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def change() -> ImportedSpec:
    return import_openspec(folder_files(CHANGE), CHANGE.name)


@pytest.fixture(scope="module")
def requirements(change: ImportedSpec) -> RequirementsDocument:
    return parse_requirements(change.files["requirements.md"])


@pytest.fixture(scope="module")
def tasks(change: ImportedSpec) -> TasksDocument:
    return parse_tasks(change.files["tasks.md"])


def test_a_change_becomes_a_full_spec(change: ImportedSpec) -> None:
    assert change.name == "add-shared-albums"
    assert list(change.files) == ["requirements.md", "design.md", "tasks.md", ".config.kiro"]
    assert parse_config(change.files[".config.kiro"]).spec_type == "feature"


def test_added_and_modified_requirements_with_statement_and_scenarios(
    requirements: RequirementsDocument,
) -> None:
    assert [(r.id, r.title, r.user_story) for r in requirements.requirements] == [
        ("1", "Share link creation", ""),
        ("2", "Visitor access", ""),
        ("3", "Album deletion", ""),
    ]
    assert [(c.id, c.text) for c in requirements.criteria()] == [
        (
            "1.1",
            "THE System SHALL let the owner of an album create a read-only share link for it",
        ),
        (
            "1.2",
            'WHEN the owner chooses "Create share link", given an album owned by the signed-in '
            "user, THE System SHALL show a link containing a random token and ensure that the "
            "link is listed under the album's share links",
        ),
        (
            "1.3",
            "WHEN a user asks for a link to an album they do not own, THE System SHALL ensure "
            "that the request is rejected",
        ),
        (
            "2.1",
            "THE System SHALL show a visitor who opens a valid share link the album's photos "
            "and nothing else",
        ),
        (
            "2.2",
            "WHEN a visitor opens a valid share link, THE System SHALL display the album's "
            "photos as tiles and hide every editing control",
        ),
        (
            "2.3",
            "WHEN a visitor opens it, given a link that the owner revoked, THE System SHALL "
            'respond with "not found"',
        ),
        (
            "3.1",
            "THE System SHALL delete an album, its photo records and its share links when the "
            "owner confirms the deletion",
        ),
        (
            "3.2",
            "WHEN the owner confirms the deletion of an album that has share links, THE System "
            "SHALL ensure that the album and its photo records are deleted and that every share "
            "link of the album stops working",
        ),
    ]
    assert Pattern.NOT_EARS not in [classify(c.text).pattern for c in requirements.criteria()]


def test_removed_renamed_and_dropped_parts_are_reported(change: ImportedSpec) -> None:
    assert change.warnings == [
        "specs/album-sharing/spec.md:23: text of requirement 'Visitor access' is not a SHALL "
        "statement; not imported: Visitors never need an account.",
        "specs/album-sharing/spec.md:35: scenario 'Link preview' of 'Visitor access' has no "
        "THEN; not imported.",
        "specs/albums/spec.md:14: scenario 'Deletion without confirmation' of 'Album deletion' "
        "is marked REMOVED; not imported.",
        "specs/albums/spec.md:20: the REMOVED requirement 'Zip export' is not imported; the "
        "introduction names it.",
    ]


def test_introduction_holds_the_proposal_and_what_the_change_removes(
    requirements: RequirementsDocument,
) -> None:
    intro = requirements.introduction
    assert intro.startswith("**Why**\n\nPeople want to show an album to family members")
    assert "**What Changes**\n\n- Owners can create a read-only share link" in intro
    assert "**Impact**" in intro
    assert "**Purpose of `album-sharing`**\n\nLets album owners share" in intro
    assert (
        "Imported from OpenSpec (proposal.md, specs/album-sharing/spec.md, "
        "specs/albums/spec.md, design.md, tasks.md)." in intro
    )
    assert "- Requirement 1: Share link creation (`album-sharing`, added)" in intro
    assert (
        "- Requirement 3: Album deletion (`albums`, modified; previously: share links did not "
        "exist)" in intro
    )
    assert (
        "- Zip export (`albums`): Reason: Nobody used it; share links replace it. Migration: "
        "Share the album with a link instead." in intro
    )
    assert "- `albums`: Album listing → Album overview" in intro


def test_design_is_kept_under_kiro_title(change: ImportedSpec) -> None:
    design = parse_design(change.files["design.md"])
    assert design.title == "Design Document"
    assert [s.title for s in design.sections] == [
        "Design Document",
        "Overview",
        "Context",
        "Goals / Non-Goals",
        "Decisions",
        "Decision: Random 128-bit tokens",
        "Risks / Trade-offs",
    ]
    assert [d.kind for d in design.diagrams] == ["sequenceDiagram"]
    assert "Design: Add shared albums" not in change.files["design.md"]


def test_task_groups_become_parent_tasks_in_document_order(tasks: TasksDocument) -> None:
    assert [(t.id, t.title, t.status) for t in tasks.tasks] == [
        ("1", "Storage", Status.DONE),
        ("1.1", "Add the `share_links` table and verify the migration test passes", Status.DONE),
        (
            "1.2",
            "Store only the SHA-256 hash of each token and verify with a unit test",
            Status.DONE,
        ),
        ("2", "Sharing flow", Status.TODO),
        (
            "2.1",
            'Add "Create share link" to the album page and verify the link opens the album',
            Status.TODO,
        ),
        ("2.2", "Serve `/s/{token}` read-only and verify that edits are rejected", Status.TODO),
        ("2.3", 'Add "Revoke link" and verify a revoked link returns 404', Status.TODO),
        ("3", "Clean-up", Status.TODO),
        ("3.1", "Remove the zip export action and its route", Status.TODO),
    ]
    assert tasks.task("2.2").details == ["Return 404, not 403, for unknown tokens"]
    graph = TaskGraph(tasks)
    assert graph.source == "explicit"
    assert {leaf: graph.dependencies(leaf) for leaf in graph.leaves} == {
        "1.1": [],
        "1.2": ["1.1"],
        "2.1": ["1.2"],
        "2.2": ["2.1"],
        "2.3": ["2.2"],
        "3.1": ["2.3"],
    }
    assert tasks.waves is not None and tasks.waves.waves == graph.waves()


def test_a_main_spec_capability_folder(tmp_path: Path) -> None:
    result = import_openspec(folder_files(MAIN_SPEC), MAIN_SPEC.name)
    doc = parse_requirements(result.files["requirements.md"])
    assert result.name == "albums"
    assert list(result.files) == ["requirements.md", ".config.kiro"]
    assert doc.introduction.startswith(
        "Albums group photos by date; the owner creates, reorders and deletes them."
    )
    assert "- Requirement 1: Album overview (`albums`)" in doc.introduction
    assert "**Why These Decisions (`albums`)**" in doc.introduction
    assert [(c.id, c.text) for c in doc.criteria()] == [
        ("1.1", "THE System SHALL list the owner's albums grouped by date, newest group first"),
        (
            "1.2",
            "WHEN the owner opens the main page, given albums dated January, March and March, "
            "THE System SHALL ensure that two date groups are shown and that the March group "
            "comes first",
        ),
        (
            "2.1",
            "THE System SHALL delete an album and its photo records when the owner confirms "
            "the deletion",
        ),
        (
            "2.2",
            "WHEN the owner confirms the deletion, THE app SHALL remove the album from the "
            "overview",
        ),
        (
            "3.1",
            "THE System SHALL keep albums in the order the owner gave them within a date group",
        ),
        (
            "3.2",
            "WHEN the owner drops an album before another one, THE System SHALL save the new "
            "order as follows: Give the moved album the position of the target; Shift the "
            "albums in between by one and print a confirmation",
        ),
    ]
    assert result.warnings == [
        "spec.md:34: a code block in scenario 'Moving an album' is not imported."
    ]


def test_the_whole_specs_folder_numbers_requirements_across_capabilities() -> None:
    files = {
        "albums/spec.md": (MAIN_SPEC / "spec.md").read_text(encoding="utf-8"),
        "identity/sign-in/spec.md": "# Sign-in\n\n## Requirements\n\n### Requirement: Sign-in\n"
        "The system SHALL sign users in with a passkey.\n",
    }
    result = import_openspec(files, "specs")
    doc = parse_requirements(result.files["requirements.md"])
    assert [r.title for r in doc.requirements] == [
        "Album overview",
        "Album deletion",
        "Album order",
        "Sign-in",
    ]
    assert "- Requirement 4: Sign-in (`identity/sign-in`)" in doc.introduction
    assert "**Purpose of `albums`**" in doc.introduction


def delta(requirements: str) -> dict[str, str]:
    return {"specs/trips/spec.md": f"## ADDED Requirements\n\n{requirements}\n"}


@pytest.mark.parametrize(
    ("block", "criteria"),
    [
        (
            "### Requirement: Plain keywords\nThe system must plan trips.\n\n"
            "#### Scenario: One\n- GIVEN a trip\n- WHEN the user adds a stop\n"
            "- THEN the stop is listed\n- AND the map is redrawn",
            [
                "THE System SHALL plan trips",
                "WHEN the user adds a stop, given a trip, THE System SHALL ensure that the stop "
                "is listed and that the map is redrawn",
            ],
        ),
        (
            "### Requirement: Title case and text lines\nWhen offline, the planner service "
            "SHALL queue edits.\n\n#### Scenario: Offline\n- When the network drops\n"
            "- Then the system keeps the edit\n\n#### Scenario: Prose\n**WHEN** a trip is"
            " opened\n**THEN** the system loads its stops",
            [
                "WHEN offline, THE planner service SHALL queue edits",
                "WHEN the network drops, THE System SHALL keep the edit",
                "WHEN a trip is opened, THE System SHALL load its stops",
            ],
        ),
        (
            "### Requirement: Weak wording\nThe system SHOULD warn about long trips.\n\n"
            "If a trip has no stops, the system MUST hide it.\n\n"
            "#### Scenario: Only a then\n- **THEN** trips are listed\n\n"
            "### Scenario: Three hashes\n- **WHEN** a trip is empty\n- **THEN** hide it",
            [
                "THE System SHALL warn about long trips",
                "IF a trip has no stops, THEN THE System SHALL hide it",
                "THE System SHALL ensure that trips are listed",
                "WHEN a trip is empty, THE System SHALL hide it",
            ],
        ),
    ],
)
def test_statement_and_scenario_forms(block: str, criteria: list[str]) -> None:
    result = import_openspec(delta(block))
    assert [c.text for c in parse_requirements(result.files["requirements.md"]).criteria()] == (
        criteria
    )
    assert Pattern.NOT_EARS not in [classify(text).pattern for text in criteria]


def test_weak_wording_is_reported() -> None:
    result = import_openspec(
        delta(
            "### Requirement: Soft\nThe system SHOULD warn.\n\n#### Scenario: A\n"
            "- **WHEN** a\n- **THEN** warn"
        )
    )
    assert result.warnings == [
        "specs/trips/spec.md:4: requirement 'Soft' has no SHALL or MUST; imported as: THE "
        "System SHALL warn"
    ]


def test_name_from_archive_folder_proposal_title_or_capability() -> None:
    files = delta("### Requirement: A\nThe system SHALL a.")
    assert import_openspec(files, "2025-01-15-add-trips").name == "add-trips"
    proposal = {"proposal.md": "# Proposal: Add Trip Sharing\n\n## Why\n\nBecause.\n"}
    assert import_openspec({**files, **proposal}).name == "add-trip-sharing"
    assert import_openspec(files).name == "trips"


def test_a_folder_without_spec_files_is_refused() -> None:
    with pytest.raises(ImportFormatError) as raised:
        import_openspec({"proposal.md": "## Why\n\nx\n", "tasks.md": "- [ ] 1.1 x\n"})
    assert raised.value.file == "specs/<capability>/spec.md"
    assert raised.value.hint and "openspec/changes/<change>/" in raised.value.hint


def test_a_spec_file_without_requirements_is_refused() -> None:
    with pytest.raises(ImportFormatError) as raised:
        import_openspec({"specs/trips/spec.md": "# Trips\n\nJust notes.\n"})
    assert (raised.value.file, raised.value.line) == ("specs/trips/spec.md", 1)
    assert "### Requirement:" in str(raised.value)


def test_a_change_that_only_removes_is_refused() -> None:
    text = "## REMOVED Requirements\n\n### Requirement: Old\n**Reason**: unused\n"
    with pytest.raises(ImportFormatError) as raised:
        import_openspec({"specs/trips/spec.md": text})
    assert raised.value.file == "specs/trips/spec.md"
    assert "only remove or rename" in raised.value.message


def checkboxes(text: str) -> int:
    return sum(1 for item in scan(text).items if re.match(r"\[[ xX~-]\](?:[ \t]|$)", item.content))


def check_round_trip(result: ImportedSpec, tasks_source: str | None = None) -> None:
    requirements = parse_requirements(result.files["requirements.md"])
    assert [r.id for r in requirements.requirements] == [
        str(n) for n in range(1, len(requirements.requirements) + 1)
    ]
    assert requirements.requirements, "an import always has a requirement"
    for requirement in requirements.requirements:
        assert [c.id for c in requirement.criteria] == [
            f"{requirement.id}.{n}" for n in range(1, len(requirement.criteria) + 1)
        ]
    json.loads(result.files[".config.kiro"])
    if "tasks.md" in result.files:
        tasks = parse_tasks(result.files["tasks.md"])
        graph = TaskGraph(tasks)
        assert graph.topological_order() == graph.leaves  # document order
        assert all(task.parent is None or "." in task.id for task in tasks.tasks)
        assert all(not (task.validates or task.properties) for task in tasks.tasks)
        if tasks_source is not None:
            assert sum(1 for task in tasks.tasks if task.parent) == checkboxes(tasks_source)
    elif tasks_source is not None:
        assert checkboxes(tasks_source) == 0
    if "design.md" in result.files:
        parse_design(result.files["design.md"])


SPEC_LINES = st.sampled_from(
    [
        "## ADDED Requirements",
        "## MODIFIED Requirements",
        "## REMOVED Requirements",
        "## RENAMED Requirements",
        "## Requirements",
        "## Purpose",
        "### Requirement: Trips",
        "### Requirement: Stops",
        "#### Scenario: One (REMOVED)",
        "#### Scenario: Two",
        "The system SHALL plan trips.",
        "The system MUST NOT lose stops:",
        "(Previously: never)",
        "- **WHEN** the user adds a stop",
        "- **THEN** the stop is listed",
        "- **AND** the map MUST update",
        "- GIVEN a trip",
        "  1. nested step",
        "- FROM: `### Requirement: Trips`",
        "- TO: `### Requirement: Journeys`",
        "**Reason**: gone",
        "```",
        "<!-- x",
        "",
    ]
)
TASK_LINES = st.sampled_from(
    [
        "## 1. Setup",
        "## 2. Core",
        "- [ ] 1.1 Do it",
        "- [x] 1.2 Done",
        "  - [ ] 1.2.1 Sub",
        "  - detail",
        "    - Property 1 validates 2",
        "  - Requirements: 1.1",
        "- [ ] Unnumbered (P)",
        "- [-] 2.1 Going",
        "```",
        "",
    ]
)


@given(
    spec=st.text(),
    other_spec=st.text(max_size=200),
    proposal=st.text(),
    design=st.text(),
    tasks=st.text(),
)
def test_arbitrary_text_raises_only_import_format_error(
    spec: str, other_spec: str, proposal: str, design: str, tasks: str
) -> None:
    files = {
        "specs/trips/spec.md": spec,
        "specs/a/b/spec.md": other_spec,
        "proposal.md": proposal,
        "design.md": design,
        "tasks.md": tasks,
    }
    try:
        result = import_openspec(files)
    except ImportFormatError:
        return
    check_round_trip(result)


@given(
    spec=st.lists(SPEC_LINES, max_size=40).map("\n".join),
    tasks=st.lists(TASK_LINES, max_size=30).map("\n".join),
    noise=st.text(max_size=30),
)
def test_openspec_shaped_text_imports_into_files_that_read_back(
    spec: str, tasks: str, noise: str
) -> None:
    try:
        result = import_openspec({"spec.md": spec + "\n" + noise, "tasks.md": tasks}, noise)
    except ImportFormatError:
        return
    check_round_trip(result, tasks)
