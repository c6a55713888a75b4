"""Credits, the sqlite usage ledger, budgets from settings and ``--budget``, and the guard."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from specloom.errors import BudgetExceededError, SettingsError, StateFileError, UsageError
from specloom.llm.budget import Budget, BudgetGuard, parse_budget_option
from specloom.llm.credits import credits_for
from specloom.llm.ledger import Ledger, UsageRecord
from specloom.settings import PROJECT_SETTINGS, load_settings

# ---------------------------------------------------------------------------------------------
# Credits: (uncached input + 0.1 * cached + 5 * output) / 10,000, times the multiplier.


@pytest.mark.parametrize(
    ("tokens", "multiplier", "expected"),
    [
        ((10_000, 0, 0), 1.0, 1.0),
        ((0, 2_000, 0), 1.0, 1.0),  # 5 * 2,000 output
        ((1_000, 100, 400), 1.0, 0.114),  # 600 + 40 + 500 = 1,140
        ((1_000, 100, 400), 1.3, 0.1482),
        ((1_000, 100, 400), 0.05, 0.0057),
        ((50_000, 1_000, 50_000), 0.25, 0.25),  # 0 + 5,000 + 5,000 = 10,000
        ((123_456, 7_890, 0), 0.0, 0.0),  # the embedded model costs nothing
        ((100, 0, 500), 1.0, 0.001),  # cached tokens never exceed the input they are part of
        ((-5, -5, -5), 1.0, 0.0),
    ],
)
def test_credits_by_hand(tokens: tuple[int, int, int], multiplier: float, expected: float) -> None:
    input_tokens, output_tokens, cached_tokens = tokens
    assert credits_for(input_tokens, output_tokens, cached_tokens, multiplier) == pytest.approx(
        expected, abs=1e-9
    )


def test_credits_are_rounded_to_six_decimals() -> None:
    assert credits_for(1, 0) == 0.0001
    assert credits_for(1, 0, 1) == 0.00001
    assert credits_for(1, 0, 1, 0.01) == 0.0  # 1e-7 rounds away


# ---------------------------------------------------------------------------------------------
# The ledger.

MARCH_1 = datetime(2025, 3, 1, 12, 0).astimezone()  # noon, local time
MARCH_2 = MARCH_1 + timedelta(days=1)


def _record(
    model: str = "gpt-5",
    *,
    usd: float | None = 0.01,
    credits: float = 0.5,
    run: str = "run-a",
    spec: str | None = "auth",
    when: datetime = MARCH_1,
    ok: bool = True,
    tokens: tuple[int, int, int] = (1_000, 100, 0),
) -> UsageRecord:
    return UsageRecord(
        model_id=model,
        provider="openai",
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        cached_tokens=tokens[2],
        cost_usd=usd,
        credits=credits,
        command="run",
        spec=spec,
        task="1.1" if spec else None,
        run_id=run,
        duration_s=1.5,
        ok=ok,
        error="" if ok else "HTTP 429 (ModelRateLimitError)",
        time=when,
    )


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path / "state" / "usage.sqlite3")


def test_records_come_back_as_written(ledger: Ledger) -> None:
    written = [
        _record(),
        _record("claude-haiku-4-5", usd=None, ok=False, spec=None, when=MARCH_2),
    ]
    for record in written:
        ledger.record(record)

    assert ledger.records() == written
    assert [record.day for record in ledger.records()] == ["2025-03-01", "2025-03-02"]
    assert ledger.path.parent.is_dir(), "the folder is created on first use"


def test_records_filter_by_run_day_and_limit(ledger: Ledger) -> None:
    for index in range(5):
        ledger.record(_record(run=f"run-{index % 2}", when=MARCH_1 + timedelta(hours=index)))
    ledger.record(_record(run="late", when=MARCH_2 + timedelta(days=3)))

    assert len(ledger.records(run_id="run-0")) == 3
    assert [r.run_id for r in ledger.records(since=MARCH_2.date())] == ["late"]
    newest = ledger.records(limit=2)
    assert [r.run_id for r in newest] == ["run-0", "late"]
    assert newest[0].time < newest[1].time


def test_spent_by_run_by_day_and_both(ledger: Ledger) -> None:
    ledger.record(_record(usd=0.25, credits=2.0, run="a", when=MARCH_1))
    ledger.record(_record(usd=None, credits=1.0, run="a", when=MARCH_1))
    ledger.record(_record(usd=0.5, credits=4.0, run="b", when=MARCH_1))
    ledger.record(_record(usd=1.0, credits=8.0, run="a", when=MARCH_2))

    run_a = ledger.spent(run_id="a")
    assert (run_a.usd, run_a.credits, run_a.requests, run_a.unknown_cost_requests) == (
        1.25,
        11.0,
        3,
        1,
    )
    first_day = ledger.spent(day=MARCH_1.date())
    assert (first_day.usd, first_day.credits, first_day.requests) == (0.75, 7.0, 3)
    assert ledger.spent(run_id="a", day=MARCH_2.date()).usd == 1.0
    assert ledger.spent().requests == 4
    assert ledger.spent(run_id="nobody").requests == 0


def test_totals_by_day_spec_and_model(ledger: Ledger) -> None:
    ledger.record(_record("gpt-5", usd=0.25, credits=2.0, tokens=(1_000, 100, 400)))
    ledger.record(_record("gpt-5", usd=None, credits=1.0, ok=False, spec=None, when=MARCH_2))
    ledger.record(_record("local", usd=0.0, credits=0.0, spec="search", tokens=(50, 5, 0)))

    by_model = {total.key: total for total in ledger.totals("model")}
    assert set(by_model) == {"gpt-5", "local"}
    gpt = by_model["gpt-5"]
    assert (gpt.requests, gpt.failed, gpt.unknown_cost_requests) == (2, 1, 1)
    assert (gpt.input_tokens, gpt.output_tokens, gpt.cached_tokens) == (2_000, 200, 400)
    assert (gpt.cost_usd, gpt.credits) == (0.25, 3.0)
    assert [t.key for t in ledger.totals("spec")] == ["", "auth", "search"]
    by_day = ledger.totals("day")
    assert [(t.key, t.requests) for t in by_day] == [("2025-03-01", 2), ("2025-03-02", 1)]
    assert [t.key for t in ledger.totals("day", since=MARCH_2.date())] == ["2025-03-02"]
    assert by_day[0].to_dict()["cost_usd"] == 0.25
    with pytest.raises(UsageError, match="cannot group usage by 'week'"):
        ledger.totals("week")  # type: ignore[arg-type]


def test_concurrent_writes_from_eight_threads_lose_nothing(ledger: Ledger) -> None:
    # Four threads share one Ledger (one connection behind a lock); four open their own
    # (separate connections, serialised by sqlite's WAL locking).
    barrier = threading.Barrier(8)
    failures: list[BaseException] = []

    def write(worker: int) -> None:
        target = ledger if worker < 4 else Ledger(ledger.path)
        try:
            barrier.wait()
            for index in range(40):
                target.record(_record(run=f"worker-{worker}", credits=index))
        except BaseException as error:  # reported by the assertion below
            failures.append(error)
        finally:
            if target is not ledger:
                target.close()

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    assert len(ledger.records()) == 320
    for worker in range(8):
        assert ledger.spent(run_id=f"worker-{worker}").credits == sum(range(40))


def test_a_second_ledger_on_the_same_file_sees_the_rows(ledger: Ledger) -> None:
    ledger.record(_record(run="shared"))
    other = Ledger(ledger.path)
    assert [r.run_id for r in other.records()] == ["shared"]
    other.record(_record(run="from-the-other"))
    assert [r.run_id for r in ledger.records()] == ["shared", "from-the-other"]
    other.close()


def test_a_damaged_file_is_a_state_file_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite3"
    path.write_bytes(b"\x00garbage, not a database\xff" * 200)

    with pytest.raises(StateFileError) as raised:
        Ledger(path).records()

    assert raised.value.file == str(path)
    assert str(path) in str(raised.value) and "Move the file aside" in str(raised.value)


def test_a_ledger_from_a_newer_version_is_refused(ledger: Ledger) -> None:
    ledger.record(_record())
    ledger.close()
    with sqlite3.connect(ledger.path) as connection:
        connection.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    connection.close()

    with pytest.raises(StateFileError, match="newer specloom") as raised:
        Ledger(ledger.path).spent()

    assert raised.value.file == str(ledger.path)


def test_the_project_ledger_lives_in_the_state_folder(tmp_path: Path) -> None:
    with Ledger.for_project(tmp_path) as ledger:
        ledger.record(_record())
    assert (tmp_path / ".kiro" / ".specloom" / "usage.sqlite3").is_file()
    assert (tmp_path / ".kiro" / ".specloom" / ".gitignore").read_text().endswith("*\n")


# ---------------------------------------------------------------------------------------------
# Budgets from the settings.


def _settings_with(tmp_path: Path, text: str):  # noqa: ANN202 - Settings
    path = tmp_path / PROJECT_SETTINGS
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return load_settings(tmp_path, user_dir=tmp_path / "no-user-settings")


def test_budget_from_settings(tmp_path: Path) -> None:
    settings = _settings_with(
        tmp_path, json.dumps({"budget": {"run": {"usd": 2, "credits": 50}, "day": {"usd": 20.5}}})
    )
    budget = Budget.from_settings(settings)
    assert budget == Budget(run_usd=2.0, run_credits=50.0, day_usd=20.5)
    assert budget.describe() == "run $2, run 50 credits, day $20.5"
    assert budget.to_dict() == {"run": {"usd": 2.0, "credits": 50.0}, "day": {"usd": 20.5}}
    assert Budget.from_settings(_settings_with(tmp_path, "{}")).empty


@pytest.mark.parametrize(
    ("budget", "message", "line"),
    [
        ('{"week": {"usd": 5}}', "unknown budget scope 'week'", 4),
        ('{"run": {"eur": 5}}', "unknown budget unit 'eur'", 5),
        ('{"run": {"usd": 0}}', "must be a positive number, not 0", 5),
        ('{"day": {"credits": -3}}', "must be a positive number, not -3", 5),
        ('{"run": {"usd": "five"}}', "must be a positive number, not 'five'", 5),
        ('{"run": {"usd": true}}', "must be a positive number, not True", 5),
        ('{"run": 5}', "`budget.run` must be an object", 4),
    ],
)
def test_invalid_budget_settings_name_the_file_and_line(
    tmp_path: Path, budget: str, message: str, line: int
) -> None:
    text = json.dumps({"model": "auto", "budget": json.loads(budget)}, indent=2)
    settings = _settings_with(tmp_path, text)

    with pytest.raises(SettingsError) as raised:
        Budget.from_settings(settings)

    error = raised.value
    assert message in error.message
    assert error.file == str(tmp_path / PROJECT_SETTINGS)
    assert error.line == line, text
    assert str(error).startswith(f"{tmp_path / PROJECT_SETTINGS}:{line}: ")


# ---------------------------------------------------------------------------------------------
# --budget.


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("$5", Budget(run_usd=5.0)),
        ("100cr", Budget(run_credits=100.0)),
        ("day:$20", Budget(day_usd=20.0)),
        ("run:1.5usd, day:300credits", Budget(run_usd=1.5, day_credits=300.0)),
        ("$ 2.50", Budget(run_usd=2.5)),
        ("3 USD", Budget(run_usd=3.0)),
        ("7$", Budget(run_usd=7.0)),
        ("DAY : 40 Credit", Budget(day_credits=40.0)),
        (" run:$1 ,day:$2 ,day:9cr ,5cr ", Budget(1.0, 5.0, 2.0, 9.0)),
    ],
)
def test_parse_budget_option(option: str, expected: Budget) -> None:
    assert parse_budget_option(option) == expected


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("", "--budget is empty"),
        (" , ", "--budget is empty"),
        ("5", "cannot read the budget cap '5'"),
        ("$-1", "cannot read the budget cap '$-1'"),
        ("week:$5", "cannot read the budget cap 'week:$5'"),
        ("5eur", "cannot read the budget cap '5eur'"),
        ("$1e3", "cannot read the budget cap '$1e3'"),
        ("$5,", "cannot read the budget cap ''"),
        ("$0", "must be above zero"),
        ("0.0cr", "must be above zero"),
        ("$5, 6usd", "gives the run usd cap twice"),
    ],
)
def test_bad_budget_options_are_usage_errors(option: str, message: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_budget_option(option)
    assert message in raised.value.message
    assert raised.value.hint, "every --budget error says what to write instead"


_AMOUNTS = st.integers(min_value=1, max_value=10**7).map(lambda cents: cents / 100)
_CAP = st.none() | _AMOUNTS


@given(
    caps=st.tuples(_CAP, _CAP, _CAP, _CAP).filter(lambda caps: any(c is not None for c in caps)),
    style=st.integers(min_value=0, max_value=3),
    data=st.data(),
)
def test_budget_options_round_trip(
    caps: tuple[float | None, ...], style: int, data: st.DataObject
) -> None:
    budget = Budget(*caps)
    usd = ["${:.2f}", "{:.2f}usd", "{:.2f} USD", "{:.2f}$"][style]
    credits = ["{:.2f}cr", "{:.2f} credits", "{:.2f}Credit", "{:.2f} CR"][style]
    parts: list[str] = []
    for scope in ("run", "day"):
        for unit, pattern in (("usd", usd), ("credits", credits)):
            value = getattr(budget, f"{scope}_{unit}")
            if value is None:
                continue
            prefix = "" if scope == "run" and data.draw(st.booleans()) else f"{scope}:"
            parts.append(prefix + pattern.format(value))
    option = ", ".join(data.draw(st.permutations(parts)))

    assert parse_budget_option(option) == budget


@given(first=st.tuples(_CAP, _CAP, _CAP, _CAP), second=st.tuples(_CAP, _CAP, _CAP, _CAP))
def test_merged_takes_each_set_cap_of_the_second(
    first: tuple[float | None, ...], second: tuple[float | None, ...]
) -> None:
    merged = Budget(*first).merged(Budget(*second))
    expected = tuple(b if b is not None else a for a, b in zip(first, second, strict=True))
    assert merged == Budget(*expected)
    assert Budget(*first).merged(Budget()) == Budget(*first)


# ---------------------------------------------------------------------------------------------
# The guard.


@pytest.fixture
def spent_ledger(ledger: Ledger) -> Ledger:
    """Run ``r1`` spent $0.50 and 10 credits on March 1; run ``r2`` $0.25 and 5 credits."""
    ledger.record(_record(usd=0.30, credits=6.0, run="r1", when=MARCH_1))
    ledger.record(_record(usd=0.20, credits=4.0, run="r1", when=MARCH_1))
    ledger.record(_record(usd=0.25, credits=5.0, run="r2", when=MARCH_1))
    return ledger


@pytest.mark.parametrize(
    ("budget", "scope", "unit"),
    [
        (Budget(run_usd=0.5), "run", "usd"),
        (Budget(run_credits=10.0), "run", "credits"),
        (Budget(day_usd=0.75), "day", "usd"),
        (Budget(day_credits=15.0), "day", "credits"),
        (Budget(run_usd=100.0, day_credits=12.0), "day", "credits"),
    ],
)
def test_the_guard_stops_at_a_cap(
    spent_ledger: Ledger, budget: Budget, scope: str, unit: str
) -> None:
    guard = BudgetGuard(budget, spent_ledger, "r1", today=lambda: MARCH_1.date())

    with pytest.raises(BudgetExceededError) as raised:
        guard.check()

    assert (raised.value.scope, raised.value.unit) == (scope, unit)
    assert raised.value.spent >= raised.value.cap
    assert raised.value.to_dict()["scope"] == scope


@pytest.mark.parametrize(
    "budget",
    [
        Budget(run_usd=0.51),
        Budget(run_credits=10.5),
        Budget(day_usd=0.76),
        Budget(day_credits=15.01),
        Budget(),
    ],
)
def test_the_guard_lets_a_run_below_its_caps_go_on(spent_ledger: Ledger, budget: Budget) -> None:
    BudgetGuard(budget, spent_ledger, "r1", today=lambda: MARCH_1.date()).check()


def test_day_caps_count_only_today(spent_ledger: Ledger) -> None:
    next_day = BudgetGuard(Budget(day_usd=0.1), spent_ledger, "r3", today=lambda: MARCH_2.date())
    next_day.check()
    same_day = BudgetGuard(Budget(day_usd=0.1), spent_ledger, "r3", today=lambda: MARCH_1.date())
    with pytest.raises(BudgetExceededError, match=r"day budget is used up: \$0\.7500 of \$0\.10"):
        same_day.check()


def test_without_caps_the_guard_never_reads_the_ledger(tmp_path: Path) -> None:
    damaged = tmp_path / "usage.sqlite3"
    damaged.write_bytes(b"not a database" * 100)
    BudgetGuard(Budget(), Ledger(damaged), "r1").check()
    with pytest.raises(StateFileError):
        BudgetGuard(Budget(run_usd=1.0), Ledger(damaged), "r1").check()


def test_budget_records_keep_utc_times(ledger: Ledger) -> None:
    ledger.record(_record(when=datetime(2025, 3, 1, 23, 30, tzinfo=UTC)))
    [record] = ledger.records()
    assert record.time == datetime(2025, 3, 1, 23, 30, tzinfo=UTC)
    assert record.day == record.time.astimezone().date().isoformat()
    assert isinstance(date.fromisoformat(record.day), date)
