"""What the model fills in when it writes a spec, and how each answer is checked.

The schemas are small and flat on purpose: the embedded 1.5B model fills them through
JSON-schema-constrained decoding, which always gives valid JSON but not always sensible
content. So every answer is checked for content too (EARS form and the criteria lint,
references to criteria that exist, dependencies without loops, a test task), and each problem
is written as one sentence naming the requirement, criterion, property or task, which goes
back to the model as its repair prompt (``specloom.llm.structured.generate``'s ``check``).

How a checked answer becomes a Kiro-style document is
``specloom.workflows.authoring_documents``'s job.

May import: the standard library, pydantic, ``specloom.errors``, ``specloom.spec`` and
``specloom.workflows.authoring_prompts`` (its worked examples).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, Field

from specloom.errors import DependencyCycleError
from specloom.spec.findings import Severity
from specloom.spec.graph import TaskGraph
from specloom.spec.lint import lint_criteria
from specloom.spec.refs import parse_id_list
from specloom.spec.requirements import Criterion, Requirement
from specloom.spec.similarity import normalize
from specloom.spec.tasks import Status, Task, TasksDocument
from specloom.workflows.authoring_prompts import EARS_EXAMPLES

__all__ = [
    "TEST_KINDS",
    "MAX_PROBLEMS",
    "BugfixDesignDraft",
    "BugfixDraft",
    "ComponentDraft",
    "CriterionDraft",
    "DataModelDraft",
    "DesignDraft",
    "FixStepDraft",
    "FixStepsDraft",
    "GlossaryDraft",
    "PropertyDraft",
    "PropertyCriteria",
    "QuestionsDraft",
    "RequirementDraft",
    "RequirementsDraft",
    "TaskDraft",
    "TasksDraft",
    "TaskKind",
    "bugfix_check",
    "bugfix_design_check",
    "clean_mermaid",
    "copies_example",
    "criterion_check",
    "criterion_problems",
    "design_check",
    "example_term",
    "fix_steps_check",
    "property_criteria_check",
    "requirements_check",
    "resolve_ids",
    "tasks_check",
    "without_copies",
    "without_repeated_criteria",
]

MAX_PROBLEMS = 8
"""Problems sent back in one repair prompt (the first ones; the rest come next round)."""

# ---------------------------------------------------------------------------------------
# Schemas
#
# Every list has a bound: schema-constrained decoding turns it into a grammar limit, so a
# small model that starts repeating items stops at the bound instead of running out of output
# tokens mid-object; a larger model writing past one gets a repair prompt. Strings have none:
# llama.cpp's grammar for a long maxLength is one nested rule per character, which it refuses.


class GlossaryDraft(BaseModel):
    """A term of the glossary."""

    term: str = Field(description="A name used in the criteria, e.g. Loan_Service.")
    definition: str = Field(description="What it is, in one sentence.")


class RequirementDraft(BaseModel):
    """One requirement."""

    title: str = Field(description="Short name, 2 to 6 words.")
    user_story: str = Field(description="As a <role>, I want <capability>, so that <benefit>.")
    criteria: list[str] = Field(
        max_length=6, description="2 to 4 EARS acceptance criteria, one SHALL each."
    )


class CriterionDraft(BaseModel):
    """One acceptance criterion, rewritten."""

    criterion: str = Field(description="One EARS sentence with exactly one SHALL.")


class RequirementsDraft(BaseModel):
    """A requirements document."""

    introduction: str = Field(description="What the feature is and why, 2 to 4 sentences.")
    glossary: list[GlossaryDraft] = Field(default_factory=list, max_length=12)
    requirements: list[RequirementDraft] = Field(max_length=16)


class ComponentDraft(BaseModel):
    """A component of the design."""

    name: str
    responsibility: str = Field(description="What it does, one or two sentences.")
    interface: str = Field(description="Its main functions or endpoints with signatures.")


class DataModelDraft(BaseModel):
    """A data model of the design."""

    name: str
    fields: list[str] = Field(
        max_length=16, description="One entry per field: `name: type` and meaning."
    )


class PropertyDraft(BaseModel):
    """A correctness property: a statement a property-based test checks."""

    title: str
    statement: str = Field(description="For any <input>, <what always holds>.")
    validates: list[str] = Field(
        default_factory=list,
        max_length=12,
        description="Acceptance criterion ids it checks, e.g. 1.2.",
    )


class DesignDraft(BaseModel):
    """A design document."""

    overview: str
    architecture: str = Field(description="How the parts fit together, a short paragraph.")
    component_diagram: str = Field(description="Mermaid source starting with `graph TD`.")
    sequence_diagram: str = Field(description="Mermaid source starting with `sequenceDiagram`.")
    components: list[ComponentDraft] = Field(max_length=12)
    data_models: list[DataModelDraft] = Field(default_factory=list, max_length=12)
    error_handling: list[str] = Field(
        max_length=10, description="One failure and its handling per entry."
    )
    testing_strategy: str
    properties: list[PropertyDraft] = Field(max_length=12)


class PropertyCriteria(BaseModel):
    """The acceptance criteria one design property validates."""

    validates: list[str] = Field(max_length=12, description="Acceptance criterion ids, e.g. 1.2.")


TaskKind = Literal["code", "unit-test", "property-test", "checkpoint"]


class TaskDraft(BaseModel):
    """One task of the implementation plan."""

    title: str = Field(description="An imperative sentence: what to do.")
    details: list[str] = Field(
        default_factory=list, max_length=6, description="1 to 4 short steps."
    )
    requirements: list[str] = Field(
        max_length=12, description="Acceptance criterion ids it implements."
    )
    depends_on: list[int] = Field(
        default_factory=list, max_length=12, description="Numbers of the earlier tasks it needs."
    )
    kind: TaskKind = "code"
    property: int = Field(default=0, description="For a property-test: the property number.")
    optional: bool = Field(default=False, description="True for tests that may be skipped.")


class TasksDraft(BaseModel):
    """An implementation plan: tasks numbered 1, 2, 3... in order."""

    tasks: list[TaskDraft] = Field(max_length=30)


class BugfixDraft(BaseModel):
    """A bugfix requirements document."""

    introduction: str = Field(description="The bug, where it lives and its impact.")
    current: list[str] = Field(
        max_length=8, description="WHEN <input> THEN the system <wrong behaviour>"
    )
    expected: list[str] = Field(
        max_length=8, description="WHEN <input> THEN the system SHALL <behaviour>"
    )
    unchanged: list[str] = Field(
        max_length=8,
        description="WHEN <other input> THEN the system SHALL CONTINUE TO <behaviour>",
    )
    input_type: str = Field(description="What one input X is, e.g. LoginRequest.")
    bug_condition: str = Field(description="Boolean expression over X that is true for the bug.")
    expected_result: str = Field(description="What must hold for such an X after the fix.")
    function: str = Field(default="", description="The function or code path that fails.")


class BugfixDesignDraft(BaseModel):
    """The parts of a bugfix design the model writes (the bug condition and the two
    properties come from ``bugfix.md``)."""

    overview: str = Field(description="The bug and the fix in 2 to 4 sentences.")
    root_cause: list[str] = Field(max_length=6, description="Likely causes, most likely first.")
    changes: list[str] = Field(
        max_length=10, description="Each change: the file or function, and what changes."
    )
    testing_strategy: str = Field(description="How the fix and the unchanged behavior are tested.")


class FixStepDraft(BaseModel):
    """One step of the fix."""

    title: str
    details: list[str] = Field(default_factory=list, max_length=6)
    requirements: list[str] = Field(
        max_length=12, description="Criterion ids it satisfies, e.g. 2.1."
    )


class FixStepsDraft(BaseModel):
    """The code changes that fix the bug, in order."""

    steps: list[FixStepDraft] = Field(max_length=12)


class QuestionsDraft(BaseModel):
    """Clarifying questions about a request."""

    questions: list[str] = Field(
        max_length=6, description="At most 3 questions whose answers change the plan."
    )


# ---------------------------------------------------------------------------------------
# Shared helpers


def _limit(problems: list[str]) -> list[str]:
    if len(problems) <= MAX_PROBLEMS:
        return problems
    return [*problems[:MAX_PROBLEMS], f"({len(problems) - MAX_PROBLEMS} more problems.)"]


def _quote(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return f'"{text[: limit - 3]}..."' if len(text) > limit else f'"{text}"'


def _group_by_requirement(criteria: Sequence[str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for criterion in criteria:
        grouped.setdefault(criterion.rsplit(".", 1)[0], []).append(criterion)
    return grouped


def resolve_ids(values: Sequence[str], criteria: Sequence[str]) -> tuple[list[str], list[str]]:
    """Read the ids a model wrote (``"1.2"``, ``"Requirements 1.1-1.3"``, ``"2"``).

    Args:
        values: What the model wrote, one id or list per entry.
        criteria: The criterion ids that exist.

    Returns:
        ``(criterion ids, unknown ids)``: a requirement's id stands for all its criteria.
    """
    known = set(criteria)
    by_requirement = _group_by_requirement(criteria)
    found: list[str] = []
    unknown: list[str] = []
    for value in parse_id_list(", ".join(values)):
        targets = [value] if value in known else by_requirement.get(value)
        if targets is None:
            unknown.append(value)
            continue
        found.extend(target for target in targets if target not in found)
    return found, unknown


def _known_list(criteria: Sequence[str]) -> str:
    shown = ", ".join(criteria[:24])
    return shown + (", ..." if len(criteria) > 24 else "")


def _lint_findings(criteria: list[Criterion]) -> tuple[list[str], list[Criterion]]:
    """Error-level lint findings as ``(message with its fix, criterion)`` columns."""
    messages: list[str] = []
    subjects: list[Criterion] = []
    by_id = {criterion.id: criterion for criterion in criteria}
    for finding in lint_criteria(criteria, "requirements.md"):
        if finding.severity is not Severity.ERROR or finding.subject is None:
            continue
        text = finding.message
        if finding.suggestion:
            text += f" Write instead: {finding.suggestion}"
        elif finding.rule in ("EARS001", "AMB003"):
            text += " Keep its meaning in real words: no <...> left."
        messages.append(text)
        subjects.append(by_id[finding.subject])
    return messages, subjects


def _lint_problems(criteria: list[Criterion], describe: Callable[[str], str]) -> list[str]:
    """Error-level lint findings as repair sentences; ``describe`` names a criterion id."""
    problems: list[str] = []
    for message, criterion in zip(*_lint_findings(criteria), strict=True):
        problems.append(f"{describe(criterion.id)} {_quote(criterion.text)}: {message}")
    return problems


# ---------------------------------------------------------------------------------------
# Requirements


# The component the instructions' worked examples use: a criterion naming it was copied from
# them (small models do), not written for the feature.
_EXAMPLE_COMPONENT = re.compile(r"\bLoan_Service\b")
_WORD = re.compile(r"[a-z0-9]+")
_FORM_WORDS = frozenset(
    "a an and as be by each for if in is it its of on or shall the then to when where while"
    .split()
)  # fmt: skip


def _content_words(text: str) -> set[str]:
    """The words that carry meaning, a plural's ``s`` dropped."""
    words = (word for word in _WORD.findall(text.lower()) if word not in _FORM_WORDS)
    return {word[:-1] if len(word) > 3 and word.endswith("s") else word for word in words}


_EXAMPLE_WORDS = [_content_words(_EXAMPLE_COMPONENT.sub(" ", text)) for text in EARS_EXAMPLES]


def copies_example(text: str, request: str = "") -> bool:
    """Whether ``text`` was copied from the instructions' worked examples (``EARS_EXAMPLES``)
    rather than written for the feature: it names their component, or it holds at least
    three fifths of one example's words (its component aside; a small model swaps in the
    feature's) of which most, and at least two, appear nowhere in ``request``, the feature
    request (a request about loans and reminders may well ask for what an example says)."""
    if _EXAMPLE_COMPONENT.search(text):
        return True
    words = _content_words(text)
    asked = _content_words(request)
    for example in _EXAMPLE_WORDS:
        shared = example & words
        novel = shared - asked
        if len(shared) * 5 >= len(example) * 3 and len(novel) >= 2 and 2 * len(novel) > len(shared):
            return True
    return False


def example_term(term: str, request: str = "") -> bool:
    """Whether a glossary term comes from the worked examples only: every word of it is one
    of theirs (``Loan_Service``, ``due date``, ``reminder``) and none is in ``request``."""
    if _EXAMPLE_COMPONENT.search(term):
        return True
    words = _content_words(term)
    return (
        bool(words)
        and words <= set().union(*_EXAMPLE_WORDS)
        and not words & _content_words(request)
    )


_SUBJECT = re.compile(r"\bTHE\s+([A-Za-z][\w.]*)\s+SHALL\b", re.IGNORECASE)


def _feature_component(draft: RequirementsDraft, request: str = "") -> str | None:
    """The component the draft's own criteria name most often (``THE <name> SHALL``), the
    examples' aside; else its first glossary term that is not an example's; else ``None``."""
    counts: dict[str, int] = {}
    for requirement in draft.requirements:
        for text in requirement.criteria:
            for name in _SUBJECT.findall(text):
                if not _EXAMPLE_COMPONENT.search(name) and "_" in name:
                    counts[name] = counts.get(name, 0) + 1
    if counts:
        return max(counts, key=lambda name: counts[name])  # first seen wins a tie
    terms = [entry.term.strip() for entry in draft.glossary]
    return next(
        (term for term in terms if term and " " not in term and not example_term(term, request)),
        None,
    )


def _with_component(text: str, component: str, request: str) -> str:
    """``text`` with the examples' component name replaced by ``component`` when nothing
    else in it is copied from them; else ``text`` as it is."""
    renamed = _EXAMPLE_COMPONENT.sub(component, text)
    return text if copies_example(renamed, request) else renamed


def without_copies(draft: RequirementsDraft, request: str = "") -> tuple[list[str], int]:
    """Leave out of ``draft`` (in place) the criteria that still copy a worked example, the
    requirements left with no criterion, and the glossary terms of the examples; returns
    the criteria left out and the number of criteria renamed, for a notice.

    A criterion that borrowed only the examples' component name (``Loan_Service``) and is
    otherwise about the feature keeps its words with the feature's component in place of
    that name (``_feature_component``)."""
    component = _feature_component(draft, request)
    renamed = 0
    if component is not None:
        for requirement in draft.requirements:
            criteria = [_with_component(text, component, request) for text in requirement.criteria]
            renamed += sum(text not in requirement.criteria for text in criteria)
            requirement.criteria = criteria
    dropped: list[str] = []
    kept: list[RequirementDraft] = []
    for requirement in draft.requirements:
        criteria = [text for text in requirement.criteria if not copies_example(text, request)]
        dropped += [text for text in requirement.criteria if text not in criteria]
        if criteria or not requirement.criteria:
            kept.append(requirement.model_copy(update={"criteria": criteria}))
    if dropped and kept:  # else nothing copied, or nothing would be left: the lint reports it
        draft.requirements = kept
    else:
        dropped = []
    if dropped or renamed:
        draft.glossary = [e for e in draft.glossary if not example_term(e.term, request)]
    return dropped, renamed


def without_repeated_criteria(draft: RequirementsDraft) -> int:
    """Leave out of ``draft`` (in place) each criterion that repeats an earlier one word for
    word, and the requirements left with none (a small model can write one requirement over
    and over until its answer is cut off); returns the number of criteria left out."""
    seen: set[str] = set()
    kept: list[RequirementDraft] = []
    left_out = 0
    for requirement in draft.requirements:
        criteria: list[str] = []
        for text in requirement.criteria:
            key = normalize(text)  # the lint's DUP001 key, so the two agree
            if key in seen:
                left_out += 1
                continue
            seen.add(key)
            criteria.append(text)
        if criteria or not requirement.criteria:
            kept.append(requirement.model_copy(update={"criteria": criteria}))
    if left_out:
        draft.requirements = kept
    return left_out


def _copied_examples(criteria: list[Criterion], request: str) -> tuple[list[str], list[Criterion]]:
    copied = [c for c in criteria if copies_example(c.text, request)]
    message = "it copies the library example; write it about the feature asked for."
    return [message] * len(copied), copied


def _draft_criteria(draft: RequirementsDraft) -> list[Criterion]:
    criteria: list[Criterion] = []
    for number, requirement in enumerate(draft.requirements, start=1):
        for position, text in enumerate(requirement.criteria, start=1):
            criteria.append(Criterion(f"{number}.{position}", text.strip(), len(criteria) + 1, 1))
    return criteria


def criterion_problems(draft: RequirementsDraft, request: str = "") -> list[tuple[int, int, str]]:
    """``(requirement index, criterion index, problem)`` for each criterion the lint finds an
    error in, or that copies a worked example (``copies_example``; ``request`` is the feature
    request), indexes from 0, one entry per criterion."""
    found: dict[tuple[int, int], str] = {}
    criteria = _draft_criteria(draft)
    messages, subjects = _lint_findings(criteria)
    copied_messages, copied = _copied_examples(criteria, request)
    for problem, criterion in zip(messages + copied_messages, subjects + copied, strict=True):
        requirement, position = (int(part) - 1 for part in criterion.id.split("."))
        found.setdefault((requirement, position), problem)
    return [(requirement, position, problem) for (requirement, position), problem in found.items()]


def criterion_check(request: str = "") -> Callable[[CriterionDraft], list[str]]:
    """The check of one rewritten criterion: no lint error, no copied example (``request``
    is the feature request)."""

    def check(draft: CriterionDraft) -> list[str]:
        criterion = Criterion("1.1", " ".join(draft.criterion.split()), 1, 1)
        copied = [f"The criterion {_quote(criterion.text)}: {m}" for m in _copied_examples(
            [criterion], request)[0]]  # fmt: skip
        return _lint_problems([criterion], lambda _: "The criterion") + copied

    return check


def requirements_check(
    *, lint: bool = True, request: str = ""
) -> Callable[[RequirementsDraft], list[str]]:
    """The content check of a requirements answer: a title, a user story in the ``As a ...,
    I want ..., so that ...`` form and criteria for each requirement, every criterion EARS
    and free of the lint's errors (non-EARS, should/must, placeholders, duplicates) and of
    copied worked examples.

    Args:
        lint: Whether to include the lint's errors, the copied examples and the user
            stories' form (without: the structure only, what a document must have to be
            written at all).
        request: The feature request (``copies_example``).
    """

    def check(draft: RequirementsDraft) -> list[str]:
        problems: list[str] = []
        if not draft.requirements:
            return ["Write at least one requirement."]
        for number, requirement in enumerate(draft.requirements, start=1):
            name = f"Requirement {number} ({requirement.title.strip() or 'untitled'})"
            if not requirement.title.strip():
                problems.append(f"Requirement {number} has no title; give it a short name.")
            story = Requirement("", "", requirement.user_story.strip(), [])
            # A loosely worded story is worth a repair but not worth losing the document.
            if lint and story.story_parts() is None:
                problems.append(
                    f"{name}: the user story must read 'As a <role>, I want <capability>, "
                    f"so that <benefit>.' (it is {_quote(requirement.user_story)})."
                )
            if not [text for text in requirement.criteria if text.strip()]:
                problems.append(f"{name} has no acceptance criteria; write 2 to 4.")
        if problems or not lint:
            return _limit(problems)
        titles = {
            str(number): requirement.title.strip()
            for number, requirement in enumerate(draft.requirements, start=1)
        }

        def describe(criterion_id: str) -> str:
            requirement, position = criterion_id.split(".")
            return f"Requirement {requirement} ({titles[requirement]}), criterion {position}"

        criteria = _draft_criteria(draft)
        copied = [
            f"{describe(criterion.id)} {_quote(criterion.text)}: {message}"
            for message, criterion in zip(*_copied_examples(criteria, request), strict=True)
        ]
        return _limit(_lint_problems(criteria, describe) + copied)

    return check


# ---------------------------------------------------------------------------------------
# Design

_FENCE = re.compile(r"^\s*```[\w-]*\s*\n?|\n?\s*```\s*$")
_COMPONENT_KINDS = ("graph", "flowchart", "classdiagram", "c4component", "c4container")


def clean_mermaid(source: str) -> str:
    """Mermaid source without the code fence a model sometimes wraps around it."""
    return _FENCE.sub("", source.strip()).strip()


def _first_word(source: str) -> str:
    words = clean_mermaid(source).split(maxsplit=1)
    return words[0].lower() if words else ""


def design_check(
    criteria: Sequence[str], *, require_validates: bool = True
) -> Callable[[DesignDraft], list[str]]:
    """The content check of a design answer.

    Args:
        criteria: The acceptance criterion ids that exist.
        require_validates: Whether each property must validate at least one of them (not
            for a design written before its requirements).
    """

    def check(draft: DesignDraft) -> list[str]:
        problems: list[str] = []
        if not draft.overview.strip():
            problems.append("Write the overview: what is built and how, in a few sentences.")
        if not draft.components:
            problems.append("List at least one component with its responsibility and interface.")
        if _first_word(draft.component_diagram) not in _COMPONENT_KINDS:
            problems.append(
                "component_diagram must be mermaid source that starts with `graph TD` and "
                "shows the components and how they call each other."
            )
        if _first_word(draft.sequence_diagram) != "sequencediagram":
            problems.append(
                "sequence_diagram must be mermaid source that starts with `sequenceDiagram` "
                "and shows the main flow."
            )
        if not draft.properties:
            problems.append(
                "Write at least one correctness property: 'For any <input>, <what holds>'."
            )
        for number, prop in enumerate(draft.properties, start=1):
            name = f"Property {number} ({prop.title.strip() or 'untitled'})"
            if not prop.statement.strip():
                problems.append(f"{name} has no statement; write 'For any <input>, ...'.")
            if not require_validates:
                continue
            found, unknown = resolve_ids(prop.validates, criteria)
            if unknown:
                problems.append(
                    f"{name} validates {', '.join(unknown)}, which are not acceptance "
                    f"criteria; use ids from: {_known_list(criteria)}."
                )
            elif not found:
                problems.append(
                    f"{name} validates no acceptance criterion; list the ids it checks "
                    f"(from: {_known_list(criteria)})."
                )
        return _limit(problems)

    return check


def property_criteria_check(
    property_id: str, criteria: Sequence[str]
) -> Callable[[PropertyCriteria], list[str]]:
    """The check of the criteria a property validates: at least one, every one existing."""

    def check(draft: PropertyCriteria) -> list[str]:
        found, unknown = resolve_ids(draft.validates, criteria)
        if unknown:
            return [
                f"{', '.join(unknown)} are not acceptance criteria; use ids from: "
                f"{_known_list(criteria)}."
            ]
        if not found:
            return [
                f"List the acceptance criteria property {property_id} checks "
                f"(from: {_known_list(criteria)})."
            ]
        return []

    return check


# ---------------------------------------------------------------------------------------
# Tasks

TEST_KINDS = ("unit-test", "property-test")


def tasks_check(
    criteria: Sequence[str], properties: Mapping[str, Sequence[str]]
) -> Callable[[TasksDraft], list[str]]:
    """The content check of a tasks answer: every task cites existing criteria (checkpoints
    may cite none), dependencies name other tasks and form no loop, at least one test task,
    and each property test names a design property.

    Args:
        criteria: The acceptance criterion ids that exist.
        properties: The design's property ids and the criteria each validates.
    """

    def check(draft: TasksDraft) -> list[str]:
        problems: list[str] = []
        count = len(draft.tasks)
        if not count:
            return ["Write the tasks, numbered 1, 2, 3... in the order they are done."]
        if not any(task.kind in TEST_KINDS for task in draft.tasks):
            problems.append(
                "Add at least one test task (kind unit-test or property-test) that checks "
                "the acceptance criteria."
            )
        for number, task in enumerate(draft.tasks, start=1):
            name = f"Task {number} ({task.title.strip() or 'untitled'})"
            if not task.title.strip():
                problems.append(f"Task {number} has no title.")
            found, unknown = resolve_ids(task.requirements, criteria)
            if unknown:
                problems.append(
                    f"{name} cites {', '.join(unknown)}, which are not acceptance criteria; "
                    f"use ids from: {_known_list(criteria)}."
                )
            elif not found and task.kind != "checkpoint":
                problems.append(
                    f"{name} cites no acceptance criterion; list the ids it implements."
                )
            for dependency in task.depends_on:
                if dependency == number or not 1 <= dependency <= count:
                    problems.append(
                        f"{name} depends on task {dependency}, which is not another task; "
                        f"tasks are numbered 1 to {count}."
                    )
            if task.kind == "property-test" and properties and str(task.property) not in properties:
                problems.append(
                    f"{name} is a property test: set property to the number of the design "
                    f"property it checks ({', '.join(properties)})."
                )
        if problems:
            return _limit(problems)
        probe = [
            Task(str(number), task.title, Status.TODO, False, 0, 0, 0,
                 depends_on=[str(d) for d in task.depends_on])
            for number, task in enumerate(draft.tasks, start=1)
        ]  # fmt: skip
        try:
            TaskGraph(TasksDocument("tasks.md", "", probe)).check()
        except DependencyCycleError as error:
            problems.append(
                f"The dependencies form a loop ({' -> '.join(error.cycle)}); a task may only "
                "depend on tasks before it."
            )
        return problems

    return check


# ---------------------------------------------------------------------------------------
# Bugfix

_CONTINUE = re.compile(r"\bSHALL\s+CONTINUE\s+TO\b")


def bugfix_check(*, lint: bool = True) -> Callable[[BugfixDraft], list[str]]:
    """The content check of a bugfix answer: the three groups filled, each in its form
    (``WHEN ... THEN the system ...``; ``... SHALL ...``; ``... SHALL CONTINUE TO ...``),
    the expected and unchanged ones free of the lint's errors, and a bug condition.

    Args:
        lint: Whether to include the forms and the lint's errors (without: the structure
            only).
    """

    def check(draft: BugfixDraft) -> list[str]:
        problems: list[str] = []
        groups = (
            ("current", "1", draft.current, "Current behavior"),
            ("expected", "2", draft.expected, "Expected behavior"),
            ("unchanged", "3", draft.unchanged, "Unchanged behavior"),
        )
        criteria: list[Criterion] = []
        for kind, key, texts, label in groups:
            cleaned = [text.strip() for text in texts if text.strip()]
            if not cleaned:
                problems.append(f"{label} is empty; write at least one criterion.")
            for position, text in enumerate(cleaned, start=1):
                criteria.append(Criterion(f"{key}.{position}", text, len(criteria) + 1, 1, kind))
                if not lint:
                    continue
                name = f"{label} {key}.{position} {_quote(text)}"
                upper = text.upper()
                if not upper.startswith("WHEN ") or " THEN " not in upper:
                    problems.append(f"{name} must read 'WHEN <input> THEN the system ...'.")
                elif kind == "expected" and "SHALL" not in text:
                    problems.append(f"{name} must say what the system SHALL do.")
                elif kind == "unchanged" and not _CONTINUE.search(text):
                    problems.append(f"{name} must say what the system SHALL CONTINUE TO do.")
        if not draft.bug_condition.strip():
            problems.append("bug_condition is empty: write the condition on X that the bug needs.")
        if not draft.expected_result.strip():
            problems.append("expected_result is empty: say what must hold after the fix.")
        if problems or not lint:
            return _limit(problems)
        return _limit(_lint_problems(criteria, lambda criterion_id: f"Criterion {criterion_id}"))

    return check


def bugfix_design_check() -> Callable[[BugfixDesignDraft], list[str]]:
    """The check of a bugfix design answer: an overview, a root cause and the changes."""

    def check(draft: BugfixDesignDraft) -> list[str]:
        problems: list[str] = []
        if not draft.overview.strip():
            problems.append("Write the overview: the bug and the fix in a few sentences.")
        if not [cause for cause in draft.root_cause if cause.strip()]:
            problems.append("List the likely root causes, most likely first.")
        if not [change for change in draft.changes if change.strip()]:
            problems.append("List the changes that fix the bug: file or function, and what.")
        return problems

    return check


def fix_steps_check(criteria: Sequence[str]) -> Callable[[FixStepsDraft], list[str]]:
    """The check of a bugfix's fix steps: at least one, each citing existing criteria."""

    def check(draft: FixStepsDraft) -> list[str]:
        if not draft.steps:
            return ["Write at least one step of the fix."]
        problems: list[str] = []
        for number, step in enumerate(draft.steps, start=1):
            name = f"Step {number} ({step.title.strip() or 'untitled'})"
            if not step.title.strip():
                problems.append(f"Step {number} has no title.")
            found, unknown = resolve_ids(step.requirements, criteria)
            if unknown:
                problems.append(
                    f"{name} cites {', '.join(unknown)}, which are not criteria of the bugfix; "
                    f"use ids from: {_known_list(criteria)}."
                )
            elif not found:
                problems.append(f"{name} cites no criterion; list the 2.x ids it satisfies.")
        return _limit(problems)

    return check
