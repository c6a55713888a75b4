"""Whole-file answers: for models too small to drive the tools, the files are in the answer.

A model with a small context window (the embedded one holds 8,192 tokens) cannot keep the tool
definitions, the standing instructions and the work in view at once; it then answers with code
in its text instead of calling ``write_file``. In the whole-file edit format the model gets no
tools: what it needs to see is in its instructions, and it answers with every file it changes
written out in full, its path on the line before a fenced block::

    wordcount.py
    ```python
    import sys
    ...
    ```

``parse_file_blocks`` reads such an answer leniently, as small models write it: the path may
also be in the fence's info string (```` ```python wordcount.py ````), in a heading, in bold or
backticks, after ``File:``, or in a comment on the block's first line; the folder of the
instructions' example path (``path/to/``) before a real name is dropped. A block that leaves code
out (``# ... rest of the file unchanged``) is refused for a file that exists, since writing it
would delete the rest; a test file that still holds the placeholders of the start it was given
(``assert count(...) == ...``) is refused too, and a later copy of it does not replace the
real file written before it; a block with no path is reported, not guessed at. The agent loop writes
the blocks through the ``write_file`` tool, so approvals, checkpoints, the audit log and tool
hooks see each one as a tool call.

Python files get the imports they lack (``specloom.agent.missing_imports``): a name the file
uses and never binds that the standard library, a test library or exactly one of the project's
modules provides; tests get the pytest fixtures they use as parameters. The note of the write
says what was added.

May import: the standard library, ``specloom.errors``, ``specloom.agent.tool_env``,
``specloom.agent.file_tools`` and ``specloom.agent.missing_imports`` (and, for their types,
``specloom.hooks``).
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from specloom.agent.file_tools import write_file
from specloom.agent.missing_imports import (
    add_fixtures,
    add_imports,
    is_test_file,
    missing_imports,
    module_name,
    top_level_names,
    without_disabled_capture,
)
from specloom.errors import ModelFacingError

if TYPE_CHECKING:
    from specloom.agent.tool_env import ToolEnv
    from specloom.hooks.toolset import ToolHooks

__all__ = [
    "PLACEHOLDER_PATH",
    "WHOLE_FILE_INSTRUCTIONS",
    "BlockEdit",
    "FileBlock",
    "ParsedAnswer",
    "apply_file_blocks",
    "elided",
    "placeholder",
    "parse_file_blocks",
]

PLACEHOLDER_PATH = "path/to/file.py"
"""The path of the instructions' example: an answer that copies it names no file."""
_PLACEHOLDER_FOLDER = "path/to/"
"""The example's folder: small models put it before a real file's name (``path/to/app.py``),
which is read as the name alone unless the project has such a file."""

WHOLE_FILE_INSTRUCTIONS = """\
You are specloom's coding agent, working in the project at {root}. You have no tools: the \
files you need are in the request, and your answer is applied to the project.
To create or change a file, write its path on a line of its own, then the WHOLE new content \
of the file in a fenced code block, like this:

path/to/file.py
```python
the complete file, every line of it
```

Write every file you change in full: never leave lines out or write "..." or "rest unchanged". \
Paths are relative to the project root. After the files, say in one or two lines what you did.\
"""
"""Standing instructions of a run in the whole-file edit format; ``{root}`` becomes the root."""

_FENCE = re.compile(r"^(?P<indent>[ \t]{0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`\n]*)$")
_PATH = re.compile(r"^(?:\./)?[\w.@+-]+(?:/[\w.@+-]+)*$")
_LANGUAGES = frozenset(
    {"python", "py", "python3", "toml", "json", "yaml", "yml", "ini", "cfg", "text", "txt",
     "markdown", "md", "javascript", "js", "typescript", "ts", "tsx", "jsx", "html", "css",
     "rust", "rs", "go", "java", "c", "cpp", "h", "sh", "bash", "shell", "console", "sql",
     "diff", "plaintext", "makefile", "dockerfile", "xml", "ruby", "rb", "kotlin", "swift"}
)  # fmt: skip
_BARE_NAMES = frozenset({"Makefile", "Dockerfile", "LICENSE", "Procfile", "Gemfile", "Justfile"})
"""Files named without an extension that are paths wherever they appear."""
_COMMAND_LANGUAGES = frozenset({"sh", "bash", "shell", "console", "zsh", "powershell"})
_LABEL = re.compile(
    r"^(?:#+\s*|[-*]\s+|\d+\.\s+)?(?:\*\*|__)?(?:(?:new |updated |the )?"
    r"(?:file(?:name)?|path|create|update|modify|write)(?:\s*[:\-]\s*|\s+))?",
    re.IGNORECASE,
)
_COMMENT = re.compile(r"^\s*(?:#|//|--|/\*|<!--)\s*(?:(?:file(?:name)?|path)\s*:\s*)?(?P<path>\S+)"
                      r"\s*(?:\*/|-->)?\s*$", re.IGNORECASE)  # fmt: skip
_COMMENT_START = r"^[ \t]*(?:#|//|/\*|<!--|--)"
_ELISION = re.compile(
    # a comment that is only an ellipsis, or one that says code was left out
    _COMMENT_START
    + r"[ \t]*(?:\.\.\.|…)[ \t]*(?:\*/|-->)?[ \t]*$|"
    + _COMMENT_START
    + r"[^\n]*?(?:"
    r"\brest of (?:the )?(?:code|file|module|class|implementation|functions?|methods?|tests?)\b|"
    r"\b(?:code|content|functions?|methods?|tests?|imports?) (?:(?:remains?|stays?|is|are) )?"
    r"unchanged\b|\bunchanged (?:code|content|functions?|methods?|tests?)\b|"
    r"\bsame as before\b|"
    r"(?:\.\.\.|…)[ \t]*(?:the )?(?:existing|remaining|other|previous|more|original)\b|"
    r"\b(?:existing|remaining|previous|original) (?:code|functions?|methods?|tests?|content)"
    r"[ \t]*(?:\.\.\.|…|here\b|goes\b|as before\b|unchanged\b))",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True, slots=True)
class FileBlock:
    """One file of an answer.

    Attributes:
        path: The file, relative to the project root, as the answer names it.
        content: Its whole new content (ending with a newline).
        line: The answer's line the block starts on (1-based), for messages.
    """

    path: str
    content: str
    line: int


@dataclass(frozen=True, slots=True)
class ParsedAnswer:
    """What ``parse_file_blocks`` found.

    Attributes:
        files: The files, in order; a path written twice keeps its last block.
        unnamed: Lines (1-based) of code blocks that named no file (commands left out).
        cut_off: Files whose block never closes (the answer was cut off): not written, since
            their end is missing.
    """

    files: list[FileBlock]
    unnamed: list[int]
    cut_off: list[str]


def parse_file_blocks(answer: str, known_paths: frozenset[str] = frozenset()) -> ParsedAnswer:
    """The files written in ``answer`` (see the module docstring).

    Args:
        answer: The model's answer.
        known_paths: Files of the project (relative, ``/``-separated): a bare name or a
            path-like word that names one of them counts as a path even without an extension.
    """
    lines = answer.splitlines()
    found: dict[str, FileBlock] = {}
    unnamed: list[int] = []
    cut_off: list[str] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence = opening.group("fence")
        end = index + 1
        while end < len(lines) and not _closes(lines[end], fence):
            end += 1
        body = lines[index + 1 : end]
        info = opening.group("info").strip()
        path, body = _block_path(info, lines[:index], body, known_paths)
        if path is not None and end == len(lines):
            cut_off.append(path)
        elif path is not None:
            content = "\n".join(body)
            earlier = found.get(path)
            # A copy of the start it was given, written after the real file (a small model
            # repeating its instructions), does not replace it.
            if (
                earlier is None
                or placeholder(path, content) is None
                or placeholder(path, earlier.content)
            ):
                found.pop(path, None)
                found[path] = FileBlock(path, content + "\n" if content else "", index + 1)
        elif _language(info) not in _COMMAND_LANGUAGES:
            unnamed.append(index + 1)
        index = end + 1
    return ParsedAnswer(list(found.values()), unnamed, cut_off)


def elided(content: str) -> str | None:
    """The first line of ``content`` that stands for code left out, if any."""
    match = _ELISION.search(content)
    if match is None:
        return None
    start = content.rfind("\n", 0, match.start()) + 1
    end = content.find("\n", match.start())
    return content[start : end if end != -1 else len(content)].strip()


def placeholder(path: str, content: str) -> str | None:
    """In a test file, the first line that still holds a placeholder ``...`` of the start it
    was given (``assert count(...) == ...``, ``source.write_text(...)``): an ellipsis
    compared, or passed to a call in an ``assert`` or a statement of its own (``Field(...)``
    in an assignment is real code); ``None`` when there is none or the file does not parse."""
    if not (path.endswith(".py") and is_test_file(path)):
        return None
    try:
        tree = ast.parse(content)
    except (SyntaxError, ValueError):
        return None
    for statement in ast.walk(tree):
        if not isinstance(statement, ast.Assert | ast.Expr):
            continue
        for node in ast.walk(statement):
            if isinstance(node, ast.Compare):
                operands = [node.left, *node.comparators]
            elif isinstance(node, ast.Call):
                operands = [*node.args, *(keyword.value for keyword in node.keywords)]
            else:
                continue
            if any(isinstance(o, ast.Constant) and o.value is Ellipsis for o in operands):
                return content.splitlines()[statement.lineno - 1].strip()
    return None


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0])


def _language(info: str) -> str:
    return info.split()[0].lower() if info.split() else ""


def _block_path(
    info: str, before: list[str], body: list[str], known: frozenset[str]
) -> tuple[str | None, list[str]]:
    """The block's path and its body (a first-line path comment taken out)."""
    for word in re.split(r"[\s:]+", info):
        candidate = _as_path(word.removeprefix("title=").strip("\"'"), known)
        if candidate is not None:
            return candidate, body
    for line in reversed(before[-2:]):
        if not line.strip():
            continue
        candidate = _label_path(line, known)
        if candidate is not None:
            return candidate, body
        break
    if body:
        comment = _COMMENT.match(body[0])
        if comment is not None:
            candidate = _as_path(comment.group("path"), known)
            if candidate is not None:
                return candidate, body[1:]
    return None, body


def _label_path(line: str, known: frozenset[str]) -> str | None:
    """The path a line before a block names (``wordcount.py``, ``**File: a/b.py**``...)."""
    text = _LABEL.sub("", line.strip(), count=1)
    text = text.strip().strip("*_`'\"").rstrip(":").strip().strip("*_`'\"")
    if " " not in text:
        return _as_path(text, known)
    quoted = re.findall(r"`([^`\s]+)`", line)
    if len(quoted) == 1:
        return _as_path(quoted[0], known)
    # "app.py (new file)", "app.py - the entry point": the path, then a remark
    first, rest = text.split(" ", 1)
    if rest.lstrip().startswith(("(", "-", "–", "—", "[")):
        return _as_path(first, known)
    # "Here is the code for app.py:": a sentence that ends with the path and a colon
    if line.rstrip().rstrip("*_").endswith(":"):
        return _as_path(text.rsplit(" ", 1)[-1], known)
    return None


def _as_path(word: str, known: frozenset[str]) -> str | None:
    word = word.strip().strip("`*'\"").rstrip(":,.;)").lstrip("(")
    if word in _BARE_NAMES:
        return word
    if not word or not _PATH.match(word) or word.lower() in _LANGUAGES:
        return None
    path = PurePosixPath(word.removeprefix("./"))
    if ".." in path.parts:
        return None
    shown = path.as_posix()
    if shown == PLACEHOLDER_PATH:
        return None
    if shown.startswith(_PLACEHOLDER_FOLDER) and shown not in known:
        # "path/to/wordcount.py": the example's folder put before the real name
        shown = shown.removeprefix(_PLACEHOLDER_FOLDER)
    if shown in known or path.suffix or "/" in shown:
        return shown
    return None


CallStarted = Callable[[str, str, Mapping[str, Any]], Awaitable[None]]
"""Told of each write before it runs: call id, tool name, arguments."""
CallFinished = Callable[[str, str, bool, str], Awaitable[None]]
"""Told of each write after it ran: call id, tool name, whether it worked, its result."""
BlockEdit = Callable[[FileBlock], tuple[FileBlock, str]]
"""Changes a block before it is written; returns it and a note of the change (or "")."""


async def apply_file_blocks(
    answer: str,
    env: ToolEnv,
    *,
    started: CallStarted,
    finished: CallFinished,
    hooks: ToolHooks | None = None,
    call_prefix: str = "answer",
    edit: BlockEdit | None = None,
) -> list[str]:
    """Write the files of ``answer`` with the ``write_file`` tool, one call each.

    Each write asks for approval, is preceded by the step's checkpoint and recorded, as a call
    the model made would be; ``preToolUse`` hooks may refuse it. A block that leaves code out
    of a file that exists is refused without a write.

    Args:
        answer: The model's answer.
        env: The tools' environment of the run.
        started: Called before each write (events, audit log).
        finished: Called after each write.
        hooks: The run's tool hooks, if any listen.
        call_prefix: Start of the call ids given to the writes.
        edit: Changes each block (after it is moved onto an existing test file, before its
            missing imports are added); its note joins the write's result.

    Returns:
        One line per block: what was written, or why it was not.

    Raises:
        CheckpointError: The snapshot before the first write failed (nothing was written).
    """
    parsed = parse_file_blocks(answer, _example_folder_files(env))
    notes: list[str] = []
    # One walk of the project serves the imports and the test files' places.
    python = _any_python(parsed.files)
    listing = _listing(env) if python else []
    modules = _project_modules(listing, parsed.files) if python else {}
    for number, block in enumerate(parsed.files, start=1):
        block, moved = _onto_existing_test(env, listing, block)
        block, edited = edit(block) if edit is not None else (block, "")
        block, added = _completed(block, modules)
        added = " ".join(note for note in (moved, edited, added) if note)
        call_id = f"{call_prefix}-{number}"
        arguments = {"path": block.path, "content": block.content}
        await started(call_id, "write_file", arguments)
        ok, result = await _write(env, block, arguments, hooks)
        await finished(call_id, "write_file", ok, result)
        if ok and added:
            result += f" {added}"
        notes.append(result if ok else f"{block.path} was not written: {result}")
    for path in parsed.cut_off:
        notes.append(
            f"{path} was not written: your answer ends inside its block (it was cut off); "
            "send it again, shorter if it can be."
        )
    for line in parsed.unnamed:
        notes.append(
            f"The code block at line {line} of your answer names no file, so it was not "
            f"applied: put the file's real path (not {PLACEHOLDER_PATH}) on the line before "
            "the block."
        )
    return notes


_MODULE_FILES = 400
"""Python files of the project read for the names they define (missing imports)..."""
_WALKED = 4_000
"""...among the first files of the project's listing."""


def _example_folder_files(env: ToolEnv) -> frozenset[str]:
    """The project's files under the instructions' example folder (almost always none)."""
    root = env.workspace.primary
    folder = root / _PLACEHOLDER_FOLDER
    if not folder.is_dir():
        return frozenset()
    found = itertools.islice(env.workspace.files(folder), _WALKED)
    return frozenset(path.relative_to(root).as_posix() for path in found)


def _listing(env: ToolEnv) -> list[tuple[str, Path]]:
    """The project's visible files (hidden folders left out), as ``(relative path, path)``,
    the first ``_WALKED`` of its walk."""
    root = env.workspace.primary
    found: list[tuple[str, Path]] = []
    for path in itertools.islice(env.workspace.files(root), _WALKED):
        relative = path.relative_to(root).as_posix()
        if not any(part.startswith(".") for part in PurePosixPath(relative).parts):
            found.append((relative, path))
    return found


def _onto_existing_test(
    env: ToolEnv, listing: list[tuple[str, Path]], block: FileBlock
) -> tuple[FileBlock, str]:
    """A new test file whose name is that of one test file of the project elsewhere is
    written onto that one, with a note: small models drop the folder (``test_app.py`` for
    ``tests/test_app.py``), and pytest refuses two test modules of the same name."""
    if not is_test_file(block.path):
        return block, ""
    try:
        if env.workspace.resolve(block.path, write=True).exists():
            return block, ""
    except ModelFacingError:
        return block, ""
    name = PurePosixPath(block.path).name
    same = [relative for relative, path in listing if path.name == name]
    if len(same) != 1:
        return block, ""
    note = f"(Written to {same[0]}, the project's test file of that name: pytest refuses two.)"
    return FileBlock(same[0], block.content, block.line), note


def _any_python(blocks: list[FileBlock]) -> bool:
    return any(block.path.endswith(".py") for block in blocks)


def _project_modules(
    listing: list[tuple[str, Path]], blocks: list[FileBlock]
) -> dict[str, frozenset[str]]:
    """The project's modules (of ``listing``) and their top-level names, the answer's
    versions first."""
    modules: dict[str, frozenset[str]] = {}
    for relative, path in listing:
        name = module_name(relative)
        if name is None:
            continue
        try:
            modules[name] = top_level_names(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
        if len(modules) >= _MODULE_FILES:
            break
    for block in blocks:
        name = module_name(block.path)
        if name is not None:
            modules[name] = top_level_names(block.content)
    return modules


def _completed(block: FileBlock, modules: dict[str, frozenset[str]]) -> tuple[FileBlock, str]:
    """``block`` with the imports its Python code lacks (and, in a test file, the pytest
    fixtures its tests use as parameters), and a note of what was added."""
    if not block.path.endswith(".py"):
        return block, ""
    lines = missing_imports(block.content, project=modules, this_module=module_name(block.path))
    content = add_imports(block.content, lines)
    notes = [f"Added the imports it lacked: {'; '.join(lines)}."] if lines else []
    if is_test_file(block.path):
        content, tests = add_fixtures(content)
        if tests:
            notes.append(f"Added the pytest fixtures its tests use: {'; '.join(tests)}.")
        content, captured = without_disabled_capture(content)
        if captured:
            notes.append(
                "Took out `with capsys.disabled():`, which hides the output from "
                f"readouterr(): {'; '.join(captured)}."
            )
    return FileBlock(block.path, content, block.line), " ".join(notes)


async def _write(
    env: ToolEnv, block: FileBlock, arguments: dict[str, Any], hooks: ToolHooks | None
) -> tuple[bool, str]:
    try:
        exists = env.workspace.resolve(block.path, write=True).is_file()
    except ModelFacingError as error:
        return False, str(error)
    left_out = elided(block.content) if exists else None
    if left_out is not None:
        return False, (
            f"the block leaves code out ({left_out!r}), and writing it would delete that code; "
            "write the whole file"
        )
    unfilled = placeholder(block.path, block.content)
    if unfilled is not None:
        return False, (
            f"it still has a placeholder `...` ({unfilled!r}); write real values in its place"
        )
    added: list[str] = []
    if hooks is not None:
        before = await hooks.before("write_file", arguments)
        if before.blocked:
            return False, f"a hook blocked it: {before.reason}"
        added += before.context
    try:
        result = await write_file(env, block.path, block.content)
    except ModelFacingError as error:
        return False, str(error)
    if hooks is not None:
        added += await hooks.after("write_file", arguments, result)
    if added:
        from specloom.hooks.toolset import hook_context_text

        result = f"{result}\n\n{hook_context_text(added)}"
    return True, result
