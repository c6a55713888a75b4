"""Budgets: per-run and per-day spending caps, in USD or credits.

Caps come from the settings' ``budget`` section and from ``--budget`` on a command (which wins,
cap by cap)::

    "budget": {"run": {"usd": 2, "credits": 50}, "day": {"usd": 20}}

``--budget`` takes comma-separated caps: ``$5`` (this run, USD), ``100cr`` (this run, credits),
``day:$20``, ``day:300cr``, ``run:$1.50``. ``BudgetGuard.check`` runs before every model request
and stops the run with ``BudgetExceededError`` once what the run (or the local day) has spent
reaches a cap. A request in flight is never cut off, so a run can end slightly over its cap.
USD caps count only the requests whose prices are known (``specloom usage`` says how many were
not).

May import: the standard library, ``specloom.errors``, ``specloom.settings`` and
``specloom.llm.ledger``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from datetime import date
from typing import Any

from specloom.errors import BudgetExceededError, UsageError
from specloom.llm.ledger import Ledger
from specloom.settings import Settings

__all__ = ["Budget", "BudgetGuard", "parse_budget_option"]

_BUDGET_HINT = (
    'Write caps such as "$5", "100cr", "day:$20" or "run:$1.5,day:300cr" '
    "(USD with $ or usd, credits with cr or credits)."
)
_CAP = re.compile(
    r"""^(?:(?P<scope>run|day)\s*:\s*)?
        (?:\$\s*(?P<usd>\d+(?:\.\d+)?)
          |(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>\$|usd|cr|credits?)
        )$""",
    re.IGNORECASE | re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class Budget:
    """Spending caps; ``None`` means no cap.

    Attributes:
        run_usd: USD one run may spend.
        run_credits: Credits one run may spend.
        day_usd: USD all runs of one local day may spend.
        day_credits: Credits all runs of one local day may spend.
    """

    run_usd: float | None = None
    run_credits: float | None = None
    day_usd: float | None = None
    day_credits: float | None = None

    @property
    def empty(self) -> bool:
        """No cap is set."""
        return all(getattr(self, item.name) is None for item in fields(self))

    @classmethod
    def from_settings(cls, settings: Settings) -> Budget:
        """The caps of the settings' ``budget`` section.

        Raises:
            SettingsError: A scope or unit that does not exist, or a cap that is not a
                positive number (naming the file and line).
        """
        section = settings.section("budget")
        values: dict[str, float] = {}
        for scope, caps in section.items():
            if scope not in ("run", "day"):
                raise settings.error(
                    f"unknown budget scope {scope!r}",
                    "budget",
                    scope,
                    hint='Use "run" and "day", e.g. "budget": {"run": {"usd": 2}}.',
                )
            if not isinstance(caps, dict):
                raise settings.error(
                    f'`budget.{scope}` must be an object such as {{"usd": 2, "credits": 50}}',
                    "budget",
                    scope,
                )
            for unit, value in caps.items():
                if unit not in ("usd", "credits"):
                    raise settings.error(
                        f"unknown budget unit {unit!r} in `budget.{scope}`",
                        "budget",
                        scope,
                        unit,
                        hint='Use "usd" or "credits".',
                    )
                if value is None:
                    continue
                if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                    raise settings.error(
                        f"`budget.{scope}.{unit}` must be a positive number, not {value!r}",
                        "budget",
                        scope,
                        unit,
                    )
                values[f"{scope}_{unit}"] = float(value)
        return cls(**values)

    def merged(self, other: Budget) -> Budget:
        """These caps with ``other``'s set caps taking their place."""
        changes = {
            item.name: getattr(other, item.name)
            for item in fields(other)
            if getattr(other, item.name) is not None
        }
        return replace(self, **changes)

    def describe(self) -> str:
        """The caps in words (``"run $5, day 300 credits"``), or ``"no caps"``."""
        parts: list[str] = []
        for scope in ("run", "day"):
            usd = getattr(self, f"{scope}_usd")
            credits = getattr(self, f"{scope}_credits")
            if usd is not None:
                parts.append(f"{scope} ${usd:g}")
            if credits is not None:
                parts.append(f"{scope} {credits:g} credits")
        return ", ".join(parts) or "no caps"

    def to_dict(self) -> dict[str, Any]:
        """The caps as JSON, in the settings' shape."""
        return {
            scope: {
                unit: getattr(self, f"{scope}_{unit}")
                for unit in ("usd", "credits")
                if getattr(self, f"{scope}_{unit}") is not None
            }
            for scope in ("run", "day")
        }


def parse_budget_option(text: str) -> Budget:
    """Read ``--budget``: comma-separated caps such as ``$5``, ``100cr`` or ``day:$20``.

    Raises:
        UsageError: A cap that cannot be read, a zero or negative cap, or one cap given twice.
    """
    values: dict[str, float] = {}
    items = [item.strip() for item in text.split(",")]
    if not any(items):
        raise UsageError("--budget is empty.", hint=_BUDGET_HINT)
    for item in items:
        match = _CAP.match(item)
        if match is None:
            raise UsageError(f"cannot read the budget cap {item!r}.", hint=_BUDGET_HINT)
        scope = (match["scope"] or "run").lower()
        if match["usd"] is not None:
            unit, amount = "usd", float(match["usd"])
        else:
            raw_unit = match["unit"].lower()
            unit = "usd" if raw_unit in ("$", "usd") else "credits"
            amount = float(match["amount"])
        if amount <= 0:
            raise UsageError(f"the budget cap {item!r} must be above zero.", hint=_BUDGET_HINT)
        key = f"{scope}_{unit}"
        if key in values:
            raise UsageError(
                f"--budget gives the {scope} {unit} cap twice.", hint="Give each cap once."
            )
        values[key] = amount
    return Budget(**values)


class BudgetGuard:
    """Stops a run before a request once its run or its day has reached a cap.

    Args:
        budget: The caps.
        ledger: Where spending is read from.
        run_id: The run whose spending counts against the run caps.
        today: The local day (a callable, for tests); default ``date.today``.
    """

    def __init__(
        self,
        budget: Budget,
        ledger: Ledger,
        run_id: str,
        *,
        today: Any = date.today,
    ) -> None:
        self.budget = budget
        self.ledger = ledger
        self.run_id = run_id
        self._today = today

    def check(self) -> None:
        """Raise ``BudgetExceededError`` if a cap is reached; cheap when there are no caps."""
        budget = self.budget
        if budget.run_usd is not None or budget.run_credits is not None:
            spent = self.ledger.spent(run_id=self.run_id)
            _enforce("run", "usd", budget.run_usd, spent.usd)
            _enforce("run", "credits", budget.run_credits, spent.credits)
        if budget.day_usd is not None or budget.day_credits is not None:
            spent = self.ledger.spent(day=self._today())
            _enforce("day", "usd", budget.day_usd, spent.usd)
            _enforce("day", "credits", budget.day_credits, spent.credits)


def _enforce(scope: str, unit: str, cap: float | None, spent: float) -> None:
    if cap is not None and spent >= cap:
        raise BudgetExceededError(scope=scope, unit=unit, cap=cap, spent=spent)
