"""The design and task halves of the spec-kit importer: plan.md, research.md, data-model.md,
contracts/ and quickstart.md become design.md sections; tasks.md becomes a Kiro task tree.

Task order, as spec-kit means it, written out as explicit dependencies: a phase waits for the
phase before it (the phase's parent task depends on the previous parent); inside a phase a
task without ``[P]`` waits for the tasks since the last task without ``[P]`` (or for that
task), and a ``[P]`` task waits only for the last task without ``[P]``; ``(depends on T010)``
adds an edge to an earlier task.

May import: the standard library, ``specloom.errors`` and ``specloom.spec``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from specloom.spec.importers._common import (
    BOLD_LABEL,
    clean_block,
    heading_title,
    lines_text,
    one_line,
    strip_front_matter,
)
from specloom.spec.importers._task_tree import (
    CheckboxItem,
    TaskDraft,
    checkbox_items,
    tasks_document,
)
from specloom.spec.markdown import Document, Heading, LineKind, scan
from specloom.spec.tasks import Status, TasksDocument

__all__ = ["design_sections", "speckit_tasks"]

_WORKFLOW_SECTIONS = re.compile(r"^(?:execution flow|progress tracking|phase\s+\d)", re.I)
_FIELD_LINE = re.compile(r"^(?:\*\*|__)[^*_]+(?:\*\*|__)\s*:")
_PHASE = re.compile(r"^Phase\s+[\d.]+[a-z]?\s*(?:[:.\-–—]\s*)?", re.IGNORECASE)
_TASK_ID = re.compile(r"^(?P<id>T\d+)\b[.:]?\s*")
_TASK_LABEL = re.compile(r"^\[(?P<label>[^\]]*)\]\s*")
_STORY_LABEL = re.compile(r"^(?:US|Story)\s*\d+(?:\s*[,/]\s*(?:US|Story)?\s*\d+)*$", re.I)
_EXPLICIT_DEPENDS = re.compile(r"\s*\((?:depends\s+on|after|requires)\s+([^)]*)\)", re.I)
_REFERENCE = re.compile(r"\b[A-Z]{1,4}-\d+\b")


# -- design ---------------------------------------------------------------------------------


def design_sections(
    sources: Mapping[str, str], overview: str, warnings: list[str]
) -> list[tuple[str, str]] | None:
    """``(heading, body)`` pairs for design.md, or ``None`` when there is no design material.

    Args:
        sources: The feature folder's files.
        overview: Text for the Overview when plan.md has no Summary (the user description).
        warnings: Where to report what is not carried over.
    """
    names = ("plan.md", "research.md", "data-model.md", "quickstart.md")
    contracts = sorted(path for path in sources if path.startswith("contracts/"))
    if not contracts and not any(name in sources for name in names):
        return None
    plan: dict[str, str] = {}
    skipped: list[str] = []
    if "plan.md" in sources:
        doc = scan(strip_front_matter(sources["plan.md"]), "plan.md")
        for heading in doc.headings:
            if heading.level != 2:
                continue
            title = heading_title(heading.text) or "Notes"
            if _WORKFLOW_SECTIONS.match(title):
                skipped.append(title)
                continue
            body = lines_text(doc, heading.line + 1, doc.section_end(heading.line))
            plan[title] = clean_block(body, heading_floor=3)
    if skipped:
        warnings.append(
            "plan.md: spec-kit workflow sections not carried over: " + ", ".join(skipped) + "."
        )
    sections: list[tuple[str, str]] = []

    def take(title: str, *keys: str) -> bool:
        for plan_title in list(plan):
            if plan_title.lower() in keys:
                sections.append((title, plan.pop(plan_title)))
                return True
        return False

    if not take("Overview", "summary", "overview") and overview:
        sections.append(("Overview", overview))
    if take("Technical Context", "technical context"):
        heading, body = sections[-1]
        lines = [f"- {line}" if _FIELD_LINE.match(line) else line for line in body.split("\n")]
        sections[-1] = (heading, "\n".join(lines))
    take("Architecture", "project structure", "architecture")
    if contracts:
        sections.append(("Components and Interfaces", _contracts(sources, contracts)))
    if "data-model.md" in sources:
        sections.append(("Data Models", _document_body(sources["data-model.md"])))
    if "research.md" in sources:
        sections.append(("Research Decisions", _document_body(sources["research.md"])))
    take("Constitution Check", "constitution check")
    take("Complexity Tracking", "complexity tracking")
    sections += list(plan.items())
    if "quickstart.md" in sources:
        sections.append(("Quickstart", _document_body(sources["quickstart.md"])))
    return sections


def _document_body(text: str) -> str:
    """A whole file as a section body: its ``#`` title dropped, headings from ``###`` down."""
    doc = scan(strip_front_matter(text))
    first = doc.headings[0] if doc.headings else None
    start = first.line + 1 if first is not None and first.level == 1 else 1
    return clean_block(lines_text(doc, start, len(doc.lines)), heading_floor=3)


def _contracts(sources: Mapping[str, str], paths: list[str]) -> str:
    """Each contract file under its own heading: markdown inline, anything else fenced."""
    parts: list[str] = []
    for path in paths:
        text = sources[path].strip("\n")
        if path.endswith(".md"):
            parts.append(f"### `{path}`\n\n{_document_body(text)}")
            continue
        base = path.rsplit("/", 1)[-1]
        extension = base.rsplit(".", 1)[-1].lower() if "." in base else ""
        language = {"yml": "yaml"}.get(extension, extension)
        if not re.fullmatch(r"\w*", language):
            language = ""
        longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
        fence = "`" * max(3, longest + 1)
        parts.append(f"### `{path}`\n\n{fence}{language}\n{text}\n{fence}")
    return "\n\n".join(parts)


# -- tasks ----------------------------------------------------------------------------------


def speckit_tasks(
    text: str,
    story_criteria: Mapping[str, list[str]],
    reference_criteria: Mapping[str, str],
    warnings: list[str],
) -> TasksDocument | None:
    """The Kiro task tree of a spec-kit tasks.md, or ``None`` when it has no tasks.

    Args:
        text: The tasks.md text.
        story_criteria: User story number -> the criterion ids its requirement holds.
        reference_criteria: ``FR-001``-style id -> the criterion made from it.
        warnings: Where to report what is not carried over.
    """
    doc = scan(strip_front_matter(text), "tasks.md")
    phase_levels = [h.level for h in doc.headings if h.level >= 2 and _PHASE.match(h.text)]
    group_level = min(phase_levels, default=2)
    group_headings = [h for h in doc.headings if 2 <= h.level <= group_level]
    groups: list[TaskDraft] = []
    group_of_heading: dict[int, TaskDraft] = {}
    by_task_id: dict[str, TaskDraft] = {}
    position_of: dict[int, int] = {}
    explicit_edges: list[tuple[TaskDraft, list[str], int]] = []
    for item in checkbox_items(doc):
        heading = next((h for h in reversed(group_headings) if h.line < item.line), None)
        key = heading.line if heading else 0
        group = group_of_heading.get(key)
        if group is None:
            title = _PHASE.sub("", heading_title(heading.text)) if heading else ""
            group = TaskDraft(title or "Tasks", details=_phase_details(doc, heading))
            group_of_heading[key] = group
            groups.append(group)
        draft, explicit = _task_tree(item, story_criteria, reference_criteria, warnings)
        task_id = _TASK_ID.match(item.text)
        if task_id:
            if task_id["id"] in by_task_id:
                warnings.append(f"tasks.md:{item.line}: task id {task_id['id']} is used twice.")
            by_task_id.setdefault(task_id["id"], draft)
        position_of[id(draft)] = len(position_of)
        group.children.append(draft)
        explicit_edges.append((draft, explicit, item.line))
    if not groups:
        warnings.append("tasks.md: no `- [ ] T001 ...` tasks found; no tasks.md written.")
        return None
    _order_phases(groups)
    for draft, explicit, line in explicit_edges:
        for task_id in explicit:
            other = by_task_id.get(task_id)
            if other is None or position_of[id(other)] >= position_of[id(draft)]:
                warnings.append(
                    f"tasks.md:{line}: the dependency on {task_id} is not kept (no earlier "
                    "task has that id)."
                )
            elif other not in draft.after:
                draft.after.append(other)
    return tasks_document(groups)


def _task_tree(
    item: CheckboxItem,
    story_criteria: Mapping[str, list[str]],
    reference_criteria: Mapping[str, str],
    warnings: list[str],
) -> tuple[TaskDraft, list[str]]:
    """A task and its nested checkbox tasks (which run in document order), and the T-ids
    the task says it depends on."""
    draft, explicit = _task_draft(
        item.text, item.status, story_criteria, reference_criteria, item.line, warnings
    )
    draft.details = list(item.details)
    for child in item.children:
        child_draft, _ = _task_tree(child, story_criteria, reference_criteria, warnings)
        if draft.children:
            child_draft.after = [draft.children[-1]]
        draft.children.append(child_draft)
    return draft, explicit


def _order_phases(groups: list[TaskDraft]) -> None:
    """Phases in order; inside a phase, ``[P]`` tasks beside each other, others in order."""
    for position, group in enumerate(groups):
        if position:
            group.after = [groups[position - 1]]
        barrier: list[TaskDraft] = []
        since_barrier: list[TaskDraft] = []
        for draft in group.children:
            if draft.parallel:
                draft.after = list(barrier)
                since_barrier.append(draft)
            else:
                draft.after = list(since_barrier or barrier)
                barrier, since_barrier = [draft], []


def _phase_details(doc: Document, heading: Heading | None) -> list[str]:
    """``Purpose: ...``, ``Goal: ...``, ``Checkpoint: ...`` lines written in a phase."""
    if heading is None:
        return []
    first, last = heading.line + 1, doc.section_end(heading.line)
    details: list[str] = []
    for number in range(first, last + 1):
        line = doc.line(number)
        label = BOLD_LABEL.match(line.text) if line.kind is LineKind.TEXT else None
        if label and (label["colon"] or label["rest"].startswith(":")):
            value = label["rest"].lstrip(":").strip()
            if value:
                details.append(f"{label['label'].strip()}: {value}")
    return details


def _task_draft(
    text: str,
    status: Status,
    story_criteria: Mapping[str, list[str]],
    reference_criteria: Mapping[str, str],
    line: int,
    warnings: list[str],
) -> tuple[TaskDraft, list[str]]:
    """A task from ``T001 [P] [US1] Description``, and the T-ids it says it depends on."""
    rest = text
    task_id = _TASK_ID.match(rest)
    if task_id:
        rest = rest[task_id.end() :]
    parallel = False
    stories: list[str] = []
    while label := _TASK_LABEL.match(rest):
        value = label["label"].strip()
        if value.upper() == "P":
            parallel = True
        elif _STORY_LABEL.match(value):
            stories += [number.lstrip("0") or "0" for number in re.findall(r"\d+", value)]
        else:
            break
        rest = rest[label.end() :]
    explicit: list[str] = []
    for match in _EXPLICIT_DEPENDS.finditer(rest):
        explicit += re.findall(r"T\d+", match[1])
    description = one_line(_EXPLICIT_DEPENDS.sub("", rest) if explicit else rest)
    requirements: list[str] = []
    for story in stories:
        cited = story_criteria.get(story)
        if cited is None:
            warnings.append(f"tasks.md:{line}: [US{story}] names no user story in spec.md.")
        else:
            requirements += cited
    for reference in _REFERENCE.findall(description):
        if reference in reference_criteria:
            requirements.append(reference_criteria[reference])
    if task_id:
        title = f"{description} ({task_id['id']})" if description else task_id["id"]
    else:
        title = description
    return TaskDraft(title, status, parallel, requirements), explicit
