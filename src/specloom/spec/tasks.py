"""``tasks.md``: parse every task-list dialect Kiro and its cousins write, and edit status in place.

Read: numbered tasks and sub-tasks (``- [ ] 1.``, ``- [ ] 1.1``, ``- [ ] 1.1.``), status
``[ ]`` ``[-]`` ``[x]`` ``[~]``, the optional marker ``*`` (also escaped ``\\*``), detail bullets,
``_Requirements: 1.1, 2.3_`` (ranges, ``All``), ``_Depends on: 2.1_`` and cc-sdd's
``_Depends: 1.1_``, cc-sdd's ``(P)`` parallel marker, property references
(``**Property 3: ...**``, ``**Validates: Requirements 1.1**``) and newer Kiro's closing
``## Task Dependency Graph`` JSON block of waves.

Write: ``set_status`` changes exactly one character of the file; everything else stays as the
user wrote it. New files are written by ``specloom.spec.tasks_writer``.

May import: ``specloom.errors`` and sibling modules of ``specloom.spec``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import StrEnum

from specloom.errors import SpecNotFoundError, SpecSyntaxError
from specloom.spec.markdown import Document, LineKind, scan
from specloom.spec.refs import (
    DEPENDS_LINE,
    PROPERTY_REF,
    REQUIREMENTS_LINE,
    VALIDATES_LINE,
    parse_id_list,
)

__all__ = [
    "STATUS_CHARS",
    "Status",
    "Task",
    "TasksDocument",
    "Waves",
    "is_test_title",
    "parse_tasks",
    "set_status",
]


# A task about tests: its title's object is tests ("Write unit tests for...", "Tests of...");
# "Implement the tool with a unit test" is code and its tests.
_TEST_TITLE = re.compile(
    r"^\W*(?:(?:write|add|create|implement|update|extend|fix|improve)\s+)?"
    r"(?:(?:the|more|some|its)\s+)?"
    r"(?:(?:unit|integration|regression|end-to-end|e2e|property(?:-based)?)[- ])?"
    r"(?:tests?|testing)\b",
    re.IGNORECASE,
)


def is_test_title(title: str) -> bool:
    """Whether a task titled ``title`` is about tests only ("Write unit tests for the
    parser", "Tests of the parser"), not code with its tests ("Implement the parser with a
    unit test")."""
    return _TEST_TITLE.search(title) is not None


class Status(StrEnum):
    """A task's state, as ``specloom show --json`` names it."""

    TODO = "todo"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    QUEUED = "queued"


_CHAR_STATUS = {
    " ": Status.TODO,
    "x": Status.DONE,
    "X": Status.DONE,
    "-": Status.IN_PROGRESS,
    "~": Status.QUEUED,
}
STATUS_CHARS: dict[Status, str] = {
    Status.TODO: " ",
    Status.DONE: "x",
    Status.IN_PROGRESS: "-",
    Status.QUEUED: "~",
}

_CHECKBOX = re.compile(r"^\[(?P<char>[ xX\-~])\](?P<optional>\\?\*)?(?:[ \t]+|$)(?P<rest>.*)$")
_TASK_ID = re.compile(
    r"^(?P<id>(?:[A-Z]{1,3}-?)?\d+(?:\.\d+)*)\.?(?=[ \t:]|$)[ \t:]*(?P<title>.*)$"
)
_PARALLEL = re.compile(r"\s*\(P\)\s*$")
_ALL = re.compile(r"^\s*all\b", re.IGNORECASE)


@dataclass(slots=True)
class Task:
    """One task (or sub-task) of an implementation plan.

    Attributes:
        id: ``"2.1"``; written in the file, or derived from the position when it is not.
        title: The task's first line after the checkbox and id (``(P)`` removed).
        status: From the checkbox.
        optional: Marked ``*`` (may be skipped).
        line: 1-based line of the checkbox.
        end_line: 1-based last line of the task, sub-tasks included.
        status_column: 0-based index of the status character in its line.
        requirements: Criterion or requirement ids from its ``_Requirements:_`` line(s),
            ranges expanded.
        validates: Ids from its ``**Validates: Requirements ...**`` lines.
        cites_all: ``_Requirements: All_``.
        depends_on: Ids from its ``_Depends on:_`` line(s).
        properties: Ids of design properties it references.
        details: Its detail bullets and text, one entry per bullet or paragraph.
        parent: Id of the enclosing task, if any.
        children: Ids of its direct sub-tasks.
        parallel: cc-sdd's ``(P)``: may run beside its neighbours.
        explicit_id: Whether the id is written in the file.
        references_line: Line of its ``_Requirements:_`` line (0 when it has none).
        states_dependencies: It has a ``_Depends on:_`` line, even one that says ``none``.
    """

    id: str
    title: str
    status: Status
    optional: bool
    line: int
    end_line: int
    status_column: int
    requirements: list[str] = field(default_factory=list)
    validates: list[str] = field(default_factory=list)
    cites_all: bool = False
    depends_on: list[str] = field(default_factory=list)
    properties: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    parent: str | None = None
    children: list[str] = field(default_factory=list)
    parallel: bool = False
    explicit_id: bool = True
    references_line: int = 0
    states_dependencies: bool = False

    def cited(self) -> list[str]:
        """Every requirement or criterion id the task cites, in order, without repeats."""
        cited = list(self.requirements)
        _extend(cited, self.validates)
        return cited

    @property
    def is_leaf(self) -> bool:
        """A task with no sub-tasks: the unit the agent executes."""
        return not self.children


@dataclass(slots=True)
class Waves:
    """Newer Kiro's ``## Task Dependency Graph`` block.

    Attributes:
        waves: Task ids per wave, in wave order.
        line: 1-based line of the fence that holds the JSON.
        end_line: 1-based line of the closing fence.
        heading_line: 1-based line of the heading above it (0 when there is none).
        data: The whole JSON object (unknown keys kept).
    """

    waves: list[list[str]]
    line: int
    end_line: int
    heading_line: int = 0
    data: dict[str, object] = field(default_factory=dict)


@dataclass(slots=True)
class TasksDocument:
    """A parsed ``tasks.md``.

    Attributes:
        path: File name used in messages.
        title: The ``#`` heading.
        tasks: Every task in document order (sub-tasks included).
        waves: The dependency-graph block, if the file has one.
        document: The scanned file (lossless).
    """

    path: str
    title: str
    tasks: list[Task]
    waves: Waves | None = None
    document: Document | None = field(default=None, repr=False, compare=False)
    _by_id: dict[str, Task] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_id = {task.id: task for task in self.tasks}

    def get(self, task_id: str) -> Task | None:
        """The task with ``task_id``, or ``None``."""
        return self._by_id.get(task_id)

    def task(self, task_id: str) -> Task:
        """The task with ``task_id``.

        Raises:
            SpecNotFoundError: No task has that id.
        """
        found = self._by_id.get(task_id)
        if found is None:
            known = ", ".join(t.id for t in self.tasks[:12])
            more = len(self.tasks) - 12
            if more > 0:
                known += f" and {more} more"
            raise SpecNotFoundError(
                f"there is no task {task_id!r}.",
                file=self.path,
                hint=f"Known task ids: {known}." if self.tasks else "The file has no tasks.",
            )
        return found

    def has_dependency_lines(self) -> bool:
        """Whether any task states its dependencies explicitly (``_Depends on: none_`` counts:
        a plan whose tasks all say so is fully parallel, not in document order)."""
        return any(task.depends_on or task.states_dependencies for task in self.tasks)

    def render(self) -> str:
        """The file's text: the original bytes when parsed, Kiro style when built."""
        if self.document is not None:
            return self.document.text()
        from specloom.spec.tasks_writer import render_tasks

        return render_tasks(self)


def _strip_emphasis(text: str) -> str:
    return text.strip().strip("*_").strip()


def parse_tasks(text: str, path: str = "tasks.md") -> TasksDocument:
    """Parse a ``tasks.md``.

    Args:
        text: The file's content.
        path: The file name used in messages.

    Returns:
        The parsed document; ``render()`` gives ``text`` back unchanged.

    Raises:
        SpecSyntaxError: Duplicate task ids, or a dependency-graph block that is not JSON.
    """
    doc = scan(text, path)
    title = next((h.text for h in doc.headings if h.level == 1), "")
    task_of_item: dict[int, Task] = {}
    tasks: list[Task] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(doc.items):
        checkbox = _CHECKBOX.match(item.content)
        if checkbox is None:
            continue
        rest = checkbox.group("rest")
        parent_index = item.parent
        while parent_index >= 0 and parent_index not in task_of_item:
            parent_index = doc.items[parent_index].parent
        parent = task_of_item.get(parent_index) if parent_index >= 0 else None
        id_match = _TASK_ID.match(rest)
        if id_match:
            task_id = id_match.group("id")
            title_text = id_match.group("title")
            explicit = True
        else:
            task_id = _positional_id(doc, item.line, parent, tasks)
            title_text = rest
            explicit = False
        parallel = bool(_PARALLEL.search(title_text))
        if parallel:
            title_text = _PARALLEL.sub("", title_text)
        line_text = doc.line(item.line).text
        status_column = line_text.index("[", len(line_text) - len(line_text.lstrip()) + 1) + 1
        if task_id in seen:
            raise SpecSyntaxError(
                f"task id {task_id} is used twice (first on line {seen[task_id]}).",
                file=path,
                line=item.line,
                column=status_column + 3,
                hint="Give each task its own number.",
            )
        seen[task_id] = item.line
        task = Task(
            id=task_id,
            title=_strip_emphasis(title_text),
            status=_CHAR_STATUS[checkbox.group("char")],
            optional=checkbox.group("optional") is not None,
            line=item.line,
            end_line=item.end_line,
            status_column=status_column,
            parent=parent.id if parent else None,
            parallel=parallel,
            explicit_id=explicit,
        )
        if parent is not None:
            parent.children.append(task_id)
        task_of_item[index] = task
        tasks.append(task)

    _adopt_by_number(tasks)
    for index, task in task_of_item.items():
        _collect_details(doc, index, task, task_of_item)
    waves = _find_waves(doc, path)
    return TasksDocument(path, title, tasks, waves, doc)


_GROUP_HEADING = re.compile(r"(\d+(?:\.\d+)*)")


def _positional_id(doc: Document, line: int, parent: Task | None, tasks: list[Task]) -> str:
    """An id for a task the file does not number: ``<parent>.<n>``, or ``<group>.<n>`` under
    a numbered heading (``## Task 3: ...``), or its position among top-level tasks."""
    if parent is not None:
        return f"{parent.id}.{len(parent.children) + 1}"
    heading = next((h for h in reversed(doc.headings) if h.line < line and h.level > 1), None)
    group = _GROUP_HEADING.search(heading.text) if heading else None
    if heading is not None and group is not None:
        stem = group.group(1)
        count = sum(1 for t in tasks if t.parent is None and t.line > heading.line)
        return f"{stem}.{count + 1}"
    return str(sum(1 for t in tasks if t.parent is None) + 1)


def _adopt_by_number(tasks: list[Task]) -> None:
    """Written flat (``- [x] 2.`` then ``- [x] 2.1`` at the same indentation), ``2.1`` is
    still a sub-task of ``2``: give top-level tasks the parent their number names."""
    by_id = {task.id: task for task in tasks}
    for task in tasks:
        if task.parent is not None or "." not in task.id or not task.explicit_id:
            continue
        parent = by_id.get(task.id.rsplit(".", 1)[0])
        if parent is not None and parent.line < task.line:
            task.parent = parent.id
            parent.children.append(task.id)
            parent.end_line = max(parent.end_line, task.end_line)


def _collect_details(doc: Document, index: int, task: Task, tasks: dict[int, Task]) -> None:
    """Fill references and details from the task's own lines (not its sub-tasks')."""
    item = doc.items[index]
    skip: list[tuple[int, int]] = [
        (doc.items[i].line, doc.items[i].end_line)
        for i in doc.items_between(item.line + 1, item.end_line)
        if i in tasks
    ]
    texts: list[tuple[int, str]] = [(item.line, item.content)]
    reference_lines: set[int] = set()
    for number in range(item.line + 1, item.end_line + 1):
        if any(start <= number <= end for start, end in skip):
            continue
        line = doc.line(number)
        if line.kind is LineKind.ITEM:
            texts.append((number, line.content))
        elif line.kind is LineKind.TEXT:
            texts.append((number, line.text.strip()))
    for number, text in texts:
        if number == item.line:
            continue
        requirements = REQUIREMENTS_LINE.match(text)
        if requirements:
            refs = requirements.group("refs")
            if _ALL.match(refs):
                task.cites_all = True
            _extend(task.requirements, parse_id_list(refs))
            task.references_line = task.references_line or number
            reference_lines.add(number)
            continue
        depends = DEPENDS_LINE.match(text)
        if depends:
            refs = depends.group("refs")
            task.states_dependencies = True
            if not re.match(r"^\s*(none|-|—|n/?a)?\s*$", refs, re.IGNORECASE):
                _extend(task.depends_on, parse_id_list(refs))
            reference_lines.add(number)
            continue
        for validates in VALIDATES_LINE.finditer(text):
            _extend(task.validates, parse_id_list(validates.group("refs")))
        for prop in PROPERTY_REF.finditer(text):
            _extend(task.properties, [prop.group(1)])
    previous = item.line
    for number, text in texts:
        if number == item.line or number in reference_lines:
            previous = number
            continue
        if doc.line(number).kind is LineKind.TEXT and task.details and previous == number - 1:
            task.details[-1] += " " + text
        else:
            task.details.append(text)
        previous = number


def _extend(target: list[str], values: list[str]) -> None:
    for value in values:
        if value not in target:
            target.append(value)


def _find_waves(doc: Document, path: str) -> Waves | None:
    """The last fenced JSON block holding ``"waves"``, if any."""
    found: Waves | None = None
    lines = doc.lines
    for line in lines:
        if line.kind is not LineKind.FENCE_OPEN:
            continue
        info = line.info.lower()
        if info and info not in ("json", "jsonc", "json5"):
            continue
        body: list[str] = []
        end = line.number
        for following in lines[line.number :]:
            if following.fence != line.fence or following.kind is LineKind.FENCE_CLOSE:
                end = following.number
                break
            body.append(following.text)
            end = following.number
        source = "\n".join(body)
        if '"waves"' not in source:
            continue
        try:
            data = json.loads(source)
        except json.JSONDecodeError as error:
            raise SpecSyntaxError(
                f"the task dependency graph is not valid JSON: {error.msg}.",
                file=path,
                line=line.number + error.lineno,
                column=error.colno,
                hint='Fix the JSON block (it must look like {"waves": [{"id": 0, "tasks": '
                '["1.1"]}]}) or delete it; specloom rebuilds it from the _Depends on:_ lines.',
            ) from None
        waves = _waves_from_json(data, path, line.number)
        heading = next((h.line for h in reversed(doc.headings) if h.line < line.number), 0)
        found = Waves(waves, line.number, end, heading, data if isinstance(data, dict) else {})
    return found


def _waves_from_json(data: object, path: str, line: int) -> list[list[str]]:
    problem = SpecSyntaxError(
        'the task dependency graph must be {"waves": [{"id": 0, "tasks": ["1.1", ...]}, ...]}.',
        file=path,
        line=line + 1,
        hint="Fix the block or delete it; specloom rebuilds it from the _Depends on:_ lines.",
    )
    if not isinstance(data, dict) or not isinstance(data.get("waves"), list):
        raise problem
    entries: list[tuple[float, list[str]]] = []
    for position, wave in enumerate(data["waves"]):
        if isinstance(wave, dict):
            wave_id = wave.get("id", position)
            members = wave.get("tasks", [])
        elif isinstance(wave, list):
            wave_id, members = position, wave
        else:
            raise problem
        if not isinstance(members, list) or not isinstance(wave_id, int | float):
            raise problem
        entries.append((float(wave_id), [str(member) for member in members]))
    entries.sort(key=lambda entry: entry[0])
    return [members for _, members in entries]


def set_status(text: str, task_id: str, status: Status, path: str = "tasks.md") -> str:
    """Return ``text`` with one task's checkbox set to ``status``.

    Exactly one character changes (none if the task already has that status); line
    endings, spacing and every other byte stay as they were.

    Raises:
        SpecNotFoundError: No task has that id.
    """
    document = parse_tasks(text, path)
    task = document.task(task_id)
    new_char = STATUS_CHARS[status]
    current = document.document
    assert current is not None
    raw = current.line(task.line).raw
    if _CHAR_STATUS[raw[task.status_column]] is status:
        return text
    offset = sum(len(line.raw) for line in current.lines[: task.line - 1])
    position = offset + task.status_column
    return text[:position] + new_char + text[position + 1 :]
