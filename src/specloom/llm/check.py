"""``models check``: prove a model works by one structured-output request and one tool call.

Each probe reports success, latency, tokens and, on failure, what went wrong; the model
that answered is taken from the usage recorder (for Auto it may not be the first choice).

May import: the standard library, pydantic, pydantic-ai and the ``specloom.llm`` modules.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from pydantic import BaseModel, Field
from pydantic_ai import Agent
from pydantic_ai.models import Model
from pydantic_ai.settings import ModelSettings
from pydantic_ai.usage import UsageLimits

from specloom.errors import UserFacingError
from specloom.llm.metering import UsageRecorder
from specloom.llm.routing import describe_failure
from specloom.llm.structured import generate, sampling_supported

__all__ = ["CheckReport", "ProbeResult", "check_model"]


class _Capital(BaseModel):
    """The capital of a country."""

    country: str = Field(description="The country, in English")
    capital: str = Field(description="Its capital city, in English")


@dataclass(slots=True)
class ProbeResult:
    """One probe of ``models check``.

    Attributes:
        name: ``structured_output`` or ``tool_call``.
        ok: It worked.
        latency_s: Wall seconds.
        input_tokens: Input tokens used.
        output_tokens: Output tokens used.
        detail: What came back, or what went wrong.
    """

    name: str
    ok: bool
    latency_s: float
    input_tokens: int = 0
    output_tokens: int = 0
    detail: str = ""


@dataclass(slots=True)
class CheckReport:
    """Both probes and the model(s) that answered.

    Attributes:
        model: What was asked for (a catalog id, ``auto`` or ``py:...``).
        answered_by: Catalog ids of the models that answered, in order.
        probes: The probe results.
    """

    model: str
    answered_by: list[str] = field(default_factory=list)
    probes: list[ProbeResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every probe worked."""
        return all(probe.ok for probe in self.probes)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready data."""
        return {
            "model": self.model,
            "ok": self.ok,
            "answered_by": self.answered_by,
            "probes": [asdict(probe) for probe in self.probes],
        }


def _failure_text(error: Exception, recorder: UsageRecorder, since: int) -> str:
    described = describe_failure(error, recorder, since=since)
    if described is not None:
        return described.message
    if isinstance(error, UserFacingError):
        return error.message
    return f"{type(error).__name__}: {error}"


async def check_model(name: str, model: Model, recorder: UsageRecorder) -> CheckReport:
    """Run both probes against ``model``.

    Raises:
        BudgetExceededError: A cap was reached (other failures are reported, not raised).
    """
    from specloom.errors import BudgetExceededError

    report = CheckReport(name)
    first = len(recorder.answers)
    started = time.monotonic()
    try:
        generated = await generate(
            _Capital,
            "What is the capital of France? Answer with the country and its capital.",
            model=model,
            check=lambda value: (
                []
                if "paris" in value.capital.lower()
                else [f"{value.capital!r} is not the capital of France"]
            ),
            repairs=2,
            max_tokens=200,
        )
        report.probes.append(
            ProbeResult(
                "structured_output",
                True,
                round(time.monotonic() - started, 3),
                generated.input_tokens,
                generated.output_tokens,
                generated.value.model_dump_json(),
            )
        )
    except BudgetExceededError:
        raise
    except Exception as error:  # a probe reports any failure instead of stopping the check
        report.probes.append(
            ProbeResult(
                "structured_output",
                False,
                round(time.monotonic() - started, 3),
                detail=_failure_text(error, recorder, first),
            )
        )
    report.probes.append(await _tool_probe(model, recorder))
    report.answered_by = list(dict.fromkeys(recorder.answered_by))
    return report


async def _tool_probe(model: Model, recorder: UsageRecorder) -> ProbeResult:
    from specloom.errors import BudgetExceededError

    calls: list[tuple[int, int]] = []
    agent: Agent[None, str] = Agent(
        model,
        instructions="You are a calculator. Always use the `add` tool to add numbers.",
    )

    @agent.tool_plain
    def add(a: int, b: int) -> int:
        """Add two whole numbers.

        Args:
            a: The first number.
            b: The second number.
        """
        calls.append((a, b))
        return a + b

    settings: ModelSettings = {"max_tokens": 200}
    if sampling_supported(model):
        settings["temperature"] = 0.0
    first = len(recorder.answers)
    started = time.monotonic()
    try:
        result = await agent.run(
            "Use the add tool to compute 17 + 25, then tell me the result.",
            model_settings=settings,
            usage_limits=UsageLimits(request_limit=4),
        )
    except BudgetExceededError:
        raise
    except Exception as error:  # a probe reports any failure instead of stopping the check
        return ProbeResult(
            "tool_call",
            False,
            round(time.monotonic() - started, 3),
            detail=_failure_text(error, recorder, first),
        )
    usage = result.usage
    called = (17, 25) in calls or (25, 17) in calls
    detail = (
        f"add called with {calls}; answer: {result.output.strip()[:120]}"
        if calls
        else (f"no tool call; answer: {result.output.strip()[:120]}")
    )
    return ProbeResult(
        "tool_call",
        called,
        round(time.monotonic() - started, 3),
        usage.input_tokens,
        usage.output_tokens,
        detail,
    )
