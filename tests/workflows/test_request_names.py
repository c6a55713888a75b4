"""The functions and files a feature request names, and which criteria cover them."""

from __future__ import annotations

from specloom.workflows.authoring_schemas import RequirementDraft, RequirementsDraft
from specloom.workflows.request_names import (
    NamedFunction,
    must_cover,
    named_files,
    named_functions,
    plan_note,
    request_clause,
    uncovered,
    with_named_functions,
)

DEMO_REQUEST = (
    "A command-line tool wordcount.py whose function count_words(text) returns how many times "
    "each word occurs, words compared case-insensitively, and whose main(path) prints each "
    "word of a text file with its count, most frequent first."
)


def test_functions_are_read_with_their_parameters_in_order() -> None:
    assert named_functions(DEMO_REQUEST) == [
        NamedFunction("count_words", "count_words(text)"),
        NamedFunction("main", "main(path)"),
    ]
    request = "Add Store.save(note: Note, *, tags: dict[str, int] = {}) and load() to a.py; load()"
    assert [f.signature for f in named_functions(request)] == [
        "Store.save(note: Note, *, tags: dict[str, int] = {})",
        "load()",
    ]
    assert named_functions(request)[0].short == "save"


def test_prose_in_parentheses_is_not_a_function() -> None:
    request = (
        "A tool (for example a counter) that reports totals(per day and per week), as "
        "e.g.(this) shows, in version 1.2(beta)"
    )
    assert named_functions(request) == []


def test_files_are_read_by_their_suffix() -> None:
    request = "Change src/app/main.py and config.yaml (not v1.2 or e.g. this), see README.md."
    assert named_files(request) == ["src/app/main.py", "config.yaml", "README.md"]
    assert named_files(DEMO_REQUEST) == ["wordcount.py"]


def test_the_prompt_part_lists_every_name_and_none_for_a_request_without_names() -> None:
    part = must_cover(DEMO_REQUEST)
    assert part is not None
    assert part.startswith("The request names count_words(text), main(path), wordcount.py.")
    assert "add no input, output, file or option the request does not ask for" in part
    assert must_cover("A word-frequency command-line tool") is None


def test_a_function_no_criterion_names_is_uncovered() -> None:
    criteria = [
        "WHEN the Main function is given a path, THE tool SHALL print each word with its count",
        "THE tool SHALL count words case-insensitively",
    ]
    assert [f.name for f in uncovered(DEMO_REQUEST, criteria)] == ["count_words"]
    criteria.append("WHEN count_words is given a text, THE tool SHALL return each word's count")
    assert uncovered(DEMO_REQUEST, criteria) == []
    # A longer word holding the name does not cover it.
    assert [f.name for f in uncovered(DEMO_REQUEST, ["THE mainline SHALL count_words"])] == ["main"]


def test_the_plan_is_asked_for_a_code_task_per_named_function() -> None:
    assert plan_note(DEMO_REQUEST) == (
        "The request names count_words(text), main(path) in wordcount.py: plan one code task "
        "for each, in that order, each citing the criteria about it."
    )
    # With no file or several, no file is given; with no function, no part at all.
    assert plan_note("Add parse(x) to a.py and b.py") == (
        "The request names parse(x): plan one code task for each, in that order, each citing "
        "the criteria about it."
    )
    assert plan_note("Change wordcount.py to sort by count") is None


def test_what_the_request_says_of_a_function_is_read_as_words_after_shall() -> None:
    count_words, main = named_functions(DEMO_REQUEST)
    assert request_clause(DEMO_REQUEST, count_words) == (
        "return how many times each word occurs, words compared case-insensitively"
    )
    assert request_clause(DEMO_REQUEST, main) == (
        "print each word of a text file with its count, most frequent first"
    )
    cases = {
        "sort(items) sorts items by key and the tool does more": "sort items by key",
        "load() fixes it; save(a) does it": "fix it",
        "g(x) copies x: fast": "copy x",
        "f(x) matches the header. Then more": "match the header",
        "f(x) passes the test, and whose g(y) is new": "pass the test",
        "recount(a) is old; count(x) counts x. Done": "be old",
    }
    for request, clause in cases.items():
        assert request_clause(request, named_functions(request)[0]) == clause, request
    # The clause of the function itself, not of one whose name ends the same way.
    request = "recount(a) is old; count(x) counts x. Done"
    assert request_clause(request, named_functions(request)[1]) == "count x"
    # No verb in the third person after the signature: nothing to say.
    for request in (
        "Add parse(x) that reads the header",
        "count(x), which is nice",
        "f(x) returns",
        "f(x) process the file",
    ):
        assert request_clause(request, named_functions(request)[0]) is None, request  # fmt: skip


def test_functions_no_criterion_names_get_a_requirement_in_the_request_s_words() -> None:
    draft = RequirementsDraft(
        introduction="Counts words.",
        requirements=[
            RequirementDraft(
                title="Output files",
                user_story="As a user, I want an output file, so that I keep the counts.",
                criteria=["WHEN a path is given, THE Tool SHALL write the counts to it"],
            )
        ],
    )

    added = with_named_functions(draft, DEMO_REQUEST)

    assert added == ["count_words(text)", "main(path)"]
    assert [r.title for r in draft.requirements] == [
        "Output files", "count_words(text)", "main(path)"]  # fmt: skip
    assert draft.requirements[2].criteria == [
        "WHEN main(path) is called, THE main function SHALL print each word of a text file "
        "with its count, most frequent first"
    ]
    assert draft.requirements[1].user_story.startswith(
        "As a user, I want count_words(text) to return how many times each word occurs"
    )
    assert with_named_functions(draft, DEMO_REQUEST) == []  # covered now
    # A function the request says nothing usable about gets nothing.
    assert with_named_functions(draft, "Also add parse(x) for the header") == []
