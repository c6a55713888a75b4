"""``design.md``: sections, mermaid diagrams and correctness properties.

A correctness property is written in several ways in real files, all read here:
``### Property 1: Title`` (a heading), ``**Property 1: Title**`` or ``Property 1: Title`` (a
paragraph), ``#### Property 1.2: Title`` (nested ids); each is followed by its statement
(``*For any* ...``) and a ``**Validates: Requirements 1.1, 2.3**`` line (ranges allowed).

Parsed documents are lossless: ``render()`` gives back the scanned text byte for byte.

May import: sibling modules of ``specloom.spec``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from specloom.spec.markdown import Document, LineKind, scan
from specloom.spec.refs import PROPERTY_WORDS, VALIDATES_LINE, parse_id_list

__all__ = [
    "DesignDocument",
    "Diagram",
    "Property",
    "Section",
    "parse_design",
    "render_design",
]

_PROPERTY = re.compile(
    r"^\s*(?:[-*+]\s+)?(?:\*\*|__)?\s*(?:" + PROPERTY_WORDS + r")\s*(?P<id>\d+(?:\.\d+)*)\s*"
    r"(?:[:：.\-–—]\s*(?P<title>.*?))?\s*(?:\*\*|__)?\s*$",
    re.IGNORECASE,
)


@dataclass(slots=True)
class Section:
    """A heading and the lines under it.

    Attributes:
        title: Heading text.
        level: Heading level (1-6).
        line: 1-based line of the heading.
        end_line: 1-based last line of the section (sub-sections included).
        slug: Lower-case, dash-separated title (``components-and-interfaces``).
    """

    title: str
    level: int
    line: int
    end_line: int
    slug: str


@dataclass(slots=True)
class Diagram:
    """A fenced ``mermaid`` block.

    Attributes:
        kind: The diagram type (``sequenceDiagram``, ``graph``, ``classDiagram``...).
        source: The diagram text.
        line: 1-based line of the opening fence.
        end_line: 1-based line of the closing fence.
        section: Title of the section that holds it.
    """

    kind: str
    source: str
    line: int
    end_line: int
    section: str


@dataclass(slots=True)
class Property:
    """A correctness property, the source of a property-based test.

    Attributes:
        id: ``"3"`` or ``"1.2"``.
        title: Short name.
        statement: The ``For any ...`` text.
        validates: Criterion or requirement ids it validates.
        line: 1-based line where it starts.
    """

    id: str
    title: str
    statement: str
    validates: list[str]
    line: int


@dataclass(slots=True)
class DesignDocument:
    """A parsed ``design.md``."""

    path: str
    title: str
    sections: list[Section]
    diagrams: list[Diagram]
    properties: list[Property]
    document: Document | None = field(default=None, repr=False, compare=False)

    def section(self, name: str) -> Section | None:
        """The first section whose title or slug matches ``name`` (case-insensitive)."""
        wanted = _slug(name)
        return next((s for s in self.sections if s.slug == wanted), None) or next(
            (s for s in self.sections if wanted in s.slug), None
        )

    def section_text(self, section: Section) -> str:
        """The markdown of ``section``, its heading included."""
        if self.document is None:
            return ""
        lines = self.document.lines[section.line - 1 : section.end_line]
        return "".join(line.raw for line in lines)

    def render(self) -> str:
        """The document as text (the original bytes when parsed)."""
        if self.document is not None:
            return self.document.text()
        return render_design(self.title, [(s.title, "") for s in self.sections], self.properties)


def _slug(text: str) -> str:
    return re.sub(r"[^\w]+", "-", text.strip().lower()).strip("-")


def parse_design(text: str, path: str = "design.md") -> DesignDocument:
    """Parse a ``design.md``.

    Args:
        text: The file's content.
        path: The file name used in messages.
    """
    doc = scan(text, path)
    title = next((h.text for h in doc.headings if h.level == 1), "")
    sections = [
        Section(h.text, h.level, h.line, doc.section_end(h.line), _slug(h.text))
        for h in doc.headings
    ]
    diagrams: list[Diagram] = []
    for line in doc.lines:
        if line.kind is LineKind.FENCE_OPEN and line.info.lower().startswith("mermaid"):
            body: list[str] = []
            end = line.number
            for following in doc.lines[line.number :]:
                if following.fence != line.fence:
                    break
                end = following.number
                if following.kind is LineKind.FENCE_CLOSE:
                    break
                body.append(following.text)
            source = "\n".join(body)
            first = source.strip().split(maxsplit=1)
            holder = next((h.text for h in reversed(doc.headings) if h.line < line.number), "")
            diagrams.append(Diagram(first[0] if first else "", source, line.number, end, holder))
    return DesignDocument(path, title, sections, diagrams, _properties(doc), doc)


def _properties(doc: Document) -> list[Property]:
    starts: list[tuple[int, str, str, int]] = []  # line, id, title, heading level (0 = text)
    for line in doc.lines:
        if line.kind is LineKind.HEADING:
            match = _PROPERTY.match(line.content)
            level = line.level
        elif line.kind in (LineKind.TEXT, LineKind.ITEM):
            match = _PROPERTY.match(line.text)
            level = 0
        else:
            continue
        if match and (match.group("title") or level):
            starts.append((line.number, match.group("id"), match.group("title") or "", level))
    properties: list[Property] = []
    heading_lines = [h.line for h in doc.headings]
    for position, (start, prop_id, title, level) in enumerate(starts):
        limit = starts[position + 1][0] - 1 if position + 1 < len(starts) else len(doc.lines)
        if level:
            limit = min(limit, doc.section_end(start))
        else:
            limit = min([limit] + [h - 1 for h in heading_lines if h > start])
        statement: list[str] = []
        validates: list[str] = []
        for number in range(start + 1, limit + 1):
            line = doc.line(number)
            if line.kind in (LineKind.FENCE_BODY, LineKind.FENCE_OPEN, LineKind.FENCE_CLOSE):
                continue
            found = VALIDATES_LINE.search(line.text)
            if found:
                for value in parse_id_list(found.group("refs")):
                    if value not in validates:
                        validates.append(value)
                continue
            if line.kind in (LineKind.TEXT, LineKind.ITEM) and line.text.strip():
                statement.append(line.text.strip())
        properties.append(Property(prop_id, title.strip().strip("*_").strip(), " ".join(statement),
                                   validates, start))  # fmt: skip
    return properties


def render_design(
    title: str,
    sections: list[tuple[str, str]],
    properties: list[Property],
) -> str:
    """Write a design document in Kiro's layout.

    Args:
        title: The ``#`` heading (``Design Document``).
        sections: ``(heading, markdown body)`` pairs written as ``##`` sections, in order;
            a section titled ``Correctness Properties`` is where the properties go (one is
            added before ``Error Handling``/``Testing Strategy`` if missing).
        properties: The correctness properties.

    Returns:
        Markdown text ending with one newline.
    """
    out: list[str] = [f"# {title or 'Design Document'}", ""]
    titles = [heading.lower() for heading, _ in sections]
    if properties and "correctness properties" not in titles:
        position = next(
            (i for i, h in enumerate(titles) if h in ("error handling", "testing strategy")),
            len(sections),
        )
        sections = [*sections[:position], ("Correctness Properties", ""), *sections[position:]]
    for heading, body in sections:
        out += [f"## {heading}", ""]
        if body.strip():
            out += [body.strip("\n"), ""]
        if heading.lower() == "correctness properties":
            for prop in properties:
                out += [f"### Property {prop.id}: {prop.title}", ""]
                if prop.statement:
                    out += [prop.statement, ""]
                if prop.validates:
                    out += [f"**Validates: Requirements {', '.join(prop.validates)}**", ""]
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"
