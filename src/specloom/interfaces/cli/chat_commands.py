"""``specloom chat [message]``: talk with the agent; ``/spec [name]`` turns the talk into a spec.

With a message: one turn, then exit (exit 1 when a limit stopped it, as ``specloom agent``).
Without one: a conversation, one message per line, until end of input or ``/exit``; on a
terminal with a prompt and the model's answer streamed as it comes. The agent is
``specloom agent``'s (tools, policy, approvals, checkpoints, ``#file:``/``#spec:``/``#name``
references) and remembers the turns before. ``--json`` prints the agent's events on
stderr as ``specloom agent --json`` does, and one JSON object per line on stdout for each
turn (``"kind": "turn"``), spec (``"spec"``), error (``"error"``) and the end (``"end"``).

Exit codes: 0 done; 1 the single turn was stopped by a limit; 2 bad input; 130 interrupted.

May import: ``specloom.errors``, ``specloom.interfaces.cli`` and, inside the command,
``specloom.workflows.chat`` and ``specloom.llm``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from specloom.errors import UserFacingError
from specloom.interfaces.cli import JsonOption, app, handles_errors
from specloom.interfaces.cli.agent_commands import (
    ModeOption,
    NoMcpOption,
    ReadOnlyOption,
    _ask_on_terminal,  # pyright: ignore[reportPrivateUsage]
    _ask_tool_on_terminal,  # pyright: ignore[reportPrivateUsage]
    _Printer,  # pyright: ignore[reportPrivateUsage]
)
from specloom.interfaces.cli.model_commands import BudgetOption, ModelOption, RootOption
from specloom.interfaces.cli.output import is_terminal, say

if TYPE_CHECKING:
    from specloom.workflows.authoring import AuthoringResult
    from specloom.workflows.chat import ChatSession, ChatTurn

__all__ = ["chat_command"]

_PROMPT = "you> "


@app.command("chat")
@handles_errors
def chat_command(
    message: Annotated[
        str | None,
        typer.Argument(help="One message to send (default: read messages, one per line)."),
    ] = None,
    mode: ModeOption = None,
    model: ModelOption = None,
    budget: BudgetOption = None,
    read_only: ReadOnlyOption = False,
    no_mcp: NoMcpOption = False,
    root: RootOption = None,
    as_json: JsonOption = False,
) -> None:
    """Chat with the agent about the project; type /spec [name] to turn the conversation
    into a spec, /exit to leave."""
    from specloom.llm.session import open_model_session, project_root_or_none
    from specloom.workflows.chat import open_chat

    project = project_root_or_none(root) or Path.cwd().resolve()
    session = open_model_session(
        command="chat", model=model, kind="code", budget=budget, root=project
    )
    interactive = not as_json and is_terminal(sys.stdin) and is_terminal(sys.stdout)
    printer = _ChatPrinter(as_json)
    chat = open_chat(
        project,
        session.model,
        settings=session.settings,
        mode=mode,
        ask=_ask_on_terminal if interactive else None,
        ask_tool=_ask_tool_on_terminal if interactive else None,
        on_event=printer.event,
        recorder=session.recorder,
        read_only=read_only,
        use_mcp=not no_mcp,
    )
    for notice in chat.agent.notices:
        printer.notice(notice)
    if interactive and message is None:
        say("Chat with the agent. /spec [name] turns the conversation into a spec; "
            "/exit or Ctrl-D leaves.")  # fmt: skip
    single = message is not None
    last: ChatTurn | None = None
    try:
        for line in [message] if message is not None else _lines(interactive):
            outcome = _handle(chat, line, printer, single=single)
            if outcome == "exit":
                break
            if outcome is not None:
                last = outcome
    except KeyboardInterrupt:
        printer.emit({"kind": "end", "interrupted": True, "spent": session.spent()})
        if not as_json:
            say("\ninterrupted: every change so far is checkpointed (`specloom checkpoint list`).")
        raise typer.Exit(130) from None
    finally:
        chat.close()
    printer.end(session.spent(), chat.agent.run_id)
    if single and last is not None and not last.completed:
        raise typer.Exit(1)


def _lines(interactive: bool) -> Iterator[str]:
    """Messages, one per line: from a prompt on a terminal, else from stdin."""
    while True:
        if interactive:
            try:
                line = input(_PROMPT)
            except EOFError:
                say()
                return
        else:
            line = sys.stdin.readline()
            if not line:
                return
        yield line.rstrip("\r\n")


def _handle(chat: ChatSession, line: str, printer: _ChatPrinter, *, single: bool) -> Any:
    """Do what one line says: a turn, ``/spec`` or ``/exit``; returns the turn, ``"exit"``
    or ``None``. In a conversation, an error is shown and the conversation goes on."""
    import anyio

    from specloom.workflows.chat import parse_chat_command

    if not line.strip():
        return None
    command = parse_chat_command(line)
    if command is not None and command.name == "exit":
        return "exit"
    try:
        if command is not None:
            progress = None if printer.as_json else say
            result = anyio.run(lambda: chat.to_spec(command.argument or None,
                                                    on_progress=progress))  # fmt: skip
            printer.spec(result, chat.root)
            return None
        turn = anyio.run(lambda: chat.send(line))
    except UserFacingError as error:
        if single:
            raise
        printer.error(error)
        return None
    except KeyboardInterrupt:
        if single:
            raise
        printer.error(UserFacingError("interrupted: this message was dropped from the chat."))
        return None
    printer.turn(turn)
    return turn


class _ChatPrinter(_Printer):
    """``specloom agent``'s printer, with what a chat adds: turns, specs, errors, the end."""

    def emit(self, data: dict[str, Any]) -> None:
        if self.as_json:
            sys.stdout.write(json.dumps(data, default=str) + "\n")
            sys.stdout.flush()

    def turn(self, turn: ChatTurn) -> None:
        if self.as_json:
            self.emit({"kind": "turn", **turn.to_dict()})
            return
        if self.in_text:
            self._line("")
        if not turn.completed:
            say(f"stopped: {turn.detail}")
        if turn.changed_files:
            say(f"changed: {', '.join(turn.changed_files)}")
        if turn.checkpoints:
            say(f"undo with: specloom checkpoint restore {turn.checkpoints[0]}")

    def spec(self, result: AuthoringResult, root: Path) -> None:
        data = result.to_dict(root)
        if self.as_json:
            self.emit({"kind": "spec", **data})
            return
        self._line(f"spec {result.name} written in {data['folder']} (phase: {result.phase})")
        for path in result.written:
            say(f"  {path.relative_to(root) if path.is_relative_to(root) else path}")
        for notice in result.notices:
            say(f"note: {notice}")
        if result.findings:
            say(f"{result.findings} finding(s): see `specloom analyze {result.name}`")
        say("next: " + " or ".join(result.next_commands()))

    def error(self, error: UserFacingError) -> None:
        if self.as_json:
            self.emit({"kind": "error", **error.to_dict()})
            return
        if self.in_text:
            self._line("")
        sys.stderr.write(f"error: {error.render()}\n")

    def end(self, spent: dict[str, float], run_id: str) -> None:
        if self.as_json:
            self.emit({"kind": "end", "run_id": run_id, "spent": spent})
            return
        if self.in_text:
            self._line("")
        cost = f", ${spent['cost_usd']:.4f}" if spent.get("cost_usd") else ""
        say(
            f"{int(spent.get('requests', 0))} request(s), {int(spent.get('input_tokens', 0))} "
            f"tokens in, {int(spent.get('output_tokens', 0))} out{cost}, "
            f"{spent.get('credits', 0):.2f} credits"
        )
