"""``specloom policy check`` and ``specloom policy show``: the safety policy, asked directly.

May import: ``specloom.errors``, ``specloom.interfaces.cli`` and, inside the commands,
``specloom.agent.policy``, ``specloom.settings`` and ``specloom.workspace``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from specloom.interfaces.cli import JsonOption, app, handles_errors
from specloom.interfaces.cli.output import emit_json, print_table, say

if TYPE_CHECKING:
    from specloom.agent.policy import Policy

__all__ = ["policy_app"]

policy_app = typer.Typer(
    help="The safety policy: what runs on its own, what is asked, what is refused.",
    no_args_is_help=True,
)
app.add_typer(policy_app, name="policy")


class ModeChoice(StrEnum):
    """The approval modes."""

    supervised = "supervised"
    autopilot = "autopilot"


RootOption = Annotated[
    Path | None,
    typer.Option("--root", help="Project root (default: found from the current folder)."),
]


def _policy(root: Path | None, mode: ModeChoice | None) -> Policy:
    from specloom.agent.policy import Policy
    from specloom.errors import WorkspaceError
    from specloom.settings import load_settings
    from specloom.workspace import find_root

    if root is not None:
        project: Path | None = root.resolve()
    else:
        try:
            project = find_root()
        except WorkspaceError:
            project = None
    settings = load_settings(project)
    roots = [project if project is not None else Path.cwd().resolve()]
    return Policy.from_settings(settings, roots, mode=mode.value if mode else None)


@policy_app.command("check")
@handles_errors
def check_command(
    command: Annotated[str, typer.Argument(help="The shell command line to judge.")],
    mode: Annotated[
        ModeChoice | None,
        typer.Option("--mode", help="Judge as in this mode (default: the settings' agent.mode)."),
    ] = None,
    root: RootOption = None,
    as_json: JsonOption = False,
) -> None:
    """Would the agent run COMMAND on its own, ask first, or refuse it? Exit 0 either way."""
    policy = _policy(root, mode)
    decision = policy.check_command(command)
    if as_json:
        emit_json(decision.to_dict())
        return
    flag = " (destructive)" if decision.destructive else ""
    say(f"{decision.decision}{flag} in {policy.mode} mode: {command}")
    for reason in decision.reasons:
        say(f"  - {reason}")
    if decision.rule:
        say(f"  rule: {decision.rule}")


@policy_app.command("show")
@handles_errors
def show_command(
    mode: Annotated[
        ModeChoice | None,
        typer.Option("--mode", help="Show as in this mode (default: the settings' agent.mode)."),
    ] = None,
    root: RootOption = None,
    as_json: JsonOption = False,
) -> None:
    """The mode, trusted command patterns, rules with the file they come from, the sandbox."""
    policy = _policy(root, mode)
    if as_json:
        emit_json(policy.describe())
        return
    say(f"Mode: {policy.mode}")
    if policy.sandbox_available:
        say("Sandbox: commands run with no network and write only inside the workspace.")
    else:
        say(f"Sandbox: not available ({policy.sandbox_reason}).")
    if policy.trusted_commands:
        say("Trusted commands: " + ", ".join(f"`{p}`" for p in policy.trusted_commands))
    else:
        say("Trusted commands: none (agent.trusted_commands in the settings).")
    if policy.rules:
        print_table(
            "Rules",
            ["effect", "capability", "match", "exclude", "source"],
            [
                [
                    rule.effect,
                    rule.capability,
                    ", ".join(rule.match) or "*",
                    ", ".join(rule.exclude),
                    rule.source,
                ]
                for rule in policy.rules
            ],
        )
    else:
        say("Rules: none (.kiro/settings/permissions.yaml, agent.rules in the settings).")
    for warning in policy.warnings:
        say(f"Warning: {warning}")
    say(
        "Destructive commands and MCP calls are never approved automatically, in any mode, "
        "unless a rule names them."
    )
