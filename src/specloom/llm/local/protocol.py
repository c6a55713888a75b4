"""The embedded model's OpenAI HTTP surface, as one function from a request to a reply.

``respond(engine, method, path, body)`` answers

* ``POST /v1/chat/completions``: a ``chat.completion`` JSON body, or, with ``"stream": true``,
  server-sent events (one ``data: {chunk}`` per chunk, the usage chunk when
  ``stream_options.include_usage`` asks for it, then ``data: [DONE]``);
* ``GET /v1/models``: the one model the engine serves.

Errors are answered the way OpenAI answers them, ``{"error": {"message", "type", "param",
"code"}}``: a body that is not JSON or not a valid request is a 400
(``invalid_request_error``), an unknown path a 404, a wrong method a 405, weights that cannot
be loaded a 503. An error after a stream has started (the status line is already sent) is
one last ``data: {"error": ...}`` event, which the OpenAI SDK raises as an ``APIError``.

The reply's events are a lazy iterator: generation happens while the caller (the in-process
transport, or the loopback server) iterates them, and ``Reply.close`` stops it early,
releasing the engine for the next request.

May import: the standard library, ``specloom.errors``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from specloom.errors import ModelUnavailableError, SpecloomError, UserFacingError

__all__ = [
    "CHAT_PATH",
    "MODELS_PATH",
    "ChatEngine",
    "Reply",
    "error_reply",
    "respond",
]

CHAT_PATH = "/v1/chat/completions"
MODELS_PATH = "/v1/models"
_ROUTES = {CHAT_PATH: "POST", MODELS_PATH: "GET"}
JSON_TYPE = "application/json"
SSE_TYPE = "text/event-stream"


class ChatEngine(Protocol):
    """What the surface needs from a model: ``LocalEngine``, or a fake in tests.

    Attributes:
        model_name: The name ``/v1/models`` lists.
    """

    model_name: str

    def chat(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """A ``chat.completion`` body for a request body."""
        ...

    def chat_stream(self, payload: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """The ``chat.completion.chunk`` bodies of a streamed answer (errors raised up front)."""
        ...


@dataclass(slots=True)
class Reply:
    """An HTTP reply: a whole body, or a stream of server-sent-event frames.

    Attributes:
        status: The HTTP status code.
        content_type: The ``Content-Type`` header.
        body: The whole body (empty for a stream).
        events: Encoded event frames, produced while iterated (``None`` unless streaming).
        headers: Further headers (``Allow`` on a 405).
    """

    status: int
    content_type: str = JSON_TYPE
    body: bytes = b""
    events: Iterator[bytes] | None = None
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def streaming(self) -> bool:
        """The body comes as events."""
        return self.events is not None

    def json(self) -> Any:
        """The whole body, parsed (for a reply that is not a stream)."""
        return json.loads(self.body)

    def close(self) -> None:
        """Stop a stream early (the engine finishes the token it is on and is free again)."""
        close = getattr(self.events, "close", None)
        if callable(close):
            close()


def _encode(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _error_body(status: int, message: str, kind: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def error_reply(
    status: int,
    message: str,
    *,
    kind: str = "invalid_request_error",
    code: str | None = None,
    headers: tuple[tuple[str, str], ...] = (),
) -> Reply:
    """An OpenAI-shaped error reply.

    Args:
        status: The HTTP status code.
        message: What went wrong, for the caller.
        kind: OpenAI's error ``type`` (``invalid_request_error``, ``not_found_error``...).
        code: OpenAI's error ``code``, if any.
        headers: Further headers.
    """
    return Reply(status, body=_encode(_error_body(status, message, kind, code)), headers=headers)


def _message(error: UserFacingError) -> str:
    return f"{error.message} {error.hint}" if error.hint else error.message


def respond(engine: ChatEngine, method: str, path: str, body: bytes) -> Reply:
    """Answer one HTTP request.

    Args:
        engine: The model.
        method: The HTTP method (``GET``, ``POST``).
        path: The URL path, without the query string.
        body: The request body.

    Returns:
        The reply; a streamed one generates while its ``events`` are iterated.
    """
    path = path.split("?", 1)[0]
    if len(path) > 1:
        path = path.rstrip("/")
    allowed = _ROUTES.get(path)
    if allowed is None:
        return error_reply(
            404, f"no route {method} {path}; this server answers {CHAT_PATH} and {MODELS_PATH}",
            kind="not_found_error", code="unknown_url",
        )  # fmt: skip
    if method.upper() != allowed:
        return error_reply(
            405, f"{path} takes {allowed}, not {method}",
            code="method_not_allowed", headers=(("Allow", allowed),),
        )  # fmt: skip
    if path == MODELS_PATH:
        model = {"id": engine.model_name, "object": "model", "created": 0, "owned_by": "specloom"}
        return Reply(200, body=_encode({"object": "list", "data": [model]}))
    try:
        payload = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as error:
        return error_reply(400, f"the request body is not valid JSON: {error}", code="invalid_json")
    if not isinstance(payload, dict):
        return error_reply(400, "the request body must be a JSON object", code="invalid_json")
    try:
        if payload.get("stream") is True:
            return Reply(200, SSE_TYPE, events=_events(engine.chat_stream(payload)))
        return Reply(200, body=_encode(engine.chat(payload)))
    except ModelUnavailableError as error:
        return error_reply(503, _message(error), kind="server_error", code="model_unavailable")
    except UserFacingError as error:  # an invalid request, or a prompt too long for the context
        return error_reply(400, _message(error))


def _events(chunks: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    """Chunks as ``data:`` frames, then ``[DONE]``; closing this closes ``chunks``."""
    try:
        for chunk in chunks:
            yield b"data: " + _encode(chunk) + b"\n\n"
    except SpecloomError as error:  # headers are sent: the error becomes the last event
        message = _message(error) if isinstance(error, UserFacingError) else str(error)
        yield b"data: " + _encode(_error_body(500, message, "server_error", None)) + b"\n\n"
        return
    finally:
        close = getattr(chunks, "close", None)
        if callable(close):
            close()
    yield b"data: [DONE]\n\n"
