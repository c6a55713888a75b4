"""The file tools: read, list, search, write and edit files of the workspace.

Each is a plain async function whose first argument is a ``ToolEnv``. Paths go through the
workspace's confinement first; writes and edits build a unified diff, ask ``env.approve``,
await ``env.before_change`` and then replace the file atomically. Errors the model can fix
raise ``ModelFacingError`` with a message that says how (an edit whose text is not in the
file shows the most similar lines).

May import: the standard library, ``anyio``, ``specloom.errors``, ``specloom.workspace`` and
``specloom.agent.search``, ``.tool_env``.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import anyio.to_thread

from specloom.agent import search
from specloom.agent.tool_env import ApprovalRequest, CallRecord, ToolEnv, ask_approval, audited
from specloom.errors import ModelFacingError
from specloom.workspace import atomic_write

__all__ = ["edit_file", "list_files", "read_file", "search_files", "write_file"]

_BOM = "\ufeff"
_BINARY_SNIFF = 8192
_MAX_READ_BYTES = 20 * 1024 * 1024
_MAX_MATCH_CHARS = 300
_MAX_DIFF_LINES = 400


def _regular_file(env: ToolEnv, real: Path, shown: str) -> None:
    if real.is_dir():
        raise ModelFacingError(f"{shown!r} is a folder: list its files with list_files.")
    if not real.exists():
        raise ModelFacingError(f"{shown!r} does not exist.{_suggest(env, real)}")
    if not real.is_file():
        raise ModelFacingError(f"{shown!r} is not a regular file (a device, socket or pipe).")


def _suggest(env: ToolEnv, real: Path) -> str:
    root = env.workspace.root_of(real) or env.workspace.primary
    files = search.find_files(env.workspace, root, None, 20_000, rg=search.ripgrep())
    known = [env.workspace.display(path) for path in files]
    wanted = env.workspace.display(real)
    same_name = [path for path in known if path.rsplit("/", 1)[-1] == real.name]
    close = difflib.get_close_matches(wanted, known, n=3, cutoff=0.6)
    found = list(dict.fromkeys([*same_name[:3], *close]))[:4]
    return f" Did you mean: {', '.join(found)}?" if found else " list_files shows what exists."


def _decode(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace")
    return text[1:] if text.startswith(_BOM) else text


def _split_lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _count(number: int, noun: str) -> str:
    return (
        f"{number} {noun}"
        if number == 1
        else f"{number} {noun}{'es' if noun.endswith('h') else 's'}"
    )


def _numbered(number: int, line: str, limit: int) -> str:
    line = line.rstrip("\r")
    if len(line) > limit:
        line = f"{line[:limit]} [... line cut: {len(line)} characters]"
    return f"{number:>6}\t{line}"


async def read_file(
    env: ToolEnv, path: str, start_line: int | None = None, end_line: int | None = None
) -> str:
    """A text file's lines, numbered like ``cat -n``, within the read caps.

    Args:
        env: The tool environment.
        path: The file, relative to the workspace or absolute inside it.
        start_line: First line to show (1-based; default 1).
        end_line: Last line to show (inclusive; default the last).

    Returns:
        The numbered lines, and a closing note when the caps cut the range short.

    Raises:
        ModelFacingError: The path is refused, missing, a folder, binary, or the range is
            outside the file.
    """
    with audited(env, "read_file", {"path": path, "start_line": start_line, "end_line": end_line}):
        real = env.workspace.resolve(path, write=False)
        shown = env.workspace.display(real)
        _regular_file(env, real, shown)
        size = real.stat().st_size
        if size > _MAX_READ_BYTES:
            raise ModelFacingError(
                f"{shown!r} is {size} bytes, too large to read; use search_files to find the "
                "lines you need, or run_command with head, tail or sed."
            )
        data = real.read_bytes()
        if b"\0" in data[:_BINARY_SNIFF]:
            raise ModelFacingError(f"{shown!r} is a binary file ({size} bytes), not text.")
        lines = _split_lines(_decode(data))
        if not lines:
            return f"({shown} is empty)"
        first = start_line if start_line is not None else 1
        last = min(end_line if end_line is not None else len(lines), len(lines))
        if first < 1 or first > len(lines):
            raise ModelFacingError(
                f"start_line {first} is outside {shown!r}, which has {len(lines)} lines."
            )
        if last < first:
            raise ModelFacingError(f"end_line {end_line} is before start_line {first}.")
        shown_lines: list[str] = []
        used = 0
        limits = env.limits
        for number in range(first, last + 1):
            text = _numbered(number, lines[number - 1], limits.read_max_line_chars)
            if shown_lines and (
                len(shown_lines) >= limits.read_max_lines
                or used + len(text) > limits.read_max_chars
            ):
                break
            shown_lines.append(text)
            used += len(text) + 1
        shown_last = first + len(shown_lines) - 1
        if shown_last < last:
            shown_lines.append(
                f"[showing lines {first}-{shown_last} of {len(lines)}; read on with "
                f"start_line={shown_last + 1}]"
            )
        return "\n".join(shown_lines)


def _where(env: ToolEnv, real: Path) -> str:
    shown = env.workspace.display(real)
    return "the workspace" if shown == "." else shown


def _target(env: ToolEnv, path: str) -> Path:
    real = env.workspace.resolve(path, write=False)
    if not real.exists():
        raise ModelFacingError(
            f"{env.workspace.display(real)!r} does not exist.{_suggest(env, real)}"
        )
    return real


async def list_files(
    env: ToolEnv, path: str = ".", glob: str | None = None, max_results: int | None = None
) -> str:
    """The files under a folder, ignored ones left out, one path a line.

    Args:
        env: The tool environment.
        path: A folder (or file) of the workspace.
        glob: A gitignore-style pattern the paths must match (``*.py``, ``src/**/*.ts``);
            ``!pattern`` leaves matches out.
        max_results: Most paths to return (capped by ``limits.list_max_results``).

    Returns:
        The paths and a count; a note when there are more.

    Raises:
        ModelFacingError: The path is refused or missing.
    """
    with audited(env, "list_files", {"path": path, "glob": glob, "max_results": max_results}):
        real = _target(env, path)
        cap = min(max_results or env.limits.list_max_results, env.limits.list_max_results)
        rg = search.ripgrep()
        found = await anyio.to_thread.run_sync(
            lambda: search.find_files(env.workspace, real, glob, cap + 1, rg=rg)
        )
        lines = [env.workspace.display(item) for item in found[:cap]]
        if not lines:
            return f"No files in {_where(env, real)}" + (f" match {glob!r}." if glob else ".")
        if len(found) > cap:
            lines.append(
                f"[showing the first {cap} files; there are more: name a sub-folder or a glob]"
            )
        else:
            lines.append(f"[{_count(len(lines), 'file')}]")
        return "\n".join(lines)


async def search_files(
    env: ToolEnv,
    pattern: str,
    path: str = ".",
    glob: str | None = None,
    ignore_case: bool = False,
    literal: bool = False,
    max_results: int | None = None,
) -> str:
    """Lines matching a regular expression, as ``path:line: text``, in path order.

    Args:
        env: The tool environment.
        pattern: The regular expression (or plain text with ``literal``).
        path: The folder or file to search.
        glob: A gitignore-style pattern the file paths must match.
        ignore_case: Match without regard to case.
        literal: Treat ``pattern`` as plain text.
        max_results: Most matching lines (default 100; capped by
            ``limits.search_max_results``).

    Returns:
        The matches and a count; a note when there are more.

    Raises:
        ModelFacingError: The path is refused or missing, or the pattern is invalid.
    """
    arguments: dict[str, object] = {
        "pattern": pattern,
        "path": path,
        "glob": glob,
        "ignore_case": ignore_case,
        "literal": literal,
        "max_results": max_results,
    }
    with audited(env, "search_files", arguments):
        real = _target(env, path)
        cap = min(max_results or 100, env.limits.search_max_results)
        rg = search.ripgrep()
        found = await anyio.to_thread.run_sync(
            lambda: search.find_lines(
                env.workspace,
                real,
                pattern,
                glob=glob,
                limit=cap + 1,
                ignore_case=ignore_case,
                literal=literal,
                rg=rg,
            )
        )
        if not found:
            return f"No matches for {pattern!r} in {_where(env, real)}."
        lines: list[str] = []
        for match in found[:cap]:
            text = match.text
            if len(text) > _MAX_MATCH_CHARS:
                text = text[:_MAX_MATCH_CHARS] + " [...]"
            lines.append(f"{env.workspace.display(match.path)}:{match.line}: {text}")
        if len(found) > cap:
            lines.append(
                f"[showing the first {cap} matches; there are more: narrow the "
                "pattern, the path or the glob]"
            )
        else:
            files = len({match.path for match in found})
            lines.append(f"[{_count(len(found), 'match')} in {_count(files, 'file')}]")
        return "\n".join(lines)


def _diff(shown: str, old: str, new: str) -> str:
    lines = list(
        difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{shown}", f"b/{shown}"
        )
    )
    lines = [
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    ]
    if len(lines) > _MAX_DIFF_LINES:
        lines = lines[:_MAX_DIFF_LINES] + [
            f"[... {len(lines) - _MAX_DIFF_LINES} more diff lines]\n"
        ]
    return "".join(lines)


def _counts(diff: str) -> str:
    body = diff.split("\n@@", 1)[1] if "\n@@" in diff else ""
    lines = body.splitlines()[1:]  # past the first hunk header
    added = sum(1 for line in lines if line.startswith("+"))
    removed = sum(1 for line in lines if line.startswith("-"))
    return f"+{added} -{removed} lines"


def _text_of(real: Path, shown: str) -> str:
    data = real.read_bytes()
    if b"\0" in data[:_BINARY_SNIFF]:
        raise ModelFacingError(f"{shown!r} is a binary file; the file tools only change text.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelFacingError(
            f"{shown!r} is not UTF-8 text; change it with a command instead (run_command)."
        ) from None


async def _change(env: ToolEnv, call: CallRecord, real: Path, text: str) -> None:
    await env.before_change([real])
    try:
        atomic_write(real, text)
    except OSError as error:
        raise ModelFacingError(
            f"Cannot write {env.workspace.display(real)!r}: {error.strerror or error}."
        ) from None
    call.paths.append(real)


async def write_file(env: ToolEnv, path: str, content: str) -> str:
    """Create or replace a text file, atomically, creating missing folders; asks first.

    Args:
        env: The tool environment.
        path: The file, relative to the workspace or absolute inside it.
        content: The whole new content, written exactly (line endings included).

    Returns:
        What was written.

    Raises:
        ModelFacingError: The path is refused or is a folder, or the user declined.
    """
    with audited(env, "write_file", {"path": path, "content": content}) as call:
        real = env.workspace.resolve(path, write=True)
        shown = env.workspace.display(real)
        if real.is_dir():
            raise ModelFacingError(f"{shown!r} is a folder, not a file.")
        if real.exists() and not real.is_file():
            raise ModelFacingError(f"{shown!r} is not a regular file.")
        old = _text_of(real, shown) if real.exists() else None
        count = len(_split_lines(content))
        if old == content:
            return f"{shown} already has this content; nothing was written."
        diff = _diff(shown, old or "", content)
        summary = (
            f"create {shown} ({count} lines)"
            if old is None
            else f"replace {shown} ({_counts(diff)})"
        )
        await ask_approval(
            env,
            ApprovalRequest(
                "write", "write_file", summary, shown, real, diff=diff, new_file=old is None
            ),
        )
        await _change(env, call, real, content)
        if old is None:
            call.summary = f"Created {shown} ({count} lines)."
        else:
            call.summary = f"Replaced {shown} ({count} lines; {_counts(diff)})."
        return call.summary


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _occurrences(text: str, needle: str) -> list[int]:
    found: list[int] = []
    start = text.find(needle)
    while start >= 0:
        found.append(start)
        start = text.find(needle, start + len(needle))
    return found


def _no_match(shown: str, text: str, old_text: str) -> str:
    message = f"old_text was not found in {shown}."
    if " ".join(old_text.split()) and " ".join(old_text.split()) in " ".join(text.split()):
        message += (
            " The same words are in the file with different white space or "
            "indentation: copy the lines exactly as read_file shows them."
        )
    if re.search(r"^\s*\d+\t", old_text, re.MULTILINE):
        message += " Leave out the line numbers and the tab that read_file puts before each line."
    lines = _split_lines(text)
    wanted = old_text.strip("\n").split("\n")
    first = next((line.strip() for line in wanted if line.strip()), "")
    best: tuple[float, int] = (0.0, -1)
    if first and lines:
        scored: list[tuple[float, int]] = []
        for index, line in enumerate(lines[:50_000]):
            matcher = difflib.SequenceMatcher(None, first, line.strip(), autojunk=False)
            if matcher.real_quick_ratio() > 0.5 and matcher.quick_ratio() > 0.5:
                scored.append((matcher.ratio(), index))
        for _, index in sorted(scored, reverse=True)[:5]:
            window = "\n".join(lines[index : index + len(wanted)])
            ratio = difflib.SequenceMatcher(None, old_text.strip("\n"), window).ratio()
            best = max(best, (ratio, index))
    if best[1] < 0 or best[0] < 0.4:
        return message + " No similar lines are in the file: read it again with read_file."
    start = best[1]
    window = [
        _numbered(n + 1, lines[n], 300)
        for n in range(start, min(start + max(len(wanted), 1), start + 20, len(lines)))
    ]
    return (
        message
        + " The most similar lines in the file are:\n"
        + "\n".join(window)
        + "\nCopy the text exactly from these lines (without the line numbers)."
    )


async def edit_file(
    env: ToolEnv, path: str, old_text: str, new_text: str, replace_all: bool = False
) -> str:
    """Replace an exact piece of text in a file; asks first.

    Args:
        env: The tool environment.
        path: The file to edit.
        old_text: Text that is in the file exactly once (or several times with
            ``replace_all``).
        new_text: What replaces it.
        replace_all: Replace every occurrence.

    Returns:
        What changed and the edited lines, numbered.

    Raises:
        ModelFacingError: The file is refused or missing, ``old_text`` is not found (the
            message shows the most similar lines) or found several times, or the user
            declined.
    """
    arguments: dict[str, object] = {
        "path": path,
        "old_text": old_text,
        "new_text": new_text,
        "replace_all": replace_all,
    }
    with audited(env, "edit_file", arguments) as call:
        real = env.workspace.resolve(path, write=True)
        shown = env.workspace.display(real)
        if not real.exists() and not real.is_symlink():
            raise ModelFacingError(
                f"{shown!r} does not exist; create it with write_file.{_suggest(env, real)}"
            )
        _regular_file(env, real, shown)
        text = _text_of(real, shown)
        if not old_text:
            raise ModelFacingError(
                "old_text is empty: give the exact text to replace; to create a file or "
                "replace all of it, use write_file."
            )
        if old_text == new_text:
            raise ModelFacingError("old_text and new_text are the same: nothing would change.")
        old, new = old_text, new_text
        found = _occurrences(text, old)
        if not found and "\r\n" in text and "\r\n" not in old:  # a CRLF file, LF text
            old = old.replace("\n", "\r\n")
            new = new.replace("\r\n", "\n").replace("\n", "\r\n")
            found = _occurrences(text, old)
        if not found:
            raise ModelFacingError(_no_match(shown, text, old_text))
        if len(found) > 1 and not replace_all:
            where = ", ".join(str(_line_of(text, offset)) for offset in found[:20])
            raise ModelFacingError(
                f"old_text occurs {len(found)} times in {shown} (at lines {where}). Include "
                "more of the surrounding lines so that it matches once, or set replace_all "
                "to replace every occurrence."
            )
        updated = text.replace(old, new) if replace_all else text.replace(old, new, 1)
        diff = _diff(shown, text, updated)
        replaced = len(found) if replace_all else 1
        await ask_approval(
            env,
            ApprovalRequest(
                "edit", "edit_file", f"edit {shown} ({_counts(diff)})", shown, real, diff=diff
            ),
        )
        await _change(env, call, real, updated)
        first = _line_of(updated, found[0])
        lines = _split_lines(updated)
        last = min(first + new.rstrip("\n").count("\n") + 2, len(lines))
        shown_lines = [_numbered(n, lines[n - 1], 300) for n in range(max(first - 2, 1), last + 1)]
        plural = "s" if replaced > 1 else ""
        call.summary = f"Edited {shown}: replaced {replaced} occurrence{plural} ({_counts(diff)})."
        return f"{call.summary} Around the first change:\n" + "\n".join(shown_lines[:40])
