"""EARS classification of acceptance criteria: which pattern a sentence follows, and its parts.

EARS (Easy Approach to Requirements Syntax) sentences have a fixed shape::

    ubiquitous   THE <system> SHALL <response>
    event        WHEN <trigger>, THE <system> SHALL <response>
    state        WHILE <state>, THE <system> SHALL <response>
    unwanted     IF <condition>, THEN THE <system> SHALL <response>
    optional     WHERE <feature>, THE <system> SHALL <response>
    complex      WHILE <state>, WHEN <trigger>, THE <system> SHALL <response>   (any combination)

Older Kiro files write events as ``WHEN <trigger> THEN the system SHALL <response>``; that form
is read as an event (``legacy=True``) and ``modernize`` rewrites it. Bugfix specs add
``SHALL NOT`` and ``SHALL CONTINUE TO``, which are ordinary responses here. Kiro also writes
``FOR ALL <domain>, THE <system> SHALL ...``: the quantifier is kept as a clause but does not
change the pattern.

Keywords match in any case (``When ... the system shall``), except that in a sentence whose
first keyword is upper case a later clause keyword must be upper case too, so that
``WHEN the file, if present, is read`` stays one clause. Code spans and double-quoted strings
are masked first, so a ``SHALL`` or ``WHEN`` inside them is never structure; ``**WHEN**``
style emphasis around a keyword is ignored.

May import: the standard library only.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import Enum

__all__ = [
    "CriterionStructure",
    "EarsResult",
    "Pattern",
    "classify",
    "lower_same_length",
    "modernize",
    "parse",
    "prepare",
    "word_offsets",
]


class Pattern(str, Enum):  # noqa: UP042 - same shape as Severity
    """The EARS pattern a criterion follows."""

    UBIQUITOUS = "ubiquitous"
    EVENT = "event"
    STATE = "state"
    UNWANTED = "unwanted"
    OPTIONAL = "optional"
    COMPLEX = "complex"
    NOT_EARS = "not_ears"


@dataclass(frozen=True, slots=True)
class EarsResult:
    """What ``classify`` found in one criterion.

    Attributes:
        pattern: The EARS pattern, or ``NOT_EARS``.
        system: The text between ``THE`` and ``SHALL`` (``"Issue_Manager"``, ``"system"``).
        condition: The trigger, state, feature or unwanted condition; for a complex
            criterion the clauses with their keywords, joined with ``", "``
            (``"WHILE offline, WHEN a save is requested"``).
        response: The text after ``SHALL``, without a trailing period (``"NOT log it"``).
        legacy: True for Kiro's older ``WHEN ... THEN the system SHALL ...`` form.
        clauses: ``(keyword, text)`` for each leading clause, keywords upper case.
    """

    pattern: Pattern
    system: str | None = None
    condition: str | None = None
    response: str | None = None
    legacy: bool = False
    clauses: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class CriterionStructure:
    """Where the parts of a criterion are, for tools that report or rewrite them.

    Attributes:
        result: The classification (what ``classify`` returns).
        masked: The text with code spans and quoted strings blanked out and emphasis
            markers around keywords turned into spaces; same length as the text, so
            offsets found in it are offsets in the text.
        keywords: ``(start, end, keyword)`` of each structural keyword (clause keywords,
            ``THEN``, ``THE`` before the system, ``SHALL``), keyword upper case; empty
            when the criterion is not EARS.
        shall_offsets: Offsets of every ``SHALL`` outside code spans and quotes.
        response_offset: Offset where the response starts (after the first ``SHALL``).
        reason: Why the criterion is not EARS, else None: ``"no_shall"``, ``"no_system"``
            (nothing between THE and SHALL, or no THE), ``"bad_system"`` (a comma or a modal
            verb between them), ``"opening"`` (starts with a word that is not a keyword),
            ``"no_comma"`` (nothing separates the clause from THE), ``"empty_clause"``,
            ``"no_response"``.
    """

    result: EarsResult
    masked: str
    keywords: tuple[tuple[int, int, str], ...] = ()
    shall_offsets: tuple[int, ...] = ()
    response_offset: int | None = None
    reason: str | None = None


_CLAUSE_WORDS = ("when", "while", "if", "where")
_PATTERN_OF = {
    "WHEN": Pattern.EVENT,
    "WHILE": Pattern.STATE,
    "IF": Pattern.UNWANTED,
    "WHERE": Pattern.OPTIONAL,
}
_MODALS = frozenset({"MAY", "MUST", "SHOULD", "WILL", "CAN", "MIGHT", "COULD", "WOULD"})

# Emphasis wrapped around a single keyword: **WHEN**, *the*, __SHALL NOT__.
_EMPHASIS = re.compile(
    r"(?<!\w)(\*\*|__|\*|_)"
    r"(when|while|if|where|then|the|and|for\s+all|for\s+each|shall(?:\s+not|\s+continue\s+to)?)"
    r"\1(?!\w)",
    re.IGNORECASE,
)
_CODE_OR_QUOTE = re.compile(r"`[^`\n]*`|\"[^\"\n]*\"|\u201c[^\u201d\n]*\u201d")
_LEAD = re.compile(r"[\s*_]*(?:(when|while|if|where|for\s+all|for\s+each)\b|(the)\s)", re.I)


def _blank_emphasis(match: re.Match[str]) -> str:
    marker = " " * len(match.group(1))
    return marker + match.group(2) + marker


def _mask(match: re.Match[str]) -> str:
    text = match.group(0)
    return text[0] + "_" * (len(text) - 2) + text[-1]


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def word_offsets(text: str, word: str, start: int = 0, end: int | None = None) -> list[int]:
    """Offsets of ``word`` as a whole word in ``text[start:end]`` (exact case).

    ``str.find`` with a boundary check is several times faster than ``re`` with ``\\b``,
    which matters on the ten-thousand-criteria path.

    Args:
        text: Where to look (lower-case it first for a case-insensitive search).
        word: The word to find.
        start: First offset to consider.
        end: Offset to stop before (default: the end of ``text``).

    Returns:
        Start offsets in ascending order.
    """
    stop = len(text) if end is None else end
    size = len(word)
    found: list[int] = []
    index = text.find(word, start, stop)
    while index >= 0:
        after = index + size
        if (index == 0 or not _is_word(text[index - 1])) and (
            after >= len(text) or not _is_word(text[after])
        ):
            found.append(index)
        index = text.find(word, after, stop)
    return found


def prepare(text: str) -> tuple[str, str]:
    """The text with keyword emphasis blanked, and that text with code and quotes masked.

    Both have the length of ``text``, so an offset in either is an offset in ``text``.

    Args:
        text: One criterion.

    Returns:
        ``(work, masked)``.
    """
    work = text
    if "*" in text or "_" in text:
        work = _EMPHASIS.sub(_blank_emphasis, text)
    masked = work
    if "`" in work or '"' in work or "\u201c" in work:
        masked = _CODE_OR_QUOTE.sub(_mask, work)
    return work, masked


def lower_same_length(text: str) -> str:
    """``text.lower()``, except that characters whose lower case is longer stay as they are.

    ``"İ".lower()`` is two characters; offsets found in the lowered text must still be
    offsets in ``text``.

    Args:
        text: Any text.

    Returns:
        A lower-case string of the same length as ``text``.
    """
    lower = text.lower()
    if len(lower) == len(text):
        return lower
    return "".join(char if len(char.lower()) != 1 else char.lower() for char in text)


def _clean(text: str) -> str:
    """Collapse white space and drop stray ``*`` emphasis markers at the ends."""
    return " ".join(text.split()).strip("* ")


def _subject(lower: str, start: int, end: int) -> tuple[int, int, int] | None:
    """The last ``", THE"`` / ``"THEN THE"`` boundary in ``lower[start:end]``.

    Returns:
        ``(boundary start, THEN offset or -1, THE offset)``, or None.
    """
    for the in reversed(word_offsets(lower, "the", start, end)):
        if the + 3 >= end or not lower[the + 3].isspace():
            continue
        before = lower[start:the].rstrip()
        cut = start + len(before)
        if before.endswith(","):
            return cut - 1, -1, the
        if before.endswith("then") and (cut - 4 == 0 or not _is_word(lower[cut - 5])):
            then = cut - 4
            ahead = lower[start:then].rstrip()
            if ahead.endswith(","):
                return start + len(ahead) - 1, then, the
            return then, then, the
    return None


def _splits(
    masked: str, lower: str, start: int, end: int, upper_only: bool
) -> list[tuple[int, int, int]]:
    """Later clause keywords in ``masked[start:end]`` as ``(clause end, kw start, kw end)``."""
    found: list[tuple[int, int]] = []
    for word in ("WHEN", "WHILE", "IF", "WHERE"):
        for offset in word_offsets(masked, word, start, end):
            found.append((offset, offset + len(word)))
    if not upper_only:
        comma = lower.find(",", start, end)
        while comma >= 0:
            rest = lower[comma + 1 : end]
            skipped = len(rest) - len(rest.lstrip())
            at = comma + 1 + skipped
            if lower.startswith("and ", at):
                at += 4 + len(lower[at + 4 : end]) - len(lower[at + 4 : end].lstrip())
            for word in _CLAUSE_WORDS:
                after = at + len(word)
                if lower.startswith(word, at) and (after >= end or not _is_word(lower[after])):
                    found.append((at, after))
                    break
            comma = lower.find(",", comma + 1, end)
    splits: list[tuple[int, int, int]] = []
    for kw_start, kw_end in sorted(set(found)):
        if splits and kw_start < splits[-1][2]:
            continue
        head = lower[start:kw_start].rstrip()
        if head.endswith(" and"):
            head = head[:-4].rstrip()
        if not head:
            continue
        clause_end = start + len(head)
        if lower[clause_end - 1] == ",":
            clause_end -= 1
        splits.append((clause_end, kw_start, kw_end))
    return splits


def _not_ears(masked: str, reason: str, shall_offsets: tuple[int, ...] = ()) -> CriterionStructure:
    return CriterionStructure(
        EarsResult(Pattern.NOT_EARS), masked, shall_offsets=shall_offsets, reason=reason
    )


@functools.lru_cache(maxsize=32768)
def parse(text: str) -> CriterionStructure:
    """Classify a criterion and locate its parts.

    Results are cached (they are immutable): lint, analysis and ``show`` classify the same
    criteria in one command.

    Args:
        text: One acceptance criterion (no list marker).

    Returns:
        The classification plus the offsets of its keywords and response.
    """
    work, masked = prepare(text)
    lower = lower_same_length(masked)
    shall_offsets = tuple(word_offsets(lower, "shall"))
    if not shall_offsets:
        return _not_ears(masked, "no_shall")
    shall_start = shall_offsets[0]
    shall_end = shall_start + 5
    lead = _LEAD.match(masked, 0, shall_start)
    if lead is None:
        has_the = bool(word_offsets(lower, "the", 0, shall_start))
        return _not_ears(masked, "opening" if has_the else "no_system", shall_offsets)

    keywords: list[tuple[int, int, str]] = []
    clauses: list[tuple[str, str]] = []
    then_offset = -1
    if lead.group(2) is not None:
        the_start = lead.start(2)
    else:
        kw_start, kw_end = lead.span(1)
        subject = _subject(lower, kw_end, shall_start)
        if subject is None:
            return _not_ears(masked, "no_comma", shall_offsets)
        clause_end, then_offset, the_start = subject
        first = masked[kw_start:kw_end]
        starts = [(kw_start, kw_end)]
        ends: list[int] = []
        for end, next_start, next_end in _splits(
            masked, lower, kw_end, clause_end, upper_only=first.isupper()
        ):
            ends.append(end)
            starts.append((next_start, next_end))
        ends.append(clause_end)
        for (start, end_kw), end in zip(starts, ends, strict=True):
            keyword = " ".join(masked[start:end_kw].split()).upper()
            body = _clean(work[end_kw:end]).rstrip(",").strip()
            if not body:
                return _not_ears(masked, "empty_clause", shall_offsets)
            keywords.append((start, end_kw, keyword))
            clauses.append((keyword, body))
        if then_offset >= 0:
            keywords.append((then_offset, then_offset + 4, "THEN"))

    system_start = the_start + 4
    system = _clean(work[system_start:shall_start])
    masked_system = masked[system_start:shall_start]
    if not system:
        return _not_ears(masked, "no_system", shall_offsets)
    if "," in masked_system or not _MODALS.isdisjoint(masked_system.split()):
        return _not_ears(masked, "bad_system", shall_offsets)
    tail = work[shall_end:]
    response = _clean(tail).rstrip(". ").strip()
    if not response:
        return _not_ears(masked, "no_response", shall_offsets)
    keywords.append((the_start, the_start + 3, "THE"))
    keywords.append((shall_start, shall_end, "SHALL"))

    kinds = [keyword for keyword, _ in clauses if keyword in _PATTERN_OF]
    if not kinds:
        pattern = Pattern.UBIQUITOUS
    elif len(kinds) == 1:
        pattern = _PATTERN_OF[kinds[0]]
    else:
        pattern = Pattern.COMPLEX
    if len(clauses) == 1:
        condition: str | None = clauses[0][1]
    elif clauses:
        condition = ", ".join(f"{keyword} {body}" for keyword, body in clauses)
    else:
        condition = None
    result = EarsResult(
        pattern=pattern,
        system=system,
        condition=condition,
        response=response,
        legacy=then_offset >= 0 and "IF" not in kinds,
        clauses=tuple(clauses),
    )
    return CriterionStructure(
        result,
        masked,
        tuple(sorted(keywords)),
        shall_offsets,
        shall_end + len(tail) - len(tail.lstrip()),
    )


def classify(text: str) -> EarsResult:
    """Classify one acceptance criterion by EARS pattern.

    Args:
        text: The criterion, e.g. ``"WHEN a user logs in, THE Auth_Service SHALL ..."``.

    Returns:
        The pattern and the parts of the sentence; ``Pattern.NOT_EARS`` with empty parts
        when the text has no ``SHALL``, no system between ``THE`` and ``SHALL``, or an
        opening that is not an EARS keyword.
    """
    return parse(text).result


def modernize(text: str) -> str | None:
    """Rewrite a legacy ``WHEN x THEN the system SHALL y`` criterion in the current form.

    The clauses keep their words (and their markdown), clause keywords become upper case and
    are separated by commas, the system name gets a capital first letter, and everything after
    ``SHALL`` is kept as written.

    Args:
        text: One acceptance criterion.

    Returns:
        ``"WHEN x, THE System SHALL y"``, or None when the criterion is not legacy.
    """
    structure = parse(text)
    if not structure.result.legacy:
        return None
    work, _ = prepare(text)
    spans = structure.keywords
    then_start = next(start for start, _, keyword in spans if keyword == "THEN")
    the_end = next(end for _, end, keyword in spans if keyword == "THE")
    shall_start, shall_end = next((s, e) for s, e, keyword in spans if keyword == "SHALL")
    head = work[:then_start]
    clause_spans = [(start, end) for start, end, _ in spans if end <= then_start]
    # Right to left, so that the offsets still to be used stay valid.
    for position in range(len(clause_spans) - 1, -1, -1):
        start, end = clause_spans[position]
        before = head[:start]
        if position > 0:
            before = before.rstrip()
            if before.lower().endswith(" and"):
                before = before[:-4].rstrip().rstrip(",") + ", " + before[-3:]
            elif not before.endswith(","):
                before += ","
            before += " "
        head = before + " ".join(head[start:end].split()).upper() + head[end:]
    head = " ".join(head.split()).rstrip(",").rstrip()
    system = " ".join(work[the_end:shall_start].split())
    if system[:1].islower():
        system = system[0].upper() + system[1:]
    rest = " ".join(work[shall_end:].split())
    return f"{head}, THE {system} SHALL {rest}".rstrip()
