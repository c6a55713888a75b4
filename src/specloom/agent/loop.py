"""The agent loop: one pydantic-ai agent run with specloom's tools, policy, checkpoints and
audit log, reporting what happens as ``specloom.agent.events``.

``AgentRunner.run(prompt)`` builds the agent (the built-in tools bound to a ``ToolEnv``, the
MCP servers' tools, the context block in the instructions), then walks pydantic-ai's graph
node by node: a model step streams its text to ``on_event``; a tools step reports each call
and its result. A run ends when the model answers without calling a tool. Around that:

* approvals: every write, edit and command goes through ``Approvals.approve``; every MCP tool
  call through ``Approvals.approve_tool`` (``specloom.agent.approvals`` builds them from the
  policy and the interface's ``ask``);
* checkpoints: the first change of each model step is preceded by a snapshot of the
  workspace (``CheckpointStore.create``), so every step can be undone; if the snapshot
  fails, the change does not happen and the run stops;
* the audit log: the context included, each model request (model, tokens, cost), each tool
  call with its arguments and its (truncated) result, each checkpoint;
* limits: a step limit (model requests), tool-call and token limits, a wall-clock timeout,
  the budget (enforced by the usage recorder of ``specloom.llm``), and ``cancel()``, which
  may be called from any task or thread. Each ends the run cleanly with a ``stop`` reason and
  the messages so far, so a caller can resume.

May import: the standard library, ``anyio``, ``pydantic_ai``, ``specloom.errors``,
``specloom.settings``, ``specloom.llm.metering`` and the ``specloom.agent`` modules it names.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import anyio.to_thread
from pydantic_ai import Agent, CancellationToken
from pydantic_ai.exceptions import RunCancelled, RunTimedOut, UsageLimitExceeded
from pydantic_ai.messages import (
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    ModelMessage,
    ModelResponse,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ToolCallPart,
)
from pydantic_ai.models import Model
from pydantic_ai.settings import ModelSettings
from pydantic_ai.toolsets import AbstractToolset
from pydantic_ai.usage import UsageLimits

from specloom.agent.events import (
    AgentEvent,
    CheckpointMade,
    ContextIncluded,
    EventHandler,
    StepFinished,
    TextDelta,
    ToolFinished,
    ToolStarted,
)
from specloom.agent.tool_env import ApprovalRequest, ToolEnv, ToolEvent
from specloom.agent.tools import builtin_toolset
from specloom.agent.whole_files import WHOLE_FILE_INSTRUCTIONS, BlockEdit, apply_file_blocks
from specloom.errors import BudgetExceededError
from specloom.settings import Settings

if TYPE_CHECKING:
    from specloom.agent.audit import AuditTrail
    from specloom.agent.checkpoints import CheckpointStore
    from specloom.hooks.bus import HookBus
    from specloom.llm.metering import UsageRecorder

__all__ = [
    "BASE_INSTRUCTIONS",
    "AgentLimits",
    "AgentResult",
    "AgentRunner",
    "Approvals",
    "ContextBlock",
    "EditFormat",
    "StopReason",
    "model_streams",
]

BASE_INSTRUCTIONS = """\
You are specloom's coding agent, working in the project at {root}.
Work with the tools: read files before you change them, prefer edit_file for small changes, \
and run the project's tests with run_command to check your work. Paths are relative to the \
project root. Stay inside the project; never touch .git/.
Do only what the request asks. When the work is done, answer without calling a tool: \
say in a few lines what you changed and how you checked it. If you cannot finish, say why.\
"""
"""The agent's standing instructions; ``{root}`` becomes the workspace root."""

_RESULT_SHOWN = 4000
"""Characters of a tool result put into a ``ToolFinished`` event."""

StopReason = Literal[
    "completed", "cancelled", "timeout", "step_limit", "usage_limit", "budget", "blocked"
]
"""Why a run ended: ``completed`` (the model answered without a tool call), a limit, or
``blocked`` (a ``promptSubmit`` hook refused the request before the model saw it)."""


EditFormat = Literal["tools", "whole"]
"""How the model changes files: with the tools (``write_file``, ``edit_file``...), or, for
models too small to drive them, by writing each changed file in full in its answer, which the
loop then writes (``specloom.agent.whole_files``)."""


class Approvals(Protocol):
    """The two approval gates a run goes through (``specloom.agent.approvals`` builds them)."""

    async def approve(self, request: ApprovalRequest) -> bool:
        """Whether a write, edit or command may go ahead."""
        ...

    async def approve_tool(self, server: str, tool: str, arguments: dict[str, Any]) -> bool:
        """Whether a call of an MCP server's tool may go ahead."""
        ...


class ContextBlock(Protocol):
    """The context put into the instructions (``specloom.agent.context.Context``)."""

    @property
    def problems(self) -> Sequence[str]:
        """Warnings for the user."""
        ...

    def render(self) -> str:
        """The block of text for the instructions."""
        ...

    def audit_items(self) -> Sequence[tuple[str, str, int]]:
        """``(part, name, size)`` of each piece."""
        ...


@dataclass(frozen=True, slots=True)
class AgentLimits:
    """Caps on one run; each field is a key of ``agent.limits`` in settings.

    Attributes:
        max_steps: Model requests (steps) a run may make.
        max_tool_calls: Tool calls a run may make; ``None``: no cap.
        max_input_tokens: Input tokens over the run; ``None``: no cap.
        max_output_tokens: Output tokens over the run; ``None``: no cap.
        max_total_tokens: Input and output tokens together; ``None``: no cap.
        timeout_s: Wall-clock seconds for the run; ``None``: no cap.
    """

    max_steps: int = 50
    max_tool_calls: int | None = 200
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    max_total_tokens: int | None = None
    timeout_s: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> AgentLimits:
        """The limits set in ``agent.limits``, defaults for the rest.

        Raises:
            SettingsError: A value that is not a positive number (or ``null`` to lift a cap).
        """
        values: dict[str, Any] = {}
        section = settings.get("agent", "limits")
        for item in fields(cls):
            if not isinstance(section, dict) or item.name not in section:
                continue
            value = section[item.name]
            if value is None and item.name != "max_steps":
                values[item.name] = None
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise settings.error(
                    f"`agent.limits.{item.name}` must be a number > 0"
                    + ("" if item.name == "max_steps" else " or null"),
                    "agent",
                    "limits",
                    item.name,
                )
            values[item.name] = float(value) if item.name == "timeout_s" else int(value)
        return cls(**values)

    def usage_limits(self) -> UsageLimits:
        """The same caps as pydantic-ai's ``UsageLimits``."""
        return UsageLimits(
            request_limit=self.max_steps,
            tool_calls_limit=self.max_tool_calls,
            input_tokens_limit=self.max_input_tokens,
            output_tokens_limit=self.max_output_tokens,
            total_tokens_limit=self.max_total_tokens,
        )


@dataclass(slots=True)
class AgentResult:
    """How a run ended.

    Attributes:
        output: The model's final answer (empty when the run stopped early).
        stop: Why it ended.
        detail: The stop in words (empty when completed).
        steps: Model steps taken (answers the run kept).
        requests: Model answers the run kept (pydantic-ai's ``requests``: the same as
            ``steps``; attempts a fallback moved on from are in the usage ledger).
        input_tokens: Input tokens over the run.
        output_tokens: Output tokens over the run.
        tool_calls: Tool calls that ran.
        checkpoints: Ids of the checkpoints taken, oldest first.
        changed_files: Files written or edited, relative to the workspace, in order.
        messages: The whole conversation, to resume from or to show.
        file_blocks: In the whole-file edit format, what became of each file in the answer:
            written, or why not (one line each).
    """

    output: str
    stop: StopReason
    detail: str = ""
    steps: int = 0
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    tool_calls: int = 0
    checkpoints: list[str] = field(default_factory=list)
    changed_files: list[str] = field(default_factory=list)
    messages: list[ModelMessage] = field(default_factory=list)
    file_blocks: list[str] = field(default_factory=list)

    @property
    def completed(self) -> bool:
        """The model finished the work (what it did is for verification to judge)."""
        return self.stop == "completed"


class AgentRunner:
    """Runs the agent in one workspace, reporting events and writing the audit log.

    One runner serves one run at a time; make one per task for parallel work.

    Args:
        root: The workspace root (the file tools are confined to it and ``extra_roots``).
        model: The model (a routed model from ``specloom.llm.session`` or any pydantic-ai
            ``Model``).
        approvals: The approval gates (see ``specloom.agent.approvals``).
        settings: The merged settings (sandbox, tool caps, limits).
        toolsets: More toolsets for the agent, MCP servers' among them.
        audit: Where the run's events are logged; ``None`` logs nothing.
        checkpoints: Where snapshots go; ``None`` takes none (read-only runs).
        recorder: The usage recorder of the run's model session, for request costs in the
            audit log.
        limits: Caps on the run (default: from settings).
        read_only: Offer only the reading tools.
        on_event: Called with each ``AgentEvent`` (plain or async).
        instructions: Standing instructions (default ``BASE_INSTRUCTIONS``, or
            ``WHOLE_FILE_INSTRUCTIONS`` in the whole-file edit format).
        stream: Stream the model's answers (text events as they come); ``None`` (the
            default) streams when the model can (``model_streams``).
        task: The task the run serves, for checkpoint messages.
        spec: The spec of that task.
        extra_roots: More folders the file tools may use.
        hooks: The project's hooks: ``preToolUse`` hooks may refuse a tool call, and
            ``postToolUse`` hooks add to its result.
        edit_format: ``tools`` (the default) or ``whole``: no tools are offered, and the
            files the final answer writes out are written (see ``EditFormat``). A read-only
            runner always uses the tools.
        model_settings: Settings sent with each model request (``max_tokens``...).

    Attributes:
        answer_edit: In the whole-file edit format, a change made to each file of the
            answer before it is written (``specloom.agent.whole_files.BlockEdit``); ``None``
            (the default) writes the files as the answer has them.
    """

    def __init__(
        self,
        root: Path,
        model: Model,
        approvals: Approvals,
        *,
        settings: Settings | None = None,
        toolsets: Sequence[AbstractToolset[Any]] = (),
        audit: AuditTrail | None = None,
        checkpoints: CheckpointStore | None = None,
        recorder: UsageRecorder | None = None,
        limits: AgentLimits | None = None,
        read_only: bool = False,
        on_event: EventHandler | None = None,
        instructions: str | None = None,
        stream: bool | None = None,
        task: str | None = None,
        spec: str | None = None,
        extra_roots: Sequence[Path] = (),
        hooks: HookBus | None = None,
        edit_format: EditFormat = "tools",
        model_settings: ModelSettings | None = None,
    ) -> None:
        self.root = root.resolve()
        self.model = model
        self.approvals = approvals
        self.settings = settings if settings is not None else Settings()
        self.toolsets = list(toolsets)
        self.audit = audit
        self.checkpoints = checkpoints
        self.recorder = recorder
        self.limits = limits if limits is not None else AgentLimits.from_settings(self.settings)
        self.read_only = read_only
        self.on_event = on_event
        self.edit_format: EditFormat = "tools" if read_only else edit_format
        self.model_settings = model_settings
        self.answer_edit: BlockEdit | None = None
        standing = WHOLE_FILE_INSTRUCTIONS if self.edit_format == "whole" else BASE_INSTRUCTIONS
        self.instructions = instructions or standing.format(root=self.root)
        self.stream = model_streams(model) if stream is None else stream
        self.task = task
        self.spec = spec
        self.extra_roots = list(extra_roots)
        self.hooks = hooks
        self._token: CancellationToken | None = None
        self._cancel_requested = False
        self._step = 0
        self._checkpoint_step = -1
        self._answers_seen = 0
        self._result = AgentResult("", "completed")

    def cancel(self) -> None:
        """Stop the current run (from any task or thread); it ends with ``stop="cancelled"``."""
        self._cancel_requested = True
        if self._token is not None:
            self._token.cancel()

    async def run(
        self,
        prompt: str,
        *,
        context: ContextBlock | None = None,
        history: Sequence[ModelMessage] | None = None,
    ) -> AgentResult:
        """Run the agent on ``prompt`` until the model answers without a tool call or a
        limit stops it.

        Args:
            prompt: The request (a task prompt, a user message).
            context: Steering, references, repository map and memory for the
                instructions; its pieces go to the audit log.
            history: Earlier messages of the conversation, to continue it.

        Returns:
            The outcome, with the messages so far whatever the stop.

        Raises:
            CheckpointError: A snapshot failed before a change (the change was not made).
            ModelRequestError: The model (and its fallbacks) could not answer.
        """
        self._reset()
        token = CancellationToken()
        self._token = token
        if self._cancel_requested:
            return self._stopped("cancelled", "cancelled before it started", list(history or []))
        env = ToolEnv.create(
            [self.root, *self.extra_roots],
            self.settings,
            approve=self.approvals.approve,
            before_change=self._before_change,
            record=self._record,
        )
        instructions = self.instructions
        if context is not None:
            instructions = f"{instructions}\n\n{context.render()}".rstrip()
            await self._report_context(context)
        whole = self.edit_format == "whole"
        toolsets = [] if whole else [builtin_toolset(env, read_only=self.read_only), *self.toolsets]
        if (
            not whole
            and self.hooks is not None
            and (self.hooks.has_hooks("preToolUse") or self.hooks.has_hooks("postToolUse"))
        ):
            from specloom.hooks.toolset import with_hooks

            toolsets = with_hooks(
                toolsets,
                self.hooks,
                session_id=self.hooks.session_id,
                spec=self.spec,
                task=self.task,
            )
        agent: Agent[None, str] = Agent(
            self.model,
            instructions=instructions,
            toolsets=toolsets,
            output_type=str,
            retries={"tools": 2, "output": 1},
            model_settings=self.model_settings,
        )
        messages: list[ModelMessage] = list(history or [])
        try:
            async with agent.iter(
                prompt,
                message_history=messages or None,
                usage_limits=self.limits.usage_limits(),
                cancellation_token=token,
                timeout=self.limits.timeout_s,
            ) as run:
                try:
                    async for node in run:
                        if Agent.is_model_request_node(node):
                            self._step += 1
                            if self.stream:
                                async with node.stream(run.ctx) as events:
                                    async for event in events:
                                        await self._model_event(event)
                        elif Agent.is_call_tools_node(node):
                            await self._tools_step(node, run.ctx)
                finally:
                    messages = run.all_messages()
                    usage = run.usage
                    self._result.requests = usage.requests
                    self._result.input_tokens = usage.input_tokens
                    self._result.output_tokens = usage.output_tokens
                    self._result.tool_calls = usage.tool_calls
                result = run.result
                self._result.output = result.output if result is not None else ""
        except RunTimedOut as error:
            detail = (
                f"the run passed its time limit ({self.limits.timeout_s:g} s); raise "
                "`agent.limits.timeout_s` in settings if the work needs longer"
            )
            return self._stopped("timeout", detail, error.all_messages())
        except RunCancelled as error:
            return self._stopped("cancelled", "cancelled", error.all_messages())
        except UsageLimitExceeded as error:
            reason: StopReason = "step_limit" if "request_limit" in str(error) else "usage_limit"
            return self._stopped(reason, _limit_detail(error, self.limits), messages)
        except BudgetExceededError as error:
            return self._stopped("budget", error.message, messages)
        finally:
            self._token = None
            self._audit_new_requests(None)
        self._result.messages = messages
        self._result.steps = self._result.requests
        if whole and self._result.output:
            await self._apply_answer(env, self._result.output)
        if self.audit is not None and self._result.output:
            self.audit.answer(self._result.output, notes=self._result.file_blocks)
        return self._result

    # -- the whole-file edit format ---------------------------------------------------------

    async def _apply_answer(self, env: ToolEnv, answer: str) -> None:
        from specloom.hooks.model import EventKind

        hooks = None
        bus = self.hooks
        if bus is not None and (
            bus.has_hooks(EventKind.preToolUse) or bus.has_hooks(EventKind.postToolUse)
        ):
            from specloom.hooks.toolset import ToolHooks

            hooks = ToolHooks(bus, bus.session_id, self.spec, self.task)
        self._result.file_blocks = await apply_file_blocks(
            answer,
            env,
            started=self._answer_write_started,
            finished=self._answer_write_finished,
            hooks=hooks,
            call_prefix=f"answer-{self._step}",
            edit=self.answer_edit,
        )

    async def _answer_write_started(
        self, call_id: str, tool: str, arguments: Mapping[str, Any]
    ) -> None:
        self._result.tool_calls += 1
        if self.audit is not None:
            self.audit.tool_call(tool, dict(arguments), call_id=call_id)
        await self.emit(ToolStarted(call_id, tool, arguments, self._step))

    async def _answer_write_finished(self, call_id: str, tool: str, ok: bool, result: str) -> None:
        if self.audit is not None:
            self.audit.tool_result(tool, result, ok=ok, call_id=call_id)
        await self.emit(ToolFinished(call_id, tool, ok, result[:_RESULT_SHOWN], self._step))

    # -- the graph's nodes ------------------------------------------------------------------

    async def _model_event(self, event: Any) -> None:
        if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
            if event.part.content:
                await self.emit(TextDelta(event.part.content, self._step))
        elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
            if event.delta.content_delta:
                await self.emit(TextDelta(event.delta.content_delta, self._step))

    async def _tools_step(self, node: Any, ctx: Any) -> None:
        response: ModelResponse = node.model_response
        if not self.stream:
            for part in response.parts:
                if isinstance(part, TextPart) and part.content:
                    await self.emit(TextDelta(part.content, self._step))
        self._audit_new_requests(response)
        calls = [part for part in response.parts if isinstance(part, ToolCallPart)]
        async with node.stream(ctx) as events:
            async for event in events:
                if isinstance(event, FunctionToolCallEvent):
                    arguments = _arguments(event.part)
                    if self.audit is not None:
                        self.audit.tool_call(
                            event.part.tool_name, arguments, call_id=event.part.tool_call_id
                        )
                    await self.emit(
                        ToolStarted(
                            event.part.tool_call_id, event.part.tool_name, arguments, self._step
                        )
                    )
                elif isinstance(event, FunctionToolResultEvent):
                    part = event.part
                    shown = (
                        part.content if isinstance(part.content, str) else part.model_response_str()
                    )
                    ok = getattr(part, "outcome", "success") == "success"
                    if self.audit is not None:
                        self.audit.tool_result(
                            part.tool_name, shown, ok=ok, call_id=part.tool_call_id
                        )
                    await self.emit(
                        ToolFinished(
                            part.tool_call_id,
                            part.tool_name,
                            ok,
                            shown[:_RESULT_SHOWN],
                            self._step,
                        )
                    )
        usage = response.usage
        await self.emit(
            StepFinished(
                self._step,
                response.model_name or self.model.model_name,
                usage.input_tokens,
                usage.output_tokens,
                len(calls),
            )
        )

    # -- hooks the tools call ---------------------------------------------------------------

    async def _before_change(self, paths: Sequence[Path]) -> None:
        if self.checkpoints is None or self._checkpoint_step == self._step:
            return
        store = self.checkpoints
        label = f"before step {self._step}" + (f" of task {self.task}" if self.task else "")
        checkpoint = await anyio.to_thread.run_sync(
            lambda: store.create(label, task=self.task, spec=self.spec)
        )
        self._checkpoint_step = self._step
        self._result.checkpoints.append(checkpoint.id)
        if self.audit is not None:
            self.audit.checkpoint(checkpoint.id, label=label)
        await self.emit(CheckpointMade(checkpoint.id, label, self._step, checkpoint.unchanged))

    async def before_external_change(self) -> None:
        """Take this step's checkpoint if it has none yet: for tools outside the built-in
        set that may change files (MCP tools, hooks)."""
        await self._before_change([self.root])

    def _record(self, event: ToolEvent) -> None:
        for path in event.paths:
            try:
                shown = path.resolve().relative_to(self.root).as_posix()
            except ValueError:
                shown = str(path)
            if shown not in self._result.changed_files:
                self._result.changed_files.append(shown)

    # -- bookkeeping ------------------------------------------------------------------------

    def _reset(self) -> None:
        self._step = 0
        self._checkpoint_step = -1
        self._answers_seen = len(self.recorder.answers) if self.recorder is not None else 0
        self._result = AgentResult("", "completed")

    def _stopped(self, stop: StopReason, detail: str, messages: list[ModelMessage]) -> AgentResult:
        self._result.stop = stop
        self._result.detail = detail
        self._result.output = ""
        self._result.messages = messages
        self._result.steps = self._result.requests
        if self.audit is not None:
            self.audit.error(f"agent run stopped: {detail}", stop=stop, step=self._step)
        return self._result

    async def _report_context(self, context: ContextBlock) -> None:
        items = tuple((part, name, size) for part, name, size in context.audit_items())
        if self.audit is not None:
            for part, name, size in items:
                self.audit.context(part, name, size)
        await self.emit(ContextIncluded(items, tuple(context.problems)))

    def _audit_new_requests(self, response: ModelResponse | None) -> None:
        """Log the model requests made since the last call: from the usage recorder when
        there is one (every attempt, with cost), else from the response."""
        if self.audit is None:
            return
        if self.recorder is not None:
            answers = self.recorder.answers[self._answers_seen :]
            self._answers_seen += len(answers)
            for answer in answers:
                self.audit.model_request(
                    answer.model_id,
                    input_tokens=answer.input_tokens,
                    output_tokens=answer.output_tokens,
                    cost_usd=answer.cost_usd,
                    credits=answer.credits,
                    ok=answer.ok,
                )
        elif response is not None:
            self.audit.model_request(
                response.model_name or self.model.model_name,
                input_tokens=response.usage.input_tokens,
                output_tokens=response.usage.output_tokens,
            )

    async def emit(self, event: AgentEvent) -> None:
        """Hand ``event`` to ``on_event`` (awaiting it when it is async)."""
        if self.on_event is None:
            return
        outcome = self.on_event(event)
        if inspect.isawaitable(outcome):
            await outcome


def model_streams(model: Model) -> bool:
    """Whether ``model`` answers streamed requests: every model of a fallback chain, through
    wrappers; a ``FunctionModel`` only with a ``stream_function`` (custom ``py:`` models are
    often scripted that way)."""
    from pydantic_ai.models.fallback import FallbackModel
    from pydantic_ai.models.function import FunctionModel
    from pydantic_ai.models.wrapper import WrapperModel

    if isinstance(model, FallbackModel):
        return all(model_streams(candidate) for candidate in model.models)
    if isinstance(model, WrapperModel):
        return model_streams(model.wrapped)
    if isinstance(model, FunctionModel):
        return model.stream_function is not None
    return type(model).request_stream is not Model.request_stream


def _arguments(part: ToolCallPart) -> dict[str, Any]:
    try:
        return part.args_as_dict()
    except ValueError:
        return {"_raw": str(part.args)}


def _limit_detail(error: UsageLimitExceeded, limits: AgentLimits) -> str:
    if "request_limit" in str(error):
        return (
            f"the run reached its step limit ({limits.max_steps} model requests); raise "
            "`agent.limits.max_steps` in settings if the work needs more"
        )
    return f"the run reached a usage limit: {error}"
