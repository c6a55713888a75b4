"""``specloom hooks ...`` and ``specloom watch``: agent hooks from the command line.

* ``hooks list``: every hook in ``.kiro/hooks/`` (both formats), and the files that do not
  load (exit 1 when there are any, so CI can check them).
* ``hooks run <name> [--file PATH]``: run one hook now, as its event would.
* ``hooks enable|disable <name>``: change only the hook's ``enabled`` value in its file.
* ``hooks new "<description>"``: a model writes the hook file; it is validated, shown, and
  saved after a yes (``--yes`` saves without asking).
* ``hooks add <template>`` / ``hooks add --list``: ready-made hooks.
* ``hooks scan-secrets``: the secret scanner the ``secret-scan`` hooks run.
* ``watch``: the file-event loop in the foreground, one line per hook run (``--json``: one
  JSON object per line); Ctrl-C or ``SIGTERM`` stops it (exit 0).

Commands hooks run go through the agent's policy: on a terminal, what the policy leaves to
the user is asked; elsewhere it is refused (trusted patterns in ``agent.trusted_commands``,
``--mode autopilot`` with the sandbox, or ``hooks add --trust`` let them run unattended).

May import: ``specloom.errors``, ``specloom.interfaces.cli`` and, inside the commands,
``specloom.hooks``, ``specloom.agent``, ``specloom.llm``, ``specloom.settings`` and
``specloom.workspace``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from specloom.interfaces.cli import JsonOption, app, handles_errors
from specloom.interfaces.cli.model_commands import ModelOption, RootOption
from specloom.interfaces.cli.output import emit_json, is_terminal, print_table, say

if TYPE_CHECKING:
    from specloom.agent.policy import Answer, Decision
    from specloom.agent.tool_env import ApprovalRequest
    from specloom.errors import SettingsError
    from specloom.hooks.bus import HookBus
    from specloom.hooks.model import Hook, HookEvent, HookRun

__all__ = ["hooks_app", "watch_command"]

hooks_app = typer.Typer(
    help="Agent hooks: automations that run a command or ask the agent when files change "
    "or the agent acts (.kiro/hooks/).",
    no_args_is_help=True,
)
app.add_typer(hooks_app, name="hooks")

ModeOption = Annotated[
    str | None,
    typer.Option(
        "--mode",
        help="`supervised` (ask before commands the policy does not allow; the default) or "
        "`autopilot` (commands run in the sandbox; destructive ones are still asked).",
    ),
]


def _project(root: Path | None) -> Path:
    from specloom.errors import WorkspaceError
    from specloom.workspace import find_root

    if root is not None:
        if not root.is_dir():
            raise WorkspaceError(
                f"{root} is not a folder.",
                file=str(root),
                hint="Pass the project's root folder with --root.",
            )
        return root.resolve()
    try:
        return find_root()
    except WorkspaceError:
        return Path.cwd().resolve()


def _interactive(as_json: bool) -> bool:
    return not as_json and is_terminal(sys.stdin) and is_terminal(sys.stdout)


# --- list -------------------------------------------------------------------------------------


@hooks_app.command("list")
@handles_errors
def list_command(root: RootOption = None, as_json: JsonOption = False) -> None:
    """Every hook with its event, what it watches and what it does; files that do not load
    are reported (exit 1)."""
    from specloom.hooks.loader import load_hooks

    project = _project(root)
    found = load_hooks(project)
    if as_json:
        emit_json(
            {
                "hooks": [hook.to_dict() for hook in found.hooks],
                "problems": [problem.to_dict() for problem in found.problems],
            }
        )
    elif found.hooks:
        print_table(
            None,
            ["hook", "event", "watches", "action", "enabled", "file"],
            [
                [
                    hook.id,
                    hook.event.value,
                    hook.describe_trigger(),
                    _action_text(hook),
                    "yes" if hook.enabled else "no",
                    _shown(project, hook.source),
                ]
                for hook in found.hooks
            ],
        )
    else:
        say("No hooks (add one with `specloom hooks add --list` or `specloom hooks new`).")
    for problem in found.problems:
        sys.stderr.write(f"error: {problem.render()}\n")
    if found.problems:
        raise typer.Exit(1)


def _shown(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _action_text(hook: Hook) -> str:
    text = hook.action.command if hook.action.kind == "runCommand" else hook.action.prompt
    text = " ".join(text.split())
    text = text if len(text) <= 50 else text[:49] + "…"
    return f"{hook.action.kind}: {text}"


# --- enable / disable -------------------------------------------------------------------------


def _toggle(name: str, root: Path | None, enabled: bool, as_json: bool) -> None:
    from specloom.hooks.editing import set_enabled
    from specloom.hooks.loader import find_hook, load_hooks

    project = _project(root)
    hook = find_hook(load_hooks(project).hooks, name)
    changed = set_enabled(hook, enabled)
    state = "enabled" if enabled else "disabled"
    if as_json:
        emit_json(
            {"hook": hook.id, "enabled": enabled, "changed": changed, "file": str(hook.source)}
        )
    elif changed:
        say(f"{hook.id}: {state} ({_shown(project, hook.source)})")
    else:
        say(f"{hook.id}: already {state}")


@hooks_app.command("enable")
@handles_errors
def enable_command(
    name: Annotated[str, typer.Argument(help="The hook (its file name or its name).")],
    root: RootOption = None,
    as_json: JsonOption = False,
) -> None:
    """Turn a hook on (only its `enabled` value in the file changes)."""
    _toggle(name, root, True, as_json)


@hooks_app.command("disable")
@handles_errors
def disable_command(
    name: Annotated[str, typer.Argument(help="The hook (its file name or its name).")],
    root: RootOption = None,
    as_json: JsonOption = False,
) -> None:
    """Turn a hook off (only its `enabled` value in the file changes)."""
    _toggle(name, root, False, as_json)


# --- run --------------------------------------------------------------------------------------


def _bus(
    project: Path, *, model: str | None, mode: str | None, interactive: bool, **extra: Any
) -> HookBus:
    from specloom.hooks.bus import HookBus

    asker = _TerminalAsker() if interactive else None
    return HookBus.load(
        project,
        model_name=model,
        mode=mode,
        ask=asker.ask if asker else None,
        confirm=asker.confirm if asker else None,
        **extra,
    )


@hooks_app.command("run")
@handles_errors
def run_command(
    name: Annotated[str, typer.Argument(help="The hook (its file name or its name).")],
    file: Annotated[
        list[Path] | None,
        typer.Option("--file", "-f", help="The file the event is about (repeatable)."),
    ] = None,
    model: ModelOption = None,
    mode: ModeOption = None,
    root: RootOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run one hook now, as its event would (disabled hooks too). Exit 1 when it fails or
    blocks."""
    import anyio

    from specloom.errors import UsageError
    from specloom.hooks.loader import find_hook, load_hooks
    from specloom.hooks.model import HookEvent

    project = _project(root)
    hook = find_hook(load_hooks(project).hooks, name)
    files: list[str] = []
    for path in file or []:
        absolute = path if path.is_absolute() else Path.cwd() / path
        if not path.is_absolute() and not absolute.resolve().is_relative_to(project):
            absolute = project / path  # relative to the project when not below the cwd's
        try:
            files.append(absolute.resolve().relative_to(project).as_posix())
        except ValueError:
            raise UsageError(
                f"{path} is outside the project {project}.", hint="Name a file inside the project."
            ) from None
    bus = _bus(project, model=model, mode=mode, interactive=_interactive(as_json))
    event = HookEvent(hook.event, project, session_id=bus.session_id, files=tuple(files))
    try:
        outcome = anyio.run(lambda: bus.run_hook(hook, event, tuple(files), ask_agent="run"))
    finally:
        bus.close()
    run = outcome.runs[0]
    if as_json:
        emit_json(
            {
                **run.to_dict(),
                "blocked": outcome.blocked,
                "reason": outcome.reason,
                "context": outcome.context,
            }
        )
    else:
        say(_run_line(run))
        for stream in (run.output, run.errors):
            for line in stream.rstrip().splitlines():
                say(f"  {line}")
        if outcome.blocked:
            say(f"blocked: {outcome.reason}")
    if not run.ok:
        raise typer.Exit(1)


def _run_line(run: HookRun, *, stamp: bool = False) -> str:
    files = list(run.files)
    about = ""
    if files:
        about = " " + ", ".join(files[:3]) + (f" (+{len(files) - 3})" if len(files) > 3 else "")
    code = f"exit {run.exit_code}, " if run.exit_code is not None else ""
    head = f"{run.event.value}{about} -> {run.hook} ({run.action}): {run.outcome}"
    line = f"{head} ({code}{run.duration_s:.2f} s)"
    if not run.ok:
        from specloom.hooks.model import first_line

        why = first_line(run.errors) or first_line(run.output) or run.detail
        if why:
            line += f": {why}"
    if stamp:
        line = time.strftime("%H:%M:%S ", time.localtime(run.started_at or time.time())) + line
    return line


class _TerminalAsker:
    """Asks the user on the terminal, one question at a time (hooks run concurrently)."""

    def __init__(self) -> None:
        import anyio

        self.lock = anyio.Lock()

    async def ask(self, request: ApprovalRequest, decision: Decision) -> Answer:
        import anyio.to_thread

        from specloom.agent.policy import Answer

        lines = [f"\n{request.summary}", *(f"  - {reason}" for reason in decision.reasons)]

        def read() -> Answer:
            say("\n".join(lines))
            while True:
                reply = (
                    typer.prompt(
                        "Allow? [y]es once, [p]attern: yes for commands like it, [n]o", default="n"
                    )
                    .strip()
                    .lower()[:1]
                )
                if reply == "y":
                    return Answer("once")
                if reply == "p" and request.command:
                    pattern = typer.prompt("Pattern (a glob)", default=request.command)
                    return Answer("pattern", pattern.strip())
                if reply == "n":
                    return Answer("deny")

        async with self.lock:
            return await anyio.to_thread.run_sync(read)

    async def confirm(self, hook: Hook, event: HookEvent) -> bool:
        import anyio.to_thread

        def read() -> bool:
            return typer.confirm(f"Run the hook {hook.name!r} ({event.kind})?", default=False)

        async with self.lock:
            return await anyio.to_thread.run_sync(read)


# --- new --------------------------------------------------------------------------------------


@hooks_app.command("new")
@handles_errors
def new_command(
    description: Annotated[str, typer.Argument(help="What the hook should do, in a sentence.")],
    model: ModelOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Save without asking.")] = False,
    root: RootOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write a hook file from a plain sentence (a model drafts it; it is validated before it
    is saved)."""
    import anyio

    from specloom.errors import UsageError
    from specloom.hooks.authoring import draft_hook, save_draft
    from specloom.llm.session import open_model_session

    if not description.strip():
        raise UsageError(
            "the description is empty.",
            hint='Say what the hook should do: specloom hooks new "lint python files on save".',
        )
    project = _project(root)
    if not yes and not _interactive(as_json):
        raise UsageError(
            "nobody can confirm the new hook here.",
            hint="Pass --yes to save it without asking, or run the command in a terminal.",
        )
    session = open_model_session(command="hooks new", model=model, kind="hook", root=project)
    drafted = anyio.run(lambda: draft_hook(description, model=session.model, root=project))
    target = project / ".kiro" / "hooks" / f"{drafted.stem}.kiro.hook"
    if not yes:
        say(f"{_shown(project, target)}:")
        say(drafted.text.rstrip())
        if not typer.confirm("Save this hook?", default=True):
            say("Not saved.")
            raise typer.Exit(1)
    path = save_draft(project, drafted)
    if as_json:
        emit_json({"file": str(path), "hook": drafted.hook.to_dict(), "repairs": drafted.repairs})
    else:
        say(
            f"saved {_shown(project, path)}: {drafted.hook.event.value} -> "
            f"{_action_text(drafted.hook)}"
        )


# --- add --------------------------------------------------------------------------------------


@hooks_app.command("add")
@handles_errors
def add_command(
    template: Annotated[
        str | None, typer.Argument(help="The template (see --list).", show_default=False)
    ] = None,
    list_templates: Annotated[
        bool, typer.Option("--list", help="Show the ready-made hooks.")
    ] = False,
    trust: Annotated[
        bool,
        typer.Option(
            "--trust",
            help="Also add its command to agent.trusted_commands in the project settings, so "
            "it runs without asking.",
        ),
    ] = False,
    root: RootOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a ready-made hook: secret-scan, secret-scan-commit, tests-on-save, readme-sync,
    lint-on-save."""
    from specloom.errors import UsageError
    from specloom.hooks.loader import read_hook_file
    from specloom.hooks.templates import TEMPLATES, add_template

    if list_templates or template is None:
        if template is None and not list_templates:
            raise UsageError(
                "name a template to add.", hint="`specloom hooks add --list` shows them."
            )
        if as_json:
            emit_json(
                [
                    {"template": t.id, "name": t.title, "description": t.description}
                    for t in TEMPLATES.values()
                ]
            )
            return
        print_table(
            None, ["template", "what it does"], [[t.id, t.description] for t in TEMPLATES.values()]
        )
        return
    project = _project(root)
    path = add_template(template, project, trust=trust)
    hooks, _ = read_hook_file(path)
    if as_json:
        emit_json(
            {"file": str(path), "hook": hooks[0].to_dict() if hooks else None, "trusted": trust}
        )
        return
    say(f"added {_shown(project, path)}")
    if hooks and hooks[0].action.kind == "runCommand" and not trust:
        say(
            "Its command runs under the agent's policy: on a terminal you are asked first; "
            "elsewhere add it to agent.trusted_commands (or use --trust)."
        )


@hooks_app.command(
    "scan-secrets", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def scan_secrets_command(ctx: typer.Context) -> None:
    """Scan files (default: the hook event's) or staged changes for secrets; exit 2 when one
    is found. Options: FILES..., --staged, --on-commit."""
    from specloom.hooks.secrets import main

    raise typer.Exit(main(list(ctx.args)))


# --- watch ------------------------------------------------------------------------------------


class _Reporter:
    """Prints what the watch loop does: text lines, or one JSON object per line."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def _out(self, data: dict[str, Any], text: str, *, error: bool = False) -> None:
        if self.as_json:
            sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
            sys.stdout.flush()
            return
        stream = sys.stderr if error else sys.stdout
        stream.write(text + "\n")
        stream.flush()

    def ready(self, root: Path, hooks: list[Hook]) -> None:
        names = ", ".join(hook.id for hook in hooks) or "none yet"
        self._out(
            {"type": "ready", "root": str(root), "hooks": [hook.id for hook in hooks]},
            f"watching {root} (hooks on file events: {names}); Ctrl-C stops",
        )

    def problem(self, error: SettingsError) -> None:
        self._out({"type": "problem", **error.to_dict()}, f"error: {error.render()}", error=True)

    def run(self, run: HookRun) -> None:
        self._out({"type": "run", **run.to_dict()}, _run_line(run, stamp=True))

    def failure(self, hook: Hook, error: BaseException) -> None:
        message = f"{type(error).__name__}: {error}"
        self._out(
            {"type": "failure", "hook": hook.id, "error": message},
            f"{time.strftime('%H:%M:%S')} {hook.id}: failed with {message}",
            error=True,
        )

    def stopped(self) -> None:
        self._out({"type": "stopped"}, "stopped")


@app.command("watch")
@handles_errors
def watch_command(
    debounce: Annotated[
        int | None,
        typer.Option("--debounce", min=1, help="Quiet milliseconds that end a burst (100)."),
    ] = None,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", min=1, help="Hooks running at once (2).")
    ] = None,
    poll: Annotated[
        bool, typer.Option("--poll", help="Poll for changes (file systems without events).")
    ] = False,
    model: ModelOption = None,
    mode: ModeOption = None,
    root: RootOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run file hooks as files change (created, edited, deleted), until Ctrl-C."""
    import anyio

    from specloom.hooks.watcher import WatchOptions, watch

    project = _project(root)
    bus = _bus(project, model=model, mode=mode, interactive=_interactive(as_json))
    options = WatchOptions.from_settings(
        bus.settings, debounce_ms=debounce, jobs=jobs, force_polling=poll or None
    )
    anyio.run(lambda: watch(bus, _Reporter(as_json), options))
