"""The two things a hook can do: run a command, or ask the agent.

``run_hook_command`` runs a ``runCommand`` hook's shell line the way the agent's own commands
run (``specloom.agent.runner.run_command``: its own process group, a timeout that kills
everything it started, the sandbox where it works), after the same policy has approved it
(``Approver.approve``). The command gets:

* the event as JSON on standard input (``hook_event_name``, ``cwd``, ``session_id``,
  ``file_path``/``file_paths``, ``tool_name``/``tool_input``, ``task``, ``spec``,
  ``prompt``);
* the event in its environment: ``SPECLOOM_EVENT``, ``SPECLOOM_HOOK``, ``SPECLOOM_ROOT``,
  ``SPECLOOM_SESSION``, ``SPECLOOM_FILE`` (the first file), ``SPECLOOM_FILES`` (all of them,
  one per line), ``SPECLOOM_TOOL``, ``SPECLOOM_TOOL_INPUT`` (JSON), ``SPECLOOM_TASK``,
  ``SPECLOOM_SPEC``, ``SPECLOOM_PROMPT`` (and Kiro's ``USER_PROMPT``);
* ``specloom`` first on its ``PATH``: a two-line script in specloom's state folder that runs
  this very installation, so hooks like ``specloom hooks scan-secrets`` work whichever
  environment the project's own ``python`` belongs to.

Its standard output and standard error come back apart (the runner captures one stream, so
standard error goes to a file in specloom's state folder), because they mean different
things: output of a command that exits 0 goes into the agent's context, standard error of a
blocking command is the reason the agent is told.

``run_hook_agent`` runs the agent (``specloom.agent.runtime.prepare_agent``) on the hook's
prompt followed by the event: the files, their ``git diff`` when the project is a git
repository, the tool call, the task. ``agent_request`` builds that text, which is also what
a running agent is given when a hook only adds to its context.

May import: the standard library, ``anyio``, ``specloom.errors``, ``specloom.settings``,
``specloom.workspace``, ``specloom.agent`` and ``specloom.hooks.model``.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from specloom.agent.git import Git
from specloom.agent.policy import NO_ONE_TO_ASK, Approver
from specloom.agent.runner import run_command
from specloom.agent.sandbox import Sandbox
from specloom.agent.tool_env import ApprovalRequest
from specloom.hooks.model import FILE_EVENTS, Hook, HookEvent
from specloom.settings import Settings, state_dir
from specloom.workspace import atomic_write

if TYPE_CHECKING:
    from pydantic_ai.models import Model

    from specloom.agent.runtime import Ask

__all__ = [
    "AgentOutcome",
    "CommandOutcome",
    "agent_request",
    "file_diffs",
    "hook_environment",
    "run_hook_agent",
    "run_hook_command",
    "specloom_shim",
]

DIFF_CAP = 6_000
"""Characters of one file's diff put into an agent request."""
DIFF_TOTAL_CAP = 16_000
"""Characters of all diffs together."""


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    """What a hook's command did.

    Attributes:
        exit_code: Its exit status (``None``: it never started).
        stdout: Its standard output (capped).
        stderr: Its standard error (capped).
        timed_out: It ran past its timeout and was killed.
        refused: Why it did not run (the policy's reasons), or ``None``.
        sandboxed: It ran in the sandbox.
        duration_s: Seconds from start to end.
        started_at: When the process started (seconds since the epoch).
    """

    exit_code: int | None
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    refused: str | None = None
    sandboxed: bool = False
    duration_s: float = 0.0
    started_at: float = 0.0


def specloom_shim(root: Path) -> Path:
    """The folder holding the ``specloom`` script hook commands find first on ``PATH``
    (written on first use, rewritten when the running interpreter changes)."""
    folder = state_dir(root) / "hooks" / "bin"
    script = folder / "specloom"
    entry = "from specloom.interfaces.cli import main; main()"
    text = f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -c {shlex.quote(entry)} "$@"\n'
    try:
        current = script.read_text(encoding="utf-8")
    except OSError:
        current = ""
    if current != text:
        atomic_write(script, text)
        script.chmod(0o755)
    return folder


def hook_environment(
    hook: Hook,
    event: HookEvent,
    files: Sequence[str],
    base: Mapping[str, str],
    *,
    shim: Path | None = None,
) -> dict[str, str]:
    """The environment of a hook's command: ``base`` plus the event's variables."""
    env = dict(base)
    env.update(
        SPECLOOM_EVENT=event.kind.value,
        SPECLOOM_HOOK=hook.id,
        SPECLOOM_HOOK_NAME=hook.name,
        SPECLOOM_ROOT=str(event.root),
        SPECLOOM_SESSION=event.session_id,
    )
    if files:
        env["SPECLOOM_FILE"] = files[0]
        env["SPECLOOM_FILES"] = "\n".join(files)
    if event.tool_name is not None:
        env["SPECLOOM_TOOL"] = event.tool_name
        env["SPECLOOM_TOOL_INPUT"] = json.dumps(dict(event.tool_input or {}), default=str)
    if event.task is not None:
        env["SPECLOOM_TASK"] = event.task
    if event.spec is not None:
        env["SPECLOOM_SPEC"] = event.spec
    if event.prompt is not None:
        env["SPECLOOM_PROMPT"] = event.prompt
        env["USER_PROMPT"] = event.prompt
    if shim is not None:
        env["PATH"] = f"{shim}{os.pathsep}{env.get('PATH', os.defpath)}"
    return env


async def run_hook_command(
    hook: Hook,
    event: HookEvent,
    files: Sequence[str],
    *,
    approver: Approver,
    sandbox: Sandbox | None,
    environment: Mapping[str, str],
    run_id: str,
    output_cap: int = 30_000,
) -> CommandOutcome:
    """Approve and run a ``runCommand`` hook's command for ``event``.

    Args:
        hook: The hook.
        event: What happened.
        files: The event's files this hook fires for.
        approver: The policy gate (asks, or refuses where nobody can answer).
        sandbox: The sandbox commands run in, where it works.
        environment: The base environment (secrets scrubbed unless the settings pass them).
        run_id: The run's id (names its scratch files).
        output_cap: Most bytes of standard output kept.
    """
    root = event.root
    command = hook.action.command
    sandboxed = sandbox is not None and sandbox.available
    request = ApprovalRequest(
        "command",
        f"hook:{hook.id}",
        f"hook {hook.name!r} runs `{command}`",
        command=command,
        cwd=".",
        sandboxed=sandboxed,
    )
    if not await approver.approve(request):
        return CommandOutcome(None, refused=_refusal(approver, command, sandboxed))
    scratch = state_dir(root) / "hooks" / "runs"
    scratch.mkdir(parents=True, exist_ok=True)
    event_file = scratch / f"{run_id}.json"
    error_file = scratch / f"{run_id}.stderr"
    event_file.write_text(json.dumps(event.payload(hook.event_name), default=str), "utf-8")
    env = hook_environment(hook, event, files, environment, shim=specloom_shim(root))
    # The runner captures one stream and reads no input: the wrapper line gives the command
    # its event on standard input and keeps standard error apart.
    line = f"exec 0<{shlex.quote(str(event_file))} 2>{shlex.quote(str(error_file))}\n{command}"
    started_at = time.time()
    try:
        result = await run_command(
            line,
            cwd=root,
            timeout_s=hook.action.timeout,
            output_cap=output_cap,
            env=env,
            sandbox=sandbox,
        )
        stderr = _read_capped(error_file, output_cap)
    finally:
        event_file.unlink(missing_ok=True)
        error_file.unlink(missing_ok=True)
    return CommandOutcome(
        result.exit_code,
        result.output,
        stderr,
        result.timed_out,
        None,
        result.sandboxed,
        result.duration_s,
        started_at,
    )


def _refusal(approver: Approver, command: str, sandboxed: bool) -> str:
    decision = approver.policy.check_command(command, ".", sandboxed=sandboxed)
    reasons = list(decision.reasons)
    if decision.decision == "ask":
        reasons.append(NO_ONE_TO_ASK if approver.ask is None else "the user declined")
    return "; ".join(reasons) or "refused"


def _read_capped(path: Path, cap: int) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    if len(data) > cap:
        half = cap // 2
        data = data[:half] + b"\n[... standard error cut ...]\n" + data[-half:]
    return data.decode("utf-8", errors="replace")


# --- the agent --------------------------------------------------------------------------------


def file_diffs(root: Path, files: Sequence[str], *, git: Git | None = None) -> dict[str, str]:
    """``git diff`` of each file against ``HEAD`` (staged and unstaged changes), where the
    project is a git repository; files without changes (or outside git) are left out."""
    if not files or not (root / ".git").exists():
        return {}
    runner = git or Git(timeout=30.0)
    has_head = runner.run(["rev-parse", "--verify", "--quiet", "HEAD"], cwd=root).ok
    diffs: dict[str, str] = {}
    budget = DIFF_TOTAL_CAP
    for path in files:
        if budget <= 0:
            break
        args = ["diff", "--no-color", *(["HEAD"] if has_head else []), "--", path]
        result = runner.run(args, cwd=root)
        text = result.stdout.decode("utf-8", errors="replace") if result.ok else ""
        if not text.strip():
            continue
        cap = min(DIFF_CAP, budget)
        if len(text) > cap:
            text = text[:cap] + f"\n[... {len(text) - cap} more characters of diff ...]\n"
        diffs[path] = text
        budget -= len(text)
    return diffs


def agent_request(
    hook: Hook, event: HookEvent, files: Sequence[str], *, diffs: Mapping[str, str] | None = None
) -> str:
    """The hook's prompt followed by what happened: files and diffs, tool call, task."""
    lines = [hook.action.prompt.strip(), "", "---", f'Hook "{hook.name}" fired on {event.kind}.']
    if files:
        verb = {"fileCreated": "created", "fileDeleted": "deleted"}.get(event.kind.value, "saved")
        label = f"Files {verb}" if event.kind in FILE_EVENTS else "Files"
        lines.append(f"{label}: {', '.join(files)}")
    for path, diff in (diffs or {}).items():
        lines += [f"Changes in {path} (git diff):", "```diff", diff.rstrip("\n"), "```"]
    if event.tool_name is not None:
        arguments = json.dumps(dict(event.tool_input or {}), default=str, ensure_ascii=False)
        if len(arguments) > 2_000:
            arguments = arguments[:2_000] + "…"
        lines.append(f"Tool call: {event.tool_name} {arguments}")
    if event.tool_response is not None:
        lines.append(f"Tool result: {event.tool_response[:2_000]}")
    if event.task is not None:
        where = f" of spec {event.spec}" if event.spec else ""
        lines.append(f"Task: {event.task}{where}")
    elif event.spec is not None:
        lines.append(f"Spec: {event.spec}")
    if event.prompt is not None:
        lines.append(f"User prompt: {event.prompt}")
    return "\n".join(lines).strip() + "\n"


@dataclass(frozen=True, slots=True)
class AgentOutcome:
    """What a hook's agent run did.

    Attributes:
        output: The agent's final answer.
        completed: It finished on its own (not stopped by a limit).
        detail: Why it stopped, when it did not complete.
        changed_files: Files it wrote or edited.
        run_id: The agent run's id in the audit log.
        notices: What the runtime had to say first (no sandbox, odd rules).
    """

    output: str
    completed: bool
    detail: str
    changed_files: tuple[str, ...]
    run_id: str
    notices: tuple[str, ...] = ()


async def run_hook_agent(
    hook: Hook,
    event: HookEvent,
    files: Sequence[str],
    *,
    model: Model,
    settings: Settings,
    mode: str | None,
    ask: Ask | None,
    run_id: str,
    use_mcp: bool = True,
) -> AgentOutcome:
    """Run the agent on an ``askAgent`` hook's prompt and the event's context.

    Raises:
        SettingsError: A bad ``agent`` setting.
        ModelRequestError: The model failed for good.
        BudgetExceededError: A spending cap was reached.
    """
    import dataclasses

    from specloom.agent.loop import AgentLimits
    from specloom.agent.runtime import prepare_agent

    root = event.root
    limits = AgentLimits.from_settings(settings)
    if hook.action.timeout_s is not None:
        limits = dataclasses.replace(limits, timeout_s=hook.action.timeout_s)
    request = agent_request(hook, event, files, diffs=file_diffs(root, files))
    prepared = prepare_agent(
        root,
        model,
        settings=settings,
        mode=mode,
        ask=ask,
        run_id=run_id,
        command=f"hook {hook.id} ({event.kind})",
        spec=event.spec,
        task=event.task,
        use_mcp=use_mcp,
        limits=limits,
    )
    try:
        result = await prepared.run(request, touched_paths=list(files))
    finally:
        prepared.close()
    return AgentOutcome(
        result.output,
        result.completed,
        result.detail,
        tuple(result.changed_files),
        prepared.run_id,
        tuple(prepared.notices),
    )
