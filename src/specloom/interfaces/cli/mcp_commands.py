"""``specloom mcp ...``: the MCP servers the agent can use, their state and tools.

Exit codes of ``specloom mcp list``: 0 every enabled server answered; 1 a server failed to
start or its entry is invalid; 2 an MCP file cannot be read (its servers are left out).

May import: ``specloom.errors``, ``specloom.interfaces.cli`` and, inside the commands,
``anyio``, ``specloom.agent.mcp`` and ``specloom.workspace``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from specloom.errors import UsageError
from specloom.interfaces.cli import JsonOption, app, handles_errors
from specloom.interfaces.cli.output import emit_json, print_table, say

if TYPE_CHECKING:
    from specloom.agent.mcp import ServerState

__all__ = ["mcp_app"]

mcp_app = typer.Typer(
    name="mcp",
    help="The MCP servers the agent can use (.kiro/settings/mcp.json and "
    "~/.kiro/settings/mcp.json): their state and tools.",
    no_args_is_help=True,
)
app.add_typer(mcp_app, name="mcp")


def _shown(path: Path, root: Path | None) -> str:
    """A file as the user knows it: relative to the project, or under ``~``."""
    for base, prefix in ((root, ""), (Path.home(), "~/")):
        if base is None:
            continue
        try:
            return prefix + path.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            continue
    return str(path)


def _tools(state: ServerState) -> str:
    if state.state != "connected":
        return ""
    if not state.tools:
        return "(none)"
    return ", ".join(
        tool.name + ("*" if tool.auto_approved else "") + (" (off)" if tool.disabled else "")
        for tool in state.tools
    )


@mcp_app.command("list")
@handles_errors
def list_command(
    root: Annotated[
        Path | None,
        typer.Option("--root", help="Project root (default: found from the current folder)."),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option("--timeout", help="Seconds each server gets to start and list its tools."),
    ] = 30.0,
    as_json: JsonOption = False,
) -> None:
    """Every configured MCP server: where it is defined, whether it starts, and its tools.

    Enabled servers are started (all at once) and stopped again.
    """
    import anyio

    from specloom.agent.mcp import inspect_servers, load_mcp_config
    from specloom.errors import WorkspaceError
    from specloom.workspace import find_root

    if timeout <= 0:
        raise UsageError(f"--timeout {timeout:g} must be more than 0 seconds.", hint="Try 30.")
    if root is not None:
        project: Path | None = root.resolve()
    else:
        try:
            project = find_root()
        except WorkspaceError:
            project = None
    config = load_mcp_config(project)
    states = anyio.run(inspect_servers, config, timeout)
    file_problems = [problem for problem in config.problems if problem.server is None]
    for problem in file_problems:
        sys.stderr.write(f"error: {problem.error.render()}\n")
    if as_json:
        emit_json([state.to_dict() for state in states])
    elif not states and file_problems:
        say("No MCP server could be loaded (see the errors above).")
    elif not states:
        places = "~/.kiro/settings/mcp.json" + (
            f" or {_shown(project / '.kiro' / 'settings' / 'mcp.json', project)}" if project else ""
        )
        say(f"No MCP servers are configured (add them to {places}).")
    else:
        print_table(
            None,
            ["server", "source", "transport", "state", "tools"],
            [
                [
                    state.name,
                    _shown(state.source, project),
                    state.transport or "",
                    state.state,
                    _tools(state),
                ]
                for state in states
            ],
        )
        for state in states:
            if state.state == "failed":
                say(f"{state.name}: {state.reason}")
        if any(state.tools for state in states):
            say("* auto-approved; (off) in disabledTools, never offered to the agent.")
    code = 2 if file_problems else 1 if any(s.state == "failed" for s in states) else 0
    if code:
        raise typer.Exit(code)
