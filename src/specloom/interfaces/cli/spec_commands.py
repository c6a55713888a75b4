"""Offline spec commands: init, list, show, task, lint, analyze, tasks, trace, import.

``init --steering`` and ``analyze --llm`` use a model: ``specloom.llm`` and
``specloom.workflows`` load inside those branches only, so the offline commands start fast.

May import: ``specloom.errors``, ``specloom.workspace``, ``specloom.spec``,
``specloom.interfaces.cli`` and, inside the commands that use a model, ``specloom.llm`` and
``specloom.workflows``.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from specloom.errors import UsageError
from specloom.interfaces.cli import JsonOption, app, handles_errors
from specloom.interfaces.cli.model_commands import BudgetOption, ModelOption
from specloom.interfaces.cli.output import (
    emit_json,
    is_terminal,
    print_findings,
    print_table,
    say,
)

if TYPE_CHECKING:  # the spec modules load inside the commands, keeping --help fast
    from specloom.spec.findings import Finding
    from specloom.spec.tasks import TasksDocument
    from specloom.workflows.review import Decision, Review, Rewrite
    from specloom.workspace import Workspace

RootOption = Annotated[
    Path | None,
    typer.Option("--root", help="Project root (default: found from the current folder)."),
]


class StatusChoice(StrEnum):
    """Values of ``specloom task --status``."""

    todo = "todo"
    in_progress = "in_progress"
    done = "done"
    queued = "queued"


class GraphFormat(StrEnum):
    """Values of ``specloom tasks --graph``."""

    mermaid = "mermaid"
    json = "json"


class ImportFormat(StrEnum):
    """Formats ``specloom import`` reads."""

    speckit = "speckit"
    openspec = "openspec"


def _workspace(root: Path | None) -> Workspace:
    from specloom.workspace import Workspace

    return Workspace(root.resolve()) if root is not None else Workspace.discover()


@app.command("init")
@handles_errors
def init_command(
    root: RootOption = None,
    steering: Annotated[
        bool,
        typer.Option(
            "--steering",
            help="Also write the foundation steering files (product.md, tech.md, "
            "structure.md) from the repository, with a model.",
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="With --steering: replace steering files that exist.")
    ] = False,
    model: ModelOption = None,
    budget: BudgetOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create .kiro/ (specs, steering, hooks, settings); existing files are left alone.

    With --steering, a model also writes .kiro/steering/product.md, tech.md, structure.md.

    It writes them from the README, manifests, languages, folders and test command.

    A steering file that exists is only replaced with --force.
    """
    from specloom.workspace import Workspace

    if force and not steering:
        raise UsageError("--force only applies to --steering.", hint="Add --steering.")
    workspace = Workspace((root or Path.cwd()).resolve())
    created = workspace.init()
    data: dict[str, object] = {
        "root": str(workspace.root),
        "created": [workspace.display(p) for p in created],
    }
    if not as_json:
        if created:
            for folder in created:
                say(f"created {workspace.display(folder)}/")
        elif not steering:
            say(f"{workspace.display(workspace.kiro)}/ is already set up; nothing changed.")
    if steering:
        data["steering"] = _write_steering(workspace, force, model, budget, as_json)
    if as_json:
        emit_json(data)


def _write_steering(
    workspace: Workspace, force: bool, model: str | None, budget: str | None, as_json: bool
) -> dict[str, object]:
    import anyio

    from specloom.workflows.steering_foundation import (
        foundation_targets,
        write_foundation_steering,
    )

    targets, skipped = foundation_targets(workspace.root, force=force)
    written: list[str] = []
    facts: dict[str, object] | None = None
    spent: dict[str, float] = {}
    if targets:
        from specloom.llm.session import open_model_session

        session = open_model_session(
            command="init --steering", model=model, kind="spec", budget=budget,
            root=workspace.root,
        )  # fmt: skip
        result = anyio.run(
            lambda: write_foundation_steering(
                workspace.root,
                model=session.model,
                settings=session.settings,
                force=force,
                on_progress=None if as_json else say,
            )
        )
        written = [workspace.display(path) for path in result.written]
        skipped = result.skipped
        facts = result.facts.to_dict() if result.facts is not None else None
        spent = session.spent()
    shown_skipped = [workspace.display(path) for path in skipped]
    if not as_json:
        for path in written:
            say(f"wrote {path}")
        for path in shown_skipped:
            say(f"skipped {path}: it exists (use --force to replace it)")
        if facts is not None:
            command = facts.get("test_command")
            say(f"test command: {command}" if command else
                "no test command found: set `verify.command` in .kiro/settings/specloom.json "
                "or write a `Test command: `...`` line in .kiro/steering/tech.md")  # fmt: skip
    return {"written": written, "skipped": shown_skipped, "facts": facts, "spent": spent}


@app.command("list")
@handles_errors
def list_command(root: RootOption = None, as_json: JsonOption = False) -> None:
    """List the specs with their type, phase and progress."""
    workspace = _workspace(root)
    rows: list[dict[str, object]] = []
    for name in workspace.spec_names():
        spec = workspace.load(name)
        done, total = spec.progress()
        rows.append({"name": name, "type": spec.type, "phase": spec.phase(),
                     "done": done, "total": total})  # fmt: skip
    if as_json:
        emit_json(rows)
        return
    if not rows:
        say('No specs yet. Create one with `specloom new "<request>"`.')
        return
    print_table(
        None,
        ["spec", "type", "phase", "progress"],
        [[r["name"], r["type"], r["phase"], f"{r['done']}/{r['total']}"] for r in rows],
    )


@app.command("show")
@handles_errors
def show_command(
    spec: Annotated[str, typer.Argument(help="Spec name (folder under .kiro/specs/).")],
    root: RootOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a spec's requirements, tasks and properties."""
    from specloom.spec.ears import classify

    loaded = _workspace(root).load(spec)
    if as_json:
        emit_json(loaded.to_dict())
        return
    done, total = loaded.progress()
    say(f"{loaded.name}  ({loaded.type}, phase: {loaded.phase()}, {done}/{total} tasks done)")
    for requirement in loaded.requirement_list():
        say()
        say(f"Requirement {requirement.id}: {requirement.title}".rstrip(": "))
        if requirement.user_story:
            say(f"  {requirement.user_story}")
        for criterion in requirement.criteria:
            pattern = classify(criterion.text).pattern.value
            say(f"  {criterion.id:>6} [{pattern}] {criterion.text}")
    if loaded.tasks is not None:
        statuses = loaded.statuses()
        say()
        print_table(
            "Tasks",
            ["id", "status", "title", "cites"],
            [
                [t.id, statuses[t.id].value, t.title, ", ".join(t.cited())]
                for t in loaded.tasks.tasks
            ],
        )


@app.command("task")
@handles_errors
def task_command(
    spec: Annotated[str, typer.Argument(help="Spec name.")],
    task_id: Annotated[str, typer.Argument(metavar="ID", help="Task id, e.g. 2.1.")],
    status: Annotated[StatusChoice, typer.Option("--status", help="The new status.")],
    root: RootOption = None,
    as_json: JsonOption = False,
) -> None:
    """Set one task's status: edits that one checkbox (and .tasks-meta.json if present)."""
    from specloom.spec.tasks import Status

    workspace = _workspace(root)
    before = workspace.load(spec).statuses()
    after = workspace.set_task_status(spec, task_id, Status(status.value)).statuses()
    if as_json:
        emit_json({"spec": spec, "task": task_id, "before": before[task_id].value,
                   "status": after[task_id].value})  # fmt: skip
        return
    say(f"task {task_id}: {before[task_id].value} -> {after[task_id].value}")


@app.command("lint")
@handles_errors
def lint_command(
    spec: Annotated[str | None, typer.Argument(help="Spec name (default: every spec).")] = None,
    root: RootOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check acceptance criteria: EARS form, ambiguity, placeholders, duplicates.

    Exit 0 with no error findings, 1 with any, 2 on unreadable input.
    """
    from specloom.spec.findings import exit_code_for
    from specloom.spec.lint import lint_criteria

    workspace = _workspace(root)
    names = [spec] if spec else workspace.spec_names()
    findings: list[Finding] = []
    for name in names:
        loaded = workspace.load(name)
        findings.extend(lint_criteria(loaded.criteria(), loaded.requirements_path()))
    _report(findings, as_json)
    raise typer.Exit(exit_code_for(findings))


@app.command("analyze")
@handles_errors
def analyze_command(
    spec: Annotated[str, typer.Argument(help="Spec name.")],
    llm: Annotated[
        bool,
        typer.Option(
            "--llm",
            help="Also ask a model for inconsistencies, ambiguities, gaps and conflicts, "
            "each with a suggested rewrite of its line.",
        ),
    ] = False,
    fix: Annotated[
        bool,
        typer.Option("--fix", help="With --llm: apply the rewrites you accept, one by one."),
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="With --fix: accept every rewrite without asking.")
    ] = False,
    model: ModelOption = None,
    budget: BudgetOption = None,
    root: RootOption = None,
    as_json: JsonOption = False,
) -> None:
    """Cross-check requirements, design and tasks: gaps, dangling references, conflicts.

    Exit 0 with no error findings, 1 with any, 2 on unreadable input.

    With --llm, a model reviews the spec too; its findings are warnings (never exit 1).
    """
    from specloom.spec.analysis import analyze_spec
    from specloom.spec.findings import exit_code_for

    if (fix or yes or model or budget) and not llm:
        raise UsageError(
            "--fix, --yes, --model and --budget apply to the model review.",
            hint="Add --llm (the rewrites come from the model's review).",
        )
    if yes and not fix:
        raise UsageError("--yes only applies to --fix.", hint="Add --fix.")
    if not llm:
        findings = analyze_spec(_workspace(root).load(spec))
        _report(findings, as_json)
        raise typer.Exit(exit_code_for(findings))
    interactive = not as_json and is_terminal(sys.stdin) and is_terminal(sys.stdout)
    if fix and not yes and not interactive:
        raise UsageError(
            "--fix asks about each rewrite, and nobody can answer here (no terminal, or --json).",
            hint="Add --yes to accept every rewrite, or run it in a terminal.",
        )
    review, fixed, spent = _review(_workspace(root), spec, model, budget, fix, yes, as_json)
    if as_json:
        emit_json(
            {
                "spec": review.spec,
                "findings": [
                    finding.to_dict() | {"source": review.source_of(finding)}
                    for finding in review.findings
                ],
                "rewrites": [rewrite.to_dict() for rewrite in review.rewrites],
                "model": {
                    "findings": len(review.model_findings),
                    "repeats": review.repeats,
                    "dropped": review.dropped,
                    "moved": review.moved,
                    "bad_rewrites": review.bad_rewrites,
                    "repairs": review.repairs,
                    "requests": review.requests,
                    "input_tokens": review.input_tokens,
                    "output_tokens": review.output_tokens,
                },
                "fix": fixed,
                "spent": spent,
            }
        )
    raise typer.Exit(exit_code_for(review.findings))


def _review(
    workspace: Workspace,
    spec: str,
    model: str | None,
    budget: str | None,
    fix: bool,
    yes: bool,
    as_json: bool,
) -> tuple[Review, dict[str, object] | None, dict[str, float]]:
    """Run the model review (printing it as text unless ``--json``) and ``--fix``."""
    import anyio

    from specloom.llm.session import open_model_session
    from specloom.workflows.review import apply_rewrites, review_spec

    workspace.load(spec)  # a missing or broken spec is reported before any model is resolved
    session = open_model_session(
        command="analyze", model=model, kind="spec", budget=budget, root=workspace.root,
        spec=spec,
    )  # fmt: skip
    review = anyio.run(lambda: review_spec(workspace, spec, model=session.model))
    if not as_json:
        print_findings(review.findings)
        extra = (f", {review.moved} moved off a blank line" if review.moved else "") + (
            f", {review.bad_rewrites} unusable rewrite(s) left out" if review.bad_rewrites else ""
        )
        say(
            f"model review: {len(review.model_findings)} finding(s) added, {review.repeats} "
            f"repeating a rule finding, {review.dropped} dropped (no such line){extra}; "
            f"{review.input_tokens} tokens in, {review.output_tokens} out"
        )
    fixed: dict[str, object] | None = None
    if fix:
        if not review.rewrites:
            if not as_json:
                say("no rewrites to apply.")
            fixed = {"applied": [], "declined": [], "refused": [], "files": []}
        else:
            decide = (lambda rewrite: "all") if yes else _ask_rewrite
            report = apply_rewrites(workspace, spec, review.rewrites, decide)
            fixed = report.to_dict()
            if not as_json:
                for rewrite in report.applied:
                    say(f"applied {rewrite.display}:{rewrite.line}")
                for rewrite, reason in report.refused:
                    say(f"refused {rewrite.display}:{rewrite.line}: {reason}")
                say(f"{len(report.applied)} applied, {len(report.declined)} declined, "
                    f"{len(report.refused)} refused")  # fmt: skip
    return review, fixed, session.spent()


def _ask_rewrite(rewrite: Rewrite) -> Decision:
    """Show one rewrite (old line, new line) and ask whether to apply it."""
    finding = rewrite.finding
    say()
    say(f"{rewrite.display}:{rewrite.line}: {finding.rule} {finding.message}")
    say(f"  - {rewrite.old}")
    for line in rewrite.new.split("\n"):
        say(f"  + {line}")
    answers: dict[str, Decision] = {"y": "yes", "n": "no", "a": "all", "q": "quit"}
    while True:
        reply = typer.prompt(
            "Apply? [y]es, [n]o, [a]ll the rest, [q]uit", default="n", show_default=False
        )
        decision = answers.get(reply.strip().lower()[:1])
        if decision is not None:
            return decision


def _report(findings: list[Finding], as_json: bool) -> None:
    if as_json:
        emit_json([finding.to_dict() for finding in findings])
    else:
        print_findings(findings)


@app.command("tasks")
@handles_errors
def tasks_command(
    spec: Annotated[str, typer.Argument(help="Spec name.")],
    waves: Annotated[bool, typer.Option("--waves", help="Group tasks by wave.")] = False,
    critical_path: Annotated[
        bool, typer.Option("--critical-path", help="Show the longest dependency chain.")
    ] = False,
    graph: Annotated[
        GraphFormat | None, typer.Option("--graph", help="Print the graph as mermaid or json.")
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Workers for the simulated schedule.")
    ] = 4,
    root: RootOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the task list, its waves, critical path or dependency graph."""
    loaded = _workspace(root).load(spec)
    task_graph = loaded.graph()
    if loaded.tasks is None or task_graph is None:
        raise UsageError(
            "this spec has no tasks.md yet.",
            file=loaded.file("tasks.md"),
            hint="Approve the design to generate tasks, or write tasks.md.",
        )
    task_graph.check()
    statuses = loaded.statuses()
    if graph is GraphFormat.mermaid:
        typer.echo(task_graph.to_mermaid(), nl=False)
        return
    if graph is GraphFormat.json or as_json:
        data = task_graph.to_json()
        schedule = task_graph.schedule(workers)
        data["schedule"] = {"workers": workers, "makespan": schedule.makespan}
        data["tasks"] = [
            {"id": t.id, "title": t.title, "status": statuses[t.id].value, "parent": t.parent,
             "optional": t.optional, "depends_on": task_graph.dependencies(t.id)
             if t.is_leaf else list(t.depends_on)}
            for t in loaded.tasks.tasks
        ]  # fmt: skip
        emit_json(data)
        return
    titles = {t.id: t.title for t in loaded.tasks.tasks}
    if waves:
        for index, wave in enumerate(task_graph.waves()):
            print_table(f"Wave {index}", ["id", "status", "title"],
                        [[leaf, statuses[leaf].value, titles[leaf]] for leaf in wave])  # fmt: skip
    if critical_path:
        path, length = task_graph.critical_path()
        say(f"critical path ({len(path)} tasks, length {length:g}): " + " -> ".join(path))
        schedule = task_graph.schedule(workers)
        say(f"with {workers} workers: makespan {schedule.makespan:g} "
            f"(bound {length:g}, dependencies from {task_graph.source})")  # fmt: skip
    if not waves and not critical_path:
        print_table(
            None,
            ["id", "status", "title", "depends on"],
            [[("  " * _depth(t.id, loaded.tasks)) + t.id + ("*" if t.optional else ""),
              statuses[t.id].value, t.title,
              ", ".join(task_graph.dependencies(t.id)) if t.is_leaf else ""]
             for t in loaded.tasks.tasks],
        )  # fmt: skip


def _depth(task_id: str, tasks: TasksDocument) -> int:
    depth = 0
    task = tasks.get(task_id)
    while task is not None and task.parent is not None:
        depth += 1
        task = tasks.get(task.parent)
    return depth


@app.command("trace")
@handles_errors
def trace_command(
    spec: Annotated[str, typer.Argument(help="Spec name.")],
    root: RootOption = None,
    as_json: JsonOption = False,
) -> None:
    """Traceability matrix (criterion -> tasks -> tests -> code) and coverage."""
    from specloom.spec.trace import build_trace

    workspace = _workspace(root)
    loaded = workspace.load(spec)
    files = workspace.project_files()
    matrix = build_trace(loaded, workspace.test_files(files), set(files))
    if as_json:
        emit_json(matrix.to_dict())
        return
    print_table(
        f"Traceability: {loaded.name}",
        ["criterion", "tasks", "tests", "code"],
        [[row.criterion, ", ".join(row.tasks) or "-", len(row.tests) or "-",
          ", ".join(row.code) or "-"] for row in matrix.rows],
    )  # fmt: skip
    coverage = matrix.coverage()
    say(
        f"coverage: {coverage['criteria']} criteria; tasks {coverage['tasks_percent']}%, "
        f"done {coverage['done_percent']}%, tests {coverage['tests_percent']}%, "
        f"code {coverage['code_percent']}%"
    )


@app.command("import")
@handles_errors
def import_command(
    kind: Annotated[ImportFormat, typer.Argument(help="speckit or openspec.")],
    path: Annotated[Path, typer.Argument(help="The spec-kit feature folder or OpenSpec change.")],
    name: Annotated[str | None, typer.Option("--name", help="Name of the new spec.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing spec.")] = False,
    root: RootOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import a GitHub spec-kit feature or an OpenSpec change as a .kiro/specs/ spec."""
    from specloom.workspace import Workspace, import_folder

    workspace = Workspace((root or Path.cwd()).resolve())
    result = import_folder(workspace, kind.value, path, name=name, force=force)
    if as_json:
        emit_json(result.to_dict())
        return
    say(f"imported {result.spec} into {result.folder}: {', '.join(result.files)}")
    for warning in result.warnings:
        say(f"warning: {warning}")
