"""``specloom run <spec> <task>...`` and ``specloom run <spec> --all``: the spec's tasks,
done by the agent and verified by the project's tests.

Tasks start as soon as their own dependencies are done, up to ``--parallel`` at a time
(each in a git worktree of its own, merged back when it passes). ``tasks.md`` and
``.tasks-meta.json`` follow every change; a failed task stays ``[ ]`` with its reason and
what depends on it is skipped. A run that was stopped (Ctrl-C, a crash, a kill) continues
where it stopped when run again; nothing done is redone.

On a terminal a live task board shows each task's status, time, attempts, tokens and cost;
``--json`` prints one JSON event per line instead, the last one ``run_finished`` with the
summary. In ``supervised`` mode (the default) a terminal asks before each action the
policy does not allow on its own; without one such actions are refused.

Exit codes: 0 every requested task is done; 1 some failed or were skipped; 2 bad input
(or another run is working on the spec); 130 interrupted (tasks in progress are back to
``[ ]``).

May import: ``specloom.errors``, ``specloom.interfaces.cli`` and, inside the command,
``specloom.workflows``, ``specloom.agent``, ``specloom.llm`` and ``specloom.workspace``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from specloom.errors import UsageError
from specloom.interfaces.cli import JsonOption, app, handles_errors
from specloom.interfaces.cli.model_commands import BudgetOption, ModelOption, RootOption
from specloom.interfaces.cli.output import is_terminal, print_table, say

if TYPE_CHECKING:
    from specloom.interfaces.cli.board import TaskBoard
    from specloom.workflows.execution import RunEvent
    from specloom.workflows.scheduler import RunSummary

__all__ = ["run_command"]


@app.command("run")
@handles_errors
def run_command(
    spec: Annotated[str, typer.Argument(help="The spec whose tasks run.")],
    task_ids: Annotated[
        list[str] | None,
        typer.Argument(
            help="Task ids to run (a parent task means its sub-tasks).", show_default=False
        ),
    ] = None,
    run_all: Annotated[
        bool, typer.Option("--all", help="Every task not done yet, in dependency order.")
    ] = False,
    parallel: Annotated[
        int,
        typer.Option(
            "--parallel",
            "-p",
            min=1,
            help="Tasks at most at a time (each in a git worktree of its own).",
        ),
    ] = 1,  # fmt: skip
    mode: Annotated[
        str | None,
        typer.Option(
            "--mode",
            help="`supervised` (ask before changes; the default) or "
            "`autopilot` (approve work inside the workspace).",
        ),
    ] = None,  # fmt: skip
    model: ModelOption = None,
    budget: BudgetOption = None,
    retries: Annotated[
        int | None,
        typer.Option("--retries", min=0, help="Attempts after the first when verification fails."),
    ] = None,
    include_optional: Annotated[
        bool, typer.Option("--include-optional", help="Run optional (*) tasks too.")
    ] = False,
    root: RootOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a spec's tasks: each is done by the agent, verified by the tests, and marked done
    in tasks.md; independent tasks run side by side with --parallel."""
    import asyncio

    from specloom.llm.session import open_model_session
    from specloom.workflows.scheduler import plan_run, run_tasks
    from specloom.workflows.task_runner import make_executor
    from specloom.workspace import find_root

    if run_all and task_ids:
        raise UsageError(
            "give task ids or --all, not both.",
            hint=f"Run `specloom run {spec} --all`, or name the tasks.",
        )
    if not run_all and not task_ids:
        raise UsageError(
            "name the tasks to run, or use --all.",
            hint=f"For example `specloom run {spec} 1.1 1.2`, or `specloom run {spec} --all`.",
        )
    project = find_root(root)
    chosen = None if run_all else list(task_ids or [])
    # A bad spec or task id is reported before any model is resolved.
    plan_run(project, spec, chosen, include_optional=include_optional)
    session = open_model_session(
        command=f"run {spec}", model=model, kind="code", budget=budget, root=project, spec=spec
    )
    interactive = not as_json and is_terminal(sys.stdin) and is_terminal(sys.stdout)
    board = None if as_json else _board()
    options: dict[str, Any] = {
        "model": session.model,
        "settings": session.settings,
        "retries": retries,
        "recorder": session.recorder,
    }
    if mode is not None:
        options["mode"] = mode
    if interactive and board is not None:
        options["ask"], options["ask_tool"] = _terminal_prompts(board)
    executor = make_executor(**options)
    emit = _print_event if as_json else board
    try:
        if board is not None:
            board.start()
        try:
            summary = asyncio.run(
                run_tasks(project, spec, chosen, executor=executor, parallel=parallel,
                          include_optional=include_optional, emit=emit)
            )  # fmt: skip
        finally:
            if board is not None:
                board.stop()
    except KeyboardInterrupt:
        if not as_json:
            say("\ninterrupted: tasks in progress are back to not started and their partial "
                "work is kept; run the same command again to continue.")  # fmt: skip
        raise typer.Exit(130) from None
    if board is not None:
        _print_summary(summary, session.spent(), shown=board.notes)
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)


def _board() -> TaskBoard:
    from specloom.interfaces.cli.board import TaskBoard

    return TaskBoard(live=is_terminal())


def _print_event(event: RunEvent) -> None:
    sys.stdout.write(json.dumps(event.to_dict(), ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def _terminal_prompts(board: TaskBoard) -> tuple[Any, Any]:
    """Approval prompts that take the board off the screen while the user answers, one
    question at a time even when tasks run side by side."""
    import asyncio

    from specloom.interfaces.cli.agent_commands import (
        _ask_on_terminal,  # pyright: ignore[reportPrivateUsage]
        _ask_tool_on_terminal,  # pyright: ignore[reportPrivateUsage]
    )

    turn = asyncio.Lock()

    async def ask(request: Any, decision: Any) -> Any:
        async with turn:
            with board.paused():
                return await _ask_on_terminal(request, decision)

    async def ask_tool(server: str, tool: str, arguments: Mapping[str, object],
                       decision: Any) -> Any:  # fmt: skip
        async with turn:
            with board.paused():
                return await _ask_tool_on_terminal(server, tool, arguments, decision)

    return ask, ask_tool


def _print_summary(
    summary: RunSummary, spent: Mapping[str, float], *, shown: Sequence[str] = ()
) -> None:
    """The run's end: a table when the live board did not show one, how to undo each task,
    where kept work is, notes not shown yet, and the totals."""
    names = {"already_done": "already done", "not_run": "not run"}
    rows = []
    for result in summary.results:
        detail = ", ".join(result.changed_files) if result.status == "done" else result.reason
        rows.append([result.task_id, names.get(result.status, result.status),
                     f"{result.elapsed_s:.1f} s" if result.elapsed_s else "",
                     result.attempts or "", detail])  # fmt: skip
    if not is_terminal():  # the live board already showed this table
        print_table(None, ["task", "result", "time", "attempts", "detail"], rows)
    for result in summary.results:
        if result.status == "done" and result.checkpoint:
            say(f"{result.task_id}: undo with `specloom checkpoint restore {result.checkpoint}`")
        if result.patch:
            say(f"{result.task_id}: its work is saved in {result.patch}")
    for note in summary.notes:
        if note not in shown:
            say(f"note: {note}")
    counts = [
        f"{summary.count(status)} {names.get(status, status)}"
        for status in ("done", "already_done", "failed", "skipped", "not_run")
        if summary.count(status)
    ]
    totals = summary.totals()
    cost = f", ${spent['cost_usd']:.4f}" if spent.get("cost_usd") else ""
    say(
        f"{', '.join(counts) or 'nothing to run'} in {summary.elapsed_s:.1f} s; "
        f"{totals['input_tokens']:,} tokens in, {totals['output_tokens']:,} out{cost}"
    )
