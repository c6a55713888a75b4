"""``specloom usage``: what model requests have cost, from the usage ledger.

May import: ``specloom.errors``, ``specloom.interfaces.cli`` and, inside the command,
``specloom.llm`` and ``specloom.settings``.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from specloom.errors import UsageError
from specloom.interfaces.cli import JsonOption, app, handles_errors
from specloom.interfaces.cli.output import emit_json, print_table, say

__all__ = ["parse_since"]

_RELATIVE = re.compile(r"^(\d+)\s*d(?:ays?)?$", re.IGNORECASE)


class GroupBy(StrEnum):
    """How ``specloom usage`` groups requests."""

    day = "day"
    spec = "spec"
    model = "model"
    command = "command"
    run = "run"


def parse_since(text: str | None, *, today: date | None = None) -> date | None:
    """Read ``--since``: a date (``2026-11-01``), ``today``, ``yesterday`` or a number of days
    (``7d``).

    ``7d`` means the last seven local days, today included.

    Raises:
        UsageError: Anything else.
    """
    if text is None:
        return None
    today = today or date.today()
    value = text.strip().lower()
    if value == "today":
        return today
    if value == "yesterday":
        return today - timedelta(days=1)
    match = _RELATIVE.match(value)
    if match:
        days = int(match[1])
        if days < 1:
            raise UsageError(f"--since {text!r} must count at least one day.", hint="Use 1d.")
        return today - timedelta(days=days - 1)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"cannot read --since {text!r}.",
            hint="Give a date (2026-11-01), `today`, or a number of days (7d).",
        ) from None


@app.command("usage")
@handles_errors
def usage_command(
    by: Annotated[
        GroupBy, typer.Option("--by", help="Group by day, spec, model, command or run.")
    ] = GroupBy.day,  # fmt: skip
    since: Annotated[
        str | None,
        typer.Option("--since", help="From this day on: 2026-11-01, `today`, or 7d."),
    ] = None,
    root: Annotated[
        Path | None,
        typer.Option("--root", help="Project root (default: found from the current folder)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Tokens, USD and credits spent on models, per day, spec, model, command or run."""
    from specloom.llm.ledger import LEDGER_NAME, Ledger
    from specloom.llm.session import project_root_or_none
    from specloom.settings import state_dir

    start = parse_since(since)
    project = project_root_or_none(root)
    path = state_dir(project) / LEDGER_NAME
    groups = []
    if path.exists():
        with Ledger(path) as ledger:
            groups = ledger.totals(by.value, since=start)
    totals = {
        "requests": sum(group.requests for group in groups),
        "failed": sum(group.failed for group in groups),
        "input_tokens": sum(group.input_tokens for group in groups),
        "output_tokens": sum(group.output_tokens for group in groups),
        "cached_tokens": sum(group.cached_tokens for group in groups),
        "cost_usd": round(sum(group.cost_usd for group in groups), 6),
        "credits": round(sum(group.credits for group in groups), 6),
        "unknown_cost_requests": sum(group.unknown_cost_requests for group in groups),
    }
    if as_json:
        emit_json(
            {
                "ledger": str(path),
                "by": by.value,
                "since": start.isoformat() if start else None,
                "groups": [group.to_dict() for group in groups],
                "total": totals,
            }
        )
        return
    if not groups:
        say(f"No model requests recorded{f' since {start}' if start else ''} ({path}).")
        return
    rows: list[list[object]] = [
        [
            group.key or "(none)",
            group.requests,
            group.failed,
            f"{group.input_tokens:,}",
            f"{group.output_tokens:,}",
            f"{group.cached_tokens:,}",
            f"${group.cost_usd:.4f}" + ("*" if group.unknown_cost_requests else ""),
            f"{group.credits:.2f}",
        ]
        for group in groups
    ]
    rows.append(
        [
            "total",
            totals["requests"],
            totals["failed"],
            f"{totals['input_tokens']:,}",
            f"{totals['output_tokens']:,}",
            f"{totals['cached_tokens']:,}",
            f"${totals['cost_usd']:.4f}",
            f"{totals['credits']:.2f}",
        ]
    )
    print_table(
        f"Model usage by {by.value}" + (f" since {start}" if start else ""),
        [by.value, "requests", "failed", "input", "output", "cached", "USD", "credits"],
        rows,
    )
    if totals["unknown_cost_requests"]:
        say(
            f"* {totals['unknown_cost_requests']} request(s) to models with unknown prices are "
            "not in USD (set their prices in the settings' `models` entries)."
        )
