"""Checked answers become Kiro-style documents: numbering, stable ids, rendering.

Ids are never left to the model: requirements, criteria, properties and tasks are numbered
here, and a rewritten requirements document keeps the numbers of the requirements and
criteria that did not change (``requirements_document`` with ``previous``), so the ids that
designs and tasks cite stay valid. Everything is rendered with ``specloom.spec``'s own
renderers, so the files look like the ones Kiro writes.

May import: the standard library, ``specloom.spec`` and
``specloom.workflows.authoring_schemas``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from specloom.spec.bugfix import BugCondition, BugfixDocument
from specloom.spec.design import Property, parse_design, render_design
from specloom.spec.lint import lint_criteria
from specloom.spec.markdown import LineKind
from specloom.spec.refs import VALIDATES_LINE, id_sort_key
from specloom.spec.requirements import (
    Criterion,
    GlossaryEntry,
    Requirement,
    RequirementsDocument,
)
from specloom.spec.similarity import jaccard, normalize, tokens
from specloom.spec.tasks import Status, Task, TasksDocument
from specloom.workflows.authoring_schemas import (
    BugfixDraft,
    DesignDraft,
    FixStepsDraft,
    RequirementsDraft,
    TasksDraft,
    clean_mermaid,
    resolve_ids,
)

__all__ = [
    "bugfix_design",
    "bugfix_document",
    "bugfix_tasks_document",
    "design_markdown",
    "link_properties",
    "requirements_document",
    "tasks_document",
]

# Kiro writes a property's statement as "*For any* ...".
_FOR_ANY = re.compile(r"^(?:\*|_)?for (?:any|all)(?:\*|_)?(?=\s)", re.IGNORECASE)


def _number(identifier: str) -> int:
    head = identifier.split(".")[0]
    return int(head) if head.isdigit() else 0


def _pair(
    new: Sequence[str],
    old: Sequence[str],
    threshold: float,
    pairs: dict[int, int] | None = None,
) -> dict[int, int]:
    """Pair new texts with old ones (index to index): equal texts first, then the most
    similar above ``threshold``, then what is left at the same position."""
    pairs = dict(pairs or {})
    taken = set(pairs.values())
    normal_old = [normalize(text) for text in old]
    for index, text in enumerate(new):
        if index in pairs:
            continue
        wanted = normalize(text)
        match = next(
            (o for o, value in enumerate(normal_old) if value == wanted and o not in taken), None
        )
        if match is not None:
            pairs[index] = match
            taken.add(match)
    new_tokens = [tokens(text) for text in new]
    old_tokens = [tokens(text) for text in old]
    candidates = sorted(
        (
            (jaccard(new_tokens[n], old_tokens[o]), n, o)
            for n in range(len(new))
            for o in range(len(old))
            if n not in pairs and o not in taken
        ),
        reverse=True,
    )
    for score, n, o in candidates:
        if score < threshold:
            break
        if n in pairs or o in taken:
            continue
        pairs[n] = o
        taken.add(o)
    for index in range(len(new)):
        if index not in pairs and index < len(old) and index not in taken:
            pairs[index] = index
            taken.add(index)
    return pairs


def requirements_document(
    draft: RequirementsDraft,
    previous: RequirementsDocument | None = None,
    *,
    title: str = "Requirements Document",
) -> RequirementsDocument:
    """The document for a checked answer.

    Args:
        draft: The model's answer (passed ``requirements_check``).
        previous: The document it rewrites, if any: a requirement that matches one of
            ``previous`` (same title, else similar content, else the same position) keeps
            its number, and within it each criterion that matches keeps its number; new
            requirements and criteria get numbers after the highest ones used, so ids that
            tasks and designs cite stay stable.
        title: The document's ``#`` heading.
    """
    old = previous.requirements if previous is not None else []
    new_titles = [requirement.title for requirement in draft.requirements]
    exact = {
        n: o
        for n, title_new in enumerate(new_titles)
        for o, requirement in enumerate(old)
        if normalize(title_new) == normalize(requirement.title)
    }
    # One old requirement per new one: the first exact title match wins.
    unique: dict[int, int] = {}
    for n, o in sorted(exact.items()):
        if o not in unique.values():
            unique[n] = o
    whole_new = [" ".join([r.title, r.user_story, *r.criteria]) for r in draft.requirements]
    whole_old = [" ".join([r.title, r.user_story, *(c.text for c in r.criteria)]) for r in old]
    pairs = _pair(whole_new, whole_old, 0.5, unique) if old else {}
    next_requirement = max((_number(r.id) for r in old), default=0) + 1
    requirements: list[Requirement] = []
    for index, written in enumerate(draft.requirements):
        texts = [_keywords_in_capitals(text) for text in written.criteria if text.strip()]
        matched = old[pairs[index]] if index in pairs else None
        if matched is None:
            requirement_id = str(next_requirement)
            next_requirement += 1
            numbers = list(range(1, len(texts) + 1))
        else:
            requirement_id = matched.id
            old_texts = [criterion.text for criterion in matched.criteria]
            criterion_pairs = _pair(texts, old_texts, 0.6)
            following = max((_number(c.id.rsplit(".", 1)[-1]) for c in matched.criteria),
                            default=0) + 1  # fmt: skip
            numbers = []
            for position in range(len(texts)):
                if position in criterion_pairs:
                    old_id = matched.criteria[criterion_pairs[position]].id
                    numbers.append(_number(old_id.rsplit(".", 1)[-1]))
                else:
                    numbers.append(following)
                    following += 1
        criteria = [
            Criterion(f"{requirement_id}.{number}", text, 0, 1)
            for number, text in sorted(zip(numbers, texts, strict=True))
        ]
        requirements.append(
            Requirement(requirement_id, written.title.strip(), written.user_story.strip(), criteria)
        )
    requirements.sort(key=lambda requirement: id_sort_key(requirement.id))
    glossary = [
        GlossaryEntry(*_term_first(entry.term.strip(), entry.definition.strip()))
        for entry in draft.glossary
        if entry.term.strip() and entry.definition.strip()
    ]
    return RequirementsDocument(
        "requirements.md", title, draft.introduction.strip(), glossary, requirements
    )


def _keywords_in_capitals(text: str) -> str:
    """A criterion with its EARS keywords in capitals (the lint's EARS005 rewrite: ``shall``
    becomes ``SHALL``); nothing else of it changes."""
    text = text.strip()
    for finding in lint_criteria([Criterion("1.1", text, 1, 1)], "requirements.md"):
        if finding.rule == "EARS005" and finding.suggestion:
            return finding.suggestion
    return text


def _term_first(term: str, definition: str) -> tuple[str, str]:
    """``(term, definition)``, put back in order when the model swapped them: a sentence
    where the term goes and a name of a few words where the definition does."""
    if len(term.split()) >= 6 and len(definition.split()) <= 3:
        return definition, term
    return term, definition


def tasks_document(
    draft: TasksDraft,
    criteria: Sequence[str],
    properties: Mapping[str, Sequence[str]],
    property_titles: Mapping[str, str],
) -> TasksDocument:
    """The implementation plan for a checked answer: tasks ``1``, ``2``... with their
    ``_Requirements:_`` and ``_Depends on:_`` lines; a property test names its property
    and the criteria that property validates (``**Validates: Requirements ...**``)."""
    tasks: list[Task] = []
    for number, written in enumerate(draft.tasks, start=1):
        cited, _ = resolve_ids(written.requirements, criteria)
        details = [detail.strip() for detail in written.details if detail.strip()]
        prop = str(written.property)
        task_properties: list[str] = []
        if written.kind == "property-test" and prop in properties:
            task_properties = [prop]
            title = property_titles.get(prop, "")
            details.insert(0, f"**Property {prop}: {title}**" if title else f"**Property {prop}**")
            if properties[prop]:
                details.append(f"**Validates: Requirements {', '.join(properties[prop])}**")
        tasks.append(
            Task(
                id=str(number),
                title=written.title.strip(),
                status=Status.TODO,
                optional=written.optional,
                line=0,
                end_line=0,
                status_column=0,
                requirements=cited,
                depends_on=[str(d) for d in dict.fromkeys(written.depends_on)],
                properties=task_properties,
                details=details,
            )
        )
    return TasksDocument("tasks.md", "Implementation Plan", tasks)


def bugfix_document(
    draft: BugfixDraft, *, title: str = "Bugfix Requirements Document"
) -> BugfixDocument:
    """The ``bugfix.md`` for a checked answer, with its ``isBugCondition`` function and the
    Fix Checking and Preservation Checking properties."""

    def group(key: str, kind: str, texts: list[str]) -> list[Criterion]:
        cleaned = [" ".join(text.split()) for text in texts if text.strip()]
        return [
            Criterion(f"{key}.{position}", text, 0, 1, kind)
            for position, text in enumerate(cleaned, start=1)
        ]

    input_type = " ".join(draft.input_type.split()) or "Input"
    function = " ".join(draft.function.split()).removesuffix("()") or "F"
    condition = "\n".join(
        [
            "FUNCTION isBugCondition(X)",
            f"  INPUT: X of type {input_type}",
            "  OUTPUT: boolean",
            "",
            f"  RETURN {' '.join(draft.bug_condition.split())}",
            "END FUNCTION",
        ]
    )
    fix_checking = "\n".join(
        [
            "// Property: Fix Checking",
            "FOR ALL X WHERE isBugCondition(X) DO",
            f"  result <- {function}'(X)",
            f"  ASSERT {' '.join(draft.expected_result.split())}",
            "END FOR",
        ]
    )
    preservation = "\n".join(
        [
            "// Property: Preservation Checking",
            "FOR ALL X WHERE NOT isBugCondition(X) DO",
            f"  ASSERT {function}(X) = {function}'(X)",
            "END FOR",
        ]
    )
    return BugfixDocument(
        "bugfix.md",
        title,
        draft.introduction.strip(),
        group("1", "current", draft.current),
        group("2", "expected", draft.expected),
        group("3", "unchanged", draft.unchanged),
        BugCondition(condition, fix_checking, preservation),
    )


# ---------------------------------------------------------------------------------------
# Documents from checked answers: design and the bugfix's design and tasks


def design_sections(draft: DesignDraft) -> list[tuple[str, str]]:
    """The ``##`` sections of a design answer, in Kiro's order (``render_design`` adds the
    properties under Correctness Properties)."""
    components = "\n\n".join(
        f"### {component.name.strip()}\n\n{component.responsibility.strip()}\n\n"
        f"**Interface:** {component.interface.strip()}"
        for component in draft.components
    )
    models = "\n\n".join(
        f"### {model.name.strip()}\n\n" + "\n".join(f"- {field}" for field in model.fields)
        for model in draft.data_models
    )
    architecture = (
        f"{draft.architecture.strip()}\n\n### Components\n\n```mermaid\n"
        f"{clean_mermaid(draft.component_diagram)}\n```\n\n### Main Flow\n\n```mermaid\n"
        f"{clean_mermaid(draft.sequence_diagram)}\n```"
    )
    return [
        ("Overview", draft.overview.strip()),
        ("Architecture", architecture),
        ("Components and Interfaces", components),
        ("Data Models", models or "No persistent data models."),
        (
            "Correctness Properties",
            "*A property is a statement that holds for every valid input; each one is "
            "checked by a property-based test.*",
        ),
        ("Error Handling", "\n".join(f"- {entry.strip()}" for entry in draft.error_handling)),
        ("Testing Strategy", draft.testing_strategy.strip()),
    ]


def bugfix_design_sections(
    bugfix: BugfixDocument, overview: str, root_cause: Sequence[str], changes: Sequence[str],
    testing: str,
) -> list[tuple[str, str]]:  # fmt: skip
    """The sections of a bugfix design: the bug condition from ``bugfix.md``, the root cause,
    the fix, and how fix checking and preservation checking are tested."""
    condition = bugfix.bug_condition or BugCondition()
    formal = f"```pascal\n{condition.condition.strip()}\n```" if condition.condition else ""
    fix = f"```pascal\n{condition.fix_checking.strip()}\n```" if condition.fix_checking else ""
    keep = (
        f"```pascal\n{condition.preservation_checking.strip()}\n```"
        if condition.preservation_checking
        else ""
    )
    return [
        ("Overview", overview.strip()),
        ("Bug Details", "### Bug Condition\n\n" + (formal or "See bugfix.md.")),
        ("Hypothesized Root Cause",
         "\n".join(f"{n}. {cause.strip()}" for n, cause in enumerate(root_cause, start=1))),
        ("Fix Implementation",
         "### Changes Required\n\n" + "\n".join(f"- {change.strip()}" for change in changes)),
        ("Correctness Properties", ""),
        ("Testing Strategy",
         "\n\n".join(part for part in (
             testing.strip(),
             "### Fix Checking\n\nEvery input that meets the bug condition now behaves as the "
             "expected behavior says.\n\n" + fix,
             "### Preservation Checking\n\nEvery other input behaves exactly as before the "
             "fix.\n\n" + keep,
         ) if part.strip())),
    ]  # fmt: skip


def bugfix_properties(bugfix: BugfixDocument) -> list[tuple[str, str, list[str]]]:
    """``(title, statement, validates)`` of the two properties every bugfix design has."""
    return [
        (
            "Fix Checking",
            "*For any* input X where isBugCondition(X) holds, the fixed code behaves as the "
            "expected behavior describes.",
            [criterion.id for criterion in bugfix.expected],
        ),
        (
            "Preservation Checking",
            "*For any* input X where isBugCondition(X) does not hold, the fixed code gives "
            "exactly the result the original code gives.",
            [criterion.id for criterion in bugfix.unchanged],
        ),
    ]


def bugfix_tasks_document(draft: FixStepsDraft, bugfix: BugfixDocument) -> TasksDocument:
    """A bugfix's plan: a failing regression test first, then the fix-checking and the
    preservation-checking property tests, then the fix (the model's steps), then verifying
    that all three tests pass, and a final checkpoint."""
    current = [c.id for c in bugfix.current]
    expected = [c.id for c in bugfix.expected]
    unchanged = [c.id for c in bugfix.unchanged]
    criteria = [*current, *expected, *unchanged]

    def task(task_id: str, title: str, details: list[str], requirements: list[str],
             depends: Sequence[str] = (), parent: str | None = None,
             children: Sequence[str] = (), properties: Sequence[str] = ()) -> Task:  # fmt: skip
        return Task(task_id, title, Status.TODO, False, 0, 0, 0, requirements=requirements,
                    depends_on=list(depends), properties=list(properties), details=details,
                    parent=parent, children=list(children))  # fmt: skip

    steps = draft.steps
    fix_ids = [f"4.{n}" for n in range(1, len(steps) + 3)]
    tasks = [
        task(
            "1",
            "Write a failing regression test that reproduces the bug",
            [
                "Reproduce the current behavior (" + ", ".join(current) + ") with a concrete "
                "input that meets isBugCondition",
                "Assert the expected behavior; the test MUST FAIL on the unfixed code",
                "Run it on the unfixed code and note the failure: it proves the bug exists",
            ],
            [*current, *expected],
        ),
        task(
            "2",
            "Write the fix-checking property test",
            [
                "**Property 1: Fix Checking**",
                "FOR ALL X WHERE isBugCondition(X): generate such inputs and assert the expected "
                "behavior",
                "Expected to fail on the unfixed code",
                f"**Validates: Requirements {', '.join(expected)}**",
            ],
            expected,
            properties=["1"],
        ),
        task(
            "3",
            "Write the preservation property test",
            [
                "**Property 2: Preservation Checking**",
                "FOR ALL X WHERE NOT isBugCondition(X): assert the result equals the unfixed "
                "code's result",
                "Observe the unfixed code first; this test MUST PASS before the fix",
                f"**Validates: Requirements {', '.join(unchanged)}**",
            ],
            unchanged,
            properties=["2"],
        ),
        task("4", "Fix the bug", [], [], children=fix_ids),
    ]
    previous = ["1", "2", "3"]
    for number, step in enumerate(steps, start=1):
        cited, _ = resolve_ids(step.requirements, criteria)
        step_id = f"4.{number}"
        tasks.append(task(step_id, step.title.strip(),
                          [d.strip() for d in step.details if d.strip()], cited, previous,
                          parent="4"))  # fmt: skip
        previous = [step_id]
    last = previous
    tasks.append(task(fix_ids[-2], "Verify the regression and fix-checking tests now pass",
                      ["Re-run the tests of tasks 1 and 2 unchanged; they pass now"],
                      expected, last, parent="4", properties=["1"]))  # fmt: skip
    tasks.append(task(fix_ids[-1], "Verify the preservation property test still passes",
                      ["Re-run the test of task 3 unchanged; it still passes"],
                      unchanged, last, parent="4", properties=["2"]))  # fmt: skip
    tasks.append(task("5", "Checkpoint - Ensure all tests pass",
                      ["Run the whole test suite; ask the user if questions arise"], [],
                      fix_ids[-2:]))  # fmt: skip
    return TasksDocument("tasks.md", "Implementation Plan", tasks)


def design_markdown(draft: DesignDraft, title: str, criteria: Sequence[str]) -> str:
    """``design.md`` for a checked design answer; properties are numbered 1, 2... and their
    ``Validates`` lines list the criteria they check (requirement ids expanded)."""
    properties = [
        Property(str(number), prop.title.strip(),
                 _FOR_ANY.sub("*For any*", prop.statement.strip()),
                 resolve_ids(prop.validates, criteria)[0], 0)
        for number, prop in enumerate(draft.properties, start=1)
    ]  # fmt: skip
    return render_design(title, design_sections(draft), properties)


def bugfix_design(
    bugfix: BugfixDocument, title: str, overview: str, root_cause: Sequence[str],
    changes: Sequence[str], testing: str,
) -> str:  # fmt: skip
    """``design.md`` for a bugfix: the model's overview, root cause, changes and testing
    around the bug condition and the two properties taken from ``bugfix.md``."""
    properties = [
        Property(str(number), prop_title, statement, validates, 0)
        for number, (prop_title, statement, validates) in enumerate(
            bugfix_properties(bugfix), start=1
        )
    ]
    sections = bugfix_design_sections(bugfix, overview, root_cause, changes, testing)
    return render_design(title, sections, properties)


def link_properties(design: str, links: Mapping[str, Sequence[str]]) -> str:
    """``design`` with each linked property's ``**Validates: Requirements ...**`` line set
    (replacing the ones it has); every other line stays as it was.

    Args:
        design: The text of ``design.md``.
        links: Property id to the criterion ids it validates.
    """
    parsed = parse_design(design)
    document = parsed.document
    assert document is not None
    lines = [line.raw for line in document.lines]
    headings = [heading.line for heading in document.headings]
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    for prop in sorted(parsed.properties, key=lambda p: p.line, reverse=True):
        ids = list(links.get(prop.id, ()))
        if not ids:
            continue
        end = min([h - 1 for h in headings if h > prop.line], default=len(lines))
        block = range(prop.line + 1, end + 1)  # 1-based line numbers
        drop = {
            number
            for number in block
            if document.line(number).kind in (LineKind.TEXT, LineKind.ITEM)
            and VALIDATES_LINE.search(document.line(number).text)
        }
        kept = [lines[n - 1] for n in block if n not in drop]
        while kept and not kept[-1].strip():
            kept.pop()
        if kept and not kept[-1].endswith(("\n", "\r")):
            kept[-1] += newline
        trailer = [newline] if end < len(lines) else []
        new_block = [*kept, newline, f"**Validates: Requirements {', '.join(ids)}**{newline}",
                     *trailer]  # fmt: skip
        lines[prop.line : end] = new_block
    return "".join(lines)
