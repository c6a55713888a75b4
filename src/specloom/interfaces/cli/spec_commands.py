"""Offline spec commands: init, list, show, task, lint, analyze, tasks, trace, import.

May import: ``specloom.errors``, ``specloom.workspace``, ``specloom.spec``,
``specloom.interfaces.cli``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from specloom.errors import UsageError
from specloom.interfaces.cli import JsonOption, app, handles_errors
from specloom.interfaces.cli.output import (
    emit_json,
    print_findings,
    print_table,
    say,
)

if TYPE_CHECKING:  # the spec modules load inside the commands, keeping --help fast
    from specloom.spec.findings import Finding
    from specloom.spec.tasks import TasksDocument
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
def init_command(root: RootOption = None, as_json: JsonOption = False) -> None:
    """Create .kiro/ (specs, steering, hooks, settings); existing files are left alone."""
    from specloom.workspace import Workspace

    workspace = Workspace((root or Path.cwd()).resolve())
    created = workspace.init()
    if as_json:
        emit_json({"root": str(workspace.root), "created": [workspace.display(p) for p in created]})
        return
    if created:
        for folder in created:
            say(f"created {workspace.display(folder)}/")
    else:
        say(f"{workspace.display(workspace.kiro)}/ is already set up; nothing changed.")


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
    root: RootOption = None,
    as_json: JsonOption = False,
) -> None:
    """Cross-check requirements, design and tasks: gaps, dangling references, conflicts.

    Exit 0 with no error findings, 1 with any, 2 on unreadable input.
    """
    from specloom.spec.analysis import analyze_spec
    from specloom.spec.findings import exit_code_for

    findings = analyze_spec(_workspace(root).load(spec))
    _report(findings, as_json)
    raise typer.Exit(exit_code_for(findings))


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
