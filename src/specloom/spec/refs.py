"""Reference lists found in spec text: ``1.1, 2.3``, ranges ``1.1-1.15``, ``Requirements 3``.

Real files write them loosely (``Requirements 1.1, 1.2 and 2``, ``1.1–1.4``, ``R1.2``), so the
reader is forgiving; the writer always produces the plain comma-separated form.

May import: the standard library only.
"""

from __future__ import annotations

import re

__all__ = [
    "DEPENDS_LINE",
    "PROPERTY_REF",
    "PROPERTY_WORDS",
    "REQUIREMENTS_LINE",
    "VALIDATES_LINE",
    "format_ids",
    "id_sort_key",
    "parse_id_list",
]

_ID = r"[A-Za-z]{0,3}-?\d+(?:\.\d+)*"
_ITEM = re.compile(rf"({_ID})(?:\s*(?:-|–|—|to|\.\.)\s*({_ID}))?")
_PREFIX = re.compile(r"^[A-Za-z]{0,3}-?")

# `_Requirements: 1.1, 2.3_`, `**Requirements:** 1.1`, `Requirements: 1.1` (any emphasis).
REQUIREMENTS_LINE = re.compile(
    r"^[\s>*_-]*(?:\*\*|__|_|\*)?\s*Requirements?\s*(?:\*\*|__|_|\*)?\s*[:：]\s*"
    r"(?:\*\*|__|_|\*)?\s*(?P<refs>.*?)\s*(?:\*\*|__|_|\*)?\s*$",
    re.IGNORECASE,
)
# `_Depends on: 2.1, 3_`, cc-sdd's `_Depends: 1.1_`, `Depends on: 2` (the colon is required,
# so prose such as "Depends on the parser" in a detail is not read as a dependency).
DEPENDS_LINE = re.compile(
    r"^[\s>*_-]*(?:\*\*|__|_|\*)?\s*Depends(?:\s+on)?\s*(?:\*\*|__|_|\*)?\s*[:：]\s*"
    r"(?:\*\*|__|_|\*)?\s*(?P<refs>[^_*]*?)\s*(?:\*\*|__|_|\*)?\s*$",
    re.IGNORECASE,
)
# `**Validates: Requirements 1.1, 5.5**`, `_Validates: 1.1_`, `Validates Requirement 2`; a colon
# or the word "Requirements" is required, so "validates 3 inputs" in prose is not a reference.
VALIDATES_LINE = re.compile(
    r"(?:\*\*|__|_|\*)?\s*\bValidates\s*(?:\*\*|__|_|\*)?\s*"
    r"(?:[:：]\s*(?:\*\*|__|_|\*)?\s*(?:Requirements?|Criteria|Criterion|AC)?|"
    r"(?:Requirements?|Criteria|Criterion|AC)\b)\s*[:：]?\s*(?P<refs>[\d][\w.,\s\-–—&]*)",
    re.IGNORECASE,
)
# `**Property 1: Title**`, `Property 1.2: Title`, `- Property 3` at the start of a line or in
# bold; a passing mention in prose ("checks against Property 2") is not a reference.
# "Property" in the languages Kiro writes specs in (EARS keywords stay English; headings and
# labels follow the user's language).
PROPERTY_WORDS = (
    "Property|Propiedad|Propriété|Propriete|Eigenschaft|Proprietà|Propriedade|Свойство|"
    "Властивість|属性|屬性|性质|性質|プロパティ|속성"
)
PROPERTY_REF = re.compile(
    r"(?:^[\s>*_-]*|\*\*\s*|__\s*)(?:" + PROPERTY_WORDS + r")\s*(\d+(?:\.\d+)*)\b",
    re.IGNORECASE,
)


def _expand_range(start: str, end: str) -> list[str]:
    """``1.1``..``1.4`` gives 1.1, 1.2, 1.3, 1.4; anything else gives the two ends."""
    start_parts = start.split(".")
    end_parts = end.split(".")
    if (
        len(start_parts) == len(end_parts)
        and start_parts[:-1] == end_parts[:-1]
        and start_parts[-1].isdigit()
        and end_parts[-1].isdigit()
    ):
        low, high = int(start_parts[-1]), int(end_parts[-1])
        if low <= high and high - low <= 500:
            stem = ".".join(start_parts[:-1])
            return [f"{stem}.{n}" if stem else str(n) for n in range(low, high + 1)]
    return [start, end]


def parse_id_list(text: str) -> list[str]:
    """Ids in a loose reference list, ranges expanded, order kept, duplicates dropped.

    Args:
        text: For example ``"1.1, 1.2 and 2"`` or ``"1.1-1.4, R3.2"``.

    Returns:
        The ids without prefixes, e.g. ``["1.1", "1.2", "2"]``.
    """
    found: list[str] = []
    seen: set[str] = set()
    for match in _ITEM.finditer(text):
        first = _PREFIX.sub("", match.group(1))
        ids = [first]
        if match.group(2):
            ids = _expand_range(first, _PREFIX.sub("", match.group(2)))
        for item in ids:
            if item and item not in seen:
                seen.add(item)
                found.append(item)
    return found


def id_sort_key(identifier: str) -> tuple[int | str, ...]:
    """Sort ``"2.10"`` after ``"2.9"``; non-numeric parts sort after numbers."""
    key: list[int | str] = []
    for part in identifier.split("."):
        key.append(int(part) if part.isdigit() else 10**9)
    return tuple(key)


def format_ids(ids: list[str]) -> str:
    """The canonical written form of an id list: ``1.1, 2.3``."""
    return ", ".join(ids)
