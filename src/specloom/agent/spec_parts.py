"""One part of a spec, by id, as the agent reads it: a requirement, a criterion, a design
section, a correctness property or a task, with what it is linked to.

Part names: ``""`` (an outline of the whole spec), ``"1"`` or ``"requirement 1"`` (a
requirement), ``"1.2"`` or ``"criterion 1.2"`` (an acceptance criterion), ``"task 2.1"`` (a
task), ``"Property 3"`` (a correctness property), or a design heading by title or slug
(``"Data Models"``, ``"data-models"``, ``"design: Architecture"``). A bare ``"2.1"`` is the
criterion when there is one, else the task; the answer says when both exist.

Requirements, tasks and design sections are shown as written in the file; a criterion comes
with the tasks that cite it and the properties that validate it; a task with the text of the
criteria it cites and the properties it references.

May import: the standard library, ``specloom.errors``, ``specloom.spec``,
``specloom.workspace`` and ``specloom.agent.confine``.
"""

from __future__ import annotations

import re

from specloom.agent.confine import Workspace
from specloom.errors import ModelFacingError, UserFacingError
from specloom.spec.design import Property
from specloom.spec.markdown import Document
from specloom.spec.model import SPEC_FILES, Spec
from specloom.spec.requirements import Criterion, Requirement
from specloom.spec.tasks import Task
from specloom.workspace import Workspace as Project

__all__ = ["load_spec", "spec_part"]

_PREFIXED = re.compile(
    r"^\s*(?P<word>requirements?|req|criterion|criteria|ac|tasks?|property|prop|design|section)"
    r"\b[\s:#.]*(?P<key>.*?)\s*$",
    re.IGNORECASE,
)
_ID = re.compile(r"^[A-Za-z]{0,3}-?\d+(?:\.\d+)*$")
_MAX_OUTLINE_TASKS = 300


def load_spec(workspace: Workspace, name: str) -> Spec:
    """Spec ``name`` from ``.kiro/specs/`` of the first root that has it.

    Raises:
        ModelFacingError: No such spec, a name that is a path, a spec folder or file that is
            a link out of the workspace, or a file that cannot be parsed.
    """
    if not name.strip() or name.strip() in (".", "..") or re.search(r"[/\\\0]", name):
        raise ModelFacingError(
            f"{name!r} is not a spec name: give the folder name under .kiro/specs/ "
            f"(known specs: {_known(workspace)})."
        )
    for root in workspace.roots:
        folder = root / ".kiro" / "specs" / name
        if not folder.is_dir():
            continue
        for file_name in SPEC_FILES:
            if (folder / file_name).exists():
                workspace.resolve(folder / file_name, write=False)
        try:
            return Project(root).load(name)
        except UserFacingError as error:
            raise ModelFacingError(f"spec {name!r} cannot be read: {error}") from None
    raise ModelFacingError(f"There is no spec named {name!r}. Known specs: {_known(workspace)}.")


def _known(workspace: Workspace) -> str:
    names = sorted({name for root in workspace.roots for name in Project(root).spec_names()})
    return ", ".join(names) or "none"


def _raw(document: Document | None, first: int, last: int) -> str:
    if document is None or first < 1:
        return ""
    text = "".join(line.raw for line in document.lines[first - 1 : last])
    return text.rstrip() + "\n"


def spec_part(spec: Spec, part: str) -> str:
    """The text of one part of ``spec`` (see the module docstring for part names).

    Raises:
        ModelFacingError: No such part; the message lists what exists.
    """
    part = part.strip()
    if not part:
        return _outline(spec)
    word, key = "", part
    prefixed = _PREFIXED.match(part)
    if prefixed and prefixed.group("key"):
        word = prefixed.group("word").lower()
        if word in ("design", "section") or _ID.match(prefixed.group("key")):
            key = prefixed.group("key")
        else:
            word = ""  # a heading such as "Requirements Traceability"
    if word.startswith("req"):
        return _requirement(spec, key)
    if word in ("criterion", "criteria", "ac"):
        return _criterion(spec, key)
    if word.startswith("task"):
        return _task(spec, key)
    if word in ("property", "prop"):
        return _property(spec, key)
    if word in ("design", "section"):
        return _section(spec, key)
    requirement = next((r for r in spec.requirement_list() if r.id == key), None)
    if requirement is not None:
        return _requirement(spec, key)
    criterion = next((c for c in spec.criteria() if c.id == key), None)
    task = spec.tasks.get(key) if spec.tasks is not None else None
    if criterion is not None:
        note = f"\n(Task {key} exists too: ask for `task {key}`.)" if task is not None else ""
        return _criterion(spec, key) + note
    if task is not None:
        return _task(spec, key)
    return _section(spec, key)


def _requirement(spec: Spec, key: str) -> str:
    found = next((r for r in spec.requirement_list() if r.id == key), None)
    if found is None:
        known = ", ".join(r.id for r in spec.requirement_list()) or "none"
        raise ModelFacingError(f"Spec {spec.name!r} has no requirement {key!r} (it has: {known}).")
    document = spec.requirements.document if spec.requirements is not None else None
    if document is not None and found.end_line:
        return f"{spec.requirements_path()}:{found.line}\n" + _raw(
            document, found.line, found.end_line
        )
    lines = [f"{spec.requirements_path()}:{found.line}", f"{found.id}. {found.title}"]
    lines += [f"{criterion.id} {criterion.text}" for criterion in found.criteria]
    return "\n".join(lines) + "\n"


def _criterion_line(spec: Spec, key: str) -> str:
    criterion = next((c for c in spec.criteria() if c.id == key), None)
    if criterion is not None:
        return f"{key}: {criterion.text}"
    requirement = next((r for r in spec.requirement_list() if r.id == key), None)
    if requirement is not None:
        return f"Requirement {key}: {requirement.title or requirement.user_story}"
    return f"{key}: (not found in the requirements)"


def _owner(spec: Spec, criterion: Criterion) -> Requirement | None:
    return next((r for r in spec.requirement_list() if criterion in r.criteria), None)


def _criterion(spec: Spec, key: str) -> str:
    criterion = next((c for c in spec.criteria() if c.id == key), None)
    if criterion is None:
        known = ", ".join(c.id for c in spec.criteria()[:40]) or "none"
        raise ModelFacingError(f"Spec {spec.name!r} has no criterion {key!r} (it has: {known}).")
    owner = _owner(spec, criterion)
    heading = f"Requirement {owner.id}: {owner.title}" if owner is not None else ""
    lines = [
        f"{spec.requirements_path()}:{criterion.line}",
        f"Criterion {key} ({heading})",
        criterion.text,
    ]
    requirement_id = key.rsplit(".", 1)[0]
    tasks = [
        t.id
        for t in (spec.tasks.tasks if spec.tasks is not None else [])
        if key in t.cited() or requirement_id in t.cited()
    ]
    properties = [
        p.id
        for p in (spec.design.properties if spec.design is not None else [])
        if key in p.validates or requirement_id in p.validates
    ]
    if tasks:
        lines.append("Cited by tasks: " + ", ".join(tasks))
    if properties:
        lines.append("Validated by properties: " + ", ".join(properties))
    return "\n".join(lines) + "\n"


def _task(spec: Spec, key: str) -> str:
    if spec.tasks is None:
        raise ModelFacingError(f"Spec {spec.name!r} has no tasks.md yet.")
    task: Task | None = spec.tasks.get(key)
    if task is None:
        known = ", ".join(t.id for t in spec.tasks.tasks[:60])
        raise ModelFacingError(f"Spec {spec.name!r} has no task {key!r} (it has: {known}).")
    status = spec.statuses().get(task.id)
    out = [
        f"{spec.file('tasks.md')}:{task.line} (status: {status.value if status else '?'})",
        _raw(spec.tasks.document, task.line, task.end_line).rstrip(),
    ]
    if task.depends_on:
        out.append("Depends on tasks: " + ", ".join(task.depends_on))
    cited = task.cited()
    if cited:
        out += ["", "Requirements it cites:"] + [f"- {_criterion_line(spec, i)}" for i in cited]
    properties = [
        p
        for p in (spec.design.properties if spec.design is not None else [])
        if p.id in task.properties
    ]
    if properties:
        out += ["", "Properties it references:"] + [_property_text(p) for p in properties]
    return "\n".join(out) + "\n"


def _property_text(prop: Property) -> str:
    lines = [f"Property {prop.id}: {prop.title}"]
    if prop.statement:
        lines.append(prop.statement)
    if prop.validates:
        lines.append("Validates: " + ", ".join(prop.validates))
    return "\n".join(lines)


def _property(spec: Spec, key: str) -> str:
    properties = spec.design.properties if spec.design is not None else []
    found = next((p for p in properties if p.id == key), None)
    if found is None or spec.design is None:
        known = ", ".join(p.id for p in properties) or "none"
        raise ModelFacingError(f"Spec {spec.name!r} has no property {key!r} (it has: {known}).")
    text = f"{spec.design.path}:{found.line}\n" + _property_text(found)
    validated = [_criterion_line(spec, item) for item in found.validates]
    if validated:
        text += "\n\nIt validates:\n" + "\n".join(f"- {line}" for line in validated)
    return text + "\n"


def _section(spec: Spec, key: str) -> str:
    if spec.design is None:
        raise ModelFacingError(
            f"{key!r} is not a requirement, criterion or task id of spec {spec.name!r}, and "
            "the spec has no design.md to look for a section in."
        )
    section = spec.design.section(key)
    if section is None:
        titles = "; ".join(s.title for s in spec.design.sections)
        raise ModelFacingError(
            f"Spec {spec.name!r} has no part {key!r}. Ask for a requirement (`1`), a criterion "
            f"(`1.2`), a task (`task 2.1`), a property (`Property 3`) or a design section: "
            f"{titles}."
        )
    return f"{spec.design.path}:{section.line}\n" + spec.design.section_text(section)


def _outline(spec: Spec) -> str:
    done, total = spec.progress()
    out = [f"Spec {spec.name} ({spec.type}; phase: {spec.phase()}; tasks done: {done}/{total})"]
    if spec.requirement_list():
        out += ["", f"Requirements ({spec.requirements_path()}):"]
        out += [
            f"- {r.id}. {r.title or r.user_story[:80]} ({len(r.criteria)} criteria)"
            for r in spec.requirement_list()
        ]
    if spec.design is not None:
        out += ["", f"Design sections ({spec.design.path}):"]
        out += [
            f"{'  ' * max(s.level - 2, 0)}- {s.title}" for s in spec.design.sections if s.level >= 2
        ]
        if spec.design.properties:
            out += ["", "Correctness properties:"]
            out += [f"- Property {p.id}: {p.title}" for p in spec.design.properties]
    if spec.tasks is not None:
        statuses = spec.statuses()
        marks = {"todo": " ", "done": "x", "in_progress": "-", "queued": "~"}
        out += ["", f"Tasks ({spec.file('tasks.md')}):"]
        for task in spec.tasks.tasks[:_MAX_OUTLINE_TASKS]:
            mark = marks.get(statuses[task.id].value, " ")
            indent = "  " * task.id.count(".")
            out.append(f"{indent}- [{mark}] {task.id}{'*' if task.optional else ''} {task.title}")
        if len(spec.tasks.tasks) > _MAX_OUTLINE_TASKS:
            out.append(f"[{len(spec.tasks.tasks) - _MAX_OUTLINE_TASKS} more tasks]")
    out += [
        "",
        "Read one part with read_spec: `1` (a requirement), `1.2` (a criterion), "
        "`task 2.1`, `Property 3`, or a design heading.",
    ]
    return "\n".join(out) + "\n"
