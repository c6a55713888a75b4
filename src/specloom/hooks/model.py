"""Hooks as one model, whichever file format they came from.

Kiro writes hooks in two formats, both under ``.kiro/hooks/``:

* the IDE's legacy files, one hook per ``<name>.kiro.hook``: ``when`` (an event ``type`` and,
  for file events, glob ``patterns``; for tool events, ``toolTypes``) and ``then``
  (``askAgent`` with a ``prompt``, or ``runCommand`` with a ``command``);
* the newer ``*.json`` files, ``{"version": "v1", "hooks": [...]}``: a ``trigger``
  (``PostFileSave``, ``PreToolUse``...), a ``matcher`` regular expression (a file path or a
  tool name), an ``action`` of type ``command`` or ``agent``, a ``timeout`` (60 s) and
  ``confirm``.

Both become a ``Hook``: an ``EventKind`` (the legacy names, which are also what specloom
reports), a way to match files or tools, and an ``Action``. A ``HookEvent`` is what happened;
``Hook.select`` says whether a hook fires for it and for which of its files. ``HookRun`` is
one run of one hook, ``HookOutcome`` what a dispatch of one event adds up to.

Tool names: a hook can name specloom's tools (``write_file``), Kiro's built-in categories
(``read``, ``write``, ``shell``), Kiro's tool names (``fs_write``, ``str_replace``,
``execute_bash``), MCP tools as ``@server`` or ``@server/tool`` (the part after ``@`` is a
regular expression), ``@builtin``, ``@mcp`` or ``*``. Legacy ``toolTypes`` entries are globs;
a v1 ``matcher`` is a regular expression searched in each of the names a tool goes by.

File patterns: legacy ``patterns`` are gitignore-style globs relative to the project root
(``*.py`` matches at any depth, ``src/*.py`` only there, ``**`` crosses folders, ``!`` excludes);
a v1 ``matcher`` is searched in the path relative to the root (``/`` separators).

May import: the standard library and ``pathspec``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "BLOCKING_EVENTS",
    "DEFAULT_TIMEOUT_S",
    "FILE_EVENTS",
    "TOOL_EVENTS",
    "V1_TRIGGERS",
    "Action",
    "EventKind",
    "Hook",
    "HookEvent",
    "HookOutcome",
    "HookRun",
    "RunOutcome",
    "first_line",
    "parse_event_kind",
    "tool_names",
]

DEFAULT_TIMEOUT_S = 60.0
"""Seconds a hook's command may run when its file does not say."""


class EventKind(StrEnum):
    """What a hook can fire on (Kiro's legacy names)."""

    fileEdited = "fileEdited"
    fileCreated = "fileCreated"
    fileDeleted = "fileDeleted"
    promptSubmit = "promptSubmit"
    agentStop = "agentStop"
    preToolUse = "preToolUse"
    postToolUse = "postToolUse"
    preTaskExecution = "preTaskExecution"
    postTaskExecution = "postTaskExecution"
    userTriggered = "userTriggered"
    sessionStart = "sessionStart"


FILE_EVENTS = frozenset({EventKind.fileEdited, EventKind.fileCreated, EventKind.fileDeleted})
TOOL_EVENTS = frozenset({EventKind.preToolUse, EventKind.postToolUse})
BLOCKING_EVENTS = frozenset(
    {EventKind.preToolUse, EventKind.preTaskExecution, EventKind.promptSubmit}
)
"""Events whose action a hook can stop (the others only add context)."""

_LEGACY_ALIASES = {
    "manual": EventKind.userTriggered,
    "userpromptsubmit": EventKind.promptSubmit,
    "stop": EventKind.agentStop,
    "agentspawn": EventKind.sessionStart,
    "pretaskexec": EventKind.preTaskExecution,
    "posttaskexec": EventKind.postTaskExecution,
}
V1_TRIGGERS: dict[str, EventKind] = {
    "PostFileSave": EventKind.fileEdited,
    "PostFileCreate": EventKind.fileCreated,
    "PostFileDelete": EventKind.fileDeleted,
    "UserPromptSubmit": EventKind.promptSubmit,
    "Stop": EventKind.agentStop,
    "PreToolUse": EventKind.preToolUse,
    "PostToolUse": EventKind.postToolUse,
    "PreTaskExec": EventKind.preTaskExecution,
    "PreTaskExecution": EventKind.preTaskExecution,
    "PostTaskExec": EventKind.postTaskExecution,
    "PostTaskExecution": EventKind.postTaskExecution,
    "Manual": EventKind.userTriggered,
    "SessionStart": EventKind.sessionStart,
}
"""The v1 trigger names and the events they stand for."""
_V1_NAME = {
    EventKind.fileEdited: "PostFileSave",
    EventKind.fileCreated: "PostFileCreate",
    EventKind.fileDeleted: "PostFileDelete",
    EventKind.promptSubmit: "UserPromptSubmit",
    EventKind.agentStop: "Stop",
    EventKind.preToolUse: "PreToolUse",
    EventKind.postToolUse: "PostToolUse",
    EventKind.preTaskExecution: "PreTaskExec",
    EventKind.postTaskExecution: "PostTaskExec",
    EventKind.userTriggered: "Manual",
    EventKind.sessionStart: "SessionStart",
}


def parse_event_kind(name: str) -> EventKind | None:
    """The event a legacy ``when.type`` or a v1 ``trigger`` names (any case), or ``None``."""
    folded = name.strip().casefold()
    for kind in EventKind:
        if kind.value.casefold() == folded:
            return kind
    for trigger, kind in V1_TRIGGERS.items():
        if trigger.casefold() == folded:
            return kind
    return _LEGACY_ALIASES.get(folded)


# --- tools ----------------------------------------------------------------------------------

_READ_TOOLS = frozenset({"read_file", "list_files", "search_files", "read_spec"})
_TOOL_ALIASES: dict[str, tuple[str, ...]] = {
    "read_file": ("read", "fs_read", "readFile"),
    "list_files": ("read", "fs_read", "listDirectory", "glob"),
    "search_files": ("read", "fs_read", "grep", "grepSearch"),
    "read_spec": ("read", "fs_read"),
    "write_file": ("write", "fs_write", "fsWrite", "create"),
    "edit_file": ("write", "fs_write", "str_replace", "strReplace", "fsAppend"),
    "run_command": ("shell", "execute_bash", "executeBash", "bash", "execute_cmd"),
}


def tool_names(tool: str) -> tuple[str, ...]:
    """Every name ``tool`` goes by for matching: its own, Kiro's built-in category and tool
    names, and for an MCP tool (``server__tool``) ``@mcp``, ``@server`` and ``@server/tool``."""
    names = [tool]
    if tool in _TOOL_ALIASES:
        names.extend(_TOOL_ALIASES[tool])
        names.append("@builtin")
    elif "__" in tool:
        server, _, name = tool.partition("__")
        names.extend(["@mcp", f"@{server}", f"@{server}/{name}", name])
    return tuple(dict.fromkeys(names))


def _legacy_tool_matches(entry: str, tool: str) -> bool:
    names = tool_names(tool)
    if entry in ("*", "@*"):
        return True
    if entry.startswith("@") and entry not in ("@builtin", "@mcp"):
        pattern = entry[1:]
        targets = [name[1:] for name in names if name.startswith("@")]
        try:
            return any(re.fullmatch(pattern, target) for target in targets)
        except re.error:
            return entry in names
    return any(fnmatch.fnmatchcase(name.casefold(), entry.casefold()) for name in names)


# --- hooks ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Action:
    """What a hook does when it fires.

    Attributes:
        kind: ``runCommand`` (a shell line) or ``askAgent`` (a prompt for the agent).
        command: The shell line, for ``runCommand``.
        prompt: The prompt, for ``askAgent``.
        timeout_s: Seconds the command may run (``None``: the default, 60).
    """

    kind: Literal["runCommand", "askAgent"]
    command: str = ""
    prompt: str = ""
    timeout_s: float | None = None

    @property
    def timeout(self) -> float:
        """The timeout in force."""
        return self.timeout_s if self.timeout_s is not None else DEFAULT_TIMEOUT_S


@dataclass(frozen=True)
class Hook:
    """One hook, from either file format.

    Attributes:
        id: How commands name it: the file's stem for a legacy file (``lint-on-save`` for
            ``lint-on-save.kiro.hook``), the ``name`` for a v1 entry.
        name: Its ``name`` field (what people read).
        event: What it fires on.
        action: What it does.
        source: The file it was read from.
        format: ``legacy`` (``*.kiro.hook``) or ``v1`` (``*.json``).
        index: Its position in a v1 file's ``hooks`` list (0 for legacy files).
        description: Its ``description``.
        enabled: Whether it fires.
        patterns: Legacy file globs (file events).
        tool_patterns: Legacy ``toolTypes`` (tool events; empty: every tool).
        matcher: The v1 regular expression (``None``: everything).
        confirm: v1 ``confirm``: ask before each run.
        button_text: The legacy ``button_text`` of a manual hook.
        version: The file's ``version`` value, as written.
    """

    id: str
    name: str
    event: EventKind
    action: Action
    source: Path
    format: Literal["legacy", "v1"] = "legacy"
    index: int = 0
    description: str = ""
    enabled: bool = True
    patterns: tuple[str, ...] = ()
    tool_patterns: tuple[str, ...] = ()
    matcher: str | None = None
    confirm: bool = False
    button_text: str | None = None
    version: str | None = None

    @property
    def event_name(self) -> str:
        """The event as this hook's format names it (``hook_event_name`` on a command's stdin)."""
        return _V1_NAME[self.event] if self.format == "v1" else self.event.value

    @property
    def can_block(self) -> bool:
        """Whether this hook's event is one it can stop."""
        return self.event in BLOCKING_EVENTS

    @cached_property
    def _pathspec(self) -> Any:
        from pathspec import GitIgnoreSpec

        return GitIgnoreSpec.from_lines(list(self.patterns))

    @cached_property
    def _regex(self) -> re.Pattern[str] | None:
        return re.compile(self.matcher) if self.matcher else None

    def matches_file(self, relative: str) -> bool:
        """Whether a file (relative to the root, ``/`` separators) is one this hook watches."""
        if self.format == "v1":
            regex = self._regex
            return regex is None or regex.search(relative) is not None
        if not self.patterns:
            return False
        return bool(self._pathspec.match_file(relative))

    def matches_tool(self, tool: str) -> bool:
        """Whether a tool call of ``tool`` is one this hook watches."""
        if self.format == "v1":
            regex = self._regex
            return regex is None or any(regex.search(name) for name in tool_names(tool))
        if not self.tool_patterns:
            return True
        return any(_legacy_tool_matches(entry, tool) for entry in self.tool_patterns)

    def select(self, event: HookEvent) -> tuple[str, ...] | None:
        """Whether this hook fires for ``event``: ``None`` if not, else the event's files it
        fires for (all of them for events that are not about files)."""
        if not self.enabled or event.kind != self.event:
            return None
        if self.event in FILE_EVENTS:
            chosen = tuple(path for path in event.files if self.matches_file(path))
            return chosen or None
        if self.event in TOOL_EVENTS:
            if event.tool_name is None or not self.matches_tool(event.tool_name):
                return None
        return event.files

    def describe_trigger(self) -> str:
        """What it watches, in a few words (patterns, tool names or matcher)."""
        if self.format == "v1":
            return f"/{self.matcher}/" if self.matcher else "*"
        if self.event in FILE_EVENTS:
            return ", ".join(self.patterns)
        if self.event in TOOL_EVENTS:
            return ", ".join(self.tool_patterns) or "*"
        return ""

    def to_dict(self) -> dict[str, object]:
        """The hook as JSON (``hooks list --json``)."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "event": self.event.value,
            "trigger": self.event_name,
            "enabled": self.enabled,
            "action": self.action.kind,
            "command": self.action.command or None,
            "prompt": self.action.prompt or None,
            "timeout_s": self.action.timeout,
            "patterns": list(self.patterns),
            "tool_patterns": list(self.tool_patterns),
            "matcher": self.matcher,
            "confirm": self.confirm,
            "format": self.format,
            "file": str(self.source),
            "index": self.index,
        }


# --- events and runs ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HookEvent:
    """Something that happened, for hooks to react to.

    Attributes:
        kind: What happened (an ``EventKind`` or its name).
        root: The project root.
        session_id: The agent session or watch session it happened in.
        files: The files it is about, relative to ``root`` with ``/`` separators (absolute
            paths inside ``root`` are made relative).
        tool_name: The tool being called (tool events).
        tool_input: The tool's arguments (tool events).
        tool_response: What the tool returned (``postToolUse``).
        task: The task id (task events).
        spec: The spec the task belongs to.
        prompt: The user's prompt (``promptSubmit``).
    """

    kind: EventKind
    root: Path
    session_id: str = ""
    files: tuple[str, ...] = ()
    tool_name: str | None = None
    tool_input: Mapping[str, Any] | None = None
    tool_response: str | None = None
    task: str | None = None
    spec: str | None = None
    prompt: str | None = None

    def __post_init__(self) -> None:
        kind = self.kind if isinstance(self.kind, EventKind) else parse_event_kind(str(self.kind))
        if kind is None:
            raise ValueError(f"unknown hook event {self.kind!r}")
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "root", Path(self.root))
        object.__setattr__(self, "files", tuple(_relative(self.root, f) for f in self.files))

    def payload(self, hook_event_name: str) -> dict[str, Any]:
        """The JSON a command gets on its standard input."""
        data: dict[str, Any] = {
            "hook_event_name": hook_event_name,
            "cwd": str(self.root),
            "session_id": self.session_id,
        }
        if self.files:
            data["file_path"] = self.files[0]
            data["file_paths"] = list(self.files)
        if self.tool_name is not None:
            data["tool_name"] = self.tool_name
            data["tool_input"] = dict(self.tool_input or {})
        if self.tool_response is not None:
            data["tool_response"] = self.tool_response
        if self.task is not None:
            data["task"] = self.task
        if self.spec is not None:
            data["spec"] = self.spec
        if self.prompt is not None:
            data["prompt"] = self.prompt
        return data


def _relative(root: Path, path: str | Path) -> str:
    candidate = Path(path)
    if candidate.is_absolute():
        try:
            return candidate.relative_to(root).as_posix()
        except ValueError:
            return candidate.as_posix()
    return candidate.as_posix()


RunOutcome = Literal["ok", "failed", "blocked", "timeout", "refused", "error", "cancelled"]
"""How a hook run ended: ``ok``; ``failed`` (non-zero exit, or the agent stopped early);
``blocked`` (it stopped a pre-event's action); ``timeout``; ``refused`` (the policy or the user
said no, or nobody could confirm); ``error`` (it could not run); ``cancelled``."""


@dataclass(frozen=True, slots=True)
class HookRun:
    """One run of one hook.

    Attributes:
        hook: The hook's id.
        name: The hook's name.
        event: The event it ran for.
        action: ``runCommand`` or ``askAgent``.
        outcome: How it ended.
        exit_code: The command's exit status (``None`` for agent runs and commands that never
            started).
        duration_s: Seconds it took.
        output: The command's standard output (or the agent's answer), capped.
        errors: The command's standard error, capped.
        files: The files it ran for.
        run_id: Its id in the audit log.
        started_at: When it started (seconds since the epoch).
        detail: Why it ended that way, in words (the block reason, the refusal...).
        changed_files: Files the agent wrote (agent runs).
    """

    hook: str
    name: str
    event: EventKind
    action: Literal["runCommand", "askAgent"]
    outcome: RunOutcome
    exit_code: int | None
    duration_s: float
    output: str = ""
    errors: str = ""
    files: tuple[str, ...] = ()
    run_id: str = ""
    started_at: float = 0.0
    detail: str = ""
    changed_files: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """It ran to a successful end."""
        return self.outcome == "ok"

    def to_dict(self) -> dict[str, object]:
        """The run as JSON (one line of ``specloom watch --json``)."""
        return {
            "hook": self.hook,
            "name": self.name,
            "event": self.event.value,
            "action": self.action,
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "duration_s": round(self.duration_s, 4),
            "files": list(self.files),
            "output": self.output,
            "errors": self.errors,
            "detail": self.detail,
            "run_id": self.run_id,
            "started_at": self.started_at,
            "changed_files": list(self.changed_files),
        }


@dataclass(slots=True)
class HookOutcome:
    """What the hooks of one event add up to.

    Attributes:
        blocked: A hook stopped the event's action (pre-events only).
        reason: Why, for the agent and the user (the blocking hook's message).
        context: Text for the agent's context: the standard output of commands that exited
            0, the prompts of ``askAgent`` hooks the running agent is to follow, the answers
            of agents the hooks ran.
        runs: Every run, in order.
    """

    blocked: bool = False
    reason: str = ""
    context: list[str] = field(default_factory=list)
    runs: list[HookRun] = field(default_factory=list)

    def merge(self, other: HookOutcome) -> None:
        """Add another outcome's runs and context (a block stays a block)."""
        if other.blocked and not self.blocked:
            self.blocked, self.reason = True, other.reason
        self.context.extend(other.context)
        self.runs.extend(other.runs)


def first_line(text: str, width: int = 160) -> str:
    """The first non-empty line of ``text``, cut to ``width``."""
    for line in text.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= width else line[: width - 1] + "…"
    return ""
