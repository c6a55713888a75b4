"""The audit log: every action of every run, append-only, secrets redacted, in sqlite.

One row per event: the model requests of a run, each tool call and its result, each approval
decision (who decided: the user, a rule or the mode; which rule), each checkpoint, each part
of context put into a prompt (steering file, memory, spec section) with its size, the
model's final answer (cut to ``ANSWER_CAP``), the start and end of runs, and errors. Each
row carries its run, spec and task, a one-line summary, JSON details and the checkpoint the
action can be undone to.

Append-only twice over: the API has no way to change or remove a row, and SQL triggers make
the file itself refuse ``UPDATE`` and ``DELETE``. Each row also stores a SHA-256 digest
chained to the row before it, so an edit made by someone who dropped the triggers is still
found by ``AuditLog.verify``.

Secrets never reach the file: summaries and details pass through a
``specloom.agent.redact.Redactor`` (key formats, secret assignments, secret environment
values and the project's ``.env`` values) before they are written. Tool results are
redacted, then cut to ``RESULT_CAP`` characters (in that order, so a cut cannot leave half a
secret that no pattern recognises).

The file is ``.kiro/.specloom/audit.sqlite3`` in a project, or ``audit.sqlite3`` in the user
data dir outside one. WAL mode and a busy timeout let parallel workers and other processes
append at once; each append is one ``BEGIN IMMEDIATE`` transaction (the digest chain needs
the row before), and one lock serialises the threads of a process.

May import: the standard library, ``specloom.errors``, ``specloom.settings`` and
``specloom.agent.redact``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import Any

from specloom.agent.redact import Redactor
from specloom.errors import UsageError
from specloom.settings import state_dir
from specloom.statedb import SqliteStore

__all__ = [
    "ANSWER_CAP",
    "AUDIT_NAME",
    "RESULT_CAP",
    "SCHEMA_VERSION",
    "AuditEntry",
    "AuditKind",
    "AuditLog",
    "AuditTrail",
    "parse_kind",
]

AUDIT_NAME = "audit.sqlite3"
SCHEMA_VERSION = 1
RESULT_CAP = 4_000
"""Characters of a tool result kept in the log (after redaction)."""
SUMMARY_CAP = 300
"""Characters of a summary kept in the log; summaries are one line."""
ANSWER_CAP = 20_000
"""Characters of a model's final answer kept in the log."""

_GENESIS = "0" * 64


class AuditKind(StrEnum):
    """What an audit event records."""

    model_request = "model_request"
    tool_call = "tool_call"
    tool_result = "tool_result"
    approval = "approval"
    checkpoint = "checkpoint"
    context = "context"
    run_start = "run_start"
    run_end = "run_end"
    error = "error"
    answer = "answer"


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    run_id TEXT NOT NULL,
    spec TEXT,
    task TEXT,
    kind TEXT NOT NULL,
    summary TEXT NOT NULL,
    data TEXT NOT NULL,
    checkpoint TEXT,
    digest TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_run ON events (run_id);
CREATE INDEX IF NOT EXISTS events_spec ON events (spec);
CREATE INDEX IF NOT EXISTS events_time ON events (time);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: rows cannot be changed');
END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: rows cannot be deleted');
END;
"""

_DAMAGED_HINT = (
    "Move the file aside (specloom starts a new, empty log) and keep the old one: it is the "
    "record of what the agent did."
)

_COLUMNS = "id, time, run_id, spec, task, kind, summary, data, checkpoint, digest"


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    # A fixed width (microseconds always written) keeps the text order the time order.
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One event of the audit log.

    Attributes:
        id: Its position in the log (increasing, never reused).
        time: When it was written (UTC).
        run_id: The run it belongs to (``""``: none).
        spec: The spec, if any.
        task: The task id, if any.
        kind: What it records (an ``AuditKind`` value).
        summary: One line for people.
        data: Details, JSON-ready, secrets redacted.
        checkpoint: The checkpoint the action can be undone to, if any.
        digest: SHA-256 over this row and the digest of the row before.
    """

    id: int
    time: datetime
    run_id: str
    spec: str | None
    task: str | None
    kind: str
    summary: str
    data: dict[str, Any] = field(default_factory=dict)
    checkpoint: str | None = None
    digest: str = ""

    def to_dict(self) -> dict[str, object]:
        """The entry as a JSON-ready mapping."""
        return {
            "id": self.id,
            "time": self.time.isoformat(),
            "run_id": self.run_id,
            "spec": self.spec,
            "task": self.task,
            "kind": self.kind,
            "summary": self.summary,
            "data": self.data,
            "checkpoint": self.checkpoint,
        }


def parse_kind(kind: AuditKind | str) -> AuditKind:
    """An ``AuditKind`` from its name.

    Raises:
        UsageError: Not a kind of audit event.
    """
    try:
        return AuditKind(kind)
    except ValueError:
        raise UsageError(
            f"{kind!r} is not a kind of audit event.",
            hint=f"Use one of: {', '.join(k.value for k in AuditKind)}.",
        ) from None


def _digest(previous: str, fields: tuple[object, ...]) -> str:
    payload = json.dumps([previous, *fields], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def _one_line(text: str, cap: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= cap else line[: cap - 1] + "…"


class AuditLog(SqliteStore):
    """The append-only audit log in one sqlite file, opened on first use.

    Args:
        path: The sqlite file (created with its folder if missing).
        redactor: What removes secrets before a write (default: the secrets of this
            process's environment and, with ``root``, the project's ``.env`` files).
        root: The project root whose ``.env`` files the default redactor reads.
        result_cap: Characters of a tool result kept.

    Raises:
        StateFileError: (on first use) the file is not an audit log, is damaged, or was
            written by a newer specloom.
    """

    schema = _SCHEMA
    schema_version = SCHEMA_VERSION
    damaged_hint = _DAMAGED_HINT
    newer_hint = "Upgrade specloom, or move the file aside to start a new log."

    def __init__(
        self,
        path: Path,
        *,
        redactor: Redactor | None = None,
        root: Path | None = None,
        result_cap: int = RESULT_CAP,
    ) -> None:
        super().__init__(path)
        self.redactor = redactor or Redactor.from_environment(root)
        self.result_cap = result_cap

    @classmethod
    def for_project(cls, root: Path | None, *, redactor: Redactor | None = None) -> AuditLog:
        """The audit log of a project (``None``: the user's own, outside any project)."""
        return cls(state_dir(root) / AUDIT_NAME, redactor=redactor, root=root)

    @property
    def what(self) -> str:
        """ "The audit log", for messages."""
        return "the audit log"

    def append(
        self,
        kind: AuditKind | str,
        summary: str,
        data: Mapping[str, Any] | None = None,
        *,
        run_id: str = "",
        spec: str | None = None,
        task: str | None = None,
        checkpoint: str | None = None,
    ) -> AuditEntry:
        """Write one event, secrets redacted, and return it as written.

        Args:
            kind: What the event records.
            summary: One line for people (white space collapsed, cut to ``SUMMARY_CAP``).
            data: JSON-ready details (values that JSON cannot hold are written as text).
            run_id: The run the event belongs to.
            spec: The spec, if any.
            task: The task id, if any.
            checkpoint: The checkpoint the action can be undone to, if any.

        Raises:
            UsageError: An unknown kind.
            StateFileError: The file cannot be written.
        """
        event_kind = parse_kind(kind)
        clean_summary = _one_line(self.redactor.text(summary), SUMMARY_CAP)
        clean_data: dict[str, Any] = self.redactor.value(dict(data or {}))
        data_text = json.dumps(clean_data, ensure_ascii=False, sort_keys=True, default=str)
        moment = _now()
        fields = (
            _stamp(moment),
            run_id,
            spec,
            task,
            event_kind.value,
            clean_summary,
            data_text,
            checkpoint,
        )
        with self._cursor() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                row = connection.execute(
                    "SELECT digest FROM events ORDER BY id DESC LIMIT 1"
                ).fetchone()
                digest = _digest(row[0] if row else _GENESIS, fields)
                cursor = connection.execute(
                    "INSERT INTO events (time, run_id, spec, task, kind, summary, data, "
                    "checkpoint, digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*fields, digest),
                )
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        return AuditEntry(
            id=int(cursor.lastrowid or 0),
            time=datetime.fromisoformat(fields[0]),
            run_id=run_id,
            spec=spec,
            task=task,
            kind=event_kind.value,
            summary=clean_summary,
            data=json.loads(data_text),
            checkpoint=checkpoint,
            digest=digest,
        )

    def entries(
        self,
        spec: str | None = None,
        kind: AuditKind | str | None = None,
        run_id: str | None = None,
        since: datetime | date | None = None,
        limit: int | None = None,
        *,
        task: str | None = None,
    ) -> list[AuditEntry]:
        """Events, oldest first.

        Args:
            spec: Only this spec's.
            kind: Only this kind.
            run_id: Only this run's.
            since: Only from this moment on (a date: from the start of that local day).
            limit: At most this many (the newest ones).
            task: Only this task's.

        Raises:
            UsageError: An unknown kind, or a limit below 1.
            StateFileError: The file cannot be read.
        """
        clauses: list[str] = []
        parameters: list[object] = []
        for column, value in (("spec", spec), ("run_id", run_id), ("task", task)):
            if value is not None:
                clauses.append(f"{column} = ?")
                parameters.append(value)
        if kind is not None:
            clauses.append("kind = ?")
            parameters.append(parse_kind(kind).value)
        if since is not None:
            if not isinstance(since, datetime):
                since = datetime.combine(since, time.min).astimezone()
            elif since.tzinfo is None:
                since = since.astimezone()
            clauses.append("time >= ?")
            parameters.append(_stamp(since))
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        query = f"SELECT {_COLUMNS} FROM events{where} ORDER BY id"
        if limit is not None:
            if limit < 1:
                raise UsageError(f"the limit must be at least 1, not {limit}.")
            query = f"SELECT * FROM ({query} DESC LIMIT {int(limit)}) ORDER BY id"
        with self._cursor() as connection:
            rows = connection.execute(query, parameters).fetchall()
        return [self._entry_of(row) for row in rows]

    def verify(self) -> int | None:
        """Check the digest chain from the first row to the last.

        Returns:
            The id of the first row that was changed (or follows a removed row), or ``None``
            when the log is intact.
        """
        previous = _GENESIS
        with self._cursor() as connection:
            rows = connection.execute(f"SELECT {_COLUMNS} FROM events ORDER BY id").fetchall()
        for row in rows:
            row_id, *fields, digest = row
            if _digest(previous, tuple(fields)) != digest:
                return int(row_id)
            previous = str(digest)
        return None

    def trail(self, run_id: str, *, spec: str | None = None, task: str | None = None) -> AuditTrail:
        """An ``AuditTrail`` that writes the events of one run to this log."""
        return AuditTrail(self, run_id, spec, task)

    def _entry_of(self, row: tuple[Any, ...]) -> AuditEntry:
        row_id, stamp, run_id, spec, task, kind, summary, data, checkpoint, digest = row
        try:
            details = json.loads(data)
            moment = datetime.fromisoformat(stamp)
        except (TypeError, ValueError) as error:
            raise self._damaged(ValueError(f"row {row_id}: {error}")) from error
        return AuditEntry(
            int(row_id),
            moment,
            str(run_id),
            spec,
            task,
            str(kind),
            str(summary),
            details if isinstance(details, dict) else {"value": details},
            checkpoint,
            str(digest),
        )


@dataclass(frozen=True, slots=True)
class AuditTrail:
    """The audit log as one run (and, scoped, one spec and task) writes to it.

    Attributes:
        log: Where events go.
        run_id: The run.
        spec: The spec the events are for, if any.
        task: The task the events are for, if any.
    """

    log: AuditLog
    run_id: str
    spec: str | None = None
    task: str | None = None

    def scoped(self, *, spec: str | None = None, task: str | None = None) -> AuditTrail:
        """The same run's trail for one spec or task."""
        return replace(
            self,
            spec=spec if spec is not None else self.spec,
            task=task if task is not None else self.task,
        )

    def _append(
        self,
        kind: AuditKind,
        summary: str,
        data: Mapping[str, Any],
        checkpoint: str | None = None,
    ) -> AuditEntry:
        return self.log.append(
            kind,
            summary,
            data,
            run_id=self.run_id,
            spec=self.spec,
            task=self.task,
            checkpoint=checkpoint,
        )

    def run_started(self, command: str, **details: Any) -> AuditEntry:
        """A run began (``command``: what was asked, e.g. ``run auth --all``)."""
        data = {"command": command, **details}
        return self._append(AuditKind.run_start, f"started: {command}", data)

    def run_finished(self, outcome: str, **details: Any) -> AuditEntry:
        """A run ended (``outcome``: ``completed``, ``failed``, ``stopped``...)."""
        data = {"outcome": outcome, **details}
        return self._append(AuditKind.run_end, f"finished: {outcome}", data)

    def model_request(
        self,
        model: str,
        *,
        input_tokens: int,
        output_tokens: int,
        cost_usd: float | None = None,
        credits: float | None = None,
        ok: bool = True,
    ) -> AuditEntry:
        """One model request: which model, tokens, cost (``None``: unknown prices)."""
        cost = "unknown cost" if cost_usd is None else f"${cost_usd:.4f}"
        outcome = "" if ok else ", failed"
        return self._append(
            AuditKind.model_request,
            f"{model}: {input_tokens} in, {output_tokens} out, {cost}{outcome}",
            {
                "model": model,
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "cost_usd": cost_usd,
                "credits": credits,
                "ok": ok,
            },
        )

    def tool_call(
        self,
        tool: str,
        arguments: Mapping[str, Any],
        *,
        call_id: str | None = None,
        checkpoint: str | None = None,
    ) -> AuditEntry:
        """The agent called a tool (arguments redacted, kept whole)."""
        shown = ", ".join(f"{key}={value!r}" for key, value in arguments.items())
        return self._append(
            AuditKind.tool_call,
            f"{tool}({shown})",
            {"tool": tool, "arguments": dict(arguments), "call_id": call_id},
            checkpoint,
        )

    def tool_result(
        self,
        tool: str,
        result: str,
        *,
        ok: bool = True,
        call_id: str | None = None,
        checkpoint: str | None = None,
    ) -> AuditEntry:
        """What a tool returned: redacted, then cut to the log's ``result_cap``."""
        clean = self.log.redactor.text(result)
        cap = self.log.result_cap
        kept = clean if len(clean) <= cap else clean[:cap]
        return self._append(
            AuditKind.tool_result,
            f"{tool} {'ok' if ok else 'failed'}: {clean[:120]}",
            {
                "tool": tool,
                "ok": ok,
                "result": kept,
                "size": len(result),
                "truncated": len(clean) > cap,
                "call_id": call_id,
            },
            checkpoint,
        )

    def approval(
        self,
        action: str,
        decision: str,
        *,
        by: str,
        rule: str | None = None,
        reason: str = "",
    ) -> AuditEntry:
        """An approval decision.

        Args:
            action: What was to be done (a tool call, a command line).
            decision: ``allow`` or ``deny`` (or ``ask`` when it was left to the user).
            by: Who decided: ``user``, ``rule`` or ``mode``.
            rule: The rule that decided, if one did.
            reason: Why, in words.
        """
        who = f"rule {rule}" if rule else by
        return self._append(
            AuditKind.approval,
            f"{decision} by {who}: {action}",
            {"action": action, "decision": decision, "by": by, "rule": rule, "reason": reason},
        )

    def checkpoint(self, checkpoint_id: str, *, label: str = "") -> AuditEntry:
        """A checkpoint was taken (the state later actions can be undone to)."""
        return self._append(
            AuditKind.checkpoint,
            f"checkpoint {checkpoint_id}" + (f": {label}" if label else ""),
            {"checkpoint": checkpoint_id, "label": label},
            checkpoint_id,
        )

    def context(self, part: str, name: str, size: int) -> AuditEntry:
        """A part of context went into a prompt.

        Args:
            part: ``steering``, ``memory``, ``requirements``, ``design``, ``file``...
            name: Which one (a file, a section, a rule id).
            size: Its size in characters.
        """
        return self._append(
            AuditKind.context,
            f"{part} {name} ({size} chars)",
            {"part": part, "name": name, "size": size},
        )

    def answer(self, text: str, *, notes: Sequence[str] = ()) -> AuditEntry:
        """The model's final answer of a run (its first ``ANSWER_CAP`` characters), and in the
        whole-file edit format what became of each file in it (``notes``)."""
        clean = self.log.redactor.text(text)  # redacted, then cut (as tool results are)
        summary = f"{len(text)} chars" + (f"; {'; '.join(notes)}" if notes else "")
        data = {"text": clean[:ANSWER_CAP], "chars": len(text), "notes": list(notes),
                "truncated": len(clean) > ANSWER_CAP}  # fmt: skip
        return self._append(AuditKind.answer, summary, data)

    def error(self, message: str, **details: Any) -> AuditEntry:
        """Something went wrong."""
        return self._append(AuditKind.error, message, {"message": message, **details})
