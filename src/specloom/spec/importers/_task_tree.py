"""Kiro task trees for the importers: checkbox items read from a source task list, drafts
that reference each other instead of ids, and the numbered ``TasksDocument`` they become.

Titles and details are made safe on the way out: a detail that would read back as a task
(``[ ] ...``) or as a reference (``Requirements: ...``, ``Depends on ...``, ``Validates 3``)
is escaped, so ``parse_tasks`` gives back exactly the tree that was built.

May import: the standard library and ``specloom.spec``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from specloom.spec.importers._common import one_line
from specloom.spec.markdown import Document
from specloom.spec.refs import DEPENDS_LINE, PROPERTY_REF, REQUIREMENTS_LINE, VALIDATES_LINE
from specloom.spec.tasks import Status, Task, TasksDocument

__all__ = ["CheckboxItem", "TaskDraft", "checkbox_items", "tasks_document"]


_CHECKBOX = re.compile(r"^\[(?P<char>[ xX\-~])\](?:[ \t]+|$)(?P<rest>.*)$", re.DOTALL)
_STATUS = {
    " ": Status.TODO,
    "x": Status.DONE,
    "X": Status.DONE,
    "-": Status.IN_PROGRESS,
    "~": Status.QUEUED,
}


@dataclass(slots=True)
class CheckboxItem:
    """A ``- [ ] ...`` list item of a source task list.

    Attributes:
        line: 1-based line of the item.
        status: From its checkbox.
        text: Its first paragraph after the checkbox, on one line.
        details: Its nested non-checkbox items and paragraphs, one line each.
        children: Nested checkbox items.
    """

    line: int
    status: Status
    text: str
    details: list[str] = field(default_factory=list)
    children: list[CheckboxItem] = field(default_factory=list)


def checkbox_items(doc: Document) -> list[CheckboxItem]:
    """The outermost checkbox items of ``doc`` (outside code blocks), nested ones inside."""
    found: dict[int, CheckboxItem] = {}
    roots: list[CheckboxItem] = []
    for index, item in enumerate(doc.items):
        match = _CHECKBOX.match(item.content)
        parent = item.parent
        while parent >= 0 and parent not in found:
            parent = doc.items[parent].parent
        if match is None:
            if parent >= 0:
                text = one_line(doc.item_paragraph(index))
                if text:
                    found[parent].details.append(text)
            continue
        paragraph = one_line(doc.item_paragraph(index))
        rest = _CHECKBOX.match(paragraph)
        entry = CheckboxItem(
            item.line, _STATUS[match["char"]], rest["rest"].strip() if rest else ""
        )
        found[index] = entry
        if parent >= 0:
            found[parent].children.append(entry)
        else:
            roots.append(entry)
    return roots


@dataclass(eq=False, slots=True)
class TaskDraft:
    """A task being built; ids are given when the tree is complete.

    Attributes:
        title: One line.
        status: Its status (a group's follows its children when ``None``).
        parallel: Written ``(P)``.
        requirements: Criterion or requirement ids it cites.
        after: Tasks it depends on (drafts of earlier tasks).
        details: Detail bullets.
        children: Sub-tasks.
    """

    title: str
    status: Status | None = None
    parallel: bool = False
    requirements: list[str] = field(default_factory=list)
    after: list[TaskDraft] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    children: list[TaskDraft] = field(default_factory=list)


def _safe_title(title: str) -> str:
    text = one_line(title)
    if text.endswith("(P)"):
        text = text[:-3].rstrip() + " [P]"
    return text


def _safe_detail(detail: str) -> str:
    """A detail that the tasks parser reads back as a detail (not a task or a reference)."""
    text = one_line(detail)
    if re.match(r"^\[[ xX\-~]\]", text):
        text = "\\" + text
    if REQUIREMENTS_LINE.match(text) or DEPENDS_LINE.match(text):
        text = "Note: " + text
    # A code span around the keyword keeps "validates 3 inputs" from citing requirement 3.
    if VALIDATES_LINE.search(text):
        text = re.sub(r"validates", lambda word: f"`{word[0]}`", text, flags=re.IGNORECASE)
    if PROPERTY_REF.search(text):
        text = re.sub(r"\bproperty\b", lambda word: f"`{word[0]}`", text, flags=re.IGNORECASE)
    return text


def _derived_status(draft: TaskDraft) -> Status:
    if draft.status is not None and not draft.children:
        return draft.status
    statuses = [_derived_status(child) for child in draft.children]
    if draft.status is not None and draft.status is not Status.TODO:
        return draft.status
    if statuses and all(status is Status.DONE for status in statuses):
        return Status.DONE
    if any(status is not Status.TODO for status in statuses):
        return Status.IN_PROGRESS
    return Status.TODO


def tasks_document(groups: list[TaskDraft]) -> TasksDocument:
    """Number a task tree Kiro's way (``1``, ``1.1``, ``1.1.1``) and build the document."""
    ids: dict[int, str] = {}
    ordered: list[tuple[TaskDraft, str, str | None]] = []

    def visit(draft: TaskDraft, task_id: str, parent: str | None) -> None:
        ids[id(draft)] = task_id
        ordered.append((draft, task_id, parent))
        for position, child in enumerate(draft.children, start=1):
            visit(child, f"{task_id}.{position}", task_id)

    for position, group in enumerate(groups, start=1):
        visit(group, str(position), None)
    tasks: list[Task] = []
    for draft, task_id, parent in ordered:
        depends = [ids[id(other)] for other in draft.after if id(other) in ids]
        tasks.append(
            Task(
                id=task_id,
                title=_safe_title(draft.title),
                status=_derived_status(draft),
                optional=False,
                line=0,
                end_line=0,
                status_column=0,
                requirements=list(dict.fromkeys(draft.requirements)),
                depends_on=list(dict.fromkeys(depends)),
                details=[d for d in (_safe_detail(detail) for detail in draft.details) if d],
                parent=parent,
                children=[ids[id(child)] for child in draft.children],
                parallel=draft.parallel,
            )
        )
    return TasksDocument("tasks.md", "Implementation Plan", tasks)
