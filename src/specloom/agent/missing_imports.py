"""Missing imports in a Python file a model wrote whole, found and added.

Small models write code that uses ``Counter`` without importing it, and tests that call the
function under test without importing it from its module: the tests then fail with a
``NameError`` that says nothing about the task. ``missing_imports`` finds the names a module
uses and never binds (no assignment, definition, parameter or import binds them anywhere in
it; builtins aside) and resolves each one it can: a module of the standard library
(``re``, ``sys``), a well-known name of one (``Counter``, ``Path``, ``dataclass``), a test
library (``pytest``, ``hypothesis``'s ``given`` and ``st``), or a top-level
name that exactly one of the project's modules defines (``from wordcount import
count_words``). A name it cannot resolve is left alone; the tests will say so.
``add_imports`` puts the lines after the module's docstring, ``__future__`` imports and
leading imports. Tests that use one of pytest's own fixtures (``capsys``, ``tmp_path``) in their
body without asking for it get it as a parameter (``add_fixtures``), and a test that reads
captured output after running the code under ``with capsys.disabled():`` (which sends the
output past the capture, so ``readouterr()`` reads nothing) runs it captured instead
(``without_disabled_capture``). The whole-file edit format (``specloom.agent.whole_files``)
applies these and says what it changed.

May import: the standard library only.
"""

from __future__ import annotations

import ast
import builtins
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath

__all__ = [
    "after_imports",
    "add_fixtures",
    "add_imports",
    "is_test_file",
    "missing_imports",
    "module_name",
    "top_level_names",
    "without_disabled_capture",
]

_KNOWN = {
    "Counter": "collections", "defaultdict": "collections", "OrderedDict": "collections",
    "deque": "collections", "namedtuple": "collections", "ChainMap": "collections",
    "Path": "pathlib", "PurePath": "pathlib", "PurePosixPath": "pathlib",
    "dataclass": "dataclasses", "field": "dataclasses", "asdict": "dataclasses",
    "Any": "typing", "Optional": "typing", "Union": "typing", "List": "typing",
    "Dict": "typing", "Tuple": "typing", "Set": "typing", "Iterable": "typing",
    "Iterator": "typing", "Callable": "typing", "Sequence": "typing", "Mapping": "typing",
    "TextIO": "typing", "NamedTuple": "typing",
    "StringIO": "io", "BytesIO": "io", "TextIOWrapper": "io",
    "Enum": "enum", "partial": "functools", "reduce": "functools", "lru_cache": "functools",
    "wraps": "functools", "chain": "itertools", "islice": "itertools",
    "ArgumentParser": "argparse", "Namespace": "argparse",
    "Decimal": "decimal", "Fraction": "fractions", "dedent": "textwrap",
    "redirect_stdout": "contextlib", "contextmanager": "contextlib",
    "mock": "unittest", "patch": "unittest.mock", "MagicMock": "unittest.mock",
}  # fmt: skip
"""Names of the standard library a model uses without importing, and their modules."""
_TEST_LIBRARIES = {
    "pytest": "import pytest",
    "hypothesis": "import hypothesis",
    "given": "from hypothesis import given",
    "assume": "from hypothesis import assume",
    "st": "from hypothesis import strategies as st",
    "strategies": "from hypothesis import strategies",
}
_MODULE_ATTRIBUTES = frozenset(
    {"__file__", "__name__", "__doc__", "__spec__", "__loader__", "__package__", "__path__",
     "__builtins__", "__annotations__"}
)  # fmt: skip


def module_name(path: str) -> str | None:
    """The module a project's Python file is imported as (``src/`` layouts included), or
    ``None`` for a file that is not one (not ``.py``, a test, a dashed name)."""
    pure = PurePosixPath(path)
    if pure.suffix != ".py" or "tests" in pure.parts or pure.name.startswith("test_"):
        return None
    parts = list(pure.with_suffix("").parts)
    if parts and parts[0] == "src":
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    if not parts or not all(part.isidentifier() for part in parts):
        return None
    return ".".join(parts)


def is_test_file(path: str) -> bool:
    """A pytest file by its name: ``test_*.py`` or ``*_test.py``."""
    name = PurePosixPath(path).name
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


def top_level_names(source: str) -> frozenset[str]:
    """The public names a module defines at its top level (functions, classes, constants)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return frozenset()
    return frozenset(name for name in _top_level(tree) if not name.startswith("_"))


def missing_imports(
    source: str, *, project: Mapping[str, frozenset[str]] = {}, this_module: str | None = None
) -> list[str]:
    """Import lines for the names ``source`` uses and never binds (see the module docstring).

    Args:
        source: A Python module's text; one that does not parse gets no lines.
        project: The project's modules and the names each defines (``top_level_names``).
        this_module: The module ``source`` is, so that it never imports from itself.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    bound, used, star = _names(tree)
    if star:
        return []
    known = set(dir(builtins)) | _MODULE_ATTRIBUTES | bound
    lines = {_resolve(name, project, this_module) for name in used - known}
    return sorted(line for line in lines if line is not None)


def add_imports(source: str, lines: Iterable[str]) -> str:
    """``source`` with ``lines`` after its docstring, ``__future__`` imports and the imports
    it starts with."""
    new = [line for line in lines if line]
    if not new:
        return source
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return source
    after = after_imports(tree)
    text = source.splitlines(keepends=True)
    head, tail = text[:after], text[after:]
    if head and not head[-1].endswith("\n"):
        head[-1] += "\n"
    block = [f"{line}\n" for line in new]
    if not head and tail and tail[0].strip():
        block.append("\n")
    return "".join(head + block + tail)


def after_imports(tree: ast.Module) -> int:
    """The number of lines a module's docstring and leading imports take (where more
    imports go)."""
    after = 0
    for index, node in enumerate(tree.body):
        docstring = (
            index == 0
            and isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        )
        if not (docstring or isinstance(node, (ast.Import, ast.ImportFrom))):
            break
        after = node.end_lineno or node.lineno
    return after


def _names(tree: ast.AST) -> tuple[set[str], set[str], bool]:
    """Names bound anywhere in ``tree`` (a module, or a function with its parameters), names
    read anywhere, and whether a ``*`` import is there."""
    bound: set[str] = set()
    used: set[str] = set()
    star = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (used if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    star = True
                bound.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bound.update(node.names)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound.add(node.rest)
    return bound, used, star


def _resolve(name: str, project: Mapping[str, frozenset[str]], this: str | None) -> str | None:
    defining = sorted(module for module, names in project.items() if name in names)
    defining = [module for module in defining if module != this]
    if len(defining) == 1:
        return f"from {defining[0]} import {name}"
    if defining:
        return None  # several modules define it: not ours to choose
    if name in _KNOWN:
        return f"from {_KNOWN[name]} import {name}"
    if name in sys.stdlib_module_names and not name.startswith("_"):
        return f"import {name}"
    return _TEST_LIBRARIES.get(name)


_PYTEST_FIXTURES = frozenset(
    {"tmp_path", "tmp_path_factory", "tmpdir", "capsys", "capfd", "capsysbinary", "capfdbinary",
     "caplog", "monkeypatch", "request", "recwarn", "pytestconfig"}
)  # fmt: skip
"""pytest's own fixtures: a test gets them by naming them as parameters."""


def add_fixtures(source: str) -> tuple[str, list[str]]:
    """``source`` with each test function taking the pytest fixtures its body uses but it
    does not ask for (nothing else binds those names), and one line per test changed.

    Only a signature on one line is changed, and only when the result still parses.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return source, []
    module_bound = _top_level(tree, imports=True)
    lines = source.splitlines(keepends=True)
    changed: list[str] = []
    for node in _tests(tree):
        arguments = node.args
        bound, used, _ = _names(node)  # its parameters are among the names it binds
        wanted = sorted((used & _PYTEST_FIXTURES) - bound - module_bound)
        if not wanted or arguments.defaults or arguments.vararg or arguments.kwarg:
            continue
        index = node.lineno - 1
        match = re.match(
            rf"(\s*(?:async\s+)?def\s+{node.name}\s*\()([^()]*)(\).*)", lines[index], re.S
        )
        if match is None:
            continue
        inside = match.group(2).strip().rstrip(",").strip()
        lines[index] = f"{match.group(1)}{', '.join([*([inside] if inside else []), *wanted])}"
        lines[index] += match.group(3)
        changed.append(f"{node.name} takes {', '.join(wanted)}")
    return _if_parses(source, "".join(lines), changed)


def _if_parses(source: str, result: str, changed: list[str]) -> tuple[str, list[str]]:
    """``(result, changed)`` when ``result`` parses, else ``source`` unchanged."""
    try:
        ast.parse(result)
    except (SyntaxError, ValueError):
        return source, []
    return result, changed


def _tests(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """The test functions of a module (methods of test classes too)."""
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.name.startswith("test")
    ]


_CAPTURE_FIXTURES = frozenset({"capsys", "capfd", "capsysbinary", "capfdbinary"})


def without_disabled_capture(source: str) -> tuple[str, list[str]]:
    """``source`` with each ``with capsys.disabled():`` block of a test that later reads
    ``capsys.readouterr()`` replaced by its body (the output is then captured, as the test
    expects), and one line per test changed.

    Only a ``with`` statement whose one item is ``<fixture>.disabled()`` and whose header
    fits on one line is changed, and only when the result still parses.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return source, []
    lines = source.splitlines(keepends=True)
    unwrapped: list[tuple[int, int, int]] = []  # (with line, last line, indent removed)
    changed: list[str] = []
    for test in _tests(tree):
        read = {
            node.func.value.id
            for node in ast.walk(test)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "readouterr"
            and isinstance(node.func.value, ast.Name)
        }
        count = len(unwrapped)
        for node in ast.walk(test):
            fixture = _disabled_capture(node)
            if fixture is None or fixture not in read or not isinstance(node, ast.With):
                continue
            if node.body[0].lineno != node.lineno + 1 or node.end_lineno is None:
                continue
            indent = node.body[0].col_offset - node.col_offset
            unwrapped.append((node.lineno - 1, node.end_lineno - 1, indent))
        if len(unwrapped) > count:
            changed.append(f"{test.name} reads what it captures")
    for first, last, indent in sorted(unwrapped, reverse=True):
        body = [_dedent(line, indent) for line in lines[first + 1 : last + 1]]
        lines[first : last + 1] = body
    return _if_parses(source, "".join(lines), changed)


def _disabled_capture(node: ast.AST) -> str | None:
    """The capture fixture of ``with <fixture>.disabled():``, else ``None``."""
    if not isinstance(node, ast.With) or len(node.items) != 1:
        return None
    call = node.items[0].context_expr
    if not (
        isinstance(call, ast.Call)
        and not call.args
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "disabled"
        and isinstance(call.func.value, ast.Name)
        and call.func.value.id in _CAPTURE_FIXTURES
        and node.items[0].optional_vars is None
    ):
        return None
    return call.func.value.id


def _dedent(line: str, indent: int) -> str:
    """``line`` with up to ``indent`` leading spaces taken off (blank lines kept)."""
    spaces = len(line) - len(line.lstrip(" "))
    return line[min(spaces, indent) :]


def _top_level(tree: ast.Module, *, imports: bool = False) -> set[str]:
    """Names the module's own statements define (functions, classes, assigned names), and
    with ``imports`` the names its imports bind."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif imports and isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names
