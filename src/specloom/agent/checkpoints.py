"""Workspace checkpoints: a snapshot of the project's files before each step that changes
them, so that every change the agent makes can be undone.

A checkpoint is a git commit that no branch points to. ``CheckpointStore.create`` stages
the work tree (tracked and untracked files; ``.gitignore`` respected; specloom's own state
in ``.kiro/.specloom/`` left out) into an index file of its own, writes the tree, commits
it with the previous checkpoint as its parent and moves the ref
``refs/specloom/checkpoints/latest`` to it. The user's index, ``HEAD``, branches, stash and
work tree are never touched: each git command gets ``GIT_INDEX_FILE`` pointing at the
checkpoints' index. The time, task, spec and the count of files changed are trailers of
the commit message, so listing needs nothing but ``git log``.

Layout:

* In a git repository the objects go into the repository itself (``git gc`` keeps them:
  the ref reaches them). The checkpoints' index, its lock file and nothing else live in
  ``<git dir>/specloom/``. The index is seeded once from the user's index (so only files
  that differ from it are hashed) and kept between checkpoints, so a checkpoint hashes only
  the files changed since the one before. A project in a sub-folder of a repository (a
  monorepo) has its own chain, ref ``refs/specloom/checkpoints/latest-<digest>``, that
  holds and restores that sub-folder only; so has each linked work tree.
* In a folder that is not a git repository, a shadow repository in the user data dir
  (``shadow/<digest of the folder's path>.git``) holds them, its work tree the folder;
  a ``.gitignore`` in the folder is honoured the same way.

``create`` makes nothing new when the files are exactly those of the newest checkpoint: it
returns that checkpoint with ``unchanged=True``. ``restore`` first takes a checkpoint of
the files as they are (the undo point it returns), then switches the work tree to the
checkpoint's files the way ``git checkout`` does (``git read-tree -m -u``): files made
since are removed, deleted ones come back, contents, executable bits and symbolic links
are as they were. Ignored files stay where they are, except one that stands where a
restored file must go: that one is put into the undo point first, so it comes back with
it. Parallel workers are serialised by a lock file; the ref moves with a compare-and-swap.

Limits (git's own semantics): empty folders are not recorded; a nested repository or
submodule is recorded as its commit, not its files; files with ``text``/``eol``
attributes in ``.gitattributes`` are restored with git's line-ending conversion.

May import: the standard library, ``specloom.errors``, ``specloom.settings`` and
``specloom.agent.git``.
"""

from __future__ import annotations

import builtins
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from specloom.agent.git import (
    NOT_FOUND,
    Git,
    GitResult,
    config_options,
    decode_path,
    exclusive_lock,
    identity,
    init_detached,
)
from specloom.errors import CheckpointError, WorkspaceError
from specloom.settings import STATE_DIR, user_data_dir

__all__ = ["CHECKPOINT_REFS", "ID_LENGTH", "Checkpoint", "CheckpointStore", "FileChange"]

CHECKPOINT_REFS = "refs/specloom/checkpoints/"
"""Where the checkpoint chains' refs live."""
ID_LENGTH = 12
"""Hex digits of a checkpoint's id (the start of its commit id)."""
_MIN_ID_LENGTH = 4
_IDENTITY = identity("checkpoints@specloom.invalid")
# No advice about embedded repositories or ignored files in checkpoint output.
_OPTIONS = config_options(("advice.addEmbeddedRepo", "false"), ("advice.addIgnoredFile", "false"))
_TRAILER = "Specloom-"
_DEFAULT_MESSAGE = "Checkpoint"
_LIST_HINT = "Run `specloom checkpoint list` to see the checkpoints and their ids."
_STATUS_NAMES = {"A": "added", "D": "deleted", "M": "modified", "T": "type changed"}


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One snapshot of the project's files.

    Attributes:
        id: Short stable id: the first ``ID_LENGTH`` hex digits of ``commit``.
        commit: The full commit id.
        tree: The id of the tree of files.
        parent: The commit of the checkpoint before it, or ``None`` for the first.
        time: When it was taken (timezone-aware).
        message: What it was taken for (``"Checkpoint"`` when no message was given).
        task: The task it was taken before, if any.
        spec: The spec of that task, if any.
        files_changed: Files that differ from the checkpoint before it (every file for
            the first one).
        unchanged: ``True`` when ``create`` found nothing changed since this checkpoint
            and made no new one.
    """

    id: str
    commit: str
    tree: str
    parent: str | None
    time: datetime
    message: str
    task: str | None
    spec: str | None
    files_changed: int
    unchanged: bool = False

    def to_dict(self) -> dict[str, object]:
        """JSON-ready mapping."""
        return {
            "id": self.id,
            "commit": self.commit,
            "parent": self.parent[:ID_LENGTH] if self.parent else None,
            "time": self.time.isoformat(),
            "message": self.message,
            "task": self.task,
            "spec": self.spec,
            "files_changed": self.files_changed,
            "unchanged": self.unchanged,
        }


@dataclass(frozen=True, slots=True)
class FileChange:
    """One file that differs between two checkpoints (or a checkpoint and the files now).

    Attributes:
        status: ``"A"`` added, ``"D"`` deleted, ``"M"`` modified (content or mode),
            ``"T"`` type changed (file, symbolic link, submodule).
        path: The path, relative to the project root, ``/``-separated.
    """

    status: str
    path: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready mapping (with the status spelled out)."""
        return {"status": _STATUS_NAMES.get(self.status, self.status), "path": self.path}


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where one project's checkpoints are kept and which files they cover."""

    git_dir: Path
    work_tree: Path
    prefix: str
    ref: str
    real_index: Path | None
    shadow: bool

    @property
    def state(self) -> Path:
        return self.git_dir / "specloom"

    @property
    def index(self) -> Path:
        suffix = self.ref.removeprefix(CHECKPOINT_REFS).removeprefix("latest")
        return self.state / f"index{suffix}"

    @property
    def pathspec(self) -> list[str]:
        top = f":(literal){self.prefix}" if self.prefix else "."
        state = f"{self.prefix}/{STATE_DIR.as_posix()}" if self.prefix else STATE_DIR.as_posix()
        return [top, f":(exclude,literal){state}"]

    def relative(self, path: str) -> str:
        """A repository path made relative to the project root."""
        return path.removeprefix(f"{self.prefix}/") if self.prefix else path


class CheckpointStore:
    """The checkpoints of one project folder.

    Nothing runs until the first call; each call is safe to make from parallel threads and
    processes.

    Attributes:
        root: The project's root folder.
    """

    def __init__(
        self,
        root: Path,
        *,
        git: Git | None = None,
        clock: Callable[[], datetime] | None = None,
        shadow_dir: Path | None = None,
        lock_timeout: float = 60.0,
    ) -> None:
        """Open the checkpoints of ``root``.

        Args:
            root: The project's root folder.
            git: How git is run (default: ``git`` on ``PATH``).
            clock: Returns the current time, timezone-aware (default: the local time).
            shadow_dir: Where shadow repositories of non-repository folders go (default:
                ``shadow/`` in the user data dir).
            lock_timeout: Seconds to wait for another process's checkpoint to finish.
        """
        self.root = Path(os.path.realpath(root))
        self._git = git or Git()
        self._clock = clock or (lambda: datetime.now().astimezone())
        self._shadow_dir = shadow_dir
        self._lock_timeout = lock_timeout
        self._layout_cache: _Layout | None = None

    # -- public API ---------------------------------------------------------------------------

    @property
    def ref(self) -> str:
        """The ref that points at the newest checkpoint."""
        return self._layout().ref

    @property
    def git_dir(self) -> Path:
        """The git folder that holds the checkpoints (a shadow one outside repositories)."""
        return self._layout().git_dir

    @property
    def shadow(self) -> bool:
        """Whether the checkpoints live in a shadow repository (the root is not in one)."""
        return self._layout().shadow

    def create(
        self, message: str | None = None, *, task: str | None = None, spec: str | None = None
    ) -> Checkpoint:
        """Take a checkpoint of the project's files as they are now.

        Args:
            message: What it is taken for (default ``"Checkpoint"``).
            task: The task about to run, if any.
            spec: The spec of that task, if any.

        Returns:
            The new checkpoint; or, when no file changed since the newest one, that one
            with ``unchanged=True`` (no new checkpoint is made).

        Raises:
            CheckpointError: git is missing or failed, or the lock was held too long.
        """
        with self._locked():
            return self._commit(self._snapshot(), message, task, spec)

    def list(self) -> builtins.list[Checkpoint]:
        """Every checkpoint of this project, newest first."""
        layout = self._layout()
        result = self._require(
            self._run(
                ["log", "--first-parent", "--ignore-missing", "-z", "--format=" + _LOG_FORMAT,
                 layout.ref, "--"],
                layout,
            ),
            "read the checkpoints",
        )  # fmt: skip
        return [_parse_record(record) for record in result.stdout.split(b"\0") if record]

    def latest(self) -> Checkpoint | None:
        """The newest checkpoint, or ``None`` before the first."""
        return self._head(self._layout())

    def get(self, checkpoint_id: str) -> Checkpoint:
        """The checkpoint whose id (or full commit id) starts with ``checkpoint_id``.

        Raises:
            CheckpointError: No checkpoint has that id, or several start with it.
        """
        wanted = checkpoint_id.strip().lower()
        if not (_MIN_ID_LENGTH <= len(wanted) <= 64 and all(c in "0123456789abcdef" for c in
                                                            wanted)):  # fmt: skip
            raise CheckpointError(
                f"{checkpoint_id!r} is not a checkpoint id: ids are {ID_LENGTH} hex digits "
                f"(at least the first {_MIN_ID_LENGTH} are needed).",
                file=str(self.root),
                hint=_LIST_HINT,
            )
        matches = [item for item in self.list() if item.commit.startswith(wanted)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise CheckpointError(
                f"there is no checkpoint {checkpoint_id!r} in this project.",
                file=str(self.root),
                hint=_LIST_HINT,
            )
        raise CheckpointError(
            f"{len(matches)} checkpoints have ids that start with {checkpoint_id!r}.",
            file=str(self.root),
            hint="Give more of the id. " + _LIST_HINT,
        )

    def changes(self, checkpoint_id: str, to: str | None = None) -> builtins.list[FileChange]:
        """The files that differ from checkpoint ``checkpoint_id`` to checkpoint ``to``
        (default: the files as they are now), sorted by path."""
        layout = self._layout()
        before, after = self._trees(checkpoint_id, to)
        return [
            FileChange(status, layout.relative(path))
            for status, path in self._tree_changes(layout, before, after)
        ]

    def diff(self, checkpoint_id: str, to: str | None = None) -> str:
        """A unified diff from checkpoint ``checkpoint_id`` to checkpoint ``to`` (default:
        the files as they are now); paths relative to the project root.

        Raises:
            CheckpointError: An id is unknown, or git failed.
        """
        layout = self._layout()
        before, after = self._trees(checkpoint_id, to)
        result = self._require(
            self._run(
                ["diff", "--no-color", "--no-ext-diff", "--no-textconv", "--find-renames",
                 "--src-prefix=a/", "--dst-prefix=b/",
                 *([f"--relative={layout.prefix}/"] if layout.prefix else []),
                 before, after, "--", *layout.pathspec],
                layout,
            ),
            "compare the checkpoints",
        )  # fmt: skip
        return result.stdout.decode("utf-8", errors="replace")

    def restore(self, checkpoint_id: str) -> Checkpoint:
        """Bring the project's files back to exactly those of checkpoint ``checkpoint_id``.

        A checkpoint of the files as they are is taken first (it also holds any ignored
        file that a restored file replaces), so the restore can itself be undone by
        restoring the checkpoint returned. The user's index, ``HEAD`` and branches are not
        touched: afterwards ``git status`` shows the differences as ordinary edits.

        Returns:
            The checkpoint taken before restoring (the undo point).

        Raises:
            CheckpointError: The id is unknown, a file changed while restoring, or git
                failed.
        """
        layout = self._layout()
        with self._locked():
            target = self.get(checkpoint_id)
            tree = self._snapshot()
            in_the_way = self._ignored_in_the_way(layout, tree, target.tree)
            if in_the_way:
                self._require(
                    self._run(
                        ["--literal-pathspecs", "add", "--force", "--pathspec-from-file=-",
                         "--pathspec-file-nul"],
                        layout,
                        index=True,
                        stdin=b"".join(os.fsencode(path) + b"\0" for path in in_the_way),
                    ),
                    "save the ignored files that the restore replaces",
                )  # fmt: skip
                tree = self._write_tree(layout)
            undo = self._commit(tree, f"Before restoring checkpoint {target.id}", None, None)
            if undo.tree != target.tree:
                result = self._run(["read-tree", "-m", "-u", undo.tree, target.tree], layout,
                                   index=True)  # fmt: skip
                if not result.ok:
                    raise CheckpointError(
                        f"could not restore checkpoint {target.id}: {result.error_text}",
                        file=str(self.root),
                        hint="A file probably changed while restoring; checkpoint "
                        f"{undo.id} holds the files as they were before. Run `specloom "
                        f"checkpoint restore {target.id}` again, or `specloom checkpoint "
                        f"restore {undo.id}` to go back.",
                    )
            return undo

    # -- taking a snapshot --------------------------------------------------------------------

    def _snapshot(self) -> str:
        """Stage the project's files into the checkpoints' index; return their tree id."""
        layout = self._layout()
        if not layout.index.exists():
            self._seed_index(layout)
        self._require(
            self._run(["add", "--all", "--", *layout.pathspec], layout, index=True),
            "record the project's files",
        )
        return self._write_tree(layout)

    def _write_tree(self, layout: _Layout) -> str:
        result = self._run(["write-tree"], layout, index=True)
        return self._require(result, "write the checkpoint's tree").text

    def _seed_index(self, layout: _Layout) -> None:
        """Start the checkpoints' index from a copy of the user's, so that ``git add`` only
        hashes files whose size or time differ from it.

        Entries outside the project or in specloom's state are dropped, and "assume
        unchanged" and "skip worktree" marks are cleared (a snapshot must see those files
        as they are). A user index that cannot be read is not used: the first checkpoint
        then hashes every file.
        """
        if layout.real_index is None or not layout.real_index.is_file():
            return
        handle, temporary = tempfile.mkstemp(prefix="index.", dir=layout.state)
        os.close(handle)
        # copy2 keeps the modification time, which git compares with each entry's to tell
        # a file changed in the same instant the index was written ("racy git").
        shutil.copy2(layout.real_index, temporary)
        os.replace(temporary, layout.index)
        listing = self._run(["ls-files", "-z", "-v"], layout, index=True)
        if not listing.ok:
            layout.index.unlink(missing_ok=True)
            return
        inside = f"{layout.prefix}/" if layout.prefix else ""
        state = inside + STATE_DIR.as_posix() + "/"
        # One update-index run per change: it applies only one of these options per path.
        changes: dict[str, list[bytes]] = {"--force-remove": [], "--no-assume-unchanged": [],
                                           "--no-skip-worktree": []}  # fmt: skip
        for record in listing.stdout.split(b"\0"):
            tag, raw = record[:1], record[2:]
            path = decode_path(raw)
            if not record:
                continue
            if not path.startswith(inside) or path.startswith(state):
                changes["--force-remove"].append(raw)
                continue
            if tag.islower():
                changes["--no-assume-unchanged"].append(raw)
            if tag.upper() == b"S":
                changes["--no-skip-worktree"].append(raw)
        for option, paths in changes.items():
            if not paths:
                continue
            result = self._run(
                ["update-index", option, "-z", "--stdin"],
                layout,
                index=True,
                stdin=b"".join(path + b"\0" for path in paths),
            )
            if not result.ok:
                layout.index.unlink(missing_ok=True)
                return

    # -- the chain of commits -----------------------------------------------------------------

    def _commit(self, tree: str, message: str | None, task: str | None, spec: str | None
                ) -> Checkpoint:  # fmt: skip
        """Commit ``tree`` on top of the newest checkpoint (unless it is that one's tree)."""
        layout = self._layout()
        head = self._head(layout)
        if head is not None and head.tree == tree:
            return replace(head, unchanged=True)
        if head is None:
            listing = self._run(["ls-tree", "-r", "--name-only", "-z", tree], layout)
            files = self._require(listing, "count the files").stdout.count(b"\0")
        else:
            files = len(self._tree_changes(layout, head.tree, tree))
        moment = self._clock()
        moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)  # as stored
        text = (message or "").replace("\0", "").strip() or _DEFAULT_MESSAGE
        trailers = {"Time": moment.isoformat(timespec="milliseconds"), "Task": _one_line(task),
                    "Spec": _one_line(spec), "Files-Changed": str(files)}  # fmt: skip
        body = (
            text
            + "\n\n"
            + "".join(f"{_TRAILER}{key}: {value}\n" for key, value in trailers.items() if value)
        )
        stamp = moment.isoformat(timespec="seconds")
        parents = ["-p", head.commit] if head is not None else []
        created = self._require(
            self._run(
                ["commit-tree", "--no-gpg-sign", tree, *parents],
                layout,
                stdin=body.encode("utf-8", errors="surrogateescape"),
                extra={**_IDENTITY, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp},
            ),
            "write the checkpoint",
        ).text
        moved = self._run(
            ["update-ref", "-m", "specloom checkpoint", layout.ref, created,
             head.commit if head is not None else ""],
            layout,
        )  # fmt: skip
        if not moved.ok:
            raise CheckpointError(
                f"could not record checkpoint {created[:ID_LENGTH]}: {moved.error_text}",
                file=str(layout.git_dir),
                hint=f"Another program moved {layout.ref} at the same moment; take the "
                "checkpoint again.",
            )
        return Checkpoint(
            created[:ID_LENGTH], created, tree, head.commit if head is not None else None,
            moment, text, trailers["Task"] or None, trailers["Spec"] or None, files,
        )  # fmt: skip

    def _head(self, layout: _Layout) -> Checkpoint | None:
        result = self._require(
            self._run(["for-each-ref", "--format=" + _REF_FORMAT, layout.ref], layout),
            "read the newest checkpoint",
        )
        record = result.stdout.rstrip(b"\n")
        return _parse_record(record) if record else None

    def _trees(self, checkpoint_id: str, to: str | None) -> tuple[str, str]:
        before = self.get(checkpoint_id).tree
        if to is not None:
            return before, self.get(to).tree
        with self._locked():
            return before, self._snapshot()

    def _tree_changes(self, layout: _Layout, before: str, after: str
                      ) -> builtins.list[tuple[str, str]]:  # fmt: skip
        result = self._require(
            self._run(["diff-tree", "-r", "-z", "--no-renames", "--name-status", before, after],
                      layout),
            "compare the checkpoints",
        )  # fmt: skip
        fields = result.stdout.split(b"\0")
        return [
            (fields[index].decode(), decode_path(fields[index + 1]))
            for index in range(0, len(fields) - 1, 2)
        ]

    def _ignored_in_the_way(self, layout: _Layout, current: str, target: str
                            ) -> builtins.list[str]:  # fmt: skip
        """Untracked (so ignored) files and links that stand where ``target`` puts a file:
        at the path itself, or at a folder on its way."""
        changes = self._tree_changes(layout, current, target)
        removed = {path for status, path in changes if status == "D"}
        found: set[str] = set()
        for status, path in changes:
            if status != "A":
                continue
            if os.path.lexists(layout.work_tree / path):
                found.add(path)
                continue
            parts = path.split("/")
            for depth in range(1, len(parts)):
                folder = "/".join(parts[:depth])
                if folder in removed:
                    break
                try:
                    mode = os.lstat(layout.work_tree / folder).st_mode
                except FileNotFoundError:
                    break
                if not stat.S_ISDIR(mode):
                    found.add(folder)
                    break
        return sorted(found)

    # -- where things are ---------------------------------------------------------------------

    def _layout(self) -> _Layout:
        if self._layout_cache is None:
            self._layout_cache = self._discover()
            self._layout_cache.state.mkdir(parents=True, exist_ok=True)
        return self._layout_cache

    def _discover(self) -> _Layout:
        if not self.root.is_dir():
            raise WorkspaceError(
                "the project folder does not exist.",
                file=str(self.root),
                hint="Name an existing folder with --root.",
            )
        found = self._git.run(
            ["rev-parse", "--show-toplevel", "--absolute-git-dir", "--git-common-dir"],
            cwd=self.root,
        )
        if found.ok:
            # --git-common-dir may be relative to the folder the command ran in.
            top, git_dir, common = (self.root / line for line in found.text.splitlines()[:3])
            prefix = self.root.relative_to(os.path.realpath(top)).as_posix()
            prefix = "" if prefix == "." else prefix
            linked = os.path.realpath(git_dir) != os.path.realpath(common)
            key = f"{git_dir.name if linked else ''}\0{prefix}"
            suffix = "" if key == "\0" else "-" + hashlib.sha256(key.encode()).hexdigest()[:16]
            return _Layout(git_dir, top, prefix, CHECKPOINT_REFS + "latest" + suffix,
                           git_dir / "index", shadow=False)  # fmt: skip
        if found.returncode == NOT_FOUND:
            self._require(found, "find the repository")
        if "not a git repository" not in found.error_text:
            raise CheckpointError(
                f"git cannot use the repository of this folder: {found.error_text}",
                file=str(self.root),
                hint="Fix what git reports (for a repository owned by another user, see "
                "`git config --global --add safe.directory`), then try again.",
            )
        return self._shadow_layout()

    def _shadow_layout(self) -> _Layout:
        base = self._shadow_dir or user_data_dir() / "shadow"
        git_dir = base / f"{hashlib.sha256(os.fsencode(str(self.root))).hexdigest()[:16]}.git"
        failed = init_detached(self._git, git_dir, self.root, f"checkpoints of {self.root}")
        if failed is not None:
            self._require(failed, "create the shadow repository")
        return _Layout(git_dir, self.root, "", CHECKPOINT_REFS + "latest", None, shadow=True)

    # -- running git --------------------------------------------------------------------------

    def _run(
        self,
        args: builtins.list[str],
        layout: _Layout,
        *,
        index: bool = False,
        stdin: bytes | None = None,
        extra: dict[str, str] | None = None,
    ) -> GitResult:
        env = {"GIT_DIR": str(layout.git_dir), "GIT_WORK_TREE": str(layout.work_tree)}
        if index:
            env["GIT_INDEX_FILE"] = str(layout.index)
        if extra:
            env.update(extra)
        return self._git.run([*_OPTIONS, *args], cwd=layout.work_tree, env=env, stdin=stdin)

    def _require(self, result: GitResult, doing: str) -> GitResult:
        if result.ok:
            return result
        if result.returncode == NOT_FOUND:
            raise CheckpointError(
                f"cannot {doing}: git is not installed (`{self._git.executable}` was not found).",
                file=str(self.root),
                hint="Install git (for example `apt-get install git`) and try again.",
            )
        words = list(result.args)
        while words[:1] == ["-c"]:  # leave out the fixed settings
            words = words[2:]
        command = " ".join(words)
        raise CheckpointError(
            f"cannot {doing}: `git {command[:120]}` failed: {result.error_text or 'no message'}",
            file=str(self.root),
            hint="Fix what git reports (a file that cannot be read, a full disk, a damaged "
            "repository: `git fsck`), then try again.",
        )

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the lock file in the checkpoints' folder (one writer at a time)."""
        path = self._layout().state / "checkpoints.lock"
        path.parent.mkdir(parents=True, exist_ok=True)  # again: it may have been deleted
        try:
            with exclusive_lock(path, self._lock_timeout):
                yield
        except TimeoutError:
            raise CheckpointError(
                "another checkpoint or restore has held the lock for more than "
                f"{self._lock_timeout:.0f} s.",
                file=str(path),
                hint="Wait for the other specloom process to finish, then try again.",
            ) from None


# -- records and trailers -------------------------------------------------------------------

_FIELDS = ("%(objectname)", "%(tree)", "%(parent)", "%(committerdate:iso-strict)",
           "%(contents)")  # fmt: skip
_REF_FORMAT = "%1f".join(_FIELDS)
_LOG_FORMAT = "%x1f".join(("%H", "%T", "%P", "%cI", "%B"))


def _parse_record(record: bytes) -> Checkpoint:
    commit, tree, parents, committed, body = record.decode("utf-8", "surrogateescape").split(
        "\x1f", 4
    )
    message, trailers = _split_trailers(body)
    moment = trailers.get("Time") or committed
    try:
        when = datetime.fromisoformat(moment)
    except ValueError:
        when = datetime.fromisoformat(committed)
    try:
        files = int(trailers.get("Files-Changed", "0"))
    except ValueError:
        files = 0
    parent = parents.split()[0] if parents.split() else None
    return Checkpoint(commit[:ID_LENGTH], commit, tree, parent, when, message,
                      trailers.get("Task"), trailers.get("Spec"), files)  # fmt: skip


def _split_trailers(body: str) -> tuple[str, dict[str, str]]:
    """The message and the ``Specloom-*`` trailers of its last paragraph."""
    text = body.strip("\n")
    head, _, last = text.rpartition("\n\n")
    lines = last.splitlines()
    if not lines or not all(line.startswith(_TRAILER) and ": " in line for line in lines):
        return text.strip(), {}
    trailers = {}
    for line in lines:
        key, _, value = line.removeprefix(_TRAILER).partition(": ")
        trailers[key] = value.strip()
    return head.strip(), trailers


def _one_line(value: str | None) -> str:
    return " ".join((value or "").replace("\0", "").split())
