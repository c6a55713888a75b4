"""Cross-artifact analysis and traceability, on a spec built to have each kind of problem."""

from __future__ import annotations

import pytest

from specloom.errors import DependencyCycleError
from specloom.spec.analysis import analyze_spec, covered_criteria
from specloom.spec.model import load_spec
from specloom.spec.trace import build_trace, find_test_references

REQUIREMENTS = """# Requirements Document

## Requirements

### Requirement 1: Save

**User Story:** As a writer, I want saving, so that work is kept.

#### Acceptance Criteria

1. WHEN the user presses save, THE Editor SHALL write the file to disk
2. WHEN the user presses save, THE Editor SHALL NOT write the file to disk
3. THE Editor SHALL keep a backup copy

### Requirement 2: Export

#### Acceptance Criteria

1. WHEN the user exports, THE Editor SHALL create a PDF
"""

DESIGN = """# Design Document

## Correctness Properties

### Property 1: Saved files read back

*For any* document, saving then loading gives it back.

**Validates: Requirements 1.1, 9.9**

### Property 2: Backups exist

**Validates: Requirements 1.3**
"""

TASKS = """# Implementation Plan

- [x] 1. Write the saver in `editor/save.py`
  - _Requirements: 1.1, 4.2_
- [ ] 2. Property test for round trip
  - **Property 1: Saved files read back**
  - **Property 7: Missing**
  - _Depends on: 1, 12_
- [ ] 3. Tidy up
- [ ] 4. Checkpoint - Ensure all tests pass
"""


def _spec(tasks: str = TASKS):  # type: ignore[no-untyped-def]
    return load_spec(
        "editor",
        {"requirements.md": REQUIREMENTS, "design.md": DESIGN, "tasks.md": tasks},
        ".kiro/specs/editor",
    )


def _by_rule(findings):  # type: ignore[no-untyped-def]
    grouped: dict[str, list[tuple[str | None, int]]] = {}
    for finding in findings:
        grouped.setdefault(finding.rule, []).append((finding.subject, finding.line))
    return grouped


def test_every_cross_artifact_rule_fires_where_it_should() -> None:
    findings = analyze_spec(_spec(), include_lint=False)
    rules = _by_rule(findings)
    # 1.2 and 2.1 have no task; 1.1 is cited by task 1 and, through property 1, by task 2.
    assert sorted(s for s, _ in rules["ANA001"]) == ["1.2", "1.3", "2.1"]
    assert rules["ANA002"] == [("1", 4)]  # task 1 cites 4.2
    assert rules["ANA003"] == [("1", 5)]  # property 1 validates 9.9
    assert rules["ANA004"] == [("2", 5)]  # task 2 depends on 12
    assert rules["ANA005"] == [("2", 11)]  # property 2 has no task
    assert rules["ANA010"] == [("2", 5)]  # task 2 references property 7
    assert [s for s, _ in rules["ANA006"]] == ["3", "4"]
    checkpoint = next(f for f in findings if f.rule == "ANA006" and f.subject == "4")
    assert checkpoint.severity.value == "info"
    assert rules["ANA007"] == [("1.2", 12)]  # SHALL vs SHALL NOT, same trigger
    assert ("2", 14) not in rules.get("ANA008", [])
    for finding in findings:
        assert finding.file.startswith(".kiro/specs/editor/")


def test_coverage_follows_requirement_and_property_citations() -> None:
    covered = covered_criteria(_spec())
    assert covered["1.1"] == ["1", "2"]
    assert covered["1.3"] == []


def test_analysis_includes_lint_and_raises_on_cycles() -> None:
    findings = analyze_spec(_spec())
    # 1.2 repeats 1.1 word for word but for NOT: the criteria lint says so.
    assert [(f.rule, f.subject) for f in findings if f.rule.startswith("DUP")] == [
        ("DUP002", "1.2")
    ]
    cyclic = TASKS.replace("- [ ] 3. Tidy up", "- [ ] 3. Tidy up\n  - _Depends on: 3_")
    with pytest.raises(DependencyCycleError):
        analyze_spec(_spec(cyclic))


def test_waves_that_disagree_with_depends_lines_are_reported() -> None:
    tasks = (
        "- [ ] 1. a\n  - _Requirements: 1.1_\n- [ ] 2. b\n  - _Requirements: 1.2_\n"
        "  - _Depends on: 1_\n\n```json\n"
        '{"waves": [{"id": 0, "tasks": ["1", "2"]}]}\n```\n'
    )
    findings = analyze_spec(_spec(tasks), include_lint=False)
    assert [f.subject for f in findings if f.rule == "ANA009"] == ["2"]


def test_trace_links_tests_and_code() -> None:
    spec = _spec()
    tests = {
        "tests/test_save.py": (
            "from editor.save import save\n\n"
            "def test_save_writes():\n"
            '    """Validates: Requirements 1.1"""\n'
            "    assert save\n\n"
            '@pytest.mark.requirement("2.1")\n'
            "def test_export():\n"
            "    pass\n"
        ),
        "tests/test_other.py": "# Feature: another-spec\n# Validates: Requirements 1.3\n",
        "web/save.test.ts": "// Validates: Requirements 1.3\ntest('keeps a backup', () => {})\n",
    }
    matrix = build_trace(spec, tests, {"editor/save.py", "editor/__init__.py"})
    rows = {row.criterion: row for row in matrix.rows}
    assert rows["1.1"].tests == ["tests/test_save.py::test_save_writes"]
    assert rows["1.1"].tasks == ["1", "2"] and rows["1.1"].tasks_done == ["1"]
    assert rows["1.1"].code == ["editor/save.py"]
    assert rows["2.1"].tests == ["tests/test_save.py::test_export"]
    assert rows["1.3"].tests == ["web/save.test.ts::keeps a backup"]
    assert rows["1.2"].tests == []
    coverage = matrix.coverage()
    assert coverage["criteria"] == 4 and coverage["with_tests"] == 3
    # 2.1's test imports editor.save, so that module is linked to 2.1 too.
    assert rows["2.1"].code == ["editor/save.py"]
    assert coverage["tests_percent"] == 75.0 and coverage["with_code"] == 2


def test_requirement_level_tags_cover_all_its_criteria() -> None:
    references = find_test_references("t.py", "# Requirements: 2\n", "editor")
    assert references[0].ids == ("2",) and references[0].test == "t.py"
    matrix = build_trace(_spec(), {"t.py": "# Requirements: 1\n"}, set())
    assert [row.criterion for row in matrix.rows if row.tests] == ["1.1", "1.2", "1.3"]
