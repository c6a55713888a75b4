"""What the agent's tools work with: the ``ToolEnv``, and the requests and events they send
to the agent loop.

``ToolEnv`` holds the workspace (path confinement), the settings, the sandbox and three
callbacks the agent loop supplies: ``approve`` (asked before every write, edit and command,
with a structured ``ApprovalRequest``), ``before_change`` (awaited just before files may
change: the checkpoint hook) and ``record`` (one ``ToolEvent`` per tool call: the audit
hook). The defaults approve everything and do nothing else; the agent loop replaces them with
the policy, checkpoints and audit log.

May import: the standard library, ``specloom.errors``, ``specloom.settings`` and
``specloom.agent.confine``, ``.runner``, ``.sandbox``.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from specloom.agent import runner
from specloom.agent.confine import Workspace
from specloom.agent.sandbox import Sandbox
from specloom.errors import ModelFacingError
from specloom.settings import Settings

__all__ = [
    "DECLINED",
    "ApprovalRequest",
    "CallRecord",
    "ToolEnv",
    "ToolEvent",
    "ToolLimits",
    "ask_approval",
    "audited",
]

DECLINED = "The user declined"
"""How the message of a ``ModelFacingError`` raised for a refused approval starts."""


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """What a tool is about to do, for the policy (and the user) to allow or refuse.

    Attributes:
        kind: ``"write"`` (create or replace a file), ``"edit"`` or ``"command"``.
        tool: The tool's name.
        summary: One line for a prompt (``edit src/app.py (+3 -1 lines)``).
        path: The file, as the tools show it (relative to the workspace), for writes/edits.
        absolute_path: The same file, resolved.
        command: The shell line, for commands.
        cwd: The folder the command runs in, as shown to the model.
        diff: A unified diff of the change, for writes and edits.
        new_file: The write creates the file.
        sandboxed: For commands: whether it will run in the sandbox.
    """

    kind: Literal["write", "edit", "command"]
    tool: str
    summary: str
    path: str | None = None
    absolute_path: Path | None = None
    command: str | None = None
    cwd: str | None = None
    diff: str | None = None
    new_file: bool = False
    sandboxed: bool | None = None


@dataclass(frozen=True, slots=True)
class ToolEvent:
    """One tool call, for the audit log (which redacts secrets before storing it).

    Attributes:
        tool: The tool's name.
        arguments: The arguments as the model gave them (long texts cut to 2,000 chars).
        outcome: ``"ok"``, ``"failed"`` (the model was told why) or ``"declined"``.
        summary: The first line of the result or of the error.
        paths: Files written or edited (resolved).
        exit_code: For commands, the exit status.
        sandboxed: For commands, whether it ran in the sandbox.
        duration_s: Seconds the call took.
    """

    tool: str
    arguments: Mapping[str, object]
    outcome: Literal["ok", "failed", "declined"]
    summary: str
    paths: tuple[Path, ...] = ()
    exit_code: int | None = None
    sandboxed: bool | None = None
    duration_s: float = 0.0


@dataclass(frozen=True, slots=True)
class ToolLimits:
    """Caps on what tools read and run; each field is a key of ``agent.tools`` in settings.

    Attributes:
        read_max_lines: Most lines ``read_file`` returns at once.
        read_max_chars: Most characters ``read_file`` returns at once.
        read_max_line_chars: Longer lines are cut.
        list_max_results: Most files ``list_files`` returns (the model may ask for fewer).
        search_max_results: Most matching lines ``search_files`` returns.
        command_timeout_s: Default command timeout.
        command_max_timeout_s: The longest timeout a model may ask for.
        command_output_cap: Most bytes of command output kept (head and tail).
        command_pass_secrets: Pass variables that look secret (``*_API_KEY``, ``*_TOKEN``)
            to commands; off by default.
    """

    read_max_lines: int = 2000
    read_max_chars: int = 100_000
    read_max_line_chars: int = 2000
    list_max_results: int = 1000
    search_max_results: int = 200
    command_timeout_s: float = 120.0
    command_max_timeout_s: float = 600.0
    command_output_cap: int = 30_000
    command_pass_secrets: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> ToolLimits:
        """The limits set in ``agent.tools``, defaults for the rest.

        Raises:
            SettingsError: A value of the wrong type, or not positive.
        """
        values: dict[str, Any] = {}
        for item in fields(cls):
            value = settings.get("agent", "tools", item.name)
            if value is None:
                continue
            if item.name == "command_pass_secrets":
                valid = isinstance(value, bool)
            else:
                valid = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
            if not valid:
                kind = "true or false" if item.name == "command_pass_secrets" else "a number > 0"
                raise settings.error(
                    f"`agent.tools.{item.name}` must be {kind}", "agent", "tools", item.name
                )
            if item.name.endswith("_s"):
                value = float(value)
            elif item.name != "command_pass_secrets":
                value = int(value)
            values[item.name] = value
        return cls(**values)


async def _approve_everything(request: ApprovalRequest) -> bool:
    return True


async def _no_checkpoint(paths: Sequence[Path]) -> None:
    return None


def _record_nothing(event: ToolEvent) -> None:
    return None


@dataclass(slots=True)
class ToolEnv:
    """What the tools work with, and the agent loop's hooks into them.

    Attributes:
        workspace: The roots the file tools are confined to.
        settings: The merged settings.
        sandbox: Where commands run; ``None`` runs them unsandboxed.
        approve: Asked before every write, edit and command; ``False`` refuses it.
        before_change: Awaited with the paths that may change (all roots for a command)
            after approval and just before the change: the checkpoint hook.
        record: Called once per tool call with what happened: the audit hook.
        limits: Read, search and command caps.
        command_env: The environment for commands; ``None``: this process's, without
            secret-looking variables unless ``limits.command_pass_secrets``.
    """

    workspace: Workspace
    settings: Settings = field(default_factory=Settings)
    sandbox: Sandbox | None = None
    approve: Callable[[ApprovalRequest], Awaitable[bool]] = _approve_everything
    before_change: Callable[[Sequence[Path]], Awaitable[None]] = _no_checkpoint
    record: Callable[[ToolEvent], None] = _record_nothing
    limits: ToolLimits = field(default_factory=ToolLimits)
    command_env: Mapping[str, str] | None = None

    @classmethod
    def create(
        cls,
        roots: Sequence[Path],
        settings: Settings | None = None,
        *,
        approve: Callable[[ApprovalRequest], Awaitable[bool]] = _approve_everything,
        before_change: Callable[[Sequence[Path]], Awaitable[None]] = _no_checkpoint,
        record: Callable[[ToolEvent], None] = _record_nothing,
    ) -> ToolEnv:
        """An environment for ``roots``: sandbox and limits from ``settings``.

        Raises:
            WorkspaceError: A root is not a folder.
            SettingsError: An ``agent.sandbox`` or ``agent.tools`` value is invalid.
        """
        settings = settings if settings is not None else Settings()
        workspace = Workspace(roots)
        return cls(
            workspace=workspace,
            settings=settings,
            sandbox=Sandbox.from_settings(settings, list(workspace.roots)),
            approve=approve,
            before_change=before_change,
            record=record,
            limits=ToolLimits.from_settings(settings),
        )

    def command_environment(self) -> dict[str, str]:
        """The environment a command gets."""
        if self.command_env is not None:
            return dict(self.command_env)
        if self.limits.command_pass_secrets:
            return dict(os.environ)
        return runner.scrubbed_environment()


@dataclass(slots=True)
class CallRecord:
    """What a tool call did, filled in as it goes, for its ``ToolEvent``.

    Attributes:
        summary: One line on the outcome (``"ok"`` when the tool sets none).
        paths: Files it changed.
        exit_code: A command's exit status.
        sandboxed: Whether a command ran in the sandbox.
    """

    summary: str = ""
    paths: list[Path] = field(default_factory=list)
    exit_code: int | None = None
    sandboxed: bool | None = None


def _short(value: object) -> object:
    if isinstance(value, str) and len(value) > 2000:
        return value[:2000] + f"[... {len(value) - 2000} more characters]"
    return value


@contextlib.contextmanager
def audited(env: ToolEnv, tool: str, arguments: dict[str, object]) -> Iterator[CallRecord]:
    """Record one tool call with ``env.record`` when it ends: ``ok``, or ``failed`` /
    ``declined`` when it raises ``ModelFacingError`` (which then goes on up).

    Args:
        env: The tool environment.
        tool: The tool's name.
        arguments: Its arguments as the model gave them.

    Yields:
        The record the tool fills in (changed paths, exit status, summary).
    """
    call = CallRecord()
    started = time.monotonic()
    shown = {name: _short(value) for name, value in arguments.items()}

    def record(outcome: Literal["ok", "failed", "declined"], summary: str) -> None:
        env.record(
            ToolEvent(
                tool,
                shown,
                outcome,
                summary.split("\n", 1)[0],
                tuple(call.paths),
                call.exit_code,
                call.sandboxed,
                time.monotonic() - started,
            )
        )

    try:
        yield call
    except ModelFacingError as error:
        record("declined" if str(error).startswith(DECLINED) else "failed", str(error))
        raise
    record("ok", call.summary or "ok")


async def ask_approval(env: ToolEnv, request: ApprovalRequest) -> None:
    """Ask ``env.approve``; a refusal becomes an error the model reads.

    Raises:
        ModelFacingError: The user (or the policy) declined; the message starts with
            ``DECLINED``.
    """
    if not await env.approve(request):
        what = request.command if request.kind == "command" else request.path
        raise ModelFacingError(
            f"{DECLINED} this {request.kind} ({what}); nothing was changed. Do not retry it "
            "as it is: ask the user what they want, or take another approach."
        )
