"""Opening specloom's own sqlite state files (usage ledger, audit log, memory).

Each store is one sqlite file in WAL mode with a busy timeout, so several specloom processes
(parallel task runs, the web app next to the CLI) can write it at once. Switching a fresh file
to WAL takes a lock that sqlite does not wait for through the busy timeout: two processes
opening a new file together can see "database is locked" at that one statement. ``open_store``
retries it until the timeout runs out. ``SqliteStore`` is what each store builds on: one
connection, opened on first use and shared under a lock, and damage reported as
``StateFileError``.

May import: the standard library and ``specloom.errors``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar, Self

from specloom.errors import StateFileError

__all__ = ["BUSY_TIMEOUT_S", "SqliteStore", "open_store"]

BUSY_TIMEOUT_S = 30.0
"""How long a statement waits for another writer before it gives up."""


def _is_busy(error: sqlite3.Error) -> bool:
    text = str(error).lower()
    return "locked" in text or "busy" in text


def _set_wal(connection: sqlite3.Connection, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    delay = 0.005
    while True:
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if not _is_busy(error) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def open_store(
    path: Path,
    *,
    schema: str,
    version: int,
    what: str,
    damaged_hint: str,
    newer_hint: str,
    timeout_s: float = BUSY_TIMEOUT_S,
) -> sqlite3.Connection:
    """Open (creating it and its folder if missing) one of specloom's sqlite stores.

    The connection is in autocommit mode, may be used from any thread (callers serialise it
    with their own lock), and has the store's tables and a ``meta`` table holding the schema
    version.

    Args:
        path: The sqlite file.
        schema: The ``CREATE TABLE IF NOT EXISTS`` script, ``meta (key, value)`` included.
        version: The schema version this specloom writes and reads up to.
        what: The store as named in messages ("the usage ledger").
        damaged_hint: The fix shown when the file cannot be read.
        newer_hint: The fix shown when a newer specloom wrote the file.
        timeout_s: How long to wait for other writers.

    Raises:
        StateFileError: the file is not an sqlite store, is damaged, stays locked, or was
            written by a newer specloom.
    """

    def damaged(error: Exception) -> StateFileError:
        return StateFileError(f"{what} cannot be read: {error}.", file=path, hint=damaged_hint)

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        connection = sqlite3.connect(
            path, timeout=timeout_s, check_same_thread=False, isolation_level=None
        )
    except sqlite3.Error as error:
        raise damaged(error) from error
    try:
        connection.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
        _set_wal(connection, timeout_s)
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.executescript(schema)
        row = connection.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is None:
            connection.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)", (str(version),)
            )
        elif int(row[0]) > version:
            raise StateFileError(
                f"{what} was written by a newer specloom (schema {row[0]}, this version reads "
                f"up to {version}).",
                file=path,
                hint=newer_hint,
            )
    except StateFileError:
        connection.close()
        raise
    except (sqlite3.Error, ValueError) as error:
        connection.close()
        raise damaged(error) from error
    return connection


class SqliteStore:
    """One of specloom's sqlite stores: a file opened on first use, one connection shared
    under a lock, and sqlite errors reported as ``StateFileError`` naming the file.

    Subclasses set the class attributes and read and write through ``_cursor``.

    Attributes:
        path: The sqlite file (created with its folder on first use).
    """

    schema: ClassVar[str]
    """The ``CREATE TABLE IF NOT EXISTS`` script (a ``meta`` table included)."""
    schema_version: ClassVar[int]
    """The version this specloom writes and reads up to."""
    damaged_hint: ClassVar[str]
    """The fix shown when the file cannot be read."""
    newer_hint: ClassVar[str]
    """The fix shown when a newer specloom wrote the file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    @property
    def what(self) -> str:
        """The store as named in messages ("the usage ledger")."""
        raise NotImplementedError

    def close(self) -> None:
        """Close the connection (the store reopens on next use)."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _damaged(self, error: Exception) -> StateFileError:
        return StateFileError(
            f"{self.what} cannot be read: {error}.", file=self.path, hint=self.damaged_hint
        )

    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            self._connection = open_store(
                self.path,
                schema=self.schema,
                version=self.schema_version,
                what=self.what,
                damaged_hint=self.damaged_hint,
                newer_hint=self.newer_hint,
            )
        return self._connection

    @contextmanager
    def _cursor(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            connection = self._open()
            try:
                yield connection
            except sqlite3.DatabaseError as error:
                raise self._damaged(error) from error
