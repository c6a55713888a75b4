"""One loaded GGUF model answering OpenAI chat-completion requests, one request at a time.

``LocalEngine.chat`` takes a request body (a dict, as ``POST /v1/chat/completions`` receives
it) and returns the response body; ``chat_stream`` returns the chunks of a streamed answer.
Both understand what pydantic-ai and the OpenAI SDK send: ``response_format`` (``json_schema``
and ``json_object``) becomes a llama.cpp grammar, ``tools`` and ``tool_choice`` (``auto``,
``required``, a named function, ``none``) become tool calls, ``stream_options.include_usage``
a final usage chunk; ``max_tokens`` defaults to 1024 and ``repeat_penalty`` to 1.1.

Generation runs on llama.cpp's token loop (``Llama.generate``) with the prompt rendered by
``request.render_prompt`` in Qwen's own format, not through llama-cpp-python's chat handlers:
its ``chatml-function-calling`` handler answers every ``tool_choice="auto"`` request with an
empty message (its grammar after ``message:`` only admits a function name or the end), drops
``tool`` results from the prompt, ignores ``max_tokens`` in that mode, cannot stream it, and
HTML-escapes code. Owning the loop also gives exact token counts for streamed answers.

How a tool call is made: with ``auto`` the answer streams as text until the model emits
Qwen's ``<tool_call>`` token; then the function's name is decoded (up to the closing quote)
and its arguments under a grammar made from that function's JSON schema, so they always parse
(an unknown name still gets a JSON object, and pydantic-ai tells the model the tool does not
exist). After each call, another ``<tool_call>`` token starts the next. With ``auto``, a
first call identical to one the previous turn made, right after its result, is a loop small
models fall into (Qwen2.5-Coder-1.5B does it at temperature 0): it is dropped before anything
is sent, and the answer is decoded as text from the prompt written without tools.
``required`` starts with the token and restricts the name to the offered functions; a named
choice writes the name itself. With both tools and a JSON schema, the first token decides: a
call, or an answer decoded under the schema's grammar.

An answer that repeats itself word for word (``_LoopGuard``: the same 400 characters three
times) ends there with ``finish_reason`` ``length``, as at the token cap, which it would
otherwise run to.

A ``llama_cpp.Llama`` is not thread-safe: one lock serialises generation, so one loaded model
serves all the concurrent requests of a process in turn. Loading takes its own lock and
happens once, on the first request (or ``load()``); ``get_engine`` keeps one engine per file
for the whole process.

May import: the standard library, ``specloom.errors``, ``specloom.llm.local.request``;
``llama_cpp`` inside the functions that load and decode.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Generator, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from specloom.errors import ModelUnavailableError, UsageError
from specloom.llm.local.request import (
    IM_END,
    IM_START,
    TOOL_CALL_END,
    TOOL_CALL_START,
    ChatRequest,
    Segment,
    arguments_prefix,
    call_prefix,
    call_suffix,
    parse_request,
    render_prompt,
)

if TYPE_CHECKING:
    from llama_cpp import Llama, LlamaGrammar

__all__ = [
    "DEFAULT_CONTEXT",
    "MAX_PARALLEL_CALLS",
    "STREAM_INTERVAL_S",
    "LocalEngine",
    "default_threads",
    "get_engine",
]

_T = TypeVar("_T")

DEFAULT_CONTEXT = 8192
"""Context window in tokens (the catalog says the same)."""
MAX_PARALLEL_CALLS = 8
"""Tool calls one answer may hold."""
STREAM_INTERVAL_S = 0.1
"""Streamed text is sent in pieces at most this often (a few tokens each), not per token."""
_NAME_TOKEN_LIMIT = 32
_GRAMMAR_CACHE_SIZE = 64


def default_threads() -> int:
    """Threads for llama.cpp: every usable core, up to 8 (generation is bound by memory)."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(usable or 1, 8))


@dataclass(frozen=True, slots=True)
class _Text:
    text: str


@dataclass(frozen=True, slots=True)
class _Call:
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class _Done:
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int

    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


_Event = _Text | _Call | _Done


@dataclass(frozen=True, slots=True)
class _Opened:
    """A call the model has begun: the context ends where the function's name begins.

    Attributes:
        context: Tokens up to the name's first character (after its opening quote).
        tagged: The call is in ``<tool_call>`` tags (else the model wrote bare JSON).
        name_start: Characters of the name already in ``context`` (a token may hold the
            quote and the name's start).
    """

    context: list[int]
    tagged: bool
    name_start: str = ""


@dataclass(frozen=True, slots=True)
class _Decoded:
    """How a decoding step ended (``stop`` or ``length``), its tokens, and a call it opened."""

    finish: str
    tokens: list[int]
    opened: _Opened | None = None


_BARE_CALL = re.compile(r'\s*\{\s*"name"\s*:\s*"')
_BARE_CALL_COMPACT = '{"name":"'
_OPENER_TOKEN_LIMIT = 8


class _Opener:
    """Tells, as an answer's first pieces arrive, whether it opens a call written as bare JSON.

    Qwen2.5-Coder often answers a tool request with ``{"name": "add", "arguments": ...}``
    and no ``<tool_call>`` tags; an answer that starts that way is a call.
    """

    def __init__(self) -> None:
        self._text = ""
        self.rest = ""

    def feed(self, piece: str) -> str:
        """``"call"``, ``"text"``, or ``"undecided"`` after this piece."""
        self._text += piece
        match = _BARE_CALL.match(self._text)
        if match:
            self.rest = self._text[match.end() :]
            return "call"
        compact = "".join(self._text.split())
        return "undecided" if _BARE_CALL_COMPACT.startswith(compact) else "text"


@dataclass(slots=True)
class _Job:
    """A validated, tokenised request and what it has generated so far."""

    request: ChatRequest
    prompt: list[int]
    model: str
    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex[:24]}")
    created: int = field(default_factory=lambda: int(time.time()))
    generated: int = 0

    @property
    def remaining(self) -> int:
        return self.request.max_tokens - self.generated


class _Assembler:
    """Bytes of tokens in, text out: UTF-8 split across tokens, and stop strings held back."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stops = stops
        self._pending = ""
        self.stopped = False

    def feed(self, data: bytes) -> str:
        self._pending += self._decoder.decode(data)
        if not self._stops:
            out, self._pending = self._pending, ""
            return out
        cuts = [at for stop in self._stops if (at := self._pending.find(stop)) >= 0]
        if cuts:
            out = self._pending[: min(cuts)]
            self._pending = ""
            self.stopped = True
            return out
        keep = 0
        for size in range(min(len(self._pending), max(map(len, self._stops)) - 1), 0, -1):
            tail = self._pending[-size:]
            if any(stop.startswith(tail) for stop in self._stops):
                keep = size
                break
        out = self._pending[: len(self._pending) - keep]
        self._pending = self._pending[len(out) :]
        return out

    def finish(self) -> str:
        if self.stopped:
            return ""
        out = self._pending + self._decoder.decode(b"", final=True)
        self._pending = ""
        return out


_LOOP_CHARS = 400
"""A stretch of answer this long, met ``_LOOP_REPEATS`` times in the answer..."""
_LOOP_REPEATS = 3
"""...ends decoding with ``length``: the model is going round in a loop."""
_LOOP_EVERY = 100
"""Characters decoded between two checks."""


class _LoopGuard:
    """Tells when an answer has started repeating itself word for word.

    Small models fall into loops until the token cap: the embedded one writes its prompt's
    instructions out again and again after a file, or one requirement sixteen times, which
    costs minutes on a CPU for text nobody uses. An answer whose last ``_LOOP_CHARS``
    characters occur ``_LOOP_REPEATS`` times in it is such a loop (a file that repeats a
    licence header is not: that stretch occurs once per file, far fewer times).
    """

    def __init__(self) -> None:
        self.text = ""
        self._checked = 0

    def looping(self, piece: str) -> bool:
        self.text += piece
        if len(self.text) < _LOOP_CHARS * _LOOP_REPEATS:
            return False
        if len(self.text) - self._checked < _LOOP_EVERY:
            return False
        self._checked = len(self.text)
        return self.text.count(self.text[-_LOOP_CHARS:]) >= _LOOP_REPEATS


def _collect(pieces: Generator[str, None, _Decoded]) -> tuple[str, _Decoded]:
    parts: list[str] = []
    while True:
        try:
            parts.append(next(pieces))
        except StopIteration as end:
            return "".join(parts), end.value


def _as_events(pieces: Generator[str, None, _Decoded]) -> Generator[_Event, None, _Decoded]:
    while True:
        try:
            piece = next(pieces)
        except StopIteration as end:
            return end.value
        yield _Text(piece)


class LocalEngine:
    """A GGUF chat model (Qwen2.5 family) behind the OpenAI chat-completions format.

    Attributes:
        path: The GGUF file.
        n_ctx: Context window in tokens.
        n_threads: llama.cpp threads.
        model_name: The file's name without ``.gguf`` (answers name the model the request
            named, this when it named none).
        load_seconds: How long loading took (``None`` until loaded).
    """

    def __init__(
        self, path: Path | str, *, n_ctx: int = DEFAULT_CONTEXT, n_threads: int | None = None
    ) -> None:
        self.path = Path(path)
        self.n_ctx = n_ctx
        self.n_threads = n_threads or default_threads()
        self.model_name = self.path.name.removesuffix(".gguf")
        self.load_seconds: float | None = None
        self._llama: Llama | None = None
        self._load_lock = threading.Lock()
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._thread_id: int | None = None
        self._executor_lock = threading.Lock()
        self._control: dict[str, int] = {}
        self._stop_ids: frozenset[int] = frozenset()
        self._grammars: dict[str, LlamaGrammar] = {}

    @property
    def loaded(self) -> bool:
        """The model is in memory."""
        return self._llama is not None

    def load(self) -> Llama:
        """Load the model (once; later calls return it at once).

        Raises:
            ModelUnavailableError: llama-cpp-python is missing, or the file is not a Qwen2.5
                GGUF model that llama.cpp can load.
        """
        llama = self._llama
        if llama is not None:
            return llama
        return self.on_engine_thread(self._load_here)

    def _load_here(self) -> Llama:
        with self._load_lock:
            if self._llama is None:
                self._llama = self._open()
            return self._llama

    def close(self) -> None:
        """Free the model's memory (a later request loads it again)."""
        with self._load_lock, self._lock:
            if self._llama is not None:
                self.on_engine_thread(self._llama.close)
                self._llama = None

    def on_engine_thread(self, function: Callable[..., _T], *args: Any) -> _T:
        """Run ``function`` on the engine's own thread, where every llama.cpp call is made,
        and return its result (code that drives llama.cpp directly, such as the benchmark's
        baseline, uses it too).

        llama.cpp's worker threads belong to the thread that calls it; calls from several
        threads keep several sets of workers, which then compete for the cores (a third
        slower on two cores). One long-lived thread keeps one set.
        """
        if threading.get_ident() == self._thread_id:
            return function(*args)
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="llama", initializer=self._mark_thread
                )
            executor = self._executor
        return executor.submit(function, *args).result()

    def _mark_thread(self) -> None:
        self._thread_id = threading.get_ident()

    def _open(self) -> Llama:
        hint = "Run `specloom models pull local`, or set SPECLOOM_LOCAL_MODEL_PATH to a GGUF file."
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ModelUnavailableError(
                self.model_name,
                "llama-cpp-python is not installed",
                hint="Install it with: pip install 'specloom[local]'.",
            ) from None
        if not self.path.is_file():
            raise ModelUnavailableError(self.model_name, f"{self.path} does not exist", hint=hint)
        started = time.perf_counter()
        try:
            llama = Llama(
                str(self.path),
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                verbose=False,
            )
        except ValueError as error:  # llama-cpp-python's "Failed to load model from file"
            raise ModelUnavailableError(self.model_name, str(error), hint=hint) from None
        self.load_seconds = time.perf_counter() - started
        markers = {
            marker: llama.tokenize(marker.encode(), add_bos=False, special=True)
            for marker in (IM_START, IM_END, TOOL_CALL_START, TOOL_CALL_END, "<|endoftext|>")
        }
        if any(len(markers[marker]) != 1 for marker in (IM_START, IM_END, TOOL_CALL_START)):
            llama.close()
            raise ModelUnavailableError(
                self.model_name,
                f"{self.path} is not a Qwen2.5 chat model (no ChatML and <tool_call> tokens)",
                hint=hint,
            )
        self._control = {marker: ids[0] for marker, ids in markers.items() if len(ids) == 1}
        self._stop_ids = frozenset(
            {llama.token_eos(), self._control[IM_END], self._control.get("<|endoftext|>", -1)}
        )
        return llama

    def chat(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Answer a chat-completions request body with a response body (never streamed).

        Raises:
            UsageError: The request is invalid or its prompt does not fit the context.
            ModelUnavailableError: The model cannot be loaded.
        """
        job = self.on_engine_thread(self._prepare, payload)
        with self._lock:
            events = self.on_engine_thread(lambda: list(self._events(job)))
        text = "".join(event.text for event in events if isinstance(event, _Text))
        calls = [event for event in events if isinstance(event, _Call)]
        done = events[-1]
        assert isinstance(done, _Done)
        content = text if text or not calls else None
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if calls:
            message["tool_calls"] = [self._tool_call(call) for call in calls]
        return {
            "id": job.id,
            "object": "chat.completion",
            "created": job.created,
            "model": job.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": _finish(done, bool(calls)),
                }
            ],
            "usage": done.usage(),
        }

    def chat_stream(self, payload: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """The chunks of a streamed answer to a chat-completions request body.

        The request is validated and tokenised before this returns (so errors are raised
        here, not mid-stream); generation runs while the chunks are iterated, holding the
        model's lock until the iterator ends or is closed.

        Raises:
            UsageError: The request is invalid or its prompt does not fit the context.
            ModelUnavailableError: The model cannot be loaded.
        """
        return self._stream(self.on_engine_thread(self._prepare, payload))

    def _stream(self, job: _Job) -> Iterator[dict[str, Any]]:
        """The chunks of ``job``, each made on the engine thread, holding the lock from the
        first chunk to the last (or to the iterator's closing)."""
        with self._lock:
            chunks = self._chunks(job)

            def step() -> dict[str, Any] | None:
                return next(chunks, None)

            try:
                while True:
                    chunk = self.on_engine_thread(step)
                    if chunk is None:
                        return
                    yield chunk
            finally:
                self.on_engine_thread(chunks.close)

    def _prepare(self, payload: Mapping[str, Any]) -> _Job:
        request = parse_request(payload)
        llama = self.load()
        segments = render_prompt(request.messages, request.tools if request.uses_tools else ())
        # Tokenising reads only the vocabulary, so it needs no lock and can run while
        # another request generates.
        prompt = self._tokens(llama, segments)
        if len(prompt) >= self.n_ctx:
            raise UsageError(
                f"the prompt is {len(prompt):,} tokens and the embedded model's context holds "
                f"{self.n_ctx:,}",
                hint="Send less (fewer or smaller files), or use a model with a larger context.",
            )
        return _Job(request, prompt, request.model or self.model_name)

    def _tokens(self, llama: Llama, segments: list[Segment]) -> list[int]:
        tokens: list[int] = []
        for segment in segments:
            if segment.control:
                tokens.append(self._control[segment.text])
            else:
                tokens.extend(llama.tokenize(segment.text.encode(), add_bos=False, special=False))
        return tokens

    def _text_tokens(self, text: str) -> list[int]:
        assert self._llama is not None
        return self._llama.tokenize(text.encode(), add_bos=False, special=False)

    def _chunks(self, job: _Job) -> Generator[dict[str, Any], None, None]:
        yield self._chunk(job, {"role": "assistant", "content": ""})
        calls = 0
        done = _Done("stop", len(job.prompt), 0)
        pending = ""
        sent = 0.0
        # The caller (`_stream`) holds the lock.
        for event in self._events(job):
            if isinstance(event, _Text):
                # Text goes out at most every STREAM_INTERVAL_S (the first piece at
                # once): each chunk wakes the reader's thread, and on a small machine
                # that thread competes with llama.cpp's for the cores.
                pending += event.text
                now = time.monotonic()
                if now - sent >= STREAM_INTERVAL_S:
                    yield self._chunk(job, {"content": pending})
                    pending, sent = "", now
                continue
            if pending:
                yield self._chunk(job, {"content": pending})
                pending = ""
            if isinstance(event, _Call):
                call = self._tool_call(event) | {"index": calls}
                yield self._chunk(job, {"tool_calls": [call]})
                calls += 1
            else:
                done = event
        if pending:
            yield self._chunk(job, {"content": pending})
        yield self._chunk(job, {}, _finish(done, calls > 0))
        if job.request.include_usage:
            yield {
                "id": job.id,
                "object": "chat.completion.chunk",
                "created": job.created,
                "model": job.model,
                "choices": [],
                "usage": done.usage(),
            }

    @staticmethod
    def _chunk(job: _Job, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": job.id,
            "object": "chat.completion.chunk",
            "created": job.created,
            "model": job.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    @staticmethod
    def _tool_call(call: _Call) -> dict[str, Any]:
        return {
            "id": f"call_{uuid.uuid4().hex[:24]}",
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments},
        }

    # Generation: everything below runs with self._lock held.

    def _events(self, job: _Job) -> Iterator[_Event]:
        assert self._llama is not None
        if job.request.seed is not None:
            self._llama.set_seed(job.request.seed)
        finish = yield from self._answer(job)
        yield _Done(finish, len(job.prompt), job.generated)

    def _answer(self, job: _Job) -> Generator[_Event, None, str]:
        request = job.request
        output = self._grammar(request.response_schema) if request.json_output else None
        if not request.uses_tools:
            decoded = yield from _as_events(self._decode(job, job.prompt, output, request.stop))
            return decoded.finish
        if request.tool_choice != "auto":  # required, or one named function
            opened = _Opened(self._tagged_call(job.prompt), tagged=True)
            if request.tool_choice == "required":
                names = tuple(tool.name for tool in request.tools)
                finish = yield from self._calls(job, opened, names=names)
            else:
                finish = yield from self._calls(job, opened, forced=request.tool_choice)
            return finish or "tool_calls"  # never None: no repeats were given
        repeats = _answered_calls(request.messages)
        if output is not None:
            opened = self._next_call(job, job.prompt)
            if opened is not None:
                finish = yield from self._calls(job, opened, repeats=repeats)
                if finish is not None:
                    return finish
            decoded = yield from _as_events(self._decode(job, job.prompt, output, request.stop))
            return decoded.finish
        decoded = yield from _as_events(
            self._decode(job, job.prompt, None, request.stop, watch_calls=True)
        )
        if decoded.opened is None:
            return decoded.finish
        # A repeat can only be taken back while nothing of the answer has been sent.
        unsent = not decoded.opened.tagged or not decoded.tokens
        finish = yield from self._calls(job, decoded.opened, repeats=repeats if unsent else None)
        if finish is not None:
            return finish
        # The model asked again for what it was just given: answer from the results instead,
        # with the prompt written without tools (masking the call token alone is not enough:
        # the model then writes the same call as bare JSON).
        assert self._llama is not None
        prompt = self._tokens(self._llama, render_prompt(request.messages))
        decoded = yield from _as_events(self._decode(job, prompt, None, request.stop))
        return decoded.finish

    def _tagged_call(self, context: list[int]) -> list[int]:
        """``context`` extended with ``<tool_call>`` and the call's text up to the name."""
        return [*context, self._control[TOOL_CALL_START], *self._text_tokens(call_prefix())]

    def _calls(
        self,
        job: _Job,
        opened: _Opened,
        *,
        forced: str | None = None,
        names: tuple[str, ...] | None = None,
        repeats: frozenset[tuple[str, str]] | None = None,
    ) -> Generator[_Event, None, str | None]:
        """Decode calls from a context that ends where the first name begins.

        Returns:
            The finish reason; ``None`` when the first call is one of ``repeats`` (it is then
            not yielded, and the caller answers otherwise).
        """
        made = 0
        while True:
            context = opened.context
            if forced is not None:
                name, rest = forced, forced
            else:
                rest, finish = self._call_name(job, context, names)
                name = (opened.name_start + rest).strip()
                if not name:
                    return finish if made == 0 else "tool_calls"
            context = context + self._text_tokens(rest + arguments_prefix())
            tool = job.request.tool(name)
            grammar = self._grammar(tool.parameters if tool is not None else None)
            arguments, decoded = _collect(self._decode(job, context, grammar, ()))
            arguments = arguments.strip() or "{}"
            if made == 0 and repeats and (name, _canonical(arguments)) in repeats:
                return None
            yield _Call(name, arguments)
            made += 1
            if decoded.finish == "length":
                return "length"
            if forced is not None or not job.request.parallel_tool_calls:
                return "tool_calls"
            if made >= MAX_PARALLEL_CALLS:
                return "tool_calls"
            closing = self._text_tokens(call_suffix() if opened.tagged else "}")
            after = [*context, *decoded.tokens, *closing]
            if opened.tagged:
                after.append(self._control[TOOL_CALL_END])
            following = self._next_call(job, after)
            if following is None:
                return "tool_calls"
            opened = following

    def _call_name(
        self, job: _Job, context: list[int], names: tuple[str, ...] | None
    ) -> tuple[str, str]:
        """The rest of a function's name, decoded up to its closing quote, and the finish."""
        grammar = None
        if names:
            key = "names:" + ",".join(names)
            grammar = self._cached_grammar(
                key, lambda: "root ::= (" + " | ".join(f'"{n}"' for n in names) + ') "\\""'
            )
        text, decoded = _collect(
            self._decode(job, context, grammar, ('"',), limit=_NAME_TOKEN_LIMIT)
        )
        return text, decoded.finish

    def _next_call(self, job: _Job, context: list[int]) -> _Opened | None:
        """Where the next call's name begins, if the model starts a call now."""
        assert self._llama is not None
        opener = _Opener()
        seen: list[int] = []
        for token in self._llama.generate(context, **self._sampling(job.request)):
            if token == self._control[TOOL_CALL_START]:
                job.generated += len(seen) + 1
                return _Opened(self._tagged_call([*context, *seen]), tagged=True)
            if token in self._stop_ids or len(seen) >= _OPENER_TOKEN_LIMIT:
                return None
            seen.append(token)
            state = opener.feed(self._llama.detokenize([token]).decode(errors="replace"))
            if state == "text":
                return None
            if state == "call":
                job.generated += len(seen)
                return _Opened([*context, *seen], tagged=False, name_start=opener.rest)
        return None

    def _decode(
        self,
        job: _Job,
        context: list[int],
        grammar: LlamaGrammar | None,
        stops: tuple[str, ...],
        *,
        watch_calls: bool = False,
        limit: int | None = None,
    ) -> Generator[str, None, _Decoded]:
        """Sample from ``context``, yielding text, until the turn ends or a limit is reached.

        With ``watch_calls``, a ``<tool_call>`` token, or an answer that opens with
        ``{"name": "``, ends decoding with ``opened`` set instead of yielding the call.
        """
        llama = self._llama
        assert llama is not None
        budget = min(job.remaining, self.n_ctx - len(context), limit or job.request.max_tokens)
        tokens: list[int] = []
        if budget <= 0:
            return _Decoded("length", tokens)
        assembler = _Assembler(stops)
        opener = _Opener() if watch_calls else None
        guard = _LoopGuard()
        held: list[str] = []
        finish = "stop"
        for token in llama.generate(context, grammar=grammar, **self._sampling(job.request)):
            if token in self._stop_ids:
                break
            if watch_calls and token == self._control[TOOL_CALL_START]:
                job.generated += 1
                yield from held
                opened = _Opened(self._tagged_call([*context, *tokens]), tagged=True)
                return _Decoded("stop", tokens, opened)
            tokens.append(token)
            job.generated += 1
            piece = assembler.feed(llama.detokenize([token]))
            if opener is not None and piece:
                held.append(piece)
                state = opener.feed(piece)
                if state == "call":
                    opened = _Opened([*context, *tokens], tagged=False, name_start=opener.rest)
                    return _Decoded("stop", tokens, opened)
                if state == "text":
                    opener = None
                    yield from held
                    held.clear()
            elif piece:
                yield piece
            if assembler.stopped:
                return _Decoded("stop", tokens)
            if len(tokens) >= budget or (piece and guard.looping(piece)):
                finish = "length"
                break
        yield from held
        tail = assembler.finish()
        if tail:
            yield tail
        return _Decoded(finish, tokens)

    @staticmethod
    def _sampling(request: ChatRequest) -> dict[str, Any]:
        return {
            "temp": request.temperature,
            "top_p": request.top_p,
            "top_k": request.top_k,
            "min_p": request.min_p,
            "repeat_penalty": request.repeat_penalty,
            "frequency_penalty": request.frequency_penalty,
            "presence_penalty": request.presence_penalty,
        }

    def _grammar(self, schema: dict[str, Any] | None) -> LlamaGrammar:
        """A grammar for JSON following ``schema`` (any JSON object when ``None``)."""
        from llama_cpp.llama_grammar import JSON_GBNF, json_schema_to_gbnf

        if schema is None:
            return self._cached_grammar("json", lambda: JSON_GBNF)
        text = json.dumps(schema, sort_keys=True)

        def build() -> str:
            try:
                return json_schema_to_gbnf(text)
            # The converter has no error type of its own; these are what it raises for the
            # schema features it lacks. Any JSON object still parses, and the caller's
            # validation (pydantic) reports what does not fit.
            except (ValueError, KeyError, TypeError, AssertionError, NotImplementedError):
                return JSON_GBNF

        return self._cached_grammar("schema:" + text, build)

    def _cached_grammar(self, key: str, build: Any) -> LlamaGrammar:
        from llama_cpp import LlamaGrammar

        grammar = self._grammars.get(key)
        if grammar is None:
            if len(self._grammars) >= _GRAMMAR_CACHE_SIZE:
                self._grammars.pop(next(iter(self._grammars)))
            grammar = LlamaGrammar.from_string(build(), verbose=False)
            self._grammars[key] = grammar
        return grammar


def _canonical(arguments: Any) -> str:
    """Call arguments in one spelling, so equal arguments compare equal."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return arguments.strip()
    return json.dumps(arguments, sort_keys=True, separators=(",", ":"))


def _answered_calls(messages: list[Mapping[str, Any]]) -> frozenset[tuple[str, str]]:
    """The calls of the last assistant turn, when the conversation ends with their results.

    Small models often answer a tool's result by making the same call again, in a loop; a
    call repeated right after its own result is never useful (it gets the same answer).
    """
    position = len(messages)
    while position > 0 and messages[position - 1].get("role") == "tool":
        position -= 1
    if position == len(messages) or position == 0:
        return frozenset()
    turn = messages[position - 1]
    calls = turn.get("tool_calls") if turn.get("role") == "assistant" else None
    if not isinstance(calls, list):
        return frozenset()
    answered: set[tuple[str, str]] = set()
    for call in calls:
        function = call.get("function") if isinstance(call, Mapping) else None
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            answered.add((function["name"], _canonical(function.get("arguments", "{}"))))
    return frozenset(answered)


def _finish(done: _Done, called: bool) -> str:
    if called and done.finish_reason != "length":
        return "tool_calls"
    return done.finish_reason


_ENGINES: dict[Path, LocalEngine] = {}
_ENGINES_LOCK = threading.Lock()


def get_engine(path: Path | str) -> LocalEngine:
    """The process-wide engine for a GGUF file (made on first use; loads on first request)."""
    key = Path(path).expanduser().resolve()
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            engine = _ENGINES[key] = LocalEngine(key)
        return engine
