"""The prompts that write a spec: one set of instructions per document, and compact views of
the documents already written.

The same prompts serve the embedded 1.5B model (a 4k-token window) and large cloud models, so
they are short and concrete: the allowed forms shown as worked examples, no prose about
style. Earlier documents are shown as compact listings (criterion ids with their text,
property ids with what they validate), cut to the room the caller gives.

May import: the standard library and ``specloom.spec``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from specloom.spec.design import DesignDocument
from specloom.spec.requirements import Requirement
from specloom.spec.tasks import TasksDocument

__all__ = [
    "BUGFIX_DESIGN_INSTRUCTIONS",
    "BUGFIX_INSTRUCTIONS",
    "CRITERION_INSTRUCTIONS",
    "DESIGN_FIRST_NOTE",
    "DESIGN_INSTRUCTIONS",
    "EARS_EXAMPLES",
    "FIX_STEPS_INSTRUCTIONS",
    "LINKS_INSTRUCTIONS",
    "QUESTIONS_INSTRUCTIONS",
    "REQUIREMENTS_INSTRUCTIONS",
    "SMALL_PLAN_NOTE",
    "TASKS_INSTRUCTIONS",
    "cut",
    "defuse",
    "design_listing",
    "prompt",
    "refine_note",
    "requirements_listing",
    "tasks_listing",
]

# The forms are shown as worked examples rather than templates: small models copy template
# placeholders (<trigger>, <response>) into their answers as words. No example says
# <system>: model frameworks read a <system> tag in quoted text as an injected instruction.
EARS_EXAMPLES = (
    "WHEN a reader returns a book, THE Loan_Service SHALL mark the book as available",
    "WHILE a book is on loan, THE Loan_Service SHALL refuse a second loan of it",
    "IF the reader owes a fine, THEN THE Loan_Service SHALL refuse new loans",
    "WHERE email is enabled, THE Loan_Service SHALL send a reminder 2 days before the due date",
    "THE Loan_Service SHALL keep each loan record for 5 years",
)
"""The worked examples of the EARS forms (for a library); a criterion that repeats one was
copied, not written for the feature (``authoring_schemas.copies_example``)."""
_EXAMPLE_LINES = "\n".join(f"- {example}" for example in EARS_EXAMPLES)
_EARS = f"""Every acceptance criterion is one sentence with exactly one SHALL. It starts with \
WHEN (an event), WHILE (a state), IF ... THEN (an unwanted case), WHERE (an optional feature) \
or THE (always), names the component, and says what it SHALL do. The forms, shown for a \
library:
{_EXAMPLE_LINES}
Write the criteria about the feature asked for, never about the library."""

REQUIREMENTS_INSTRUCTIONS = f"""You write the requirements document of a software feature.
Write 2 to 5 requirements. Give each a short title, a user story "As a <role>, I want \
<capability>, so that <benefit>." and 2 to 4 acceptance criteria.
{_EARS}
Name each component the same way everywhere (like Loan_Service) and define those names in \
the glossary. Use measurable words, never "fast" or "user-friendly". Where the project context \
shows real modules, name them."""

CRITERION_INSTRUCTIONS = f"""You rewrite one acceptance criterion of a requirement so that it \
is correct EARS and keeps its meaning.
{_EARS}"""

DESIGN_INSTRUCTIONS = """You write the technical design of a software feature.
Give: an overview; the architecture; a mermaid component diagram starting with `graph TD`; a \
mermaid sequence diagram starting with `sequenceDiagram`; the components with their \
responsibility and interface (function signatures); the data models; error handling; the \
testing strategy; and correctness properties.
A correctness property is a rule a property-based test checks for every input. Give each \
one a short title, a statement that starts "For any", and in validates the ids of the \
acceptance criteria above that it checks (like "1.2"); the ids go in validates only.
Use the project's real modules and conventions from the context."""

DESIGN_FIRST_NOTE = """No requirements exist yet: leave every property's validates list \
empty; they are linked to criteria once the requirements are written."""

LINKS_INSTRUCTIONS = """You read one correctness property of a design and list the ids of \
the acceptance criteria (like 1.2) whose behavior the property's test proves."""

SMALL_PLAN_NOTE = (
    "Write at most 6 tasks. Give each at most 2 detail steps of a few words, and write "
    "depends_on only where a task needs another."
)

TASKS_INSTRUCTIONS = """You write the implementation plan of a software feature: small \
coding tasks, numbered 1, 2, 3... in order, each done in one sitting.
Each task has a title (an imperative sentence), 1 to 4 short detail steps, the acceptance \
criterion ids it implements (e.g. 1.1, 2.3) and depends_on: the numbers of earlier tasks it \
needs. Kinds: code, unit-test, property-test (set property to the design property number it \
checks) and checkpoint (run all tests). Include unit-test tasks and one property-test task \
per correctness property; mark tests that may be skipped as optional. Use the file and \
module names of the design and the project."""

BUGFIX_INSTRUCTIONS = """You write the requirements of a bug fix.
- current: what happens now, each "WHEN <input> THEN the system <wrong behavior>".
- expected: what must happen, each "WHEN <input> THEN the system SHALL <behavior>".
- unchanged: what must keep working, each "WHEN <other input> THEN the system SHALL \
CONTINUE TO <behavior>".
- input_type: what one input X is; bug_condition: a boolean expression over X that is true \
exactly for the inputs that trigger the bug (e.g. X.rows = 0 AND X.format = "csv"); \
expected_result: what must hold for such an X after the fix; function: the function that \
fails.
Example expected: WHEN a user exports a report with no rows THEN the system SHALL write a \
file that holds only the header row."""

BUGFIX_DESIGN_INSTRUCTIONS = """You write the design of a bug fix: an overview, the likely \
root causes (most likely first), the code changes that fix it (file or function, and what \
changes), and the testing strategy: a failing regression test first, then property tests \
for fix checking (inputs meeting the bug condition) and preservation checking (every other \
input behaves as before). Name the project's real files and functions."""

FIX_STEPS_INSTRUCTIONS = """You list the code changes that fix a bug, in order, as small \
steps. Each step has a title, 1 to 4 details (files, functions, what changes) and the \
criterion ids it satisfies (mostly 2.x; 3.x for what it must keep working). Tests are \
planned separately: list only the changes to the code."""

QUESTIONS_INSTRUCTIONS = """You read a feature request and ask the clarifying questions whose \
answers would change the plan: scope, users, data, limits, failure behavior. Ask at most 3, \
each one short sentence ending with "?". Ask nothing the request already answers."""


_VOICE_TAG = re.compile(r"<(\s*/?\s*)system\b", re.IGNORECASE)


def cut(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters at a line boundary, with a note."""
    if len(text) <= limit:
        return text
    note = "\n[... cut to fit ...]"
    room = max(0, limit - len(note))
    head = text[:room]
    if "\n" in head:
        head = head[: head.rindex("\n")]
    return head + note


def defuse(text: str) -> str:
    """``text`` with ``<system>``-like placeholders (the lint's EARS templates, a criterion
    that copied one) written as ``<component>``, so no model framework takes them for its
    own instruction tags."""
    return _VOICE_TAG.sub(r"<\1component", text)


def prompt(*parts: tuple[str, str]) -> str:
    """The user prompt: one ``## <title>`` block per non-empty part, in order."""
    blocks = [f"## {title}\n\n{defuse(text.strip())}" for title, text in parts if text.strip()]
    return "\n\n".join(blocks) + "\n"


def requirements_listing(requirements: Sequence[Requirement], *, stories: bool = True) -> str:
    """Requirements as ``Requirement 2: Title``, the user story, then ``2.1 <criterion>``
    lines: every id a design or a task may cite."""
    lines: list[str] = []
    for requirement in requirements:
        heading = f"Requirement {requirement.id}"
        if requirement.title:
            heading += f": {requirement.title}"
        lines.append(heading)
        if stories and requirement.user_story:
            lines.append(f"User story: {requirement.user_story}")
        lines += [f"{criterion.id} {criterion.text}" for criterion in requirement.criteria]
        lines.append("")
    return "\n".join(lines).strip()


def design_listing(design: DesignDocument, text: str, limit: int) -> str:
    """A design for later prompts: its correctness properties (id, title, what each
    validates) always, then as much of its text as ``limit`` leaves room for."""
    properties = [
        f"Property {prop.id}: {prop.title}"
        + (f" (validates {', '.join(prop.validates)})" if prop.validates else "")
        for prop in design.properties
    ]
    head = "Correctness properties:\n" + "\n".join(properties) if properties else ""
    room = limit - len(head) - 2
    body = cut(text, room) if room > 200 else ""
    return "\n\n".join(part for part in (head, body) if part)


def tasks_listing(tasks: TasksDocument) -> str:
    """The current plan, one line per task with what it cites and depends on."""
    lines: list[str] = []
    for task in tasks.tasks:
        line = f"{task.id}. {task.title}"
        if task.cited():
            line += f" [requirements: {', '.join(task.cited())}]"
        if task.depends_on:
            line += f" [depends on: {', '.join(task.depends_on)}]"
        if task.optional:
            line += " [optional]"
        lines.append(("  " if task.parent else "") + line)
    return "\n".join(lines)


def refine_note(document: str) -> str:
    """What a rewrite must keep."""
    return (
        f"Rewrite the {document} as the feedback asks and answer with the whole document. "
        "Keep every part the feedback does not touch exactly as it is, in the same order; "
        "put new parts at the end."
    )
