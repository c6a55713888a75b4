"""``specloom checkpoint create|list|diff|restore``: snapshots of the project's files that
any change can be undone to.

May import: ``specloom.errors``, ``specloom.interfaces.cli`` and, inside the commands,
``specloom.agent.checkpoints`` and ``specloom.workspace``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from specloom.errors import WorkspaceError
from specloom.interfaces.cli import JsonOption, app, handles_errors
from specloom.interfaces.cli.output import emit_json, is_terminal, print_table, say

if TYPE_CHECKING:
    from specloom.agent.checkpoints import Checkpoint, CheckpointStore

__all__ = ["checkpoint_app"]

checkpoint_app = typer.Typer(
    name="checkpoint",
    help="Snapshots of the project's files (kept in git, outside your branches, index and "
    "stash) that any change can be undone to.",
    no_args_is_help=True,
)
app.add_typer(checkpoint_app, name="checkpoint")

RootOption = Annotated[
    Path | None,
    typer.Option("--root", help="Project root (default: found from the current folder)."),
]
IdArgument = Annotated[str, typer.Argument(help="A checkpoint id (or its first 4+ digits).")]


def _store(root: Path | None) -> CheckpointStore:
    from specloom.agent.checkpoints import CheckpointStore
    from specloom.workspace import find_root

    if root is None:
        try:
            root = find_root()
        except WorkspaceError as error:
            raise WorkspaceError(
                "no project here: no .kiro/ or .git folder in this folder or any above it.",
                file=error.file,
                hint="Run the command inside a project, or name its folder with --root.",
            ) from None
    return CheckpointStore(root)


def _files(count: int) -> str:
    return f"{count} file{'' if count == 1 else 's'}"


def _time(checkpoint: Checkpoint) -> str:
    return checkpoint.time.astimezone().strftime("%Y-%m-%d %H:%M:%S")


@checkpoint_app.command("create")
@handles_errors
def create_command(
    message: Annotated[
        str | None, typer.Option("--message", "-m", help="What the checkpoint is for.")
    ] = None,
    task: Annotated[str | None, typer.Option("--task", help="The task it precedes.")] = None,
    spec: Annotated[str | None, typer.Option("--spec", help="The spec of that task.")] = None,
    root: RootOption = None,
    as_json: JsonOption = False,
) -> None:
    """Take a checkpoint of the project's files (none when nothing changed since the last)."""
    checkpoint = _store(root).create(message, task=task, spec=spec)
    if as_json:
        emit_json(checkpoint.to_dict())
    elif checkpoint.unchanged:
        say(f"Nothing changed since checkpoint {checkpoint.id}; no new checkpoint was taken.")
    else:
        say(f"Checkpoint {checkpoint.id}: {_files(checkpoint.files_changed)} changed.")


@checkpoint_app.command("list")
@handles_errors
def list_command(root: RootOption = None, as_json: JsonOption = False) -> None:
    """The project's checkpoints, newest first."""
    store = _store(root)
    checkpoints = store.list()
    if as_json:
        emit_json({"root": str(store.root), "checkpoints": [c.to_dict() for c in checkpoints]})
        return
    if not checkpoints:
        say(f"No checkpoints yet in {store.root}. `specloom checkpoint create` takes one.")
        return
    print_table(
        f"Checkpoints of {store.root} (newest first)",
        ["id", "time", "task", "message", "files changed"],
        [
            [c.id, _time(c), " ".join(filter(None, (c.spec, c.task))), c.message.splitlines()[0],
             c.files_changed]
            for c in checkpoints
        ],
    )  # fmt: skip


@checkpoint_app.command("diff")
@handles_errors
def diff_command(
    checkpoint_id: IdArgument,
    to: Annotated[
        str | None,
        typer.Argument(help="A second checkpoint (default: the files as they are now)."),
    ] = None,
    root: RootOption = None,
    as_json: JsonOption = False,
) -> None:
    """A unified diff from a checkpoint to the files now, or to a second checkpoint."""
    store = _store(root)
    text = store.diff(checkpoint_id, to)
    if as_json:
        changes = store.changes(checkpoint_id, to) if text else []
        emit_json(
            {
                "from": store.get(checkpoint_id).id,
                "to": store.get(to).id if to else None,
                "changes": [change.to_dict() for change in changes],
                "diff": text,
            }
        )
    elif text:
        typer.echo(text, nl=False)
    elif is_terminal():
        say("No differences.")


@checkpoint_app.command("restore")
@handles_errors
def restore_command(
    checkpoint_id: IdArgument, root: RootOption = None, as_json: JsonOption = False
) -> None:
    """Bring the project's files back to a checkpoint (first taking one to undo it with)."""
    store = _store(root)
    target = store.get(checkpoint_id)
    undo = store.restore(target.id)
    changes = store.changes(undo.id, target.id) if undo.tree != target.tree else []
    removed = [change.path for change in changes if change.status == "D"]
    written = [change.path for change in changes if change.status != "D"]
    if as_json:
        emit_json(
            {"restored": target.to_dict(), "undo": undo.to_dict(), "written": written,
             "removed": removed}
        )  # fmt: skip
        return
    say(f"Restored checkpoint {target.id}: {_files(len(written))} written, {len(removed)} removed.")
    say(f"Undo with `specloom checkpoint restore {undo.id}`.")
