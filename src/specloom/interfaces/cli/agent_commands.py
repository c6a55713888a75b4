"""``specloom agent "<request>"``: the agent on a free-form request, in the terminal.

The run streams its answer and shows each tool call, checkpoint and approval as it happens.
In ``supervised`` mode (the default) a terminal asks before each write, edit and command the
policy does not allow on its own: yes once, yes for this file, yes for commands like this,
or no. Without a terminal (or with ``--json``) nobody can answer, so those actions are
refused and the model is told why; ``--mode autopilot`` approves work inside the workspace,
never destructive actions.

Exit codes: 0 the model finished; 1 a limit stopped the run (steps, tokens, time, budget);
2 bad input; 130 interrupted (Ctrl-C), after the run's state is saved.

May import: ``specloom.errors``, ``specloom.interfaces.cli`` and, inside the command,
``specloom.agent`` and ``specloom.llm``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from specloom.interfaces.cli import JsonOption, app, handles_errors
from specloom.interfaces.cli.model_commands import BudgetOption, ModelOption, RootOption
from specloom.interfaces.cli.output import emit_json, is_terminal, say

if TYPE_CHECKING:
    from specloom.agent.events import AgentEvent
    from specloom.agent.policy import Answer, Decision
    from specloom.agent.tool_env import ApprovalRequest

__all__ = ["ModeOption", "NoMcpOption", "ReadOnlyOption", "agent_command"]

ModeOption = Annotated[
    str | None,
    typer.Option(
        "--mode",
        help="`supervised` (ask before changes; the default) or `autopilot` (approve work "
        "inside the workspace; destructive actions are still never approved).",
    ),
]
ReadOnlyOption = Annotated[
    bool, typer.Option("--read-only", help="Only read and search: no writes or commands.")
]
NoMcpOption = Annotated[bool, typer.Option("--no-mcp", help="Leave the MCP servers out.")]


@app.command("agent")
@handles_errors
def agent_command(
    request: Annotated[str, typer.Argument(help="What the agent is to do, in plain words.")],
    mode: ModeOption = None,
    model: ModelOption = None,
    budget: BudgetOption = None,
    max_steps: Annotated[
        int | None, typer.Option("--max-steps", min=1, help="Most model requests (steps).")
    ] = None,
    read_only: ReadOnlyOption = False,
    no_mcp: NoMcpOption = False,
    root: RootOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the agent on a request: it reads, edits and runs commands in the project,
    checkpointing before each change and asking before what the policy does not allow."""
    import dataclasses

    import anyio

    from specloom.agent.loop import AgentLimits
    from specloom.agent.runtime import prepare_agent
    from specloom.llm.session import open_model_session, project_root_or_none

    project = project_root_or_none(root) or Path.cwd().resolve()
    session = open_model_session(
        command="agent", model=model, kind="code", budget=budget, root=project
    )
    limits = AgentLimits.from_settings(session.settings)
    if max_steps is not None:
        limits = dataclasses.replace(limits, max_steps=max_steps)
    interactive = not as_json and is_terminal(sys.stdin) and is_terminal(sys.stdout)
    printer = _Printer(as_json)
    prepared = prepare_agent(
        project,
        session.model,
        settings=session.settings,
        mode=mode,
        ask=_ask_on_terminal if interactive else None,
        ask_tool=_ask_tool_on_terminal if interactive else None,
        on_event=printer.event,
        recorder=session.recorder,
        command=f"agent {request[:80]}",
        read_only=read_only,
        use_mcp=not no_mcp,
        limits=limits,
        hooks=True,
    )
    for notice in prepared.notices:
        printer.notice(notice)
    try:
        result = anyio.run(lambda: prepared.run(request))
    except KeyboardInterrupt:
        prepared.close()
        say("\ninterrupted: every change so far is checkpointed (`specloom checkpoint list`).")
        raise typer.Exit(130) from None
    finally:
        prepared.close()
    spent = session.spent()
    if as_json:
        emit_json(
            {
                "stop": result.stop,
                "detail": result.detail,
                "output": result.output,
                "steps": result.steps,
                "tool_calls": result.tool_calls,
                "checkpoints": result.checkpoints,
                "changed_files": result.changed_files,
                "run_id": prepared.run_id,
                "spent": spent,
            }
        )
    else:
        printer.finish(result.stop, result.detail, result.changed_files, result.checkpoints, spent)
    if not result.completed:
        raise typer.Exit(1)


class _Printer:
    """Shows the run's events: text as it streams, one line per tool call and checkpoint;
    with ``--json``, one JSON object per line on stderr (stdout keeps the result)."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.in_text = False

    def _line(self, text: str) -> None:
        if self.in_text:
            sys.stdout.write("\n")
            self.in_text = False
        say(text)

    def notice(self, text: str) -> None:
        if self.as_json:
            sys.stderr.write(json.dumps({"kind": "notice", "text": text}) + "\n")
        else:
            self._line(f"note: {text}")

    def event(self, event: AgentEvent) -> None:
        if self.as_json:
            sys.stderr.write(json.dumps(_event_json(event), default=str) + "\n")
            return
        if event.kind == "text":
            sys.stdout.write(event.text)
            sys.stdout.flush()
            self.in_text = True
        elif event.kind == "tool_started":
            self._line(f"-> {event.tool}({_arguments(event.arguments)})")
        elif event.kind == "tool_finished":
            first = event.result.strip().split("\n", 1)[0][:160]
            self._line(f"   {'ok' if event.ok else 'failed'}: {first}")
        elif event.kind == "checkpoint":
            self._line(f"   checkpoint {event.checkpoint_id} ({event.label})")
        elif event.kind == "approval_settled" and not event.allowed:
            self._line(f"   refused by {event.rule or event.by}: {event.action}")
        elif event.kind == "context" and event.problems:
            for problem in event.problems:
                self._line(f"note: {problem}")

    def finish(
        self,
        stop: str,
        detail: str,
        changed: list[str],
        checkpoints: list[str],
        spent: Mapping[str, float],
    ) -> None:
        self._line("")
        if stop != "completed":
            say(f"stopped: {detail}")
        if changed:
            say(f"changed: {', '.join(changed)}")
        if checkpoints:
            say(f"undo with: specloom checkpoint restore {checkpoints[0]}")
        cost = f", ${spent['cost_usd']:.4f}" if spent.get("cost_usd") else ""
        say(
            f"{int(spent.get('requests', 0))} request(s), {int(spent.get('input_tokens', 0))} "
            f"tokens in, {int(spent.get('output_tokens', 0))} out{cost}, "
            f"{spent.get('credits', 0):.2f} credits"
        )


def _event_json(event: AgentEvent) -> dict[str, Any]:
    import dataclasses

    return dataclasses.asdict(event)


def _arguments(arguments: Mapping[str, Any]) -> str:
    shown = []
    for key, value in arguments.items():
        text = repr(value)
        shown.append(f"{key}={text[:60] + '...' if len(text) > 60 else text}")
    return ", ".join(shown)


async def _ask_on_terminal(request: ApprovalRequest, decision: Decision) -> Answer:
    lines = [f"\n{request.summary}"]
    lines.extend(f"  - {reason}" for reason in decision.reasons)
    if request.diff:
        lines.append(request.diff.rstrip())
    if request.kind == "command":
        choices = "[y]es once, [p]attern: yes for commands like it, [n]o"
    else:
        choices = "[y]es once, [f]ile: yes for this file, [n]o"
    return await _prompt("\n".join(lines), choices, request.command)


async def _ask_tool_on_terminal(
    server: str, tool: str, arguments: Mapping[str, object], decision: Decision
) -> Answer:
    lines = [f"\nMCP {server}/{tool}({_arguments(arguments)})"]
    lines.extend(f"  - {reason}" for reason in decision.reasons)
    choices = "[y]es once, [p]attern: yes for this tool from now on, [n]o"
    return await _prompt("\n".join(lines), choices, f"{server}/{tool}")


async def _prompt(text: str, choices: str, pattern_of: str | None) -> Answer:
    import anyio.to_thread

    from specloom.agent.policy import Answer

    def read() -> Answer:
        say(text)
        while True:
            reply = typer.prompt(f"Allow? {choices}", default="n").strip().lower()[:1]
            if reply == "y":
                return Answer("once")
            if reply == "f" and "[f]" in choices:
                return Answer("file")
            if reply == "p" and "[p]" in choices and pattern_of:
                pattern = typer.prompt("Pattern (a glob)", default=_pattern_for(pattern_of))
                return Answer("pattern", pattern.strip())
            if reply == "n":
                return Answer("deny")

    return await anyio.to_thread.run_sync(read)


def _pattern_for(command: str) -> str:
    """A pattern covering commands like ``command``: its first word(s), then ``*``."""
    words = command.split()
    if not words:
        return command
    keep = words[:2] if len(words) > 1 and not words[1].startswith("-") else words[:1]
    return " ".join(keep) + " *"
