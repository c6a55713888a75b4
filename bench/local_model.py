"""Embedded-model benchmark: specloom's path against raw llama-cpp-python, side by side.

The same prompt (a ChatML conversation of a few hundred tokens asking for code), the same
weights (Qwen2.5-Coder-1.5B Q4_K_M), ``n_ctx``, ``n_threads`` and sampling (greedy, top-k 40,
top-p 0.95, min-p 0.05, repeat penalty 1.1), the same ``max_tokens``, through three paths:

* raw: ``Llama.generate`` on the prompt's tokens, each token detokenised (the ceiling);
* engine: ``LocalEngine.chat_stream`` (request parsing, prompt rendering, the token loop);
* pydantic-ai: an ``Agent`` streaming from ``local_model`` (the whole path a workflow takes:
  OpenAI JSON request, in-process transport, server-sent events, OpenAI SDK, pydantic-ai).

Runs alternate between the paths (the order rotates each round) so that drift in the
machine's load hits them alike. Each path has its own loaded model, and the KV cache is
reset before every run, so every run processes the whole prompt. Prompt processing is the
prompt's tokens over the time to the first token; generation is the tokens after the first
over the time from the first to the last. The target: specloom's path keeps at least 0.9 of
raw llama-cpp-python's generation speed.

Load time and peak memory (RSS) are measured in fresh processes, one per path, each loading
the model and generating 16 tokens.

May import: the standard library, ``specloom``, ``llama_cpp``, ``pydantic_ai`` and
``reporting`` (a sibling in bench/).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reporting import Table, load_average, median, verdict

__all__ = ["TARGET_RATIO", "run_local"]

TARGET_RATIO = 0.9
"""specloom's generation speed over raw llama-cpp-python's must be at least this."""

_SAMPLING = {
    "temp": 0.0,
    "top_p": 0.95,
    "top_k": 40,
    "min_p": 0.05,
    "repeat_penalty": 1.1,
    "frequency_penalty": 0.0,
    "presence_penalty": 0.0,
}
_SYSTEM = "You are a careful senior Python engineer. Answer with code only."
_REQUIREMENT = (
    "- WHEN a user adds an item with a name and a quantity, THE inventory SHALL store it and "
    "return its new identifier; IF the quantity is negative, THEN THE inventory SHALL refuse "
    "it with a clear message naming the field.\n"
)


@dataclass(slots=True)
class _Run:
    prompt_tokens: int
    completion_tokens: int
    first_s: float
    last_s: float

    @property
    def prompt_rate(self) -> float:
        return self.prompt_tokens / self.first_s

    @property
    def generation_rate(self) -> float:
        span = self.last_s - self.first_s
        return (self.completion_tokens - 1) / span if span > 0 else float("nan")


@dataclass(slots=True)
class _Path:
    label: str
    run: Callable[[], _Run]
    runs: list[_Run] = field(default_factory=list)


def _user_prompt(requirements: int) -> str:
    return (
        "Implement this specification as one Python module with a class `Inventory`, type "
        "hints, docstrings and a test function for every requirement.\n\n"
        + _REQUIREMENT
        * requirements
    )


def _messages(requirements: int) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": _SYSTEM},
        {"role": "user", "content": _user_prompt(requirements)},
    ]


def _chatml_tokens(llama: Any, requirements: int) -> list[int]:
    """The prompt as specloom renders it, tokenised the same way (control tokens apart)."""
    tokens: list[int] = []

    def control(marker: str) -> None:
        tokens.extend(llama.tokenize(marker.encode(), add_bos=False, special=True))

    def text(value: str) -> None:
        tokens.extend(llama.tokenize(value.encode(), add_bos=False, special=False))

    for role, content in (("system", _SYSTEM), ("user", _user_prompt(requirements))):
        control("<|im_start|>")
        text(f"{role}\n{content}")
        control("<|im_end|>")
        text("\n")
    control("<|im_start|>")
    text("assistant\n")
    return tokens


def _raw_run(llama: Any, prompt: list[int], max_tokens: int) -> _Run:
    stops = {llama.token_eos(), *llama.tokenize(b"<|im_end|>", add_bos=False, special=True)}
    llama.reset()  # no KV-cache reuse: every run processes the whole prompt
    started = time.perf_counter()
    first = last = 0.0
    count = 0
    for token in llama.generate(prompt, **_SAMPLING):
        if token in stops:
            break
        llama.detokenize([token])
        count += 1
        last = time.perf_counter() - started
        if count == 1:
            first = last
        if count >= max_tokens:
            break
    return _Run(len(prompt), count, first, last)


def _engine_run(engine: Any, requirements: int, max_tokens: int) -> _Run:
    engine.load().reset()
    payload = {
        "messages": _messages(requirements),
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    started = time.perf_counter()
    first = last = 0.0
    usage: dict[str, int] = {}
    chunks: Iterator[dict[str, Any]] = engine.chat_stream(payload)
    for chunk in chunks:
        if chunk.get("usage"):
            usage = chunk["usage"]
        if chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
            last = time.perf_counter() - started
            first = first or last
    return _Run(usage["prompt_tokens"], usage["completion_tokens"], first, last)


def _agent_run(model: Any, engine: Any, requirements: int, max_tokens: int) -> _Run:
    import anyio
    from pydantic_ai import Agent

    agent: Agent[None, str] = Agent(model, instructions=_SYSTEM)
    engine.load().reset()

    async def run() -> _Run:
        started = time.perf_counter()
        first = last = 0.0
        async with agent.run_stream(
            _user_prompt(requirements),
            model_settings={"max_tokens": max_tokens, "temperature": 0.0},
        ) as result:
            async for _piece in result.stream_text(delta=True, debounce_by=None):
                last = time.perf_counter() - started
                first = first or last
            usage = result.usage
        return _Run(usage.input_tokens, usage.output_tokens, first, last)

    return anyio.run(run)


_PROBE = """
import json, resource, sys, time
path, side, n_ctx, n_threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
messages = [{"role": "user", "content": "Write a Python function that adds two numbers."}]
if side == "raw":
    from llama_cpp import Llama
    started = time.perf_counter()
    llama = Llama(path, n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads, verbose=False)
    load = time.perf_counter() - started
    prompt = llama.tokenize(b"<|im_start|>user\\nWrite a Python function.<|im_end|>\\n"
                            b"<|im_start|>assistant\\n", add_bos=False, special=True)
    for index, _token in enumerate(llama.generate(prompt, temp=0.0)):
        if index >= 15:
            break
else:
    from specloom.llm.local.engine import LocalEngine
    engine = LocalEngine(path, n_ctx=n_ctx, n_threads=n_threads)
    started = time.perf_counter()
    engine.load()
    load = time.perf_counter() - started
    engine.chat({"messages": messages, "max_tokens": 16, "temperature": 0.0})
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"load_s": load, "peak_rss": peak}))
"""


def _probe(path: Path, side: str, n_ctx: int, n_threads: int) -> dict[str, float]:
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE, str(path), side, str(n_ctx), str(n_threads)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _gib(count: float) -> str:
    return f"{count / 1024**3:.2f} GiB"


def run_local(runs: int = 5, max_tokens: int = 128, requirements: int = 12) -> list[Table]:
    """Run the embedded-model benchmark and return its tables.

    Args:
        runs: Timed runs per path (alternating).
        max_tokens: Tokens generated per run.
        requirements: Requirement lines in the prompt (about 45 tokens each).
    """
    from specloom.errors import ModelUnavailableError
    from specloom.llm.local.weights import resolve_weights

    try:
        path = resolve_weights("1.5b")
    except ModelUnavailableError as error:
        table = Table("Embedded model", ["what", "value"], [["skipped", str(error)]], align="ll")
        return [table]
    from llama_cpp import Llama

    from specloom.llm.local.engine import LocalEngine
    from specloom.llm.local.transport import LocalTransport, chat_model, model_name

    load_before = load_average()
    engine = LocalEngine(path)
    engine.load()
    # The baseline runs on the engine's thread too: llama.cpp's worker threads belong to the
    # calling thread, and two sets of them in one process slow each other down.
    raw = engine.on_engine_thread(
        lambda: Llama(
            str(path),
            n_ctx=engine.n_ctx,
            n_threads=engine.n_threads,
            n_threads_batch=engine.n_threads,
            verbose=False,
        )
    )
    prompt = _chatml_tokens(raw, requirements)
    model = chat_model(LocalTransport(engine), "http://embedded.specloom.invalid/v1",
                       model_name("1.5b"))  # fmt: skip
    paths = [
        _Path("raw llama-cpp-python (Llama.generate)",
              lambda: engine.on_engine_thread(_raw_run, raw, prompt, max_tokens)),
        _Path("specloom LocalEngine.chat_stream",
              lambda: _engine_run(engine, requirements, max_tokens)),
        _Path("specloom local_model (pydantic-ai Agent, streamed)",
              lambda: _agent_run(model, engine, requirements, max_tokens)),
    ]  # fmt: skip
    engine.on_engine_thread(
        _raw_run, raw, prompt[:32], 4
    )  # warm-ups: first-call costs stay out of the figures
    _engine_run(engine, 1, 4)
    for round_index in range(runs):
        shift = round_index % len(paths)
        for side in paths[shift:] + paths[:shift]:
            side.runs.append(side.run())
    engine.on_engine_thread(raw.close)
    engine.close()

    baseline = paths[0]
    base_generation = median([run.generation_rate for run in baseline.runs])
    base_prompt = median([run.prompt_rate for run in baseline.runs])
    rows: list[list[str]] = []
    passed: list[bool] = []
    for side in paths:
        generation = median([run.generation_rate for run in side.runs])
        prompt_rate = median([run.prompt_rate for run in side.runs])
        ratio = generation / base_generation
        if side is not baseline:
            passed.append(ratio >= TARGET_RATIO)
        rows.append(
            [
                side.label,
                f"{side.runs[0].prompt_tokens}",
                f"{median([float(run.completion_tokens) for run in side.runs]):.0f}",
                f"{prompt_rate:.1f}",
                f"{generation:.1f}",
                f"{median([run.first_s for run in side.runs]):.2f} s",
                f"{prompt_rate / base_prompt:.2f}",
                f"{ratio:.2f}",
            ]
        )
    speed = Table(
        f"Embedded model speed: Qwen2.5-Coder-1.5B Q4_K_M, n_ctx={engine.n_ctx}, "
        f"n_threads={engine.n_threads}, {runs} alternating runs per path (medians)",
        ["path", "prompt tok", "output tok", "prompt tok/s", "gen tok/s", "first token",
         "prompt ratio", "gen ratio"],
        rows,
        align="lrrrrrrr",
        notes=[
            f"target: specloom's generation speed >= {TARGET_RATIO} x raw llama-cpp-python: "
            + verdict(all(passed)),
            f"load average before: {load_before}, after: {load_average()}",
        ],
    )  # fmt: skip

    memory_rows: list[list[str]] = []
    for side, label in (("raw", "raw llama-cpp-python"), ("specloom", "specloom LocalEngine")):
        figures = _probe(path, side, engine.n_ctx, engine.n_threads)
        memory_rows.append([label, f"{figures['load_s']:.2f} s", _gib(figures["peak_rss"])])
    memory = Table(
        "Embedded model load time and peak memory (fresh process each, load + 16 tokens)",
        ["path", "load", "peak RSS"],
        memory_rows,
        notes=[f"weights: {path.name} ({_gib(path.stat().st_size)})"],
    )
    return [speed, memory]
