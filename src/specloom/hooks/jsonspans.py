"""Where each value of a JSON document is: for error lines and in-place edits of hook files.

``parse_spans`` reads a JSON text (already known to be valid) into a tree of ``Span`` nodes:
each value's start and end offsets in the text, its children by key or index, and for object
members the offset of the key. Errors about a field can then name its line, and ``hooks
enable`` can change one value without rewriting the rest of the user's file.

May import: the standard library only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Span", "line_of", "parse_spans"]

_WHITESPACE = " \t\n\r"
_DECODER = json.JSONDecoder()


@dataclass(slots=True)
class Span:
    """One JSON value and where it is.

    Attributes:
        start: Offset of its first character.
        end: Offset just past its last character.
        key_start: For an object member, the offset of its key's opening quote.
        children: Members (by key) or items (by index).
        value: The decoded value (for scalars; containers hold ``None``).
    """

    start: int
    end: int
    key_start: int | None = None
    children: dict[str | int, Span] = field(default_factory=dict)
    value: Any = None

    def find(self, *path: str | int) -> Span | None:
        """The span at ``path`` below this one, or ``None``."""
        node: Span | None = self
        for key in path:
            if node is None:
                return None
            node = node.children.get(key)
        return node


def line_of(text: str, offset: int) -> int:
    """The 1-based line of ``offset`` in ``text``."""
    return text.count("\n", 0, offset) + 1


def _skip(text: str, index: int) -> int:
    while index < len(text) and text[index] in _WHITESPACE:
        index += 1
    return index


def parse_spans(text: str) -> Span:
    """The span tree of a valid JSON document.

    Raises:
        json.JSONDecodeError: The text is not valid JSON.
    """
    json.loads(text)  # the decoder's own errors, with their line and column
    span, end = _value(text, _skip(text, 0))
    return span


def _value(text: str, index: int) -> tuple[Span, int]:
    char = text[index]
    if char == "{":
        return _object(text, index)
    if char == "[":
        return _array(text, index)
    value, end = _DECODER.raw_decode(text, index)
    return Span(index, end, value=value), end


def _object(text: str, start: int) -> tuple[Span, int]:
    span = Span(start, start)
    index = _skip(text, start + 1)
    if text[index] == "}":
        span.end = index + 1
        return span, span.end
    while True:
        key_start = index
        key, index = json.decoder.scanstring(text, index + 1)  # type: ignore[attr-defined]
        index = _skip(text, index)
        index = _skip(text, index + 1)  # the colon
        child, index = _value(text, index)
        child.key_start = key_start
        span.children[key] = child
        index = _skip(text, index)
        if text[index] == "}":
            span.end = index + 1
            return span, span.end
        index = _skip(text, index + 1)  # the comma


def _array(text: str, start: int) -> tuple[Span, int]:
    span = Span(start, start)
    index = _skip(text, start + 1)
    if text[index] == "]":
        span.end = index + 1
        return span, span.end
    position = 0
    while True:
        child, index = _value(text, index)
        span.children[position] = child
        position += 1
        index = _skip(text, index)
        if text[index] == "]":
            span.end = index + 1
            return span, span.end
        index = _skip(text, index + 1)
