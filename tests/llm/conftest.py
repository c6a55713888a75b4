"""Fixtures for the embedded model: the real weights when installed, and a scripted engine.

The autouse ``clean_environment`` fixture gives each test an empty cache dir, so the weights
that ``specloom models pull`` installed are located here, when this file is imported (before
any test changes the environment), and handed to tests through ``SPECLOOM_LOCAL_MODEL_PATH``.
Tests that need them skip, saying how to install them, when they are not there.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from specloom.errors import ModelUnavailableError
from specloom.llm.local.request import message_text, parse_request
from specloom.llm.local.weights import MODEL_PATH_ENV, WEIGHTS, marker_path
from specloom.settings import user_cache_dir

_INSTALLED = user_cache_dir() / "models"
_EXPLICIT = os.environ.get(MODEL_PATH_ENV)


def installed_weights(variant: str) -> Path | None:
    """The verified GGUF file of a variant that ``specloom models pull`` installed, if any."""
    if _EXPLICIT and variant == "1.5b":
        return Path(_EXPLICIT)
    weights = WEIGHTS[variant]
    path = _INSTALLED / weights.file_name
    try:
        marker = json.loads(marker_path(path).read_text(encoding="utf-8"))
        size = path.stat().st_size
    except (OSError, ValueError):
        return None
    if marker.get("sha256") != weights.sha256 or size != weights.size:
        return None
    return path


def _require(variant: str) -> Path:
    path = installed_weights(variant)
    if path is None:
        command = "local" if variant == "1.5b" else "local-0.5b"
        pytest.skip(
            f"the embedded model's {variant} weights are not installed "
            f"(run `specloom models pull {command}`)"
        )
    return path


@pytest.fixture(scope="session")
def model_file() -> Path:
    """The real Qwen2.5-Coder-1.5B GGUF file (the test skips when it is not installed)."""
    return _require("1.5b")


@pytest.fixture(scope="session")
def small_model_file() -> Path:
    """The 0.5B GGUF file when installed, else the 1.5B one (for plumbing, not quality)."""
    return installed_weights("0.5b") or _require("1.5b")


@pytest.fixture
def real_weights(model_file: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ``SPECLOOM_LOCAL_MODEL_PATH`` at the real 1.5B file, so specloom's own
    resolution (``providers.build_model`` -> ``resolve_weights`` -> ``get_engine``) finds it.
    The engine is process-wide per file, so it is loaded once for every test that uses it."""
    monkeypatch.setenv(MODEL_PATH_ENV, str(model_file))
    return model_file


class ScriptedEngine:
    """A ``protocol.ChatEngine`` that answers without a model, in the OpenAI format.

    Requests are validated by the real ``parse_request`` (so invalid ones raise the same
    ``UsageError``); the answer is ``answer`` if set, else ``echo: <last user message>``,
    streamed one word per chunk.

    Attributes:
        model_name: Listed by ``/v1/models``.
        answer: The fixed answer, if any.
        unavailable: Raise ``ModelUnavailableError`` on every request (weights that cannot load).
        fail_after: Raise this error mid-stream, after the first chunk.
        requests: Every request body received.
        closed_streams: How many streams were closed before their end.
    """

    def __init__(self, model_name: str = "scripted-model", answer: str | None = None) -> None:
        self.model_name = model_name
        self.answer = answer
        self.unavailable = False
        self.fail_after: Exception | None = None
        self.requests: list[Mapping[str, Any]] = []
        self.closed_streams = 0

    def _text(self, payload: Mapping[str, Any]) -> tuple[str, int]:
        self.requests.append(payload)
        if self.unavailable:
            raise ModelUnavailableError("local", "the weights cannot be loaded", hint="Pull them.")
        request = parse_request(payload)
        last = next(m for m in reversed(request.messages) if m.get("role") == "user")
        prompt = message_text(last.get("content"))
        return (self.answer or f"echo: {prompt}"), len(prompt.split())

    def chat(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        text, prompt_tokens = self._text(payload)
        completion = len(text.split())
        return {
            "id": "chatcmpl-scripted",
            "object": "chat.completion",
            "created": 1_760_000_000,
            "model": self.model_name,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion,
                "total_tokens": prompt_tokens + completion,
            },
        }

    def chat_stream(self, payload: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        text, prompt_tokens = self._text(payload)
        include_usage = parse_request(payload).include_usage
        return self._chunks(text, prompt_tokens, include_usage)

    def _chunks(
        self, text: str, prompt_tokens: int, include_usage: bool
    ) -> Iterator[dict[str, Any]]:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": "chatcmpl-scripted",
                "object": "chat.completion.chunk",
                "created": 1_760_000_000,
                "model": self.model_name,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        words = text.split(" ")
        finished = False
        try:
            yield chunk({"role": "assistant", "content": ""})
            for index, word in enumerate(words):
                if self.fail_after is not None and index == 1:
                    raise self.fail_after
                yield chunk({"content": word if index == 0 else " " + word})
            yield chunk({}, "stop")
            if include_usage:
                usage = {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": len(words),
                    "total_tokens": prompt_tokens + len(words),
                }
                yield chunk({}) | {"choices": [], "usage": usage}
            finished = True
        finally:
            if not finished:
                self.closed_streams += 1


@pytest.fixture
def scripted_engine() -> ScriptedEngine:
    """A fresh ``ScriptedEngine``."""
    return ScriptedEngine()
