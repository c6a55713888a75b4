"""Structured generation: a schema in, a validated pydantic object out.

Every workflow that needs data from a model (requirements, a design outline, task lists,
review findings) goes through ``generate``. It asks for the schema the way the model does
best: JSON-schema-constrained decoding where the model supports it (the embedded model, via
llama.cpp grammars; OpenAI's structured outputs), a forced output tool elsewhere. What comes
back is validated twice: by the schema (pydantic) and by the caller's ``check``, which
returns problems in words (an acceptance criterion that is not EARS, a task citing an
unknown requirement). Problems go back to the model as a retry prompt, up to ``repairs``
times; small models often fix on the second try what they got wrong on the first. If the
answer is still invalid, the error says what was wrong with the last one.

May import: the standard library, pydantic, pydantic-ai, ``specloom.errors`` and
``specloom.llm.routing``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from pydantic_ai import Agent, ModelRetry, NativeOutput
from pydantic_ai.exceptions import UnexpectedModelBehavior
from pydantic_ai.models import Model
from pydantic_ai.models.fallback import FallbackModel
from pydantic_ai.settings import ModelSettings
from pydantic_ai.usage import UsageLimits

from specloom.errors import ModelRequestError

__all__ = [
    "Generated",
    "generate",
    "generate_sync",
    "native_output_supported",
    "sampling_supported",
]

T = TypeVar("T", bound=BaseModel)

Check = Callable[[Any], Sequence[str]]


@dataclass(frozen=True, slots=True)
class Generated(Generic[T]):
    """A validated object and what it took.

    Attributes:
        value: The object.
        repairs: How many times the model was asked to fix its answer.
        input_tokens: Input tokens over all requests.
        output_tokens: Output tokens over all requests.
        requests: Model requests made.
    """

    value: T
    repairs: int
    input_tokens: int
    output_tokens: int
    requests: int


def native_output_supported(model: Model) -> bool:
    """Whether the model decodes to a JSON schema natively (else a forced tool is used)."""
    try:
        profile = model.profile
    except Exception:  # a wrapper with several models: let each decide through tools
        return False
    return bool(profile.get("supports_json_schema_output", False))


def sampling_supported(model: Model) -> bool:
    """Whether a ``temperature`` is honoured: reasoning models (GPT-5, the o-series) ignore it,
    and pydantic-ai warns on every request that sends one; for a fallback chain, every model
    must honour it."""
    if isinstance(model, FallbackModel):
        return all(sampling_supported(member) for member in model.models)
    try:
        profile = model.profile
    except NotImplementedError:  # a wrapper around a chain, which has no profile of its own
        return True
    return not profile.get("thinking_enabled_by_default", False)


async def generate(
    schema: type[T],
    prompt: str,
    *,
    model: Model,
    instructions: str | None = None,
    check: Callable[[T], Sequence[str]] | None = None,
    repairs: int = 3,
    max_tokens: int | None = 2048,
    temperature: float | None = 0.2,
) -> Generated[T]:
    """Ask ``model`` for a ``schema`` object and return it validated.

    Args:
        schema: The pydantic model to produce.
        prompt: The request.
        model: The model (from ``routing.resolve_model``).
        instructions: System instructions.
        check: Content validation beyond the schema; returns problems, empty if fine.
        repairs: How many times a schema or check failure is sent back to be fixed.
        max_tokens: Output cap per request (small models loop without one).
        temperature: Sampling temperature (not sent to models that ignore it).

    Raises:
        ModelRequestError: The answer was still invalid after ``repairs`` repairs.
    """
    output: Any = NativeOutput(schema) if native_output_supported(model) else schema
    agent: Agent[None, T] = Agent(
        model, output_type=output, instructions=instructions, retries={"output": repairs}
    )
    repaired = 0

    @agent.output_validator
    def _validate(value: T) -> T:
        nonlocal repaired
        problems = list(check(value)) if check is not None else []
        if problems:
            repaired += 1
            raise ModelRetry(
                "Fix these problems and answer again with the whole object:\n- "
                + "\n- ".join(problems)
            )
        return value

    settings: ModelSettings = {}
    if max_tokens is not None:
        settings["max_tokens"] = max_tokens
    if temperature is not None and sampling_supported(model):
        settings["temperature"] = temperature
    try:
        result = await agent.run(
            prompt,
            model_settings=settings,
            usage_limits=UsageLimits(request_limit=repairs + 2),
        )
    except UnexpectedModelBehavior as error:
        raise ModelRequestError(
            f"the model did not produce a valid {schema.__name__} after {repairs} repair(s): "
            f"{str(error).splitlines()[0]}",
            attempts=[],
            hint="Try a larger model with --model, or simplify the request.",
        ) from error
    usage = result.usage
    return Generated(
        result.output, repaired, usage.input_tokens, usage.output_tokens, usage.requests
    )


def generate_sync(schema: type[T], prompt: str, **options: Any) -> Generated[T]:
    """``generate`` for synchronous callers (the CLI): runs its own event loop."""
    import anyio

    async def run() -> Generated[T]:
        return await generate(schema, prompt, **options)

    return anyio.run(run)
