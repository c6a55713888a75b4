"""``bugfix.md``: current, expected and unchanged behaviour, and the bug condition.

Kiro's layout: ``## Bug Analysis`` with ``### Current Behavior (Defect)`` (criteria ``1.x``,
``WHEN ... THEN the system <does the wrong thing>``), ``### Expected Behavior (Correct)``
(``2.x``, ``SHALL``) and ``### Unchanged Behavior (Regression Prevention)`` (``3.x``, ``SHALL
CONTINUE TO``); newer files add ``## Deriving the Bug Condition`` with an ``isBugCondition``
function, Fix Checking and Preservation Checking properties in fenced blocks.

Criteria are paragraphs that start with their id (``1.2 WHEN ...``), or numbered list items
under one of the three sub-headings; the group comes from the id's first number (1, 2, 3), so
files in any language are read.

May import: sibling modules of ``specloom.spec``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from specloom.spec.markdown import Document, LineKind, scan
from specloom.spec.requirements import Criterion, Requirement

__all__ = ["BugCondition", "BugfixDocument", "parse_bugfix", "render_bugfix"]

KINDS = {"1": "current", "2": "expected", "3": "unchanged"}
GROUP_TITLES = {
    "1": "Current Behavior (Defect)",
    "2": "Expected Behavior (Correct)",
    "3": "Unchanged Behavior (Regression Prevention)",
}
_ID_PARAGRAPH = re.compile(
    r"^\s*(?:[-*+]\s+)?(?:\*\*)?(?P<id>[123]\.\d+)(?:\*\*)?[.:)]?\s+(?P<text>\S.*)$"
)
_GROUP_WORDS = (
    ("1", ("current", "defect", "actual", "現在", "当前", "현재")),
    ("2", ("expected", "correct", "期望", "預期", "期待", "예상")),
    ("3", ("unchanged", "regression", "preserv", "不变", "不變", "変更なし", "유지")),
)


@dataclass(slots=True)
class BugCondition:
    """The ``## Deriving the Bug Condition`` section.

    Attributes:
        condition: Source of the ``isBugCondition`` function (empty when absent).
        fix_checking: Source of the Fix Checking property.
        preservation_checking: Source of the Preservation Checking property.
        line: 1-based line of the section heading.
    """

    condition: str = ""
    fix_checking: str = ""
    preservation_checking: str = ""
    line: int = 0


@dataclass(slots=True)
class BugfixDocument:
    """A parsed ``bugfix.md``.

    Attributes:
        path: File name used in messages.
        title: The ``#`` heading.
        introduction: The introduction's text.
        current: Criteria ``1.x`` (the defect as it is).
        expected: Criteria ``2.x`` (what must happen instead).
        unchanged: Criteria ``3.x`` (what must keep happening).
        bug_condition: The derived bug condition, if the file has one.
    """

    path: str
    title: str
    introduction: str
    current: list[Criterion]
    expected: list[Criterion]
    unchanged: list[Criterion]
    bug_condition: BugCondition | None = None
    group_lines: dict[str, int] = field(default_factory=dict)
    document: Document | None = field(default=None, repr=False, compare=False)

    @property
    def requirements(self) -> list[Requirement]:
        """The three groups as requirements ``1``, ``2`` and ``3``, so tasks citing ``2.1``
        resolve the same way as in feature specs."""
        groups = (("1", self.current), ("2", self.expected), ("3", self.unchanged))
        return [
            Requirement(
                id=key,
                title=GROUP_TITLES[key],
                user_story=GROUP_TITLES[key],
                criteria=criteria,
                line=self.group_lines.get(key, 0),
            )
            for key, criteria in groups
            if criteria or key in self.group_lines
        ]

    def criteria(self) -> list[Criterion]:
        """Every criterion, in group order."""
        return [*self.current, *self.expected, *self.unchanged]

    def render(self) -> str:
        """The document as text (the original bytes when parsed)."""
        if self.document is not None:
            return self.document.text()
        return render_bugfix(self)


def _group_of_heading(text: str) -> str | None:
    lowered = text.lower()
    for key, words in _GROUP_WORDS:
        if any(word in lowered for word in words):
            return key
    return None


def parse_bugfix(text: str, path: str = "bugfix.md") -> BugfixDocument:
    """Parse a ``bugfix.md``.

    Args:
        text: The file's content.
        path: The file name used in messages.
    """
    doc = scan(text, path)
    title = next((h.text for h in doc.headings if h.level == 1), "")
    groups: dict[str, list[Criterion]] = {"1": [], "2": [], "3": []}
    group_lines: dict[str, int] = {}
    current_group: str | None = None
    counters = {"1": 0, "2": 0, "3": 0}
    introduction = ""
    condition: BugCondition | None = None
    for heading in doc.headings:
        lowered = heading.text.lower()
        if heading.level == 2 and not introduction and "introduction" in lowered:
            end = doc.section_end(heading.line)
            introduction = "\n".join(doc.line(n).text for n in range(heading.line + 1, end + 1))
            introduction = introduction.strip("\n")
        if heading.level == 2 and "bug condition" in lowered:
            condition = _bug_condition(doc, heading.line)
    for line in doc.lines:
        if line.kind is LineKind.HEADING:
            current_group = _group_of_heading(line.content) if line.level >= 3 else None
            if current_group and current_group not in group_lines:
                group_lines[current_group] = line.number
            continue
        if line.kind not in (LineKind.TEXT, LineKind.ITEM):
            continue
        match = _ID_PARAGRAPH.match(line.text)
        if match:
            key = match.group("id").split(".")[0]
            criterion_id = match.group("id")
            body = _paragraph(doc, line.number, match.group("text"))
        elif line.kind is LineKind.ITEM and line.marker[0].isdigit() and current_group:
            key = current_group
            counters[key] += 1
            criterion_id = f"{key}.{counters[key]}"
            body = doc.item_paragraph(doc.item_at(line.number))
        else:
            continue
        column = line.text.find(body.split(" ", 1)[0]) + 1 if body else 1
        groups[key].append(Criterion(criterion_id, body, line.number, column, KINDS[key]))
    return BugfixDocument(
        path,
        title,
        introduction,
        groups["1"],
        groups["2"],
        groups["3"],
        condition,
        group_lines,
        doc,
    )


def _paragraph(doc: Document, start: int, first: str) -> str:
    parts = [first.strip()]
    for line in doc.lines[start:]:
        if line.kind is not LineKind.TEXT or _ID_PARAGRAPH.match(line.text):
            break
        parts.append(line.text.strip())
    return " ".join(parts)


def _bug_condition(doc: Document, heading_line: int) -> BugCondition:
    end = doc.section_end(heading_line)
    found = BugCondition(line=heading_line)
    label = ""
    block: list[str] = []
    for number in range(heading_line + 1, end + 1):
        line = doc.line(number)
        if line.kind is LineKind.HEADING:
            label = line.content.lower()
        elif line.kind is LineKind.FENCE_BODY:
            block.append(line.text)
        elif line.kind is LineKind.FENCE_CLOSE or (block and line.kind is not LineKind.FENCE_BODY):
            source = "\n".join(block)
            block = []
            if "isbugcondition" in source.lower() and "function" in source.lower():
                found.condition = found.condition or source
            elif "preservation" in label or "not isbugcondition" in source.lower():
                found.preservation_checking = found.preservation_checking or source
            elif "fix" in label or "isbugcondition" in source.lower():
                found.fix_checking = found.fix_checking or source
    return found


def render_bugfix(document: BugfixDocument) -> str:
    """Write a bugfix document in Kiro's layout.

    Returns:
        Markdown text ending with one newline.
    """
    out = [f"# {document.title or 'Bugfix Requirements Document'}", ""]
    out += ["## Introduction", "", document.introduction.strip(), ""]
    out += ["## Bug Analysis", ""]
    for key, criteria in (("1", document.current), ("2", document.expected),
                          ("3", document.unchanged)):  # fmt: skip
        out += [f"### {GROUP_TITLES[key]}", ""]
        for criterion in criteria:
            out += [f"{criterion.id} {criterion.text}", ""]
    condition = document.bug_condition
    if condition and (condition.condition or condition.fix_checking):
        out += ["## Deriving the Bug Condition", ""]
        for heading, source in (
            ("Bug Condition Function", condition.condition),
            ("Property Specification (Fix Checking)", condition.fix_checking),
            ("Preservation Goal (Preservation Checking)", condition.preservation_checking),
        ):
            if source:
                out += [f"### {heading}", "", "```pascal", source.strip("\n"), "```", ""]
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"
