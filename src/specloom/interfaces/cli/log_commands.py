"""``specloom log``: what the agent did, from the project's append-only audit log.

May import: ``specloom.errors``, ``specloom.interfaces.cli`` and, inside the command,
``specloom.agent.audit``, ``specloom.llm.session`` and ``specloom.settings``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from specloom.interfaces.cli import JsonOption, app, handles_errors
from specloom.interfaces.cli.output import emit_json, print_table, say

__all__ = ["log_command"]


@app.command("log")
@handles_errors
def log_command(
    spec: Annotated[str | None, typer.Option("--spec", help="Only this spec's events.")] = None,
    run: Annotated[str | None, typer.Option("--run", help="Only this run's events.")] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            help="Only events of this kind: model_request, tool_call, tool_result, approval, "
            "checkpoint, context, answer, run_start, run_end, error.",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="From this day on: 2026-11-01, `today`, or 7d."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Only the newest N events.")
    ] = None,
    root: Annotated[
        Path | None,
        typer.Option("--root", help="Project root (default: found from the current folder)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The audit log: model requests, tool calls and results, approvals, checkpoints, the
    context of each prompt, runs and errors (secrets redacted), oldest first."""
    from specloom.agent.audit import AUDIT_NAME, AuditLog, parse_kind
    from specloom.interfaces.cli.usage_commands import parse_since
    from specloom.llm.session import project_root_or_none
    from specloom.settings import STATE_DIR, user_data_dir

    event_kind = parse_kind(kind) if kind is not None else None
    start = parse_since(since)
    project = project_root_or_none(root)
    path = (project / STATE_DIR if project else user_data_dir()) / AUDIT_NAME
    entries = []
    if path.exists():
        with AuditLog(path) as log:
            entries = log.entries(spec, event_kind, run, start, limit)
    if as_json:
        emit_json([entry.to_dict() for entry in entries])
        return
    if not entries:
        say(f"No audit events recorded ({path}).")
        return
    rows: list[list[object]] = []
    for entry in entries:
        where = "/".join(part for part in (entry.spec, entry.task) if part)
        stamp = entry.time.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        rows.append([stamp, entry.kind, where, entry.summary])
    print_table(None, ["time", "kind", "spec/task", "summary"], rows)
