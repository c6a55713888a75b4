"""Traceability: criterion -> tasks -> tests -> code, and the coverage figures per spec.

Tests are found by what they say they verify: ``Validates: Requirements X.Y`` (or
``Requirements: X.Y``) in a comment or docstring, and ``@pytest.mark.requirement("X.Y")``.
A tag inside a test function (or just above it) links that test; a tag at the top of a file
links every test in the file. A file that names a different spec (``Feature: other-spec`` or
``Spec: other-spec``) is not counted for this one.

Code is linked two ways: paths a citing task names in backticks that exist in the project,
and the project modules a linked Python test imports.

This module is pure: the caller passes file texts and the set of existing paths.

May import: sibling modules of ``specloom.spec``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from specloom.spec.analysis import covered_criteria
from specloom.spec.model import Spec
from specloom.spec.refs import parse_id_list
from specloom.spec.tasks import Status

__all__ = ["TestReference", "TraceMatrix", "TraceRow", "build_trace", "find_test_references"]

_TAG = re.compile(
    r"(?:Validates|Requirements?)\s*(?:\*\*|__)?\s*[:：]\s*(?:\*\*|__)?\s*(?:Requirements?\s*)?"
    r"(?P<refs>\d+(?:\.\d+)*(?:\s*(?:,|and|&|-|–)\s*\d+(?:\.\d+)*)*)",
    re.IGNORECASE,
)
_MARK = re.compile(r"@pytest\.mark\.requirements?\((?P<args>[^)]*)\)")
_QUOTED = re.compile(r"[\"']([^\"']+)[\"']")
_SPEC_NAME = re.compile(r"\b(?:Feature|Spec)\s*:\s*([A-Za-z0-9_.\-]+)")
_PATH_IN_TICKS = re.compile(r"`([^`\s]+\.[A-Za-z0-9]{1,8})`")
_OTHER_TEST = re.compile(
    r"^\s*(?:async\s+)?(?:def\s+(test\w*)|func\s+(Test\w+)|(?:it|test)\s*\(\s*[\"'`]([^\"'`]+))"
)


@dataclass(frozen=True, slots=True)
class TestReference:
    """A test that says which criteria it verifies.

    Attributes:
        test: ``path::function`` (or ``path`` for a file-level tag).
        path: The test file.
        line: 1-based line of the tag.
        ids: Criterion or requirement ids it names.
    """

    __test__ = False  # not a pytest test class

    test: str
    path: str
    line: int
    ids: tuple[str, ...]


@dataclass(slots=True)
class TraceRow:
    """One criterion and what implements and verifies it."""

    criterion: str
    text: str
    tasks: list[str] = field(default_factory=list)
    tasks_done: list[str] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)
    code: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready mapping."""
        return {
            "criterion": self.criterion,
            "text": self.text,
            "tasks": self.tasks,
            "tasks_done": self.tasks_done,
            "tests": self.tests,
            "code": self.code,
        }


@dataclass(slots=True)
class TraceMatrix:
    """The whole matrix of one spec, and its coverage."""

    spec: str
    rows: list[TraceRow]

    def coverage(self) -> dict[str, object]:
        """Counts and percentages: criteria with tasks, with done tasks, with tests, with code."""
        total = len(self.rows)

        def share(count: int) -> float:
            return round(100.0 * count / total, 1) if total else 0.0

        with_tasks = sum(1 for row in self.rows if row.tasks)
        with_done = sum(1 for row in self.rows if row.tasks_done)
        with_tests = sum(1 for row in self.rows if row.tests)
        with_code = sum(1 for row in self.rows if row.code)
        return {
            "criteria": total,
            "with_tasks": with_tasks,
            "with_done_tasks": with_done,
            "with_tests": with_tests,
            "with_code": with_code,
            "tasks_percent": share(with_tasks),
            "done_percent": share(with_done),
            "tests_percent": share(with_tests),
            "code_percent": share(with_code),
        }

    def to_dict(self) -> dict[str, object]:
        """JSON-ready mapping."""
        return {
            "spec": self.spec,
            "rows": [row.to_dict() for row in self.rows],
            "coverage": self.coverage(),
        }


def _python_tests(text: str) -> list[tuple[int, int, str]] | None:
    """``(first line, last line, name)`` of each function in a Python file (decorators
    included), or ``None`` when it does not parse."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    spans: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            spans.append((first, node.end_lineno or node.lineno, node.name))
    return spans


def find_test_references(path: str, text: str, spec_name: str) -> list[TestReference]:
    """The criteria tags in one test file that belong to ``spec_name``.

    Args:
        path: The file's path, as shown.
        text: Its content.
        spec_name: Only tags for this spec count (files naming no spec count for every spec).
    """
    names = set(_SPEC_NAME.findall(text))
    if names and spec_name not in names:
        return []
    lines = text.splitlines()
    spans = _python_tests(text) if path.endswith(".py") else None
    references: list[TestReference] = []
    for number, line in enumerate(lines, start=1):
        ids: list[str] = []
        for match in _TAG.finditer(line):
            ids.extend(parse_id_list(match.group("refs")))
        for match in _MARK.finditer(line):
            for value in _QUOTED.findall(match.group("args")):
                ids.extend(parse_id_list(value))
        if not ids:
            continue
        test = _test_at(path, lines, number, spans)
        references.append(TestReference(test, path, number, tuple(dict.fromkeys(ids))))
    return references


def _test_at(
    path: str, lines: list[str], number: int, spans: list[tuple[int, int, str]] | None
) -> str:
    if spans is not None:
        inside = [span for span in spans if span[0] <= number <= span[1]]
        if inside:
            return f"{path}::{max(inside, key=lambda span: span[0])[2]}"
        following = [span for span in spans if 0 < span[0] - number <= 3]
        if following:
            return f"{path}::{min(following)[2]}"
        return path
    for offset in range(0, 6):
        for candidate in (number + offset, number - offset):
            if 1 <= candidate <= len(lines):
                match = _OTHER_TEST.match(lines[candidate - 1])
                if match:
                    name = next(group for group in match.groups() if group)
                    return f"{path}::{name}"
    return path


def _imported_files(text: str, existing: set[str]) -> list[str]:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    modules: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.append(node.module)
            modules.extend(f"{node.module}.{alias.name}" for alias in node.names)
    found: list[str] = []
    for module in modules:
        stem = module.replace(".", "/")
        for candidate in (f"{stem}.py", f"src/{stem}.py", f"{stem}/__init__.py"):
            if candidate in existing and candidate not in found:
                found.append(candidate)
    return found


def build_trace(
    spec: Spec,
    test_files: Mapping[str, str],
    existing_files: set[str],
) -> TraceMatrix:
    """The traceability matrix of ``spec``.

    Args:
        spec: The parsed spec.
        test_files: Test file path (relative to the project root) to text.
        existing_files: Every file path in the project (relative), for code links.
    """
    statuses = spec.statuses()
    cited = covered_criteria(spec)
    criteria = spec.criteria()
    by_requirement: dict[str, list[str]] = {}
    for criterion in criteria:
        by_requirement.setdefault(criterion.id.rsplit(".", 1)[0], []).append(criterion.id)
    tests_of: dict[str, list[str]] = {criterion.id: [] for criterion in criteria}
    test_imports: dict[str, list[str]] = {}
    for path, text in sorted(test_files.items()):
        references = find_test_references(path, text, spec.name)
        if references and path.endswith(".py"):
            test_imports[path] = _imported_files(text, existing_files)
        for reference in references:
            for identifier in reference.ids:
                for target in by_requirement.get(identifier, [identifier]):
                    if target in tests_of and reference.test not in tests_of[target]:
                        tests_of[target].append(reference.test)
    tasks = {task.id: task for task in (spec.tasks.tasks if spec.tasks else [])}
    rows: list[TraceRow] = []
    for criterion in criteria:
        row = TraceRow(criterion.id, criterion.text)
        row.tasks = list(cited.get(criterion.id, []))
        row.tasks_done = [t for t in row.tasks if statuses.get(t) is Status.DONE]
        row.tests = tests_of[criterion.id]
        code: list[str] = []
        for task_id in row.tasks:
            task = tasks[task_id]
            for text in (task.title, *task.details):
                for path in _PATH_IN_TICKS.findall(text):
                    cleaned = path.removeprefix("./")
                    if cleaned in existing_files and cleaned not in code:
                        code.append(cleaned)
        for test in row.tests:
            for path in test_imports.get(test.split("::", 1)[0], []):
                if path not in code:
                    code.append(path)
        row.code = code
        rows.append(row)
    return TraceMatrix(spec.name, rows)
