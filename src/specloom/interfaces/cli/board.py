"""The task board of ``specloom run``: one row per task, kept up to date as the run goes.

``TaskBoard`` is the run's ``Emit``: it reads ``RunEvent``s. On a terminal it draws a rich
``Live`` table (status, elapsed time, attempts, tokens and cost per task, and totals),
redrawn a few times a second; ``paused()`` takes it off the screen while the user answers
an approval prompt. Elsewhere it prints one plain line per task start, end, skip and merge.

May import: ``specloom.workflows.execution`` and, when drawing on a terminal, ``rich``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO

from specloom.workflows.execution import RunEvent

__all__ = ["BoardRow", "TaskBoard"]

_STYLES = {
    "queued": "dim",
    "running": "bold cyan",
    "merging": "cyan",
    "done": "green",
    "already done": "green dim",
    "failed": "bold red",
    "stuck": "bold red",
    "skipped": "yellow",
    "interrupted": "magenta",
    "not run": "yellow dim",
}
_FINISHED_NAMES = {"already_done": "already done", "not_run": "not run"}


@dataclass(slots=True)
class BoardRow:
    """One task on the board.

    Attributes:
        task_id: The task.
        title: Its title.
        status: ``queued``, ``running``, ``merging``, ``done``, ``already done``, ``failed``,
            ``stuck``, ``skipped``, ``interrupted`` or ``not run``.
        started: ``time.monotonic()`` at its start.
        ended: ``time.monotonic()`` at its end.
        elapsed: Seconds it ran, once it ended.
        attempts: Agent runs so far.
        input_tokens: Input tokens so far.
        output_tokens: Output tokens so far.
        cost_usd: Cost so far, where prices are known.
        detail: The reason it failed or was skipped, or the files it changed.
    """

    task_id: str
    title: str
    status: str = "queued"
    started: float | None = None
    ended: float | None = None
    elapsed: float | None = None
    attempts: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    detail: str = ""
    files: list[str] = field(default_factory=list)

    def seconds(self, now: float) -> float | None:
        """Elapsed seconds: final once ended, running otherwise."""
        if self.elapsed is not None:
            return self.elapsed
        if self.started is None:
            return None
        return (self.ended or now) - self.started


class TaskBoard:
    """Shows a run's progress; call it with each ``RunEvent``.

    Attributes:
        rows: The tasks, in the order the run listed them.
        live: Whether it draws a live table (a terminal) or prints lines.
    """

    def __init__(
        self,
        *,
        live: bool,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.live = live
        self.rows: dict[str, BoardRow] = {}
        self.title = "specloom run"
        self.notes: list[str] = []
        """Notes the run started with (shown under the live table, printed otherwise)."""
        self._stream = stream or sys.stdout
        self._clock = clock
        self._display: Any = None
        self._started = clock()

    # -- receiving events -------------------------------------------------------------------

    def __call__(self, event: RunEvent) -> None:
        handler = getattr(self, f"_on_{event.kind}", None)
        if handler is not None:
            handler(event)

    def _row(self, task_id: str | None) -> BoardRow | None:
        if task_id is None:
            return None
        row = self.rows.get(task_id)
        if row is None:
            row = self.rows[task_id] = BoardRow(task_id, "")
        return row

    def _on_run_started(self, event: RunEvent) -> None:
        data = event.data
        self.title = f"specloom run {data.get('spec', '')}".strip()
        self._started = self._clock()
        for task in data.get("tasks", []):
            status = "already done" if task.get("status") == "done" else "queued"
            self.rows[task["id"]] = BoardRow(task["id"], task.get("title", ""), status)
        self.notes = [str(note) for note in data.get("notes", [])]
        if data.get("reset"):
            self.notes.append("left in progress by a run that stopped, back to not started: "
                              + ", ".join(data["reset"]))  # fmt: skip
        if data.get("recovered"):
            self.notes.append("finished before a run stopped, now marked done: "
                              + ", ".join(data["recovered"]))  # fmt: skip
        if not self.live:
            parallel = data.get("parallel", 1)
            where = "in worktrees" if data.get("worktrees") else "in the project"
            queued = sum(1 for row in self.rows.values() if row.status == "queued")
            self._say(f"{self.title}: {queued} task(s) to run, {parallel} at a time {where}")
            for note in self.notes:
                self._say(f"note: {note}")

    def _on_task_started(self, event: RunEvent) -> None:
        row = self._row(event.task_id)
        if row is None:
            return
        row.status = "running"
        row.started = self._clock()
        row.title = event.data.get("title", row.title)
        if not self.live:
            self._say(f"started {row.task_id} {row.title}")

    def _on_attempt_started(self, event: RunEvent) -> None:
        row = self._row(event.task_id)
        if row is None:
            return
        row.attempts = int(event.data.get("attempt", row.attempts + 1))
        if not self.live and row.attempts > 1:
            total = event.data.get("attempts")
            self._say(f"retry {row.task_id}: attempt {row.attempts}" +
                      (f" of {total}" if total else ""))  # fmt: skip

    def _on_agent_event(self, event: RunEvent) -> None:
        row = self._row(event.task_id)
        if row is None or event.data.get("type") != "step":
            return
        row.input_tokens += int(event.data.get("input_tokens") or 0)
        row.output_tokens += int(event.data.get("output_tokens") or 0)

    def _on_merge(self, event: RunEvent) -> None:
        row = self._row(event.task_id)
        if row is None or self.live or event.data.get("ok"):
            return
        conflicts = ", ".join(event.data.get("conflicts") or []) or "see the patch"
        self._say(f"merge conflict {row.task_id}: {conflicts}")

    def _on_task_finished(self, event: RunEvent) -> None:
        row = self._row(event.task_id)
        if row is None:
            return
        data = event.data
        status = str(data.get("status", "done" if data.get("ok") else "failed"))
        if status == "failed" and data.get("stuck"):
            status = "stuck"
        row.status = _FINISHED_NAMES.get(status, status)
        row.ended = self._clock()
        if isinstance(data.get("elapsed_s"), int | float):
            row.elapsed = float(data["elapsed_s"])
        row.attempts = int(data.get("attempts") or row.attempts)
        row.input_tokens = int(data.get("input_tokens") or row.input_tokens)
        row.output_tokens = int(data.get("output_tokens") or row.output_tokens)
        if data.get("cost_usd") is not None:
            row.cost_usd = float(data["cost_usd"])
        row.files = list(data.get("changed_files") or [])
        row.detail = ", ".join(row.files) if row.status == "done" else str(data.get("reason", ""))
        if not self.live:
            seconds = row.seconds(self._clock()) or 0.0
            self._say(f"{row.status} {row.task_id} ({seconds:.1f} s): {row.detail}".rstrip(": "))

    def _on_task_skipped(self, event: RunEvent) -> None:
        row = self._row(event.task_id)
        if row is None:
            return
        row.status = _FINISHED_NAMES.get(str(event.data.get("status", "skipped")), "skipped")
        row.detail = str(event.data.get("reason", ""))
        if not self.live:
            self._say(f"{row.status} {row.task_id}: {row.detail}")

    def _say(self, text: str) -> None:
        self._stream.write(text + "\n")
        self._stream.flush()

    # -- drawing ----------------------------------------------------------------------------

    def totals(self) -> dict[str, Any]:
        """Tokens, cost and attempts over every task."""
        costs = [row.cost_usd for row in self.rows.values() if row.cost_usd is not None]
        return {
            "input_tokens": sum(row.input_tokens for row in self.rows.values()),
            "output_tokens": sum(row.output_tokens for row in self.rows.values()),
            "cost_usd": sum(costs) if costs else None,
            "attempts": sum(row.attempts for row in self.rows.values()),
        }

    def render(self) -> Any:
        """The board as a rich table."""
        from rich.table import Table
        from rich.text import Text

        now = self._clock()
        caption = "\n".join(f"note: {note}" for note in self.notes) or None
        table = Table(title=self.title, title_justify="left", expand=False, caption=caption,
                      caption_justify="left")  # fmt: skip
        for name, justify in (("task", "left"), ("title", "left"), ("status", "left"),
                              ("time", "right"), ("attempts", "right"), ("tokens", "right"),
                              ("cost", "right"), ("detail", "left")):  # fmt: skip
            table.add_column(name, justify=justify, overflow="fold",  # type: ignore[arg-type]
                             max_width=48 if name in ("title", "detail") else None)  # fmt: skip
        for row in self.rows.values():
            seconds = row.seconds(now)
            table.add_row(
                row.task_id,
                row.title,
                Text(row.status, style=_STYLES.get(row.status, "")),
                "" if seconds is None else f"{seconds:.1f} s",
                str(row.attempts or ""),
                _tokens(row.input_tokens, row.output_tokens),
                _cost(row.cost_usd),
                row.detail,
            )
        totals = self.totals()
        done = sum(1 for row in self.rows.values() if row.status in ("done", "already done"))
        table.add_section()
        table.add_row(
            "total", f"{done}/{len(self.rows)} done", "", f"{now - self._started:.1f} s",
            str(totals["attempts"] or ""), _tokens(totals["input_tokens"], totals["output_tokens"]),
            _cost(totals["cost_usd"]), "",
        )  # fmt: skip
        return table

    def start(self) -> None:
        """Start drawing (a terminal only)."""
        if not self.live or self._display is not None:
            return
        from rich.console import Console
        from rich.live import Live

        self._display = Live(console=Console(file=self._stream), get_renderable=self.render,
                             refresh_per_second=4, transient=False)  # fmt: skip
        self._display.start()

    def stop(self) -> None:
        """Draw the final board and stop."""
        if self._display is not None:
            self._display.refresh()
            self._display.stop()
            self._display = None

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Take the board off the screen for the block (an approval prompt)."""
        drawing = self._display is not None
        self.stop()
        try:
            yield
        finally:
            if drawing:
                self.start()

    def __enter__(self) -> TaskBoard:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _tokens(tokens_in: int, tokens_out: int) -> str:
    if not tokens_in and not tokens_out:
        return ""
    return f"{tokens_in:,} / {tokens_out:,}"


def _cost(cost: float | None) -> str:
    return "" if cost is None else f"${cost:.4f}"
