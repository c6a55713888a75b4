"""``specloom usage``: totals from the project's usage ledger, as text and JSON."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from specloom.errors import UsageError
from specloom.interfaces.cli.usage_commands import parse_since
from specloom.llm.ledger import Ledger, UsageRecord
from tests.interfaces.cli_helpers import json_output, specloom


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".kiro" / "specs").mkdir(parents=True)
    now = datetime.now(UTC)
    with Ledger.for_project(tmp_path) as ledger:
        ledger.record(
            UsageRecord(
                "claude-sonnet-4.5",
                "anthropic",
                12_000,
                800,
                2_000,
                0.0468,
                1.58,
                "new",
                "auth",
                None,
                "run1",
                4.0,
                time=now,
            )  # fmt: skip
        )
        ledger.record(
            UsageRecord(
                "gpt-5",
                "openai",
                500,
                0,
                0,
                None,
                0.05,
                "run",
                "auth",
                "1.1",
                "run2",
                1.0,
                ok=False,
                error="HTTP 429",
                time=now,
            )  # fmt: skip
        )
        ledger.record(
            UsageRecord(
                "local",
                "local",
                3_000,
                300,
                0,
                0.0,
                0.0,
                "run",
                "search",
                "2",
                "run2",
                9.0,
                time=now - timedelta(days=10),
            )  # fmt: skip
        )
    return tmp_path


def test_usage_by_model_as_json_sums_each_model_and_the_total(project: Path) -> None:
    data = json_output(specloom("usage", "--by", "model", "--json", cwd=project))

    groups = {group["key"]: group for group in data["groups"]}
    assert set(groups) == {"claude-sonnet-4.5", "gpt-5", "local"}
    assert groups["claude-sonnet-4.5"]["cached_tokens"] == 2_000
    assert groups["gpt-5"]["failed"] == 1
    assert groups["gpt-5"]["unknown_cost_requests"] == 1
    assert data["total"]["requests"] == 3
    assert data["total"]["input_tokens"] == 15_500
    assert data["total"]["cost_usd"] == pytest.approx(0.0468)
    assert data["total"]["credits"] == pytest.approx(1.63)
    assert data["ledger"].endswith("usage.sqlite3")


def test_usage_since_drops_older_days(project: Path) -> None:
    data = json_output(specloom("usage", "--by", "spec", "--since", "7d", "--json", cwd=project))

    assert [group["key"] for group in data["groups"]] == ["auth"]
    assert data["groups"][0]["requests"] == 2
    assert data["since"] == (date.today() - timedelta(days=6)).isoformat()


def test_usage_text_table_marks_requests_without_prices(project: Path) -> None:
    result = specloom("usage", "--by", "spec", cwd=project)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Model usage by spec"
    assert any(line.startswith("auth ") and "$0.0468*" in line for line in lines)
    assert any(line.startswith("search ") for line in lines)
    assert any(line.startswith("total ") and "1.63" in line for line in lines)
    assert "unknown prices" in lines[-1]


def test_usage_with_no_ledger_says_so(tmp_path: Path) -> None:
    (tmp_path / ".kiro").mkdir()

    result = specloom("usage", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("No model requests recorded")


def test_usage_rejects_a_bad_grouping_and_a_bad_since(project: Path) -> None:
    bad_by = specloom("usage", "--by", "colour", cwd=project)
    bad_since = json_output(specloom("usage", "--since", "last week", "--json", cwd=project), 2)

    assert bad_by.returncode == 2
    assert "colour" in bad_by.stderr
    assert bad_since["error"] == "UsageError"
    assert "7d" in bad_since["hint"]


def test_usage_reports_a_damaged_ledger_with_its_path(project: Path) -> None:
    ledger = project / ".kiro" / ".specloom" / "usage.sqlite3"
    for suffix in ("-wal", "-shm"):
        ledger.with_name(ledger.name + suffix).unlink(missing_ok=True)
    ledger.write_bytes(b"this is not a database" * 100)

    result = specloom("usage", cwd=project)

    assert result.returncode == 2
    assert str(ledger) in result.stderr
    assert "Move the file aside" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("today", date(2026, 11, 23)),
        ("yesterday", date(2026, 11, 22)),
        ("1d", date(2026, 11, 23)),
        ("7d", date(2026, 11, 17)),
        ("30 days", date(2026, 10, 25)),
        ("2026-01-02", date(2026, 1, 2)),
        (None, None),
    ],
)
def test_parse_since(text: str | None, expected: date | None) -> None:
    assert parse_since(text, today=date(2026, 11, 23)) == expected


@pytest.mark.parametrize("text", ["0d", "soon", "2026-13-01", ""])
def test_parse_since_rejects_what_it_cannot_read(text: str) -> None:
    with pytest.raises(UsageError):
        parse_since(text, today=date(2026, 11, 23))
