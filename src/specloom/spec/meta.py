"""``.config.kiro`` and ``.tasks-meta.json``: small JSON files Kiro keeps beside a spec.

Both are read into a mapping that keeps every key, known or not, in its original order, and
written back in Kiro's own formatting (``.config.kiro`` on one line, ``.tasks-meta.json``
indented by two spaces), so Kiro and specloom can share a spec.

May import: ``specloom.errors`` and sibling modules of ``specloom.spec``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

from specloom.errors import SpecSyntaxError
from specloom.spec.tasks import Status

__all__ = [
    "SpecConfig",
    "TasksMeta",
    "parse_config",
    "parse_tasks_meta",
]

# .tasks-meta.json names statuses differently from tasks.md / specloom show.
_META_TO_STATUS = {
    "completed": Status.DONE,
    "done": Status.DONE,
    "in_progress": Status.IN_PROGRESS,
    "queued": Status.QUEUED,
    "not_started": Status.TODO,
    "todo": Status.TODO,
}
_STATUS_TO_META = {
    Status.DONE: "completed",
    Status.IN_PROGRESS: "in_progress",
    Status.QUEUED: "queued",
}


def _load_object(text: str, path: str) -> dict[str, object]:
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as error:
        raise SpecSyntaxError(
            f"not valid JSON: {error.msg}.",
            file=path,
            line=error.lineno,
            column=error.colno,
            hint="Fix the JSON by hand, or delete the file and let specloom write a new one.",
        ) from None
    if not isinstance(data, dict):
        raise SpecSyntaxError(
            "expected a JSON object ({...}).",
            file=path,
            line=1,
            hint="Fix the file, or delete it and let specloom write a new one.",
        )
    return data


@dataclass(slots=True)
class SpecConfig:
    """``.config.kiro``: ``{"specId", "workflowType", "specType", ...}``.

    Attributes:
        data: Every key of the file (unknown ones kept).
        newline: What the file ends with after the JSON.
    """

    data: dict[str, object] = field(default_factory=dict)
    newline: str = ""

    @classmethod
    def new(cls, spec_type: str = "feature", workflow: str = "requirements-first") -> SpecConfig:
        """A config for a new spec with a fresh ``specId``."""
        return cls({"specId": str(uuid.uuid4()), "workflowType": workflow, "specType": spec_type})

    @property
    def spec_type(self) -> str | None:
        """``feature``, ``bugfix``... or ``None`` when unset."""
        value = self.data.get("specType")
        return value if isinstance(value, str) else None

    @property
    def workflow_type(self) -> str | None:
        """``requirements-first``, ``design-first``, ``fast-task``... or ``None``."""
        value = self.data.get("workflowType")
        return value if isinstance(value, str) else None

    def render(self) -> str:
        """The file's text, in Kiro's one-line style."""
        return json.dumps(self.data, ensure_ascii=False) + self.newline


def parse_config(text: str, path: str = ".config.kiro") -> SpecConfig:
    """Read ``.config.kiro``.

    Raises:
        SpecSyntaxError: The file is not a JSON object.
    """
    return SpecConfig(_load_object(text, path), _trailing_newline(text))


@dataclass(slots=True)
class TasksMeta:
    """``.tasks-meta.json``: ``{"statuses": {id: status}, "pbt": {}, "history": [...]}``.

    Attributes:
        data: Every key of the file (unknown ones kept).
        newline: What the file ends with after the JSON (Kiro writes nothing).
    """

    data: dict[str, object] = field(default_factory=dict)
    newline: str = ""

    def statuses(self) -> dict[str, Status]:
        """Task statuses the file records, in specloom's names."""
        raw = self.data.get("statuses")
        if not isinstance(raw, dict):
            return {}
        return {
            str(task_id): _META_TO_STATUS[value]
            for task_id, value in raw.items()
            if isinstance(value, str) and value in _META_TO_STATUS
        }

    def record(self, task_id: str, status: Status, timestamp: str) -> None:
        """Set a task's status and append a Kiro-shaped history entry.

        Args:
            task_id: The task, or ``"*"`` for a run of all tasks.
            status: The new status; ``todo`` removes the task from ``statuses``.
            timestamp: ISO-8601 time without zone, as Kiro writes it.
        """
        statuses = self.data.setdefault("statuses", {})
        if not isinstance(statuses, dict):
            statuses = {}
            self.data["statuses"] = statuses
        if status is Status.TODO:
            statuses.pop(task_id, None)
        else:
            statuses[task_id] = _STATUS_TO_META[status]
        self.data.setdefault("pbt", {})
        history = self.data.setdefault("history", [])
        if not isinstance(history, list):
            history = []
            self.data["history"] = history
        history.append(
            {"ts": timestamp, "taskId": task_id, "status": _STATUS_TO_META.get(status, "todo")}
        )

    def render(self) -> str:
        """The file's text, formatted as Kiro writes it."""
        return json.dumps(self.data, indent=2, ensure_ascii=False) + self.newline


def parse_tasks_meta(text: str, path: str = ".tasks-meta.json") -> TasksMeta:
    """Read ``.tasks-meta.json``.

    Raises:
        SpecSyntaxError: The file is not a JSON object.
    """
    return TasksMeta(_load_object(text, path), _trailing_newline(text))


def _trailing_newline(text: str) -> str:
    return text[len(text.rstrip("\r\n")) :]
