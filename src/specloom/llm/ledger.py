"""The usage ledger: every model request, what it cost and what it served, in sqlite.

One row per request (failed attempts too, since they may have cost tokens): model, provider,
tokens in/out/cached, USD where prices are known, credits, the command, spec, task and run it
served, duration and outcome. The file is ``.kiro/.specloom/usage.sqlite3`` in a project, or
``usage.sqlite3`` in the user data dir outside one. WAL mode and a busy timeout let parallel
workers and other processes write to it at once; one lock serialises the threads of a process.

Days are the user's local calendar days (per-day budgets reset at local midnight); times are
stored in UTC.

May import: the standard library, ``specloom.errors`` and ``specloom.settings``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

from specloom.errors import UsageError
from specloom.settings import state_dir
from specloom.statedb import SqliteStore

__all__ = ["LEDGER_NAME", "SCHEMA_VERSION", "Ledger", "Spent", "UsageRecord", "UsageTotal"]

LEDGER_NAME = "usage.sqlite3"
SCHEMA_VERSION = 1

GroupBy = Literal["day", "spec", "model", "command", "run"]
_GROUP_COLUMNS: dict[str, str] = {
    "day": "day",
    "spec": "COALESCE(spec, '')",
    "model": "model_id",
    "command": "COALESCE(command, '')",
    "run": "run_id",
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS usage (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    day TEXT NOT NULL,
    model_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL,
    cost_usd REAL,
    credits REAL NOT NULL,
    command TEXT,
    spec TEXT,
    task TEXT,
    run_id TEXT NOT NULL,
    duration_s REAL NOT NULL,
    ok INTEGER NOT NULL,
    error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS usage_run ON usage (run_id);
CREATE INDEX IF NOT EXISTS usage_day ON usage (day);
"""

_DAMAGED_HINT = (
    "Move the file aside (specloom starts a new, empty ledger) and keep the old one if you "
    "need its history."
)

_COLUMNS = (
    "time, day, model_id, provider, input_tokens, output_tokens, cached_tokens, cost_usd, "
    "credits, command, spec, task, run_id, duration_s, ok, error"
)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One model request.

    Attributes:
        model_id: The catalog id of the model asked.
        provider: Its provider.
        input_tokens: Input tokens, cached ones included.
        output_tokens: Output tokens.
        cached_tokens: Input tokens read from the provider's cache.
        cost_usd: USD, or ``None`` where the model's prices are unknown.
        credits: Credits (see ``specloom.llm.credits``).
        command: The command the request served.
        spec: The spec, if any.
        task: The task id, if any.
        run_id: The run the request belongs to.
        duration_s: Seconds the request took.
        ok: It answered (``False``: a failed attempt).
        error: What went wrong, for a failed attempt.
        time: When it finished (UTC).
    """

    model_id: str
    provider: str
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float | None = None
    credits: float = 0.0
    command: str | None = None
    spec: str | None = None
    task: str | None = None
    run_id: str = ""
    duration_s: float = 0.0
    ok: bool = True
    error: str = ""
    time: datetime = field(default_factory=_now)

    @property
    def day(self) -> str:
        """The local calendar day of the request, ``YYYY-MM-DD``."""
        return self.time.astimezone().date().isoformat()

    def to_dict(self) -> dict[str, object]:
        """The record as a JSON-ready mapping."""
        return {
            "time": self.time.isoformat(),
            "day": self.day,
            "model_id": self.model_id,
            "provider": self.provider,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
            "cost_usd": self.cost_usd,
            "credits": self.credits,
            "command": self.command,
            "spec": self.spec,
            "task": self.task,
            "run_id": self.run_id,
            "duration_s": self.duration_s,
            "ok": self.ok,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class Spent:
    """What a scope (a run, a day) has spent.

    Attributes:
        usd: USD of the requests whose prices are known.
        credits: Credits.
        requests: Requests, failed attempts included.
        unknown_cost_requests: Requests to models with unknown prices (not in ``usd``).
    """

    usd: float = 0.0
    credits: float = 0.0
    requests: int = 0
    unknown_cost_requests: int = 0


@dataclass(frozen=True, slots=True)
class UsageTotal:
    """One group of ``Ledger.totals``.

    Attributes:
        key: The day, spec, model, command or run of the group (``""``: none).
        requests: Requests, failed attempts included.
        failed: Failed attempts.
        input_tokens: Input tokens.
        output_tokens: Output tokens.
        cached_tokens: Cached input tokens.
        cost_usd: USD of the requests with known prices.
        credits: Credits.
        unknown_cost_requests: Requests to models with unknown prices.
    """

    key: str
    requests: int
    failed: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: float
    credits: float
    unknown_cost_requests: int

    def to_dict(self) -> dict[str, object]:
        """The group as a JSON-ready mapping."""
        return {
            "key": self.key,
            "requests": self.requests,
            "failed": self.failed,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
            "cost_usd": round(self.cost_usd, 6),
            "credits": round(self.credits, 6),
            "unknown_cost_requests": self.unknown_cost_requests,
        }


class Ledger(SqliteStore):
    """The usage ledger in one sqlite file, opened on first use.

    Args:
        path: The sqlite file (created with its folder if missing).

    Raises:
        StateFileError: (on first use) the file is not a ledger, is damaged, or was written
            by a newer specloom.
    """

    schema = _SCHEMA
    schema_version = SCHEMA_VERSION
    damaged_hint = _DAMAGED_HINT
    newer_hint = "Upgrade specloom, or move the file aside to start a new ledger."

    def __init__(self, path: Path) -> None:
        super().__init__(path)

    @classmethod
    def for_project(cls, root: Path | None) -> Ledger:
        """The ledger of a project (``None``: the user's own, outside any project)."""
        return cls(state_dir(root) / LEDGER_NAME)

    @property
    def what(self) -> str:
        """ "The usage ledger", for messages."""
        return "the usage ledger"

    def record(self, record: UsageRecord) -> None:
        """Append one request."""
        values = (
            record.time.astimezone(UTC).isoformat(),
            record.day,
            record.model_id,
            record.provider,
            int(record.input_tokens),
            int(record.output_tokens),
            int(record.cached_tokens),
            record.cost_usd,
            float(record.credits),
            record.command,
            record.spec,
            record.task,
            record.run_id,
            float(record.duration_s),
            1 if record.ok else 0,
            record.error,
        )
        with self._cursor() as connection:
            connection.execute(
                f"INSERT INTO usage ({_COLUMNS}) VALUES ({', '.join('?' * 16)})", values
            )

    def records(
        self, *, run_id: str | None = None, since: date | None = None, limit: int | None = None
    ) -> list[UsageRecord]:
        """Requests, oldest first.

        Args:
            run_id: Only this run's.
            since: Only from this local day on.
            limit: At most this many (the newest ones).
        """
        where, parameters = _filters(run_id=run_id, since=since)
        query = f"SELECT {_COLUMNS} FROM usage{where} ORDER BY id"
        if limit is not None:
            query = f"SELECT * FROM ({query} DESC LIMIT {int(limit)}) ORDER BY time"
        with self._cursor() as connection:
            rows = connection.execute(query, parameters).fetchall()
        return [_record_of(row) for row in rows]

    def spent(self, *, run_id: str | None = None, day: date | None = None) -> Spent:
        """What a run, a local day, or both together (or everything) have spent."""
        where, parameters = _filters(run_id=run_id, day=day)
        query = (
            "SELECT COALESCE(SUM(cost_usd), 0), COALESCE(SUM(credits), 0), COUNT(*), "
            f"COALESCE(SUM(cost_usd IS NULL), 0) FROM usage{where}"
        )
        with self._cursor() as connection:
            usd, credits, requests, unknown = connection.execute(query, parameters).fetchone()
        return Spent(float(usd), float(credits), int(requests), int(unknown))

    def totals(self, by: GroupBy = "day", *, since: date | None = None) -> list[UsageTotal]:
        """Requests, tokens, USD and credits per day, spec, model, command or run.

        Raises:
            UsageError: An unknown grouping.
        """
        column = _GROUP_COLUMNS.get(by)
        if column is None:
            raise UsageError(
                f"cannot group usage by {by!r}.",
                hint=f"Use one of: {', '.join(_GROUP_COLUMNS)}.",
            )
        where, parameters = _filters(since=since)
        query = (
            f"SELECT {column} AS key, COUNT(*), COALESCE(SUM(ok = 0), 0), SUM(input_tokens), "
            "SUM(output_tokens), SUM(cached_tokens), COALESCE(SUM(cost_usd), 0), SUM(credits), "
            f"COALESCE(SUM(cost_usd IS NULL), 0) FROM usage{where} GROUP BY key ORDER BY key"
        )
        with self._cursor() as connection:
            rows = connection.execute(query, parameters).fetchall()
        return [
            UsageTotal(
                str(key),
                int(requests),
                int(failed),
                int(tokens_in),
                int(tokens_out),
                int(cached),
                float(usd),
                float(credits),
                int(unknown),
            )
            for key, requests, failed, tokens_in, tokens_out, cached, usd, credits, unknown in rows
        ]


def _filters(
    *, run_id: str | None = None, day: date | None = None, since: date | None = None
) -> tuple[str, list[object]]:
    clauses: list[str] = []
    parameters: list[object] = []
    if run_id is not None:
        clauses.append("run_id = ?")
        parameters.append(run_id)
    if day is not None:
        clauses.append("day = ?")
        parameters.append(day.isoformat())
    if since is not None:
        clauses.append("day >= ?")
        parameters.append(since.isoformat())
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), parameters


def _record_of(row: tuple[object, ...]) -> UsageRecord:
    (
        time,
        _day,
        model_id,
        provider,
        tokens_in,
        tokens_out,
        cached,
        usd,
        credits,
        command,
        spec,
        task,
        run_id,
        duration,
        ok,
        error,
    ) = row
    return UsageRecord(
        model_id=str(model_id),
        provider=str(provider),
        input_tokens=int(tokens_in),  # type: ignore[arg-type]
        output_tokens=int(tokens_out),  # type: ignore[arg-type]
        cached_tokens=int(cached),  # type: ignore[arg-type]
        cost_usd=None if usd is None else float(usd),  # type: ignore[arg-type]
        credits=float(credits),  # type: ignore[arg-type]
        command=command if isinstance(command, str) else None,
        spec=spec if isinstance(spec, str) else None,
        task=task if isinstance(task, str) else None,
        run_id=str(run_id),
        duration_s=float(duration),  # type: ignore[arg-type]
        ok=bool(ok),
        error=str(error),
        time=datetime.fromisoformat(str(time)),
    )
