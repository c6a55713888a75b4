"""Attempts in the whole-file edit format, for the task executor (``task_runner``).

Models with a small window (the embedded one) get no tools: each request shows the project's
files (``task_files``) and the answer's files are written by the agent loop
(``specloom.agent.whole_files``). ``WholeFileAttempts.attempt`` makes one attempt: one
request, or two (``task_steps``): the code, then its tests written with that code in view.
No conversation is carried over between attempts: each sees the files as they are then.
When every test that failed stopped on an assertion of its own (the code ran and returned a
value the test did not expect), the retry keeps the code and asks for its tests again with
the failure in view (``tests_again``): a small model's code is right far more often than the
values its tests expect, and rewriting both would trade one for the other. A test file that
earlier tasks wrote keeps their tests when this task writes it again (``kept_tests``).

``restore_start`` puts the project back as it was before the task (the failed files are
kept in a checkpoint) when the task has its folder to itself: before a retry
(``start_over``), since a small model shown the files of its failed answer copies them back
unchanged, and when the task fails (``set_aside``), as a parallel run leaves a failed task's
worktree unmerged.

May import: the standard library, ``anyio``, ``specloom.errors``, ``specloom.spec``,
``specloom.agent`` and the sibling modules ``execution``, ``kept_tests``, ``task_files``,
``task_prompt``, ``task_steps`` and ``verify``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from specloom.agent.checkpoints import CheckpointStore
from specloom.agent.missing_imports import is_test_file
from specloom.agent.whole_files import BlockEdit, FileBlock
from specloom.errors import CheckpointError
from specloom.workflows.kept_tests import keep_earlier, keep_passing
from specloom.workflows.task_files import (
    ShownFiles,
    likely_files,
    project_files,
    request_chars,
    whole_file_request,
    with_files,
)
from specloom.workflows.task_prompt import is_property_task, paths_in
from specloom.workflows.task_steps import (
    Step,
    joined,
    scaffold_for,
    split_likely,
    step_ask,
    steps_for,
)
from specloom.workflows.verify import Verification, failed_assertions, failed_test_names

if TYPE_CHECKING:
    from pathlib import Path

    from pydantic_ai.settings import ModelSettings

    from specloom.agent.loop import AgentResult, AgentRunner
    from specloom.spec.tasks import Task
    from specloom.workflows.execution import TaskJob, TaskOutcome

__all__ = [
    "NOTHING_WRITTEN",
    "RETRY_TEMPERATURE",
    "STARTED_OVER",
    "WholeFileAttempts",
    "restore_start",
    "set_aside",
    "start_over",
]

NOTHING_WRITTEN = (
    "Your last answer wrote no file, so nothing new could be verified. Write each file you "
    "create or change in full: its path on a line of its own, then a fenced code block."
)
STARTED_OVER = (
    "Your last answer's files were set aside because the tests failed: the project is back "
    "as it was before this task. Write every file of the task again, in full, so that the "
    "failure below does not happen."
)

RETRY_TEMPERATURE = 0.8
"""Sampling temperature of a request that writes failed tests again."""

Notice = Callable[[str], None]


@dataclass
class WholeFileAttempts:
    """One task's attempts in the whole-file format.

    Attributes:
        runner: The task's agent runner (prepared with ``edit_format="whole"``).
        workdir: The folder the task works in.
        window: The model's context window in tokens, None when unknown.
        touched: The files the task names (and its property test file).
        notice: Sends a notice to the run's events.
    """

    runner: AgentRunner
    workdir: Path
    window: int | None
    touched: list[str]
    notice: Notice
    tested: list[str] = field(default_factory=list)
    """The code the last attempt's tests step wrote tests against (none: no tests step)."""
    failed_tests: dict[str, tuple[str, set[str]]] = field(default_factory=dict)
    """For a tests-only retry: each test file that failed, as it was, and the names of its
    tests that failed (the others are kept when it is written again, ``kept_tests``)."""
    found: dict[str, str] | None = None
    """The task's test files as the task found them (written by earlier tasks): their tests
    are kept when the task writes the file again (``kept_tests.keep_earlier``)."""

    def tests_again(self, verification: Verification) -> list[str]:
        """The code a retry keeps, asking only for its tests again: the code the last
        attempt's tests were written against, when every failing test stopped on an
        assertion in a test file (the code ran and returned) or had the code read an input
        file it never wrote (``verify.failed_assertions``); empty otherwise (the retry
        writes the code and its tests again)."""
        places = failed_assertions(verification.output)
        if not self.tested or places is None or not all(map(is_test_file, places)):
            return []
        if not all((self.workdir / path).is_file() for path in self.tested):
            return []
        failed = failed_test_names(verification.output)
        self.failed_tests = {}
        for place in places if failed else ():  # which failed unknown: nothing is kept
            try:
                self.failed_tests[place] = ((self.workdir / place).read_text("utf-8"), failed)
            except (OSError, UnicodeDecodeError):
                continue
        return list(self.tested)

    async def attempt(
        self,
        task: Task,
        task_text: str,
        context: Any,
        feedback: str | None,
        notes: list[str],
        *,
        tests_of: Sequence[str] = (),
    ) -> AgentResult:
        """One attempt: one request, or the code and then its tests (``task_steps``), each
        showing the project's files as they are then; with ``tests_of`` (``tests_again``),
        only the tests of that code, kept, written again."""
        workdir = self.workdir
        self.tested = []
        files = self.files(task_text, context, feedback, notes, None, self.touched)
        # A task that names no file works on those its criteria and design name.
        likely = likely_files(workdir, self.touched or paths_in(task_text), files)
        modules, tests = split_likely(likely)
        if self.found is None:
            self.found = {}
            for path in tests:
                try:
                    self.found[path] = (workdir / path).read_text("utf-8")
                except (OSError, UnicodeDecodeError):
                    continue
        if tests_of and tests:
            steps: Sequence[Step] = ("tests",)
            self.notice(f"keeping {', '.join(tests_of)}: writing its tests again")
        else:
            steps = steps_for(task, workdir, likely, property_task=is_property_task(task))
        results: list[AgentResult] = []
        code = list(tests_of) or modules
        for step in steps:
            ask = None if step == "all" else step_ask(step, likely)
            if step == "tests":
                if results:
                    # The code the first step changed, else the task's modules as they are
                    # (an answer may rewrite a module unchanged when it already does the task).
                    code = split_likely(results[-1].changed_files)[0] or [
                        path for path in modules if (workdir / path).is_file()
                    ]
                    if not code:
                        break  # no code is there: there is nothing to test yet
                    self.notice(f"writing the tests of {', '.join(code)} against its code")
                ask = step_ask(
                    step,
                    likely,
                    written=code,
                    scaffold=scaffold_for(workdir, code[0], task.requirements),
                    tests_exist=(workdir / tests[0]).is_file(),
                    failed=bool(tests_of),
                )
                # Failed tests written again are not shown (a small model copies a file it
                # is shown): the failure shows what each expected and what the code returned.
                shown, hidden = (code, tests) if tests_of else ([*code, *tests], [])
                files = self.files(task_text, context, feedback, notes, ask, shown, hidden)
                self.tested = code
            message = whole_file_request(
                task_text,
                named=files.named,
                likely=likely,
                feedback=feedback,
                notes=notes,
                ask=ask,
            )
            edit = None
            if step == "tests":
                edit = self._keeping(self.failed_tests) if tests_of else self._earlier(tests)
            result = await self._run(message, with_files(context, files), wider=bool(tests_of),
                                     edit=edit)  # fmt: skip
            results.append(result)
            if not result.completed:
                break
        return joined(results)

    async def _run(
        self, message: str, context: Any, *, wider: bool, edit: BlockEdit | None = None
    ) -> AgentResult:
        """One request; ``wider`` samples at ``RETRY_TEMPERATURE`` (tests written again: at
        a low temperature a small model answers the same prompt with the same file);
        ``edit`` changes the answer's files before they are written."""
        saved = self.runner.model_settings
        if wider:
            wider_settings: ModelSettings = {**(saved or {}), "temperature": RETRY_TEMPERATURE}
            self.runner.model_settings = wider_settings
        self.runner.answer_edit = edit
        try:
            return await self.runner.run(message, context=context)
        finally:
            self.runner.model_settings = saved
            self.runner.answer_edit = None

    @staticmethod
    def _keeping(failed_tests: dict[str, tuple[str, set[str]]]) -> BlockEdit | None:
        """The edit that keeps the tests that passed in each test file written again."""
        return _chained(
            [keep_passing(path, old, failed) for path, (old, failed) in failed_tests.items()]
        )

    def _earlier(self, tests: Sequence[str]) -> BlockEdit | None:
        """The edit that keeps, in each test file earlier tasks wrote, their tests."""
        found = self.found or {}
        edits = [keep_earlier(path, found[path]) for path in tests if path in found]
        return _chained(edits)

    def files(
        self,
        task_text: str,
        context: Any,
        feedback: str | None,
        notes: list[str],
        ask: str | None,
        first: list[str],
        leave_out: Sequence[str] = (),
    ) -> ShownFiles:
        """The project's files for a request, within what the window leaves (``leave_out``
        only named)."""
        message = whole_file_request(task_text, feedback=feedback, notes=notes, ask=ask)
        used = len(self.runner.instructions) + len(message) + len(context.render())
        budget = max(0, request_chars(self.window) - used)
        return project_files(self.workdir, first=first, budget=budget, leave_out=leave_out)


async def restore_start(job: TaskJob, first: str | None, what: str, notice: Notice) -> str | None:
    """Restore ``first`` (the checkpoint before the task's first change) when the task has
    its folder to itself; returns the checkpoint that keeps the files as they were."""
    if first is None or (job.parallel and job.workdir == job.root):
        return None
    store = CheckpointStore(job.workdir)
    try:
        kept = await anyio.to_thread.run_sync(lambda: store.restore(first))
    except CheckpointError as error:
        notice(f"{what} stay in place: {error}")
        return None
    return kept.id


async def start_over(job: TaskJob, first: str | None, attempt: int, notice: Notice) -> bool:
    """Before a retry: the project as it was before the task; whether it was restored.

    A small model shown the files of its failed answer copies them back unchanged; from the
    project as it was, with the failure to avoid, it writes the task afresh.
    """
    kept = await restore_start(job, first, f"attempt {attempt}'s files", notice)
    if kept is not None:
        notice(
            f"attempt {attempt}'s files were set aside (checkpoint {kept}); the next "
            f"attempt starts from the project as it was before the task"
        )
    return kept is not None


async def set_aside(
    job: TaskJob, first: str | None, outcome: TaskOutcome, notice: Notice
) -> TaskOutcome:
    """A failed task's files, set aside as a parallel run's unmerged worktree is: the tasks
    after it are verified without its failing code."""
    kept = await restore_start(job, first, "the failed task's files", notice)
    if kept is None:
        return outcome
    return replace(
        outcome,
        reason=f"{outcome.reason} (its files were set aside; `specloom checkpoint "
        f"restore {kept}` brings them back)",
    )


def _chained(edits: Sequence[BlockEdit]) -> BlockEdit | None:
    """One edit applying ``edits`` in turn (their notes joined), ``None`` for none."""
    if not edits:
        return None

    def edit(block: FileBlock) -> tuple[FileBlock, str]:
        notes = []
        for one in edits:
            block, note = one(block)
            notes.append(note)
        return block, " ".join(note for note in notes if note)

    return edit
