"""``requirements.md``: parse (any language, old and new Kiro styles) and render (Kiro style).

Structure is recognised by shape, not by English words: a requirement is a heading of the form
``<label> <number>[: <title>]`` (``### Requirement 1: Login``, ``### 需求 1``) whose section holds
a numbered list; its user story is the first bold-labelled paragraph (``**User Story:**``,
``**用户故事：**``); its acceptance criteria are the numbered items of its first sub-section
that has any (``#### Acceptance Criteria``, ``#### 驗收標準``).

Parsed documents are lossless: ``render()`` gives back the scanned text byte for byte.
``render_requirements`` writes a new document in Kiro's own layout.

May import: ``specloom.errors`` and sibling modules of ``specloom.spec``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from specloom.spec.markdown import Document, LineKind, scan

__all__ = [
    "Criterion",
    "GlossaryEntry",
    "Requirement",
    "RequirementsDocument",
    "parse_requirements",
    "render_requirements",
]

# Words for "requirement" in the languages Kiro writes specs in; other labels are accepted
# when the section has the shape of a requirement.
_REQUIREMENT_WORDS = {
    "requirement", "req", "requisito", "requisitos", "exigence", "exigences", "anforderung",
    "requisiti", "requisito funcional", "vereiste", "wymaganie", "gereksinim", "yêu cầu",
    "требование", "вимога", "需求", "要求", "要件", "需要", "요구사항", "요건", "متطلب",
}  # fmt: skip
_GLOSSARY_WORDS = {
    "glossary", "glossaire", "glossar", "glosario", "glossário", "glossario", "術語",
    "术语", "术语表", "術語表", "用語集", "用語", "용어", "용어집", "словарь", "глоссарий",
    "terms", "definitions", "terminology",
}  # fmt: skip
_INTRODUCTION_WORDS = {
    "introduction", "overview", "summary", "einleitung", "introducción", "introdução",
    "introduzione", "简介", "介紹", "简介与背景", "概述", "概要", "はじめに", "소개", "введение",
}  # fmt: skip

_NUMBERED_HEADING = re.compile(
    r"^(?P<label>[^\d]*?)[\s#]*(?P<number>\d+(?:\.\d+)*)"
    r"(?:\s*[:：.\-–—)]\s*|\s+|$)(?P<title>.*?)\s*$"
)
_BOLD_LABEL = re.compile(r"^\s*(?:\*\*(?P<star>[^*]+?)\*\*|__(?P<under>[^_]+?)__)\s*(?P<rest>.*)$")
_STORY = re.compile(
    r"^As an?\s+(?P<role>.+?),\s*I want\s+(?P<capability>.+?),?\s*so that\s+(?P<benefit>.+?)\.?$",
    re.IGNORECASE,
)


@dataclass(slots=True)
class Criterion:
    """One acceptance criterion.

    Attributes:
        id: ``<requirement>.<number>``, e.g. ``1.2``.
        text: The criterion text (continuation lines joined with single spaces).
        line: 1-based line of the criterion.
        column: 1-based column where the text starts.
        kind: ``"criterion"`` for feature specs; in bugfix specs ``"current"``,
            ``"expected"`` or ``"unchanged"``.
    """

    id: str
    text: str
    line: int
    column: int
    kind: str = "criterion"


@dataclass(slots=True)
class Requirement:
    """One requirement: a user story and its acceptance criteria.

    Attributes:
        id: The number from its heading, e.g. ``"3"``.
        title: The heading's title after the number (may be empty).
        user_story: The user story sentence (empty when the file has none).
        criteria: Acceptance criteria in document order.
        line: 1-based line of the heading.
        end_line: 1-based last line of the requirement's section.
        heading: The heading text as written.
    """

    id: str
    title: str
    user_story: str
    criteria: list[Criterion]
    line: int = 0
    end_line: int = 0
    heading: str = ""

    def story_parts(self) -> tuple[str, str, str] | None:
        """``(role, capability, benefit)`` of an English user story, or ``None``."""
        match = _STORY.match(self.user_story.strip())
        if not match:
            return None
        return match.group("role"), match.group("capability"), match.group("benefit")


@dataclass(slots=True)
class GlossaryEntry:
    """A glossary term (``- **Issue_Manager**: the system that ...``)."""

    term: str
    definition: str
    line: int = 0


@dataclass(slots=True)
class RequirementsDocument:
    """A parsed ``requirements.md``.

    Attributes:
        path: File name used in messages.
        title: The ``#`` heading (``Requirements Document``).
        introduction: Text of the introduction section.
        glossary: Glossary entries, if the file has a glossary.
        requirements: Requirements in document order.
        document: The scanned file (lossless).
    """

    path: str
    title: str
    introduction: str
    glossary: list[GlossaryEntry]
    requirements: list[Requirement]
    document: Document | None = field(default=None, repr=False, compare=False)

    def criteria(self) -> list[Criterion]:
        """Every criterion, in document order."""
        return [c for r in self.requirements for c in r.criteria]

    def render(self) -> str:
        """The document as text: the original bytes when parsed, Kiro style when built."""
        if self.document is not None:
            return self.document.text()
        return render_requirements(self)


def _is_requirement_word(label: str) -> bool:
    cleaned = label.strip().strip("*_:：#").strip().lower()
    return cleaned in _REQUIREMENT_WORDS


def _bold_label(text: str) -> tuple[str, str] | None:
    """``**User Story:** As a...`` gives ``("User Story", "As a...")``."""
    match = _BOLD_LABEL.match(text)
    if not match:
        return None
    label = (match.group("star") or match.group("under")).strip()
    rest = match.group("rest").strip()
    if label.endswith((":", "：")):
        return label.rstrip(":：").strip(), rest
    if rest.startswith((":", "：")):
        return label, rest[1:].strip()
    return None


def _paragraph_from(doc: Document, start: int, end: int) -> str:
    """Text of the paragraph that starts on line ``start`` (1-based), joined by spaces."""
    parts: list[str] = []
    for number in range(start, end + 1):
        line = doc.line(number)
        if line.kind is not LineKind.TEXT:
            break
        parts.append(line.text.strip())
    return " ".join(parts)


def _section_text(doc: Document, first: int, last: int) -> str:
    """Lines ``first``..``last`` (1-based, inclusive) with outer blank lines trimmed."""
    lines = [doc.line(n).text for n in range(first, last + 1)]
    return "\n".join(lines).strip("\n")


def _criteria_items(doc: Document, start: int, end: int) -> list[int]:
    """Indexes of the top-level items that are the criteria of a requirement section."""
    in_range = [i for i in doc.items_between(start + 1, end) if doc.items[i].parent < 0]
    # Prefer the first sub-section that holds numbered items (Acceptance Criteria).
    sub_headings = doc.headings_between(start + 1, end)
    for heading in sub_headings:
        sub_end = min(doc.section_end(heading.line), end)
        ordered = [
            i
            for i in in_range
            if heading.line < doc.items[i].line <= sub_end and doc.items[i].marker[0].isdigit()
        ]
        if ordered:
            return ordered
    ordered = [i for i in in_range if doc.items[i].marker[0].isdigit()]
    if ordered:
        return ordered
    return [i for i in in_range if re.search(r"\bshall\b", doc.items[i].content, re.IGNORECASE)]


def _requirement_headings(doc: Document) -> list[tuple[int, str, str]]:
    """``(heading line, id, title)`` for every heading that opens a requirement."""
    found: list[tuple[int, str, str]] = []
    for heading in doc.headings:
        if heading.level < 2:
            continue
        match = _NUMBERED_HEADING.match(heading.text)
        if not match:
            continue
        label = match.group("label")
        if not _is_requirement_word(label):
            end = doc.section_end(heading.line)
            if not _criteria_items(doc, heading.line, end):
                continue
            if label.strip() and len(label.split()) > 3:
                continue
        found.append((heading.line, match.group("number"), (match.group("title") or "").strip()))
    if not found:
        return found
    # Requirements are siblings: keep the headings at the level most of them use.
    levels = [doc.line(line).level for line, _, _ in found]
    level = min(levels, key=lambda lv: (-levels.count(lv), lv))
    return [entry for entry in found if doc.line(entry[0]).level == level]


def parse_requirements(text: str, path: str = "requirements.md") -> RequirementsDocument:
    """Parse a ``requirements.md``.

    Args:
        text: The file's content.
        path: The file name used in messages and findings.

    Returns:
        The parsed document; ``render()`` gives ``text`` back unchanged.
    """
    doc = scan(text, path)
    title = next((h.text for h in doc.headings if h.level == 1), "")
    headings = _requirement_headings(doc)
    first_requirement = headings[0][0] if headings else len(doc.lines) + 1

    introduction = ""
    glossary: list[GlossaryEntry] = []
    for heading in doc.headings:
        if heading.line >= first_requirement or heading.level < 2:
            continue
        name = heading.text.strip().strip("*_:：").strip().lower()
        end = min(doc.section_end(heading.line), first_requirement - 1)
        if name in _INTRODUCTION_WORDS and not introduction:
            introduction = _section_text(doc, heading.line + 1, end)
        elif name in _GLOSSARY_WORDS:
            glossary.extend(_glossary_entries(doc, heading.line, end))
    if not introduction:
        first_h2 = next((h.line for h in doc.headings if h.level >= 2), first_requirement)
        start = next((h.line + 1 for h in doc.headings if h.level == 1), 1)
        if first_h2 > start:
            introduction = _section_text(doc, start, first_h2 - 1)

    requirements: list[Requirement] = []
    for line, number, req_title in headings:
        end = doc.section_end(line)
        items = _criteria_items(doc, line, end)
        first_item = doc.items[items[0]].line if items else end + 1
        user_story = ""
        for n in range(line + 1, first_item):
            current = doc.line(n)
            if current.kind is not LineKind.TEXT:
                continue
            labelled = _bold_label(current.text)
            if labelled is not None:
                rest = _paragraph_from(doc, n + 1, first_item - 1)
                user_story = " ".join(p for p in (labelled[1], rest) if p)
                break
            if _STORY.match(current.text.strip()) or current.text.strip().lower().startswith(
                ("as a ", "as an ")
            ):
                user_story = _paragraph_from(doc, n, first_item - 1)
                break
        criteria = _criteria_from_items(doc, number, items)
        requirements.append(
            Requirement(
                id=number,
                title=req_title,
                user_story=user_story,
                criteria=criteria,
                line=line,
                end_line=end,
                heading=doc.line(line).content,
            )
        )
    return RequirementsDocument(path, title, introduction, glossary, requirements, doc)


def _criteria_from_items(
    doc: Document, requirement_id: str, items: list[int], kind: str = "criterion"
) -> list[Criterion]:
    """Criteria from list items; ids use the written numbers when they are unique."""
    written = [doc.items[i].marker[:-1] for i in items]
    use_written = all(w.isdigit() for w in written) and len(set(written)) == len(written)
    criteria: list[Criterion] = []
    for position, index in enumerate(items, start=1):
        item = doc.items[index]
        number = written[position - 1] if use_written else str(position)
        raw = doc.line(item.line).text
        column = raw.find(item.content) + 1 if item.content else item.content_column + 1
        criteria.append(
            Criterion(
                id=f"{requirement_id}.{int(number)}",
                text=doc.item_paragraph(index),
                line=item.line,
                column=column,
                kind=kind,
            )
        )
    return criteria


def _glossary_entries(doc: Document, heading_line: int, end: int) -> list[GlossaryEntry]:
    entries: list[GlossaryEntry] = []
    for index in doc.items_between(heading_line + 1, end):
        item = doc.items[index]
        if item.parent >= 0:
            continue
        content = doc.item_paragraph(index)
        labelled = _bold_label(content)
        if labelled is not None:
            entries.append(GlossaryEntry(labelled[0], labelled[1], item.line))
        elif ":" in content:
            term, _, definition = content.partition(":")
            entries.append(GlossaryEntry(term.strip("*_ "), definition.strip(), item.line))
    return entries


def render_requirements(document: RequirementsDocument) -> str:
    """Write a requirements document in Kiro's layout (ignores any scanned source).

    Args:
        document: The requirements to write.

    Returns:
        Markdown text ending with one newline.
    """
    out: list[str] = [f"# {document.title or 'Requirements Document'}", ""]
    out += ["## Introduction", "", document.introduction.strip() or "", ""]
    if document.glossary:
        out += ["## Glossary", ""]
        out += [f"- **{entry.term}**: {entry.definition}" for entry in document.glossary]
        out.append("")
    out += ["## Requirements", ""]
    for requirement in document.requirements:
        heading = f"### Requirement {requirement.id}"
        if requirement.title:
            heading += f": {requirement.title}"
        out += [heading, ""]
        if requirement.user_story:
            out += [f"**User Story:** {requirement.user_story}", ""]
        out += ["#### Acceptance Criteria", ""]
        for criterion in requirement.criteria:
            number = criterion.id.rsplit(".", 1)[-1]
            out.append(f"{number}. {criterion.text}")
        out.append("")
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"
