"""A task's request in the whole-file edit format: the project's files, the task, the ask.

Models with a small context window (the embedded one) run tasks without tools
(``specloom.agent.whole_files``): they cannot open a file, so the request shows them the files
they may need, and they answer with the files they change written out in full.
``project_files`` picks the project's text files (those the task names, then the most
recently changed, each shown whole while the budget lasts, the rest named only);
``with_files`` adds them to the run's context block, in the system instructions. The request
itself (``whole_file_request``) is the task prompt, how the last attempt went, and what to
answer (``task_steps.step_ask``: every file, or one step's), last: a small model given the
files in the request tends to copy the request back before it answers, which costs the output
tokens it needs for the files.

``edit_format_for`` picks the format: ``run.edit_format`` in settings (``auto``, ``tools`` or
``whole``); ``auto`` chooses ``whole`` for a model whose window is under ``WHOLE_FILE_WINDOW``
tokens.

May import: the standard library, ``pydantic_ai`` (types), ``specloom.settings`` and
``specloom.agent`` (``confine``, ``context``, ``loop``, ``missing_imports``, ``runtime``) and
``specloom.workflows.task_steps``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from specloom.agent.confine import Workspace as Confinement
from specloom.agent.context import Context, ContextPart
from specloom.agent.loop import EditFormat
from specloom.settings import Settings
from specloom.workflows.task_steps import is_source, step_ask

if TYPE_CHECKING:
    from pydantic_ai.models import Model

__all__ = [
    "CACHE_PARTS",
    "WHOLE_FILE_WINDOW",
    "ShownFiles",
    "answer_tokens",
    "edit_format_for",
    "is_cache",
    "likely_files",
    "project_files",
    "request_chars",
    "whole_file_request",
    "with_files",
]

WHOLE_FILE_WINDOW = 16_384
"""``auto`` uses the whole-file format for models whose window (tokens) is smaller."""
CACHE_PARTS = frozenset(
    {"__pycache__", ".pytest_cache", ".hypothesis", ".mypy_cache", ".ruff_cache", ".tox",
     "node_modules", ".venv", "venv", ".coverage", ".nox", ".cache"}
)  # fmt: skip
"""Folder and file names of tools' caches: never shown, and changes below them do not count."""
_FILE_CHARS = 12_000
"""Larger files are named, never shown whole."""
_CHARS_PER_TOKEN = 3.2
"""Code and markdown run at about 3 to 4 characters a token; count low to stay inside."""
_EDIT_FORMATS = ("auto", "tools", "whole")


def is_cache(path: str) -> bool:
    """Whether ``path`` (relative, ``/``-separated) lies in a tool's cache (or is bytecode)."""
    parts = PurePosixPath(path).parts
    return any(part in CACHE_PARTS for part in parts) or path.endswith((".pyc", ".pyo"))


def edit_format_for(model: Model, settings: Settings) -> EditFormat:
    """The edit format of task runs with ``model`` (see the module docstring).

    Raises:
        SettingsError: ``run.edit_format`` is not ``auto``, ``tools`` or ``whole``.
    """
    from specloom.agent.runtime import context_window

    value = settings.get("run", "edit_format")
    if value is None:
        value = "auto"
    if value not in _EDIT_FORMATS:
        raise settings.error(
            f"`run.edit_format` must be one of {', '.join(_EDIT_FORMATS)}, not {value!r}",
            "run",
            "edit_format",
        )
    if value == "tools" or value == "whole":
        return value
    window = context_window(model)
    return "whole" if window is not None and window < WHOLE_FILE_WINDOW else "tools"


def answer_tokens(window: int | None) -> int:
    """Output tokens kept for a whole-file answer: half the window, at most 4,096."""
    return min(4_096, (window or 8_192) // 2)


def request_chars(window: int | None) -> int:
    """Characters the whole request (instructions and prompt) may take: what the window
    holds once the answer's share is kept free."""
    tokens = (window or 8_192) - answer_tokens(window)
    return int(tokens * _CHARS_PER_TOKEN)


@dataclass(frozen=True, slots=True)
class ShownFiles:
    """The files a request shows.

    Attributes:
        shown: ``(path, text)`` of the files shown whole, in the order shown.
        named: Other files of the project, named only (no room, too large or not text).
    """

    shown: list[tuple[str, str]] = field(default_factory=list)
    named: list[str] = field(default_factory=list)


def project_files(
    workdir: Path, *, first: Sequence[str] = (), budget: int, leave_out: Sequence[str] = ()
) -> ShownFiles:
    """The project's files for a request: ``first`` (that exist), then the most recently
    changed, each whole while ``budget`` characters last; ``leave_out`` only named.

    Hidden files and folders, tools' caches and what ``.gitignore`` leaves out are skipped.
    """
    root = workdir.resolve()
    candidates: list[tuple[str, Path]] = []
    for path in Confinement([root]).files(root):
        relative = path.relative_to(root).as_posix()
        parts = PurePosixPath(relative).parts
        if any(part.startswith(".") for part in parts) or is_cache(relative):
            continue
        candidates.append((relative, path))
    wanted = {PurePosixPath(name).as_posix().removeprefix("./") for name in first}

    def order(item: tuple[str, Path]) -> tuple[int, float, str]:
        relative, path = item
        try:
            changed = path.stat().st_mtime
        except OSError:
            changed = 0.0
        return (0 if relative in wanted else 1, -changed, relative)

    result = ShownFiles()
    left = budget
    for relative, path in sorted(candidates, key=order):
        text = None if relative in leave_out else _text(path)
        cost = len(relative) + len(text or "") + 12
        if text is None or cost > left:
            result.named.append(relative)
            continue
        result.shown.append((relative, text))
        left -= cost
    result.named.sort()
    return result


def _text(path: Path) -> str | None:
    """The file's text, or ``None`` for a large or binary file."""
    try:
        if os.path.getsize(path) > _FILE_CHARS:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def likely_files(workdir: Path, named: Sequence[str], files: ShownFiles) -> list[str]:
    """The files a task will probably write: those it names, else the project's Python
    source files (at most three), each Python module with its pytest file beside it
    (``tests/test_<name>.py`` where there is a ``tests`` folder).

    Small models write to the paths a request suggests; without any they invent some.
    """
    chosen = [name for name in named if PurePosixPath(name).suffix]
    if not chosen:
        present = [path for path, _ in files.shown] + list(files.named)
        chosen = sorted(path for path in present if is_source(path))[:3]
    tests = "tests/" if (workdir / "tests").is_dir() else ""
    out: list[str] = []
    for path in chosen:
        out.append(path)
        if is_source(path):
            out.append(f"{tests}test_{PurePosixPath(path).stem}.py")
    return list(dict.fromkeys(out))


def with_files(context: Context, files: ShownFiles) -> Context:
    """``context`` with the files shown, one ``file`` part each, after its own parts."""
    parts = list(context.parts)
    for path, text in files.shown:
        fence = _fence(text)
        block = f"{fence}{_language(path)}\n{text.rstrip(chr(10))}\n{fence}"
        parts.append(ContextPart("file", path, block, "the project's file as it is now"))
    return Context(parts, list(context.problems))


def whole_file_request(
    task_prompt: str,
    *,
    named: Sequence[str] = (),
    likely: Sequence[str] = (),
    feedback: str | None = None,
    notes: Sequence[str] = (),
    ask: str | None = None,
) -> str:
    """The request of one attempt, or of one step of it (see the module docstring).

    Args:
        task_prompt: The task's focused prompt (``build_task_prompt(whole_files=True)``).
        named: Files of the project not shown (``ShownFiles.named``).
        likely: The files the task will probably write (``likely_files``).
        feedback: How the last attempt's verification failed (``feedback_prompt``).
        notes: What became of the last answer's files (``AgentResult.file_blocks``).
        ask: What to answer (``task_steps.step_ask``); by default every file of the task.
    """
    out = [task_prompt.rstrip()]
    if named:
        out += ["", f"Also in the project (not shown): {', '.join(named)}"]
    if notes:
        out += ["", "## Your last answer", *(f"- {note}" for note in notes)]
    if feedback:
        out += ["", "## The last attempt", feedback.rstrip()]
    out += ["", (ask if ask is not None else step_ask("all", likely)).rstrip()]
    return "\n".join(out) + "\n"


def _fence(text: str) -> str:
    longest = 0
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            longest = max(longest, len(stripped) - len(stripped.lstrip("`")))
    return "`" * max(3, longest + 1)


_LANGUAGE_OF = {".py": "python", ".toml": "toml", ".json": "json", ".md": "markdown",
                ".yaml": "yaml", ".yml": "yaml", ".js": "javascript", ".ts": "typescript",
                ".sh": "bash", ".cfg": "ini", ".ini": "ini"}  # fmt: skip


def _language(path: str) -> str:
    return _LANGUAGE_OF.get(PurePosixPath(path).suffix.lower(), "")
