"""What the spec-kit and OpenSpec importers share: the result type, spec names, EARS sentences
built from Given/When/Then prose, and markdown bodies made safe to embed.

The EARS helpers are heuristics over English prose: they never drop words, they only choose
the frame (``WHEN ..., THE System SHALL ...``) and turn an outcome clause into a response
(``the system shows X`` -> ``show X``; ``the album is saved`` -> ``ensure that the album is
saved``), so ``specloom lint`` can judge the result like any hand-written criterion.

May import: the standard library, ``specloom.errors`` and ``specloom.spec``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from specloom.spec.markdown import Document, LineKind, scan
from specloom.spec.meta import SpecConfig
from specloom.spec.requirements import RequirementsDocument, render_requirements
from specloom.spec.tasks import TasksDocument
from specloom.spec.tasks_writer import render_tasks

__all__ = [
    "BOLD_LABEL",
    "ImportedSpec",
    "assemble_files",
    "clean_block",
    "event_criterion",
    "has_words",
    "heading_title",
    "lines_text",
    "normalize_paths",
    "normative_criterion",
    "one_line",
    "outcome_response",
    "own_body",
    "spec_name",
    "strip_front_matter",
    "unwanted_criterion",
]


@dataclass(slots=True)
class ImportedSpec:
    """A spec converted to Kiro's layout, ready to be written to ``.kiro/specs/<name>/``.

    Attributes:
        name: The spec's folder name (kebab-case).
        files: File name -> text: ``requirements.md``, ``design.md`` (when the source has
            design material), ``tasks.md`` (when it has tasks) and ``.config.kiro``.
        warnings: What could not be carried over, one sentence each, with file and line.
    """

    name: str
    files: dict[str, str]
    warnings: list[str] = field(default_factory=list)


# -- names and text ---------------------------------------------------------------------

_DATE_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}[-_]")
_NUMBER_PREFIX = re.compile(r"^\d+[-_.\s]+")


def spec_name(*candidates: str | None, default: str) -> str:
    """The first candidate that gives a usable kebab-case spec name.

    ``001-photo-albums`` gives ``photo-albums`` (spec-kit's feature number goes), an archived
    OpenSpec change ``2025-01-15-add-2fa`` gives ``add-2fa``, ``Photo Albums`` gives
    ``photo-albums``; only the last component of a path counts.

    Args:
        candidates: Names in order of preference (``None`` and empty ones are skipped).
        default: The name when no candidate gives one.
    """
    for candidate in candidates:
        if not candidate:
            continue
        base = re.split(r"[\\/]", candidate.strip().strip("\\/"))[-1]
        base = _NUMBER_PREFIX.sub("", _DATE_PREFIX.sub("", base))
        slug = re.sub(r"[\W_]+", "-", base.lower()).strip("-")[:80].strip("-")
        if slug:
            return slug
    return default


def normalize_paths(files: Mapping[str, str]) -> dict[str, str]:
    """The caller's mapping with ``/`` separators and no leading ``./``."""
    normalized: dict[str, str] = {}
    for path, text in files.items():
        key = path.replace("\\", "/")
        while key.startswith("./"):
            key = key[2:]
        normalized[key.strip("/")] = text
    return normalized


# `**Why this priority**: ...`, `**Goal:** ...`; `colon` tells a label from bold prose.
BOLD_LABEL = re.compile(
    r"^\s*(?:\*\*|__)(?P<label>[^*_]+?)(?P<colon>:?)(?:\*\*|__)\s*(?P<rest>.*)$"
)
_ANNOTATION = re.compile(r"\s*(?:\*\([^)]*\)\*|_\([^)]*\)_)\s*")


def heading_title(text: str) -> str:
    """A heading's text without spec-kit's ``*(mandatory)*`` notes and outer emphasis."""
    return one_line(_ANNOTATION.sub(" ", text)).strip(" *_")


def one_line(text: str) -> str:
    """``text`` with every run of white space (line breaks included) made one space."""
    return " ".join(text.split())


def strip_front_matter(text: str) -> str:
    """``text`` without a leading YAML front-matter block (``---`` ... ``---``)."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return text
    for index in range(1, min(len(lines), 60)):
        if lines[index].strip() in ("---", "..."):
            return "".join(lines[index + 1 :])
    return text


_FENCE_RUN = re.compile(r"^[ \t]*(`{3,}|~{3,})")


def clean_block(text: str, heading_floor: int | None = None) -> str:
    """Markdown that is safe to embed under a heading of another document.

    HTML comments (template guidance) go, an unclosed code fence gets its closing line, and
    headings either become bold lines (``heading_floor=None``: for a requirements
    introduction, which must hold no headings) or are shifted so the highest is at
    ``heading_floor`` (for design sections).

    Args:
        text: The markdown.
        heading_floor: The level the highest heading moves to, or ``None`` for bold lines.

    Returns:
        The cleaned markdown without leading or trailing blank lines.
    """
    doc = scan(text)
    levels = [line.level for line in doc.lines if line.kind is LineKind.HEADING]
    shift = max(0, heading_floor - min(levels)) if heading_floor and levels else 0
    out: list[str] = []
    open_fence = ""
    for line in doc.lines:
        if line.kind is LineKind.HTML:
            continue
        if line.kind is LineKind.HEADING:
            if not line.content:
                continue
            if heading_floor is None:
                out.append(f"**{line.content.strip('*_ ')}**")
            else:
                out.append("#" * min(6, line.level + shift) + " " + line.content)
            continue
        if line.kind is LineKind.FENCE_OPEN:
            match = _FENCE_RUN.match(line.text)
            open_fence = match.group(1) if match else "```"
        elif line.kind is LineKind.FENCE_CLOSE:
            open_fence = ""
        out.append(line.text)
    if open_fence:
        out.append(open_fence)
    return "\n".join(out).strip("\n")


def own_body(doc: Document, heading_line: int) -> tuple[int, int]:
    """First and last line of the text under a heading, up to the next heading of any level."""
    following = [h.line for h in doc.headings if h.line > heading_line]
    last = following[0] - 1 if following else len(doc.lines)
    return heading_line + 1, last


def lines_text(doc: Document, first: int, last: int) -> str:
    """Lines ``first``..``last`` (1-based, inclusive) as text."""
    return "\n".join(doc.line(n).text for n in range(max(first, 1), min(last, len(doc.lines)) + 1))


# -- EARS sentences -------------------------------------------------------------------------

# Words that open a clause with its own subject ("the album is saved", "they see ..."):
# such an outcome becomes "ensure that <clause>".
_SUBJECT_WORDS = frozenset(
    "the a an this that these those it its they their there he she we you i his her our my "
    "your no nothing none all each every any some both one only another other multiple "
    "several someone anyone everyone nobody user users".split()
)
_OPENING_WORDS = _SUBJECT_WORDS | {"when", "if", "after", "before", "while", "once"}
# Auxiliaries that give away a clause with a subject when they come right after it.
_AUXILIARIES = frozenset(
    "is are was were be been has have had remains remain becomes become appears appear "
    "exists exist can cannot will won't should may must shall gets get stays stay".split()
)
# Verbs that often open an outcome written as a bare predicate ("display the list").
_VERBS = frozenset(
    "abort accept add allow append apply archive ask block call cancel change check clear "
    "close complete confirm continue copy create default delete deny detect disable display "
    "download emit enable exit fail fall filter generate group handle hide ignore import "
    "include keep list load lock log mark merge move notify offer open order parse pass "
    "persist print proceed prompt provide raise read redirect refuse reject reload remove "
    "render replace report request require reset respond restore retry return run save "
    "schedule select send set show skip sort start stop store submit suggest update upload "
    "use validate verify warn write".split()
)
# Finite verbs that make a Given a clause ("the library holds no albums") rather than a noun
# phrase ("an album with 20 photos").
_STATE_VERBS = _AUXILIARIES | frozenset(
    "am holds hold contains contain owns own sees see shows show lists list includes include "
    "opens open uses use wants want needs need lacks lack lives live knows know".split()
)
_IRREGULAR = {"is": "be", "are": "be", "has": "have", "does": "do", "goes": "go"}
_COMPONENT_WORDS = frozenset(
    "system service server command cli api app application module component tool engine "
    "client backend frontend ui interface library parser validator scheduler worker agent "
    "daemon gateway endpoint handler manager controller provider store repository database "
    "platform sdk".split()
)
_MODAL = re.compile(r"\b(SHALL|MUST)(\s+NOT)?\b")
_MODAL_ANY_CASE = re.compile(r"\b(shall|must)(\s+not)?\b", re.IGNORECASE)
_MODAL_WEAK = re.compile(r"\b(SHOULD|MAY)(\s+NOT)?\b")
_LEADING_CLAUSE = re.compile(r"^(when|while|if|where)\s+(.+),\s*(.*)$", re.IGNORECASE | re.DOTALL)
_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)
_SYSTEM_SUBJECT = re.compile(r"^(?:the\s+)?system,?\s+(.*)$", re.IGNORECASE | re.DOTALL)
_SYSTEM_MODAL = re.compile(
    r"^(?:must|shall|should|will|can)\s+(not\s+)?(.*)$", re.IGNORECASE | re.DOTALL
)
_SYSTEM_NEGATION = re.compile(
    r"^(?:does\s+not|doesn't|do\s+not|don't|never)\s+(.*)$", re.IGNORECASE | re.DOTALL
)


def has_words(text: str) -> bool:
    """Whether ``text`` holds anything but punctuation and white space."""
    return any(char.isalnum() for char in text)


def fragment(text: str) -> str:
    """A Given/When/Then fragment as one line, without edge punctuation, in lower case where
    it opens with a common word (``The user`` -> ``the user``)."""
    cleaned = one_line(text).strip(" ,;:.")
    return _lower_common(cleaned)


def _lower_common(text: str) -> str:
    first, _, rest = text.partition(" ")
    if first[:1].isupper() and first[1:].islower() and first.lower() in _OPENING_WORDS:
        return first.lower() + (" " + rest if rest else "")
    return text


def _lower_capitalised(text: str) -> str:
    """``Album names`` -> ``album names``; ``API keys``, ``FastAPI`` stay as written."""
    first, _, rest = text.partition(" ")
    if first[:1].isupper() and first[1:].islower() and first != "I":
        return first.lower() + (" " + rest if rest else "")
    return text


def base_verb(word: str) -> str:
    """The base form of a third-person verb (``shows`` -> ``show``, ``applies`` -> ``apply``)."""
    lower = word.lower()
    if lower in _IRREGULAR:
        return _IRREGULAR[lower]
    if not lower.isalpha() or len(lower) < 4 or not lower.endswith("s"):
        return word
    if lower.endswith(("ss", "us", "is")):
        return word
    if lower.endswith("ies"):
        return word[:-3] + "y"
    if lower.endswith(("sses", "shes", "ches", "xes", "zzes", "oes")):
        return word[:-2]
    return word[:-1]


def _is_component(subject: str) -> bool:
    """Whether a subject names a part of the system (``archive command``, ``Auth_Service``)."""
    words = subject.split()
    if not words or len(words) > 4 or "," in subject:
        return False
    if words[0].lower() in ("when", "while", "if", "where"):
        return False
    if len(words) == 1:
        word = words[0]
        uppercase = sum(1 for char in word if char.isupper())
        return "_" in word or uppercase >= 2 or word.lower() in _COMPONENT_WORDS
    return words[-1].lower() in _COMPONENT_WORDS


def _modal_response(subject: str, negative: bool, rest: str) -> str:
    """``THE <system> SHALL ...`` for ``<subject> MUST [NOT] <rest>``."""
    core = _ARTICLE.sub("", subject.strip()).strip()
    neg = "NOT " if negative else ""
    if not core or core.lower() == "system":
        return f"THE System SHALL {neg}{rest}"
    able = re.match(r"^be able to\s+(.*)$", rest, re.IGNORECASE | re.DOTALL)
    if able:
        return f"THE System SHALL {neg}allow {_lower_capitalised(subject.strip())} to {able[1]}"
    if _is_component(core):
        return f"THE {core} SHALL {neg}{rest}"
    return f"THE System SHALL ensure that {_lower_capitalised(subject.strip())} {neg.lower()}{rest}"


def _predicate(part: str) -> str:
    """What follows ``SHALL`` for one outcome clause."""
    text = one_line(part).strip(" ,;:.")
    if not has_words(text):
        return ""
    modal = _MODAL.search(text)
    rest = text[modal.end() :].strip() if modal else ""
    if modal and rest:
        subject = text[: modal.start()].rstrip(" ,")
        response = _modal_response(subject, modal[2] is not None, rest)
        if response.startswith("THE System SHALL "):
            return response[len("THE System SHALL ") :]
        # A component subject inside a list of outcomes stays a clause of its own.
        negation = "not " if modal[2] else ""
        return f"ensure that {_lower_capitalised(subject)} {negation}{rest}"
    system = _SYSTEM_SUBJECT.match(text)
    if system and system[1]:
        tail = system[1]
        modal_tail = _SYSTEM_MODAL.match(tail)
        if modal_tail:
            return ("NOT " if modal_tail[1] else "") + modal_tail[2]
        negation = _SYSTEM_NEGATION.match(tail)
        if negation:
            return "NOT " + negation[1]
        first, _, rest = tail.partition(" ")
        return base_verb(first) + (" " + rest if rest else "")
    words = text.split()
    first = words[0].lower().strip(",.;:")
    if first in _VERBS or base_verb(first) in _VERBS:
        return " ".join([base_verb(first), *words[1:]])
    if first in _SUBJECT_WORDS or any(word.lower() in _AUXILIARIES for word in words[1:4]):
        return "ensure that " + _lower_capitalised(text)
    if first.endswith("s") and len(words) > 1:
        return " ".join([base_verb(first), *words[1:]])
    return _lower_capitalised(text)


def _join(parts: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``; a repeated ``ensure that`` becomes ``that``."""
    joined: list[str] = []
    for part in parts:
        if not part:
            continue
        if (
            joined
            and part.startswith("ensure that ")
            and joined[-1].startswith(("ensure that ", "that "))
        ):
            part = part[len("ensure ") :]
        joined.append(part)
    if len(joined) <= 1:
        return "".join(joined)
    return ", ".join(joined[:-1]) + " and " + joined[-1]


def _is_clause(text: str) -> bool:
    """Whether a Given has a verb of its own (``the user has 3 albums``)."""
    return any(word.lower().strip(",.;:") in _STATE_VERBS for word in text.split()[1:])


def outcome_response(parts: list[str]) -> str:
    """``THE System SHALL <response>`` for Then/THEN clauses (``And`` clauses included).

    A single clause with its own ``MUST``/``SHALL`` keeps its subject when it names a
    component (``the archive command MUST ...`` -> ``THE archive command SHALL ...``).
    """
    cleaned = [one_line(part).strip(" ,;:.") for part in parts if has_words(part)]
    if len(cleaned) == 1:
        modal = _MODAL.search(cleaned[0])
        if modal:
            rest = cleaned[0][modal.end() :].strip()
            if rest:
                return _modal_response(cleaned[0][: modal.start()], modal[2] is not None, rest)
    return "THE System SHALL " + _join([_predicate(part) for part in cleaned])


def event_criterion(given: list[str], when: list[str], then: list[str]) -> str:
    """An EARS criterion from a Given/When/Then scenario (``then`` must not be empty).

    ``WHEN <when> and <given>, THE System SHALL <then>`` when the Given is a clause (``the
    library holds no albums``), ``WHEN <when>, given <given>, THE System SHALL <then>`` when
    it is a noun phrase (``an album with 20 photos``); with no When, the Given is a state
    (``WHILE <given>, ...``); with neither, the criterion is ubiquitous.
    """
    response = outcome_response(then)
    when_text = " and ".join(fragment(part) for part in when if has_words(part))
    givens = [fragment(part) for part in given if has_words(part)]
    given_text = " and ".join(givens)
    if when_text and given_text:
        if all(_is_clause(part) for part in givens):
            return f"WHEN {when_text} and {given_text}, {response}"
        return f"WHEN {when_text}, given {given_text}, {response}"
    if when_text:
        return f"WHEN {when_text}, {response}"
    if given_text:
        return f"WHILE {given_text}, {response}"
    return response


def unwanted_criterion(condition: str, outcome: str) -> str:
    """``IF <condition>, THEN THE System SHALL <outcome>``."""
    return f"IF {fragment(condition)}, THEN {outcome_response([outcome])}"


def normative_criterion(text: str) -> tuple[str, bool]:
    """A requirement sentence (``The system SHALL ...``, ``System MUST ...``) in EARS form.

    Leading ``When/While/If/Where ...,`` clauses are kept as EARS clauses, ``MUST`` becomes
    ``SHALL``, ``Users MUST be able to X`` becomes ``THE System SHALL allow users to X``.
    Everything after the modal verb is kept verbatim (``[NEEDS CLARIFICATION: ...]`` too).

    Returns:
        ``(criterion, exact)``; ``exact`` is False when the sentence had no ``SHALL``/``MUST``
        (``SHOULD``/``MAY`` became ``SHALL``, or the sentence was reframed as
        ``THE System SHALL ensure that ...``).
    """
    sentence = one_line(text)
    if sentence.endswith(".") and not sentence.endswith(".."):
        sentence = sentence[:-1]
    exact = True
    modal = _MODAL.search(sentence) or _MODAL_ANY_CASE.search(sentence)
    if modal is None:
        modal = _MODAL_WEAK.search(sentence)
        exact = False
    rest = sentence[modal.end() :].strip() if modal else ""
    if modal is None or not rest:
        return "THE System SHALL " + (_predicate(sentence) or "[NEEDS CLARIFICATION]"), False
    prefix = sentence[: modal.start()].strip()
    negative = modal[2] is not None
    lead = _LEADING_CLAUSE.match(prefix)
    if lead and lead[2].strip():
        keyword = lead[1].upper()
        response = _modal_response(lead[3], negative, rest)
        then = "THEN " if keyword == "IF" else ""
        return f"{keyword} {fragment(lead[2])}, {then}{response}", exact
    return _modal_response(prefix, negative, rest), exact


def assemble_files(
    requirements: RequirementsDocument,
    design: str | None,
    tasks: TasksDocument | None,
) -> dict[str, str]:
    """The files of a Kiro spec folder, in the order Kiro's workflow writes them."""
    files = {"requirements.md": render_requirements(requirements)}
    if design is not None:
        files["design.md"] = design
    if tasks is not None and tasks.tasks:
        files["tasks.md"] = render_tasks(tasks)
    files[".config.kiro"] = SpecConfig.new().render()
    return files
