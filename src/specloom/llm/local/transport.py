"""The embedded model as a pydantic-ai model: OpenAI chat completions, in process or on loopback.

``local_model(variant)`` returns pydantic-ai's ``OpenAIChatModel`` over an OpenAI SDK client
whose HTTP client has a ``LocalTransport``: each request is answered by ``protocol.respond``
against the process-wide ``LocalEngine`` for the variant's weights, with no socket and no
server, yet through exactly the code path a remote OpenAI-compatible server takes (request
building, streaming, usage, error mapping). With a ``base_url`` (or ``SPECLOOM_LOCAL_URL``)
the same model talks to a ``specloom models serve-local`` server instead, so several
processes share one loaded copy.

Generation blocks (llama.cpp holds a core per thread), so the async transport answers in a
worker thread, and a streamed answer is decoded by a producer thread that runs ahead of the
reader: the event loop stays free while tokens are decoded, the per-chunk work of the SDK
and pydantic-ai overlaps the next token's decoding, and a cancelled run closes the stream,
which releases the engine at the next token.

The model's profile says what it can do: JSON-schema output (llama.cpp grammars, so
``NativeOutput`` is used for structured generation), tools, text only (no images or audio),
and an 8,192-token context.

May import: the standard library, ``anyio``, ``httpx2``, ``openai``, ``pydantic_ai``,
``specloom.errors`` and the sibling modules ``engine``, ``protocol`` and ``weights``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import anyio.to_thread
import httpx2

from specloom.errors import UsageError
from specloom.llm.local.engine import DEFAULT_CONTEXT, get_engine
from specloom.llm.local.protocol import ChatEngine, Reply, respond
from specloom.llm.local.weights import LOCAL_URL_ENV, WEIGHTS, resolve_weights

if TYPE_CHECKING:
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.profiles import ModelProfile

__all__ = [
    "IN_PROCESS_URL",
    "REMOTE_TIMEOUT_S",
    "LocalTransport",
    "chat_model",
    "local_model",
    "model_name",
]

IN_PROCESS_URL = "http://embedded.specloom.invalid/v1"
"""The base URL the in-process client uses (``.invalid``: it can never reach a network)."""
REMOTE_TIMEOUT_S = 600.0
"""Seconds a request to a ``serve-local`` server may take: it answers one request at a time,
so a request may wait for several others before its own first token."""


class _Body(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """A reply's body for httpx2: the whole body, or the events produced as they are read."""

    def __init__(self, reply: Reply) -> None:
        self._reply = reply

    def __iter__(self) -> Iterator[bytes]:
        if self._reply.events is None:
            yield self._reply.body
            return
        yield from self._reply.events

    async def __aiter__(self) -> AsyncIterator[bytes]:
        events = self._reply.events
        if events is None:
            yield self._reply.body
            return
        # A producer thread decodes the next tokens while the event loop handles the chunks
        # already made (the OpenAI SDK's parsing, pydantic-ai's events, the caller's work),
        # so that work is not added to the time of every token.
        loop = asyncio.get_running_loop()
        frames: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()
        stop = threading.Event()

        def produce() -> None:
            try:
                for frame in events:
                    loop.call_soon_threadsafe(frames.put_nowait, frame)
                    if stop.is_set():
                        break
            except BaseException as error:  # handed to the reader, which raises it
                loop.call_soon_threadsafe(frames.put_nowait, error)
            finally:
                if stop.is_set():
                    self._reply.close()  # in this thread: the generator is not shared
                with contextlib.suppress(RuntimeError):  # the loop may be closed by now
                    loop.call_soon_threadsafe(frames.put_nowait, None)

        self._producer = threading.Thread(target=produce, name="local-model-stream", daemon=True)
        self._stop = stop
        self._producer.start()
        try:
            while True:
                item = await frames.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()

    def close(self) -> None:
        self._reply.close()

    async def aclose(self) -> None:
        producer = getattr(self, "_producer", None)
        if producer is not None:
            self._stop.set()
            await anyio.to_thread.run_sync(producer.join)
        elif self._reply.events is not None:
            await anyio.to_thread.run_sync(self._reply.close)


class LocalTransport(httpx2.BaseTransport, httpx2.AsyncBaseTransport):
    """An httpx2 transport that answers requests with ``protocol.respond`` in process.

    Works for both ``httpx2.Client`` and ``httpx2.AsyncClient``; the URL's host is ignored.

    Args:
        engine: The model that answers (``LocalEngine``, or a fake in tests).
    """

    def __init__(self, engine: ChatEngine) -> None:
        self.engine = engine

    def _response(self, request: httpx2.Request, reply: Reply) -> httpx2.Response:
        headers = [("Content-Type", reply.content_type), *reply.headers]
        if not reply.streaming:
            headers.append(("Content-Length", str(len(reply.body))))
        return httpx2.Response(reply.status, headers=headers, stream=_Body(reply), request=request)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        """Answer a request in this thread."""
        reply = respond(self.engine, request.method, request.url.path, request.read())
        return self._response(request, reply)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Answer a request in a worker thread (loading the model and generating block)."""
        body = await request.aread()
        reply = await anyio.to_thread.run_sync(
            respond, self.engine, request.method, request.url.path, body
        )
        return self._response(request, reply)


def model_name(variant: str) -> str:
    """The model's name in requests and usage records (``qwen2.5-coder-1.5b``)."""
    return f"qwen2.5-coder-{variant}"


def _profile() -> ModelProfile:
    from pydantic_ai.profiles.openai import OpenAIModelProfile

    return OpenAIModelProfile(
        supports_tools=True,
        supports_json_schema_output=True,
        supports_json_object_output=True,
        default_structured_output_mode="native",
        supports_image_input=False,
        supports_audio_input=False,
        supports_document_input=False,
        supports_video_input=False,
        supports_thinking=False,
        supported_native_tools=frozenset(),
        context_window=DEFAULT_CONTEXT,
        # The grammar made from the schema already forces the arguments; "strict" adds nothing.
        openai_supports_strict_tool_definition=False,
        openai_chat_supports_web_search=False,
    )


def chat_model(
    transport: httpx2.AsyncBaseTransport | None, base_url: str, name: str
) -> OpenAIChatModel:
    """An ``OpenAIChatModel`` for the embedded model's OpenAI surface.

    Args:
        transport: Answers the requests in process, or ``None`` to send them over the network.
        base_url: The ``/v1`` URL (ignored by an in-process transport, but sent as the host).
        name: The model name sent in requests.
    """
    from openai import AsyncOpenAI
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai_compatible import OpenAICompatibleProvider

    if transport is not None:
        client = AsyncOpenAI(
            api_key="none",
            base_url=base_url,
            max_retries=0,
            http_client=httpx2.AsyncClient(transport=transport, base_url=base_url),
        )
    else:  # retries, back-off and fallback are Auto's job (see specloom.llm.providers)
        client = AsyncOpenAI(
            api_key="none", base_url=base_url, max_retries=0, timeout=REMOTE_TIMEOUT_S
        )
    provider = OpenAICompatibleProvider("specloom-local", openai_client=client, profile=_profile())
    return OpenAIChatModel(name, provider=provider)


def local_model(variant: str = "1.5b", base_url: str | None = None) -> OpenAIChatModel:
    """The embedded model as a pydantic-ai model.

    Args:
        variant: ``"1.5b"`` (the default) or ``"0.5b"``.
        base_url: The ``/v1`` URL of a ``specloom models serve-local`` server; when ``None``,
            ``SPECLOOM_LOCAL_URL``, and when that is unset too, the model runs in this process
            (loaded on the first request, shared by every model made for the same weights).

    Raises:
        UsageError: ``variant`` is unknown.
        ModelUnavailableError: It runs in process and the weights are not installed.
    """
    if variant not in WEIGHTS:
        raise UsageError(
            f"unknown embedded model variant {variant!r}", hint=f"Use one of: {', '.join(WEIGHTS)}."
        )
    name = model_name(variant)
    url = base_url or os.environ.get(LOCAL_URL_ENV)
    if url:
        return chat_model(None, url.rstrip("/"), name)
    engine = get_engine(resolve_weights(variant))
    return chat_model(LocalTransport(engine), IN_PROCESS_URL, name)
