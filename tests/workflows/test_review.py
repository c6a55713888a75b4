"""The model review of a spec with scripted models on a copy of the word-frequency example:
merging with the rule findings, locations checked (sent back, then dropped), and applying
the accepted rewrites (only those, refusing any that would break the spec)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    TextPart,
    ToolCallPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from specloom.spec.findings import Finding, Severity
from specloom.workflows.review import (
    Decision,
    Review,
    Rewrite,
    apply_rewrites,
    merge_findings,
    review_spec,
)
from specloom.workspace import Workspace

pytestmark = pytest.mark.anyio

SPEC = "word-frequency"
FOLDER = Path(".kiro/specs/word-frequency")
REQUIREMENTS = FOLDER / "requirements.md"
TASKS = FOLDER / "tasks.md"


def answer_with(payload: dict[str, Any], info: AgentInfo) -> ModelResponse:
    """The structured answer the way the request asked for it: output tool or JSON text."""
    if info.output_tools:
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, payload)])
    return ModelResponse(parts=[TextPart(json.dumps(payload))])


def reviewer(
    rounds: Sequence[list[dict[str, Any]]], seen: list[list[ModelMessage]] | None = None
) -> FunctionModel:
    """A model whose n-th answer lists the findings of ``rounds[n]`` (the last repeats)."""

    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if seen is not None:
            seen.append(list(messages))
        asked = sum(1 for message in messages if isinstance(message, ModelRequest))
        return answer_with({"findings": rounds[min(asked, len(rounds)) - 1]}, info)

    return FunctionModel(answer, model_name="reviewer")


def item(file: str, line: int, kind: str, message: str, rewrite: str = "") -> dict[str, Any]:
    return {"file": file, "line": line, "kind": kind, "message": message, "rewrite": rewrite}


def line_of(path: Path, number: int) -> str:
    return path.read_text(encoding="utf-8").split("\n")[number - 1]


async def review(project: Path, rounds: Sequence[list[dict[str, Any]]]) -> Review:
    return await review_spec(Workspace(project), SPEC, model=reviewer(rounds))


async def test_model_findings_merge_with_rule_findings(example_project: Path) -> None:
    speed = "THE CLI SHALL print the results within 1 second for a 10 MB file"
    found = [
        item("requirements.md", 33, "ambiguity", "'quickly' has no bound.", speed),
        item("tasks.md", 11, "Inconsistency", "Task 2.2 cites 2.2 but 2.1 implements it."),
        item(str(REQUIREMENTS), 41, "gaps", "No criterion for an unreadable file.",
             "1. IF the file does not exist or cannot be read, THEN THE CLI SHALL print an "
             "error naming the path and exit with status 2"),
    ]  # fmt: skip

    result = await review(example_project, [found])

    rules = [(f.rule, f.line) for f in result.rule_findings]
    assert ("AMB001", 33) in rules and ("ANA001", 33) in rules
    assert result.repeats == 1  # the ambiguity on line 33 is AMB001's
    assert result.dropped == 0
    assert [(f.file, f.line, f.rule, f.severity) for f in result.model_findings] == [
        (str(REQUIREMENTS), 41, "LLM-GAP", Severity.WARNING),
        (str(TASKS), 11, "LLM-INCONSISTENCY", Severity.WARNING),
    ]
    assert len(result.findings) == len(result.rule_findings) + 2
    ordered = [(f.file, f.line, f.column) for f in result.findings]
    assert ordered == sorted(ordered)
    amb = next(f for f in result.findings if f.rule == "AMB001")
    assert amb.suggestion == f"3. {speed}"  # the list number the model left out, put back
    assert [(r.display, r.line, r.finding.rule) for r in result.rewrites] == [
        (str(REQUIREMENTS), 33, "AMB001"),
        (str(REQUIREMENTS), 41, "LLM-GAP"),
    ]
    assert result.rewrites[0].old == line_of(example_project / REQUIREMENTS, 33)
    assert {result.source_of(f) for f in result.findings} == {"rules", "model"}
    assert result.requests == 1 and result.repairs == 0


async def test_the_model_sees_numbered_lines_and_the_known_findings(
    example_project: Path,
) -> None:
    seen: list[list[ModelMessage]] = []
    await review_spec(Workspace(example_project), SPEC, model=reviewer([[]], seen))

    prompt = str(seen[0][0].parts[-1].content)  # type: ignore[union-attr]
    assert "=== requirements.md ===" in prompt and "=== tasks.md ===" in prompt
    assert "33| 3. THE CLI SHALL print results quickly" in prompt
    assert "specId" not in prompt  # .config.kiro is not a document to review
    assert " 8|   - [x] 2.1 Write `top_words` in `wordfreq.py`" in prompt  # indent kept
    assert "11|   - [ ] 2.2 Write the command-line entry point `main`" in prompt
    assert "requirements.md:33 'quickly' is vague" in prompt


async def test_bad_locations_are_sent_back_and_then_dropped(example_project: Path) -> None:
    seen: list[list[ModelMessage]] = []
    rounds = [
        [item("requirements.md", 999, "gap", "Beyond the end.")],
        [item("notes.md", 3, "gap", "Not a spec file."),
         item("requirements.md", 24, "gap", "A blank line.")],
        [item("requirements.md", 999, "gap", "Still beyond the end."),
         item("requirements.md", 20, "ambiguity", "'every word' is not defined.")],
    ]  # fmt: skip

    result = await review_spec(Workspace(example_project), SPEC, model=reviewer(rounds, seen))

    feedback = [  # retries come back as a prompt or a tool retry, by output mode
        str(part.content)
        for message in seen[-1][1:]
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, RetryPromptPart | UserPromptPart)
    ]
    assert any("line 999 does not exist" in text for text in feedback)
    assert any("'notes.md' is not one of the spec's files" in text for text in feedback)
    assert len(feedback) == 2  # the blank line is not sent back: it is a line a model may miss
    assert result.repairs == 2
    assert result.dropped == 1
    assert [(f.line, f.rule) for f in result.model_findings] == [(20, "LLM-AMBIGUITY")]


async def test_a_finding_on_a_blank_line_moves_to_the_nearest_text(example_project: Path) -> None:
    found = [
        item("requirements.md", 34, "conflict", "Clashes with 2.1.", "4. THE CLI SHALL x"),
        item("tasks.md", 26, "inconsistency", "The waves block disagrees."),
    ]
    result = await review(example_project, [found])

    assert result.moved == 2 and result.dropped == 0 and result.repairs == 0
    assert [(f.line, f.suggestion) for f in result.model_findings] == [(33, None), (25, None)]
    assert result.rewrites == []  # a rewrite meant for another line is not offered


async def test_a_location_fixed_on_the_second_try_is_kept(example_project: Path) -> None:
    rounds = [
        [item("requirements.md", 0, "conflict", "Line zero.")],
        [item("requirements.md", 21, "conflict", "Case folding conflicts with 1.1.")],
    ]
    result = await review(example_project, rounds)
    assert result.repairs == 1 and result.dropped == 0
    assert [(f.line, f.rule, f.column) for f in result.model_findings] == [(21, "LLM-CONFLICT", 1)]


def test_merge_keeps_a_different_kind_on_the_same_line() -> None:
    rule = Finding("r.md", 5, 3, "AMB001", Severity.WARNING, "'fast' is vague.")
    same = Finding("r.md", 5, 1, "LLM-AMBIGUITY", Severity.WARNING, "Fast how?", "1. new")
    other = Finding("r.md", 5, 1, "LLM-CONFLICT", Severity.WARNING, "Contradicts 1.2.")
    again = Finding("r.md", 5, 1, "LLM-CONFLICT", Severity.WARNING, "Conflicts with 1.2.")

    merged, kept, carrier = merge_findings(
        [rule], [(same, "ambiguity"), (other, "conflict"), (again, "conflict")]
    )

    assert kept == [other]
    assert [f.rule for f in merged] == ["LLM-CONFLICT", "AMB001"]
    assert merged[1].suggestion == "1. new"  # the rule finding carries the model's rewrite
    assert carrier[0] is merged[1] and carrier[2] is carrier[1]


def answers(*replies: Decision) -> tuple[Callable[[Rewrite], Decision], list[int]]:
    asked: list[int] = []
    queue = list(replies)

    def decide(rewrite: Rewrite) -> Decision:
        asked.append(rewrite.line)
        return queue.pop(0)

    return decide, asked


async def test_only_accepted_rewrites_are_applied(example_project: Path) -> None:
    path = example_project / REQUIREMENTS
    before = path.read_text(encoding="utf-8")
    speed = "3. THE CLI SHALL print the results within 1 second for a 10 MB file"
    found = [
        item("requirements.md", 33, "ambiguity", "Unbounded.", speed),
        item("requirements.md", 21, "ambiguity", "Define case folding.",
             "THE Counter SHALL treat words case-insensitively using Unicode case folding"),
    ]  # fmt: skip
    result = await review(example_project, [found])
    decide, asked = answers("no", "yes")

    report = apply_rewrites(Workspace(example_project), SPEC, result.rewrites, decide)

    assert asked == [21, 33]
    assert [r.line for r in report.applied] == [33]
    assert [r.line for r in report.declined] == [21]
    assert report.files == [str(REQUIREMENTS)]
    expected = before.replace("3. THE CLI SHALL print results quickly", speed)
    assert path.read_text(encoding="utf-8") == expected
    assert report.to_dict()["applied"] == [
        {"file": str(REQUIREMENTS), "line": 33, "rule": "AMB001",
         "old": "3. THE CLI SHALL print results quickly", "new": speed}
    ]  # fmt: skip


def rewrite_of(project: Path, path: Path, line: int, new: str) -> Rewrite:
    """A rewrite as another interface might hand it over (no review checks on it)."""
    finding = Finding(str(path), line, 1, "LLM-GAP", Severity.WARNING, "Rewrite it.", new)
    return Rewrite(finding, path.name, str(path), line, line_of(project / path, line), new)


async def test_rewrites_that_break_the_spec_are_refused(example_project: Path) -> None:
    tasks_before = (example_project / TASKS).read_text(encoding="utf-8")
    requirements_before = (example_project / REQUIREMENTS).read_text(encoding="utf-8")
    found = [  # a criterion added after 3.2 for a gap, and a dependency cycle
        item("requirements.md", 42, "gap", "No criterion for unreadable files.",
             "2. IF `--top` is not a positive integer, THEN THE CLI SHALL print a usage error "
             "and exit with status 2\n3. IF the file cannot be read, THEN THE CLI SHALL print "
             "an error naming the path and exit with status 2"),
        item("tasks.md", 10, "inconsistency", "2.1 needs main.", "    - _Depends on: 2.2_"),
    ]  # fmt: skip
    reviewed = await review(example_project, [found])
    rewrites = [
        *reviewed.rewrites,
        # a second task 2.1: the task list no longer parses
        rewrite_of(example_project, TASKS, 11, "  - [ ] 2.1 Write `main`"),
        # a heading where criterion 2.3 was: the criterion would disappear
        rewrite_of(example_project, REQUIREMENTS, 33, "### Requirement 4: Speed"),
    ]
    decide, asked = answers("all")

    report = apply_rewrites(Workspace(example_project), SPEC, rewrites, decide)

    assert len(asked) == 1  # "all" accepted the rest without asking
    assert [r.line for r in report.applied] == [42]
    refused = {r.line: why for r, why in report.refused}
    assert "task dependencies form a cycle" in refused[10]
    assert "task id 2.1 is used twice" in refused[11]
    assert "it would remove criterion 2.3" in refused[33]
    assert (example_project / TASKS).read_text(encoding="utf-8") == tasks_before
    after = (example_project / REQUIREMENTS).read_text(encoding="utf-8")
    assert after.startswith(requirements_before.rstrip("\n"))
    assert after.endswith("3. IF the file cannot be read, THEN THE CLI SHALL print an error "
                          "naming the path and exit with status 2\n")  # fmt: skip
    assert [c.id for c in Workspace(example_project).load(SPEC).criteria()][-1] == "3.3"


async def test_a_line_changed_since_the_review_is_left_alone(example_project: Path) -> None:
    path = example_project / REQUIREMENTS
    result = await review(
        example_project,
        [
            [
                item(
                    "requirements.md",
                    33,
                    "ambiguity",
                    "Vague.",
                    "3. THE CLI SHALL print results within 1 second",
                )
            ]
        ],  # fmt: skip
    )
    edited = path.read_text(encoding="utf-8").replace("results quickly", "results at once")
    path.write_text(edited, encoding="utf-8")

    report = apply_rewrites(Workspace(example_project), SPEC, result.rewrites, lambda r: "yes")

    assert report.applied == [] and report.files == []
    assert report.refused[0][1] == "the line changed since the review"
    assert path.read_text(encoding="utf-8") == edited


async def test_quit_declines_the_rest_and_line_endings_are_kept(example_project: Path) -> None:
    path = example_project / REQUIREMENTS
    crlf = path.read_text(encoding="utf-8").replace("\n", "\r\n")
    path.write_bytes(crlf.encode())
    found = [
        item("requirements.md", 20, "ambiguity", "Which words?", "1. WHEN the CLI is given a "
             "path to a UTF-8 text file, THE Counter SHALL count every run of letters"),
        item("requirements.md", 33, "ambiguity", "Vague.", "3. THE CLI SHALL answer in 1 s"),
    ]  # fmt: skip
    result = await review(example_project, [found])
    decide, asked = answers("yes", "quit")

    report = apply_rewrites(Workspace(example_project), SPEC, result.rewrites, decide)

    assert asked == [20, 33]
    assert [r.line for r in report.applied] == [20]
    assert [r.line for r in report.declined] == [33]
    data = path.read_bytes()
    assert b"THE Counter SHALL count every run of letters\r\n" in data
    assert data.count(b"\r\n") == crlf.count("\r\n") and b"\n" not in data.replace(b"\r\n", b"")


async def test_long_specs_are_cut_to_fit(example_project: Path) -> None:
    seen: list[list[ModelMessage]] = []
    found = [item("tasks.md", 20, "inconsistency", "Property tests need 2.2 too.")]

    result = await review_spec(
        Workspace(example_project), SPEC, model=reviewer([found], seen), max_chars=600
    )

    prompt = str(seen[0][0].parts[-1].content)  # type: ignore[union-attr]
    shown = prompt.split("\n\nAlready reported")[0]
    assert len(shown) < 600 + 200  # the numbered lines, and a note per document
    for name, lines in (("requirements.md", 42), ("design.md", 56), ("tasks.md", 29)):
        head, cut = shown.split(f"=== {name} ===\n", 1)[1].split("\n[lines ", 1)
        assert head.startswith(" 1| ")  # every document gets its share of the room
        assert cut.startswith(f"{head.count(chr(10)) + 2}-{lines} not shown: too long]")
    # a line the model was not shown is still a line of the spec
    assert [(f.line, f.rule) for f in result.model_findings] == [(20, "LLM-INCONSISTENCY")]


async def test_rewrites_that_are_advice_are_sent_back_then_left_out(
    example_project: Path,
) -> None:
    seen: list[list[ModelMessage]] = []
    advice = item("requirements.md", 33, "conflict", "Clashes with 2.1.",
                  "3. Replace 'quickly' with a measurable bound")  # fmt: skip
    unnumbered = item("tasks.md", 22, "inconsistency", "Not a task.", "- [ ] Run the tests")
    rounds = [[advice, unnumbered], [advice, unnumbered], [advice, unnumbered]]

    result = await review_spec(Workspace(example_project), SPEC, model=reviewer(rounds, seen))

    feedback = " ".join(
        str(part.content)
        for message in seen[-1][1:]
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, RetryPromptPart | UserPromptPart)
    )
    assert "the rewrite of requirements.md:33 is not an EARS criterion" in feedback
    assert "the rewrite of tasks.md:22 must keep the checkbox and the task number 4" in feedback
    assert result.repairs == 2 and result.bad_rewrites == 2
    assert [(f.line, f.rule, f.suggestion) for f in result.model_findings] == [
        (33, "LLM-CONFLICT", None),
        (22, "LLM-INCONSISTENCY", None),
    ]
    assert result.rewrites == []


async def test_a_model_finding_in_the_words_of_a_rule_finding_is_a_repeat(
    example_project: Path,
) -> None:
    echo = item("requirements.md", 33, "inconsistency", "Criterion 2.3 is not cited by any task!")
    result = await review(example_project, [[echo]])
    assert result.repeats == 1 and result.model_findings == []
