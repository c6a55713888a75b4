"""The focused prompt of a task: exactly the criteria it cites, the design sections and
properties it needs and not the others; its steering and memory from the project root, its
files from the worktree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from specloom.errors import SpecNotFoundError
from specloom.spec.model import Spec, load_spec
from specloom.workflows.task_prompt import (
    build_task_prompt,
    feedback_prompt,
    is_property_task,
    task_context,
    task_request,
    touched_paths,
)
from specloom.workspace import Workspace
from tests.conftest import example_files

REQUIREMENTS = """\
# Requirements Document

## Glossary

- **Ledger**: the store of every payment
- **Rate_Table**: the currency rates in force

## Requirements

### Requirement 1: Record payments

**User Story:** As a clerk, I want payments recorded, so that none is lost.

#### Acceptance Criteria

1. WHEN a payment arrives, THE Ledger SHALL store it with its amount and currency
2. IF a payment has no currency, THEN THE Ledger SHALL reject it with a clear error
3. THE Ledger SHALL keep payments in the order they arrived

### Requirement 2: Convert currencies

**User Story:** As a clerk, I want amounts converted, so that totals add up.

#### Acceptance Criteria

1. WHEN an amount is converted, THE Rate_Table SHALL use the rate of the payment's day
2. WHERE a rate is missing, THE Rate_Table SHALL fall back to the previous day's rate

### Requirement 3: Reports

**User Story:** As a manager, I want monthly reports, so that I can plan.

#### Acceptance Criteria

1. WHEN a month ends, THE Ledger SHALL produce a report of totals per currency
"""

DESIGN = """\
# Design Document

## Overview

Payments flow from the intake queue into the ledger; reports read the ledger.

## Components

### Payment intake

`PaymentIntake.accept(payment)` validates and hands payments to `LedgerStore.append`.

### Ledger store

`LedgerStore` keeps rows in arrival order in SQLite; `append` is atomic.

### Currency conversion

Conversion follows Requirement 2.2: look the rate up by day, falling back a day at most.

### Monthly reports

`MonthlyReport.build(month)` sums the ledger per currency.

## Correctness Properties

### Property 1: Appending keeps order

*For any* sequence of payments, reading the ledger gives them back in arrival order.

**Validates: Requirements 1.3**

### Property 2: Conversion round trip

*For any* amount and day, converting there and back gives the amount within a cent.

**Validates: Requirements 2.1**

## Error Handling

A payment without a currency raises `MissingCurrency` with the payment's id.
"""

TASKS = """\
# Implementation Plan

- [ ] 1. Build the ledger
- [ ] 1.1 Write `LedgerStore` in `ledger/store.py`
  - Keep rows in arrival order; make `append` atomic
  - _Requirements: 1.1, 1.3_
- [ ] 1.2 Reject payments without a currency
  - _Requirements: 1.2_
- [ ] 2. Convert amounts with the rate table
  - _Requirements: 2_
- [ ]* 2.1 Write property test for conversion
  - **Property 2: Conversion round trip**
  - **Validates: Requirements 2.1**
- [ ] 3. Produce monthly reports
  - _Requirements: 3.1, 9.9_
- [ ]* 4. Write property tests for the ledger
  - _Requirements: 1.3_
"""


@pytest.fixture
def spec() -> Spec:
    files = {"requirements.md": REQUIREMENTS, "design.md": DESIGN, "tasks.md": TASKS}
    return load_spec("payments", files, ".kiro/specs/payments")


def criterion_lines(text: str) -> list[str]:
    return re.findall(r"^- (\d+\.\d+): ", text, re.MULTILINE)


def design_titles(text: str) -> list[str]:
    return re.findall(r"^## Design: (.+)$", text, re.MULTILINE)


def test_the_prompt_holds_exactly_the_cited_criteria(spec: Spec) -> None:
    prompt = build_task_prompt(spec, "1.1", test_command="pytest -q")

    assert criterion_lines(prompt.text) == ["1.1", "1.3"]
    assert "store it with its amount and currency" in prompt.text
    assert "keep payments in the order they arrived" in prompt.text
    assert "reject it with a clear error" not in prompt.text  # 1.2 is not cited
    assert "Rate_Table SHALL" not in prompt.text
    assert "Requirement 1: Record payments" in prompt.text
    assert "(part of task 1: Build the ledger)" in prompt.text
    assert "- Keep rows in arrival order; make `append` atomic" in prompt.text
    assert "`pytest -q` passes" in prompt.text


def test_the_design_sections_it_needs_and_no_others(spec: Spec) -> None:
    prompt = build_task_prompt(spec, "1.1")

    # The intake section names `LedgerStore.append` in passing: far weaker than the store's.
    assert design_titles(prompt.text) == ["Components > Ledger store"]
    assert "keeps rows in arrival order in SQLite" in prompt.text
    for absent in ("PaymentIntake", "MonthlyReport", "falling back", "MissingCurrency"):
        assert absent not in prompt.text
    assert all(section.matched for section in prompt.sections)


def test_a_section_citing_the_task_s_requirement_is_chosen(spec: Spec) -> None:
    prompt = build_task_prompt(spec, "2")

    assert criterion_lines(prompt.text) == ["2.1", "2.2"]  # the whole of requirement 2
    assert design_titles(prompt.text) == ["Components > Currency conversion"]
    assert "Requirement 2.2" in prompt.sections[0].matched


def test_the_error_section_follows_the_criterion_s_words(spec: Spec) -> None:
    prompt = build_task_prompt(spec, "1.2")

    assert criterion_lines(prompt.text) == ["1.2"]
    assert "Error Handling" in design_titles(prompt.text)
    assert "MonthlyReport" not in prompt.text


def test_referenced_properties_come_whole_and_only_they(spec: Spec) -> None:
    prompt = build_task_prompt(spec, "2.1", property_file="tests/test_payments_properties.py",
                               property_file_generated=True)  # fmt: skip

    assert [prop.id for prop in prompt.properties] == ["2"]
    assert "Property 2: Conversion round trip" in prompt.text
    assert "converting there and back gives the amount within a cent" in prompt.text
    assert "Validates: Requirements 2.1" in prompt.text
    assert "Appending keeps order" not in prompt.text
    assert "`tests/test_payments_properties.py`: make them pass" in prompt.text
    assert is_property_task(prompt.task)


def test_a_property_task_naming_no_property_takes_those_of_its_criteria(spec: Spec) -> None:
    prompt = build_task_prompt(spec, "4", property_file="tests/test_payments_properties.py")

    assert is_property_task(prompt.task)
    assert [prop.id for prop in prompt.properties] == ["1"]
    assert "Write a Hypothesis test (`@given`) for each of properties 1" in prompt.text
    assert "Feature: payments, Property N" in prompt.text


def test_a_task_citing_nothing_takes_its_sub_tasks_citations(spec: Spec) -> None:
    prompt = build_task_prompt(spec, "1")

    assert criterion_lines(prompt.text) == ["1.1", "1.2", "1.3"]


def test_unknown_citations_are_said_and_glossary_terms_explained(spec: Spec) -> None:
    prompt = build_task_prompt(spec, "3")

    assert prompt.missing == ["9.9"]
    assert "(cited, but not in .kiro/specs/payments/requirements.md: 9.9)" in prompt.text
    assert [entry.term for entry in prompt.glossary] == ["Ledger"]
    assert design_titles(prompt.text) == ["Components > Monthly reports"]


def test_the_design_budget_keeps_the_best_sections(spec: Spec) -> None:
    full = build_task_prompt(spec, "1.1")
    best = max(full.sections, key=lambda section: section.score)

    cut = build_task_prompt(spec, "1.1", design_chars=len(best.text) + len(best.title) + 8)

    assert [section.title for section in cut.sections] == [best.title]


def test_an_unknown_task_is_an_error_naming_the_file(spec: Spec) -> None:
    with pytest.raises(SpecNotFoundError):
        build_task_prompt(spec, "7.7")


def test_what_a_task_touches_and_says() -> None:
    files = {"tasks.md": "- [ ] 1. Write `src/app/main.py` and web/ui/App.tsx\n  - Use `x`\n"}
    task = load_spec("s", files).tasks.task("1")  # type: ignore[union-attr]

    assert touched_paths(task) == ["src/app/main.py", "web/ui/App.tsx"]
    assert task_request(task) == "Write `src/app/main.py` and web/ui/App.tsx\nUse `x`"
    assert not is_property_task(task)


def test_feedback_carries_the_end_of_the_output_in_a_safe_fence() -> None:
    tail = "```\nE   assert 1 == 2\nFAILED t.py::test_x"

    text = feedback_prompt(2, 3, "pytest -q", 1, tail, timed_out=False)

    assert text.startswith("Verification failed (attempt 2 of 3): `pytest -q` exited with status 1")
    assert "````text\n```\nE   assert 1 == 2\nFAILED t.py::test_x\n````" in text
    assert "timed out" in feedback_prompt(1, 1, "make test", -15, "", timed_out=True)


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


STEERING = {
    ".kiro/steering/tech.md": "# Tech\n\nPython 3.12 and SQLite.\n",
    ".kiro/steering/web.md": (
        "---\ninclusion: fileMatch\nfileMatchPattern: 'web/**'\n---\nSvelte.\n"
    ),
    ".kiro/steering/ledger.md": (
        "---\ninclusion: fileMatch\nfileMatchPattern: 'ledger/*.py'\n---\nLedger rows are "
        "immutable.\n"
    ),
    ".kiro/steering/review.md": "---\ninclusion: manual\n---\nReview checklist.\n",
}


def test_the_context_holds_the_steering_the_task_touches(tmp_path: Path, spec: Spec) -> None:
    root = write(tmp_path, {**STEERING, "ledger/store.py": "class LedgerStore: ...\n"})
    task = spec.tasks.task("1.1")  # type: ignore[union-attr]

    context = task_context(
        root, root, request=task_request(task), touched=touched_paths(task),
        include_repo_map=False,
    )  # fmt: skip

    names = {(part.kind, part.name) for part in context.parts}
    assert names == {("steering", "tech"), ("steering", "ledger")}
    rendered = context.render()
    assert "Ledger rows are immutable." in rendered and "Svelte" not in rendered


def test_a_worktree_reads_steering_from_the_root_and_files_from_itself(tmp_path: Path) -> None:
    root = write(tmp_path / "root", {**STEERING, "notes.md": "root notes\n"})
    tree = write(tmp_path / "tree", {"notes.md": "worktree notes\n", "app.py": "def run(): ..."})

    context = task_context(root, tree, request="Update #file:notes.md with the plan")

    rendered = context.render()
    assert "Python 3.12 and SQLite." in rendered
    assert "worktree notes" in rendered and "root notes" not in rendered
    kinds = [part.kind for part in context.parts]
    assert kinds == ["steering", "repomap", "file"]
    assert "app.py" in next(part.text for part in context.parts if part.kind == "repomap")


@pytest.mark.parametrize(
    "tasks_file",
    [path for path in example_files("tasks.md") if ".kiro" in path.parts],
    ids=lambda path: path.parent.name,
)
def test_real_specs_give_prompts_far_smaller_than_the_whole_spec(tasks_file: Path) -> None:
    folder = tasks_file.parent
    spec = Workspace(folder.parent.parent.parent).load(folder.name)
    whole = sum(len(p.read_text()) for p in folder.iterdir() if p.suffix == ".md")
    assert spec.tasks is not None
    sizes: list[int] = []
    for task in spec.tasks.tasks:
        prompt = build_task_prompt(spec, task.id)
        sizes.append(len(prompt.text))
        for _, criterion in prompt.criteria:
            assert criterion.text in prompt.text
    sizes.sort()
    assert sizes[len(sizes) // 2] < whole / 3
