"""Metering: every model request written to the usage ledger, and budgets enforced before each.

A ``UsageRecorder`` is made once per command run. It knows what the requests serve (command,
spec, task, run id), the ledger to write to and the budget guard to ask; every model
specloom builds for the run reports to it (``routing.RoutedModel`` calls ``check`` before a
request and ``record`` after it). It also keeps, in memory, which model answered each
request, so a command can say so.

May import: the standard library, ``specloom.llm.catalog``, ``specloom.llm.ledger``,
``specloom.llm.budget`` and ``specloom.llm.credits``.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field

from specloom.llm.budget import BudgetGuard
from specloom.llm.catalog import ModelEntry
from specloom.llm.credits import credits_for
from specloom.llm.ledger import Ledger, UsageRecord

__all__ = ["Answer", "UsageContext", "UsageRecorder"]


@dataclass(frozen=True, slots=True)
class UsageContext:
    """What the requests of a run serve, written with each ledger row.

    Attributes:
        command: The command (``new``, ``run``, ``models check``...).
        spec: The spec's name, if the work is for one.
        task: The task id, if the work is for one.
        run_id: Groups the requests of one run (per-run budgets count by it).
    """

    command: str | None = None
    spec: str | None = None
    task: str | None = None
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])


@dataclass(frozen=True, slots=True)
class Answer:
    """One request and the model that answered (or failed) it.

    Attributes:
        model_id: The catalog id.
        ok: It answered.
        input_tokens: Input tokens, cached ones included.
        output_tokens: Output tokens.
        cached_tokens: Input tokens read from the provider's cache.
        cost_usd: USD, if prices are known.
        credits: Credits, by the model's multiplier.
        duration_s: Seconds the request took.
        error: What went wrong, for a failed attempt.
    """

    model_id: str
    ok: bool
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float | None = None
    credits: float = 0.0
    duration_s: float = 0.0
    error: str = ""


class UsageRecorder:
    """Writes each request of a run to the ledger and enforces the run's budget.

    Args:
        context: What the requests serve.
        ledger: Where rows go, or ``None`` to keep them in memory only.
        guard: The budget guard, or ``None`` for no caps.
    """

    def __init__(
        self,
        context: UsageContext | None = None,
        ledger: Ledger | None = None,
        guard: BudgetGuard | None = None,
    ) -> None:
        self.context = context or UsageContext()
        self.ledger = ledger
        self.guard = guard
        self.answers: list[Answer] = []
        self._lock = threading.Lock()

    def scoped(self, *, spec: str | None = None, task: str | None = None) -> UsageRecorder:
        """A recorder for part of the run (one task), sharing ledger, guard and answers."""
        child = UsageRecorder(
            UsageContext(
                self.context.command,
                spec if spec is not None else self.context.spec,
                task if task is not None else self.context.task,
                self.context.run_id,
            ),
            self.ledger,
            self.guard,
        )
        child.answers = self.answers
        child._lock = self._lock
        return child

    def check(self) -> None:
        """Raise ``BudgetExceededError`` if a cap is already reached."""
        if self.guard is not None:
            self.guard.check()

    def record(
        self,
        entry: ModelEntry,
        *,
        input_tokens: int,
        output_tokens: int,
        cached_tokens: int = 0,
        duration_s: float = 0.0,
        ok: bool = True,
        error: str = "",
    ) -> Answer:
        """Record one request (a failed attempt too: it may have cost tokens)."""
        cost = entry.cost(input_tokens, output_tokens, cached_tokens)
        credits = credits_for(input_tokens, output_tokens, cached_tokens, entry.credit_multiplier)
        answer = Answer(
            entry.id,
            ok,
            input_tokens,
            output_tokens,
            cached_tokens,
            cost,
            credits,
            duration_s,
            error,
        )
        with self._lock:
            self.answers.append(answer)
        if self.ledger is not None:
            self.ledger.record(
                UsageRecord(
                    model_id=entry.id,
                    provider=entry.provider,
                    input_tokens=input_tokens,
                    output_tokens=output_tokens,
                    cached_tokens=cached_tokens,
                    cost_usd=cost,
                    credits=credits,
                    command=self.context.command,
                    spec=self.context.spec,
                    task=self.context.task,
                    run_id=self.context.run_id,
                    duration_s=duration_s,
                    ok=ok,
                    error=error,
                )
            )
        return answer

    @property
    def answered_by(self) -> list[str]:
        """The ids of the models that answered, request by request."""
        with self._lock:
            return [answer.model_id for answer in self.answers if answer.ok]

    def totals(self) -> dict[str, float]:
        """Tokens, USD (known part) and credits of this recorder's requests."""
        with self._lock:
            answers = list(self.answers)
        return {
            "requests": len(answers),
            "input_tokens": sum(a.input_tokens for a in answers),
            "output_tokens": sum(a.output_tokens for a in answers),
            "cached_tokens": sum(a.cached_tokens for a in answers),
            "cost_usd": round(sum(a.cost_usd or 0.0 for a in answers), 6),
            "credits": round(sum(a.credits for a in answers), 4),
        }
