"""MCP servers as agent tools: the toolsets built from the configured servers, and a check of
each server's state.

The servers come from Kiro's ``mcp.json`` files, read by ``specloom.agent.mcp_config``; its
public names are re-exported here, so ``specloom.agent.mcp`` is the one place to import from.

Tools: ``build_toolsets`` gives one pydantic-ai toolset per enabled server. The model sees each
tool as ``<server>__<tool>`` (``time__get_current_time``), both parts cut down to letters,
digits, ``_`` and ``-`` and the whole to 64 characters, as model APIs require. Tools listed in
``disabledTools`` are never offered. Every call first goes through the caller's ``approve``
hook (with ``McpToolCall.auto_approved`` telling whether ``autoApprove`` covers it; the policy
decides); a refused call is not sent and the model reads why. Each call ends in one
``ToolEvent`` for the audit log. A server that cannot start, or stops answering, is skipped
with a warning: the agent runs on without its tools.

May import: the standard library, ``anyio``, ``pydantic_ai`` (its MCP client, ``fastmcp`` and
``mcp`` only inside the functions that connect), ``specloom.agent.tool_env`` and
``specloom.agent.mcp_config``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO, cast

import anyio
from pydantic_ai.exceptions import ModelRetry, ToolFailed
from pydantic_ai.tools import RunContext
from pydantic_ai.toolsets import AbstractToolset, ToolsetTool

from specloom.agent.mcp_config import (
    MCP_FILE,
    MCP_SETTINGS,
    McpConfig,
    McpConfigProblem,
    McpServerConfig,
    Transport,
    load_mcp_config,
    user_mcp_dir,
)
from specloom.agent.tool_env import DECLINED, ToolEvent

if TYPE_CHECKING:
    from pydantic_ai.mcp import MCPToolset

__all__ = [
    "MCP_FILE",
    "MCP_SETTINGS",
    "McpConfig",
    "McpConfigProblem",
    "McpServerConfig",
    "McpServerToolset",
    "McpToolCall",
    "ServerState",
    "ToolState",
    "Transport",
    "agent_tool_name",
    "build_toolsets",
    "inspect_servers",
    "load_mcp_config",
    "user_mcp_dir",
]

logger = logging.getLogger(__name__)

DEFAULT_STARTUP_TIMEOUT_S = 30.0
"""Seconds a server gets to start and answer the handshake."""
DEFAULT_CALL_TIMEOUT_S = 300.0
"""Seconds a tool call may take when the entry sets no ``timeout``."""
_NAME_LIMIT = 64

ApproveHook = Callable[["McpToolCall"], Awaitable[bool]]
RecordHook = Callable[[ToolEvent], None]


# -- toolsets --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class McpToolCall:
    """A call of an MCP server's tool, for the approval hook to allow or refuse.

    Attributes:
        server: The server's name (the key in ``mcpServers``).
        tool: The tool's name on the server.
        arguments: The arguments as the model gave them.
        auto_approved: Whether the entry's ``autoApprove`` covers the tool. The caller's
            policy decides what that means: a destructive call may still be refused.
        agent_name: The tool's name as the model sees it (``server__tool``).
        read_only: The server's ``readOnlyHint`` for the tool, if it gave one.
        destructive: The server's ``destructiveHint`` for the tool, if it gave one.
    """

    server: str
    tool: str
    arguments: Mapping[str, Any]
    auto_approved: bool
    agent_name: str = ""
    read_only: bool | None = None
    destructive: bool | None = None


def _clean(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text) or "_"


def agent_tool_name(server: str, tool: str) -> str:
    """The name the model sees for ``tool`` of ``server``: ``<server>__<tool>``.

    Characters other than letters, digits, ``_`` and ``-`` become ``_``; a name longer than
    64 characters is cut and ends with a short hash of the full one, so it stays unique.
    """
    return _fit(f"{_clean(server)}__{_clean(tool)}", f"{server}\0{tool}")


def _fit(name: str, identity: str) -> str:
    if len(name) <= _NAME_LIMIT:
        return name
    digest = hashlib.sha256(identity.encode()).hexdigest()[:8]
    return f"{name[: _NAME_LIMIT - 9]}_{digest}"


async def _approve_nothing(call: McpToolCall) -> bool:
    return False


def _server_prefixes(names: Sequence[str]) -> dict[str, str]:
    """A distinct tool-name prefix per server (``a.b`` and ``a_b`` would clash when cleaned)."""
    prefixes: dict[str, str] = {}
    taken: set[str] = set()
    for name in sorted(names):
        prefix = _clean(name)
        number = 2
        while prefix in taken:
            prefix = f"{_clean(name)}_{number}"
            number += 1
        taken.add(prefix)
        prefixes[name] = prefix
    return prefixes


def build_toolsets(
    config: McpConfig,
    *,
    approve: ApproveHook,
    record: RecordHook | None = None,
    log_dir: Path | None = None,
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT_S,
    on_failure: Callable[[str, str], None] | None = None,
) -> list[McpServerToolset]:
    """One pydantic-ai toolset per enabled server, for ``Agent(toolsets=...)``.

    Nothing starts here: each server starts when the agent run enters its toolset (and stops
    when the run ends). One that fails to start, or stops answering, offers no tools; the run
    goes on, and the failure is logged and passed to ``on_failure``.

    Args:
        config: The servers (``load_mcp_config``).
        approve: Asked before every call; ``False`` refuses it and the model reads why.
        record: Called with one ``ToolEvent`` per call (``ok``, ``failed`` or ``declined``).
        log_dir: Where local servers' stderr goes (``mcp-<server>.log``, appended); by
            default a temporary file, read back for the reason when a server fails.
        startup_timeout: Seconds a server gets to start and answer the handshake.
        on_failure: Called with the server's name and the reason when one is skipped.
    """
    prefixes = _server_prefixes([server.name for server in config.enabled()])
    return [
        McpServerToolset(
            server,
            prefix=prefixes[server.name],
            approve=approve,
            record=record,
            log_dir=log_dir,
            startup_timeout=startup_timeout,
            on_failure=on_failure,
        )
        for server in config.enabled()
    ]


def _mcp_toolset(server: McpServerConfig, log: TextIO | None, startup_timeout: float) -> MCPToolset:
    from fastmcp.client.transports import SSETransport, StdioTransport, StreamableHttpTransport
    from pydantic_ai.mcp import MCPToolset

    transport: StdioTransport | SSETransport | StreamableHttpTransport
    if server.transport == "stdio":
        assert server.command is not None
        transport = StdioTransport(
            command=server.command,
            args=list(server.args),
            env=dict(server.env),
            cwd=str(server.cwd) if server.cwd is not None else None,
            keep_alive=False,
            log_file=log,
        )
    elif server.transport == "sse":
        assert server.url is not None
        transport = SSETransport(server.url, headers=dict(server.headers))
    else:
        assert server.url is not None
        transport = StreamableHttpTransport(server.url, headers=dict(server.headers))
    return MCPToolset(
        transport,
        id=server.name,
        tool_error_behavior="failed",
        init_timeout=startup_timeout,
        read_timeout=server.timeout or DEFAULT_CALL_TIMEOUT_S,
    )


def _reason(
    error: BaseException, log: TextIO | None, server: McpServerConfig, timeout: float
) -> str:
    """Why a server failed, in one line, with the last line it wrote to stderr."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    if isinstance(error.__cause__, OSError):
        error = error.__cause__
    message = str(error).strip() or type(error).__name__
    message = message.removeprefix("Client failed to connect: ")
    if isinstance(error, TimeoutError) or message == "Failed to initialize server session":
        message = f"it did not answer the MCP handshake within {timeout:g} s"
    elif message == "Connection closed":
        message = "it closed the connection (did the program exit?)"
    elif isinstance(error, OSError) and server.transport == "stdio" and error.strerror:
        message = f"cannot run {server.command!r}: {error.strerror}"
    elif server.transport != "stdio":
        message = f"{server.url}: {message}"
    tail = _log_tail(log)
    return f"{message}; it wrote: {tail}" if tail else message


def _log_tail(log: TextIO | None) -> str:
    if log is None:
        return ""
    try:
        log.flush()
        log.seek(0)
        lines = [line.strip() for line in log.read().splitlines() if line.strip()]
    except (OSError, ValueError):
        return ""
    return lines[-1][:300] if lines else ""


def _open_log(server: McpServerConfig, log_dir: Path | None) -> TextIO | None:
    if server.transport != "stdio":
        return None
    if log_dir is None:
        return cast(TextIO, tempfile.TemporaryFile("w+", encoding="utf-8"))
    log_dir.mkdir(parents=True, exist_ok=True)
    return (log_dir / f"mcp-{_clean(server.name)}.log").open("a+", encoding="utf-8")


def _summary(result: Any) -> str:
    text = result if isinstance(result, str) else json.dumps(result, default=str)
    first = text.strip().split("\n", 1)[0]
    return first[:200] or "ok"


# Errors a broken or vanished server raises through the MCP client mid-call.
def _call_errors() -> tuple[type[BaseException], ...]:
    from mcp.shared.exceptions import MCPError

    return (
        MCPError,
        OSError,
        RuntimeError,
        TimeoutError,
        anyio.BrokenResourceError,
        anyio.ClosedResourceError,
    )


def _connection_closed(error: BaseException | None) -> bool:
    from mcp.shared.exceptions import MCPError
    from mcp_types import CONNECTION_CLOSED

    return isinstance(error, MCPError) and error.code == CONNECTION_CLOSED


class McpServerToolset(AbstractToolset[Any]):
    """The tools of one MCP server, as the model sees them (see the module docstring).

    Attributes:
        server: The server's entry.
        prefix: The start of its tools' names (``<prefix>__<tool>``).
        failure: Why the server offers no tools, once it failed; ``None`` while it works.
    """

    def __init__(
        self,
        server: McpServerConfig,
        *,
        prefix: str | None = None,
        approve: ApproveHook = _approve_nothing,
        record: RecordHook | None = None,
        log_dir: Path | None = None,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT_S,
        on_failure: Callable[[str, str], None] | None = None,
    ) -> None:
        self.server = server
        self.prefix = prefix or _clean(server.name)
        self.failure: str | None = None
        self._approve = approve
        self._record = record
        self._log_dir = log_dir
        self._startup_timeout = startup_timeout
        self._on_failure = on_failure
        self._client: MCPToolset | None = None
        self._log: TextIO | None = None
        self._depth = 0
        self._names: dict[str, str] = {}
        self._abandoned: list[MCPToolset] = []

    @property
    def id(self) -> str | None:
        return f"mcp-{self.prefix}"

    @property
    def label(self) -> str:
        return f"MCP server {self.server.name!r}"

    async def __aenter__(self) -> McpServerToolset:
        self._depth += 1
        if self._depth > 1:
            return self
        self.failure = None
        self._log = _open_log(self.server, self._log_dir)
        client = _mcp_toolset(self.server, self._log, self._startup_timeout)
        try:
            # The client has its own handshake timeout; this bounds a server that
            # accepts the connection and then hangs before answering.
            with anyio.fail_after(self._startup_timeout + 5):
                await client.__aenter__()
        # A third-party program or endpoint can fail in any way while it starts; every
        # failure is reported with its reason and the run goes on without this server.
        except Exception as error:  # noqa: BLE001
            self._fail(_reason(error, self._log, self.server, self._startup_timeout))
            return self
        self._client = client
        return self

    async def __aexit__(self, *args: Any) -> bool | None:
        self._depth -= 1
        if self._depth > 0:
            return None
        clients = [*self._abandoned, *([self._client] if self._client else [])]
        self._client, self._abandoned = None, []
        try:
            with anyio.CancelScope(shield=True):
                for client in clients:
                    await client.__aexit__(None, None, None)
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None
        return None

    def _fail(self, reason: str) -> None:
        self.failure = reason
        logger.warning("MCP server %r is skipped: %s", self.server.name, reason)
        if self._on_failure is not None:
            self._on_failure(self.server.name, reason)

    async def get_tools(self, ctx: RunContext[Any]) -> dict[str, ToolsetTool[Any]]:
        if self._client is None:
            return {}
        try:
            tools = await self._client.get_tools(ctx)
        except _call_errors() as error:
            reason = _reason(error, self._log, self.server, self._startup_timeout)
            self._fail(f"listing its tools failed: {reason}")
            return {}
        offered: dict[str, ToolsetTool[Any]] = {}
        names: dict[str, str] = {}
        for name, tool in tools.items():
            if self.server.is_tool_disabled(name):
                continue
            agent_name = _fit(f"{self.prefix}__{_clean(name)}", f"{self.server.name}\0{name}")
            number = 2
            while agent_name in offered:
                agent_name = _fit(f"{self.prefix}__{_clean(name)}_{number}", f"{name}\0{number}")
                number += 1
            names[agent_name] = name
            offered[agent_name] = replace(
                tool, toolset=self, tool_def=replace(tool.tool_def, name=agent_name)
            )
        self._names = names
        return offered

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[Any], tool: ToolsetTool[Any]
    ) -> Any:
        started = time.monotonic()
        original = self._names.get(name, name)
        annotations = (tool.tool_def.metadata or {}).get("annotations") or {}
        call = McpToolCall(
            server=self.server.name,
            tool=original,
            arguments=dict(tool_args),
            auto_approved=self.server.is_auto_approved(original),
            agent_name=name,
            read_only=annotations.get("readOnlyHint"),
            destructive=annotations.get("destructiveHint"),
        )
        if self.server.is_tool_disabled(original):
            message = f"The tool {original!r} of MCP server {self.server.name!r} is disabled."
            self._note(name, tool_args, "declined", message, started)
            raise ToolFailed(message)
        if not await self._approve(call):
            message = (
                f"{DECLINED} this call of the tool {original!r} of MCP server "
                f"{self.server.name!r}; it was not sent to the server. Do not retry it as it "
                "is: ask the user what they want, or take another approach."
            )
            self._note(name, tool_args, "declined", message, started)
            raise ToolFailed(message)
        if self._client is None:
            message = f"MCP server {self.server.name!r} is not running: {self.failure or ''}"
            self._note(name, tool_args, "failed", message, started)
            raise ToolFailed(message)
        client = self._client
        inner = replace(tool, toolset=client, tool_def=replace(tool.tool_def, name=original))
        try:
            result = await client.call_tool(
                original, tool_args, replace(ctx, tool_name=original), inner
            )
        except (ToolFailed, ModelRetry) as error:
            if not _connection_closed(error.__cause__):
                self._note(name, tool_args, "failed", str(error), started)
                raise
            failure: BaseException = error.__cause__ or error
        except _call_errors() as error:
            failure = error
        else:
            self._note(name, tool_args, "ok", _summary(result), started)
            return result
        # The server is gone or broken: the model must not keep trying its tools.
        reason = str(failure).strip() or type(failure).__name__
        tail = _log_tail(self._log)
        message = (
            f"MCP server {self.server.name!r} failed during the call of {original!r} "
            f"({reason}{'; it wrote: ' + tail if tail else ''}); its tools are unavailable "
            "for the rest of this run."
        )
        self._fail(f"it failed during a call: {reason}")
        self._client = None
        self._abandoned.append(client)
        self._note(name, tool_args, "failed", message, started)
        raise ToolFailed(message) from failure

    def _note(
        self,
        name: str,
        arguments: Mapping[str, Any],
        outcome: Literal["ok", "failed", "declined"],
        summary: str,
        started: float,
    ) -> None:
        if self._record is None:
            return
        shown = {
            key: value[:2000] + f"[... {len(value) - 2000} more characters]"
            if isinstance(value, str) and len(value) > 2000
            else value
            for key, value in arguments.items()
        }
        self._record(
            ToolEvent(
                name,
                shown,
                outcome,
                summary.split("\n", 1)[0],
                duration_s=time.monotonic() - started,
            )
        )


# -- inspection ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ToolState:
    """A tool of a connected server, as ``specloom mcp list`` shows it.

    Attributes:
        name: The tool's name on the server.
        description: What the server says it does.
        auto_approved: ``autoApprove`` covers it.
        disabled: ``disabledTools`` hides it from the model.
    """

    name: str
    description: str
    auto_approved: bool
    disabled: bool

    def to_dict(self) -> dict[str, object]:
        """The tool as a JSON-ready mapping."""
        return {
            "name": self.name,
            "description": self.description,
            "auto_approved": self.auto_approved,
            "disabled": self.disabled,
        }


@dataclass(frozen=True, slots=True)
class ServerState:
    """What a server is doing now.

    Attributes:
        name: The server's name.
        source: The file its entry is in.
        transport: ``stdio``, ``http`` or ``sse``; ``None`` when the entry is unusable.
        state: ``connected``, ``failed`` (could not start, or the entry is invalid) or
            ``disabled``.
        reason: Why it failed or is disabled; ``None`` when connected.
        tools: Its tools, when connected.
    """

    name: str
    source: Path
    transport: Transport | None
    state: Literal["connected", "failed", "disabled"]
    reason: str | None = None
    tools: tuple[ToolState, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """The state as a JSON-ready mapping."""
        return {
            "name": self.name,
            "source": str(self.source),
            "transport": self.transport,
            "state": self.state,
            "reason": self.reason,
            "tools": [tool.to_dict() for tool in self.tools],
        }


async def inspect_servers(
    config: McpConfig, timeout: float = DEFAULT_STARTUP_TIMEOUT_S
) -> list[ServerState]:
    """Connect every enabled server at once, list its tools, and disconnect.

    Args:
        config: The servers (``load_mcp_config``).
        timeout: Seconds each server gets to start and list its tools.

    Returns:
        One state per server, invalid entries included, by name.
    """
    states: dict[str, ServerState] = {}

    async def check(server: McpServerConfig) -> None:
        states[server.name] = await _inspect(server, timeout)

    async with anyio.create_task_group() as group:
        for server in config.enabled():
            group.start_soon(check, server)
    for server in config.servers.values():
        if server.disabled:
            states[server.name] = ServerState(
                server.name, server.source, server.transport, "disabled", "disabled in its file"
            )
    for problem in config.problems:
        if problem.server is not None:
            states[problem.server] = ServerState(
                problem.server, problem.source, None, "failed", problem.error.render()
            )
    return [states[name] for name in sorted(states)]


async def _inspect(server: McpServerConfig, timeout: float) -> ServerState:
    def failed(reason: str) -> ServerState:
        return ServerState(server.name, server.source, server.transport, "failed", reason)

    log = _open_log(server, None)
    try:
        client = _mcp_toolset(server, log, timeout)
        try:
            with anyio.fail_after(timeout):
                async with client:
                    tools = await client.list_tools()
        except TimeoutError:
            return failed(_reason(TimeoutError(), log, server, timeout))
        # As in McpServerToolset.__aenter__: whatever the server does wrong is its state.
        except Exception as error:  # noqa: BLE001
            return failed(_reason(error, log, server, timeout))
    finally:
        if log is not None:
            log.close()
    return ServerState(
        server.name,
        server.source,
        server.transport,
        "connected",
        tools=tuple(
            ToolState(
                tool.name,
                (tool.description or "").strip(),
                server.is_auto_approved(tool.name),
                server.is_tool_disabled(tool.name),
            )
            for tool in tools
        ),
    )
