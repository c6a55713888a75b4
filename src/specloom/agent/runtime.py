"""Everything an agent run needs, put together once: policy and approvals, MCP servers,
context, audit log and checkpoints around an ``AgentRunner``.

Interfaces (the CLI, the web app, the ACP agent) and workflows call ``prepare_agent`` with
the model of their ``specloom.llm.session.ModelSession`` and their own ``ask`` prompt; what
comes back is ready to ``run``. The wiring:

* ``Policy.from_settings`` (mode, trusted commands, Kiro's ``permissions.yaml``, sandbox)
  and an ``Approver`` whose decisions go to the audit log and to the interface as
  ``ApprovalNeeded`` / ``ApprovalSettled`` events;
* the MCP servers of ``.kiro/settings/mcp.json`` (and the user's), every call gated by the
  same approver (``autoApprove`` never passes the destructive guard) and preceded by the
  step's checkpoint;
* the context block (``specloom.agent.context``): steering, ``#file``/``#spec`` references,
  repository map and memory, recorded in the audit log by the runner.

May import: the standard library, ``pydantic_ai`` (types), ``specloom.errors``,
``specloom.settings`` and the ``specloom.agent`` modules it names.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from specloom.agent.audit import AuditLog, AuditTrail
from specloom.agent.checkpoints import CheckpointStore
from specloom.agent.events import ApprovalNeeded, ApprovalSettled, EventHandler
from specloom.agent.loop import AgentLimits, AgentResult, AgentRunner, EditFormat
from specloom.agent.mcp import McpConfig, McpToolCall, build_toolsets, load_mcp_config
from specloom.agent.policy import MODES, Answer, Approver, Decision, Mode, Policy
from specloom.agent.sandbox import Sandbox
from specloom.agent.tool_env import ApprovalRequest
from specloom.errors import UsageError
from specloom.settings import Settings, state_dir

if TYPE_CHECKING:
    from pydantic_ai.messages import ModelMessage
    from pydantic_ai.models import Model
    from pydantic_ai.settings import ModelSettings

    from specloom.agent.context import Context
    from specloom.hooks.bus import HookBus
    from specloom.llm.metering import UsageRecorder

__all__ = [
    "Ask",
    "AskTool",
    "PreparedAgent",
    "context_chars",
    "context_window",
    "prepare_agent",
]

_SMALLEST_CONTEXT_CHARS = 1_500
_LARGE_CONTEXT_CHARS = 48_000

Ask = Callable[[ApprovalRequest, Decision], Awaitable[Answer]]
"""The interface's prompt for a write, edit or command the policy left to the user."""
AskTool = Callable[[str, str, Mapping[str, object], Decision], Awaitable[Answer]]
"""The interface's prompt for an MCP tool call: server, tool, arguments, decision."""


@dataclass(slots=True)
class PreparedAgent:
    """A runner with its policy, servers and logs, ready to run.

    Attributes:
        runner: The agent runner.
        policy: The policy in force.
        approver: The approval gates (with the session's grants).
        mcp: The MCP servers read (with the problems found in their files).
        audit: The run's audit trail, if logging.
        notices: Things to tell the user before the run (the sandbox being unavailable,
            unusable MCP entries, odd permission rules), each once.
        run_id: The run's id in the audit log and usage ledger.
        hooks: The project's hooks, when the run fires them.
    """

    runner: AgentRunner
    policy: Policy
    approver: Approver
    mcp: McpConfig
    audit: AuditTrail | None
    notices: list[str] = field(default_factory=list)
    run_id: str = ""
    _log: AuditLog | None = None
    hooks: HookBus | None = None

    def context(self, request: str, *, touched_paths: Sequence[str] = ()) -> Context:
        """The context block for ``request`` (steering, references, map, memory)."""
        from specloom.agent.context import build_context

        return build_context(
            self.runner.root,
            request=request,
            touched_paths=touched_paths,
            settings=self.runner.settings,
            max_chars=context_chars(self.runner.model),
        )

    async def run(
        self,
        request: str,
        *,
        touched_paths: Sequence[str] = (),
        history: Sequence[ModelMessage] | None = None,
        with_context: bool = True,
    ) -> AgentResult:
        """Run the agent on ``request`` with its context, and log how the run ended.

        Args:
            request: What the agent is to do.
            touched_paths: Files the work is about (for ``fileMatch`` steering).
            history: Earlier messages, to continue a conversation.
            with_context: Build the context block (steering, references, map, memory).
        """
        hooks = self.hooks
        if hooks is not None and hooks.has_hooks("promptSubmit"):
            from specloom.hooks.model import EventKind, HookEvent
            from specloom.hooks.toolset import hook_context_text

            submitted = await hooks.dispatch(
                HookEvent(
                    EventKind.promptSubmit,
                    self.runner.root,
                    session_id=hooks.session_id,
                    spec=self.runner.spec,
                    task=self.runner.task,
                    prompt=request,
                )
            )
            if submitted.blocked:
                # The conversation stays as it was: the refused prompt never reached it.
                result = AgentResult(
                    "",
                    "blocked",
                    detail=f"a promptSubmit hook refused it: {submitted.reason}",
                    messages=list(history or []),
                )
                if self.audit is not None:
                    self.audit.run_finished(result.stop, detail=result.detail)
                return result
            if submitted.context:
                request = f"{request}\n\n{hook_context_text(submitted.context)}"
        context = self.context(request, touched_paths=touched_paths) if with_context else None
        result = await self.runner.run(request, context=context, history=history)
        if hooks is not None and result.completed and hooks.has_hooks("agentStop"):
            from specloom.hooks.model import EventKind, HookEvent
            from specloom.hooks.toolset import hook_context_text

            stopped = await hooks.dispatch(
                HookEvent(
                    EventKind.agentStop,
                    self.runner.root,
                    session_id=hooks.session_id,
                    files=tuple(result.changed_files),
                    spec=self.runner.spec,
                    task=self.runner.task,
                )
            )
            if stopped.context:
                # Kiro's agentStop hooks hand the agent one more instruction: follow it once.
                follow_up = await self.runner.run(
                    hook_context_text(stopped.context), context=None, history=result.messages
                )
                result = _combined(result, follow_up)
        if self.audit is not None:
            self.audit.run_finished(
                result.stop,
                detail=result.detail,
                steps=result.steps,
                checkpoints=result.checkpoints,
                changed_files=result.changed_files,
            )
        return result

    def close(self) -> None:
        """Close the audit log's connections."""
        if self._log is not None:
            self._log.close()
        if self.hooks is not None:
            self.hooks.close()


def _combined(first: AgentResult, second: AgentResult) -> AgentResult:
    """One result for a run and its follow-up (the follow-up's answer and stop)."""
    return AgentResult(
        second.output,
        second.stop,
        second.detail,
        first.steps + second.steps,
        first.requests + second.requests,
        first.input_tokens + second.input_tokens,
        first.output_tokens + second.output_tokens,
        first.tool_calls + second.tool_calls,
        [*first.checkpoints, *second.checkpoints],
        list(dict.fromkeys([*first.changed_files, *second.changed_files])),
        second.messages,
    )


class _Gate:
    """The runner's ``Approvals``: the policy's approver, with events and audit entries."""

    def __init__(self, approver: Approver, settled: list[ApprovalSettled]) -> None:
        self.approver = approver
        self.runner: AgentRunner | None = None
        self.hinted_destructive: set[tuple[str, str]] = set()
        self._settled = settled

    async def _flush(self) -> None:
        while self._settled and self.runner is not None:
            await self.runner.emit(self._settled.pop(0))

    async def approve(self, request: ApprovalRequest) -> bool:
        allowed = await self.approver.approve(request)
        await self._flush()
        return allowed

    async def approve_tool(self, server: str, tool: str, arguments: dict[str, Any]) -> bool:
        if self.runner is not None:
            await self.runner.before_external_change()
        allowed = await self.approver.approve_tool(server, tool, arguments)
        await self._flush()
        return allowed

    async def approve_mcp(self, call: McpToolCall) -> bool:
        # A server that marks its tool destructive loses the benefit of `autoApprove`.
        if call.destructive is True:
            self.hinted_destructive.add((call.server, call.tool))
        return await self.approve_tool(call.server, call.tool, dict(call.arguments))


def _action(request: ApprovalRequest) -> str:
    if request.kind == "command" and request.command:
        return f"{request.tool}: {request.command}"
    return request.summary or f"{request.tool}: {request.path}"


def prepare_agent(
    root: Path,
    model: Model,
    *,
    settings: Settings | None = None,
    mode: str | None = None,
    ask: Ask | None = None,
    ask_tool: AskTool | None = None,
    on_event: EventHandler | None = None,
    recorder: UsageRecorder | None = None,
    run_id: str | None = None,
    command: str = "agent",
    spec: str | None = None,
    task: str | None = None,
    read_only: bool = False,
    use_mcp: bool = True,
    checkpoints: bool = True,
    audit: bool = True,
    limits: AgentLimits | None = None,
    stream: bool | None = None,
    extra_roots: Sequence[Path] = (),
    state_root: Path | None = None,
    hooks: bool = False,
    edit_format: EditFormat = "tools",
    model_settings: ModelSettings | None = None,
) -> PreparedAgent:
    """Assemble an agent run in ``root``.

    Args:
        root: The workspace root.
        model: The model (``ModelSession.model``).
        settings: The merged settings (``ModelSession.settings``); default: none.
        mode: ``supervised`` or ``autopilot``; overrides ``agent.mode``.
        ask: The interface's approval prompt; ``None`` where nobody can answer (then what
            the policy leaves to the user is refused, and the model is told why).
        ask_tool: The prompt for MCP calls; default: ``ask``'s answer is not available, so
            calls the policy leaves to the user are refused.
        on_event: Receives every ``AgentEvent``.
        recorder: The model session's usage recorder (request costs in the audit log).
        run_id: The run's id (default: a new one).
        command: What started the run, for the audit log.
        spec: The spec the run serves.
        task: The task it serves.
        read_only: Only the reading tools, no MCP servers.
        use_mcp: Offer the MCP servers' tools.
        checkpoints: Take a checkpoint before each changing step.
        audit: Write the audit log.
        limits: Caps on the run (default: ``agent.limits`` in settings).
        stream: Stream the model's answers (default: when the model can).
        extra_roots: More folders the file tools may use.
        state_root: The project whose ``.kiro/.specloom/`` keeps the audit log and the MCP
            servers' logs (default ``root``; a task working in a git worktree passes the
            project, so its record outlives the worktree).
        hooks: Fire the project's hooks (``.kiro/hooks/``): ``promptSubmit`` and
            ``agentStop`` around the run, ``preToolUse`` and ``postToolUse`` around each
            tool call. Off for the agents hooks themselves start, so hooks cannot recurse.
        edit_format: ``tools``, or ``whole`` for models too small to drive the tools (see
            ``specloom.agent.loop.EditFormat``).
        model_settings: Settings sent with each model request (``max_tokens``...).

    Raises:
        SettingsError: A bad ``agent`` setting or permission file.
        WorkspaceError: ``root`` is not a folder.
    """
    settings = settings if settings is not None else Settings()
    root = root.resolve()
    run_id = run_id or uuid.uuid4().hex[:12]
    roots = [root, *extra_roots]
    if mode is not None and mode not in MODES:
        raise UsageError(
            f"unknown mode {mode!r}", hint="Use --mode supervised or --mode autopilot."
        )
    policy = Policy.from_settings(
        settings,
        roots,
        mode=cast("Mode | None", mode),
        sandbox=Sandbox.from_settings(settings, roots),
    )
    state_root = state_root.resolve() if state_root is not None else root
    log = AuditLog.for_project(state_root) if audit else None
    trail = AuditTrail(log, run_id, spec=spec, task=task) if log is not None else None
    settled: list[ApprovalSettled] = []
    gate_holder: list[_Gate] = []

    def on_decision(
        request: ApprovalRequest, decision: Decision, answer: Answer | None, by: str
    ) -> None:
        allowed = answer.allowed if answer is not None else decision.decision == "allow"
        if trail is not None:
            trail.approval(
                _action(request),
                "allow" if allowed else "deny",
                by=by,
                rule=decision.rule,
                reason="; ".join(decision.reasons),
            )
        settled.append(ApprovalSettled(_action(request), allowed, by, decision.rule))

    async def asking(request: ApprovalRequest, decision: Decision) -> Answer:
        assert ask is not None
        runner = gate_holder[0].runner
        if runner is not None:
            await runner.emit(_needed(request, decision))
        return await ask(request, decision)

    async def asking_tool(
        server: str, tool: str, arguments: Mapping[str, object], decision: Decision
    ) -> Answer:
        assert ask_tool is not None
        runner = gate_holder[0].runner
        if runner is not None:
            await runner.emit(
                ApprovalNeeded(
                    f"{server}/{tool}",
                    f"{server}/{tool}",
                    tuple(decision.reasons),
                    decision.destructive,
                    {"server": server, "tool": tool, "arguments": dict(arguments)},
                )
            )
        return await ask_tool(server, tool, arguments, decision)

    mcp = load_mcp_config(root) if use_mcp and not read_only else McpConfig()

    def auto_approved(server: str, tool: str) -> bool:
        if (server, tool) in gate.hinted_destructive:
            return False
        return _auto_approved(mcp, server, tool)

    approver = Approver(
        policy,
        asking if ask is not None else None,
        on_decision=on_decision,
        auto_approve=auto_approved,
        ask_tool=asking_tool if ask_tool is not None else None,
    )
    gate = _Gate(approver, settled)
    gate_holder.append(gate)
    notices: list[str] = []
    sandbox_notice = policy.sandbox_notice
    if sandbox_notice:
        notices.append(sandbox_notice)
    bus: HookBus | None = None
    if hooks and not read_only:
        from specloom.hooks.bus import HookBus

        bus = HookBus.load(
            root,
            settings=settings,
            model=model,
            mode=mode,
            ask=ask,
            approver=approver,
            session_id=run_id,
            use_mcp=use_mcp,
        )
        notices.extend(problem.render() for problem in bus.problems)
    notices.extend(policy.warnings)
    notices.extend(problem.error.render() for problem in mcp.problems)
    toolsets = build_toolsets(
        mcp,
        approve=gate.approve_mcp,
        log_dir=state_dir(state_root) / "logs",
        on_failure=lambda server, reason: notices.append(f"MCP server {server}: {reason}"),
    )
    runner = AgentRunner(
        root,
        model,
        gate,
        settings=settings,
        toolsets=toolsets,
        audit=trail,
        checkpoints=CheckpointStore(root) if checkpoints and not read_only else None,
        recorder=recorder,
        limits=limits,
        read_only=read_only,
        on_event=on_event,
        stream=stream,
        task=task,
        spec=spec,
        extra_roots=extra_roots,
        hooks=bus,
        edit_format=edit_format,
        model_settings=model_settings,
    )
    gate.runner = runner
    if trail is not None:
        trail.run_started(command, mode=policy.mode)
    return PreparedAgent(runner, policy, approver, mcp, trail, notices, run_id, log, bus)


def _needed(request: ApprovalRequest, decision: Decision) -> ApprovalNeeded:
    details: dict[str, Any] = {
        key: value
        for key, value in (
            ("path", request.path),
            ("command", request.command),
            ("cwd", request.cwd),
            ("diff", request.diff),
            ("new_file", request.new_file or None),
            ("sandboxed", request.sandboxed),
        )
        if value is not None
    }
    return ApprovalNeeded(
        _action(request), request.tool, tuple(decision.reasons), decision.destructive, details
    )


def context_chars(model: Model) -> int | None:
    """The context block's size cap for ``model``: a quarter of its context window (at about
    four characters a token), so small local models keep room for the tools and the work;
    ``None`` (the settings' cap) when the window is unknown or large."""
    window = _smallest_window(model)
    if window is None:
        return None
    return min(_LARGE_CONTEXT_CHARS, max(_SMALLEST_CONTEXT_CHARS, window))


def context_window(model: Model) -> int | None:
    """``model``'s context window in tokens (the smallest of a fallback chain's), if known."""
    return _smallest_window(model)


def _smallest_window(model: Model) -> int | None:
    from pydantic_ai.models.fallback import FallbackModel
    from pydantic_ai.models.wrapper import WrapperModel

    if isinstance(model, FallbackModel):
        windows = [_smallest_window(candidate) for candidate in model.models]
        known = [window for window in windows if window is not None]
        return min(known) if known else None
    entry = getattr(model, "entry", None)
    window = getattr(entry, "context_window", None)
    if isinstance(window, int):
        return window
    if isinstance(model, WrapperModel):
        return _smallest_window(model.wrapped)
    return None


def _auto_approved(config: McpConfig, server: str, tool: str) -> bool:
    entry = config.servers.get(server)
    return entry is not None and entry.is_auto_approved(tool)
