"""Path confinement: the folders the agent's file tools may read and write, and what they see.

``Workspace.resolve`` turns a path a model wrote into a real path, or refuses it. The rules:

- A relative path is relative to the first root. With several roots, a path whose first part
  is the folder name of another root (and names nothing in the first root) is relative to
  that root: ``backend/src/app.py``. Absolute paths are accepted when they lie inside a root.
- Symbolic links are resolved component by component (``os.path.realpath``) *before* the
  check, so ``..`` after a link counts from the link's target: a link inside pointing outside,
  a new file below a linked folder that points out, and ``link/../x`` where ``link`` leads
  elsewhere are all refused.
- ``~`` and ``$VAR`` are never expanded: a path starting with either is refused, so a model
  cannot mean the user's home by accident. Empty paths and NUL bytes are refused.
- Git's own files are off limits, for reading and for writing: any path with a ``.git``
  component (a folder, or the ``.git`` file of a worktree or submodule), at any depth. The
  comparison ignores case (``.GIT``): on case-insensitive file systems (macOS, Windows) that
  name *is* the git folder, and on Linux refusing an odd folder name costs nothing. Git is
  used through commands, never by editing its files.
- ``.kiro/.specloom/`` (any case, at any depth) holds specloom's own state (audit log, usage
  ledger, checkpoints' bookkeeping): readable, never writable by a tool.

Not covered: a link swapped between the check and the use (commands that could do that run
in the sandbox). Hard links need nothing: writes replace a file by renaming a new one over
it, so a write never travels through a hard link to a file outside.

``Workspace.files`` lists what the agent sees: regular files under a folder, ``.gitignore``
rules applied (every ``.gitignore`` from the root down, and ``.git/info/exclude``), ``.git``
folders skipped, symbolic links not followed, sorted the way ripgrep's ``--sort path`` walks
(entry names in byte order, depth first), so the search tool's two engines agree.

May import: the standard library, ``pathspec`` and ``specloom.errors``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

from specloom.errors import ModelFacingError, WorkspaceError

__all__ = ["Workspace", "is_git_internal", "is_state_path"]

_STATE = (".kiro", ".specloom")


def is_git_internal(parts: Sequence[str]) -> bool:
    """Whether path ``parts`` go through a ``.git`` folder or file (any case)."""
    return any(part.casefold() == ".git" for part in parts)


def is_state_path(parts: Sequence[str]) -> bool:
    """Whether path ``parts`` go through ``.kiro/.specloom`` (any case), specloom's state."""
    folded = [part.casefold() for part in parts]
    return any(tuple(folded[i : i + 2]) == _STATE for i in range(len(folded) - 1))


class Workspace:
    """The folders the agent may touch, and the checks that keep its file tools inside them.

    Attributes:
        roots: The root folders, symbolic links resolved, the first one primary.
    """

    def __init__(self, roots: Sequence[Path]) -> None:
        """Confine the tools to ``roots``.

        Raises:
            WorkspaceError: No roots, or a root that is not a folder.
        """
        if not roots:
            raise WorkspaceError(
                "the agent needs at least one workspace folder.",
                hint="Run specloom inside a project, or name its folder.",
            )
        resolved: list[Path] = []
        for root in roots:
            real = Path(os.path.realpath(Path(root).expanduser()))
            if not real.is_dir():
                raise WorkspaceError(
                    "a workspace root is not a folder.",
                    file=str(root),
                    hint="Name an existing project folder.",
                )
            if real not in resolved:
                resolved.append(real)
        self.roots: tuple[Path, ...] = tuple(resolved)

    @property
    def primary(self) -> Path:
        """The first root: relative paths start here."""
        return self.roots[0]

    def __repr__(self) -> str:
        return f"Workspace({[str(root) for root in self.roots]!r})"

    def resolve(self, path: str | Path, *, write: bool) -> Path:
        """The real path ``path`` names, once it is known to be allowed.

        Args:
            path: A path as a model wrote it: relative to the workspace, or absolute.
            write: Whether the caller will write there (stricter rules apply).

        Returns:
            The absolute path with every symbolic link resolved; it may not exist yet.

        Raises:
            ModelFacingError: The path is outside the roots, inside git's files, or (for a
                write) inside specloom's state; the message says what to do instead.
        """
        text = os.fspath(path)
        if not text.strip():
            raise ModelFacingError("The path is empty: name a file or folder of the workspace.")
        if "\0" in text:
            raise ModelFacingError(f"The path {text!r} contains a NUL character.")
        if text.startswith("~"):
            raise ModelFacingError(
                f"{text!r}: `~` (a home folder) is outside the workspace and is not expanded. "
                + self._where()
            )
        if text.startswith("$"):
            raise ModelFacingError(
                f"{text!r}: environment variables are not expanded in paths. " + self._where()
            )
        real = Path(os.path.realpath(self._anchor(Path(text))))
        root = self.root_of(real)
        if root is None:
            raise ModelFacingError(f"{text!r} is outside the workspace. " + self._where())
        parts = real.relative_to(root).parts
        if is_git_internal(parts):
            raise ModelFacingError(
                f"{text!r} is inside git's own files (.git), which the file tools never read "
                "or write. Use run_command with a git command (git log, git show, git diff) "
                "instead."
            )
        if write and is_state_path(parts):
            raise ModelFacingError(
                f"{text!r} is inside .kiro/.specloom/, specloom's own state, which tools "
                "cannot change."
            )
        return real

    def root_of(self, real: Path) -> Path | None:
        """The innermost root that holds the resolved path ``real``, or ``None``."""
        holders = [root for root in self.roots if real == root or real.is_relative_to(root)]
        return max(holders, key=lambda root: len(root.parts), default=None)

    def display(self, real: Path) -> str:
        """How tools show ``real`` to the model: relative to the first root (``src/app.py``),
        or ``<root folder name>/...`` for the other roots, or absolute when outside them."""
        root = self.root_of(real)
        if root is None:
            return str(real)
        relative = real.relative_to(root).as_posix()
        if root == self.primary:
            return relative
        return root.name if relative == "." else f"{root.name}/{relative}"

    def files(self, start: Path) -> Iterator[Path]:
        """The files the agent sees under the resolved folder ``start``, in walk order.

        ``start`` may also be a file, which is then the only one listed (as ripgrep searches a
        file named on its command line even when ignored).
        """
        root = self.root_of(start)
        if root is None:
            return
        if not start.is_dir():
            if start.is_file():
                yield start
            return
        rules: list[tuple[Path, _Rules]] = []
        if start != root:
            folder = root
            rules = _with_rules(rules, root)
            for part in start.relative_to(root).parts[:-1]:  # the folders above start
                folder = folder / part
                rules = _with_rules(rules, folder)
            if _ignored(start, True, rules):
                rules = []  # a folder named on purpose is listed even when ignored
        yield from _walk(start, rules)

    def _anchor(self, path: Path) -> Path:
        if path.is_absolute():
            return path
        if len(self.roots) > 1 and path.parts:
            first = path.parts[0]
            if not os.path.lexists(self.primary / first):
                for root in self.roots[1:]:
                    if root.name == first:
                        return root.joinpath(*path.parts[1:])
        return self.primary / path

    def _where(self) -> str:
        if len(self.roots) == 1:
            return "Use a path relative to the workspace root (for example `src/app.py`)."
        others = ", ".join(f"`{root.name}/...`" for root in self.roots[1:])
        return (
            "Use a path relative to the first workspace root (for example `src/app.py`), or "
            f"start it with another root's name: {others}."
        )


class _Rules:
    """The ignore rules of one folder (its ``.gitignore``, and ``.git/info/exclude``)."""

    def __init__(self, lines: list[str]) -> None:
        from pathspec import GitIgnoreSpec

        self.spec = GitIgnoreSpec.from_lines(lines)

    def verdict(self, relative: str) -> bool | None:
        """``True`` ignored, ``False`` re-included (``!pattern``), ``None`` no rule matched."""
        return self.spec.check_file(relative).include


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def _with_rules(rules: list[tuple[Path, _Rules]], folder: Path) -> list[tuple[Path, _Rules]]:
    lines = _read_lines(folder / ".gitignore")
    if (folder / ".git").is_dir():
        lines = _read_lines(folder / ".git" / "info" / "exclude") + lines
    if not any(line.strip() and not line.startswith("#") for line in lines):
        return rules
    return [*rules, (folder, _Rules(lines))]


def _ignored(path: Path, is_dir: bool, rules: list[tuple[Path, _Rules]]) -> bool:
    # The deepest folder with a matching rule decides, as in git.
    for folder, folder_rules in reversed(rules):
        relative = path.relative_to(folder).as_posix() + ("/" if is_dir else "")
        verdict = folder_rules.verdict(relative)
        if verdict is not None:
            return verdict
    return False


def _walk(folder: Path, rules: list[tuple[Path, _Rules]]) -> Iterator[Path]:
    rules = _with_rules(rules, folder)
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError:
        return
    for entry in entries:
        if entry.name == ".git":
            continue
        try:
            mode = entry.stat(follow_symlinks=False).st_mode
        except OSError:
            continue
        path = Path(entry.path)
        if stat.S_ISDIR(mode):
            if not _ignored(path, True, rules):
                yield from _walk(path, rules)
        elif stat.S_ISREG(mode) and not _ignored(path, False, rules):
            yield path
