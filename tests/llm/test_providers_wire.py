"""The real provider SDKs against the loopback fake: what is sent, what comes back, what is billed.

Models come from ``providers.build_model`` for catalog entries whose base URL the project's
settings point at the fake (``providers.<name>.base_url``), with a dummy key in the provider's
environment variable, so the request path is the production one from the catalog entry to
the bytes on the socket.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field
from pydantic_ai import Agent
from pydantic_ai.exceptions import ModelConnectionError
from pydantic_ai.messages import (
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    PartDeltaEvent,
    TextPartDelta,
    ToolCallPartDelta,
)
from pydantic_ai.run import AgentRunResultEvent

from specloom.llm.catalog import Catalog, ModelEntry
from specloom.llm.ledger import Ledger
from specloom.llm.metering import UsageContext, UsageRecorder
from specloom.llm.providers import base_url_for, build_model
from specloom.llm.routing import RoutedModel
from specloom.llm.structured import generate
from specloom.settings import PROJECT_SETTINGS, Settings, load_settings
from tests.llm.fakes import FakeModelServer, Json, Text, ToolCall, Truncated

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("allow_model_requests")]

OPENAI_KEY = "sk-test-openai-0123456789"
ANTHROPIC_KEY = "sk-ant-test-0123456789"
# Claude Haiku rather than Sonnet 4.5: the Anthropic SDK warns that Sonnet 4.5 is deprecated.
PROTOCOLS = {"openai": "gpt-5", "anthropic": "claude-haiku-4-5"}
# Per model: USD and credits of (1,000 input of which 400 cached, 100 output) and of (2,000
# input, 50 output), by hand from the list prices (gpt-5: $1.25 / $10 / $0.125 cached per
# million; Haiku 4.5: $1 / $5 / $0.10) and the credit formula (fresh + 0.1 * cached + 5 * output)
# / 10,000 times the multiplier (0.9 and 0.4).
EXPECTED_BILL = {
    "gpt-5": ((0.0018, 0.1026), (0.003, 0.2025)),
    "claude-haiku-4-5": ((0.00114, 0.0456), (0.00225, 0.09)),
}


@pytest.fixture
def fake() -> Iterator[FakeModelServer]:
    with FakeModelServer(model_name="fake-model") as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, fake: FakeModelServer, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A project whose settings send both providers to the fake; dummy keys in the env."""
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    providers = {"openai": {"base_url": fake.openai_url}, "anthropic": {"base_url": fake.url}}
    path = tmp_path / "project" / PROJECT_SETTINGS
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"providers": providers}, indent=2), encoding="utf-8")
    return load_settings(tmp_path / "project", user_dir=tmp_path / "no-user-settings")


@pytest.fixture(params=sorted(PROTOCOLS))
def entry(request: pytest.FixtureRequest, settings: Settings) -> ModelEntry:
    return Catalog.load(settings).get(PROTOCOLS[request.param])


def _key(entry: ModelEntry) -> str:
    return OPENAI_KEY if entry.provider == "openai" else ANTHROPIC_KEY


async def test_plain_run_sends_the_prompt_and_key_to_the_configured_url(
    entry: ModelEntry, settings: Settings, fake: FakeModelServer
) -> None:
    fake.script(Text("Hello from the fake."))
    agent = Agent(build_model(entry, settings), instructions="Answer in one line.")

    result = await agent.run("Say hello", model_settings={"max_tokens": 256})

    assert result.output == "Hello from the fake."
    assert base_url_for(entry, settings) in (fake.url, fake.openai_url)
    [sent] = fake.requests
    assert sent.protocol == entry.provider
    assert sent.api_key == _key(entry)
    assert not {"authorization", "x-api-key"} & set(sent.headers)
    assert sent.body["model"] == entry.model_name
    assert sent.body.get("max_tokens", sent.body.get("max_completion_tokens")) == 256
    assert not sent.stream
    assert "Say hello" in sent.text() and "Answer in one line." in sent.text()
    # The SDK's own retries are off: Auto counts and records every attempt itself.
    assert sent.headers["x-stainless-retry-count"] == "0"


async def test_streamed_run_delivers_text_in_pieces_with_usage(
    entry: ModelEntry, settings: Settings, fake: FakeModelServer
) -> None:
    text = "Streaming works through the real SDK, piece by piece."
    fake.script(Text(text, input_tokens=120, output_tokens=30, cached_tokens=20))
    agent = Agent(build_model(entry, settings))

    async with agent.run_stream("Stream something") as stream:
        pieces = [p async for p in stream.stream_text(delta=True, debounce_by=None)]
    usage = stream.usage

    assert "".join(pieces) == text and len(pieces) > 3
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens) == (120, 30, 20)
    [sent] = fake.requests
    assert sent.stream
    if entry.provider == "openai":
        assert sent.body["stream_options"] == {"include_usage": True}


async def test_tool_call_round_trip(
    entry: ModelEntry, settings: Settings, fake: FakeModelServer
) -> None:
    fake.script(ToolCall("add", {"a": 17, "b": 25}), Text("17 + 25 = 42"))
    agent = Agent(build_model(entry, settings))
    calls: list[tuple[int, int]] = []

    @agent.tool_plain
    def add(a: int, b: int) -> int:
        """Add two whole numbers."""
        calls.append((a, b))
        return a + b

    result = await agent.run("What is 17 + 25?", model_settings={"max_tokens": 256})

    assert calls == [(17, 25)]
    assert result.output == "17 + 25 = 42"
    offered, answered = fake.requests
    assert offered.tool_names == ["add"]
    if entry.provider == "openai":
        schema = offered.body["tools"][0]["function"]["parameters"]
        [call] = answered.body["messages"][-2]["tool_calls"]
        assert json.loads(call["function"]["arguments"]) == {"a": 17, "b": 25}
        result_message = answered.body["messages"][-1]
        assert result_message["role"] == "tool" and result_message["content"] == "42"
        assert result_message["tool_call_id"] == call["id"]
    else:
        schema = offered.body["tools"][0]["input_schema"]
        [use] = [b for b in answered.body["messages"][-2]["content"] if b["type"] == "tool_use"]
        assert use["input"] == {"a": 17, "b": 25}
        [outcome] = answered.body["messages"][-1]["content"]
        assert outcome["type"] == "tool_result" and outcome["tool_use_id"] == use["id"]
        assert "42" in json.dumps(outcome["content"])
    assert schema["properties"] == {"a": {"type": "integer"}, "b": {"type": "integer"}}


async def test_streamed_tool_call_arrives_as_argument_deltas(
    entry: ModelEntry, settings: Settings, fake: FakeModelServer
) -> None:
    fake.script(ToolCall("add", {"a": 100, "b": 23}), Text("The sum is 123."))
    agent = Agent(build_model(entry, settings))

    @agent.tool_plain
    def add(a: int, b: int) -> int:
        """Add two whole numbers."""
        return a + b

    events: list[Any] = []
    async with agent.run_stream_events("Add 100 and 23") as stream:
        async for event in stream:
            events.append(event)

    argument_deltas = [
        e
        for e in events
        if isinstance(e, PartDeltaEvent) and isinstance(e.delta, ToolCallPartDelta)
    ]
    assert len(argument_deltas) > 1, "the arguments came in several pieces"
    [call] = [e for e in events if isinstance(e, FunctionToolCallEvent)]
    assert call.part.tool_name == "add" and call.part.args_as_dict() == {"a": 100, "b": 23}
    [tool_result] = [e for e in events if isinstance(e, FunctionToolResultEvent)]
    assert tool_result.part.content == 123
    assert any(isinstance(e, PartDeltaEvent) and isinstance(e.delta, TextPartDelta) for e in events)
    assert isinstance(events[-1], AgentRunResultEvent)
    assert events[-1].result.output == "The sum is 123."
    assert all(sent.stream for sent in fake.requests)


class Capital(BaseModel):
    """The capital of a country."""

    country: str = Field(description="The country")
    capital: str = Field(description="Its capital city")


async def test_structured_output_on_openai_sends_the_json_schema(
    settings: Settings, fake: FakeModelServer
) -> None:
    fake.script(Json({"country": "France", "capital": "Paris"}))
    model = build_model(Catalog.load(settings).get("gpt-5"), settings)

    generated = await generate(Capital, "The capital of France?", model=model)

    assert generated.value == Capital(country="France", capital="Paris")
    assert (generated.requests, generated.repairs) == (1, 0)
    [sent] = fake.requests
    assert sent.body["response_format"]["type"] == "json_schema"
    assert sent.json_schema is not None
    assert set(sent.json_schema["properties"]) == {"country", "capital"}
    assert sent.json_schema["required"] == ["country", "capital"]
    assert sent.tool_names == [], "native output needs no output tool"


async def test_structured_output_on_anthropic(settings: Settings, fake: FakeModelServer) -> None:
    fake.script(Json({"country": "Japan", "capital": "Tokyo"}))
    model = build_model(Catalog.load(settings).get("claude-haiku-4-5"), settings)

    generated = await generate(Capital, "The capital of Japan?", model=model)

    assert generated.value == Capital(country="Japan", capital="Tokyo")
    [sent] = fake.requests
    # Native JSON schema output where the model profile has it, a forced output tool otherwise.
    schema = sent.json_schema or next(
        tool["input_schema"] for tool in sent.body["tools"] if tool["name"] == "final_result"
    )
    assert set(schema["properties"]) == {"country", "capital"}


async def test_usage_lands_in_the_ledger_with_cost_and_credits(
    entry: ModelEntry, settings: Settings, fake: FakeModelServer, tmp_path: Path
) -> None:
    fake.script(
        Text("first", input_tokens=1_000, output_tokens=100, cached_tokens=400),
        Text("second, streamed", input_tokens=2_000, output_tokens=50, cached_tokens=0),
    )
    ledger = Ledger(tmp_path / "usage.sqlite3")
    recorder = UsageRecorder(UsageContext(command="new", spec="auth", task="1.2"), ledger)
    agent = Agent(RoutedModel(entry, build_model(entry, settings), recorder))

    await agent.run("one", model_settings={"max_tokens": 256})
    async with agent.run_stream("two") as stream:
        await stream.get_output()

    first, second = ledger.records()
    assert (first.input_tokens, first.output_tokens, first.cached_tokens) == (1_000, 100, 400)
    assert (second.input_tokens, second.output_tokens, second.cached_tokens) == (2_000, 50, 0)
    (first_usd, first_credits), (second_usd, second_credits) = EXPECTED_BILL[entry.id]
    assert (first.cost_usd, first.credits) == pytest.approx((first_usd, first_credits))
    assert (second.cost_usd, second.credits) == pytest.approx((second_usd, second_credits))
    for record in (first, second):
        assert (record.model_id, record.provider) == (entry.id, entry.provider)
        assert (record.command, record.spec, record.task) == ("new", "auth", "1.2")
        assert record.run_id == recorder.context.run_id and record.ok and record.error == ""
    assert recorder.answered_by == [entry.id, entry.id]
    spent = ledger.spent(run_id=recorder.context.run_id)
    assert spent.requests == 2 and spent.unknown_cost_requests == 0
    assert (spent.usd, spent.credits) == pytest.approx(
        (first_usd + second_usd, first_credits + second_credits)
    )
    ledger.close()
    # The key went over the wire, and nowhere else.
    assert {sent.api_key for sent in fake.requests} == {_key(entry)}
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert _key(entry).encode() not in path.read_bytes(), path


async def test_a_stream_cut_off_after_it_started_fails_and_is_recorded(
    entry: ModelEntry, settings: Settings, fake: FakeModelServer, tmp_path: Path
) -> None:
    fake.script(Truncated(events_before=3))
    ledger = Ledger(tmp_path / "usage.sqlite3")
    recorder = UsageRecorder(UsageContext(command="run"), ledger)
    agent = Agent(RoutedModel(entry, build_model(entry, settings), recorder))

    with pytest.raises(ModelConnectionError):
        async with agent.run_stream("go") as stream:
            await stream.get_output()

    # Events already reached the caller, so the request is not repeated, but the attempt counts.
    assert len(fake.requests) == 1
    [record] = ledger.records()
    assert not record.ok and "ModelConnectionError" in record.error
    assert recorder.answered_by == []
