"""The audit log: append and query, filters, append-only enforcement, redaction, concurrency."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from specloom.agent.audit import ANSWER_CAP, RESULT_CAP, AuditKind, AuditLog, parse_kind
from specloom.agent.redact import REDACTED, Redactor
from specloom.errors import StateFileError, UsageError

ANTHROPIC = "sk-ant-api03-" + "Qw9_" * 10


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    return AuditLog(tmp_path / "audit.sqlite3", redactor=Redactor())


def _stored_bytes(folder: Path) -> bytes:
    """Every byte specloom wrote under ``folder`` (the database, its WAL and shared memory)."""
    return b"".join(path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file())


def test_append_returns_the_entry_and_entries_read_it_back(log: AuditLog) -> None:
    written = log.append(
        "tool_call",
        "write_file src/app.py",
        {"tool": "write_file", "arguments": {"path": "src/app.py"}},
        run_id="run1",
        spec="auth",
        task="1.2",
        checkpoint="cp-7",
    )
    log.append(AuditKind.run_end, "finished", run_id="run1")

    entries = log.entries()

    assert [entry.id for entry in entries] == [written.id, written.id + 1]
    first = entries[0]
    assert first == written
    assert (first.kind, first.run_id, first.spec, first.task, first.checkpoint) == (
        "tool_call",
        "run1",
        "auth",
        "1.2",
        "cp-7",
    )
    assert first.data == {"tool": "write_file", "arguments": {"path": "src/app.py"}}
    assert abs(first.time - datetime.now(UTC)) < timedelta(minutes=1)
    assert first.to_dict()["kind"] == "tool_call"
    assert entries[1].data == {}


def test_entries_filter_by_spec_kind_run_task_since_and_limit(log: AuditLog) -> None:
    for index in range(6):
        log.append(
            AuditKind.tool_call if index % 2 else AuditKind.model_request,
            f"event {index}",
            run_id=f"run{index % 3}",
            spec="auth" if index < 4 else "search",
            task=str(index),
        )

    assert [e.summary for e in log.entries(spec="search")] == ["event 4", "event 5"]
    assert [e.summary for e in log.entries(kind="tool_call")] == ["event 1", "event 3", "event 5"]
    assert [e.summary for e in log.entries(run_id="run0")] == ["event 0", "event 3"]
    assert [e.summary for e in log.entries(task="2")] == ["event 2"]
    assert [e.summary for e in log.entries(spec="auth", kind="model_request")] == [
        "event 0",
        "event 2",
    ]
    assert [e.summary for e in log.entries(limit=2)] == ["event 4", "event 5"]
    assert len(log.entries(since=date.today())) == 6
    assert log.entries(since=datetime.now(UTC) + timedelta(hours=1)) == []
    assert len(log.entries(since=datetime.now() - timedelta(hours=1))) == 6


def test_unknown_kinds_and_bad_limits_are_usage_errors(log: AuditLog) -> None:
    with pytest.raises(UsageError, match="not a kind of audit event"):
        log.append("deploy", "nope")
    with pytest.raises(UsageError, match="tool_call"):
        log.entries(kind="tools")
    with pytest.raises(UsageError, match="at least 1"):
        log.entries(limit=0)


def test_rows_cannot_be_updated_or_deleted_even_with_raw_sql(log: AuditLog) -> None:
    log.append("run_start", "started")
    log.close()
    connection = sqlite3.connect(log.path)

    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        connection.execute("UPDATE events SET summary = 'rewritten'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        connection.execute("DELETE FROM events")
    connection.close()

    assert [entry.summary for entry in log.entries()] == ["started"]
    assert not any(hasattr(AuditLog, name) for name in ("update", "delete", "remove", "clear"))


def test_verify_finds_a_row_changed_after_the_triggers_were_dropped(log: AuditLog) -> None:
    for index in range(4):
        log.append("tool_call", f"call {index}")
    assert log.verify() is None
    log.close()
    connection = sqlite3.connect(log.path)
    connection.execute("DROP TRIGGER events_no_update")
    connection.execute("UPDATE events SET summary = 'harmless' WHERE id = 3")
    connection.commit()
    connection.close()

    assert log.verify() == 3


def test_secrets_are_redacted_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_DEPLOY_TOKEN", "deploy-token-value-77")
    project = tmp_path / "project"
    (project / ".kiro").mkdir(parents=True)
    (project / ".env").write_text("STRIPE_SIGNING=whsec_localvalue42\n", encoding="utf-8")
    log = AuditLog.for_project(project)

    trail = log.trail("run1", spec="billing")
    trail.tool_call(
        "run_command",
        {"argv": ["deploy", "--token", "deploy-token-value-77"], "env": {"API_KEY": "k" * 12}},
    )
    trail.tool_result("read_file", f"STRIPE_SIGNING=whsec_localvalue42\nkey={ANTHROPIC}\n")
    trail.error(f"request failed with api key {ANTHROPIC}")
    log.close()

    stored = _stored_bytes(project / ".kiro" / ".specloom")
    for secret in ("deploy-token-value-77", "whsec_localvalue42", ANTHROPIC, "k" * 12):
        assert secret.encode() not in stored
    entries = log.entries()
    assert entries[0].data["arguments"]["argv"] == ["deploy", "--token", REDACTED]
    assert entries[0].data["arguments"]["env"] == {"API_KEY": REDACTED}
    assert REDACTED in entries[1].data["result"]
    assert entries[2].summary == f"request failed with api key {REDACTED}"
    assert log.path == project / ".kiro" / ".specloom" / "audit.sqlite3"
    assert (project / ".kiro" / ".specloom" / ".gitignore").is_file()


def test_tool_results_are_redacted_then_cut_to_the_cap(log: AuditLog) -> None:
    # The key straddles the cap: cutting first would leave a fragment no pattern knows.
    result = "x" * (RESULT_CAP - 11) + " " + ANTHROPIC + " " + "y" * 100

    entry = log.trail("run1").tool_result("run_command", result, ok=False)

    assert entry.data["truncated"] is True
    assert entry.data["size"] == len(result)
    assert entry.data["result"] == "x" * (RESULT_CAP - 11) + " [REDACTED]"
    assert "sk-ant" not in entry.data["result"]
    assert entry.summary.startswith("run_command failed: xxx")


def test_the_answer_is_kept_redacted_then_cut_with_what_became_of_its_files(
    log: AuditLog,
) -> None:
    text = "wordcount.py\n```python\nKEY = '" + ANTHROPIC + "'\n```\n" + "z" * ANSWER_CAP

    entry = (
        log.trail("run1", spec="wc")
        .scoped(task="1")
        .answer(
            text, notes=["Created wordcount.py (1 lines).", "README.md was not written: no change"]
        )
    )

    assert entry.kind == "answer" and entry.task == "1"
    assert entry.data["chars"] == len(text) and entry.data["truncated"] is True
    assert entry.data["text"].startswith("wordcount.py\n```python\nKEY = '[REDACTED]'")
    assert len(entry.data["text"]) == ANSWER_CAP and "sk-ant" not in entry.data["text"]
    assert entry.summary == (
        f"{len(text)} chars; Created wordcount.py (1 lines).; README.md was not written: no change"
    )
    assert log.entries(kind=parse_kind("answer")) == [entry]


def test_trail_helpers_write_each_kind_with_run_spec_and_task(log: AuditLog) -> None:
    trail = log.trail("run9", spec="auth")
    task = trail.scoped(task="2.1")

    trail.run_started("run auth --all", mode="supervised")
    task.context("steering", "tech.md", 1_234)
    task.context("memory", "project rules", 210)
    task.model_request("claude-sonnet-4.5", input_tokens=1_000, output_tokens=200, cost_usd=0.006)
    task.model_request("local", input_tokens=10, output_tokens=0, ok=False)
    task.approval("rm -rf build/", "deny", by="rule", rule="no-recursive-delete")
    task.approval("pytest -q", "allow", by="mode")
    task.checkpoint("cp-42", label="before 2.1")
    task.tool_call("edit_file", {"path": "src/auth.py"}, call_id="c1", checkpoint="cp-42")
    task.tool_result("edit_file", "ok", call_id="c1", checkpoint="cp-42")
    trail.run_finished("completed", tasks=1)

    entries = log.entries(run_id="run9")

    assert [entry.kind for entry in entries] == [
        "run_start", "context", "context", "model_request", "model_request", "approval",
        "approval", "checkpoint", "tool_call", "tool_result", "run_end",
    ]  # fmt: skip
    assert {entry.task for entry in entries[1:-1]} == {"2.1"}
    assert entries[0].task is None and entries[-1].task is None
    assert {entry.spec for entry in entries} == {"auth"}
    assert entries[1].data == {"part": "steering", "name": "tech.md", "size": 1_234}
    assert entries[3].summary == "claude-sonnet-4.5: 1000 in, 200 out, $0.0060"
    assert entries[4].summary.endswith("unknown cost, failed")
    assert entries[5].data == {
        "action": "rm -rf build/",
        "decision": "deny",
        "by": "rule",
        "rule": "no-recursive-delete",
        "reason": "",
    }
    assert entries[5].summary == "deny by rule no-recursive-delete: rm -rf build/"
    assert entries[6].summary == "allow by mode: pytest -q"
    assert [entry.checkpoint for entry in entries[7:10]] == ["cp-42"] * 3
    assert entries[-1].data == {"outcome": "completed", "tasks": 1}


def test_summaries_are_one_line_and_capped(log: AuditLog) -> None:
    entry = log.append("error", "first line\nsecond    line " + "z" * 1_000)

    assert "\n" not in entry.summary
    assert entry.summary.startswith("first line second line z")
    assert len(entry.summary) == 300


def test_a_damaged_file_is_a_state_file_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"
    path.write_bytes(b"not a database at all" * 200)

    with pytest.raises(StateFileError) as caught:
        AuditLog(path, redactor=Redactor()).entries()

    assert caught.value.file == str(path)
    assert "Move the file aside" in str(caught.value)


def test_a_log_from_a_newer_version_is_refused(log: AuditLog) -> None:
    log.append("run_start", "started")
    log.close()
    connection = sqlite3.connect(log.path)
    connection.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    connection.commit()
    connection.close()

    with pytest.raises(StateFileError, match="newer specloom"):
        log.entries()


def test_threads_append_concurrently_without_losing_or_breaking_anything(log: AuditLog) -> None:
    def work(worker: int) -> None:
        trail = log.trail(f"run{worker}")
        for index in range(25):
            trail.tool_call("read_file", {"path": f"{worker}/{index}.py"})

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    entries = log.entries()
    assert len(entries) == 200
    assert len({entry.id for entry in entries}) == 200
    assert all(len(log.entries(run_id=f"run{worker}")) == 25 for worker in range(8))
    assert log.verify() is None


def test_processes_append_concurrently_to_one_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from specloom.agent.audit import AuditLog
        from specloom.agent.redact import Redactor

        log = AuditLog(Path({str(path)!r}), redactor=Redactor())
        for index in range(30):
            log.append("tool_call", f"call {{index}}", run_id=sys.argv[1])
        """
    )
    workers = [
        subprocess.Popen([sys.executable, "-c", script, f"proc{worker}"]) for worker in range(3)
    ]
    assert [worker.wait(timeout=120) for worker in workers] == [0, 0, 0]

    log = AuditLog(path, redactor=Redactor())
    assert len(log.entries()) == 90
    assert {len(log.entries(run_id=f"proc{worker}")) for worker in range(3)} == {30}
    assert log.verify() is None
