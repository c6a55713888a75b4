"""Tasks that run side by side, each in a git worktree of its own, merged back one by one.

Nothing is ever committed on the user's branch, and the user's index, ``HEAD`` and stash
are never touched:

1. ``snapshot``: the project's files as they are now (tracked and untracked, ``.gitignore``
   respected) are staged into a private index and written as a commit no branch points to.
2. ``create``: a detached worktree of that commit under
   ``.kiro/.specloom/worktrees/<spec>/``; the task works there. Environment folders the
   repository ignores (``.venv``, ``node_modules``...) are linked into it, so its tests
   run as they do in the project.
3. ``collect``: the worktree's files are staged into its own index and diffed against the
   snapshot (``.kiro/`` left out: task statuses are written only in the project itself);
   that patch is the task's work.
4. ``merge``: under a lock, the project's files now are staged into the private index and
   the patch is applied to a copy of it with a three-way merge (``git apply --cached
   --3way``), which touches no file. On success the working tree is moved from the
   project's tree to the merged one (``git read-tree -m -u``, which refuses to overwrite
   a file changed meanwhile). On a conflict nothing in the project has changed; the
   conflicting files are reported and the patch is kept (``keep``) under
   ``.kiro/.specloom/patches/<spec>/<task>.patch``, with the worktree's files as a commit
   under ``refs/specloom/tasks/<spec>/<task>``.
5. ``remove`` / ``prune``: worktrees go away after their task, and those of a run that
   crashed are removed when the next run of the spec starts.

Limits: files marked "assume unchanged" or "skip worktree" in the user's index are taken
as the index has them; empty folders are not carried (git does not record them).

May import: the standard library, ``specloom.errors``, ``specloom.settings``,
``specloom.workspace`` and ``specloom.agent.git``.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from specloom.agent.git import (
    NOT_FOUND,
    Git,
    GitResult,
    config_options,
    decode_path,
    exclusive_lock,
    identity,
)
from specloom.errors import WorkspaceError
from specloom.settings import STATE_DIR, state_dir

__all__ = [
    "MergeResult",
    "ParallelWorkspace",
    "TaskPatch",
    "Worktree",
    "atomic_write_bytes",
    "unavailable_reason",
]

LINKED_FOLDERS = (".venv", "venv", "env", "node_modules", ".tox")
"""Ignored environment folders of the project that are linked into each worktree."""
TASK_REFS = "refs/specloom/tasks/"
"""Where the files of a task whose merge failed are kept as commits."""

_IDENTITY = identity("runs@specloom.invalid")
# No rename detection in task diffs (a patch names each file it changes); no detached-HEAD
# advice on every worktree.
_OPTIONS = config_options(("diff.renames", "false"), ("advice.detachedHead", "false"))
_STAGE_RETRIES = 5
_APPLY_ERROR = re.compile(r"^error: (?:patch failed: )?(.+?)(?::\d+)?(?:: .*)?$")


def unavailable_reason(root: Path, git: Git | None = None) -> str | None:
    """Why tasks of ``root`` cannot run in worktrees, or ``None`` when they can."""
    found = (git or Git()).run(["rev-parse", "--show-toplevel"], cwd=root)
    if found.returncode == NOT_FOUND:
        return "git is not installed"
    if not found.ok:
        return "the project is not a git repository"
    return None


@dataclass(frozen=True, slots=True)
class Worktree:
    """One task's worktree.

    Attributes:
        task_id: The task working in it.
        path: The worktree's top folder.
        workdir: The project's folder inside it (``path`` unless the project is a
            sub-folder of its repository).
        base: The snapshot commit it was made from.
        excludes: Paths (repository-relative) of the links made into it; never merged.
    """

    task_id: str
    path: Path
    workdir: Path
    base: str
    excludes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TaskPatch:
    """What a task changed in its worktree.

    Attributes:
        text: A binary-safe git patch from the snapshot to the worktree's files.
        files: The paths it changes, relative to the project root.
    """

    text: bytes
    files: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class MergeResult:
    """How applying a task's patch to the project went.

    Attributes:
        ok: Whether the project now has the task's changes.
        files: Files changed in the project (relative to its root).
        conflicts: Files that could not be merged (relative to its root).
        message: What git said, when it did not go through.
    """

    ok: bool
    files: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    message: str = ""


class ParallelWorkspace:
    """The worktrees of one spec's run in one project, and merging their work back.

    Every method blocks (it runs git); call them from a worker thread in async code. They
    may be called from several threads at once.

    Attributes:
        root: The project root.
        spec: The spec whose tasks run.
    """

    def __init__(
        self,
        root: Path,
        spec: str,
        *,
        git: Git | None = None,
        lock_timeout: float = 300.0,
    ) -> None:
        self.root = Path(os.path.realpath(root))
        self.spec = spec
        self._git = git or Git()
        self._lock_timeout = lock_timeout
        self._merge_lock = threading.Lock()
        self._admin_lock = threading.Lock()
        found = self._require(
            self._git.run(["rev-parse", "--show-toplevel", "--git-path", "index"], cwd=self.root),
            "find the project's repository",
        )
        top, index = found.text.splitlines()[:2]
        self.top = Path(os.path.realpath(top))
        prefix = self.root.relative_to(self.top).as_posix()
        self.prefix = "" if prefix == "." else prefix
        self._user_index = self.root / index
        self._state = state_dir(self.root)
        self._folder = self._state / "worktrees"
        self._project_index = self._folder / ".project-index"

    @staticmethod
    def has_leftovers(root: Path, spec: str) -> bool:
        """Whether worktrees of ``spec`` are left in ``root`` (by a run that crashed)."""
        folder = root / STATE_DIR / "worktrees" / _safe(spec)
        return folder.is_dir() and any(folder.iterdir())

    # -- paths --------------------------------------------------------------------------------

    @property
    def worktrees_dir(self) -> Path:
        """Where this spec's worktrees live."""
        return self._folder / _safe(self.spec)

    def patch_path(self, task_id: str) -> Path:
        """Where the patch of a task that could not be merged is kept."""
        return self._state / "patches" / _safe(self.spec) / f"{_safe(task_id)}.patch"

    def display(self, path: Path) -> str:
        """``path`` relative to the project root when inside it."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def _in_repo(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def _from_repo(self, path: str) -> str:
        return path.removeprefix(f"{self.prefix}/") if self.prefix else path

    def _pathspec(self, excludes: tuple[str, ...] = ()) -> list[str]:
        top = f":(literal){self.prefix}" if self.prefix else "."
        kiro = self._in_repo(".kiro")
        return [top, f":(exclude,literal){kiro}", *(f":(exclude,literal){p}" for p in excludes)]

    # -- snapshot and worktrees -----------------------------------------------------------------

    def snapshot(self) -> str:
        """Record the project's files as they are now; return the snapshot commit.

        Raises:
            WorkspaceError: git failed.
        """
        with self._project_locked():
            tree = self._stage_project()
            return self._commit(tree, None, "Snapshot for a task run")

    def create(self, task_id: str, run_id: str, base: str) -> Worktree:
        """Make a detached worktree of snapshot ``base`` for ``task_id``.

        Raises:
            WorkspaceError: git failed.
        """
        path = self.worktrees_dir / f"{run_id}-{_safe(task_id)}"
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._admin_lock:
            if path.exists():
                self._remove_path(path)
            self._require(
                self._run(["worktree", "add", "--detach", "--quiet", str(path), base],
                          cwd=self.top),
                f"create a worktree for task {task_id}",
            )  # fmt: skip
        workdir = path / self.prefix if self.prefix else path
        return Worktree(task_id, path, workdir, base, self._link_environments(workdir))

    def _link_environments(self, workdir: Path) -> tuple[str, ...]:
        linked: list[str] = []
        for name in LINKED_FOLDERS:
            source = self.root / name
            target = workdir / name
            if not source.is_dir() or target.exists() or target.is_symlink():
                continue
            ignored = self._git.run(["check-ignore", "-q", "--", name], cwd=self.root)
            if not ignored.ok:
                continue  # a folder the repository tracks is in the snapshot already
            try:
                target.symlink_to(source, target_is_directory=True)
            except OSError:
                continue
            linked.append(self._in_repo(name))
        return tuple(linked)

    def collect(self, worktree: Worktree) -> TaskPatch:
        """The task's work: its worktree's files against the snapshot, ``.kiro/`` left out.

        Raises:
            WorkspaceError: git failed.
        """
        spec = self._pathspec(worktree.excludes)
        self._require(
            self._run(["add", "--all", "--", *spec], cwd=worktree.path),
            f"record the files of task {worktree.task_id}",
        )
        diff = ["diff", "--cached", "--no-color", "--no-ext-diff", "--no-textconv",
                "--no-renames"]  # fmt: skip
        names = self._require(
            self._run([*diff, "--name-only", "-z", worktree.base, "--", *spec],
                      cwd=worktree.path),
            f"list the files task {worktree.task_id} changed",
        )  # fmt: skip
        files = [self._from_repo(decode_path(raw)) for raw in names.stdout.split(b"\0") if raw]
        if not files:
            return TaskPatch(b"", [])
        patch = self._require(
            self._run([*diff, "--binary", "--full-index", worktree.base, "--", *spec],
                      cwd=worktree.path),
            f"take the changes of task {worktree.task_id}",
        )  # fmt: skip
        return TaskPatch(patch.stdout, files)

    def remove(self, worktree: Worktree | Path) -> None:
        """Delete a worktree (and git's record of it); a missing one is fine."""
        path = worktree.path if isinstance(worktree, Worktree) else worktree
        with self._admin_lock:
            self._remove_path(path)

    def _remove_path(self, path: Path) -> None:
        if path.exists():
            removed = self._run(["worktree", "remove", "--force", "--force", str(path)],
                                cwd=self.top)  # fmt: skip
            if removed.ok and not path.exists():
                return
            shutil.rmtree(path, ignore_errors=True)
        self._run(["worktree", "prune"], cwd=self.top)  # forget a worktree deleted by hand

    def prune(self) -> list[str]:
        """Remove every worktree of this spec (call only when no run of it is alive).

        Returns:
            The worktrees removed, relative to the project root.
        """
        removed: list[str] = []
        folder = self.worktrees_dir
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                if path.is_dir():
                    self.remove(path)
                    removed.append(self.display(path))
        self._run(["worktree", "prune"], cwd=self.top)
        return removed

    # -- merging --------------------------------------------------------------------------------

    def merge(self, patch: TaskPatch | bytes) -> MergeResult:
        """Apply a task's patch to the project's files with a three-way merge.

        On a conflict (or any failure) the project's files are as they were.

        Raises:
            WorkspaceError: git failed in a way that is not about the patch.
        """
        text = patch.text if isinstance(patch, TaskPatch) else patch
        if not text.strip():
            return MergeResult(True)
        with self._project_locked():
            before = self._stage_project()
            handle, merged_index = tempfile.mkstemp(prefix=".merge-index-", dir=self._folder)
            os.close(handle)
            try:
                shutil.copyfile(self._project_index, merged_index)
                env = {"GIT_INDEX_FILE": merged_index}
                applied = self._run(["apply", "--cached", "--3way", "--whitespace=nowarn", "-"],
                                    cwd=self.top, env=env, stdin=text)  # fmt: skip
                if not applied.ok:
                    conflicts = self._unmerged(env) or self._failed_paths(applied)
                    return MergeResult(False, conflicts=conflicts, message=applied.error_text)
                after = self._require(
                    self._run(["write-tree"], cwd=self.top, env=env), "write the merged files"
                ).text
            finally:
                Path(merged_index).unlink(missing_ok=True)
            if after == before:
                return MergeResult(True)
            names = self._require(
                self._run(["diff", "--name-only", "-z", "--no-renames", before, after],
                          cwd=self.top),
                "list the merged files",
            )  # fmt: skip
            files = [self._from_repo(decode_path(raw)) for raw in names.stdout.split(b"\0") if raw]
            moved = self._run(["read-tree", "-m", "-u", before, after], cwd=self.top,
                              env={"GIT_INDEX_FILE": str(self._project_index)})  # fmt: skip
            if not moved.ok:
                # The index may be half-way; the next snapshot starts it over.
                self._project_index.unlink(missing_ok=True)
                return MergeResult(
                    False,
                    conflicts=files,
                    message=f"a file changed while the task's work was merged: {moved.error_text}",
                )
            return MergeResult(True, files=files)

    def is_applied(self, patch: bytes) -> bool:
        """Whether the project's files already hold the changes of ``patch``."""
        if not patch.strip():
            return True
        check = self._run(["apply", "--check", "--reverse", "-"], cwd=self.top, stdin=patch)
        return check.ok

    def keep(self, task_id: str, patch: bytes, worktree: Worktree | None = None) -> Path:
        """Save a patch that could not be merged (and the worktree's files as a commit
        under ``refs/specloom/tasks/``, when the worktree is given).

        Returns:
            The patch file.
        """
        path = self.patch_path(task_id)
        atomic_write_bytes(path, patch)
        if worktree is not None and worktree.path.exists():
            tree = self._run(["write-tree"], cwd=worktree.path)
            if tree.ok:
                commit = self._commit(tree.text, worktree.base, f"Work of task {task_id}")
                ref = f"{TASK_REFS}{_safe(self.spec)}/{_safe(task_id)}"
                self._run(["update-ref", ref, commit], cwd=self.top)
        return path

    # -- internals --------------------------------------------------------------------------

    def _stage_project(self) -> str:
        """Stage the project's files into the private index; return their tree."""
        self._folder.mkdir(parents=True, exist_ok=True)
        if not self._project_index.exists() and self._user_index.is_file():
            # Seeded from the user's index, `git add` hashes only files that changed.
            shutil.copyfile(self._user_index, self._project_index)
        env = {"GIT_INDEX_FILE": str(self._project_index)}
        state = self._in_repo(STATE_DIR.as_posix())
        add = ["add", "--all", "--", ".", f":(exclude,literal){state}"]
        staged = self._run(add, cwd=self.top, env=env)
        for attempt in range(_STAGE_RETRIES):
            # A file that vanished while git read the folder (an editor's or specloom's own
            # temporary file, renamed into place): read the folder again.
            if staged.ok or "unable to stat" not in staged.error_text:
                break
            time.sleep(0.01 * (attempt + 1))
            staged = self._run(add, cwd=self.top, env=env)
        if not staged.ok:
            self._project_index.unlink(missing_ok=True)  # a damaged copy: start over next time
            self._require(staged, "record the project's files")
        return self._require(
            self._run(["write-tree"], cwd=self.top, env=env), "record the project's files"
        ).text

    def _commit(self, tree: str, parent: str | None, message: str) -> str:
        parents = ["-p", parent] if parent else []
        return self._require(
            self._run(["commit-tree", tree, *parents, "-m", message], cwd=self.top,
                      env=_IDENTITY),
            "write a snapshot commit",
        ).text  # fmt: skip

    def _unmerged(self, env: dict[str, str]) -> list[str]:
        listed = self._run(["ls-files", "-u", "-z"], cwd=self.top, env=env)
        paths: list[str] = []
        for record in listed.stdout.split(b"\0"):
            if b"\t" not in record:
                continue
            path = self._from_repo(decode_path(record.split(b"\t", 1)[1]))
            if path not in paths:
                paths.append(path)
        return paths

    def _failed_paths(self, result: GitResult) -> list[str]:
        paths: list[str] = []
        for line in result.stderr.decode("utf-8", errors="replace").splitlines():
            match = _APPLY_ERROR.match(line.strip())
            if match and not match.group(1).startswith(("repository lacks", "could not")):
                path = self._from_repo(match.group(1))
                if path not in paths:
                    paths.append(path)
        return paths

    @contextmanager
    def _project_locked(self) -> Iterator[None]:
        """One thread of this process, and one process of this project, at a time stages
        and changes the project's files."""
        with self._merge_lock:
            self._folder.mkdir(parents=True, exist_ok=True)
            lock_path = self._folder / "project.lock"
            stack = ExitStack()
            try:
                stack.enter_context(exclusive_lock(lock_path, self._lock_timeout))
            except TimeoutError:
                raise WorkspaceError(
                    "another specloom run kept the project's merge lock for too long.",
                    file=str(lock_path),
                    hint="Wait for the other run to finish, then run again.",
                ) from None
            with stack:
                yield

    def _run(
        self,
        args: list[str],
        *,
        cwd: Path,
        env: dict[str, str] | None = None,
        stdin: bytes | None = None,
    ) -> GitResult:
        return self._git.run([*_OPTIONS, *args], cwd=cwd, env=env, stdin=stdin)

    def _require(self, result: GitResult, doing: str) -> GitResult:
        if result.ok:
            return result
        if result.returncode == NOT_FOUND:
            raise WorkspaceError(
                f"cannot {doing}: git is not installed.",
                file=str(self.root),
                hint="Install git, or run tasks one at a time (--parallel 1).",
            )
        raise WorkspaceError(
            f"cannot {doing}: git said: {result.error_text or 'nothing'}",
            file=str(self.root),
            hint="Fix what git reports (`git status`, `git worktree list`, a full disk), "
            "then run again; finished tasks are not redone.",
        )


def _safe(name: str) -> str:
    """A name usable as one path component and in a ref."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-")
    return cleaned or "task"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
