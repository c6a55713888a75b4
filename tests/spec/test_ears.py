"""EARS classification: every pattern, the legacy form, real Kiro criteria, and invariants."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from specloom.spec.bugfix import parse_bugfix
from specloom.spec.ears import EarsResult, Pattern, classify, modernize, parse, word_offsets
from specloom.spec.requirements import Criterion, parse_requirements
from tests.conftest import example_files

P = Pattern


def _criteria(path: Path) -> dict[str, Criterion]:
    text = path.read_text(encoding="utf-8")
    if path.name.endswith("bugfix.md"):
        document = parse_bugfix(text, str(path))
        found = document.current + document.expected + document.unchanged
    else:
        found = parse_requirements(text, str(path)).criteria()
    return {criterion.id: criterion for criterion in found}


def _example(pattern: str) -> dict[str, Criterion]:
    (path,) = example_files(pattern)
    return _criteria(path)


# (text, pattern, system, condition, response, legacy, clauses)
CLASSIFIED = [
    ("THE Issue_Manager SHALL log every error.", P.UBIQUITOUS, "Issue_Manager", None,
     "log every error", False, ()),
    ("The system shall log errors", P.UBIQUITOUS, "system", None, "log errors", False, ()),
    ("WHEN a user logs in, THE Auth_Service SHALL issue a token", P.EVENT, "Auth_Service",
     "a user logs in", "issue a token", False, (("WHEN", "a user logs in"),)),
    ("When the user logs in, the system shall issue a token.", P.EVENT, "system",
     "the user logs in", "issue a token", False, (("WHEN", "the user logs in"),)),
    ("WHILE offline, THE App SHALL queue writes", P.STATE, "App", "offline", "queue writes",
     False, (("WHILE", "offline"),)),
    ("IF the disk is full, THEN THE Writer SHALL stop", P.UNWANTED, "Writer",
     "the disk is full", "stop", False, (("IF", "the disk is full"),)),
    ("IF the disk is full THEN THE Writer SHALL stop", P.UNWANTED, "Writer",
     "the disk is full", "stop", False, (("IF", "the disk is full"),)),
    ("IF the disk is full, THE Writer SHALL stop", P.UNWANTED, "Writer", "the disk is full",
     "stop", False, (("IF", "the disk is full"),)),
    ("WHERE dark mode is on, THE UI SHALL use dark colours", P.OPTIONAL, "UI",
     "dark mode is on", "use dark colours", False, (("WHERE", "dark mode is on"),)),
    ("WHILE offline, WHEN a save is requested, THE App SHALL queue the save", P.COMPLEX, "App",
     "WHILE offline, WHEN a save is requested", "queue the save", False,
     (("WHILE", "offline"), ("WHEN", "a save is requested"))),
    ("WHEN a save is requested IF the disk is full THEN THE App SHALL warn", P.COMPLEX, "App",
     "WHEN a save is requested, IF the disk is full", "warn", False,
     (("WHEN", "a save is requested"), ("IF", "the disk is full"))),
    ("WHEN saving, AND WHILE offline, THE App SHALL queue", P.COMPLEX, "App",
     "WHEN saving, WHILE offline", "queue", False, (("WHEN", "saving"), ("WHILE", "offline"))),
    # Kiro's older form.
    ("WHEN x happens THEN the system SHALL do y", P.EVENT, "system", "x happens", "do y", True,
     (("WHEN", "x happens"),)),
    ("when x happens then the system shall do y.", P.EVENT, "system", "x happens", "do y", True,
     (("WHEN", "x happens"),)),
    ("WHILE offline WHEN saving THEN the system SHALL queue", P.COMPLEX, "system",
     "WHILE offline, WHEN saving", "queue", True, (("WHILE", "offline"), ("WHEN", "saving"))),
    # Bugfix responses.
    ("WHEN a student applies THEN the system SHALL CONTINUE TO redirect", P.EVENT, "system",
     "a student applies", "CONTINUE TO redirect", True, (("WHEN", "a student applies"),)),
    ("WHEN a student applies THEN the system SHALL NOT persist it", P.EVENT, "system",
     "a student applies", "NOT persist it", True, (("WHEN", "a student applies"),)),
    # Commas, parentheses, code, quotes and emphasis.
    ("WHEN a user submits data (email, password, name), THE Auth System SHALL hash it",
     P.EVENT, "Auth System", "a user submits data (email, password, name)", "hash it", False,
     (("WHEN", "a user submits data (email, password, name)"),)),
    ("**WHEN** a user clicks, **THE** Button **SHALL** turn blue", P.EVENT, "Button",
     "a user clicks", "turn blue", False, (("WHEN", "a user clicks"),)),
    ("WHEN the user types `when x shall` in a box, THE Editor SHALL warn", P.EVENT, "Editor",
     "the user types `when x shall` in a box", "warn", False,
     (("WHEN", "the user types `when x shall` in a box"),)),
    ('WHEN the label "SHALL, THE" is added, THE Bot SHALL reply', P.EVENT, "Bot",
     'the label "SHALL, THE" is added', "reply", False,
     (("WHEN", 'the label "SHALL, THE" is added'),)),
    # A clause keyword in lower case inside an upper-case sentence is ordinary text.
    ("WHEN the file, if present, is read, THE Loader SHALL parse the file", P.EVENT, "Loader",
     "the file, if present, is read", "parse the file", False,
     (("WHEN", "the file, if present, is read"),)),
    ("FOR ALL supported locales, THE website SHALL provide translations", P.UBIQUITOUS,
     "website", "supported locales", "provide translations", False,
     (("FOR ALL", "supported locales"),)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "pattern", "system", "condition", "response", "legacy", "clauses"), CLASSIFIED
)
def test_classify_finds_pattern_and_parts(
    text: str,
    pattern: Pattern,
    system: str,
    condition: str | None,
    response: str,
    legacy: bool,
    clauses: tuple[tuple[str, str], ...],
) -> None:
    assert classify(text) == EarsResult(pattern, system, condition, response, legacy, clauses)


NOT_EARS = [
    ("", "no_shall"),
    ("The system should log errors", "no_shall"),
    ("WHEN x happens THEN the system logs y", "no_shall"),
    ("THE SHALL do x", "no_system"),
    ("It SHALL respond", "no_system"),
    ("WHEN x happens, System SHALL do y", "no_comma"),
    ("WHEN x happens THE system SHALL do y", "no_comma"),
    ("After login, THE system SHALL show the dashboard", "opening"),
    ("WHEN , THE Saver SHALL save", "empty_clause"),
    ("WHEN x, THE Saver SHALL", "no_response"),
    ("THE Line MAY refer to a figure, but SHALL NOT add one", "bad_system"),
    ("THE system, which is big, SHALL work", "bad_system"),
    ("WHEN the user types `SHALL`, THE Editor warns", "no_shall"),
]


@pytest.mark.parametrize(("text", "reason"), NOT_EARS)
def test_texts_that_are_not_ears(text: str, reason: str) -> None:
    structure = parse(text)
    assert structure.result == EarsResult(Pattern.NOT_EARS)
    assert structure.reason == reason
    assert structure.keywords == ()


def test_parse_locates_keywords_shalls_and_response() -> None:
    text = "when a user clicks, the Button shall turn blue and SHALL beep"
    structure = parse(text)
    assert structure.keywords == ((0, 4, "WHEN"), (20, 23, "THE"), (31, 36, "SHALL"))
    assert structure.shall_offsets == (31, 51)
    assert structure.response_offset == 37
    assert len(structure.masked) == len(text)
    legacy = parse("WHEN x THEN the system SHALL y")
    assert [keyword for _, _, keyword in legacy.keywords] == ["WHEN", "THEN", "THE", "SHALL"]
    assert parse('say "x" and `y`').masked == 'say "_" and `_`'


def test_offsets_survive_characters_whose_lower_case_is_longer() -> None:
    # "İ".lower() is two characters: lowering must not shift the offsets.
    text = "WHEN İİ changes THEN the Sync SHALL copy it"
    assert classify(text) == EarsResult(
        Pattern.EVENT, "Sync", "İİ changes", "copy it", True, (("WHEN", "İİ changes"),)
    )
    assert modernize(text) == "WHEN İİ changes, THE Sync SHALL copy it"


def test_word_offsets_finds_whole_words_only() -> None:
    assert word_offsets("shall shallow marshall shall_x shall.", "shall") == [0, 31]
    assert word_offsets("the theme the", "the", 1) == [10]
    assert word_offsets("the the", "the", 0, 5) == [0]


MODERNIZED = [
    ("WHEN the player moves THEN the system SHALL draw sparkles",
     "WHEN the player moves, THE System SHALL draw sparkles"),
    ("when x then the Warband Builder shall show the cost.",
     "WHEN x, THE Warband Builder SHALL show the cost."),
    ("WHEN a AND b THEN the system SHALL NOT save",
     "WHEN a AND b, THE System SHALL NOT save"),
    ("WHILE offline WHEN saving THEN the app SHALL queue",
     "WHILE offline, WHEN saving, THE App SHALL queue"),
    ("WHEN **x** THEN the `svc` SHALL y", "WHEN **x**, THE `svc` SHALL y"),
]  # fmt: skip


@pytest.mark.parametrize(("legacy", "current"), MODERNIZED)
def test_modernize_rewrites_the_legacy_form(legacy: str, current: str) -> None:
    assert modernize(legacy) == current
    before, after = classify(legacy), classify(current)
    assert (before.legacy, after.legacy) == (True, False)
    assert (after.pattern, after.clauses) == (before.pattern, before.clauses)


@pytest.mark.parametrize(
    "text",
    [
        "WHEN x, THE system SHALL y",
        "IF x THEN THE system SHALL y",
        "THE system SHALL y",
        "the system logs y",
    ],
)
def test_modernize_leaves_other_criteria_alone(text: str) -> None:
    assert modernize(text) is None


# --- real Kiro specs ---------------------------------------------------------------------


def test_current_kiro_style_is_event_form() -> None:
    criteria = _example("*github-issue-automation/requirements.md")
    assert classify(criteria["1.1"].text) == EarsResult(
        Pattern.EVENT,
        system="Issue_Manager",
        condition="a new issue is created",
        response="analyze the issue title and body using Bedrock_Classifier",
        clauses=(("WHEN", "a new issue is created"),),
    )
    assert classify(criteria["5.1"].text).pattern is Pattern.UBIQUITOUS
    assert classify(criteria["5.1"].text).system == "Bedrock_Classifier"


def test_spirit_of_kiro_criteria_are_legacy_events() -> None:
    criteria = _example("*plans_player-trail-effect_requirements.md")
    assert len(criteria) == 19
    for criterion in criteria.values():
        result = classify(criterion.text)
        assert (result.pattern, result.legacy, result.system) == (Pattern.EVENT, True, "system")
    assert classify(criteria["1.1"].text).condition == "the player character moves"
    assert modernize(criteria["3.1"].text) == (
        "WHEN a sparkle effect is created, THE System SHALL begin a fade-out animation "
        "that lasts exactly two seconds"
    )


def test_kiro_patterns_in_real_specs() -> None:
    jwt = _example("*jwt-authentication-system/requirements.md")
    assert classify(jwt["6.3"].text).pattern is Pattern.STATE
    assert classify(jwt["6.3"].text).condition == "a user is authenticated"
    assert classify(jwt["4.4"].text).pattern is Pattern.OPTIONAL
    assert classify(jwt["5.1"].text).system == "Authentication System"
    crew = _example("*folder-steering-dirs/requirements.md")
    unwanted = classify(crew["1.4"].text)
    assert (unwanted.pattern, unwanted.system) == (Pattern.UNWANTED, "Folder_Store")
    assert unwanted.condition == "`steering_dirs` lists more than 16 entries"
    assert classify(crew["3.10"].text).response == "NOT include folder Steering_Documents"
    assert classify(crew["2.7"].text).clauses == (("FOR ALL", "folder trees"),)
    lint = _example("*ci-python-linting/requirements.md")
    assert classify(lint["5.1"].text).response == "NOT declare Ruff as a runtime dependency"
    onboarding = _example("*onboarding-license-request-option/requirements.md")
    assert parse(onboarding["2.1"].text).reason == "bad_system"  # "THE x MAY ..., but SHALL"
    weirdos = _example("*space-weirdos-game-rules/requirements.md")
    compound = classify(weirdos["6.1"].text)
    assert compound.condition == (
        "the warband has Heavily Armed ability AND calculating ranged weapon cost"
    )
    assert (compound.system, compound.legacy) == ("Cost Engine", True)


# Patterns per example file: (pattern, legacy) -> count. Only onboarding 2.1 is not EARS.
EXPECTED_PATTERNS = {
    "jwt-authentication-system": {"event": 53, "optional": 5, "state": 1, "ubiquitous": 16},
    "5-realtime-feedback-polish": {"event*": 46},
    "space-weirdos-game-rules": {"event*": 65},
    "ci-python-linting": {"event": 2, "ubiquitous": 15},
    "onboarding-license-request-option": {
        "event": 1, "not_ears": 1, "optional": 1, "ubiquitous": 9
    },
    "kirodotdev-KiroCrew__folder-steering-dirs": {
        "event": 29, "state": 3, "ubiquitous": 7, "unwanted": 9
    },
    "kirodotdev-Kiro__github-issue-automation": {"event": 30, "ubiquitous": 11},
    "spirit-of-kiro": {"event*": 19},
    "idea-panel": {"event*": 53},
    "property-based-testing": {"event": 47, "ubiquitous": 28},
}  # fmt: skip


def test_every_example_requirements_file_classifies_as_expected() -> None:
    seen = {}
    for path in example_files("*requirements.md"):
        counts = Counter(
            classify(c.text).pattern.value + ("*" if classify(c.text).legacy else "")
            for c in _criteria(path).values()
        )
        seen[path.parent.name] = dict(counts)
    assert seen == EXPECTED_PATTERNS


def test_bugfix_criteria_classify_by_kind() -> None:
    paths = example_files("*bugfix.md")
    assert len(paths) == 4
    for path in paths:
        for criterion in _criteria(path).values():
            result = classify(criterion.text)
            if criterion.kind == "current":
                assert result.pattern is Pattern.NOT_EARS, criterion.text
            else:
                assert (result.pattern, result.legacy) == (Pattern.EVENT, True), criterion.text
                if criterion.kind == "unchanged":
                    assert result.response is not None
                    assert result.response.startswith("CONTINUE TO ")
    bugfix = _example("*document-required-at-application_bugfix.md")
    assert classify(bugfix["2.1"].text).response == (
        "reject the submission, SHALL NOT persist the `Application`, and SHALL return the "
        "student to the application flow with feedback indicating a document is required"
    )


# --- properties ----------------------------------------------------------------------------

_KEYWORDS = {"when", "while", "if", "where", "then", "the", "shall", "for", "and"}
_words = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True).filter(
    lambda word: word not in _KEYWORDS
)
_noise = st.sampled_from(["`when shall`", '"SHALL, THE"', "(a, b)", "x-y", "`IF`", "#3"])
_phrase = st.lists(st.one_of(_words, _noise), min_size=1, max_size=6).map(" ".join)
_system = st.lists(_words, min_size=1, max_size=3).map(" ".join)
_KEYWORD_OF = {
    Pattern.EVENT: "WHEN",
    Pattern.STATE: "WHILE",
    Pattern.UNWANTED: "IF",
    Pattern.OPTIONAL: "WHERE",
}


@st.composite
def _ears_sentences(draw: st.DrawFn) -> tuple[str, Pattern, str, bool]:
    pattern = draw(st.sampled_from([p for p in Pattern if p is not Pattern.NOT_EARS]))
    case = draw(st.sampled_from([str.upper, str.lower, str.title]))
    system = draw(_system)
    response = draw(_phrase)
    legacy = False
    if pattern is Pattern.UBIQUITOUS:
        head = ""
    elif pattern is Pattern.COMPLEX:
        keywords = draw(st.lists(st.sampled_from(list(_KEYWORD_OF.values())), min_size=2,
                                 max_size=3))  # fmt: skip
        head = ", ".join(f"{case(k)} {draw(_phrase)}" for k in keywords) + ", "
    else:
        head = f"{case(_KEYWORD_OF[pattern])} {draw(_phrase)}"
        if pattern is Pattern.EVENT and draw(st.booleans()):
            legacy = True
            head += f" {case('then')} "
        elif pattern is Pattern.UNWANTED and draw(st.booleans()):
            head += f", {case('then')} "
        else:
            head += ", "
    end = draw(st.sampled_from(["", ".", " NOT x", " CONTINUE TO y"]))
    text = f"{head}{case('the')} {system} {case('shall')} {response}{end}"
    return text, pattern, system, legacy


@given(_ears_sentences())
def test_generated_ears_sentences_classify_to_their_pattern(
    generated: tuple[str, Pattern, str, bool],
) -> None:
    text, pattern, system, legacy = generated
    structure = parse(text)
    assert structure.result.pattern is pattern, text
    assert structure.result.system == system
    assert structure.result.legacy is legacy
    for start, end, keyword in structure.keywords:
        assert " ".join(text[start:end].split()).upper() == keyword
    modern = modernize(text)
    if legacy:
        assert modern is not None
        assert classify(modern).pattern is pattern
        assert classify(modern).legacy is False
    else:
        assert modern is None


_FRAGMENTS = st.sampled_from(
    ["WHEN", "when", "While", "IF", "WHERE", "FOR ALL", "THEN", "then", "THE", "the", "SHALL",
     "shall", "NOT", "AND", ",", ".", "`", '"', "**", "_", "MAY", "x", " ", "\n", "İ", "ß"]
)  # fmt: skip


@given(st.one_of(st.text(), st.lists(_FRAGMENTS, max_size=25).map(" ".join)))
def test_classify_never_raises(text: str) -> None:
    result = classify(text)
    structure = parse(text)
    assert structure.result == result
    assert len(structure.masked) == len(text)
    assert (result.pattern is Pattern.NOT_EARS) == (result.system is None)
    modernize(text)
