"""A fast, lossless block scanner for the markdown of spec files.

Spec parsers need the block structure of a file (headings, list items and how they nest,
fenced code, HTML blocks) with exact line and column positions, and they must never mistake
the inside of a fenced code block for structure. markdown-it-py gives that, but it parses
about 1.5 MB/s and costs ~50 ms to import, which is too slow for the CLI's start-up and for
specs with thousands of tasks. This scanner does only the block work the parsers need, in one
pass over the lines; the test suite checks it against markdown-it-py's line maps.

The scanner never changes the text: ``Document.lines`` keeps every line with its own line
ending, so ``"".join(lines)`` is the input, byte for byte.

May import: the standard library only.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from enum import Enum

__all__ = ["Document", "Heading", "Line", "LineKind", "ListItem", "scan", "split_lines"]


class LineKind(Enum):
    """What one line is, as far as block structure goes."""

    BLANK = "blank"
    HEADING = "heading"
    ITEM = "item"
    TEXT = "text"
    FENCE_OPEN = "fence_open"
    FENCE_BODY = "fence_body"
    FENCE_CLOSE = "fence_close"
    HTML = "html"
    RULE = "rule"


@dataclass(slots=True)
class Line:
    """One physical line and what it is.

    Attributes:
        number: 1-based line number.
        raw: The line exactly as in the file, line ending included.
        text: The line without its line ending.
        kind: Its block role.
        indent: Columns of leading white space (tabs to the next multiple of 4).
        level: Heading level (1-6) for headings.
        marker: List marker (``-``, ``*``, ``+``, ``1.``, ``2)``) for list items.
        content_column: 0-based column where a list item's content starts.
        content: Heading text or list item content (rest of the line after the marker).
        info: Info string of a fence opener (``json``, ``mermaid``...).
        fence: For fence lines and bodies, the index of the opening line.
    """

    number: int
    raw: str
    text: str
    kind: LineKind
    indent: int = 0
    level: int = 0
    marker: str = ""
    content_column: int = 0
    content: str = ""
    info: str = ""
    fence: int = -1


@dataclass(slots=True)
class Heading:
    """An ATX heading (``## Title``)."""

    line: int
    level: int
    text: str


@dataclass(slots=True)
class ListItem:
    """A list item with its extent and nesting.

    Attributes:
        line: 1-based line of the marker.
        end_line: 1-based last line that belongs to the item (its nested items included).
        indent: Column of the marker.
        content_column: Column where the content starts (children are indented to it).
        marker: The list marker.
        content: The first line's content after the marker.
        parent: Index (into ``Document.items``) of the enclosing item, or -1.
        children: Indexes of the directly nested items.
    """

    line: int
    end_line: int
    indent: int
    content_column: int
    marker: str
    content: str
    parent: int = -1
    children: list[int] = field(default_factory=list)


_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_ITEM = re.compile(r"^([ \t]*)([-*+]|\d{1,9}[.)])([ \t]+|$)")
_FENCE = re.compile(r"^([ \t]*)(`{3,}|~{3,})(.*)$")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_HTML_OPEN = re.compile(r"^ {0,3}<!--")
# A line whose first non-blank character is none of these can only be paragraph text.
_STRUCTURAL_STARTS = frozenset("`~<#-*_+0123456789")


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def split_lines(text: str) -> list[str]:
    """Split ``text`` into lines that keep their endings.

    Only ``\\n``, ``\\r\\n`` and ``\\r`` end a line, as in markdown (``str.splitlines`` would
    also split at form feeds, ``\\x1c``-``\\x1e``, ``\\x85`` and ``\\u2028``, shifting every
    line number after them).
    """
    if "\r" not in text:
        lines = [line + "\n" for line in text.split("\n")]
        last = lines.pop()
        if last != "\n":
            lines.append(last[:-1])
        return lines
    return _LINE.findall(text)


def _strip_eol(raw: str) -> str:
    if raw[-1:] == "\n":
        return raw[:-2] if raw[-2:-1] == "\r" else raw[:-1]
    if raw[-1:] == "\r":
        return raw[:-1]
    return raw


def _columns(prefix: str) -> int:
    """Width of leading white space, with tabs to the next multiple of 4."""
    if "\t" not in prefix:
        return len(prefix)
    width = 0
    for char in prefix:
        width = width + 4 - width % 4 if char == "\t" else width + 1
    return width


class Document:
    """The scanned lines of one markdown file, plus its headings and list items.

    Attributes:
        path: The file name used in messages.
        lines: Every line, in order.
        headings: ATX headings outside code and HTML blocks.
        items: List items outside code and HTML blocks, in document order.
    """

    __slots__ = (
        "headings",
        "items",
        "lines",
        "path",
        "_heading_lines",
        "_item_at_line",
        "_item_lines",
        "_section_ends",
    )

    def __init__(self, path: str, lines: list[Line]) -> None:
        self.path = path
        self.lines = lines
        self.headings = [
            Heading(line.number, line.level, line.content)
            for line in lines
            if line.kind is LineKind.HEADING
        ]
        self.items = _build_items(lines)
        self._item_at_line = {item.line: index for index, item in enumerate(self.items)}
        self._item_lines = [item.line for item in self.items]
        self._heading_lines = [heading.line for heading in self.headings]
        self._section_ends = _section_ends(self.headings, len(lines))

    def text(self) -> str:
        """The file's text, exactly as it was scanned."""
        return "".join(line.raw for line in self.lines)

    def line(self, number: int) -> Line:
        """The line with 1-based ``number``."""
        return self.lines[number - 1]

    def item_at(self, line_number: int) -> int:
        """Index of the list item whose marker is on ``line_number``, or -1."""
        return self._item_at_line.get(line_number, -1)

    def own_lines(self, index: int) -> list[Line]:
        """Lines of list item ``index`` that belong to it and not to a nested item."""
        item = self.items[index]
        child_ranges = [(self.items[c].line, self.items[c].end_line) for c in item.children]
        own: list[Line] = []
        for number in range(item.line, item.end_line + 1):
            if any(start <= number <= end for start, end in child_ranges):
                continue
            own.append(self.lines[number - 1])
        return own

    def item_paragraph(self, index: int) -> str:
        """The first paragraph of item ``index``: its first line plus continuation lines,
        joined by single spaces."""
        item = self.items[index]
        parts = [item.content]
        for line in self.lines[item.line : item.end_line]:
            if line.kind is not LineKind.TEXT:
                break
            parts.append(line.text.strip())
        return " ".join(part for part in parts if part)

    def section_end(self, heading_line: int) -> int:
        """Last line (1-based) of the section a heading opens: up to the next heading of the
        same or a higher level, or the end of the file."""
        return self._section_ends[heading_line]

    def items_between(self, first: int, last: int) -> range:
        """Indexes of the items whose marker line is in ``first``..``last`` (1-based)."""
        return range(bisect_left(self._item_lines, first), bisect_right(self._item_lines, last))

    def headings_between(self, first: int, last: int) -> list[Heading]:
        """Headings on lines ``first``..``last`` (1-based, inclusive)."""
        low = bisect_left(self._heading_lines, first)
        high = bisect_right(self._heading_lines, last)
        return self.headings[low:high]


def _section_ends(headings: list[Heading], line_count: int) -> dict[int, int]:
    """For each heading line, the last line of its section, in one pass with a stack."""
    ends: dict[int, int] = {}
    open_headings: list[Heading] = []
    for heading in headings:
        while open_headings and open_headings[-1].level >= heading.level:
            ends[open_headings.pop().line] = heading.line - 1
        open_headings.append(heading)
    for heading in open_headings:
        ends[heading.line] = line_count
    return ends


def scan(text: str, path: str = "<text>") -> Document:
    """Scan ``text`` into lines classified by block role.

    Fences open on a line of three or more backticks or tildes (at any indentation, so that
    fences inside list items count) and close on a line of the same character at least as
    long; an unclosed fence runs to the end of the file, as in CommonMark.
    """
    raw_lines = split_lines(text)
    lines: list[Line] = []
    fence_char = ""
    fence_length = 0
    fence_start = -1
    in_html = False
    previous_kind = LineKind.BLANK
    for index, raw in enumerate(raw_lines):
        stripped = _strip_eol(raw)
        number = index + 1
        if fence_char:
            match = _FENCE.match(stripped)
            if (
                match
                and match.group(2)[0] == fence_char
                and len(match.group(2)) >= fence_length
                and not match.group(3).strip()
            ):
                lines.append(Line(number, raw, stripped, LineKind.FENCE_CLOSE, fence=fence_start))
                fence_char = ""
            else:
                lines.append(Line(number, raw, stripped, LineKind.FENCE_BODY, fence=fence_start))
            previous_kind = lines[-1].kind
            continue
        if in_html:
            lines.append(Line(number, raw, stripped, LineKind.HTML))
            if "-->" in stripped:
                in_html = False
            previous_kind = LineKind.HTML
            continue
        if not stripped.strip():
            lines.append(Line(number, raw, stripped, LineKind.BLANK))
            previous_kind = LineKind.BLANK
            continue
        lead = len(stripped) - len(stripped.lstrip(" \t"))
        indent = _columns(stripped[:lead])
        first = stripped[lead]
        if first not in _STRUCTURAL_STARTS:
            lines.append(Line(number, raw, stripped, LineKind.TEXT, indent=indent))
            previous_kind = LineKind.TEXT
            continue
        fence = _FENCE.match(stripped) if first in "`~" else None
        if fence and not (fence.group(2)[0] == "`" and "`" in fence.group(3)):
            fence_char = fence.group(2)[0]
            fence_length = len(fence.group(2))
            fence_start = index
            lines.append(
                Line(
                    number,
                    raw,
                    stripped,
                    LineKind.FENCE_OPEN,
                    indent=indent,
                    info=fence.group(3).strip(),
                    fence=index,
                )
            )
            previous_kind = LineKind.FENCE_OPEN
            continue
        if first == "<" and _HTML_OPEN.match(stripped):
            lines.append(Line(number, raw, stripped, LineKind.HTML, indent=indent))
            in_html = "-->" not in stripped[stripped.index("<!--") + 4 :]
            previous_kind = LineKind.HTML
            continue
        heading = _HEADING.match(stripped) if first == "#" else None
        if heading:
            lines.append(
                Line(
                    number,
                    raw,
                    stripped,
                    LineKind.HEADING,
                    indent=indent,
                    level=len(heading.group(1)),
                    content=(heading.group(2) or "").strip(),
                )
            )
            previous_kind = LineKind.HEADING
            continue
        if (
            first in "-*_"
            and _RULE.match(stripped)
            and not (previous_kind is LineKind.TEXT and stripped.strip()[0] in "-=")
        ):
            lines.append(Line(number, raw, stripped, LineKind.RULE, indent=indent))
            previous_kind = LineKind.RULE
            continue
        item = _ITEM.match(stripped)
        if item:
            marker = item.group(2)
            spacing = item.group(3)
            # An ordered item can interrupt a paragraph only when it starts at 1 (CommonMark);
            # inside a list the previous line is an item or its continuation, so this only
            # rejects "2020. was a year"-style lines in running text.
            interrupts = previous_kind is not LineKind.TEXT or not marker[0].isdigit()
            if interrupts or marker[:-1] == "1" or _inside_item(lines):
                start = _columns(item.group(1))
                marker_end = start + len(marker)
                gap = _columns(stripped[: item.end()]) - marker_end
                if not spacing:
                    content_column = marker_end + 1
                elif gap > 4:
                    content_column = marker_end + 1
                else:
                    content_column = marker_end + gap
                lines.append(
                    Line(
                        number,
                        raw,
                        stripped,
                        LineKind.ITEM,
                        indent=start,
                        marker=marker,
                        content_column=content_column,
                        content=stripped[item.end() :].strip(),
                    )
                )
                previous_kind = LineKind.ITEM
                continue
        lines.append(Line(number, raw, stripped, LineKind.TEXT, indent=indent))
        previous_kind = LineKind.TEXT
    return Document(path, lines)


def _inside_item(lines: list[Line]) -> bool:
    """Whether the paragraph just above continues a list item (so a number can start one)."""
    for line in reversed(lines):
        if line.kind is LineKind.ITEM:
            return True
        if line.kind is not LineKind.TEXT:
            return False
    return False


def _build_items(lines: list[Line]) -> list[ListItem]:
    """Group item lines into items with extents and parents, the way CommonMark nests them."""
    items: list[ListItem] = []
    open_items: list[int] = []
    blank_before = False
    for line in lines:
        kind = line.kind
        if kind is LineKind.BLANK:
            blank_before = True
            continue
        if kind is LineKind.HEADING or kind is LineKind.RULE:
            open_items.clear()
            blank_before = False
            continue
        if kind is LineKind.FENCE_BODY or kind is LineKind.FENCE_CLOSE:
            # The fence's opening line decided which items contain it.
            for index in open_items:
                items[index].end_line = line.number
            continue
        if kind is LineKind.ITEM:
            while open_items and line.indent < items[open_items[-1]].content_column:
                open_items.pop()
            parent = open_items[-1] if open_items else -1
            item = ListItem(
                line=line.number,
                end_line=line.number,
                indent=line.indent,
                content_column=line.content_column,
                marker=line.marker,
                content=line.content,
                parent=parent,
            )
            items.append(item)
            index = len(items) - 1
            if parent >= 0:
                items[parent].children.append(index)
            open_items.append(index)
            for open_index in open_items:
                items[open_index].end_line = line.number
            blank_before = False
            continue
        # Text, fence openers and HTML: continuation of the innermost item that contains it.
        if blank_before:
            while open_items and line.indent < items[open_items[-1]].content_column:
                open_items.pop()
        for open_index in open_items:
            items[open_index].end_line = line.number
        blank_before = False
    return items
