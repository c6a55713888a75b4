"""The hook bus: which hooks fire for an event, running them, and what they add up to.

``HookBus.load(root, settings=...)`` reads the project's hooks (keeping the problems of the
files that are wrong, ``HookBus.problems``) and builds what running them needs: the policy
and approver (or the agent session's own), the sandbox and the environment commands get.
``await bus.dispatch(event)`` runs every enabled hook that matches ``event``, in file order,
and returns a ``HookOutcome``:

* pre-events (``preToolUse``, ``preTaskExecution``, ``promptSubmit``) can be blocked: a v1
  command that exits 2, or a legacy ``runCommand`` that exits non-zero (or times out, or is
  refused by the policy); the first block stops the rest and its message is the reason;
* a command that exits 0 adds its standard output to ``HookOutcome.context``;
* an ``askAgent`` hook, on an event that happens inside a running agent (prompt, tool call,
  task start, stop), adds its prompt and the event to the context for that agent to act on
  (Kiro's behaviour); on file events, manual runs and task ends, it runs the agent itself
  (``specloom.hooks.actions.run_hook_agent``) and adds the agent's answer. ``ask_agent``
  overrides the choice: ``"run"`` or ``"inject"``.

A dispatch for which no hook matches costs a dictionary lookup: no file is read, no process
started, no model opened. Every run is written to the audit log (``run_start`` and
``run_end`` rows under the run's id: hook, event, action, files, outcome, exit code,
duration; the policy's decision as an ``approval`` row).

May import: the standard library, ``anyio``, ``specloom.errors``, ``specloom.settings``,
``specloom.agent`` (policy, runner, sandbox, audit; the runtime inside agent runs),
``specloom.llm.session`` (inside agent runs) and the ``specloom.hooks`` modules.
"""

from __future__ import annotations

import contextvars
import dataclasses
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, cast

import anyio

from specloom.agent.audit import AuditLog, AuditTrail
from specloom.agent.policy import Answer, Approver, Decision, Mode, Policy
from specloom.agent.runner import scrubbed_environment
from specloom.agent.sandbox import Sandbox
from specloom.agent.tool_env import ApprovalRequest, ToolLimits
from specloom.errors import SettingsError, SpecloomError, UserFacingError
from specloom.hooks.actions import (
    agent_request,
    run_hook_agent,
    run_hook_command,
)
from specloom.hooks.loader import HookSet, load_hooks
from specloom.hooks.model import (
    EventKind,
    Hook,
    HookEvent,
    HookOutcome,
    HookRun,
    RunOutcome,
    parse_event_kind,
)
from specloom.settings import Settings, load_settings

if TYPE_CHECKING:
    from pydantic_ai.models import Model

    from specloom.agent.runtime import Ask

__all__ = ["AskAgentMode", "Confirm", "HookBus", "RunListener"]

AskAgentMode = Literal["auto", "run", "inject"]
"""How ``askAgent`` hooks act: ``run`` the agent, ``inject`` the prompt into the running
agent's context, or ``auto`` (inject for events inside an agent run, run for the others)."""
Confirm = Callable[[Hook, HookEvent], Awaitable[bool]]
"""Asks the user whether a hook marked ``confirm`` may run now."""

_IN_AGENT = frozenset(
    {
        EventKind.promptSubmit,
        EventKind.preToolUse,
        EventKind.postToolUse,
        EventKind.preTaskExecution,
        EventKind.agentStop,
        EventKind.sessionStart,
    }
)
_OUTPUT_KEPT = 8_000
_current_trail: contextvars.ContextVar[AuditTrail | None] = contextvars.ContextVar(
    "specloom_hook_trail", default=None
)


class RunListener(Protocol):
    """Told when each hook run starts and ends (``specloom watch`` keeps its no-loop record
    and prints its lines with this)."""

    def started(self, hook: Hook, event: HookEvent, run_id: str) -> None:
        """A run is starting."""
        ...

    def finished(self, run: HookRun) -> None:
        """A run ended (also when it was cancelled)."""
        ...


class HookBus:
    """The project's hooks and what running them needs; see the module docstring."""

    def __init__(
        self,
        root: Path,
        found: HookSet,
        *,
        settings: Settings,
        approver: Approver,
        sandbox: Sandbox | None,
        environment: dict[str, str],
        output_cap: int = 30_000,
        model: Model | None = None,
        model_name: str | None = None,
        mode: str | None = None,
        ask: Ask | None = None,
        confirm: Confirm | None = None,
        session_id: str | None = None,
        audit: bool = True,
        ask_agent: AskAgentMode = "auto",
        listener: RunListener | None = None,
        use_mcp: bool = True,
    ) -> None:
        """A bus; ``HookBus.load`` builds one from the project's files and settings."""
        self.root = root
        self.settings = settings
        self.approver = approver
        self.sandbox = sandbox
        self.environment = environment
        self.output_cap = output_cap
        self.model_name = model_name
        self.mode = mode
        self.ask = ask
        self.confirm = confirm
        self.session_id = session_id or uuid.uuid4().hex[:12]
        self.ask_agent: AskAgentMode = ask_agent
        self.listener = listener
        self.use_mcp = use_mcp
        self._model = model
        self._audit_enabled = audit
        self._log: AuditLog | None = None
        self._found = found
        self._index: dict[EventKind, list[Hook]] = {}
        self._build_index()

    @classmethod
    def load(
        cls,
        root: Path,
        *,
        settings: Settings | None = None,
        model: Model | None = None,
        model_name: str | None = None,
        mode: str | None = None,
        ask: Ask | None = None,
        confirm: Confirm | None = None,
        approver: Approver | None = None,
        session_id: str | None = None,
        audit: bool = True,
        ask_agent: AskAgentMode = "auto",
        listener: RunListener | None = None,
        use_mcp: bool = True,
    ) -> HookBus:
        """The hooks of the project at ``root``, ready to dispatch events to.

        Args:
            root: The project root.
            settings: The merged settings (default: read them).
            model: The model ``askAgent`` hooks run the agent with (default: opened on the
                first such run with ``open_model_session(command="hook", kind="hook")``).
            model_name: ``--model`` for that session.
            mode: ``supervised`` or ``autopilot`` for the policy (default: the settings').
            ask: The interface's approval prompt; ``None`` where nobody can answer (then
                what the policy leaves to the user is refused).
            confirm: Asks before hooks marked ``confirm``; ``None``: they are refused.
            approver: An agent session's approver, to share its grants and audit trail
                (default: one built from the policy and ``ask``).
            session_id: The session the events belong to (``session_id`` on stdin).
            audit: Write each run to the audit log.
            ask_agent: How ``askAgent`` hooks act (see ``AskAgentMode``).
            listener: Told when runs start and end.
            use_mcp: Offer the MCP servers' tools to agents the hooks run.

        Raises:
            SettingsError: Bad settings (``agent`` section, permission files).
        """
        root = root.resolve()
        settings = settings if settings is not None else load_settings(root)
        sandbox = Sandbox.from_settings(settings, [root])
        limits = ToolLimits.from_settings(settings)
        environment = dict(os.environ) if limits.command_pass_secrets else scrubbed_environment()
        if approver is None:
            policy = Policy.from_settings(
                settings, [root], mode=cast("Mode | None", mode), sandbox=sandbox
            )
            approver = Approver(policy, ask, on_decision=cls._record_decision)
        return cls(
            root,
            load_hooks(root),
            settings=settings,
            approver=approver,
            sandbox=sandbox,
            environment=environment,
            output_cap=limits.command_output_cap,
            model=model,
            model_name=model_name,
            mode=mode,
            ask=ask,
            confirm=confirm,
            session_id=session_id,
            audit=audit,
            ask_agent=ask_agent,
            listener=listener,
            use_mcp=use_mcp,
        )

    # --- the hooks ----------------------------------------------------------------------------

    @property
    def hooks(self) -> list[Hook]:
        """Every hook that loaded (enabled or not)."""
        return list(self._found.hooks)

    @property
    def problems(self) -> list[SettingsError]:
        """The hook files (or v1 entries) that did not load, as errors naming file and line."""
        return list(self._found.problems)

    def reload(self) -> list[SettingsError]:
        """Read the hook files again; returns the problems found."""
        self._found = load_hooks(self.root)
        self._build_index()
        return self.problems

    def _build_index(self) -> None:
        self._index = {}
        for hook in self._found.hooks:
            if hook.enabled:
                self._index.setdefault(hook.event, []).append(hook)

    def has_hooks(self, kind: EventKind | str) -> bool:
        """Whether any enabled hook fires on events of ``kind`` (a cheap test before building
        an event)."""
        parsed = kind if isinstance(kind, EventKind) else parse_event_kind(kind)
        return parsed is not None and bool(self._index.get(parsed))

    def matching(self, event: HookEvent) -> list[tuple[Hook, tuple[str, ...]]]:
        """The enabled hooks that fire for ``event``, each with the files it fires for."""
        found: list[tuple[Hook, tuple[str, ...]]] = []
        for hook in self._index.get(event.kind, ()):
            files = hook.select(event)
            if files is not None:
                found.append((hook, files))
        return found

    # --- running ------------------------------------------------------------------------------

    async def dispatch(self, event: HookEvent) -> HookOutcome:
        """Run the hooks that match ``event``, in file order, and add up what they did.

        A block (pre-events only) stops the hooks after it. Cancelling the dispatch cancels
        the running hook (its command's whole process group is killed).
        """
        outcome = HookOutcome()
        if event.kind not in self._index:
            return outcome
        for hook, files in self.matching(event):
            outcome.merge(await self.run_hook(hook, event, files))
            if outcome.blocked:
                break
        return outcome

    async def run_hook(
        self,
        hook: Hook,
        event: HookEvent,
        files: Sequence[str] | None = None,
        *,
        ask_agent: AskAgentMode | None = None,
    ) -> HookOutcome:
        """Run one hook for ``event`` (whether or not it matches: ``specloom hooks run``).

        Args:
            hook: The hook.
            event: What happened.
            files: The files it runs for (default: the event's).
            ask_agent: Overrides the bus's ``ask_agent`` for this run.
        """
        if not event.session_id:
            event = dataclasses.replace(event, session_id=self.session_id)
        attempt = _Attempt(hook, event, tuple(event.files if files is None else files))
        trail = self._trail(attempt.run_id, event)
        if trail is not None:
            trail.run_started(
                f"hook {hook.id}",
                hook=hook.name,
                event=event.kind.value,
                action=hook.action.kind,
                files=list(attempt.files),
                tool=event.tool_name,
                source=str(hook.source),
            )
        if self.listener is not None:
            self.listener.started(hook, event, attempt.run_id)
        token = _current_trail.set(trail)
        outcome = HookOutcome()
        try:
            if hook.confirm and not await self._confirmed(hook, event):
                run = attempt.ended(
                    "refused", detail="it asks for confirmation and nobody confirmed it"
                )
                _fail_closed(hook, run, outcome)
            elif hook.action.kind == "runCommand":
                run = await self._command(attempt, outcome)
            else:
                run = await self._agent(attempt, outcome, ask_agent)
        except anyio.get_cancelled_exc_class():
            self._finish(trail, attempt.ended("cancelled", detail="cancelled"))
            raise
        except (SpecloomError, OSError) as error:
            detail = error.render() if isinstance(error, UserFacingError) else str(error)
            run = attempt.ended("error", detail=detail)
            _fail_closed(hook, run, outcome)
        finally:
            _current_trail.reset(token)
        outcome.runs.append(run)
        self._finish(trail, run)
        return outcome

    async def _confirmed(self, hook: Hook, event: HookEvent) -> bool:
        if self.confirm is None:
            return False
        return await self.confirm(hook, event)

    async def _command(self, attempt: _Attempt, outcome: HookOutcome) -> HookRun:
        hook = attempt.hook
        result = await run_hook_command(
            hook,
            attempt.event,
            attempt.files,
            approver=self.approver,
            sandbox=self.sandbox,
            environment=self.environment,
            run_id=attempt.run_id,
            output_cap=self.output_cap,
        )
        if result.refused is not None:
            run = attempt.ended(
                "refused", detail=f"the policy refused `{hook.action.command}`: {result.refused}"
            )
            _fail_closed(hook, run, outcome)
            return run
        code = result.exit_code
        state: RunOutcome = "ok"
        detail = ""
        if result.timed_out:
            state, detail = "timeout", f"timed out after {hook.action.timeout:g} s and was killed"
        elif code != 0:
            state, detail = "failed", f"exit code {code}"
        blocks = hook.can_block and (
            (hook.format == "v1" and code == 2 and not result.timed_out)
            or (hook.format == "legacy" and state != "ok")
        )
        if blocks:
            state = "blocked"
            outcome.blocked = True
            said = result.stderr.strip() or result.stdout.strip()
            outcome.reason = said or f'The hook "{hook.name}" blocked this ({detail}).'
            detail = f"blocked ({detail})"
        elif state == "ok" and result.stdout.strip():
            outcome.context.append(result.stdout.strip())
        if result.started_at:
            attempt.wall = result.started_at
        return attempt.ended(
            state, exit_code=code, output=result.stdout, errors=result.stderr, detail=detail
        )

    async def _agent(
        self, attempt: _Attempt, outcome: HookOutcome, ask_agent: AskAgentMode | None
    ) -> HookRun:
        hook, event, files = attempt.hook, attempt.event, attempt.files
        how = ask_agent or self.ask_agent
        if how == "auto":
            how = "inject" if event.kind in _IN_AGENT else "run"
        if how == "inject":
            text = agent_request(hook, event, files)
            outcome.context.append(text)
            return attempt.ended("ok", output=text, detail="added to the agent's context")
        result = await run_hook_agent(
            hook,
            event,
            files,
            model=self._open_model(),
            settings=self.settings,
            mode=self.mode,
            ask=self.ask,
            run_id=f"{attempt.run_id}-agent",
            use_mcp=self.use_mcp,
        )
        if result.output.strip():
            outcome.context.append(result.output.strip())
        detail = f"agent run {result.run_id}" + ("" if result.completed else f": {result.detail}")
        return attempt.ended(
            "ok" if result.completed else "failed",
            output=result.output,
            detail=detail,
            changed=result.changed_files,
        )

    def _open_model(self) -> Model:
        if self._model is None:
            from specloom.llm.session import open_model_session

            session = open_model_session(
                command="hook", model=self.model_name, kind="hook", root=self.root
            )
            self._model = session.model
        return self._model

    # --- audit --------------------------------------------------------------------------------

    def _trail(self, run_id: str, event: HookEvent) -> AuditTrail | None:
        if not self._audit_enabled:
            return None
        if self._log is None:
            self._log = AuditLog.for_project(self.root)
        return AuditTrail(self._log, run_id, spec=event.spec, task=event.task)

    def _finish(self, trail: AuditTrail | None, run: HookRun) -> None:
        if trail is not None:
            trail.run_finished(
                run.outcome,
                hook=run.name,
                hook_id=run.hook,
                event=run.event.value,
                action=run.action,
                exit_code=run.exit_code,
                duration_s=round(run.duration_s, 4),
                files=list(run.files),
                detail=run.detail,
                changed_files=list(run.changed_files),
            )
        if self.listener is not None:
            self.listener.finished(run)

    @staticmethod
    def _record_decision(
        request: ApprovalRequest, decision: Decision, answer: Answer | None, by: str
    ) -> None:
        trail = _current_trail.get()
        if trail is None:
            return
        allowed = answer.allowed if answer is not None else decision.decision == "allow"
        trail.approval(
            f"{request.tool}: {request.command}",
            "allow" if allowed else "deny",
            by=by,
            rule=decision.rule,
            reason="; ".join(decision.reasons),
        )

    def close(self) -> None:
        """Close the audit log's connection."""
        if self._log is not None:
            self._log.close()
            self._log = None


class _Attempt:
    """One run of one hook while it happens: its id and clocks, and the ``HookRun`` it ends
    as."""

    def __init__(self, hook: Hook, event: HookEvent, files: tuple[str, ...]) -> None:
        self.hook = hook
        self.event = event
        self.files = files
        self.run_id = uuid.uuid4().hex[:12]
        self.started = time.monotonic()
        self.wall = time.time()

    def ended(
        self,
        outcome: RunOutcome,
        *,
        exit_code: int | None = None,
        output: str = "",
        errors: str = "",
        detail: str = "",
        changed: Sequence[str] = (),
    ) -> HookRun:
        return HookRun(
            hook=self.hook.id,
            name=self.hook.name,
            event=self.event.kind,
            action=self.hook.action.kind,
            outcome=outcome,
            exit_code=exit_code,
            duration_s=time.monotonic() - self.started,
            output=output[-_OUTPUT_KEPT:],
            errors=errors[-_OUTPUT_KEPT:],
            files=self.files,
            run_id=self.run_id,
            started_at=self.wall,
            detail=detail,
            changed_files=tuple(changed),
        )


def _fail_closed(hook: Hook, run: HookRun, outcome: HookOutcome) -> None:
    """A legacy ``runCommand`` guard on a pre-event that could not run blocks the action (as
    a non-zero exit would); a v1 hook blocks only by exiting 2."""
    if hook.can_block and hook.format == "legacy" and hook.action.kind == "runCommand":
        outcome.blocked = True
        outcome.reason = f'The hook "{hook.name}" could not run, so it blocks: {run.detail}'
