"""Listing and searching the workspace's files: ripgrep when installed, Python otherwise.

Both engines see the same files, ripgrep's view of a folder: ``.gitignore`` rules honoured in
and out of git repositories (``--no-require-git``; ``.ignore``, ``.rgignore`` and the global
git excludes are not read), hidden files included, ``.git`` skipped, symbolic links not
followed, binary files (a NUL byte) skipped, paths in walk order (``--sort path``), and
``$`` matching at the end of a line that ends in CRLF (``--crlf``). Globs are
gitignore-style and match paths relative to the root holding the folder: ``*.py`` at any
depth, ``src/*.py`` from the root; ``!pattern`` leaves matches out. ripgrep runs in that root,
so ``.gitignore`` files above a searched sub-folder count too.

The regex dialects differ at the edges (Rust's ``regex`` has no look-around, Python's ``re``
has no ``\\p{Greek}``); a pattern one engine refuses is reported as a ``ModelFacingError``.
Patterns both engines read alike give the same matches.

May import: the standard library, ``pathspec``, ``specloom.errors`` and
``specloom.agent.confine``.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from specloom.agent.confine import Workspace
from specloom.errors import ModelFacingError

__all__ = ["Match", "find_files", "find_lines", "ripgrep"]

_RG_FLAGS = (
    "--crlf",
    "--no-config",
    "--hidden",
    "--no-require-git",
    "--no-ignore-dot",
    "--no-ignore-global",
    "--sort",
    "path",
)
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class Match:
    """One matching line.

    Attributes:
        path: The file (resolved).
        line: 1-based line number.
        text: The line, without its line ending.
    """

    path: Path
    line: int
    text: str


def ripgrep() -> str | None:
    """The ``rg`` executable, or ``None`` when it is not installed."""
    return shutil.which("rg")


def _glob_filter(glob: str | None) -> Callable[[str], bool]:
    if not glob:
        return lambda relative: True
    from pathspec import GitIgnoreSpec

    negated = glob.startswith("!")
    spec = GitIgnoreSpec.from_lines([glob[1:] if negated else glob])
    return lambda relative: spec.match_file(relative) != negated


def _relative(root: Path, start: Path) -> str:
    relative = start.relative_to(root).as_posix()
    return "." if relative == "." else relative


def find_files(
    workspace: Workspace, start: Path, glob: str | None, limit: int, *, rg: str | None
) -> list[Path]:
    """The files under ``start`` (resolved, inside ``workspace``) that match ``glob``.

    Args:
        workspace: The confined workspace.
        start: The folder (or a file) to list.
        glob: A gitignore-style pattern, or ``None`` for every file.
        limit: Stop after this many.
        rg: The ripgrep executable, or ``None`` for the Python walk.
    """
    root = workspace.root_of(start)
    if root is None:
        return []
    if rg is None:
        matches = _glob_filter(glob)
        walk = (p for p in workspace.files(start) if matches(p.relative_to(root).as_posix()))
        return list(itertools.islice(walk, limit))
    argv = [
        rg,
        "--files",
        *_RG_FLAGS,
        *(["--glob", glob] if glob else []),
        "--glob",
        "!.git",
        "--",
        _relative(root, start),
    ]
    found: list[Path] = []
    with subprocess.Popen(
        argv, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL
    ) as process:
        assert process.stdout is not None
        for raw in process.stdout:
            found.append(root / raw.rstrip(b"\n").decode(errors="replace").removeprefix("./"))
            if len(found) >= limit:
                process.kill()
                break
    return found


def find_lines(
    workspace: Workspace,
    start: Path,
    pattern: str,
    *,
    glob: str | None = None,
    ignore_case: bool = False,
    literal: bool = False,
    limit: int = 100,
    rg: str | None,
) -> list[Match]:
    """The lines under ``start`` that match ``pattern``, in path order, at most ``limit``.

    Raises:
        ModelFacingError: The pattern is not a valid regex for the engine.
    """
    root = workspace.root_of(start)
    if root is None:
        return []
    if rg is not None:
        return _lines_rg(rg, root, start, pattern, glob, ignore_case, literal, limit)
    try:
        regex = re.compile(
            re.escape(pattern) if literal else pattern, re.IGNORECASE if ignore_case else 0
        )
    except re.error as error:
        raise ModelFacingError(
            f"The search failed: {pattern!r} is not a valid regular expression: {error}."
        ) from None
    return list(itertools.islice(_lines_python(workspace, root, start, regex, glob), limit))


def _lines_python(
    workspace: Workspace, root: Path, start: Path, regex: re.Pattern[str], glob: str | None
) -> Iterator[Match]:
    matches = _glob_filter(glob) if start.is_dir() else (lambda relative: True)
    for path in workspace.files(start):
        if not matches(path.relative_to(root).as_posix()):
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if b"\0" in data:
            continue
        if data.startswith(_BOM):
            data = data[len(_BOM) :]
        lines = data.decode("utf-8", errors="replace").split("\n")
        if lines[-1] == "":
            lines.pop()
        for number, line in enumerate(lines, start=1):
            line = line.removesuffix("\r")
            if regex.search(line):
                yield Match(path, number, line)


def _lines_rg(
    rg: str,
    root: Path,
    start: Path,
    pattern: str,
    glob: str | None,
    ignore_case: bool,
    literal: bool,
    limit: int,
) -> list[Match]:
    argv = [
        rg,
        "--json",
        *_RG_FLAGS,
        *(["--ignore-case"] if ignore_case else []),
        *(["--fixed-strings"] if literal else []),
        *(["--glob", glob] if glob else []),
        "--glob",
        "!.git",
        "--regexp",
        pattern,
        "--",
        _relative(root, start),
    ]
    found: list[Match] = []
    # stderr goes to a file: a pipe nobody reads could fill up and stall ripgrep.
    with tempfile.TemporaryFile() as errors:
        with subprocess.Popen(
            argv, cwd=root, stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL
        ) as process:
            assert process.stdout is not None
            for raw in process.stdout:
                message = json.loads(raw)
                if message.get("type") != "match":
                    continue
                data = message["data"]
                path = root / _text(data["path"]).removeprefix("./")
                text = _text(data["lines"]).removesuffix("\n").removesuffix("\r")
                found.append(Match(path, data["line_number"], text))
                if len(found) >= limit:
                    process.kill()
                    break
        errors.seek(0)
        complaint = errors.read().decode("utf-8", errors="replace").strip()
    # Exit status 2 also reports unreadable files ("(os error 13)"): only a pattern or glob
    # that ripgrep cannot use is the model's to fix.
    problems = [line for line in complaint.splitlines() if "(os error" not in line]
    if process.returncode == 2 and not found and problems:
        raise ModelFacingError("The search failed: " + "\n".join(problems))
    return found


def _text(value: dict[str, str]) -> str:
    if "text" in value:
        return value["text"]
    return base64.b64decode(value["bytes"]).decode("utf-8", errors="replace")
