"""The task executor of ``specloom run``: one task, from prompt to verified change.

``make_executor`` returns the ``TaskExecutor`` the scheduler (``specloom.workflows.scheduler``)
calls for each task (``specloom.workflows.execution`` is the contract). For one ``TaskJob``:

1. the spec is read from ``job.root``; the test command is found (``verify.find_test_command``:
   settings, steering, discovery). With none the task fails at once, before any model
   request, with a reason that says to set ``verify.command``: a task is never done on the
   model's word;
2. a property task (one that references ``Property N`` or says "property test") gets its
   Hypothesis tests written first (``properties.generate_property_tests``, after a checkpoint,
   so undoing the task undoes them too); the agent then makes them pass;
3. the focused prompt (``task_prompt.build_task_prompt``: the task, the criteria it cites, the
   design sections and properties it needs) is the request; steering, memory, ``#file``
   references and the repository map (``task_prompt.task_context``) go into the agent's
   instructions;
4. the agent (``specloom.agent.runtime.prepare_agent`` in ``job.workdir``, under the chosen
   policy mode) runs until the model answers without a tool call; then the test command
   runs in ``job.workdir`` (``verify.run_verification``: a real subprocess, sandboxed like the
   agent's commands); for a property task its property test file runs too;
5. on failure the end of the test output goes back to the agent as the next request, with
   the conversation so far (in the whole-file format: a fresh request with what became of
   the last answer's files), up to ``retries`` more times (``run.retries``,
   default 2). It stops early, ``stuck``, when two attempts in a row changed no file (the
   first one that changes nothing is told so and tried again: small models often answer
   with code in text instead of writing it) or failed the same way (``verify.failure_signature``).

Models with a small window (the embedded one) work in the whole-file edit format
(``task_files.edit_format_for``; ``run.edit_format`` in settings): no tools, the project's
files in the instructions (``task_files.with_files``), and the files of the answer written
by the agent loop (``specloom.agent.whole_files``); MCP servers are not started for them.
An attempt there is one request, or two: the code, then its tests written with that code in
view (``whole_attempts``). When the tests failed only their own assertions (the code ran),
the retry keeps the code and asks for its tests again, showing what the code returned; if
they fail the same way, the next attempt writes the code again. Otherwise, when the task has
its folder to itself, a retry starts from the checkpoint before the task (the failed files
are kept in a checkpoint), and a task that fails is set aside the same way, as a parallel run
leaves a failed task's worktree unmerged.

Events: ``attempt_started``, ``agent_event`` (the agent's events, text deltas joined into
larger pieces; ``notice`` and ``property_tests`` too) and ``verification`` (command, exit
code, passed, duration). The outcome carries the tokens of every attempt (and of the property
tests), the cost where prices are known (from the usage recorder; for a task running beside
others, its share of the cost of the requests made meanwhile, by tokens), the files the agent
changed and the first checkpoint taken.

A failed task never raises; a cancelled run does: the agent is cancelled, then the
cancellation goes on up.

May import: the standard library, ``anyio``, ``pydantic_ai`` (messages), ``specloom.errors``,
``specloom.settings``, ``specloom.workspace``, ``specloom.spec``, ``specloom.agent``,
``specloom.llm.metering`` and the sibling modules ``execution``, ``task_prompt``, ``task_files``,
``whole_attempts``, ``verify`` and ``properties``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from specloom.agent.checkpoints import CheckpointStore
from specloom.agent.policy import MODES
from specloom.errors import BudgetExceededError, CheckpointError, UsageError, UserFacingError
from specloom.settings import Settings
from specloom.spec.tasks import Task
from specloom.workflows.execution import Emit, RunEvent, TaskExecutor, TaskJob, TaskOutcome
from specloom.workflows.properties import (
    PropertyTests,
    generate_property_tests,
    is_python_project,
    property_test_path,
)
from specloom.workflows.task_files import answer_tokens, edit_format_for, is_cache
from specloom.workflows.task_prompt import (
    DESIGN_CHARS,
    build_task_prompt,
    feedback_prompt,
    is_property_task,
    task_context,
    task_request,
    touched_paths,
)
from specloom.workflows.verify import (
    NO_TEST_COMMAND,
    TestCommand,
    Verification,
    failing_tests,
    find_test_command,
    pytest_prefix,
    run_verification,
)
from specloom.workflows.whole_attempts import (
    NOTHING_WRITTEN,
    STARTED_OVER,
    WholeFileAttempts,
    set_aside,
    start_over,
)
from specloom.workspace import Workspace

if TYPE_CHECKING:
    from pydantic_ai.models import Model

    from specloom.agent.events import AgentEvent
    from specloom.agent.loop import AgentLimits, AgentResult
    from specloom.agent.runtime import Ask, AskTool, PreparedAgent
    from specloom.llm.metering import UsageRecorder

__all__ = ["DEFAULT_RETRIES", "make_executor", "run_retries"]

DEFAULT_RETRIES = 2
"""Retries after the first attempt when ``run.retries`` is not set."""
TEXT_CHUNK = 400
"""Characters of streamed text joined into one ``agent_event`` (also sent at each pause)."""
_SHOWN = 500
_PYTEST_PREFIX = re.compile(r"^(?P<prefix>.*?\bpytest)\b")


def run_retries(settings: Settings) -> int:
    """``run.retries``: retries after a failed attempt (default ``DEFAULT_RETRIES``).

    Raises:
        SettingsError: A value that is not a whole number of 0 or more.
    """
    value = settings.get("run", "retries")
    if value is None:
        return DEFAULT_RETRIES
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise settings.error(
            f"`run.retries` must be a whole number of 0 or more, not {value!r}", "run", "retries"
        )
    return value


def make_executor(
    *,
    model: Model,
    settings: Settings,
    mode: str = "supervised",
    retries: int | None = None,
    recorder: UsageRecorder | None = None,
    ask: Ask | None = None,
    ask_tool: AskTool | None = None,
    limits: AgentLimits | None = None,
    use_mcp: bool = True,
    property_tests: bool = True,
) -> TaskExecutor:
    """The executor ``specloom run`` hands each task to (see the module docstring).

    Args:
        model: The model (``ModelSession.model``).
        settings: The merged settings of the project.
        mode: ``supervised`` (ask before what the policy does not allow; refused when ``ask``
            is ``None``) or ``autopilot``.
        retries: Attempts after the first (default: ``run.retries``, else 2).
        recorder: The model session's usage recorder (costs, audit log).
        ask: The interface's approval prompt (as ``prepare_agent`` takes it).
        ask_tool: The approval prompt for MCP tool calls.
        limits: Caps on each agent run (default: ``agent.limits`` in settings).
        use_mcp: Offer the MCP servers' tools.
        property_tests: Write property-based tests before the agent runs, for property tasks.

    Raises:
        UsageError: An unknown mode or a negative ``retries``.
        SettingsError: A bad ``run.retries``.
    """
    if mode not in MODES:
        raise UsageError(
            f"unknown mode {mode!r}", hint="Use --mode supervised or --mode autopilot."
        )
    if retries is not None and retries < 0:
        raise UsageError(f"retries must be 0 or more, not {retries}", hint="Use --retries 0..")
    options = _Options(
        model=model,
        settings=settings,
        mode=mode,
        retries=retries if retries is not None else run_retries(settings),
        recorder=recorder,
        ask=ask,
        ask_tool=ask_tool,
        limits=limits,
        use_mcp=use_mcp,
        property_tests=property_tests,
    )

    async def execute(job: TaskJob, emit: Emit) -> TaskOutcome:
        return await _TaskRun(job, emit, options).execute()

    return execute


@dataclass(frozen=True, slots=True)
class _Options:
    model: Model
    settings: Settings
    mode: str
    retries: int
    recorder: UsageRecorder | None
    ask: Ask | None
    ask_tool: AskTool | None
    limits: AgentLimits | None
    use_mcp: bool
    property_tests: bool


_WHOLE_DESIGN_CHARS = 1_500
"""Design characters in a whole-file request (the files shown need the room)."""
_WHOLE_CONTEXT_CHARS = 1_500
"""Steering and memory characters in a whole-file run's instructions."""

NOTHING_CHANGED = (
    "Your last answer changed no file, so nothing new could be verified. Make the change in "
    "the files with the write_file or edit_file tool (code in your answer's text is not "
    "applied), then run the tests."
)


class _Relay:
    """Turns agent events into ``agent_event`` run events; streamed text is joined into
    pieces of about ``TEXT_CHUNK`` characters, sent when a piece is full, when another kind
    of event comes, and at the end of each attempt."""

    def __init__(self, emit: Emit, task_id: str) -> None:
        self.emit = emit
        self.task_id = task_id
        self.text: list[str] = []
        self.size = 0
        self.step = 0

    def __call__(self, event: AgentEvent) -> None:
        if event.kind == "text":
            if self.text and event.step != self.step:
                self.flush()
            self.step = event.step
            self.text.append(event.text)
            self.size += len(event.text)
            if self.size >= TEXT_CHUNK:
                self.flush()
            return
        self.flush()
        self.send(_event_data(event))

    def send(self, data: dict[str, Any]) -> None:
        self.emit(RunEvent("agent_event", self.task_id, data))

    def flush(self) -> None:
        if not self.text:
            return
        text = "".join(self.text)
        self.text, self.size = [], 0
        self.send({"type": "text", "text": text, "step": self.step})


def _short(value: object) -> object:
    if isinstance(value, str) and len(value) > _SHOWN:
        return value[:_SHOWN] + f"[... {len(value) - _SHOWN} more characters]"
    if isinstance(value, int | float | bool) or value is None:
        return value
    if isinstance(value, str):
        return value
    return _short(str(value))


def _event_data(event: AgentEvent) -> dict[str, Any]:
    if event.kind == "tool_started":
        arguments = {key: _short(value) for key, value in event.arguments.items()}
        return {"type": "tool_started", "tool": event.tool, "call_id": event.call_id,
                "arguments": arguments, "step": event.step}  # fmt: skip
    if event.kind == "tool_finished":
        return {"type": "tool_finished", "tool": event.tool, "call_id": event.call_id,
                "ok": event.ok, "result": _short(event.result), "step": event.step}  # fmt: skip
    if event.kind == "checkpoint":
        return {"type": "checkpoint", "checkpoint": event.checkpoint_id, "label": event.label,
                "reused": event.reused, "step": event.step}  # fmt: skip
    if event.kind == "approval_needed":
        return {"type": "approval_needed", "action": event.action, "tool": event.tool,
                "reasons": list(event.reasons), "destructive": event.destructive}  # fmt: skip
    if event.kind == "approval_settled":
        return {"type": "approval_settled", "action": event.action, "allowed": event.allowed,
                "by": event.by, "rule": event.rule}  # fmt: skip
    if event.kind == "context":
        return {"type": "context", "items": [list(item) for item in event.items],
                "problems": list(event.problems)}  # fmt: skip
    if event.kind == "step":
        return {"type": "step", "step": event.step, "model": event.model,
                "input_tokens": event.input_tokens, "output_tokens": event.output_tokens,
                "tool_calls": event.tool_calls}  # fmt: skip
    return {"type": event.kind}  # every kind is handled above; a new one still gets through


@dataclass(slots=True)
class _Tally:
    attempts: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    changed_files: list[str] = field(default_factory=list)
    checkpoint: str | None = None
    verification: str = ""

    def add(self, result: AgentResult) -> None:
        self.input_tokens += result.input_tokens
        self.output_tokens += result.output_tokens
        self.changed_files += [p for p in result.changed_files if p not in self.changed_files]
        if self.checkpoint is None and result.checkpoints:
            self.checkpoint = result.checkpoints[0]


class _TaskRun:
    """One task's execution (see the module docstring)."""

    def __init__(self, job: TaskJob, emit: Emit, options: _Options) -> None:
        self.job = job
        self.emit = emit
        self.options = options
        self.settings = options.settings
        self.relay = _Relay(emit, job.task_id)
        self.tally = _Tally()
        self.prepared: PreparedAgent | None = None
        self.whole = False
        self.window: int | None = None
        self.touched: list[str] = []
        recorder = options.recorder
        self.answers_before = len(recorder.answers) if recorder is not None else 0

    # -- the outcome ---------------------------------------------------------------------------

    def _cost(self) -> float | None:
        recorder = self.options.recorder
        if recorder is None:
            return None
        answers = list(recorder.answers[self.answers_before :])
        known = [answer.cost_usd for answer in answers if answer.cost_usd is not None]
        if not known:
            return None
        total = sum(known)
        if self.job.parallel:
            # Other tasks' requests are in the same recorder: take this task's share by tokens.
            window = sum(answer.input_tokens + answer.output_tokens for answer in answers)
            mine = self.tally.input_tokens + self.tally.output_tokens
            if window:
                total *= min(1.0, mine / window)
        return round(total, 6)

    def _outcome(self, ok: bool, reason: str, *, stuck: bool = False) -> TaskOutcome:
        tally = self.tally
        if self.prepared is not None and self.prepared.audit is not None:
            outcome = "verified" if ok else ("stuck" if stuck else "failed")
            self.prepared.audit.run_finished(
                outcome,
                detail=reason,
                attempts=tally.attempts,
                changed_files=tally.changed_files,
                checkpoint=tally.checkpoint,
            )
        return TaskOutcome(
            task_id=self.job.task_id,
            ok=ok,
            reason=reason,
            attempts=tally.attempts,
            stuck=stuck,
            changed_files=list(tally.changed_files),
            checkpoint=tally.checkpoint,
            verification=tally.verification,
            input_tokens=tally.input_tokens,
            output_tokens=tally.output_tokens,
            cost_usd=self._cost(),
        )

    def _notice(self, text: str) -> None:
        self.relay.send({"type": "notice", "text": text})

    # -- the run -------------------------------------------------------------------------------

    async def execute(self) -> TaskOutcome:
        try:
            return await self._execute()
        except anyio.get_cancelled_exc_class():
            if self.prepared is not None:
                self.prepared.runner.cancel()
            raise
        finally:
            self.relay.flush()
            if self.prepared is not None:
                self.prepared.close()

    async def _execute(self) -> TaskOutcome:
        job = self.job
        try:
            spec = Workspace(job.root).load(job.spec)
            if spec.tasks is None:
                raise UsageError(f"spec {job.spec!r} has no tasks.md", file=spec.file("tasks.md"))
            task = spec.tasks.task(job.task_id)
            command = find_test_command(job.workdir, settings=self.settings, steering_root=job.root)
        except UserFacingError as error:
            return self._outcome(False, str(error))
        if command is None:
            self.emit(RunEvent("verification", job.task_id, {
                "attempt": 0, "command": None, "source": None, "exit_code": None,
                "passed": False, "duration_s": 0.0, "reason": NO_TEST_COMMAND}))  # fmt: skip
            return self._outcome(False, NO_TEST_COMMAND)

        property_file: str | None = None
        generated = False
        cap = _context_cap(self.options.model)
        design_chars = min(DESIGN_CHARS, cap) if cap is not None else DESIGN_CHARS
        self.window = _context_window(self.options.model)
        try:
            self.whole = edit_format_for(self.options.model, self.settings) == "whole"
        except UserFacingError as error:
            return self._outcome(False, str(error))
        if self.whole:
            # The files take the room the tools and the repository map would: the design's
            # share and the context block get smaller.
            design_chars = min(design_chars, _WHOLE_DESIGN_CHARS)
            cap = min(cap, _WHOLE_CONTEXT_CHARS) if cap is not None else _WHOLE_CONTEXT_CHARS
        if is_property_task(task):
            first = build_task_prompt(spec, task.id, design_chars=design_chars)
            ids = [prop.id for prop in first.properties]
            if ids:
                try:
                    property_file, generated = await self._property_tests(ids)
                except BudgetExceededError as error:
                    return self._outcome(False, str(error))
        prompt = build_task_prompt(
            spec,
            task.id,
            test_command=command.shown,
            property_file=property_file,
            property_file_generated=generated,
            design_chars=design_chars,
            whole_files=self.whole,
        )
        self.touched = [*touched_paths(task), *([property_file] if property_file else [])]
        context = task_context(
            job.root,
            job.workdir,
            request=task_request(task),
            touched=self.touched,
            settings=self.settings,
            max_chars=cap,
            include_repo_map=not self.whole,
        )
        try:
            self.prepared = self._prepare()
        except UserFacingError as error:
            return self._outcome(False, str(error))
        for notice in self.prepared.notices:
            self._notice(notice)
        hooks = self.prepared.hooks
        request = prompt.text
        if hooks is not None and hooks.has_hooks("preTaskExecution"):
            from specloom.hooks.model import EventKind, HookEvent
            from specloom.hooks.toolset import hook_context_text

            before = await hooks.dispatch(
                HookEvent(
                    EventKind.preTaskExecution,
                    job.workdir,
                    session_id=hooks.session_id,
                    spec=job.spec,
                    task=job.task_id,
                )
            )
            if before.blocked:
                return self._outcome(False, f"blocked by a preTaskExecution hook: {before.reason}")
            if before.context:
                request = f"{request}\n\n{hook_context_text(before.context)}"
        outcome = await self._attempts(task, request, context, command, property_file)
        if self.whole and not outcome.ok and outcome.changed_files:
            outcome = await set_aside(job, self.tally.checkpoint, outcome, self._notice)
        if hooks is not None and hooks.has_hooks("postTaskExecution"):
            from specloom.hooks.model import EventKind, HookEvent

            await hooks.dispatch(
                HookEvent(
                    EventKind.postTaskExecution,
                    job.workdir,
                    session_id=hooks.session_id,
                    files=tuple(outcome.changed_files),
                    spec=job.spec,
                    task=job.task_id,
                )
            )
        return outcome

    def _prepare(self) -> PreparedAgent:
        from specloom.agent.runtime import prepare_agent

        job, options = self.job, self.options
        return prepare_agent(
            job.workdir,
            options.model,
            settings=self.settings,
            mode=options.mode,
            ask=options.ask,
            ask_tool=options.ask_tool,
            on_event=self.relay,
            recorder=options.recorder,
            run_id=job.run_id,
            command=f"run {job.spec} {job.task_id}",
            spec=job.spec,
            task=job.task_id,
            use_mcp=options.use_mcp and not self.whole,
            limits=options.limits,
            state_root=job.root,
            hooks=True,
            edit_format="whole" if self.whole else "tools",
            model_settings={"max_tokens": answer_tokens(self.window)} if self.whole else None,
        )

    async def _attempts(
        self,
        task: Task,
        request: str,
        context: Any,
        command: TestCommand,
        property_file: str | None,
    ) -> TaskOutcome:
        from pydantic_ai.exceptions import AgentRunError
        from pydantic_ai.messages import repair_messages

        assert self.prepared is not None
        runner = self.prepared.runner
        allowed = 1 + self.options.retries
        history: list[Any] | None = None
        previous: str | None = None
        unchanged_before = False
        summary = ""
        feedback: str | None = None
        notes: list[str] = []
        job = self.job
        whole = (
            WholeFileAttempts(runner, job.workdir, self.window, self.touched, self._notice)
            if self.whole
            else None
        )
        tests_of: list[str] = []  # the code kept by a retry that writes only its tests again
        for attempt in range(1, allowed + 1):
            self.tally.attempts = attempt
            self.emit(RunEvent("attempt_started", task.id, {
                "attempt": attempt, "attempts": allowed, "retry": attempt > 1}))  # fmt: skip
            try:
                if whole is not None:
                    # No conversation is carried over: each attempt sees the files as they are.
                    result = await whole.attempt(
                        task, request, context, feedback, notes, tests_of=tests_of
                    )
                else:
                    result = await runner.run(request, context=context, history=history)
            except UserFacingError as error:  # a checkpoint that failed, a model that failed
                self.relay.flush()
                return self._outcome(False, f"attempt {attempt} stopped: {error}")
            except AgentRunError as error:  # the model misbehaved past its retries
                self.relay.flush()
                return self._outcome(False, f"attempt {attempt} stopped: the model failed: "
                                            f"{str(error).splitlines()[0]}")  # fmt: skip
            self.relay.flush()
            self.tally.add(result)
            if result.stop == "budget":
                return self._outcome(False, f"stopped: {result.detail}")
            if result.stop == "cancelled":
                return self._outcome(False, "the agent's run was cancelled")
            changed = await self._changed(result)
            verification = await self._verify(attempt, command, property_file)
            self.tally.verification = verification.tail
            stopped = f" (the agent stopped early: {result.detail})" if result.detail else ""
            if verification.passed:
                after = f" after {attempt} attempts" if attempt > 1 else ""
                return self._outcome(True, f"verified{after}: {verification.summary()}")
            summary = verification.summary() + stopped
            if not changed and (unchanged_before or attempt == allowed):
                which = (
                    f"attempts {attempt - 1} and {attempt}"
                    if unchanged_before
                    else (f"attempt {attempt}")
                )
                return self._outcome(
                    False, f"stuck: {which} changed no file, and {summary}", stuck=True
                )
            signature = verification.signature
            # Tests written again that fail as before may be right: the code gets its turn.
            if changed and signature == previous and not tests_of:
                return self._outcome(
                    False,
                    f"stuck: attempts {attempt - 1} and {attempt} failed the same way: {summary}",
                    stuck=True,
                )
            if attempt == allowed:
                break
            previous = signature if changed else previous
            # Tests written again unchanged were kept on purpose: the code gets its turn.
            kept_tests = bool(tests_of) and not changed
            unchanged_before = not changed and not kept_tests
            # At most one tests-only retry in a row: the next one writes the code again too.
            kept = whole.tests_again(verification) if whole and changed and not tests_of else []
            feedback = feedback_prompt(
                attempt,
                allowed,
                verification.command,
                verification.exit_code,
                (failing_tests(verification.output) if kept else "") or verification.tail,
                timed_out=verification.timed_out,
                whole_files=self.whole,
                about_tests=bool(kept),
            )
            notes = list(result.file_blocks)
            tests_of = kept
            if self.whole:
                if not changed and not kept_tests:
                    feedback = f"{NOTHING_WRITTEN}\n\n{feedback}"
                elif not kept and await start_over(
                    job, self.tally.checkpoint, attempt, self._notice
                ):
                    notes = [STARTED_OVER]
                continue
            request = f"{NOTHING_CHANGED}\n\n{feedback}" if not changed else feedback
            history = repair_messages(result.messages)
        return self._outcome(False, f"verification failed after {allowed} attempt(s): {summary}")

    async def _changed(self, result: AgentResult) -> bool:
        """Whether the attempt changed a file: what differs from the attempt's first
        checkpoint (commands' changes too), caches left out."""
        if not result.checkpoints:
            return any(not is_cache(path) for path in result.changed_files)
        store = CheckpointStore(self.job.workdir)
        first = result.checkpoints[0]
        try:
            changes = await anyio.to_thread.run_sync(lambda: store.changes(first))
        except CheckpointError:
            return any(not is_cache(path) for path in result.changed_files)
        return any(not is_cache(change.path) for change in changes)

    async def _verify(
        self, attempt: int, command: TestCommand, property_file: str | None
    ) -> Verification:
        verification = await run_verification(self.job.workdir, command, settings=self.settings)
        self._report(attempt, verification)
        if not verification.passed or property_file is None:
            return verification
        if not (self.job.workdir / property_file).is_file():
            return verification
        check = TestCommand(
            f"{self._pytest(command)} -q {shlex.quote(property_file)}",
            "property tests",
            property_file,
            command.timeout_s,
        )
        property_run = await run_verification(self.job.workdir, check, settings=self.settings)
        self._report(attempt, property_run)
        return property_run

    def _pytest(self, command: TestCommand) -> str:
        if isinstance(command.command, str):
            match = _PYTEST_PREFIX.match(command.command.strip())
            if match is not None and "&&" not in match.group("prefix"):
                return match.group("prefix")
        return pytest_prefix(self.job.workdir, project_root=self.job.root)

    def _report(self, attempt: int, verification: Verification) -> None:
        self.emit(RunEvent("verification", self.job.task_id, {
            "attempt": attempt,
            "command": verification.command,
            "source": verification.source,
            "exit_code": verification.exit_code,
            "passed": verification.passed,
            "duration_s": round(verification.duration_s, 3),
            "timed_out": verification.timed_out,
            "sandboxed": verification.sandboxed,
        }))  # fmt: skip

    async def _property_tests(self, ids: list[str]) -> tuple[str | None, bool]:
        """Write the property tests of ``ids`` before the agent runs; returns the file
        (relative to the work folder) and whether it holds tests for them now."""
        job = self.job
        path = property_test_path(job.workdir, job.spec)
        shown = path.relative_to(job.workdir).as_posix()
        if not is_python_project(job.workdir):
            self._notice(
                "property-based tests are generated for Python projects only: the agent "
                "writes this task's property tests itself."
            )
            return None, False
        if not self.options.property_tests:
            return shown, False
        store = CheckpointStore(job.workdir)
        try:
            checkpoint = await anyio.to_thread.run_sync(
                lambda: store.create(
                    f"before property tests of task {job.task_id}", task=job.task_id, spec=job.spec
                )  # fmt: skip
            )
        except CheckpointError as error:
            self._notice(f"property tests not written: no checkpoint could be taken ({error})")
            return shown, False
        self.tally.checkpoint = checkpoint.id
        try:
            written: PropertyTests = await generate_property_tests(
                job.workdir,
                job.spec,
                model=self.options.model,
                settings=self.settings,
                properties=ids,
                spec_root=job.root,
            )
        except BudgetExceededError:
            raise
        except UserFacingError as error:
            self._notice(f"property tests not written: {error}")
            return shown, False
        self.tally.input_tokens += written.input_tokens
        self.tally.output_tokens += written.output_tokens
        self.relay.send({
            "type": "property_tests",
            "path": shown,
            "tests": [test.name for test in written.tests],
            "existing": written.existing,
            "failed": [list(item) for item in written.failed],
        })  # fmt: skip
        if written.failed:
            missing = ", ".join(prop for prop, _ in written.failed)
            self._notice(f"no test could be generated for property {missing}: the agent writes it")
        return shown, not written.failed


def _context_window(model: Model) -> int | None:
    from specloom.agent.runtime import context_window

    return context_window(model)


def _context_cap(model: Model) -> int | None:
    from specloom.agent.runtime import context_chars

    return context_chars(model)
