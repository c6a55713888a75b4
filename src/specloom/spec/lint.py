"""Rule-based lint of acceptance criteria: EARS form, ambiguity and duplicates, no model.

``lint_criteria`` checks each criterion against the rules in ``RULES`` and returns findings
with the exact line and column of the offending word, and a rewritten criterion where the
fix is mechanical. Rule families:

- ``EARS0xx``: the sentence shape (pattern, one SHALL, SHALL rather than should/must,
  current rather than legacy form, upper-case keywords).
- ``AMB0xx``: words that make a criterion untestable (vague adjectives, ``and/or``,
  placeholders, pronouns with nothing to refer to, passives that hide the actor).
- ``DUP0xx``: criteria that repeat an earlier one, exactly or nearly (a prefix-filtered
  similarity join, so ten thousand criteria lint in well under a second).

Bugfix criteria are linted by their kind: ``current`` ones describe the defect as it is, so
only the wording rules (AMB001-AMB003) apply to them; ``expected`` and ``unchanged`` ones
follow Kiro's bugfix form ``WHEN ... THEN the system SHALL [CONTINUE TO] ...``, so the
legacy-form and keyword-case rules (EARS004, EARS005) are not applied to them.

Words inside code spans and double quotes are never flagged.

May import: the standard library and sibling modules of ``specloom.spec``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from specloom.spec.ears import (
    CriterionStructure,
    Pattern,
    classify,
    lower_same_length,
    modernize,
    parse,
)
from specloom.spec.findings import Finding, Severity, sort_findings
from specloom.spec.gcpause import gc_paused
from specloom.spec.requirements import Criterion
from specloom.spec.similarity import STOPWORDS, near_duplicate_pairs, normalize

__all__ = ["NEAR_DUPLICATE_THRESHOLD", "RULES", "lint_criteria"]

RULES: dict[str, tuple[Severity, str]] = {
    "EARS001": (Severity.ERROR, "criterion does not follow an EARS pattern"),
    "EARS002": (Severity.WARNING, "more than one SHALL in one criterion"),
    "EARS003": (
        Severity.ERROR,
        "should/may/might/must/will/can instead of SHALL (a warning when SHALL is there too)",
    ),
    "EARS004": (Severity.INFO, "older 'WHEN ... THEN the system SHALL' form"),
    "EARS005": (Severity.INFO, "EARS keywords written in lower case"),
    "AMB001": (Severity.WARNING, "vague or unmeasurable word (fast, user-friendly, some...)"),
    "AMB002": (Severity.WARNING, "'and/or' leaves open whether both are required"),
    "AMB003": (Severity.ERROR, "placeholder left in (TBD, TODO, ???, [placeholder], <...>)"),
    "AMB004": (Severity.WARNING, "pronoun with nothing it can refer to"),
    "AMB005": (Severity.WARNING, "passive response that names no actor"),
    "DUP001": (Severity.ERROR, "exact duplicate of an earlier criterion"),
    "DUP002": (Severity.WARNING, "near-duplicate of an earlier criterion"),
}

NEAR_DUPLICATE_THRESHOLD = 0.85
"""Jaccard similarity of content words from which two criteria are near-duplicates."""

_BUGFIX_KINDS = frozenset({"current", "expected", "unchanged"})

_TEMPLATES = {
    Pattern.UBIQUITOUS: "THE <system> SHALL <response>",
    Pattern.EVENT: "WHEN <trigger>, THE <system> SHALL <response>",
    Pattern.STATE: "WHILE <state>, THE <system> SHALL <response>",
    Pattern.UNWANTED: "IF <condition>, THEN THE <system> SHALL <response>",
    Pattern.OPTIONAL: "WHERE <feature>, THE <system> SHALL <response>",
}
_OPENING_PATTERN = re.compile(
    r"\W*(?:(?P<event>when|whenever|after|before|once|upon|on|as\s+soon\s+as)"
    r"|(?P<state>while|whilst|during|as\s+long\s+as)"
    r"|(?P<unwanted>if|in\s+case|unless|should)"
    r"|(?P<optional>where|with)|(?P<other>\S+))?\b",
    re.IGNORECASE,
)
_REASONS = {
    "no_shall": "has no SHALL",
    "no_system": "names no system between THE and SHALL",
    "bad_system": "has more than a system name between THE and SHALL (a comma or a modal verb)",
    "no_comma": "has no comma (or THEN) between its clause and THE <system>",
    "empty_clause": "has a keyword with no clause after it",
    "no_response": "has nothing after SHALL",
}

_MODAL = re.compile(
    r"\b(?P<modal>should|may|might|must|will|can(?:not)?)\b(?P<negation>\s+not\b)?", re.IGNORECASE
)
_UPPER_MODAL = re.compile(r"\b(?:SHOULD|MAY|MIGHT|MUST|WILL|CAN|CANNOT)\b")
_MODAL_WORDS = frozenset("should may might must will can cannot".split())

_VAGUE = (
    "as soon as possible", "as needed", "as appropriate", "if necessary", "if possible",
    "and so on", "user friendly", "state of the art", "high performance", "real time",
    "quickly", "quick", "fast", "slow", "easily", "easy", "simple", "intuitive",
    "appropriately", "appropriate", "adequately", "adequate", "efficiently", "efficient",
    "robust", "flexible", "seamlessly", "seamless", "reasonable", "sufficiently",
    "sufficient", "normally", "usually", "typically", "generally", "several", "some", "many",
    "various", "etc", "minimal", "optimal", "scalable",
)  # fmt: skip
# One word of each phrase (its longest, but "so" for "and so on"): no phrase can match in a
# criterion that lacks its key word.
_VAGUE_KEYS = frozenset(max(phrase.split(), key=len) for phrase in _VAGUE) - {"and"} | {"so"}
# Whole words only, and not part of an identifier, path or label (theme:slow-unresponsive).
_VAGUE_WORD = re.compile(
    r"(?<![\w\-/:.])(?:"
    + "|".join(word.replace(" ", r"[\s-]+") for word in _VAGUE)
    + r")(?![\w\-/]|:\w)",
    re.IGNORECASE,
)
_BOUNDED = re.compile(r"\s*[(:,]?\s*(?:within|under|below|at|of|in|<=?|≤|~)?\s*\d")
_HOW = re.compile(r"\bhow\s+$", re.IGNORECASE)
_AND_OR = re.compile(r"\band\s*/\s*or\b", re.IGNORECASE)
_WORD_BEFORE = re.compile(r"([\w`'\"\-.]*\w[`'\"]?)\s*$")
_WORD_AFTER = re.compile(r"\s*([`'\"]?\w[\w`'\"\-]*(?:\.\w+)*)")
_PLACEHOLDER = re.compile(
    r"\b(?:TBD|TODO|TBC|FIXME|XXX)\b|\?\?\?+"
    r"|\[(?P<bracket>[^\[\]\n]*[A-Za-z][^\[\]\n]*)\](?![(\[:])"
    r"|(?<![\w<])<(?P<angle>[A-Za-z][^<>\n]*)>"
)
_PLACEHOLDER_WORDS = frozenset("tbd todo tbc fixme xxx".split())
_PLACEHOLDER_HINT = re.compile(r"placeholder|insert|\btbd\b|\btodo\b|\bname\b|\bvalue\b", re.I)
_HTML_TAGS = frozenset(
    "a b i p u br hr em strong code pre div span ul ol li kbd sub sup small img table tr td th"
    .split()
)  # fmt: skip
_PRONOUN_WORDS = frozenset("it its they them their this these those".split())
_PRONOUN = re.compile(r"\b(?:it|its|they|them|their|this|these|those)\b", re.IGNORECASE)
_WORD = re.compile(r"\w+")
_NOT_CONTENT = frozenset(
    "when while if where then the a an and or for all each shall not never always also only "
    "continue to automatically immediately".split()
)  # fmt: skip
_NOT_NOUN = frozenset(
    "shall should must will can may might is are was were be has have had does do did to of "
    "in on at for with by and or from as into that which when if then not".split()
)  # fmt: skip
_SUBORDINATORS = frozenset("when if after before until unless once while because since".split())
_PASSIVE = re.compile(
    r"\bshall\s+(?:(?:not|never|always|also|only|\w+ly)\s+)?"
    r"(?P<be>be)\s+(?:\w+ly\s+)?(?P<verb>[a-z]+)\b",
    re.IGNORECASE,
)
# Participles that do not end in -ed (which any verb is taken to be, less _NOT_PARTICIPLE).
_IRREGULAR = frozenset(
    "sent shown built kept made set done given hidden written read found put run shut cut "
    "taken broken chosen driven eaten fallen forgotten frozen gotten spoken stolen woken "
    "beaten bitten forbidden ridden risen shaken proven overridden rewritten overwritten "
    "known drawn thrown withdrawn grown seen begun lost spent brought caught taught sold told "
    "held paid laid led met dealt meant split hit left"
    .split()
)  # fmt: skip
_NOT_PARTICIPLE = frozenset(
    "based located named called composed related intended supposed designed limited bounded "
    "capped interested concerned involved red bed need feed seed speed exceed proceed "
    "succeed".split()
)  # fmt: skip


@gc_paused()
def lint_criteria(criteria: Sequence[Criterion], file: str) -> list[Finding]:
    """Lint acceptance criteria.

    Args:
        criteria: The criteria of one file, in document order.
        file: The file name to put in the findings.

    Returns:
        Findings sorted by position (``findings.sort_findings``); each names the criterion
        id as its ``subject``.
    """
    findings: list[Finding] = []
    for criterion in criteria:
        findings.extend(_lint_one(criterion, file))
    findings.extend(_duplicates(criteria, file))
    return sort_findings(findings)


def _finding(
    rule: str,
    criterion: Criterion,
    file: str,
    offset: int,
    message: str,
    suggestion: str | None = None,
    severity: Severity | None = None,
) -> Finding:
    return Finding(
        file=file,
        line=criterion.line,
        column=criterion.column + offset,
        rule=rule,
        severity=severity or RULES[rule][0],
        message=message,
        suggestion=suggestion,
        subject=criterion.id,
    )


def _lint_one(criterion: Criterion, file: str) -> list[Finding]:
    structure = parse(criterion.text)
    masked = structure.masked
    # Each rule's regex runs only when a word it looks for is there: most criteria are clean,
    # and a set lookup is much cheaper than a scan.
    words = frozenset(_WORD.findall(masked.lower()))
    findings: list[Finding] = []
    if criterion.kind != "current":
        findings.extend(_ears_rules(criterion, file, structure, words))
        if not _PRONOUN_WORDS.isdisjoint(words):
            findings.extend(_pronouns(criterion, file, structure))
        if "be" in words:
            findings.extend(_passives(criterion, file, structure))
    if not _VAGUE_KEYS.isdisjoint(words):
        findings.extend(_vague_words(criterion, file, masked))
    if "/" in masked:
        findings.extend(_and_or(criterion, file, masked))
    if "?" in masked or "[" in masked or "<" in masked or not _PLACEHOLDER_WORDS.isdisjoint(words):
        findings.extend(_placeholders(criterion, file, masked))
    return findings


def _ears_rules(
    criterion: Criterion, file: str, structure: CriterionStructure, words: frozenset[str]
) -> list[Finding]:
    text = criterion.text
    result = structure.result
    findings: list[Finding] = []
    fixed_by_modal = False
    if not structure.shall_offsets:
        modal = _modal_fix(text, structure.masked)
        if modal is not None:
            offset, word, suggestion, fixed_by_modal = modal
            message = (
                f"'{word}' is used instead of SHALL; a requirement says what the system SHALL do."
            )
            findings.append(_finding("EARS003", criterion, file, offset, message, suggestion))
    elif not _MODAL_WORDS.isdisjoint(words):
        for match in _UPPER_MODAL.finditer(structure.masked):
            message = (
                f"'{match.group()}' next to SHALL leaves part of the criterion optional; "
                "state it with SHALL or move it out of the criterion."
            )
            findings.append(
                _finding("EARS003", criterion, file, match.start(), message, None, Severity.WARNING)
            )
    if result.pattern is Pattern.NOT_EARS and not fixed_by_modal:
        findings.append(_finding("EARS001", criterion, file, 0, _not_ears_message(structure)))
    if len(structure.shall_offsets) > 1:
        count = len(structure.shall_offsets)
        message = f"criterion has {count} SHALLs; split it into one criterion per response."
        findings.append(_finding("EARS002", criterion, file, structure.shall_offsets[1], message))
    if criterion.kind in _BUGFIX_KINDS or result.pattern is Pattern.NOT_EARS:
        return findings
    if result.legacy:
        then = next(start for start, _, keyword in structure.keywords if keyword == "THEN")
        message = "older 'WHEN ... THEN the system SHALL' form; write 'WHEN ..., THE ... SHALL'."
        findings.append(_finding("EARS004", criterion, file, then, message, modernize(text)))
        return findings
    lower_case = [
        (start, end)
        for start, end, keyword in structure.keywords
        if " ".join(text[start:end].split()) != keyword
    ]
    if lower_case:
        start, end = lower_case[0]
        rewritten = text
        for span_start, span_end in lower_case:
            upper = rewritten[span_start:span_end].upper()
            rewritten = rewritten[:span_start] + upper + rewritten[span_end:]
        message = f"EARS keyword '{text[start:end]}' in lower case; write it in capitals."
        findings.append(_finding("EARS005", criterion, file, start, message, rewritten))
    return findings


def _modal_fix(text: str, masked: str) -> tuple[int, str, str, bool] | None:
    """The modal to replace with SHALL: the first whose replacement gives an EARS sentence.

    Returns:
        ``(offset, modal as written, rewritten text, whether the rewrite is EARS)``.
    """
    candidates: list[tuple[int, str, str]] = []
    for match in _MODAL.finditer(masked):
        negated = match.group("negation") is not None or match.group("modal").lower() == "cannot"
        replacement = "SHALL NOT" if negated else "SHALL"
        candidates.append(
            (
                match.start(),
                match.group("modal"),
                text[: match.start()] + replacement + text[match.end() :],
            )
        )
    for offset, word, rewritten in candidates:
        if classify(rewritten).pattern is not Pattern.NOT_EARS:
            return offset, word, rewritten, True
    if candidates:
        offset, word, rewritten = candidates[0]
        return offset, word, rewritten, False
    return None


def _not_ears_message(structure: CriterionStructure) -> str:
    masked = structure.masked
    if not masked.strip():
        return "criterion is empty; write it as THE <system> SHALL <response>."
    opening = _OPENING_PATTERN.match(masked)
    pattern = Pattern.UBIQUITOUS
    if opening is not None and opening.lastgroup not in (None, "other"):
        pattern = Pattern(opening.lastgroup)
    if structure.reason == "opening":
        first = _WORD.search(masked)
        word = first.group() if first is not None else masked.split()[0]
        problem = f"opens with '{word}' instead of WHEN, WHILE, IF, WHERE or THE"
        if pattern is Pattern.UBIQUITOUS:
            pattern = Pattern.EVENT
    else:
        problem = _REASONS.get(structure.reason or "", "does not follow an EARS pattern")
    return f"criterion {problem}; use the {pattern.value} pattern: {_TEMPLATES[pattern]}."


def _vague_words(criterion: Criterion, file: str, masked: str) -> list[Finding]:
    findings: list[Finding] = []
    for match in _VAGUE_WORD.finditer(masked):
        word = match.group()
        if word[:4].lower() == "real" and _BOUNDED.match(masked, match.end()):
            continue
        if word.lower() == "many" and _HOW.search(masked, 0, match.start()):
            continue  # "how many times each word occurs" asks for a count
        if word.lower() == "etc" and masked[match.end() : match.end() + 1] == ".":
            word = "etc."
        message = (
            f"'{word}' is vague; replace it with a measurable bound "
            "(a number with a unit, a limit or an explicit list)."
        )
        findings.append(_finding("AMB001", criterion, file, match.start(), message))
    return findings


def _and_or(criterion: Criterion, file: str, masked: str) -> list[Finding]:
    matches = list(_AND_OR.finditer(masked))
    if not matches:
        return []
    text = criterion.text
    rewritten: str | None = text
    for match in reversed(matches):
        before = _WORD_BEFORE.search(text, 0, match.start())
        after = _WORD_AFTER.match(text, match.end())
        if rewritten is None or before is None or after is None:
            rewritten = None
            continue
        replacement = f"{before.group(1)}, {after.group(1)}, or both"
        rewritten = rewritten[: before.start(1)] + replacement + rewritten[after.end(1) :]
    message = "'and/or' leaves open whether both are required; say 'X, Y, or both' or pick one."
    return [
        _finding("AMB002", criterion, file, match.start(), message, rewritten) for match in matches
    ]


def _placeholders(criterion: Criterion, file: str, masked: str) -> list[Finding]:
    findings: list[Finding] = []
    for match in _PLACEHOLDER.finditer(masked):
        bracket, angle = match.group("bracket"), match.group("angle")
        if bracket is not None and not (
            " " in bracket.strip()
            or (bracket.isupper() and len(bracket) > 1)
            or _PLACEHOLDER_HINT.search(bracket)
        ):
            continue
        if angle is not None:
            tag = angle.split()[0].strip("/").lower()
            if tag in _HTML_TAGS or "://" in angle or "@" in angle:
                continue
        message = f"placeholder '{match.group()}' left in; replace it with the real content."
        findings.append(_finding("AMB003", criterion, file, match.start(), message))
    return findings


def _pronouns(criterion: Criterion, file: str, structure: CriterionStructure) -> list[Finding]:
    masked = structure.masked
    findings: list[Finding] = []
    for match in _PRONOUN.finditer(masked):
        word = match.group()
        lowered = word.lower()
        if lowered in ("this", "these", "those"):
            following = _WORD.match(masked, len(masked) - len(masked[match.end() :].lstrip()))
            if following is not None and following.group().lower() not in _NOT_NOUN:
                continue  # a determiner: "this file" names its noun
        words_before = [w.lower() for w in _WORD.findall(masked, 0, match.start())]
        unresolved = not any(w not in _NOT_CONTENT for w in words_before)
        response_offset = structure.response_offset
        if (
            not unresolved
            and not structure.result.clauses
            and response_offset is not None
            and match.start() >= response_offset
            and lowered not in ("its", "their")
            and (not words_before or words_before[-1] not in _SUBORDINATORS)
        ):
            in_response = [w.lower() for w in _WORD.findall(masked, response_offset, match.start())]
            unresolved = sum(w not in _NOT_CONTENT for w in in_response) <= 1
        if unresolved:
            message = f"'{word}' has nothing to refer to; name the thing instead."
            findings.append(_finding("AMB004", criterion, file, match.start(), message))
    return findings


def _passives(criterion: Criterion, file: str, structure: CriterionStructure) -> list[Finding]:
    masked = structure.masked
    findings: list[Finding] = []
    for match in _PASSIVE.finditer(masked):
        verb = match.group("verb").lower()
        participle = verb in _IRREGULAR or (
            verb.endswith("ed") and len(verb) > 3 and verb not in _NOT_PARTICIPLE
        )
        if not participle:
            continue
        next_shall = lower_same_length(masked).find("shall", match.end())
        scope = masked[match.end() : next_shall if next_shall >= 0 else len(masked)]
        if re.search(r"\bby\b", scope, re.IGNORECASE):
            continue
        message = (
            f"passive 'be {match.group('verb')}' names no actor; say which component does it "
            "(THE <system> SHALL <verb> ...) or add 'by <actor>'."
        )
        findings.append(_finding("AMB005", criterion, file, match.start("be"), message))
    return findings


def _duplicates(criteria: Sequence[Criterion], file: str) -> list[Finding]:
    eligible = [criterion for criterion in criteria if criterion.kind != "current"]
    keys = [normalize(criterion.text) for criterion in eligible]
    findings: list[Finding] = []
    first_with: dict[str, Criterion] = {}
    repeated: set[int] = set()
    for position, (criterion, key) in enumerate(zip(eligible, keys, strict=True)):
        if not key:
            continue
        earlier = first_with.setdefault(key, criterion)
        if earlier is not criterion:
            repeated.add(position)
            message = f"criterion {criterion.id} repeats {earlier.id} word for word; delete one."
            findings.append(_finding("DUP001", criterion, file, 0, message))
    token_sets = [frozenset(key.split()) - STOPWORDS for key in keys]
    closest: dict[int, tuple[float, int]] = {}
    for first, second, similarity in near_duplicate_pairs(token_sets, NEAR_DUPLICATE_THRESHOLD):
        if second in repeated:
            continue
        if second not in closest or similarity > closest[second][0]:
            closest[second] = (similarity, first)
    for position, (similarity, first) in closest.items():
        criterion = eligible[position]
        message = (
            f"criterion {criterion.id} nearly repeats {eligible[first].id} "
            f"({similarity:.0%} of their words are shared); merge them or make the difference "
            "explicit."
        )
        findings.append(_finding("DUP002", criterion, file, 0, message))
    return findings
