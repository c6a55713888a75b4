"""Running the git command line: argument lists (never a shell), a predictable environment,
bytes out.

``Git.run`` starts ``git`` with the variables that would point it at another repository,
index or configuration (``GIT_DIR``, ``GIT_INDEX_FILE``, ``GIT_CONFIG_PARAMETERS``...)
removed from the inherited environment, so a caller that runs inside a git hook, or under
a user's exported ``GIT_DIR``, still works on exactly the repository it names. Messages
are in the C locale (so callers can recognise them), git never prompts, and optional
locks are off (``--no-optional-locks``), so reading never rewrites the user's index.

A failing command is not an exception: the caller gets a ``GitResult`` and decides what
the failure means. A missing ``git`` executable reads as exit status 127 and a command
that runs past its timeout as 124, as a shell would report them.

Also here: ``init_detached`` (a repository kept apart from the folder it tracks) and
``exclusive_lock`` (a lock file that serialises processes and threads alike).

May import: the standard library only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "NOT_FOUND",
    "PRIVATE_CONFIG",
    "REPOSITORY_VARIABLES",
    "TIMED_OUT",
    "Git",
    "GitResult",
    "decode_path",
    "config_options",
    "exclusive_lock",
    "identity",
    "init_detached",
]

PRIVATE_CONFIG = (
    ("core.hooksPath", os.devnull),
    ("core.fsmonitor", "false"),
    ("core.quotePath", "false"),
    ("core.splitIndex", "false"),
    ("core.autocrlf", "false"),
    ("core.safecrlf", "false"),
    ("commit.gpgSign", "false"),
)
"""Settings for the git commands specloom runs on its own indexes, refs and worktrees: no user
hooks (they would run on specloom's private work), no fsmonitor or split index in a private
index, no signing, and no line-ending conversion or safecrlf refusal, so files move byte for
byte."""


def config_options(*extra: tuple[str, str]) -> list[str]:
    """``-c key=value`` arguments for ``PRIVATE_CONFIG`` and ``extra``."""
    return [part for key, value in (*PRIVATE_CONFIG, *extra) for part in ("-c", f"{key}={value}")]


def identity(email: str) -> dict[str, str]:
    """The author and committer variables of commits specloom makes (as ``specloom``)."""
    return {
        "GIT_AUTHOR_NAME": "specloom",
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": "specloom",
        "GIT_COMMITTER_EMAIL": email,
    }


REPOSITORY_VARIABLES = (
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_CONFIG",
    "GIT_CONFIG_COUNT",
    "GIT_CONFIG_PARAMETERS",
    "GIT_DIR",
    "GIT_GRAFT_FILE",
    "GIT_IMPLICIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_INTERNAL_SUPER_PREFIX",
    "GIT_NAMESPACE",
    "GIT_NO_REPLACE_OBJECTS",
    "GIT_OBJECT_DIRECTORY",
    "GIT_PREFIX",
    "GIT_REPLACE_REF_BASE",
    "GIT_SHALLOW_FILE",
    "GIT_WORK_TREE",
)
"""Inherited variables that would make git use another repository, index or config
(``git rev-parse --local-env-vars`` and the ``git -c`` channel); never passed on."""

NOT_FOUND = 127
"""Exit status of a command whose ``git`` executable does not exist."""
TIMED_OUT = 124
"""Exit status of a command that ran past its timeout (and was killed)."""


def decode_path(raw: bytes) -> str:
    """A path as git printed it (with ``-z``: unquoted bytes) as a ``str``.

    Names that are not valid UTF-8 keep their bytes as surrogates (``os.fsdecode``), so
    they can be passed back to git or to ``open`` unchanged.
    """
    return os.fsdecode(raw)


@dataclass(frozen=True, slots=True)
class GitResult:
    """What one git command did.

    Attributes:
        args: The arguments after ``git``.
        returncode: The exit status (127: git is not installed; 124: it timed out).
        stdout: Standard output, as bytes.
        stderr: Standard error, as bytes.
    """

    args: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        """Whether the command exited with status 0."""
        return self.returncode == 0

    @property
    def text(self) -> str:
        """Standard output as text, without the trailing newline."""
        return self.stdout.decode("utf-8", errors="replace").rstrip("\n")

    @property
    def error_text(self) -> str:
        """Standard error as one line of text (what git said went wrong)."""
        lines = self.stderr.decode("utf-8", errors="replace").strip().splitlines()
        return " ".join(line.strip() for line in lines if line.strip())


class Git:
    """Runs the ``git`` command line.

    Attributes:
        executable: The git program (a name looked up on ``PATH``, or a path).
        timeout: Seconds a command may run before it is killed.
    """

    def __init__(self, executable: str = "git", *, timeout: float = 600.0) -> None:
        self.executable = executable
        self.timeout = timeout

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment git runs in: the inherited one without ``REPOSITORY_VARIABLES``,
        in the C locale, never prompting, plus ``extra``."""
        env = {name: value for name, value in os.environ.items() if name not in
               REPOSITORY_VARIABLES}  # fmt: skip
        env.update(LC_ALL="C", LANGUAGE="C", GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0")
        if extra:
            env.update(extra)
        return env

    def run(
        self,
        args: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        stdin: bytes | None = None,
    ) -> GitResult:
        """Run ``git <args>`` in ``cwd`` and wait for it.

        Args:
            args: The arguments after ``git`` (global options first, then the command).
            cwd: The folder it runs in.
            env: Variables added to ``environment()`` (``GIT_DIR``, ``GIT_INDEX_FILE``...).
            stdin: Bytes for its standard input (none: it reads an empty input).

        Returns:
            The exit status and both outputs; a failure is returned, not raised.
        """
        command = [self.executable, "--no-optional-locks", *args]
        try:
            completed = subprocess.run(
                command,
                cwd=cwd,
                env=self.environment(env),
                input=stdin if stdin is not None else b"",
                capture_output=True,
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError:
            if not cwd.is_dir():
                raise
            message = f"{self.executable}: command not found\n".encode()
            return GitResult(tuple(args), NOT_FOUND, b"", message)
        except subprocess.TimeoutExpired as expired:
            message = f"git {' '.join(args[:3])}: timed out after {self.timeout:.0f} s\n"
            stdout = expired.stdout if isinstance(expired.stdout, bytes) else b""
            return GitResult(tuple(args), TIMED_OUT, stdout, message.encode())
        return GitResult(tuple(args), completed.returncode, completed.stdout, completed.stderr)


def init_detached(git: Git, git_dir: Path, work_tree: Path, description: str) -> GitResult | None:
    """Create a repository at ``git_dir`` whose work tree is ``work_tree`` (elsewhere).

    It is made in a temporary folder beside ``git_dir`` and renamed into place, so that
    processes creating it at the same moment end up sharing one. Nothing happens when it
    exists already.

    Returns:
        ``None`` on success, or the git command that failed.
    """
    if (git_dir / "HEAD").is_file():
        return None
    git_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{git_dir.name}.", dir=git_dir.parent))
    try:
        for args in (
            ["init", "--quiet", "--bare", str(staging)],
            ["--git-dir", str(staging), "config", "core.bare", "false"],
            ["--git-dir", str(staging), "config", "core.worktree", str(work_tree)],
        ):
            result = git.run(args, cwd=git_dir.parent)
            if not result.ok:
                return result
        (staging / "description").write_text(description + "\n", encoding="utf-8")
        try:
            os.rename(staging, git_dir)
        except OSError:
            if not (git_dir / "HEAD").is_file():  # not another process's repository
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return None


@contextmanager
def exclusive_lock(path: Path, timeout: float) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (created if missing) while in the block.

    The operating system releases the lock when its holder ends, so a crash never leaves
    a stale lock behind. Two threads of one process exclude each other too (each opens
    the file anew).

    Raises:
        TimeoutError: Another holder kept it for ``timeout`` seconds.
    """
    with open(path, "a+b") as handle:
        deadline = time.monotonic() + timeout
        while not _try_lock(handle.fileno()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path} stayed locked for {timeout:.0f} s")
            time.sleep(0.005)
        try:
            yield
        finally:
            _unlock(handle.fileno())


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(descriptor: int) -> bool:
        try:
            msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(descriptor: int) -> None:
        msvcrt.locking(descriptor, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(descriptor: int) -> bool:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(descriptor: int) -> None:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
