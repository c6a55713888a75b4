"""A scripted model provider on loopback that speaks the OpenAI and Anthropic wire protocols.

``FakeModelServer`` is a real HTTP server on ``127.0.0.1`` (an ephemeral port, a background
thread), so the real provider SDKs and pydantic-ai's real models talk to it exactly as they
would talk to the provider: requests are built, sent, streamed, parsed and mapped to errors
by the code that runs in production. It answers

* ``POST /v1/chat/completions`` (OpenAI chat completions): one JSON body, or server-sent
  events (``data: {...}`` chunks, a usage chunk when ``stream_options.include_usage``, then
  ``data: [DONE]``);
* ``POST /v1/messages`` (Anthropic messages): one JSON body, or the event stream
  (``message_start``, ``content_block_start/delta/stop``, ``message_delta`` with usage,
  ``message_stop``).

Replies come from a script, consumed in order whatever the protocol: ``Text``, ``ToolCall``
and ``Json`` answer; ``RateLimited``, ``ServerError``, ``Hang``, ``Truncated`` and
``InvalidJson`` fail the way providers do. Every request is recorded (``requests``) with its
path, headers, JSON body and the API key it carried, which is kept apart from the headers so
tests can check it was sent and that it was never written anywhere else.

May import: the standard library only (the tests import it).
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, cast
from urllib.parse import urlsplit

__all__ = [
    "FakeModelServer",
    "Hang",
    "InvalidJson",
    "Json",
    "RateLimited",
    "ReceivedRequest",
    "Reply",
    "ServerError",
    "Text",
    "ToolCall",
    "Truncated",
]

OPENAI_PATH = "/v1/chat/completions"
ANTHROPIC_PATH = "/v1/messages"
_AUTH_HEADERS = ("authorization", "x-api-key", "api-key")
_CREATED = 1_760_000_000


@dataclass(frozen=True, slots=True)
class Text:
    """An assistant message with text.

    Attributes:
        text: What the model says.
        input_tokens: Input tokens reported, cached ones included (as the ledger counts them).
        output_tokens: Output tokens reported.
        cached_tokens: The part of ``input_tokens`` read from the provider's cache.
    """

    text: str
    input_tokens: int = 10
    output_tokens: int = 5
    cached_tokens: int = 0


@dataclass(frozen=True, slots=True)
class ToolCall:
    """An assistant message calling one tool.

    Attributes:
        name: The tool's name.
        args: Its arguments (sent as a JSON string on OpenAI, an object on Anthropic).
        input_tokens: Input tokens reported, cached ones included.
        output_tokens: Output tokens reported.
        cached_tokens: Cached input tokens.
    """

    name: str
    args: dict[str, Any]
    input_tokens: int = 10
    output_tokens: int = 5
    cached_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Json:
    """A structured answer, given the way the request asked for it.

    A request with a JSON schema response format (OpenAI ``response_format``, Anthropic
    ``output_config.format``) gets the object as the message text; a request with an output
    tool (pydantic-ai's ``final_result...``) gets a call to that tool; any other gets text.

    Attributes:
        value: The object.
        input_tokens: Input tokens reported, cached ones included.
        output_tokens: Output tokens reported.
        cached_tokens: Cached input tokens.
    """

    value: Any
    input_tokens: int = 10
    output_tokens: int = 5
    cached_tokens: int = 0


@dataclass(frozen=True, slots=True)
class InvalidJson:
    """A well-formed structured answer whose content does not match the requested schema.

    Attributes:
        value: The object sent instead of one that fits the schema.
        input_tokens: Input tokens reported.
        output_tokens: Output tokens reported.
        cached_tokens: Cached input tokens.
    """

    value: Any = field(default_factory=lambda: {"unexpected": "shape"})
    input_tokens: int = 10
    output_tokens: int = 5
    cached_tokens: int = 0


@dataclass(frozen=True, slots=True)
class RateLimited:
    """HTTP 429 with a ``retry-after`` header (seconds) and the provider's error body.

    Attributes:
        retry_after: The seconds advertised, or ``None`` to send no header.
    """

    retry_after: float | None = 1.0


@dataclass(frozen=True, slots=True)
class ServerError:
    """An HTTP 5xx with the provider's error body.

    Attributes:
        status: The status code.
        message: The error message in the body.
    """

    status: int = 500
    message: str = "The server had an error while processing your request."


@dataclass(frozen=True, slots=True)
class Hang:
    """Wait ``seconds`` before answering (longer than the client's timeout), then answer text.

    The wait ends early when the server stops, so a test never waits for a hung reply.

    Attributes:
        seconds: How long to wait.
    """

    seconds: float = 10.0


@dataclass(frozen=True, slots=True)
class Truncated:
    """A reply cut off mid-object.

    Attributes:
        connection_closed: ``True``: the body (or stream) stops halfway and the connection
            closes, as when a proxy drops it. ``False``: a complete HTTP response whose JSON
            (or last stream event) ends halfway, as a gateway that cut the provider off sends.
        events_before: For a stream, the whole events sent before the one cut off (0: the
            stream breaks before its first event, so the client can still try again).
    """

    connection_closed: bool = True
    events_before: int = 0


Reply = Text | ToolCall | Json | InvalidJson | RateLimited | ServerError | Hang | Truncated


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    """One request the server received.

    Attributes:
        method: The HTTP method.
        path: The path, query string included.
        headers: The headers, names lowercased, without the ones carrying the key.
        body: The JSON body (``{}`` if it was not JSON).
        api_key: The key the request carried (``Authorization: Bearer`` or ``x-api-key``).
    """

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    api_key: str | None

    @property
    def protocol(self) -> str:
        """``openai`` or ``anthropic``, by the path."""
        return "anthropic" if urlsplit(self.path).path == ANTHROPIC_PATH else "openai"

    @property
    def stream(self) -> bool:
        """The client asked for a stream."""
        return bool(self.body.get("stream"))

    @property
    def tool_names(self) -> list[str]:
        """The names of the tools the request offered."""
        names: list[str] = []
        for tool in self.body.get("tools") or []:
            if "function" in tool:
                names.append(tool["function"]["name"])
            elif "name" in tool:
                names.append(tool["name"])
        return names

    @property
    def json_schema(self) -> dict[str, Any] | None:
        """The JSON schema a native structured-output request asked for, if any."""
        response_format = self.body.get("response_format") or {}
        if response_format.get("type") == "json_schema":
            return response_format["json_schema"].get("schema")
        output_format = (self.body.get("output_config") or {}).get("format") or {}
        if output_format.get("type") == "json_schema":
            return output_format.get("schema")
        return None

    def text(self) -> str:
        """The whole body as text, for searching what the client sent."""
        return json.dumps(self.body, ensure_ascii=False)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Clients keep connections open in their pools; closing must not wait for them.
    block_on_close = False

    def __init__(self, fake: FakeModelServer) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)


class FakeModelServer:
    """A scripted OpenAI- and Anthropic-compatible server on loopback (a context manager).

    Args:
        replies: The script: what to answer, in order, one reply per request.
        model_name: The model name echoed in answers.
    """

    def __init__(self, *replies: Reply, model_name: str = "fake-model") -> None:
        self.model_name = model_name
        self.requests: list[ReceivedRequest] = []
        self.unscripted = 0
        self._script: deque[Reply] = deque(replies)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def script(self, *replies: Reply) -> None:
        """Add replies to the end of the script."""
        with self._lock:
            self._script.extend(replies)

    @property
    def remaining(self) -> int:
        """Replies not consumed yet."""
        with self._lock:
            return len(self._script)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (the Anthropic SDK's base URL)."""
        if self._server is None:
            raise RuntimeError("the fake model server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def openai_url(self) -> str:
        """``http://127.0.0.1:<port>/v1`` (the OpenAI SDK's base URL)."""
        return self.url + "/v1"

    def start(self) -> FakeModelServer:
        """Listen and serve in a background thread."""
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-model-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; hung replies end at once."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeModelServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _next_reply(self, request: ReceivedRequest) -> Reply | None:
        with self._lock:
            self.requests.append(request)
            if not self._script:
                self.unscripted += 1
                return None
            return self._script.popleft()

    def _next_id(self) -> int:
        with self._lock:
            return next(self._ids)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    @property
    def fake(self) -> FakeModelServer:
        """The server's script and record."""
        return cast(_Server, self.server).fake

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """Quiet: the tests read ``requests`` instead of a log."""

    def do_GET(self) -> None:  # noqa: N802 - the base class's naming
        self._reject(404, "not_found_error", f"no route for GET {self.path}")

    def do_POST(self) -> None:  # noqa: N802 - the base class's naming
        fake = self.fake
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            body = {}
        headers = {name.lower(): value for name, value in self.headers.items()}
        key = headers.get("x-api-key") or headers.get("api-key")
        authorization = headers.get("authorization", "")
        if authorization.lower().startswith("bearer "):
            key = authorization[len("bearer ") :]
        request = ReceivedRequest(
            "POST",
            self.path,
            {name: value for name, value in headers.items() if name not in _AUTH_HEADERS},
            body if isinstance(body, dict) else {},
            key,
        )
        route = urlsplit(self.path).path
        if route not in (OPENAI_PATH, ANTHROPIC_PATH):
            self._reject(404, "not_found_error", f"no route for POST {route}")
            return
        reply = fake._next_reply(request)
        if reply is None:
            self._error(request, 500, "FakeModelServer: no scripted reply left for this request")
            return
        try:
            self._answer(request, reply)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a timeout): nothing is left to answer.
            self.close_connection = True

    # Answers -----------------------------------------------------------------------------

    def _answer(self, request: ReceivedRequest, reply: Reply) -> None:
        fake = self.fake
        if isinstance(reply, RateLimited):
            headers = {} if reply.retry_after is None else {"retry-after": f"{reply.retry_after:g}"}
            self._error(request, 429, "Rate limit reached for requests.", headers)
        elif isinstance(reply, ServerError):
            self._error(request, reply.status, reply.message)
        elif isinstance(reply, Hang):
            fake._stopping.wait(reply.seconds)
            self._message(request, Text("too late"))
        elif isinstance(reply, Truncated):
            cut = "closed" if reply.connection_closed else "complete"
            answer = Text("this answer is cut off before its end")
            self._message(request, answer, truncated=(cut, reply.events_before))
        else:
            self._message(request, reply)

    def _message(
        self,
        request: ReceivedRequest,
        reply: Text | ToolCall | Json | InvalidJson,
        truncated: _Cut = None,
    ) -> None:
        fake = self.fake
        content = _content(request, reply)
        if request.protocol == "openai":
            if request.stream:
                options = request.body.get("stream_options") or {}
                chunks = _openai_chunks(fake, content, reply, bool(options.get("include_usage")))
                events = [("", json.dumps(chunk)) for chunk in chunks] + [("", "[DONE]")]
                self._send_events(events, truncated)
            else:
                self._send_json(200, _openai_completion(fake, content, reply), truncated=truncated)
        elif request.stream:
            events = [(e["type"], json.dumps(e)) for e in _anthropic_events(fake, content, reply)]
            self._send_events(events, truncated)
        else:
            self._send_json(200, _anthropic_message(fake, content, reply), truncated=truncated)

    # Errors ------------------------------------------------------------------------------

    def _error(
        self,
        request: ReceivedRequest,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        if request.protocol == "anthropic":
            kind = {429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")
            body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
        else:
            kind = "requests" if status == 429 else "server_error"
            code = "rate_limit_exceeded" if status == 429 else None
            body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        self._send_json(status, body, headers=headers)

    def _reject(self, status: int, kind: str, message: str) -> None:
        self._send_json(status, {"type": "error", "error": {"type": kind, "message": message}})

    # Transport ---------------------------------------------------------------------------

    def _send_json(
        self,
        status: int,
        body: dict[str, Any],
        *,
        headers: dict[str, str] | None = None,
        truncated: _Cut = None,
    ) -> None:
        data = json.dumps(body).encode()
        declared = len(data)
        closed = truncated is not None and truncated[0] == "closed"
        if truncated is not None:
            data = data[: len(data) // 2]
            if not closed:
                declared = len(data)
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(declared))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self._close_after()
        # When `closed`, the promised length never arrives: the body ends mid-object.
        self.wfile.write(data)
        self.wfile.flush()

    def _send_events(self, events: list[tuple[str, str]], truncated: _Cut) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        closed = truncated is not None and truncated[0] == "closed"
        self._close_after()
        if truncated is not None:
            # The whole events asked for, then the one cut off.
            events = events[: min(truncated[1], len(events) - 1) + 1]
        for index, (name, data) in enumerate(events):
            text = (f"event: {name}\n" if name else "") + f"data: {data}\n\n"
            if truncated is not None and index == len(events) - 1:
                if closed:
                    # The event stops halfway and the connection closes.
                    self._write_chunk(text[: len(text) // 2].encode())
                    return
                # The event's JSON stops halfway, but the event and the stream end properly.
                text = (f"event: {name}\n" if name else "") + f"data: {data[: len(data) // 2]}\n\n"
            self._write_chunk(text.encode())
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _close_after(self) -> None:
        """End the headers of an answer after which the connection closes.

        No connection outlives its answer, so clients that are never closed (a command's, when
        its event loop ends) leave no socket behind for the garbage collector to warn about.
        """
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


_Usage = Text | ToolCall | Json | InvalidJson
_Cut = tuple[Literal["closed", "complete"], int] | None
"""How a reply is cut off (see ``Truncated``), or ``None``."""


@dataclass(frozen=True, slots=True)
class _Content:
    """What an answer carries: text, or one tool call."""

    text: str | None = None
    tool: str | None = None
    args: dict[str, Any] = field(default_factory=dict)


def _content(request: ReceivedRequest, reply: _Usage) -> _Content:
    if isinstance(reply, Text):
        return _Content(text=reply.text)
    if isinstance(reply, ToolCall):
        return _Content(tool=reply.name, args=reply.args)
    if request.json_schema is None:
        output_tool = next((n for n in request.tool_names if n.startswith("final_result")), None)
        if output_tool is not None and isinstance(reply.value, dict):
            return _Content(tool=output_tool, args=reply.value)
    return _Content(text=json.dumps(reply.value))


def _openai_completion(fake: FakeModelServer, content: _Content, reply: _Usage) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content.text, "refusal": None}
    if content.tool is not None:
        function = {"name": content.tool, "arguments": json.dumps(content.args)}
        call = {"id": f"call_{fake._next_id()}", "type": "function", "function": function}
        message.update(content=None, tool_calls=[call])
    finish = "tool_calls" if content.tool else "stop"
    return {
        "id": f"chatcmpl-{fake._next_id()}",
        "object": "chat.completion",
        "created": _CREATED,
        "model": fake.model_name,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": _openai_usage(reply),
    }


def _openai_chunks(
    fake: FakeModelServer, content: _Content, reply: _Usage, include_usage: bool
) -> list[dict[str, Any]]:
    ident = f"chatcmpl-{fake._next_id()}"

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {"id": ident, "object": "chat.completion.chunk", "created": _CREATED,
                "model": fake.model_name, "choices": [choice]}  # fmt: skip

    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": "", "refusal": None}]
    if content.tool is None:
        deltas.extend({"content": piece} for piece in _pieces(content.text or ""))
    else:
        # The call's id and name come first, then its arguments piece by piece.
        function = {"name": content.tool, "arguments": ""}
        call = {"index": 0, "id": f"call_{fake._next_id()}", "type": "function",
                "function": function}  # fmt: skip
        deltas.append({"tool_calls": [call]})
        deltas.extend(
            {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
            for piece in _pieces(json.dumps(content.args))
        )
    chunks = [chunk(delta) for delta in deltas]
    chunks.append(chunk({}, "tool_calls" if content.tool else "stop"))
    if include_usage:
        chunks.append({**chunk({}), "choices": [], "usage": _openai_usage(reply)})
    return chunks


def _anthropic_message(fake: FakeModelServer, content: _Content, reply: _Usage) -> dict[str, Any]:
    if content.tool is None:
        block: dict[str, Any] = {"type": "text", "text": content.text or ""}
    else:
        block = {"type": "tool_use", "id": f"toolu_{fake._next_id()}", "name": content.tool,
                 "input": content.args}  # fmt: skip
    return {
        "id": f"msg_{fake._next_id()}",
        "type": "message",
        "role": "assistant",
        "model": fake.model_name,
        "content": [block],
        "stop_reason": "tool_use" if content.tool else "end_turn",
        "stop_sequence": None,
        "usage": _anthropic_usage(reply),
    }


def _anthropic_events(
    fake: FakeModelServer, content: _Content, reply: _Usage
) -> list[dict[str, Any]]:
    message = _anthropic_message(fake, content, reply)
    # The opening event carries the input usage; the closing `message_delta` the output.
    message.update(content=[], stop_reason=None, usage={**message["usage"], "output_tokens": 1})
    if content.tool is None:
        block: dict[str, Any] = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": piece} for piece in _pieces(content.text or "")]
    else:
        block = {"type": "tool_use", "id": f"toolu_{fake._next_id()}", "name": content.tool,
                 "input": {}}  # fmt: skip
        deltas = [
            {"type": "input_json_delta", "partial_json": piece}
            for piece in _pieces(json.dumps(content.args))
        ]
    stop = {"stop_reason": "tool_use" if content.tool else "end_turn", "stop_sequence": None}
    return [
        {"type": "message_start", "message": message},
        {"type": "content_block_start", "index": 0, "content_block": block},
        *({"type": "content_block_delta", "index": 0, "delta": delta} for delta in deltas),
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": stop, "usage": {"output_tokens": reply.output_tokens}},
        {"type": "message_stop"},
    ]


def _openai_usage(reply: _Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": reply.output_tokens,
        "total_tokens": reply.input_tokens + reply.output_tokens,
        "prompt_tokens_details": {"cached_tokens": reply.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


def _anthropic_usage(reply: _Usage) -> dict[str, Any]:
    # Anthropic counts cached input apart: `input_tokens` is the uncached part only.
    return {
        "input_tokens": reply.input_tokens - reply.cached_tokens,
        "output_tokens": reply.output_tokens,
        "cache_read_input_tokens": reply.cached_tokens,
        "cache_creation_input_tokens": 0,
    }


def _pieces(text: str, size: int = 7) -> Iterator[str]:
    """The text in small pieces, as a stream delivers it (at least one piece)."""
    if not text:
        yield ""
        return
    for start in range(0, len(text), size):
        yield text[start : start + size]
