"""Criteria lint: every rule fires where it should (exact positions) and nowhere else."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from specloom.spec.bugfix import parse_bugfix
from specloom.spec.ears import modernize
from specloom.spec.findings import Finding, Severity
from specloom.spec.lint import RULES, lint_criteria
from specloom.spec.requirements import Criterion, parse_requirements
from specloom.spec.similarity import jaccard, near_duplicate_pairs, normalize, tokens
from tests.conftest import example_files

LINE, COLUMN = 40, 4


def _lint(text: str, kind: str = "criterion") -> list[Finding]:
    return lint_criteria([Criterion("3.2", text, LINE, COLUMN, kind)], "requirements.md")


def _rules(text: str, kind: str = "criterion") -> list[str]:
    return [finding.rule for finding in _lint(text, kind)]


# (rule, criterion, column of the finding, suggestion). The column is COLUMN plus the offset
# of the offending word, or COLUMN itself where the whole criterion is at fault.
FIRES = [
    ("EARS001", "After login, THE Dashboard SHALL open", 4, None),
    ("EARS001", "Users should be able to log in", 4, None),
    ("EARS001", "THE SHALL do x", 4, None),
    ("EARS001", "WHEN the cache expires THE Loader SHALL reload", 4, None),
    ("EARS002", "THE Store SHALL accept lists, and SHALL reject other shapes", 38, None),
    ("EARS003", "The system should log errors", 15, "The system SHALL log errors"),
    ("EARS003", "THE Cleaner cannot delete files", 16, "THE Cleaner SHALL NOT delete files"),
    ("EARS003", "THE Cleaner must not delete files", 16, "THE Cleaner SHALL NOT delete files"),
    # The first modal whose replacement gives an EARS sentence, not the one in the trigger.
    ("EARS003", "WHEN a user can log in, THE Portal must show the dashboard", 39,
     "WHEN a user can log in, THE Portal SHALL show the dashboard"),
    ("EARS004", "WHEN x happens THEN the system SHALL do y", 19,
     "WHEN x happens, THE System SHALL do y"),
    ("EARS005", "When a user logs in, the Auth_Service shall issue a token", 4,
     "WHEN a user logs in, THE Auth_Service SHALL issue a token"),
    ("EARS005", "WHEN a user logs in, the Auth_Service SHALL issue a token", 25,
     "WHEN a user logs in, THE Auth_Service SHALL issue a token"),
    ("AMB001", "THE API SHALL respond fast", 26, None),
    ("AMB001", "THE Job SHALL retry as needed", 24, None),
    ("AMB001", "THE UI SHALL use a state-of-the-art, clean layout", 23, None),
    ("AMB001", "THE Feed SHALL update in real-time", 29, None),
    ("AMB001", "THE Index SHALL be Scalable", 23, None),
    ("AMB001", "THE Counter SHALL show how often many words occur", 37, None),
    ("AMB002", "THE Bot SHALL send email and/or SMS.", 29,
     "THE Bot SHALL send email, SMS, or both."),
    ("AMB003", "THE API SHALL return TBD", 25, None),
    ("AMB003", "THE API SHALL answer within ??? ms", 32, None),
    ("AMB003", "THE API SHALL notify [team name]", 25, None),
    ("AMB003", "THE <system> SHALL start", 8, None),
    ("AMB004", "WHEN it fails, THE Job SHALL retry", 9, None),
    ("AMB004", "THE Exporter SHALL compress them", 32, None),
    ("AMB004", "THIS SHALL work", 4, None),
    ("AMB005", "THE Report SHALL be sent", 21, None),
    ("AMB005", "THE Config SHALL NOT be overwritten on upgrade", 25, None),
    ("AMB005", "THE Log SHALL always be kept for 30 days", 25, None),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "text", "column", "suggestion"), FIRES)
def test_rule_fires_at_the_offending_word(
    rule: str, text: str, column: int, suggestion: str | None
) -> None:
    (finding,) = [finding for finding in _lint(text) if finding.rule == rule]
    assert (finding.file, finding.line, finding.column) == ("requirements.md", LINE, column)
    assert finding.subject == "3.2"
    assert finding.suggestion == suggestion
    assert finding.severity is RULES[rule][0]
    assert finding.message.endswith(".")


def test_upper_case_modal_beside_shall_is_a_warning() -> None:
    (finding,) = _lint("THE Line SHALL cite the source and MAY quote it")
    assert (finding.rule, finding.column, finding.severity) == ("EARS003", 39, Severity.WARNING)
    assert finding.suggestion is None
    assert "'MAY'" in finding.message


def test_every_criterion_rule_has_a_case_that_fires() -> None:
    assert {rule for rule, *_ in FIRES} | {"DUP001", "DUP002"} == set(RULES)
    for severity, description in RULES.values():
        assert isinstance(severity, Severity)
        assert description


QUIET = [
    ("EARS001", "WHEN x, THE Saver SHALL save"),
    ("EARS001", "The system should log errors"),  # EARS003 says it, with a fix
    ("EARS002", "THE Linter SHALL flag `SHALL SHALL` in code"),
    ("EARS003", "THE Bot SHALL reply when users can log in"),
    ("EARS003", "WHEN a save fails, THE Saver SHALL retry"),
    ("EARS004", "WHEN x happens, THE System SHALL do y"),
    ("EARS004", "IF x happens THEN THE System SHALL do y"),
    ("EARS005", "WHEN x happens, THE System SHALL do y"),
    ("EARS005", "WHEN x happens THEN the system SHALL do y"),  # EARS004 rewrites it all
    ("AMB001", "THE API SHALL respond within 200 ms"),
    ("AMB001", 'THE CLI SHALL accept a `--fast` flag and a "quick" preset'),
    ("AMB001", "THE Labeler SHALL support theme:slow-unresponsive"),
    ("AMB001", "THE Feed SHALL update in real-time (under 100 ms)"),
    ("AMB001", "THE Cafe SHALL serve breakfast"),
    ("AMB001", "THE Counter SHALL return how many times each word occurs"),
    ("AMB002", "THE Bot SHALL send email and SMS, or both"),
    ("AMB002", "THE Docs SHALL explain the `and/or` operator"),
    ("AMB003", "THE Docs SHALL link to [the guide](https://x.org) for [ideaId]"),
    ("AMB003", "THE Todo_App SHALL add a todo item when x <= 5"),
    ("AMB003", "THE Docs SHALL show `<system>` and use <br> breaks"),
    ("AMB004", "THE Logger SHALL write this file"),
    ("AMB004", "WHEN a file is uploaded, THE Scanner SHALL scan it"),
    ("AMB004", "THE Entity SHALL never allow changes to its ID"),
    ("AMB004", "THE Service SHALL restart when it crashes"),
    ("AMB004", "THE Exporter SHALL compress the files and upload them"),
    ("AMB005", "THE Report SHALL be sent by the Mailer"),
    ("AMB005", "THE Suite SHALL be located under `tests/`"),
    ("AMB005", "THE Score SHALL be between 0 and 5"),
    ("AMB005", "THE Value SHALL be immutable"),
]


@pytest.mark.parametrize(("rule", "text"), QUIET)
def test_rule_stays_quiet(rule: str, text: str) -> None:
    assert rule not in _rules(text)


def test_clean_criteria_have_no_findings() -> None:
    assert _lint("WHEN a user logs in, THE Auth_Service SHALL issue a token within 2 s") == []
    assert _lint("IF the disk is full, THEN THE Writer SHALL stop and report the free space") == []


def test_messages_say_what_to_write() -> None:
    (opening,) = _lint("After login, THE Dashboard SHALL open")
    assert "'After'" in opening.message
    assert "WHEN <trigger>, THE <system> SHALL <response>" in opening.message
    state = next(f for f in _lint("During sync the app saves") if f.rule == "EARS001")
    assert "WHILE <state>, THE <system> SHALL <response>" in state.message
    (vague,) = _lint("THE API SHALL respond fast")
    assert "'fast'" in vague.message and "measurable" in vague.message
    (passive,) = _lint("THE Report SHALL be sent")
    assert "'be sent'" in passive.message


def test_suggestions_fix_what_they_are_for() -> None:
    for rule, _, _, suggestion in FIRES:
        if suggestion is not None:
            assert rule not in _rules(suggestion), (rule, suggestion)


def test_and_or_rewrites_every_occurrence() -> None:
    findings = _lint("THE Bot SHALL send email and/or SMS and/or push")
    assert [f.column for f in findings] == [29, 40]
    assert {f.suggestion for f in findings} == {
        "THE Bot SHALL send email, SMS, or both, push, or both"
    }


# --- bugfix kinds -------------------------------------------------------------------------


def test_current_behaviour_is_only_checked_for_wording() -> None:
    defect = "WHEN a user signs up THEN the system creates it quickly"
    assert _rules(defect, "current") == ["AMB001"]
    assert "EARS001" in _rules(defect, "expected")
    assert _rules("It is TBD and/or broken", "current") == ["AMB003", "AMB002"]


def test_bugfix_expected_and_unchanged_use_kiros_bugfix_form() -> None:
    expected = "WHEN a user signs up THEN the system SHALL create an empty profile"
    unchanged = "WHEN a user uploads a resume THEN the system SHALL CONTINUE TO parse the file"
    assert _rules(expected, "expected") == []
    assert _rules(unchanged, "unchanged") == []
    assert _rules(expected) == ["EARS004"]  # in a feature spec it is the older form
    listed = "WHEN x THEN the system SHALL reject it, SHALL NOT save it"
    (finding,) = _lint(listed, "expected")
    assert (finding.rule, finding.column) == ("EARS002", 4 + listed.index("SHALL NOT"))


def test_duplicates_ignore_current_behaviour() -> None:
    text = "WHEN a user signs up THEN the system creates mock data"
    criteria = [Criterion("1.1", text, 5, 5, "current"), Criterion("1.2", text, 7, 5, "current")]
    assert lint_criteria(criteria, "bugfix.md") == []


# --- duplicates ---------------------------------------------------------------------------


def test_exact_duplicates_point_at_the_later_criterion() -> None:
    criteria = [
        Criterion("1.1", "WHEN a user logs in, THE Portal SHALL show the dashboard", 10, 4),
        Criterion("1.2", "THE Portal SHALL log every request", 11, 4),
        Criterion("2.1", "when a user logs in, the Portal shall show the  dashboard.", 20, 5),
    ]
    (finding,) = [f for f in lint_criteria(criteria, "r.md") if f.rule.startswith("DUP")]
    assert (finding.rule, finding.subject, finding.line, finding.column) == ("DUP001", "2.1", 20, 5)
    assert "1.1" in finding.message


def test_near_duplicates_name_the_closest_earlier_criterion() -> None:
    base = "WHEN a user saves a draft, THE Editor SHALL write the draft to local storage"
    criteria = [
        Criterion("1.1", base, 10, 4),
        Criterion("1.2", "THE Editor SHALL show a word count", 11, 4),
        Criterion("1.3", base.replace("SHALL write", "SHALL NOT write"), 12, 4),
        Criterion("1.4", "WHEN a user opens a file, THE Editor SHALL show it", 13, 4),
    ]
    findings = lint_criteria(criteria, "r.md")
    assert [(f.rule, f.subject, f.line, f.column) for f in findings] == [("DUP002", "1.3", 12, 4)]
    assert "1.1" in findings[0].message and "88%" in findings[0].message


def test_planted_near_duplicate_is_found_among_3000_criteria() -> None:
    rng = random.Random(20240611)
    vocabulary = [f"w{number}" for number in range(6000)]
    texts = []
    for _ in range(3000):
        trigger = " ".join(rng.sample(vocabulary, 6))
        response = " ".join(rng.sample(vocabulary, 10))
        texts.append(f"WHEN {trigger}, THE System SHALL {response}")
    original = texts[1234]
    words = original.split()
    words[-1] = "planted"  # one content word of 17 changed: Jaccard 16/18 = 0.89
    texts.insert(2500, " ".join(words))
    criteria = [
        Criterion(f"{index // 10 + 1}.{index % 10 + 1}", text, index + 1, 4)
        for index, text in enumerate(texts)
    ]
    findings = lint_criteria(criteria, "big.md")
    assert [(f.rule, f.subject) for f in findings] == [("DUP002", criteria[2500].id)]
    assert criteria[1234].id in findings[0].message


# --- real Kiro specs ------------------------------------------------------------------------


def _lint_file(path: Path) -> list[Finding]:
    text = path.read_text(encoding="utf-8")
    if path.name.endswith("bugfix.md"):
        document = parse_bugfix(text, path.name)
        criteria = document.current + document.expected + document.unchanged
    else:
        criteria = parse_requirements(text, path.name).criteria()
    return lint_criteria(criteria, path.name)


def _summary(findings: list[Finding]) -> list[tuple[str, str | None, int, int]]:
    return [(f.rule, f.subject, f.line, f.column) for f in findings]


def _example_findings(pattern: str) -> list[Finding]:
    (path,) = example_files(pattern)
    return _lint_file(path)


def test_kiro_github_issue_automation_has_one_vague_word() -> None:
    findings = _example_findings("*github-issue-automation/requirements.md")
    assert _summary(findings) == [("AMB001", "6.6", 92, 57)]
    assert "'appropriate'" in findings[0].message


def test_spirit_of_kiro_is_legacy_throughout() -> None:
    (path,) = example_files("*plans_player-trail-effect_requirements.md")
    criteria = {c.id: c for c in parse_requirements(path.read_text(), path.name).criteria()}
    findings = _lint_file(path)
    legacy = [f for f in findings if f.rule == "EARS004"]
    assert len(legacy) == 19
    for finding in legacy:
        criterion = criteria[finding.subject or ""]
        assert finding.column == criterion.column + criterion.text.index(" THEN ") + 1
        assert finding.suggestion == modernize(criterion.text)
    assert [(f.rule, f.subject) for f in findings if f.rule != "EARS004"] == [("AMB001", "4.2")]


def test_real_specs_findings() -> None:
    crew = _summary(_example_findings("*folder-steering-dirs/requirements.md"))
    assert ("EARS002", "1.1", 71, 132) in crew
    assert ("EARS005", "2.7", 93, 26) in crew  # "FOR ALL ..., the Effective_Steering_Dirs"
    onboarding = _example_findings("*onboarding-license-request-option/requirements.md")
    assert [(f.rule, f.severity.value) for f in onboarding if f.subject == "2.1"] == [
        ("EARS001", "error"),
        ("EARS003", "warning"),
    ]
    weirdos = _summary(_example_findings("*space-weirdos-game-rules/requirements.md"))
    assert [entry for entry in weirdos if entry[0] == "DUP002"] == [
        ("DUP002", "6.4", 106, 4),
        ("DUP002", "7.8", 126, 4),
        ("DUP002", "7.9", 127, 4),
    ]
    linting = _summary(_example_findings("*ci-python-linting/requirements.md"))
    assert linting == [("AMB005", "5.3", 67, 31)]  # "SHALL NOT be added to any ..."
    jwt = _summary(_example_findings("*jwt-authentication-system/requirements.md"))
    assert jwt == [("AMB001", "9.5", 129, 89), ("AMB001", "14.1", 185, 99)]


def test_real_bugfix_specs() -> None:
    document_required = _example_findings("*document-required-at-application_bugfix.md")
    assert [(f.rule, f.subject) for f in document_required] == [
        ("EARS002", "2.1"),
        ("EARS002", "2.2"),
        ("EARS002", "2.3"),
    ]
    mock_skills = _example_findings("*new-user-mock-skills_bugfix.md")
    assert _summary(mock_skills) == [("AMB001", "3.4", 39, 225)]
    assert _example_findings("*offsetdatetime-compile-error_bugfix.md") == []


def test_no_real_spec_has_placeholders_or_dangling_pronouns() -> None:
    paths = example_files("*requirements.md") + example_files("*bugfix.md")
    assert len(paths) == 14
    for path in paths:
        assert {f.rule for f in _lint_file(path)} & {"AMB003", "AMB004"} == set(), path


# --- properties -----------------------------------------------------------------------------

_FRAGMENTS = st.sampled_from(
    ["WHEN", "when", "WHILE", "IF", "THEN", "then", "THE", "the", "SHALL", "shall", "NOT",
     "it", "this", "be", "sent", "by", "fast", "and/or", "TBD", "???", "[a b]", "<x>", ",",
     ".", "`", '"', "**", "_", "should", "MAY", "x", "y", "system", " ", "\n", "real-time",
     "1", "İ"]
)  # fmt: skip
_TEXTS = st.one_of(st.text(), st.lists(_FRAGMENTS, max_size=30).map(" ".join))
_KINDS = st.sampled_from(["criterion", "current", "expected", "unchanged"])


@given(st.lists(st.tuples(_TEXTS, _KINDS), max_size=8))
def test_lint_never_raises_and_locates_every_finding(entries: list[tuple[str, str]]) -> None:
    criteria = [
        Criterion(f"1.{index + 1}", text, 10 + index, 4, kind)
        for index, (text, kind) in enumerate(entries)
    ]
    findings = lint_criteria(criteria, "r.md")
    by_id = {criterion.id: criterion for criterion in criteria}
    for finding in findings:
        assert finding.rule in RULES
        criterion = by_id[finding.subject or ""]
        assert finding.line == criterion.line
        assert criterion.column <= finding.column <= criterion.column + len(criterion.text)
        if criterion.kind == "current":
            assert finding.rule in ("AMB001", "AMB002", "AMB003")
    assert findings == sorted(findings, key=lambda f: (f.line, f.column, f.severity.rank, f.rule))


# --- similarity -----------------------------------------------------------------------------


def test_normalize_and_tokens() -> None:
    assert normalize("WHEN x,  THE  Sys SHALL do-it (17.3).") == "when x the sys shall do-it 17.3"
    assert tokens("WHEN the user saves, THE Editor SHALL NOT write it") == {
        "user", "saves", "editor", "not", "write"
    }  # fmt: skip
    assert jaccard(set(), set()) == 0.0
    assert jaccard({"a", "b"}, {"b", "c"}) == pytest.approx(1 / 3)


@pytest.mark.parametrize("threshold", [0.0, -0.1, 1.5])
def test_threshold_must_be_a_fraction(threshold: float) -> None:
    with pytest.raises(ValueError, match="threshold"):
        near_duplicate_pairs([{"a"}], threshold)


@given(
    st.lists(st.frozensets(st.integers(0, 12).map(str), max_size=10), max_size=30),
    st.sampled_from([0.3, 0.5, 2 / 3, 0.75, 0.8, 0.85, 0.9, 1.0]),
)
def test_similarity_join_equals_all_pairs(sets: list[frozenset[str]], threshold: float) -> None:
    """Both joins (prefix filter below 0.75, partition join from 0.75) miss and invent nothing."""
    _assert_join_exact(sets, threshold)


@given(
    st.lists(st.frozensets(st.integers(0, 40).map(str), min_size=10, max_size=30), max_size=25),
    st.sampled_from([0.75, 0.8, 0.85, 0.9, 0.95]),
)
def test_partition_join_on_long_sets(sets: list[frozenset[str]], threshold: float) -> None:
    """Long sets split into several parts: pairs differing in up to k(a) tokens are all found."""
    # Make near-duplicates likely: copy sets with a token or two swapped.
    variants = [frozenset(sorted(s)[1:]) | {"extra"} for s in sets[: len(sets) // 2]]
    _assert_join_exact(sets + variants, threshold)


def _assert_join_exact(sets: list[frozenset[str]], threshold: float) -> None:
    expected = [
        (i, j)
        for i, j in itertools.combinations(range(len(sets)), 2)
        if sets[i] and sets[j] and jaccard(sets[i], sets[j]) >= threshold - 1e-9
    ]
    found = near_duplicate_pairs(sets, threshold)
    assert [(i, j) for i, j, _ in found] == expected
    for i, j, similarity in found:
        assert similarity == pytest.approx(jaccard(sets[i], sets[j]))
