"""What an agent run tells the interface driving it, as it happens.

The agent loop (``specloom.agent.loop``) calls the interface's ``on_event`` with one of these
for each thing worth showing: streamed text, a tool call starting and finishing, an approval
the user must give, a checkpoint taken, the context put into the prompt, and the end of each
model step. The CLI prints them, the web app pushes them over its socket, and the ACP agent
turns them into session updates; all three see the same sequence.

May import: the standard library only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "AgentEvent",
    "ApprovalNeeded",
    "ApprovalSettled",
    "CheckpointMade",
    "ContextIncluded",
    "EventHandler",
    "StepFinished",
    "TextDelta",
    "ToolFinished",
    "ToolStarted",
]


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the model's answer text, as it streams.

    Attributes:
        text: The new characters.
        step: The model step (1-based) they belong to.
    """

    text: str
    step: int
    kind: Literal["text"] = "text"


@dataclass(frozen=True, slots=True)
class ToolStarted:
    """The model called a tool; it is about to run (approval may come first).

    Attributes:
        call_id: Matches the ``ToolFinished`` of the same call.
        tool: The tool's name (MCP tools carry their server's prefix).
        arguments: The arguments as the model gave them.
        step: The model step that made the call.
    """

    call_id: str
    tool: str
    arguments: Mapping[str, Any]
    step: int
    kind: Literal["tool_started"] = "tool_started"


@dataclass(frozen=True, slots=True)
class ToolFinished:
    """A tool call ended.

    Attributes:
        call_id: Matches the ``ToolStarted`` of the same call.
        tool: The tool's name.
        ok: ``False`` when the model was told it failed (or was declined).
        result: What the model was shown (cut to a few thousand characters).
        step: The model step that made the call.
    """

    call_id: str
    tool: str
    ok: bool
    result: str
    step: int
    kind: Literal["tool_finished"] = "tool_finished"


@dataclass(frozen=True, slots=True)
class ApprovalNeeded:
    """The policy left an action to the user: the interface's ``ask`` is about to be called.

    Attributes:
        action: What is to be done, in one line (``run_command: rm -rf dist``).
        tool: The tool that wants to do it.
        reasons: Why it was not approved automatically.
        destructive: The destructive-action guard flagged it.
        details: The request's fields (path, command, diff...) for display.
    """

    action: str
    tool: str
    reasons: tuple[str, ...]
    destructive: bool
    details: Mapping[str, Any] = field(default_factory=dict)
    kind: Literal["approval_needed"] = "approval_needed"


@dataclass(frozen=True, slots=True)
class ApprovalSettled:
    """How an approval ended.

    Attributes:
        action: What was to be done.
        allowed: Whether it may go ahead.
        by: ``user``, ``rule`` or ``mode``.
        rule: The rule that decided, when one did.
    """

    action: str
    allowed: bool
    by: str
    rule: str | None = None
    kind: Literal["approval_settled"] = "approval_settled"


@dataclass(frozen=True, slots=True)
class CheckpointMade:
    """A snapshot of the workspace was taken before files changed.

    Attributes:
        checkpoint_id: The id ``specloom checkpoint restore`` takes.
        label: What it was taken for.
        step: The model step whose changes it precedes.
        reused: Nothing had changed since the newest checkpoint, which stands for this one.
    """

    checkpoint_id: str
    label: str
    step: int
    reused: bool = False
    kind: Literal["checkpoint"] = "checkpoint"


@dataclass(frozen=True, slots=True)
class ContextIncluded:
    """What went into the prompt besides the request: steering, references, map, memory.

    Attributes:
        items: ``(part, name, size in characters)`` for each piece.
        problems: Warnings about the context (a broken steering file, a missing reference).
    """

    items: tuple[tuple[str, str, int], ...]
    problems: tuple[str, ...] = ()
    kind: Literal["context"] = "context"


@dataclass(frozen=True, slots=True)
class StepFinished:
    """A model step ended: the model answered and its tool calls (if any) ran.

    Attributes:
        step: The step's number, 1-based.
        model: The model that answered.
        input_tokens: Tokens the request used.
        output_tokens: Tokens of the answer.
        tool_calls: How many tools the answer called.
    """

    step: int
    model: str
    input_tokens: int
    output_tokens: int
    tool_calls: int
    kind: Literal["step"] = "step"


AgentEvent = (
    TextDelta
    | ToolStarted
    | ToolFinished
    | ApprovalNeeded
    | ApprovalSettled
    | CheckpointMade
    | ContextIncluded
    | StepFinished
)
"""Every event a run emits; ``event.kind`` tells them apart."""

EventHandler = Callable[[AgentEvent], Awaitable[None] | None]
"""The interface's callback: plain or async."""
