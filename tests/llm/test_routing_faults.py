"""Auto routing under provider faults: retries, back-off, fallback, repairs, budgets, ledger rows.

Two catalog entries from the project's settings, ``primary`` (OpenAI protocol) and ``backup``
(Anthropic protocol), each pointing at its own loopback fake; Auto's ``code`` rule lists them
in that order. Waits between retries go through an injected sleep that only records.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from pydantic import BaseModel
from pydantic_ai import Agent
from pydantic_ai.models import Model
from pydantic_ai.models.fallback import FallbackModel
from typer.testing import CliRunner

from specloom.errors import BudgetExceededError, ModelRequestError
from specloom.interfaces.cli import app, handles_errors
from specloom.llm.ledger import Ledger, UsageRecord
from specloom.llm.metering import UsageContext, UsageRecorder
from specloom.llm.routing import RoutedModel, describe_failure, resolve_model
from specloom.llm.session import open_model_session
from specloom.llm.structured import generate
from specloom.settings import PROJECT_SETTINGS, load_settings
from tests.llm.fakes import (
    FakeModelServer,
    Hang,
    InvalidJson,
    Json,
    RateLimited,
    ServerError,
    Text,
    Truncated,
)

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("allow_model_requests")]

PRIMARY_KEY = "sk-primary-secret-42"
BACKUP_KEY = "sk-backup-secret-42"
HANG_TIMEOUT_S = 0.5


@pytest.fixture
def primary() -> Iterator[FakeModelServer]:
    with FakeModelServer(model_name="fake-gpt") as server:
        yield server


@pytest.fixture
def backup() -> Iterator[FakeModelServer]:
    with FakeModelServer(model_name="claude-haiku-4-5") as server:
        yield server


@pytest.fixture
def project(
    tmp_path: Path,
    primary: FakeModelServer,
    backup: FakeModelServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """A project whose Auto rule for code is ``primary`` then ``backup``, both on fakes."""
    monkeypatch.setenv("PRIMARY_KEY", PRIMARY_KEY)
    monkeypatch.setenv("BACKUP_KEY", BACKUP_KEY)
    root = tmp_path / "project"
    (root / ".kiro" / "specs").mkdir(parents=True)
    _write_settings(
        root,
        {
            "models": [
                {"id": "primary", "provider": "openai-compatible", "model_name": "fake-gpt",
                 "base_url": primary.openai_url, "api_key_env": "PRIMARY_KEY",
                 "input_price": 2.0, "output_price": 8.0, "cached_input_price": 0.5,
                 "credit_multiplier": 1.0},
                {"id": "backup", "provider": "anthropic", "model_name": "claude-haiku-4-5",
                 "base_url": backup.url, "api_key_env": "BACKUP_KEY",
                 "input_price": 1.0, "output_price": 5.0, "credit_multiplier": 0.4},
            ],
            "auto": {"rules": {"code": ["primary", "backup"]}, "retries": 2, "backoff_s": 0.5,
                     "timeout_s": HANG_TIMEOUT_S},
        },
    )  # fmt: skip
    return root


def _write_settings(root: Path, data: dict[str, Any]) -> None:
    path = root / PROJECT_SETTINGS
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _set_auto(root: Path, **values: object) -> None:
    path = root / PROJECT_SETTINGS
    data = json.loads(path.read_text(encoding="utf-8"))
    data["auto"].update(values)
    _write_settings(root, data)


class Waits:
    """An injected sleep: records each wait and returns at once."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


def _routed(model: Model) -> dict[str, RoutedModel]:
    """The chain's models by catalog id."""
    assert isinstance(model, FallbackModel)
    members = [member for member in model.models if isinstance(member, RoutedModel)]
    return {member.entry.id: member for member in members}


def _auto(root: Path, waits: Waits) -> tuple[Model, UsageRecorder, Ledger]:
    settings = load_settings(root, user_dir=root.parent / "no-user-settings")
    ledger = Ledger.for_project(root)
    recorder = UsageRecorder(UsageContext(command="run", spec="auth"), ledger)
    model = resolve_model("auto", kind="code", recorder=recorder, settings=settings, sleep=waits)
    return model, recorder, ledger


def _outcomes(ledger: Ledger) -> list[tuple[str, bool]]:
    return [(record.model_id, record.ok) for record in ledger.records()]


async def test_rate_limit_waits_the_advertised_delay_then_succeeds(
    project: Path, primary: FakeModelServer, backup: FakeModelServer
) -> None:
    primary.script(RateLimited(retry_after=7), Text("done after the wait"))
    waits = Waits()
    model, recorder, ledger = _auto(project, waits)

    result = await Agent(model).run("go")

    assert result.output == "done after the wait"
    assert _routed(model)["primary"].delays == [7.0]
    assert waits.seconds == [7.0]
    assert len(primary.requests) == 2 and backup.requests == []
    assert _outcomes(ledger) == [("primary", False), ("primary", True)]
    failed = ledger.records()[0]
    assert "429" in failed.error and failed.credits == 0 and failed.run_id
    assert recorder.answered_by == ["primary"]


async def test_a_streamed_request_is_retried_after_a_rate_limit(
    project: Path, primary: FakeModelServer
) -> None:
    primary.script(RateLimited(retry_after=3), Text("streamed after the wait"))
    waits = Waits()
    model, recorder, ledger = _auto(project, waits)

    async with Agent(model).run_stream("go") as stream:
        output = await stream.get_output()

    assert output == "streamed after the wait"
    assert waits.seconds == [3.0]
    assert _outcomes(ledger) == [("primary", False), ("primary", True)]


async def test_server_errors_are_retried_with_exponential_backoff(
    project: Path, primary: FakeModelServer, backup: FakeModelServer
) -> None:
    primary.script(ServerError(500), ServerError(502), Text("third time lucky"))
    waits = Waits()
    model, recorder, ledger = _auto(project, waits)

    result = await Agent(model).run("go")

    assert result.output == "third time lucky"
    first, second = _routed(model)["primary"].delays
    # backoff_s 0.5, doubled each retry, plus up to 25% jitter.
    assert 0.5 <= first <= 0.625 and 1.0 <= second <= 1.25
    assert waits.seconds == [first, second]
    assert backup.requests == []
    assert _outcomes(ledger) == [("primary", False), ("primary", False), ("primary", True)]
    assert [record.error for record in ledger.records()][:2] == [
        "HTTP 500 (ModelServerError)",
        "HTTP 502 (ModelServerError)",
    ]


async def test_a_hung_model_times_out_is_retried_then_falls_back(
    project: Path, primary: FakeModelServer, backup: FakeModelServer
) -> None:
    _set_auto(project, retries=1)
    primary.script(Hang(30), Hang(30))
    backup.script(Text("the backup answered"))
    waits = Waits()
    model, recorder, ledger = _auto(project, waits)

    result = await Agent(model).run("go", model_settings={"max_tokens": 256})

    assert result.output == "the backup answered"
    assert len(primary.requests) == 2 and len(backup.requests) == 1
    assert len(waits.seconds) == 1
    records = ledger.records()
    assert _outcomes(ledger) == [("primary", False), ("primary", False), ("backup", True)]
    assert all("Timeout" in record.error for record in records[:2])
    assert all(HANG_TIMEOUT_S <= record.duration_s < 5 * HANG_TIMEOUT_S for record in records[:2])
    assert recorder.answered_by == ["backup"]


@pytest.mark.parametrize("connection_closed", [True, False], ids=["dropped", "cut-json"])
async def test_truncated_answers_are_retried_then_fall_back(
    project: Path, primary: FakeModelServer, backup: FakeModelServer, connection_closed: bool
) -> None:
    primary.script(*[Truncated(connection_closed=connection_closed)] * 3)
    backup.script(Text("a whole answer"))
    waits = Waits()
    model, recorder, ledger = _auto(project, waits)

    result = await Agent(model).run("go", model_settings={"max_tokens": 256})

    assert result.output == "a whole answer"
    assert len(primary.requests) == 3, "a cut-off answer is worth another try"
    assert len(waits.seconds) == 2
    assert _outcomes(ledger) == [("primary", False)] * 3 + [("backup", True)]
    assert recorder.answered_by == ["backup"]


async def test_a_stream_cut_before_its_first_event_is_retried(
    project: Path, primary: FakeModelServer
) -> None:
    primary.script(Truncated(events_before=0), Text("the whole stream"))
    model, recorder, ledger = _auto(project, Waits())

    async with Agent(model).run_stream("go") as stream:
        assert await stream.get_output() == "the whole stream"

    assert _outcomes(ledger) == [("primary", False), ("primary", True)]


class Capital(BaseModel):
    """The capital of a country."""

    country: str
    capital: str


async def test_invalid_structured_output_is_repaired_with_the_validation_error(
    project: Path, primary: FakeModelServer, backup: FakeModelServer
) -> None:
    primary.script(
        InvalidJson({"country": "France"}),
        Json({"country": "France", "capital": "Lyon"}),
        Json({"country": "France", "capital": "Paris"}),
    )
    model, recorder, ledger = _auto(project, Waits())

    def check(value: Capital) -> list[str]:
        return [] if value.capital == "Paris" else [f"{value.capital} is not the capital"]

    generated = await generate(
        Capital, "The capital of France?", model=model, check=check, repairs=3
    )

    assert generated.value == Capital(country="France", capital="Paris")
    assert generated.requests == 3 and generated.repairs == 1
    schema_error, content_error, _ = primary.requests
    # The schema's complaint goes back with the second request, the check's with the third.
    assert (
        "capital" in primary.requests[1].text() and "Field required" in primary.requests[1].text()
    )
    assert "Lyon is not the capital" in primary.requests[2].text()
    assert "Field required" not in schema_error.text()
    assert "is not the capital" not in content_error.text()
    assert backup.requests == []
    assert _outcomes(ledger) == [("primary", True)] * 3


async def test_every_attempt_failing_names_each_model_and_failure(
    project: Path, primary: FakeModelServer, backup: FakeModelServer
) -> None:
    primary.script(ServerError(500), ServerError(500), ServerError(503))
    backup.script(*[RateLimited(retry_after=2)] * 3)
    waits = Waits()
    model, recorder, ledger = _auto(project, waits)

    with pytest.raises(Exception) as raised:
        await Agent(model).run("go", model_settings={"max_tokens": 256})
    error = describe_failure(raised.value, recorder)

    assert isinstance(error, ModelRequestError)
    assert str(error) == (
        "the model request failed after 6 attempts on 2 models: primary failed 3 times "
        "(HTTP 500 (ModelServerError), HTTP 503 (ModelUnavailableError)); backup failed 3 "
        "times (HTTP 429 (ModelRateLimitError)). Check the provider's status and your key or "
        "quota, or pick another model with --model; `specloom models check <id>` tests one."
    )
    assert len(error.attempts) == 6 and error.attempts[0] == "primary: HTTP 500 (ModelServerError)"
    assert waits.seconds[2:] == [2.0, 2.0]
    assert _outcomes(ledger) == [("primary", False)] * 3 + [("backup", False)] * 3
    assert recorder.answered_by == []
    assert ledger.spent(run_id=recorder.context.run_id).requests == 6


async def test_failures_of_an_earlier_answered_request_are_not_listed(
    project: Path, primary: FakeModelServer, backup: FakeModelServer
) -> None:
    _set_auto(project, retries=0)
    primary.script(ServerError(500), ServerError(500))
    backup.script(Text("first answer"), ServerError(500))
    model, recorder, _ledger = _auto(project, Waits())
    agent = Agent(model)

    assert (await agent.run("one", model_settings={"max_tokens": 256})).output == "first answer"
    with pytest.raises(Exception) as raised:
        await agent.run("two", model_settings={"max_tokens": 256})
    error = describe_failure(raised.value, recorder)

    assert error is not None and error.message.startswith(
        "the model request failed after 2 attempts on 2 models: primary failed once"
    )


def test_a_request_failing_on_every_model_is_one_paragraph_and_exit_2(
    project: Path, primary: FakeModelServer, backup: FakeModelServer
) -> None:
    """The CLI turns the error into one paragraph on stderr and exit code 2."""
    primary.script(ServerError(500))
    backup.script(ServerError(500))
    _set_auto(project, retries=0)
    cli = typer.Typer()

    @cli.command()
    @handles_errors
    def ask() -> None:
        import anyio

        session = open_model_session(command="ask", root=project)

        async def run() -> None:
            try:
                await Agent(session.model).run("go", model_settings={"max_tokens": 256})
            except Exception as error:
                described = describe_failure(error, session.recorder)
                if described is None:
                    raise
                raise described from error

        anyio.run(run)

    result = CliRunner().invoke(cli, [])

    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(
        "error: the model request failed after 2 attempts on 2 models: primary failed once "
        "(HTTP 500 (ModelServerError)); backup failed once (HTTP 500 (ModelServerError))."
    )
    assert "Traceback" not in result.output


def test_models_check_reports_every_model_that_failed(
    project: Path, primary: FakeModelServer, backup: FakeModelServer
) -> None:
    _set_auto(project, retries=0)
    primary.script(ServerError(500), ServerError(500))
    backup.script(ServerError(500), ServerError(500))

    result = CliRunner().invoke(
        app, ["models", "check", "primary", "--json", "--root", str(project)]
    )

    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["answered_by"] == []
    assert [probe["ok"] for probe in report["probes"]] == [False, False]
    for probe in report["probes"]:
        assert probe["detail"].startswith(
            "the model request failed after 1 attempt on 1 model: primary failed once "
            "(HTTP 500 (ModelServerError))."
        )
    assert backup.requests == [], "a model asked by id has no fallback"
    assert report["spent"]["requests"] == 2


async def test_a_budget_already_spent_stops_before_any_request(
    project: Path, primary: FakeModelServer, backup: FakeModelServer
) -> None:
    with Ledger.for_project(project) as ledger:
        ledger.record(UsageRecord("primary", "openai-compatible", cost_usd=0.5, credits=3.0,
                                  run_id="earlier", time=datetime.now(UTC)))  # fmt: skip

    with pytest.raises(BudgetExceededError) as raised:
        open_model_session(command="run", model="auto", budget="day:$0.25", root=project)

    assert (raised.value.scope, raised.value.unit, raised.value.cap) == ("day", "usd", 0.25)
    assert "day budget is used up" in str(raised.value)
    assert primary.requests == [] and backup.requests == []
    assert Ledger.for_project(project).spent(day=date.today()).requests == 1


async def test_a_run_budget_reached_mid_run_stops_the_next_request(
    project: Path, primary: FakeModelServer, backup: FakeModelServer
) -> None:
    from tests.llm.fakes import ToolCall

    # 10,000 input tokens at $2 per million: $0.02, over a $0.01 cap after the first request.
    primary.script(ToolCall("lookup", {"key": "a"}, input_tokens=10_000), Text("never sent"))
    session = open_model_session(
        command="run", model="auto", budget="$0.01", root=project, sleep=Waits()
    )
    agent = Agent(session.model)

    @agent.tool_plain
    def lookup(key: str) -> str:
        """Look a key up."""
        return key.upper()

    with pytest.raises(BudgetExceededError) as raised:
        await agent.run("go", model_settings={"max_tokens": 256})

    assert (raised.value.scope, raised.value.unit) == ("run", "usd")
    assert raised.value.spent == pytest.approx(0.02 + 5 * 8.0 / 1e6)
    assert len(primary.requests) == 1 and backup.requests == []
    assert primary.remaining == 1
    assert [(r.model_id, r.ok) for r in session.recorder.answers] == [("primary", True)]


async def test_the_key_reaches_the_provider_and_nothing_else(
    project: Path, primary: FakeModelServer, backup: FakeModelServer
) -> None:
    primary.script(ServerError(500), ServerError(500), ServerError(500))
    backup.script(Text("fine"))
    model, recorder, ledger = _auto(project, Waits())

    await Agent(model).run("go", model_settings={"max_tokens": 256})
    ledger.close()

    assert {request.api_key for request in primary.requests} == {PRIMARY_KEY}
    assert [request.api_key for request in backup.requests] == [BACKUP_KEY]
    for path in project.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert PRIMARY_KEY.encode() not in content and BACKUP_KEY.encode() not in content
    assert all(PRIMARY_KEY not in answer.error for answer in recorder.answers)
