"""What the parsers read out of real Kiro files and out of the odd files users write."""

from __future__ import annotations

import pytest

from specloom.errors import SpecSyntaxError
from specloom.spec.bugfix import parse_bugfix
from specloom.spec.design import parse_design
from specloom.spec.requirements import parse_requirements
from specloom.spec.tasks import Status, parse_tasks
from tests.conftest import EXAMPLES

MORE = EXAMPLES / "more"


def _read(path):  # type: ignore[no-untyped-def]
    return path.read_text(encoding="utf-8")


def test_newer_kiro_requirements_with_glossary() -> None:
    doc = parse_requirements(
        _read(MORE / "kirodotdev-Kiro__github-issue-automation/requirements.md")
    )
    assert doc.title == "Requirements Document"
    assert doc.introduction.startswith("This specification defines an automated GitHub issue")
    assert [g.term for g in doc.glossary][:2] == ["Issue_Manager", "Bedrock_Classifier"]
    first = doc.requirements[0]
    assert (first.id, first.title) == ("1", "Automatic Label Assignment")
    assert first.user_story.startswith("As a repository maintainer, I want issues")
    assert first.story_parts() is not None
    assert [c.id for c in first.criteria] == ["1.1", "1.2", "1.3", "1.4", "1.5", "1.6"]
    assert first.criteria[0].text == (
        "WHEN a new issue is created, THE Issue_Manager SHALL analyze the issue title and body "
        "using Bedrock_Classifier"
    )
    assert first.criteria[0].column == 4
    assert len(doc.requirements) == 8


def test_older_kiro_requirements_when_then_form() -> None:
    doc = parse_requirements(
        _read(MORE / "spirit-of-kiro/plans_player-trail-effect_requirements.md")
    )
    assert [r.id for r in doc.requirements] == ["1", "2", "3", "4", "5"]
    assert (
        doc.requirements[0]
        .criteria[0]
        .text.startswith("WHEN the player character moves THEN the system SHALL generate")
    )


def test_localized_headings_are_recognised_by_structure() -> None:
    text = (
        "# 需求文件\n\n## 簡介\n\n系統說明。\n\n## 需求\n\n### 需求 1：登入\n\n"
        "**使用者故事：** 作為使用者，我想登入，以便使用系統。\n\n#### 驗收標準\n\n"
        "1. WHEN 使用者提交表單, THE 系統 SHALL 驗證密碼\n2. THE 系統 SHALL 記錄登入\n\n"
        "### 需求 2\n\n#### 驗收標準\n\n1. IF 密碼錯誤, THEN THE 系統 SHALL 顯示錯誤\n"
    )
    doc = parse_requirements(text)
    assert [(r.id, r.title) for r in doc.requirements] == [("1", "登入"), ("2", "")]
    assert doc.requirements[0].user_story == "作為使用者，我想登入，以便使用系統。"
    assert [c.id for c in doc.criteria()] == ["1.1", "1.2", "2.1"]
    assert doc.criteria()[2].text == "IF 密碼錯誤, THEN THE 系統 SHALL 顯示錯誤"


def test_auto_numbered_criteria_get_positional_ids_and_continuations_join() -> None:
    text = (
        "## Requirements\n\n### Requirement 4\n\n#### Acceptance Criteria\n\n"
        "1. WHEN a user saves,\n   THE Editor SHALL store the file\n1. THE Editor SHALL log\n"
    )
    criteria = parse_requirements(text).criteria()
    assert [(c.id, c.text, c.line) for c in criteria] == [
        ("4.1", "WHEN a user saves, THE Editor SHALL store the file", 7),
        ("4.2", "THE Editor SHALL log", 9),
    ]


def test_numbered_heading_without_criteria_is_not_a_requirement() -> None:
    text = "## Phase 1 rollout\n\nSome text.\n\n### Requirement 1\n\n1. THE A SHALL b\n"
    assert [r.id for r in parse_requirements(text).requirements] == ["1"]


def test_bugfix_groups_and_bug_condition() -> None:
    doc = parse_bugfix(_read(MORE / "bugfix-examples/document-required-at-application_bugfix.md"))
    assert [c.id for c in doc.current] == ["1.1", "1.2", "1.3"]
    assert [c.id for c in doc.expected] == ["2.1", "2.2", "2.3"]
    assert [c.id for c in doc.unchanged] == ["3.1", "3.2", "3.3", "3.4", "3.5"]
    assert doc.current[0].kind == "current" and doc.unchanged[0].kind == "unchanged"
    assert doc.unchanged[0].text.startswith("WHEN a student who already has an application")
    assert doc.bug_condition is not None
    assert "FUNCTION isBugCondition(X)" in doc.bug_condition.condition
    assert "FOR ALL X WHERE isBugCondition(X) DO" in doc.bug_condition.fix_checking
    assert "FOR ALL X WHERE NOT isBugCondition(X) DO" in doc.bug_condition.preservation_checking
    assert [r.id for r in doc.requirements] == ["1", "2", "3"]


def test_bugfix_without_condition_section() -> None:
    doc = parse_bugfix(_read(MORE / "bugfix-examples/new-user-mock-skills_bugfix.md"))
    assert doc.bug_condition is None
    assert [c.id for c in doc.expected][:3] == ["2.1", "2.2", "2.3"]


def test_design_properties_in_every_written_form() -> None:
    heading_form = parse_design(_read(MORE / "kirodotdev-Kiro__github-issue-automation/design.md"))
    first = heading_form.properties[0]
    assert (first.id, first.title, first.validates) == ("1", "Bedrock API Invocation",
                                                        ["1.1", "5.5"])  # fmt: skip
    assert first.statement.startswith("*For any* new issue")
    bold_form = parse_design(
        _read(MORE / "RockyBoyRC-SpaceWeirdos/space-weirdos-game-rules/design.md")
    )
    assert bold_form.properties[0].title == "Attribute cost lookup correctness"
    assert bold_form.properties[0].validates == [f"1.{n}" for n in range(1, 16)]
    plain = parse_design(
        _read(MORE / "docktermj-senzing-bootcamp-kiro-powers/agent-skips-git-question/design.md")
    )
    assert [(p.id, p.validates) for p in plain.properties] == [
        ("1", ["2.1", "2.2", "2.3"]), ("2", ["3.1", "3.2", "3.3", "3.4"])
    ]  # fmt: skip
    nested = parse_design(
        _read(EXAMPLES / "no-vibe-no-code-kiroween/.kiro/specs/property-based-testing/design.md")
    )
    assert nested.properties[0].id == "1.1"


def test_design_sections_and_mermaid() -> None:
    doc = parse_design(_read(MORE / "kirodotdev-Kiro__github-issue-automation/design.md"))
    assert doc.section("Correctness Properties") is not None
    assert doc.section("components and interfaces") is not None
    section = doc.section("overview")
    assert section is not None and doc.section_text(section).startswith("## Overview")
    diagrams = parse_design(_read(EXAMPLES.parent.parent.parent / "examples/wordfreq/.kiro/specs/"
                                  "word-frequency/design.md")).diagrams  # fmt: skip
    assert [(d.kind, d.section) for d in diagrams] == [("sequenceDiagram", "Architecture")]


def test_tasks_with_optional_property_and_requirement_references() -> None:
    doc = parse_tasks(_read(MORE / "kirodotdev-Kiro__github-issue-automation/tasks.md"))
    task = doc.task("3.4")
    assert task.optional and task.status is Status.TODO and task.parent == "3"
    assert task.properties == ["1"] and task.validates == ["1.1", "5.5"]
    assert doc.task("1").requirements == ["5.1", "5.2"]
    assert doc.task("1").details[0] == "Create `scripts/` directory for TypeScript modules"
    assert doc.task("2").children == ["2.1", "2.2"]


def test_tasks_waves_block_and_meta_style() -> None:
    doc = parse_tasks(_read(MORE / "kirodotdev-KiroCrew__folder-steering-dirs/tasks.md"))
    assert doc.waves is not None
    assert doc.waves.waves == [["1.1", "2.1", "3.1", "5.1", "6.1"], ["4.1"], ["7.1"]]


def test_cc_sdd_style_depends_and_parallel_markers() -> None:
    text = (
        "# Implementation Plan\n\n- [ ] 1. Foundation\n- [ ] 1.1 Schema (P)\n"
        "  - _Requirements: 1.1_\n- [ ] 1.2 Config (P)\n  - _Depends: 1.1_\n"
        "- [~] 2. Later\n  - _Depends on: 1_\n"
    )
    doc = parse_tasks(text)
    assert doc.task("1.1").parallel and doc.task("1.1").parent == "1"
    assert doc.task("1.2").depends_on == ["1.1"]
    assert doc.task("2").depends_on == ["1"] and doc.task("2").status is Status.QUEUED


def test_requirements_all_and_ranges() -> None:
    doc = parse_tasks("- [ ] 1. A\n  - _Requirements: All, 6.1-6.3_\n")
    assert doc.task("1").cites_all and doc.task("1").requirements == ["6.1", "6.2", "6.3"]


def test_unnumbered_tasks_under_numbered_headings() -> None:
    doc = parse_tasks(_read(EXAMPLES / "no-vibe-no-code-kiroween/.kiro/specs/"
                            "property-based-testing/tasks.md"))  # fmt: skip
    assert [t.id for t in doc.tasks][:4] == ["1.1", "1.2", "1.3", "2.1"]
    assert not doc.task("1.1").explicit_id


def test_duplicate_task_ids_are_an_error_with_location() -> None:
    with pytest.raises(SpecSyntaxError) as raised:
        parse_tasks("- [ ] 1. A\n- [ ] 1. B\n", "specs/x/tasks.md")
    assert raised.value.line == 2 and "first on line 1" in raised.value.message
    assert raised.value.render().startswith("specs/x/tasks.md:2:")


def test_malformed_waves_json_names_the_line() -> None:
    text = '- [ ] 1. A\n\n## Task Dependency Graph\n\n```json\n{"waves": [\n  {"id": 0,}\n]}\n```\n'
    with pytest.raises(SpecSyntaxError) as raised:
        parse_tasks(text, "tasks.md")
    assert raised.value.line == 7
    assert "not valid JSON" in raised.value.message


def test_design_properties_in_other_languages() -> None:
    text = (
        "# 設計文件\n\n## 正確性屬性\n\n### 屬性 1：登入後保持會話\n\n*對任何*使用者……\n\n"
        "**Validates: Requirements 1.1, 1.2**\n\n### Propriété 2 : Idempotence\n\n"
        "**Validates: Requirements 2.1**\n"
    )
    properties = parse_design(text).properties
    assert [(p.id, p.title, p.validates) for p in properties] == [
        ("1", "登入後保持會話", ["1.1", "1.2"]),
        ("2", "Idempotence", ["2.1"]),
    ]
