"""What the task scheduler and the task executor agree on.

The scheduler (``specloom.workflows.scheduler``) decides when each task of a spec runs, in
which folder (the project itself, or a git worktree of its own when tasks run in parallel),
writes every status change to ``tasks.md`` and ``.tasks-meta.json``, merges worktrees back,
and survives crashes. The executor (``specloom.workflows.task_runner``) does one task in the
folder it is given: builds the task's prompt, runs the agent, verifies with the project's
tests, retries, and reports a ``TaskOutcome``. It never writes ``tasks.md``.

May import: the standard library only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Emit", "RunEvent", "TaskExecutor", "TaskJob", "TaskOutcome"]


@dataclass(frozen=True, slots=True)
class TaskJob:
    """One task to do.

    Attributes:
        spec: The spec's name (its folder under ``.kiro/specs/``).
        task_id: The task's id (``"2.1"``).
        root: The project root: where ``.kiro/`` and the spec live.
        workdir: Where the task's work happens: ``root``, or the task's own worktree (a
            full checkout of the project as it was when the task started).
        run_id: The run this task belongs to (ledger, audit log and events carry it).
        parallel: Whether other tasks may be running at the same time.
    """

    spec: str
    task_id: str
    root: Path
    workdir: Path
    run_id: str
    parallel: bool = False


@dataclass(slots=True)
class TaskOutcome:
    """How a task ended.

    Attributes:
        task_id: The task's id.
        ok: Whether verification passed (never the model's own word).
        reason: One line: what verified it, or why it failed.
        attempts: Agent runs made (the first one and the retries).
        stuck: Whether it was stopped early because attempts repeated the same failure or
            changed nothing.
        changed_files: Files the task changed, relative to ``workdir``.
        checkpoint: The checkpoint taken before its first change (to undo it), if any.
        verification: The tail of the last verification's output.
        input_tokens: Input tokens over all attempts.
        output_tokens: Output tokens over all attempts.
        cost_usd: Cost over all attempts, where prices are known.
    """

    task_id: str
    ok: bool
    reason: str
    attempts: int = 0
    stuck: bool = False
    changed_files: list[str] = field(default_factory=list)
    checkpoint: str | None = None
    verification: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None


@dataclass(frozen=True, slots=True)
class RunEvent:
    """One thing that happened during a run, for the live board and ``--json``.

    Attributes:
        kind: ``run_started``, ``task_started``, ``attempt_started``, ``agent_event``,
            ``verification``, ``task_finished``, ``merge``, ``task_skipped``,
            ``run_finished`` (the scheduler's and the executor's kinds together).
        task_id: The task it concerns (``None`` for the run's own events).
        data: JSON-ready details.
    """

    kind: str
    task_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The event as one JSON object (``--json`` prints one per line)."""
        return {"event": self.kind, "task": self.task_id, **self.data}


Emit = Callable[[RunEvent], None]
"""Where events go; called from the event loop's thread."""

TaskExecutor = Callable[[TaskJob, Emit], Awaitable[TaskOutcome]]
"""Does one task and reports how it ended; must not raise for a failed task (only for a
cancelled run)."""
