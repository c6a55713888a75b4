"""Vibe chat (``specloom chat``): a conversation with the agent, and ``/spec`` to turn it
into a spec.

A ``ChatSession`` is the agent of ``specloom agent`` (same tools, policy, checkpoints,
audit log and context: steering, ``#file:``, ``#spec:`` and ``#name`` references are read
from each message) with a memory: every turn continues the message history of the turns
before it. ``to_spec`` asks the model for a short summary of the conversation as a feature
request (``SpecRequest``: name, request, whether it is a bug fix) and hands it, with the
conversation itself, to ``specloom.workflows.authoring.create_spec`` as a quick plan (or a
bugfix spec).

Lines that start with ``/`` are chat commands (``parse_chat_command``): ``/spec [name]``
and ``/exit``; every interface (CLI, web app, ACP agent) reads them the same way.

May import: the standard library, pydantic, ``specloom.errors``, ``specloom.settings``,
``specloom.agent.runtime`` (and the agent types it names), ``specloom.llm.structured`` and
``specloom.workflows.authoring``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from specloom.agent.runtime import Ask, AskTool, PreparedAgent, prepare_agent
from specloom.errors import UsageError
from specloom.settings import Settings

if TYPE_CHECKING:
    from pydantic_ai.messages import ModelMessage
    from pydantic_ai.models import Model

    from specloom.agent.events import EventHandler
    from specloom.agent.loop import AgentLimits
    from specloom.llm.metering import UsageRecorder
    from specloom.workflows.authoring import AuthoringResult

__all__ = [
    "ChatCommand",
    "ChatSession",
    "ChatTurn",
    "SpecRequest",
    "open_chat",
    "parse_chat_command",
    "spec_name",
]

CONVERSATION_CHARS = 4_000
"""Characters of the conversation passed on with a ``/spec`` request (the latest kept)."""

_SUMMARY_INSTRUCTIONS = """\
Turn a conversation between a developer and a coding agent into one request for a spec.
name: a short kebab-case name for the feature, 2 to 5 words (e.g. csv-export).
request: what to build or fix, in plain words, with every requirement, constraint and
decision the conversation settled; a few sentences, no code.
is_bugfix: true when the conversation is about wrong behaviour to fix, false for new work."""


@dataclass(frozen=True, slots=True)
class ChatCommand:
    """A ``/`` command typed in a chat.

    Attributes:
        name: ``spec`` or ``exit``.
        argument: What follows the command (the spec's name for ``/spec``), stripped.
    """

    name: Literal["spec", "exit"]
    argument: str = ""


def parse_chat_command(line: str) -> ChatCommand | None:
    """The chat command ``line`` is, or ``None`` for an ordinary message (a line such as
    ``/usr/bin/python fails`` is a message: only the known commands count)."""
    word, _, rest = line.strip().partition(" ")
    word = word.lower()
    if word == "/spec":
        return ChatCommand("spec", rest.strip())
    if word in ("/exit", "/quit"):
        return ChatCommand("exit")
    return None


def spec_name(text: str) -> str:
    """``text`` as a spec folder name: lower-case words joined by ``-`` (at most 60 chars)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60].strip("-")


class SpecRequest(BaseModel):
    """The conversation summed up as a request for a spec."""

    name: str = Field(description="Short kebab-case name of the feature.")
    request: str = Field(description="What to build or fix, with every decision made.")
    is_bugfix: bool = Field(default=False, description="Whether it fixes wrong behaviour.")


@dataclass(slots=True)
class ChatTurn:
    """One message and the agent's answer.

    Attributes:
        message: What the user said.
        output: The agent's answer (empty when a limit stopped it).
        stop: Why the turn ended (``completed`` or a limit).
        detail: The stop in words (empty when completed).
        changed_files: Files the turn wrote or edited.
        checkpoints: Checkpoints taken before its changes.
        tool_calls: Tool calls made.
        input_tokens: Input tokens of the turn.
        output_tokens: Output tokens of the turn.
    """

    message: str
    output: str
    stop: str
    detail: str = ""
    changed_files: list[str] = field(default_factory=list)
    checkpoints: list[str] = field(default_factory=list)
    tool_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def completed(self) -> bool:
        """Whether the agent answered (rather than a limit stopping it)."""
        return self.stop == "completed"

    def to_dict(self) -> dict[str, object]:
        """JSON-ready mapping."""
        return {
            "message": self.message,
            "output": self.output,
            "stop": self.stop,
            "detail": self.detail,
            "changed_files": list(self.changed_files),
            "checkpoints": list(self.checkpoints),
            "tool_calls": self.tool_calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
        }


class ChatSession:
    """A conversation with the agent in one project.

    Args:
        agent: The prepared agent (``open_chat`` makes one).
        model: The model, also used to sum the conversation up for ``/spec``.
        settings: The merged settings.
    """

    def __init__(self, agent: PreparedAgent, *, model: Model, settings: Settings) -> None:
        self.agent = agent
        self.model = model
        self.settings = settings
        self.history: list[ModelMessage] = []
        self.transcript: list[tuple[str, str]] = []
        self.turns: list[ChatTurn] = []

    @property
    def root(self) -> Path:
        """The project root."""
        return self.agent.runner.root

    async def send(self, text: str) -> ChatTurn:
        """Send one message; the agent answers knowing the turns before it.

        Raises:
            CheckpointError: A snapshot failed before a change (the change was not made).
            ModelRequestError: The model could not answer.
        """
        result = await self.agent.run(text, history=self.history or None)
        self.history = list(result.messages)
        self.transcript.append(("Developer", text))
        if result.output:
            self.transcript.append(("Agent", result.output))
        if result.changed_files:
            self.transcript.append(("Agent", "changed " + ", ".join(result.changed_files)))
        turn = ChatTurn(
            text,
            result.output,
            result.stop,
            result.detail,
            list(result.changed_files),
            list(result.checkpoints),
            result.tool_calls,
            result.input_tokens,
            result.output_tokens,
        )
        self.turns.append(turn)
        return turn

    def conversation(self, max_chars: int = CONVERSATION_CHARS) -> str:
        """The conversation so far as ``Speaker: text`` lines, the latest ``max_chars``."""
        lines: list[str] = []
        used = 0
        for speaker, text in reversed(self.transcript):
            line = f"{speaker}: {' '.join(text.split())}"
            if used + len(line) + 1 > max_chars:
                if not lines:
                    lines.append(line[: max_chars - 4] + " ...")
                break
            lines.append(line)
            used += len(line) + 1
        return "\n".join(reversed(lines))

    async def summarize(self) -> SpecRequest:
        """The conversation summed up as a request for a spec.

        Raises:
            UsageError: There is no conversation yet.
            ModelRequestError: The model gave no usable summary.
        """
        from specloom.llm.structured import generate

        if not self.transcript:
            raise UsageError(
                "there is no conversation to turn into a spec yet.",
                hint="Describe the feature or the bug first, then type /spec [name].",
            )

        def check(answer: SpecRequest) -> list[str]:
            problems: list[str] = []
            if len(answer.request.strip()) < 20:
                problems.append("request: say in a few sentences what to build or fix")
            if not spec_name(answer.name):
                problems.append("name: give a short kebab-case name such as csv-export")
            return problems

        generated = await generate(
            SpecRequest,
            f"The conversation:\n\n{self.conversation()}\n\nSum it up as a request for a spec.",
            model=self.model,
            instructions=_SUMMARY_INSTRUCTIONS,
            check=check,
            repairs=2,
            max_tokens=800,
        )
        return generated.value

    async def to_spec(
        self, name: str | None = None, *, on_progress: Callable[[str], None] | None = None
    ) -> AuthoringResult:
        """Turn the conversation so far into a new spec (a quick plan, or a bugfix spec).

        Args:
            name: The spec's name (default: the one the summary suggests).
            on_progress: Told what is happening, one line at a time.

        Raises:
            UsageError: There is no conversation yet, or ``name`` has no letters or digits.
            ModelRequestError: The model could not sum the conversation up or write the spec.
        """
        from specloom.workflows.authoring import create_spec

        chosen = spec_name(name) if name else None
        if name and not chosen:
            raise UsageError(
                f"{name!r} cannot be a spec name.",
                hint="Use letters, digits and dashes, e.g. /spec csv-export.",
            )
        if on_progress is not None:
            on_progress("summing up the conversation ...")
        summary = await self.summarize()
        request = (
            f"{summary.request.strip()}\n\nThe conversation this comes from:\n{self.conversation()}"
        )
        return await create_spec(
            self.root,
            request,
            model=self.model,
            settings=self.settings,
            kind="bugfix" if summary.is_bugfix else "quick",
            name=chosen or spec_name(summary.name),
            on_progress=on_progress,
        )

    def close(self) -> None:
        """Release the agent's audit log."""
        self.agent.close()


def open_chat(
    root: Path,
    model: Model,
    *,
    settings: Settings | None = None,
    mode: str | None = None,
    ask: Ask | None = None,
    ask_tool: AskTool | None = None,
    on_event: EventHandler | None = None,
    recorder: UsageRecorder | None = None,
    read_only: bool = False,
    use_mcp: bool = True,
    limits: AgentLimits | None = None,
    command: str = "chat",
    extra_roots: Sequence[Path] = (),
) -> ChatSession:
    """A chat in ``root``: the agent assembled as for ``specloom agent``.

    Args:
        root: The project root.
        model: The model (``ModelSession.model``).
        settings: The merged settings.
        mode: ``supervised`` or ``autopilot``.
        ask: The interface's approval prompt (``None``: nobody can answer).
        ask_tool: The prompt for MCP tool calls.
        on_event: Receives every agent event (streamed text among them).
        recorder: The model session's usage recorder.
        read_only: Only the reading tools.
        use_mcp: Offer the MCP servers' tools.
        limits: Caps on each turn (default: ``agent.limits`` in settings).
        command: What started it, for the audit log.
        extra_roots: More folders the file tools may use.

    Raises:
        SettingsError: A bad ``agent`` setting or permission file.
        UsageError: An unknown mode.
    """
    settings = settings if settings is not None else Settings()
    prepared = prepare_agent(
        root,
        model,
        settings=settings,
        mode=mode,
        ask=ask,
        ask_tool=ask_tool,
        on_event=on_event,
        recorder=recorder,
        command=command,
        read_only=read_only,
        use_mcp=use_mcp,
        limits=limits,
        extra_roots=extra_roots,
        hooks=True,
    )
    return ChatSession(prepared, model=model, settings=settings)
