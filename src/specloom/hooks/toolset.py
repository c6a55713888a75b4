"""Tool hooks around an agent's tools: ``preToolUse`` before each call, ``postToolUse`` after.

``HookedToolset(toolset, bus)`` wraps any pydantic-ai toolset (the built-in tools, an MCP
server's). Before a call it dispatches ``preToolUse`` with the tool's name and arguments (and
the ``path`` argument as the event's file); a hook that blocks makes the call fail with the
hook's reason, which the model reads as the tool's result, and the tool never runs. After a
call it dispatches ``postToolUse`` with the result; what hooks add to the context (standard
output of commands, prompts of ``askAgent`` hooks) is appended to the result the model sees.
When no enabled hook listens to tool events, a call costs two dictionary lookups.

May import: the standard library, ``pydantic_ai`` and the ``specloom.hooks`` modules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic_ai import RunContext
from pydantic_ai.exceptions import ToolFailed
from pydantic_ai.toolsets import AbstractToolset, WrapperToolset
from pydantic_ai.toolsets.abstract import ToolsetTool

from specloom.hooks.bus import HookBus
from specloom.hooks.model import EventKind, HookEvent, HookOutcome

__all__ = ["HookedToolset", "ToolHooks", "hook_context_text", "with_hooks"]

_RESPONSE_CAP = 4_000


def hook_context_text(context: list[str]) -> str:
    """What hooks added, as a block to append to a tool result or a prompt."""
    return "\n\n".join(f"[hook] {text.strip()}" for text in context if text.strip())


def _files(arguments: Mapping[str, Any]) -> tuple[str, ...]:
    path = arguments.get("path")
    return (path,) if isinstance(path, str) and path else ()


@dataclass(frozen=True, slots=True)
class ToolHooks:
    """The ``preToolUse`` and ``postToolUse`` steps of a tool call, for callers that run a tool
    outside a toolset (the agent loop writing the files of a whole-file answer).

    Attributes:
        bus: The hooks.
        session_id: The agent run the calls belong to.
        spec: The spec the run serves, if any.
        task: The task it serves, if any.
    """

    bus: HookBus
    session_id: str = ""
    spec: str | None = None
    task: str | None = None

    def _event(
        self, kind: EventKind, name: str, arguments: Mapping[str, Any], response: str | None = None
    ) -> HookEvent:
        return HookEvent(
            kind,
            self.bus.root,
            session_id=self.session_id,
            files=_files(arguments),
            tool_name=name,
            tool_input=dict(arguments),
            tool_response=response,
            task=self.task,
            spec=self.spec,
        )

    async def before(self, name: str, arguments: Mapping[str, Any]) -> HookOutcome:
        """Dispatch ``preToolUse`` (an empty outcome when no hook listens)."""
        if not self.bus.has_hooks(EventKind.preToolUse):
            return HookOutcome()
        return await self.bus.dispatch(self._event(EventKind.preToolUse, name, arguments))

    async def after(self, name: str, arguments: Mapping[str, Any], response: str) -> list[str]:
        """Dispatch ``postToolUse``; returns what the hooks add to the result."""
        if not self.bus.has_hooks(EventKind.postToolUse):
            return []
        after = await self.bus.dispatch(
            self._event(EventKind.postToolUse, name, arguments, response[:_RESPONSE_CAP])
        )
        return list(after.context)


@dataclass
class HookedToolset(WrapperToolset[Any]):
    """``wrapped`` with ``preToolUse`` and ``postToolUse`` hooks (see the module docstring).

    Attributes:
        bus: The hooks.
        session_id: The agent run the calls belong to.
        spec: The spec the run serves, if any.
        task: The task it serves, if any.
    """

    bus: HookBus | None = None
    session_id: str = ""
    spec: str | None = None
    task: str | None = None

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[Any], tool: ToolsetTool[Any]
    ) -> Any:
        if self.bus is None:
            return await super().call_tool(name, tool_args, ctx, tool)
        hooks = ToolHooks(self.bus, self.session_id, self.spec, self.task)
        before = await hooks.before(name, tool_args)
        if before.blocked:
            raise ToolFailed(f"A hook blocked this call of {name}: {before.reason}")
        added = list(before.context)
        result = await super().call_tool(name, tool_args, ctx, tool)
        added += await hooks.after(
            name, tool_args, result if isinstance(result, str) else repr(result)
        )
        if added and isinstance(result, str):
            return f"{result}\n\n{hook_context_text(added)}"
        return result


def with_hooks(
    toolsets: list[AbstractToolset[Any]],
    bus: HookBus,
    *,
    session_id: str = "",
    spec: str | None = None,
    task: str | None = None,
) -> list[AbstractToolset[Any]]:
    """Each toolset wrapped in a ``HookedToolset`` (the agent loop's one-line integration)."""
    return [
        HookedToolset(toolset, bus=bus, session_id=session_id, spec=spec, task=task)
        for toolset in toolsets
    ]
