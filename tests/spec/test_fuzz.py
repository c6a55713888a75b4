"""On arbitrary text the parsers raise nothing but specloom's own errors, and whatever they
read they give back byte for byte."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from specloom.errors import SpecloomError
from specloom.spec.bugfix import parse_bugfix
from specloom.spec.design import parse_design
from specloom.spec.graph import TaskGraph
from specloom.spec.meta import parse_config, parse_tasks_meta
from specloom.spec.requirements import parse_requirements
from specloom.spec.tasks import parse_tasks

# Arbitrary text, and text made of the pieces spec files are built from, so the parsers'
# interesting paths are reached far more often than by random characters alone.
_PIECES = st.sampled_from([
    "# Requirements Document\n", "## Requirements\n", "### Requirement 1: X\n", "### 需求 2\n",
    "#### Acceptance Criteria\n", "**User Story:** As a user, I want x, so that y\n",
    "1. WHEN a, THE B SHALL c\n", "1. ", "- [ ] 1. Task\n", "- [x]* 2.1 Sub\n", "  - [-] 2.2 x\n",
    "  - _Requirements: 1.1, 2-3_\n", "  - _Depends on: 1, 2.1_\n", "```json\n", "```\n",
    '{"waves": [{"id": 0, "tasks": ["1"]}]}\n', '{"waves": 3}\n', "{\n", "~~~\n", "<!--\n",
    "-->\n", "### Property 1: P\n", "**Validates: Requirements 1.1-1.9**\n", "1.1 WHEN x THEN y\n",
    "## Deriving the Bug Condition\n", "\t", "    ", "\r\n", "\n", "- ", "* [ ] ", "[~] ",
])  # fmt: skip
_TEXT = st.one_of(st.text(max_size=400), st.lists(_PIECES, max_size=40).map("".join))


def _only_own_errors(call) -> None:  # type: ignore[no-untyped-def]
    try:
        call()
    except SpecloomError:
        pass


@given(_TEXT)
def test_requirements_parser(text: str) -> None:
    def run() -> None:
        assert parse_requirements(text).render() == text

    _only_own_errors(run)


@given(_TEXT)
def test_bugfix_parser(text: str) -> None:
    def run() -> None:
        assert parse_bugfix(text).render() == text

    _only_own_errors(run)


@given(_TEXT)
def test_design_parser(text: str) -> None:
    def run() -> None:
        assert parse_design(text).render() == text

    _only_own_errors(run)


@given(_TEXT)
def test_tasks_parser_and_graph(text: str) -> None:
    def run() -> None:
        document = parse_tasks(text)
        assert document.render() == text
        graph = TaskGraph(document)
        if graph.find_cycle() is None:
            graph.waves()
            graph.critical_path()
            graph.schedule(3)

    _only_own_errors(run)


@given(_TEXT)
def test_json_file_parsers(text: str) -> None:
    _only_own_errors(lambda: parse_config(text))
    _only_own_errors(lambda: parse_tasks_meta(text).statuses())
