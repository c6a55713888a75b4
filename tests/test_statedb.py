"""specloom's sqlite stores open safely when several writers start together."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from specloom.errors import StateFileError
from specloom.statedb import open_store

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, value TEXT NOT NULL);
"""


def _open(path: Path, version: int = 1) -> sqlite3.Connection:
    return open_store(
        path,
        schema=SCHEMA,
        version=version,
        what="the test store",
        damaged_hint="Move it aside.",
        newer_hint="Upgrade.",
    )


def test_many_writers_opening_a_new_file_together_all_succeed(tmp_path: Path) -> None:
    # Switching a fresh file to WAL is the one step sqlite's busy timeout does not cover.
    for trial in range(25):
        path = tmp_path / f"store-{trial}" / "state.sqlite3"
        barrier = threading.Barrier(6)
        failures: list[BaseException] = []

        def write(
            worker: int,
            path: Path = path,
            barrier: threading.Barrier = barrier,
            failures: list[BaseException] = failures,
        ) -> None:
            try:
                barrier.wait()
                connection = _open(path)
                connection.execute("INSERT INTO rows (value) VALUES (?)", (str(worker),))
                connection.close()
            except BaseException as error:  # reported by the assertion below
                failures.append(error)

        threads = [threading.Thread(target=write, args=(worker,)) for worker in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert failures == []
        check = sqlite3.connect(path)
        assert check.execute("SELECT count(*) FROM rows").fetchone() == (6,)
        assert check.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        check.close()


def test_a_newer_schema_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    _open(path, version=3).close()
    with pytest.raises(
        StateFileError, match=r"newer specloom \(schema 3, this version reads up to 2\)"
    ) as caught:
        _open(path, version=2)
    assert caught.value.file == str(path)
    assert caught.value.hint == "Upgrade."


def test_a_file_that_is_not_sqlite_is_reported_as_damaged(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    path.write_text("not a database, just text that is long enough to have a header page\n" * 40)
    with pytest.raises(StateFileError, match="the test store cannot be read") as caught:
        _open(path)
    assert caught.value.hint == "Move it aside."
    assert path.read_text().startswith("not a database")
