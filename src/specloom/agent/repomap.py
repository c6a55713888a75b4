"""The repository map: the project's files and their top-level symbols, within a size cap.

The files are what git shows (``git ls-files --cached --others --exclude-standard``: tracked
files and untracked ones that ``.gitignore`` does not hide) in a git work tree, or else a
walk that skips VCS data, environments, dependencies, caches and build output and honours
the root ``.gitignore``. Specloom's own state (``.kiro/.specloom/``) is never listed.

Symbols are read from source files of at most ``MAX_SOURCE_BYTES``: Python with ``ast``
(public classes with their bases and public methods, public functions with their
signature); JavaScript and TypeScript, Go, Rust, Java and Kotlin with line
patterns anchored at the start of a line (top level only). A file that does not parse simply
has no symbols.

The cap keeps the most useful part: files are ranked by depth, source before other files,
tests and documentation after code of the same depth, then by path; each is taken with its
symbols while they fit (see ``repo_map``). The chosen files are printed sorted
by path, so the map reads as a tree and is the same for the same files. A last line says how
many files were left out.

May import: the standard library, ``pathspec``, ``specloom.workspace`` and
``specloom.agent.confine``.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from specloom.agent.confine import is_git_internal, is_state_path

__all__ = [
    "DEFAULT_MAP_CHARS",
    "MAX_SOURCE_BYTES",
    "RepoMap",
    "list_files",
    "repo_map",
    "symbols_of",
]

DEFAULT_MAP_CHARS = 12_000
"""The map's size cap when none is given."""
MAX_SOURCE_BYTES = 256_000
"""Larger source files are listed without symbols (they are usually generated)."""
MAX_FILES = 50_000
"""Files considered at most."""
MAX_SYMBOLS = 12
"""Symbols shown per file; the rest are counted."""
MAX_SIGNATURE = 110
"""Characters of one symbol line."""
PATH_SHARE = 0.4
"""Share of the map's room the first pass (paths alone) may fill."""

_SKIPPED_DIRS = frozenset(
    ".git .hg .svn .venv venv .env env node_modules __pycache__ .mypy_cache .pytest_cache "
    ".ruff_cache .hypothesis .tox .nox dist build target out .next .nuxt .svelte-kit .turbo "
    ".parcel-cache .gradle .idea .vscode site-packages coverage htmlcov .cache vendor".split()
)
_SOURCE = frozenset(
    ".py .pyi .js .mjs .cjs .jsx .ts .tsx .mts .cts .go .rs .java .kt .kts .rb .cs .php "
    ".swift .c .cc .cpp .h .hpp .scala .ex .exs .vue .svelte".split()
)
_KEY_FILES = frozenset(
    "readme.md pyproject.toml package.json cargo.toml go.mod pom.xml build.gradle "
    "makefile dockerfile setup.py setup.cfg tsconfig.json".split()
)
_LOW_VALUE = frozenset(
    ".lock .min.js .map .svg .png .jpg .jpeg .gif .ico .pdf .woff .woff2 .ttf .zip .gz "
    ".snap .pyc".split()
)
_TEST_PATH = re.compile(
    r"(^|/)(tests?|__tests__|spec|e2e)/|(^|/)(test_[^/]*|[^/]*_test\.\w+|[^/]*\.(test|spec)\.\w+)$"
)
_DOC_PATH = re.compile(r"(^|/)(docs?|examples?|fixtures?|testdata)/")


@dataclass(frozen=True, slots=True)
class RepoMap:
    """A repository map.

    Attributes:
        text: The map, ready for a prompt (empty when the project has no files).
        files_listed: The files it shows, sorted.
        total_files: The files it could have shown.
        truncated: Whether files or symbols were left out for the cap.
    """

    text: str
    files_listed: tuple[str, ...]
    total_files: int
    truncated: bool


# --- listing ------------------------------------------------------------------------------


def _git_files(root: Path) -> list[str] | None:
    """Files git shows in ``root`` (relative, ``/``-separated), or ``None`` outside git."""
    if not (root / ".git").exists():
        return None
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others",
             "--exclude-standard", "--deduplicate"],
            capture_output=True,
            timeout=30,
            check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    names = done.stdout.decode("utf-8", errors="surrogateescape").split("\0")
    # Tracked files deleted from the work tree are still in the index: skip them.
    return [name for name in names if name and os.path.isfile(root / name)]


def _walked_files(root: Path) -> list[str]:
    from pathspec import GitIgnoreSpec

    ignore_file = root / ".gitignore"
    lines: list[str] = []
    if ignore_file.is_file():
        lines = ignore_file.read_text(encoding="utf-8", errors="replace").splitlines()
    ignore = GitIgnoreSpec.from_lines(lines)
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        relative = Path(folder).relative_to(root).as_posix()
        prefix = "" if relative == "." else relative + "/"
        dirs[:] = sorted(
            name
            for name in dirs
            if name not in _SKIPPED_DIRS
            and not name.endswith(".egg-info")
            and not ignore.match_file(prefix + name + "/")
        )
        for name in sorted(files):
            if not ignore.match_file(prefix + name):
                found.append(prefix + name)
        if len(found) >= MAX_FILES:
            break
    return found


def list_files(root: Path) -> list[str]:
    """The project's files for the map, relative and sorted (see the module docstring)."""
    files = _git_files(root)
    if files is None:
        files = _walked_files(root)
    kept = [
        name
        for name in files
        if not is_git_internal(name.split("/")) and not is_state_path(name.split("/"))
    ]
    return sorted(kept)[:MAX_FILES]


# --- symbols ------------------------------------------------------------------------------


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_SIGNATURE else text[: MAX_SIGNATURE - 3] + "..."


def _python_function(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    returns = f" -> {ast.unparse(node.returns)}" if node.returns is not None else ""
    return _short(f"{prefix} {node.name}({ast.unparse(node.args)}){returns}")


def _python_symbols(text: str) -> list[str]:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    found: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if not node.name.startswith("_"):
                found.append(_python_function(node))
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            bases = ", ".join(
                [ast.unparse(base) for base in node.bases]
                + [ast.unparse(keyword) for keyword in node.keywords]
            )
            methods = [
                item.name
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                and not item.name.startswith("_")
            ]
            shown = f"class {node.name}" + (f"({bases})" if bases else "")
            if methods:
                shown += ": " + ", ".join(methods)
            found.append(_short(shown))
    return found


def _line_patterns(*patterns: str) -> Callable[[str], list[str]]:
    compiled = [re.compile(pattern, re.MULTILINE) for pattern in patterns]

    def extract(text: str) -> list[str]:
        hits: list[tuple[int, str]] = []
        for pattern in compiled:
            for match in pattern.finditer(text):
                line = match.group(0).rstrip(" {:=").rstrip()
                hits.append((match.start(), _short(line)))
        return [line for _, line in sorted(hits)]

    return extract


_JS = _line_patterns(
    r"^(?:export\s+(?:default\s+)?)?(?:declare\s+)?(?:abstract\s+)?(?:async\s+)?"
    r"(?:function\*?|class|interface|enum|type|namespace)\s+[\w$]+[^\n{=]*",
    r"^export\s+(?:const|let|var)\s+[\w$]+[^\n=]*",
)
_GO = _line_patterns(r"^func\s+(?:\([^)]*\)\s*)?\w+[^\n{]*", r"^type\s+\w+\s+\w+")
_RUST = _line_patterns(
    r"^(?:pub(?:\([\w:]+\))?\s+)?(?:async\s+)?(?:unsafe\s+)?"
    r"(?:fn|struct|enum|trait|type|mod|const|static)\s+\w+[^\n{;=]*",
    r"^impl\b[^\n{]*",
)
_JAVA = _line_patterns(
    r"^(?:(?:public|private|protected|abstract|final|sealed|data|open|internal|static)\s+)*"
    r"(?:class|interface|enum|record|object|fun)\s+\w+[^\n{]*",
    r"^ {4}(?:public|protected)\s+(?:static\s+)?(?:final\s+)?[\w<>\[\], ?]+\s+\w+\([^)\n]*\)",
)
_EXTRACTORS: dict[str, Callable[[str], list[str]]] = {
    ".py": _python_symbols,
    ".pyi": _python_symbols,
    **dict.fromkeys((".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".mts", ".cts"), _JS),
    ".go": _GO,
    ".rs": _RUST,
    **dict.fromkeys((".java", ".kt", ".kts"), _JAVA),
}


def symbols_of(path: str, text: str) -> list[str]:
    """The top-level symbols of one source file, one line each, in file order."""
    extract = _EXTRACTORS.get(os.path.splitext(path)[1].lower())
    return extract(text) if extract is not None else []


def _file_symbols(root: Path, path: str) -> list[str]:
    if os.path.splitext(path)[1].lower() not in _EXTRACTORS:
        return []
    try:
        full = root / path
        if full.stat().st_size > MAX_SOURCE_BYTES:
            return []
        text = full.read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return []
    return symbols_of(path, text)


# --- ranking and rendering ----------------------------------------------------------------


_SOURCE_ROOTS = ("src/", "lib/", "app/", "pkg/", "cmd/", "internal/")


def _rank(path: str) -> tuple[float, str]:
    name = path.rsplit("/", 1)[-1].lower()
    suffix = os.path.splitext(name)[1]
    score = float(path.count("/"))
    if path.startswith(_SOURCE_ROOTS):
        score -= 1  # a src/ layout's package is as central as a flat layout's
    if name in _KEY_FILES:
        score -= 1
    elif suffix not in _SOURCE:
        score += 1.5
    if _TEST_PATH.search(path.lower()):
        score += 1
    if _DOC_PATH.search(path.lower()):
        score += 1
    if suffix in _LOW_VALUE or name.startswith("."):
        score += 3
    return score, path


def repo_map(root: Path, *, max_chars: int = DEFAULT_MAP_CHARS) -> RepoMap:
    """The repository map of the project at ``root``, at most ``max_chars`` characters.

    Three passes over the files in rank order: their paths, up to ``PATH_SHARE`` of the
    room; then their symbols, one round per symbol position, while they fit; then more
    paths while they fit.

    Args:
        root: The project root.
        max_chars: The cap on ``RepoMap.text``.

    Returns:
        The map; ``truncated`` says whether files or symbols were left out.
    """
    files = list_files(root)
    if not files or max_chars <= 0:
        return RepoMap("", (), len(files), bool(files))
    header = f"{len(files)} files (paths relative to the project root; top-level symbols below "
    header += "each source file):\n"
    marker_room = 90  # the closing line that says what was left out
    budget = max_chars - len(header) - marker_room
    ranked = sorted(files, key=_rank)
    chosen: dict[str, list[str]] = {}
    used = 0
    for path in ranked:
        if used + len(path) + 1 > budget * PATH_SHARE:
            break
        chosen[path] = []
        used += len(path) + 1
    # Symbols round by round (every file's first, then every file's second...), so that
    # the cap shortens every file's list rather than dropping the later files' lists.
    pending: dict[str, list[str]] = {}
    for path in chosen:
        symbols = _file_symbols(root, path)
        lines = [f"  {symbol}" for symbol in symbols[:MAX_SYMBOLS]]
        if len(symbols) > MAX_SYMBOLS:
            lines.append(f"  ... {len(symbols) - MAX_SYMBOLS} more")
        if lines:
            pending[path] = lines
    cut_symbols = False
    for index in range(MAX_SYMBOLS + 1):
        for path, lines in pending.items():
            if index >= len(lines) or len(chosen[path]) < index:
                continue
            if used + len(lines[index]) + 1 > budget:
                cut_symbols = True
                continue
            chosen[path].append(lines[index])
            used += len(lines[index]) + 1
    for path in ranked[len(chosen) :]:
        if used + len(path) + 1 > budget:
            break
        chosen[path] = []
        used += len(path) + 1
    left_out = len(files) - len(chosen)
    body = "".join("\n".join([path, *chosen[path]]) + "\n" for path in sorted(chosen))
    text = header + body
    if left_out:
        text += f"[... {left_out} more files not shown: the map is capped at {max_chars} chars]\n"
    elif cut_symbols:
        text += "[... symbols of some files not shown: the map is capped]\n"
    if len(text) > max_chars:  # a cap too small for even the header
        text = text[: max_chars - 4].rstrip() + " ..." if max_chars > 4 else ""
    return RepoMap(text, tuple(sorted(chosen)), len(files), bool(left_out or cut_symbols))
