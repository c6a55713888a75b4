"""Kiro's ``mcp.json`` files, read into checked MCP server entries.

The user's ``~/.kiro/settings/mcp.json`` and the workspace's ``.kiro/settings/mcp.json`` are
read (the workspace entry wins, server by server). Each entry of ``mcpServers`` is a local
server (``command``, ``args``, ``env``, ``cwd``) or a remote one (``url``, ``headers``), with
``disabled``, ``autoApprove`` (tool names, or ``"*"`` for all), ``disabledTools`` and
``timeout``. ``${VAR}``, ``${VAR:-default}`` and ``${env:VAR}`` in those values come from the
environment. The files are read the way Kiro's editor reads them: comments and trailing commas
are accepted, unknown keys are kept (``McpServerConfig.extra``), ``"disabled": "true"``
counts. A problem in one entry (a missing variable, a wrong type) disables that server only
and is reported with its file and line; the others still load.

Nothing here starts a server: ``specloom.agent.mcp`` turns these entries into toolsets.

May import: the standard library and ``specloom.errors``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from specloom.errors import SettingsError

__all__ = [
    "MCP_FILE",
    "MCP_SETTINGS",
    "McpConfig",
    "McpConfigProblem",
    "McpServerConfig",
    "Transport",
    "load_mcp_config",
    "user_mcp_dir",
]

MCP_SETTINGS = Path(".kiro") / "settings" / "mcp.json"
"""The workspace's MCP file, relative to the project root."""
MCP_FILE = "mcp.json"

Transport = Literal["stdio", "http", "sse"]


def user_mcp_dir() -> Path:
    """The folder of the user-level MCP file: Kiro's ``~/.kiro/settings``."""
    return Path.home() / ".kiro" / "settings"


@dataclass(frozen=True, slots=True)
class McpServerConfig:
    """One entry of ``mcpServers``, checked and with ``${VAR}`` expanded.

    Attributes:
        name: The entry's key.
        source: The file it came from.
        transport: ``"stdio"`` (a local command), ``"http"`` (streamable HTTP) or ``"sse"``.
        command: The program of a local server.
        args: Its arguments.
        env: Variables added to its environment (which otherwise holds only ``HOME``,
            ``PATH`` and a few more: no secrets of this process).
        cwd: The folder it runs in (default: the workspace root).
        url: The endpoint of a remote server.
        headers: HTTP headers sent to it.
        disabled: Not started, its tools not offered.
        auto_approve: Tool names ``autoApprove`` lists, or ``"*"`` for all of them.
        disabled_tools: Tools never offered to the model.
        timeout: Seconds one tool call may take (``timeout`` of 1000 or more is read as
            milliseconds, as some clients write it); ``None``: the default.
        extra: Keys specloom does not use, kept as they were.
        line: The entry's line in ``source``.
    """

    name: str
    source: Path
    transport: Transport = "stdio"
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    disabled: bool = False
    auto_approve: frozenset[str] | Literal["*"] = frozenset()
    disabled_tools: frozenset[str] = frozenset()
    timeout: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    line: int | None = None

    def is_auto_approved(self, tool: str) -> bool:
        """Whether ``autoApprove`` covers the server's tool ``tool``."""
        return self.auto_approve == "*" or tool in self.auto_approve

    def is_tool_disabled(self, tool: str) -> bool:
        """Whether ``disabledTools`` hides the server's tool ``tool``."""
        return tool in self.disabled_tools


@dataclass(frozen=True, slots=True)
class McpConfigProblem:
    """Something wrong in an MCP file: the whole file (``server`` is ``None``) or one entry.

    Attributes:
        server: The entry's name, or ``None`` when the file as a whole cannot be used.
        source: The file.
        error: What is wrong, with the line and what to do.
    """

    server: str | None
    source: Path
    error: SettingsError


@dataclass(slots=True)
class McpConfig:
    """The merged MCP servers and what could not be loaded.

    Attributes:
        servers: The usable entries by name (disabled ones included), workspace over user.
        problems: Files and entries that could not be used; an entry here is not in
            ``servers``.
        files: The files read, user first.
    """

    servers: dict[str, McpServerConfig] = field(default_factory=dict)
    problems: list[McpConfigProblem] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    def enabled(self) -> list[McpServerConfig]:
        """The servers to start, by name."""
        return [
            self.servers[name] for name in sorted(self.servers) if not self.servers[name].disabled
        ]


def load_mcp_config(
    root: Path | None,
    *,
    user_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> McpConfig:
    """Read the user's and the workspace's ``mcp.json``; the workspace's entries win by name.

    Args:
        root: The workspace root, or ``None`` outside a project. Local servers run there.
        user_dir: The folder of the user-level file (default: ``~/.kiro/settings``).
        environ: Where ``${VAR}`` values come from (default: this process's environment).

    Returns:
        The servers, and the problems found (never raised: one bad entry or file must not
        take the others down).
    """
    environ = os.environ if environ is None else environ
    folder = user_dir if user_dir is not None else user_mcp_dir()
    paths = [folder / MCP_FILE]
    if root is not None:
        paths.append(root / MCP_SETTINGS)
    config = McpConfig()
    for path in paths:
        if not path.is_file():
            continue
        config.files.append(path)
        entries, problems = _read_file(path, root, environ)
        for problem in problems:
            if problem.server is not None:
                config.servers.pop(problem.server, None)
                config.problems = [p for p in config.problems if p.server != problem.server]
            config.problems.append(problem)
        for name, entry in entries.items():
            config.problems = [p for p in config.problems if p.server != name]
            config.servers[name] = entry
    return config


def _read_file(
    path: Path, root: Path | None, environ: Mapping[str, str]
) -> tuple[dict[str, McpServerConfig], list[McpConfigProblem]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        return {}, [_file_problem(path, f"cannot be read: {error}.", None, "Check the file.")]
    if not text.strip():
        return {}, []
    try:
        data = json.loads(_strip_jsonc(text))
    except json.JSONDecodeError as error:
        return {}, [
            McpConfigProblem(
                None,
                path,
                SettingsError(
                    f"not valid JSON: {error.msg}.",
                    file=path,
                    line=error.lineno,
                    column=error.colno,
                    hint="Fix the JSON syntax there; no MCP server of this file is used until "
                    "then.",
                ),
            )
        ]
    if not isinstance(data, dict):
        return {}, [_file_problem(path, "must hold a JSON object.", 1, 'Write {"mcpServers": {}}.')]
    servers = data.get("mcpServers", {})
    if servers is None:
        return {}, []
    if not isinstance(servers, dict):
        line = _line_of(text, "mcpServers", 0)[0]
        return {}, [
            _file_problem(
                path,
                "`mcpServers` must be an object of servers by name.",
                line,
                'Write "mcpServers": {"name": {"command": ...}}.',
            )
        ]
    start = _line_of(text, "mcpServers", 0)[1]
    entries: dict[str, McpServerConfig] = {}
    problems: list[McpConfigProblem] = []
    for name, raw in servers.items():
        line, offset = _line_of(text, name, start)
        try:
            entries[name] = _server(name, raw, path, line, root, environ, text, offset)
        except SettingsError as error:
            problems.append(McpConfigProblem(name, path, error))
    return entries, problems


def _file_problem(path: Path, message: str, line: int | None, hint: str) -> McpConfigProblem:
    return McpConfigProblem(None, path, SettingsError(message, file=path, line=line, hint=hint))


_STRING_KEYS = ("command", "url", "cwd", "type", "transport")


def _server(
    name: str,
    raw: Any,
    path: Path,
    line: int | None,
    root: Path | None,
    environ: Mapping[str, str],
    text: str,
    offset: int,
) -> McpServerConfig:
    def fail(message: str, hint: str) -> SettingsError:
        return SettingsError(f"MCP server {name!r}: {message}.", file=path, line=line, hint=hint)

    if not isinstance(raw, dict):
        raise fail("the entry must be an object", 'Write {"command": ..., "args": [...]}.')
    for key in _STRING_KEYS:
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise fail(f"`{key}` must be a string", f"Quote the value of `{key}`.")
    disabled = _flag(raw.get("disabled", False))
    if disabled is None:
        raise fail("`disabled` must be true or false", 'Write "disabled": true or false.')
    if not disabled:
        # Disabled entries keep their `${VAR}` references: nothing will run with them.
        raw = _expand(raw, environ, lambda var: _missing(name, var, path, text, offset, line))
    kind = str(raw.get("type") or raw.get("transport") or "").lower().replace("_", "-")
    command, url = raw.get("command"), raw.get("url")
    transport: Transport
    if kind == "sse":
        transport = "sse"
    elif kind in ("http", "streamable-http", "streamablehttp") or (url and not command):
        transport = "http"
    else:
        transport = "stdio"
    if transport == "stdio" and not command:
        raise fail(
            "it has neither `command` nor `url`",
            "Give `command` (and `args`) for a local server, or `url` for a remote one.",
        )
    if transport != "stdio" and not url:
        raise fail(f"`type` is {kind!r} but there is no `url`", "Add the server's `url`.")
    args = _strings(raw.get("args"), allow_mapping=False)
    env = _strings(raw.get("env"), allow_mapping=True)
    headers = _strings(raw.get("headers"), allow_mapping=True)
    if args is None or not isinstance(args, list):
        raise fail("`args` must be a list of strings", 'Write "args": ["--flag", "value"].')
    if env is None or not isinstance(env, dict):
        raise fail("`env` must be an object of strings", 'Write "env": {"NAME": "value"}.')
    if headers is None or not isinstance(headers, dict):
        raise fail("`headers` must be an object of strings", 'Write "headers": {"Name": "v"}.')
    auto = raw.get("autoApprove")
    auto_approve: frozenset[str] | Literal["*"]
    if auto == "*" or (isinstance(auto, list) and "*" in auto):
        auto_approve = "*"
    elif auto is None or auto is False:
        auto_approve = frozenset()
    elif isinstance(auto, str):
        auto_approve = frozenset([auto])
    elif isinstance(auto, list) and all(isinstance(item, str) for item in auto):
        auto_approve = frozenset(auto)
    else:
        raise fail(
            '`autoApprove` must be a list of tool names or "*"',
            'Write "autoApprove": ["tool_name"], or "*" for every tool.',
        )
    hidden = raw.get("disabledTools")
    if isinstance(hidden, str):
        hidden = [hidden]
    if hidden is not None and not (
        isinstance(hidden, list) and all(isinstance(item, str) for item in hidden)
    ):
        raise fail(
            "`disabledTools` must be a list of tool names", 'Write "disabledTools": ["tool_name"].'
        )
    timeout = raw.get("timeout")
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise fail("`timeout` must be a number of seconds > 0", 'Write "timeout": 60.')
        timeout = float(timeout) / 1000 if timeout >= 1000 else float(timeout)
    cwd_text = raw.get("cwd")
    cwd = Path(cwd_text).expanduser() if cwd_text else root
    if cwd is not None and not cwd.is_absolute() and root is not None:
        cwd = root / cwd
    known = {
        "command",
        "args",
        "env",
        "cwd",
        "url",
        "headers",
        "disabled",
        "autoApprove",
        "disabledTools",
        "timeout",
    }
    return McpServerConfig(
        name=name,
        source=path,
        transport=transport,
        command=command if transport == "stdio" else None,
        args=tuple(args),
        env=env,
        cwd=cwd,
        url=url if transport != "stdio" else None,
        headers=headers,
        disabled=disabled,
        auto_approve=auto_approve,
        disabled_tools=frozenset(hidden or ()),
        timeout=timeout,
        extra={key: value for key, value in raw.items() if key not in known},
        line=line,
    )


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no", ""):
        return value.strip().lower() in ("true", "yes")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return None


def _strings(value: Any, *, allow_mapping: bool) -> list[str] | dict[str, str] | None:
    """A list (or object) of strings; numbers and booleans become their JSON text."""

    def text(item: Any) -> str | None:
        if isinstance(item, str):
            return item
        if isinstance(item, bool | int | float):
            return json.dumps(item)
        return None

    if value is None:
        return {} if allow_mapping else []
    if allow_mapping and isinstance(value, dict):
        mapping = {str(key): text(item) for key, item in value.items()}
        if any(item is None for item in mapping.values()):
            return None
        return {key: item for key, item in mapping.items() if item is not None}
    if not allow_mapping and isinstance(value, list):
        items = [text(item) for item in value]
        if any(item is None for item in items):
            return None
        return [item for item in items if item is not None]
    return None


_VARIABLE = re.compile(r"\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _expand(value: Any, environ: Mapping[str, str], missing: Callable[[str], Exception]) -> Any:
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match[1], match[2]
            if name in environ:
                return environ[name]
            if default is not None:
                return default
            raise missing(name)

        return _VARIABLE.sub(substitute, value)
    if isinstance(value, dict):
        return {key: _expand(item, environ, missing) for key, item in value.items()}
    if isinstance(value, list):
        return [_expand(item, environ, missing) for item in value]
    return value


def _missing(
    name: str, variable: str, path: Path, text: str, offset: int, line: int | None
) -> SettingsError:
    found = re.compile(r"\$\{(?:env:)?" + re.escape(variable) + r"[}:]").search(text, offset)
    return SettingsError(
        f"MCP server {name!r}: the environment variable {variable} is not set, so the server "
        "is not started.",
        file=path,
        line=text.count("\n", 0, found.start()) + 1 if found else line,
        hint=f"Set {variable} in the environment specloom runs in, give a default with "
        f"${{{variable}:-value}}, or disable the server.",
    )


def _line_of(text: str, key: str, start: int) -> tuple[int | None, int]:
    match = re.compile(r'"' + re.escape(key) + r'"\s*:').search(text, start)
    if match is None:
        return None, start
    return text.count("\n", 0, match.start()) + 1, match.end()


_BLANKS = re.compile(r"\s*")


def _strip_jsonc(text: str) -> str:
    """JSON with comments and trailing commas made plain JSON, every line where it was."""
    out: list[str] = []
    index, length = 0, len(text)
    in_string = False
    while index < length:
        char = text[index]
        if in_string:
            out.append(char)
            if char == "\\" and index + 1 < length:
                out.append(text[index + 1])
                index += 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
            out.append(char)
        elif text.startswith("//", index):
            end = text.find("\n", index)
            end = length if end < 0 else end
            out.append(" " * (end - index))
            index = end
            continue
        elif text.startswith("/*", index):
            end = text.find("*/", index + 2)
            end = length if end < 0 else end + 2
            out.append(re.sub(r"[^\n]", " ", text[index:end]))
            index = end
            continue
        else:
            out.append(char)
        index += 1
    plain = "".join(out)
    # Trailing commas: outside strings, a comma followed only by blanks and a closing bracket.
    result: list[str] = []
    in_string = False
    escaped = False
    for position, char in enumerate(plain):
        if in_string:
            in_string = escaped or char != '"'
            escaped = not escaped and char == "\\"
        elif char == '"':
            in_string = True
        elif char == ",":
            following = _BLANKS.match(plain, position + 1)
            after = plain[following.end() : following.end() + 1] if following else ""
            if after and after in "}]":
                char = " "
        result.append(char)
    return "".join(result)
