"""A whole spec: its documents parsed together, with the status and phase they imply.

``load_spec`` takes file *texts*, never paths, so everything here stays pure; reading the
folder is ``specloom.workspace``'s job.

May import: ``specloom.errors`` and sibling modules of ``specloom.spec``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from specloom.errors import WorkspaceError
from specloom.spec.bugfix import BugfixDocument, parse_bugfix
from specloom.spec.design import DesignDocument, parse_design
from specloom.spec.ears import classify
from specloom.spec.gcpause import gc_paused
from specloom.spec.graph import TaskGraph
from specloom.spec.meta import SpecConfig, TasksMeta, parse_config, parse_tasks_meta
from specloom.spec.requirements import (
    Criterion,
    Requirement,
    RequirementsDocument,
    parse_requirements,
)
from specloom.spec.tasks import Status, TasksDocument, parse_tasks

__all__ = ["SPEC_FILES", "Spec", "load_spec"]

SPEC_FILES = (
    "requirements.md",
    "bugfix.md",
    "design.md",
    "tasks.md",
    ".config.kiro",
    ".tasks-meta.json",
)


@dataclass(slots=True)
class Spec:
    """The documents of one ``.kiro/specs/<name>/`` folder.

    Attributes:
        name: The folder's name.
        folder: The folder as shown to the user (used to build file paths in messages).
        requirements: ``requirements.md``, for feature specs.
        bugfix: ``bugfix.md``, for bugfix specs.
        design: ``design.md``.
        tasks: ``tasks.md``.
        config: ``.config.kiro``.
        meta: ``.tasks-meta.json``.
    """

    name: str
    folder: str
    requirements: RequirementsDocument | None = None
    bugfix: BugfixDocument | None = None
    design: DesignDocument | None = None
    tasks: TasksDocument | None = None
    config: SpecConfig | None = None
    meta: TasksMeta | None = None
    _graph: TaskGraph | None = field(default=None, repr=False, compare=False)

    @property
    def type(self) -> str:
        """``"bugfix"`` or ``"feature"``."""
        if self.bugfix is not None or (self.config and self.config.spec_type == "bugfix"):
            return "bugfix"
        return "feature"

    def file(self, name: str) -> str:
        """Display path of one of the spec's files."""
        return f"{self.folder}/{name}" if self.folder else name

    def requirement_list(self) -> list[Requirement]:
        """Requirements (for bugfix specs, the three behaviour groups)."""
        if self.requirements is not None:
            return self.requirements.requirements
        if self.bugfix is not None:
            return self.bugfix.requirements
        return []

    def criteria(self) -> list[Criterion]:
        """Every acceptance criterion, in order."""
        return [c for r in self.requirement_list() for c in r.criteria]

    def requirements_path(self) -> str:
        """Display path of the requirements or bugfix file."""
        return self.file("bugfix.md" if self.bugfix is not None else "requirements.md")

    def graph(self) -> TaskGraph | None:
        """The task graph, when the spec has tasks (built once)."""
        if self._graph is None and self.tasks is not None:
            self._graph = TaskGraph(self.tasks)
        return self._graph

    def statuses(self) -> dict[str, Status]:
        """Every task's status: the checkbox, refined by ``.tasks-meta.json`` where the box
        is empty (newer Kiro keeps queued and in-progress there); parents follow their
        children."""
        if self.tasks is None:
            return {}
        recorded = self.meta.statuses() if self.meta is not None else {}
        own: dict[str, Status] = {}
        for task in self.tasks.tasks:
            status = task.status
            if status is Status.TODO and recorded.get(task.id) in (
                Status.QUEUED,
                Status.IN_PROGRESS,
            ):
                status = recorded[task.id]
            own[task.id] = status
        graph = self.graph()
        assert graph is not None
        return {task.id: graph.status_of(task.id, own) for task in self.tasks.tasks}

    def progress(self) -> tuple[int, int]:
        """``(done, total)`` over the leaf tasks that are not optional."""
        if self.tasks is None:
            return 0, 0
        statuses = self.statuses()
        required = [t for t in self.tasks.tasks if t.is_leaf and not t.optional]
        done = sum(1 for t in required if statuses[t.id] is Status.DONE)
        return done, len(required)

    def phase(self) -> str:
        """Where the spec is: ``requirements``, ``design``, ``tasks``, ``implementation``
        or ``done``."""
        if self.tasks is not None and self.tasks.tasks:
            done, total = self.progress()
            if total and done == total:
                return "done"
            return (
                "implementation"
                if done or any(s is not Status.TODO for s in self.statuses().values())
                else "tasks"
            )
        if self.design is not None:
            return "design"
        return "requirements"

    def to_dict(self) -> dict[str, object]:
        """The shape ``specloom show --json`` prints."""
        statuses = self.statuses()
        tasks = self.tasks.tasks if self.tasks is not None else []
        done, total = self.progress()
        return {
            "name": self.name,
            "type": self.type,
            "phase": self.phase(),
            "progress": {"done": done, "total": total},
            "requirements": [
                {
                    "id": requirement.id,
                    "title": requirement.title,
                    "user_story": requirement.user_story,
                    "line": requirement.line,
                    "criteria": [
                        {
                            "id": criterion.id,
                            "text": criterion.text,
                            "pattern": classify(criterion.text).pattern.value,
                            "line": criterion.line,
                        }
                        for criterion in requirement.criteria
                    ],
                }
                for requirement in self.requirement_list()
            ],
            "tasks": [
                {
                    "id": task.id,
                    "title": task.title,
                    "status": statuses[task.id].value,
                    "optional": task.optional,
                    "requirements": task.cited(),
                    "depends_on": list(task.depends_on),
                    "properties": list(task.properties),
                    "parent": task.parent,
                    "line": task.line,
                }
                for task in tasks
            ],
            "properties": [
                {
                    "id": prop.id,
                    "title": prop.title,
                    "validates": list(prop.validates),
                    "line": prop.line,
                }
                for prop in (self.design.properties if self.design is not None else [])
            ],
        }


@gc_paused()
def load_spec(name: str, files: Mapping[str, str], folder: str = "") -> Spec:
    """Parse the files of one spec.

    Args:
        name: The spec's name (its folder's name).
        files: File name (``requirements.md``...) to text; missing files are simply absent.
        folder: The folder as shown in messages (``.kiro/specs/<name>``).

    Raises:
        WorkspaceError: None of the spec files is there.
        SpecSyntaxError: A file cannot be parsed.
    """
    if not any(key in files for key in SPEC_FILES[:4]):
        raise WorkspaceError(
            "this folder is not a spec: it has no requirements.md, bugfix.md, design.md or "
            "tasks.md.",
            file=folder or name,
            hint="Create one with `specloom new`, or name a folder under .kiro/specs/.",
        )
    spec = Spec(name=name, folder=folder)

    def path(file_name: str) -> str:
        return spec.file(file_name)

    if "requirements.md" in files:
        spec.requirements = parse_requirements(files["requirements.md"], path("requirements.md"))
    if "bugfix.md" in files:
        spec.bugfix = parse_bugfix(files["bugfix.md"], path("bugfix.md"))
    if "design.md" in files:
        spec.design = parse_design(files["design.md"], path("design.md"))
    if "tasks.md" in files:
        spec.tasks = parse_tasks(files["tasks.md"], path("tasks.md"))
    if ".config.kiro" in files:
        spec.config = parse_config(files[".config.kiro"], path(".config.kiro"))
    if ".tasks-meta.json" in files:
        spec.meta = parse_tasks_meta(files[".tasks-meta.json"], path(".tasks-meta.json"))
    return spec
