"""The embedded model's OpenAI surface, in process and on loopback, and the real model behind it.

Fast tests drive ``protocol``, ``transport`` and ``server`` with a scripted engine (no
weights): routing, OpenAI-shaped errors, server-sent events, the in-process transport under
the real OpenAI SDK and pydantic-ai, and the server's loopback rule and shutdown.

Slow tests (``-m slow``) use the real Qwen2.5-Coder weights through specloom's own path
(catalog entry -> ``providers.build_model`` -> ``local_model``): a structured answer, a tool
that runs and whose result reaches the answer, requests from several threads at once, and
``specloom models serve-local`` as a real process answering the OpenAI SDK and stopping on
SIGTERM. They skip, saying how to install the weights, when these are not installed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import openai
import pytest
from pydantic import BaseModel, Field
from pydantic_ai import Agent

from specloom.errors import ModelUnavailableError, UsageError
from specloom.llm.catalog import Catalog
from specloom.llm.local.engine import get_engine
from specloom.llm.local.protocol import CHAT_PATH, MODELS_PATH, respond
from specloom.llm.local.server import LocalServer, is_loopback, serve
from specloom.llm.local.transport import IN_PROCESS_URL, LocalTransport, chat_model, local_model
from specloom.llm.local.weights import MODEL_PATH_ENV
from specloom.llm.providers import build_model
from specloom.llm.structured import generate
from tests.llm.conftest import ScriptedEngine

HELLO = {"messages": [{"role": "user", "content": "hello there"}]}


def _body(payload: object) -> bytes:
    return json.dumps(payload).encode()


# --- protocol: one function from a request to a reply -------------------------------------


def test_a_chat_request_is_answered_with_a_completion(scripted_engine: ScriptedEngine) -> None:
    reply = respond(scripted_engine, "POST", CHAT_PATH, _body(HELLO))
    assert reply.status == 200
    assert reply.content_type == "application/json"
    message = reply.json()["choices"][0]["message"]
    assert message == {"role": "assistant", "content": "echo: hello there"}


def test_models_lists_the_one_model_served(scripted_engine: ScriptedEngine) -> None:
    reply = respond(scripted_engine, "GET", MODELS_PATH, b"")
    assert reply.status == 200
    assert [model["id"] for model in reply.json()["data"]] == ["scripted-model"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"", "must be a JSON object"),
        (b"[1, 2]", "must be a JSON object"),
        (_body({"messages": []}), "`messages` must be a non-empty list"),
        (_body({**HELLO, "n": 3}), "`n` must be 1"),
        (_body({**HELLO, "max_tokens": "ten"}), "`max_tokens` must be an integer"),
    ],
)
def test_a_bad_request_gets_a_400_with_an_openai_error(
    scripted_engine: ScriptedEngine, body: bytes, fragment: str
) -> None:
    reply = respond(scripted_engine, "POST", CHAT_PATH, body)
    assert reply.status == 400
    error = reply.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert fragment in error["message"]
    assert set(error) == {"message", "type", "param", "code"}


def test_unknown_routes_and_wrong_methods_are_refused(scripted_engine: ScriptedEngine) -> None:
    missing = respond(scripted_engine, "POST", "/v1/completions", _body(HELLO))
    assert missing.status == 404
    assert missing.json()["error"]["type"] == "not_found_error"
    assert CHAT_PATH in missing.json()["error"]["message"]
    wrong = respond(scripted_engine, "GET", CHAT_PATH, b"")
    assert wrong.status == 405
    assert ("Allow", "POST") in wrong.headers
    assert scripted_engine.requests == []


def test_weights_that_cannot_load_are_a_503(scripted_engine: ScriptedEngine) -> None:
    scripted_engine.unavailable = True
    reply = respond(scripted_engine, "POST", CHAT_PATH, _body(HELLO))
    assert reply.status == 503
    assert reply.json()["error"]["code"] == "model_unavailable"
    assert "cannot be loaded" in reply.json()["error"]["message"]


def _frames(events: Iterator[bytes]) -> list[str]:
    joined = b"".join(events).decode()
    assert joined.endswith("\n\n")
    return [frame.removeprefix("data: ") for frame in joined.split("\n\n") if frame]


def test_a_stream_is_server_sent_events_ending_with_usage_then_done(
    scripted_engine: ScriptedEngine,
) -> None:
    payload = {**HELLO, "stream": True, "stream_options": {"include_usage": True}}
    reply = respond(scripted_engine, "POST", CHAT_PATH, _body(payload))
    assert reply.status == 200
    assert reply.content_type == "text/event-stream"
    assert reply.events is not None
    frames = _frames(reply.events)
    assert frames[-1] == "[DONE]"
    chunks = [json.loads(frame) for frame in frames[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "echo: hello there"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 3


def test_an_error_mid_stream_is_the_last_event(scripted_engine: ScriptedEngine) -> None:
    scripted_engine.fail_after = UsageError("the context is full", hint="Send less.")
    reply = respond(scripted_engine, "POST", CHAT_PATH, _body({**HELLO, "stream": True}))
    assert reply.events is not None
    frames = _frames(reply.events)
    assert "[DONE]" not in frames
    assert json.loads(frames[-1])["error"]["message"] == "the context is full Send less."


def test_closing_a_stream_early_closes_the_engine_stream(scripted_engine: ScriptedEngine) -> None:
    reply = respond(scripted_engine, "POST", CHAT_PATH, _body({**HELLO, "stream": True}))
    assert reply.events is not None
    next(reply.events)
    reply.close()
    assert scripted_engine.closed_streams == 1


# --- transport: the real OpenAI SDK and pydantic-ai, in process ----------------------------


def test_the_openai_sdk_talks_to_the_engine_through_the_in_process_transport(
    scripted_engine: ScriptedEngine,
) -> None:
    http_client = httpx2.Client(transport=LocalTransport(scripted_engine))
    client = openai.OpenAI(
        api_key="none", base_url=IN_PROCESS_URL, max_retries=0, http_client=http_client
    )
    completion = client.chat.completions.create(
        model="scripted-model", messages=[{"role": "user", "content": "one two"}]
    )
    assert completion.choices[0].message.content == "echo: one two"
    stream = client.chat.completions.create(
        model="scripted-model",
        messages=[{"role": "user", "content": "three four"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
        "echo: three four"
    )
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3
    with pytest.raises(openai.BadRequestError, match="`n` must be 1"):
        client.chat.completions.create(
            model="scripted-model", messages=[{"role": "user", "content": "x"}], n=2
        )


@pytest.mark.usefixtures("allow_model_requests")
def test_pydantic_ai_streams_through_the_transport_and_counts_usage(
    scripted_engine: ScriptedEngine,
) -> None:
    scripted_engine.answer = "streamed in four words"
    model = chat_model(LocalTransport(scripted_engine), IN_PROCESS_URL, "scripted-model")
    agent = Agent(model)

    async def run() -> tuple[list[str], int, int]:
        async with agent.run_stream("say something") as result:
            pieces = [piece async for piece in result.stream_text(delta=True, debounce_by=None)]
            usage = result.usage
        return pieces, usage.input_tokens, usage.output_tokens

    pieces, input_tokens, output_tokens = anyio.run(run)
    assert "".join(pieces) == "streamed in four words"
    assert len(pieces) > 1
    assert (input_tokens, output_tokens) == (2, 4)
    assert scripted_engine.requests[-1]["stream_options"] == {"include_usage": True}


def test_the_local_model_profile_asks_for_native_json_schema_output(
    scripted_engine: ScriptedEngine,
) -> None:
    model = chat_model(LocalTransport(scripted_engine), IN_PROCESS_URL, "scripted-model")
    assert model.profile.get("supports_json_schema_output") is True
    assert model.profile.get("supports_image_input") is False


def test_missing_weights_stop_the_local_model_with_the_pull_command() -> None:
    with pytest.raises(ModelUnavailableError, match="specloom models pull local"):
        local_model("1.5b")
    with pytest.raises(UsageError, match="unknown embedded model variant"):
        local_model("7b")


# --- server: loopback only, errors as JSON, clean stop -------------------------------------


@pytest.fixture
def served(scripted_engine: ScriptedEngine) -> Iterator[str]:
    """``serve`` on a free port in a thread; yields its URL; stops it afterwards."""
    stop = threading.Event()
    ready: list[str] = []
    up = threading.Event()

    def on_ready(url: str) -> None:
        ready.append(url)
        up.set()

    thread = threading.Thread(
        target=serve, args=(scripted_engine, "127.0.0.1", 0, on_ready), kwargs={"stop": stop}
    )
    thread.start()
    try:
        assert up.wait(10), "the server did not start"
        yield ready[0]
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def test_the_server_answers_bad_requests_with_openai_errors(served: str) -> None:
    with httpx2.Client(base_url=served) as client:
        bad = client.post("/chat/completions", content=b"{oops")
        assert bad.status_code == 400
        assert bad.headers["content-type"] == "application/json"
        assert bad.json()["error"]["type"] == "invalid_request_error"
        missing = client.get("/nowhere")
        assert missing.status_code == 404
        assert missing.json()["error"]["type"] == "not_found_error"
        models = client.get("/models")
        assert models.json()["data"][0]["id"] == "scripted-model"


def test_the_server_streams_to_the_openai_sdk_over_one_connection(served: str) -> None:
    with openai.OpenAI(api_key="none", base_url=served, max_retries=0) as client:
        for words in ("one", "two three"):
            stream = client.chat.completions.create(
                model="scripted-model", messages=[{"role": "user", "content": words}], stream=True
            )
            text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
            assert text == f"echo: {words}"
        answer = client.chat.completions.create(
            model="scripted-model", messages=[{"role": "user", "content": "last"}]
        )
    assert answer.choices[0].message.content == "echo: last"


def test_the_server_refuses_addresses_other_than_loopback(
    scripted_engine: ScriptedEngine,
) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("192.0.2.10")
    with pytest.raises(UsageError, match="not a loopback address"):
        LocalServer(scripted_engine, "0.0.0.0", 0)


def test_a_taken_port_is_a_clear_error(scripted_engine: ScriptedEngine) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UsageError, match=f"cannot listen on 127.0.0.1:{port}"):
            LocalServer(scripted_engine, "127.0.0.1", port)


# --- the real model (slow) -----------------------------------------------------------------


class CityFacts(BaseModel):
    """Facts about a country's capital."""

    country: str = Field(description="The country's name.")
    capital: str = Field(description="Its capital city.")


@pytest.mark.slow
@pytest.mark.usefixtures("real_weights", "allow_model_requests")
def test_structured_generation_with_the_real_model_through_specloom() -> None:
    model = build_model(Catalog.load().get("local"))
    generated = anyio.run(
        lambda: generate(
            CityFacts,
            "What is the capital of France?",
            model=model,
            check=lambda v: [] if "paris" in v.capital.lower() else ["the capital is wrong"],
            max_tokens=60,
            repairs=1,
        )
    )
    assert isinstance(generated.value, CityFacts)
    assert "france" in generated.value.country.lower()
    assert "paris" in generated.value.capital.lower()
    assert generated.input_tokens > 0 and 0 < generated.output_tokens <= 2 * 60


@pytest.mark.slow
@pytest.mark.usefixtures("real_weights", "allow_model_requests")
def test_a_tool_runs_and_its_result_reaches_the_answer() -> None:
    agent = Agent(
        build_model(Catalog.load().get("local")),
        instructions="You are a calculator. Always use the `add` tool to add numbers.",
    )
    calls: list[tuple[int, int]] = []

    @agent.tool_plain
    def add(a: int, b: int) -> int:
        """Add two whole numbers.

        Args:
            a: The first number.
            b: The second number.
        """
        calls.append((a, b))
        return a + b + 1000  # a result the model cannot know without the tool

    result = anyio.run(
        lambda: agent.run(
            "Use the add tool to compute 17 + 25, then tell me the result.",
            model_settings={"max_tokens": 80, "temperature": 0.0},
        )
    )
    assert calls and set(calls[0]) == {17, 25}
    assert "1042" in result.output.replace(",", "")


@pytest.mark.slow
def test_concurrent_requests_on_one_engine_all_complete_correctly(model_file: Path) -> None:
    engine = get_engine(model_file)
    words = ["apple", "river", "violet", "copper"]
    answers: dict[str, str] = {}
    failures: list[BaseException] = []

    def ask(word: str, stream: bool) -> None:
        payload = {
            "messages": [{"role": "user", "content": f"Reply with exactly this word: {word}"}],
            "max_tokens": 8,
            "temperature": 0.0,
        }
        try:
            if stream:
                chunks = engine.chat_stream(payload | {"stream": True})
                answers[word] = "".join(
                    c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]
                )
            else:
                answers[word] = engine.chat(payload)["choices"][0]["message"]["content"]
        except BaseException as error:  # reported below: a thread cannot fail the test itself
            failures.append(error)

    threads = [
        threading.Thread(target=ask, args=(word, index % 2 == 1))
        for index, word in enumerate(words)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures
    assert set(answers) == set(words)
    for word, answer in answers.items():
        assert word in answer.lower()
        assert not any(other in answer.lower() for other in words if other != word)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
@pytest.mark.usefixtures("allow_model_requests")
def test_serve_local_answers_the_openai_sdk_and_stops_on_sigterm(small_model_file: Path) -> None:
    port = _free_port()
    environment = {**os.environ, MODEL_PATH_ENV: str(small_model_file)}
    process = subprocess.Popen(
        [sys.executable, "-m", "specloom", "models", "serve-local", "local-0.5b"]
        + ["--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=environment,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # the model is loaded before this line is written
        url = f"http://127.0.0.1:{port}/v1"
        assert line.strip() == f"serving local-0.5b at {url}"
        with openai.OpenAI(api_key="none", base_url=url, max_retries=0, timeout=120) as client:
            answer = client.chat.completions.create(
                model="local-0.5b",
                messages=[{"role": "user", "content": "What is 2 + 3? Answer with the number."}],
                max_tokens=8,
                temperature=0.0,
            )
        assert "5" in (answer.choices[0].message.content or "")
        assert answer.usage is not None and 0 < answer.usage.completion_tokens <= 8
        bad = httpx2.post(f"{url}/chat/completions", content=b"not json", timeout=10)
        assert bad.status_code == 400 and "error" in bad.json()
        # The same server through specloom's model, as SPECLOOM_LOCAL_URL would select it.
        model = local_model("0.5b", base_url=url)

        async def say_hello() -> tuple[str, int]:
            async with model.client:
                result = await Agent(model).run("Say hello.", model_settings={"max_tokens": 8})
            return result.output, result.usage.output_tokens

        output, output_tokens = anyio.run(say_hello)
        assert output.strip() and output_tokens > 0
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _out, errors = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0, errors
    assert "Traceback" not in errors
