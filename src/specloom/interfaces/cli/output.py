"""How the CLI prints: rich tables on a terminal, plain text when piped, JSON on request.

Rich is imported only when a table is drawn on a terminal, so piped and ``--json`` output (and
``--help``) start fast.

May import: ``specloom.errors``, ``specloom.spec`` (for finding types).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from specloom.errors import UserFacingError
from specloom.spec.findings import Finding

__all__ = ["emit_json", "fail", "is_terminal", "print_findings", "print_table", "say"]


def is_terminal(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (stdout by default) is an interactive terminal."""
    stream = stream or sys.stdout
    if stream is None:
        return False
    if os.environ.get("NO_COLOR") is not None and os.environ.get("FORCE_COLOR") is None:
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def emit_json(data: object) -> None:
    """Print ``data`` as indented JSON on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def say(text: str = "") -> None:
    """Print one line of plain text on stdout."""
    sys.stdout.write(text + "\n")


def print_table(
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    styles: Sequence[str | None] | None = None,
) -> None:
    """A table: drawn with rich on a terminal, tab-free aligned text otherwise."""
    cells = [["" if value is None else str(value) for value in row] for row in rows]
    if is_terminal():
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title, title_justify="left", show_lines=False)
        for index, column in enumerate(columns):
            style = styles[index] if styles and index < len(styles) else None
            table.add_column(column, style=style, overflow="fold")
        for row in cells:
            table.add_row(*row)
        Console().print(table)
        return
    if title:
        say(title)
    widths = [len(column) for column in columns]
    for row in cells:
        for index, value in enumerate(row[: len(widths)]):
            widths[index] = max(widths[index], len(value))
    say("  ".join(column.ljust(widths[i]) for i, column in enumerate(columns)).rstrip())
    for row in cells:
        say("  ".join(value.ljust(widths[i]) for i, value in enumerate(row)).rstrip())


def print_findings(findings: list[Finding]) -> None:
    """Findings as ``file:line:col: severity RULE message`` lines (compilers' format, which
    editors link), each suggestion indented below its finding, then a count."""
    terminal = is_terminal()
    colors = {"error": "red", "warning": "yellow", "info": "cyan"}
    console = None
    if terminal:
        from rich.console import Console

        console = Console(highlight=False)
    for finding in findings:
        head = f"{finding.file}:{finding.line}:{finding.column}:"
        severity = finding.severity.value
        if console is not None:
            from rich.markup import escape

            console.print(
                f"[bold]{escape(head)}[/bold] [{colors[severity]}]{severity}[/] "
                f"[dim]{finding.rule}[/dim] {escape(finding.message)}"
            )
            if finding.suggestion:
                console.print(f"    [green]suggestion:[/green] {escape(finding.suggestion)}")
        else:
            say(f"{head} {severity} {finding.rule} {finding.message}")
            if finding.suggestion:
                say(f"    suggestion: {finding.suggestion}")
    counts = {name: 0 for name in ("error", "warning", "info")}
    for finding in findings:
        counts[finding.severity.value] += 1
    summary = ", ".join(f"{count} {name}{'s' if count != 1 else ''}" for name, count in
                        counts.items())  # fmt: skip
    say(f"{len(findings)} finding{'s' if len(findings) != 1 else ''} ({summary})")


def fail(error: UserFacingError, *, as_json: bool = False) -> int:
    """Report a user-facing error (one paragraph on stderr, or JSON on stdout) and return
    its exit code."""
    if as_json:
        emit_json(error.to_dict())
    sys.stderr.write(f"error: {error.render()}\n")
    return error.exit_code
