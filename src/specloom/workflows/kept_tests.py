"""Keeping the tests that passed when a test file is written again.

A retry that asks only for a task's tests again (``whole_attempts.WholeFileAttempts``) does
not show the failed test file (a small model copies a file it is shown): it shows the tests
that failed. The answer then holds those tests written again, and often not the ones that
passed, or passing ones written blind and now wrong. ``keep_passing`` puts the tests that
passed back into the answer's file as they were, with what they need from the old file (its
imports, and the helpers, fixtures and constants they use that the new file lacks), before
the file is written, so the write is checkpointed and recorded like any other.

A task that writes a test file earlier tasks wrote keeps their tests the same way
(``keep_earlier``): a small model writes the file anew with only its own tests, and the
earlier tasks' tests would go unnoticed; a test the answer writes again under the same name
is the answer's.

Only top-level test functions are kept (a test class is left to the answer). A file either
version of which does not parse is written as the answer has it.

May import: the standard library, ``specloom.agent`` and the sibling module ``verify``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Collection

from specloom.agent.missing_imports import after_imports
from specloom.agent.whole_files import BlockEdit, FileBlock

__all__ = ["keep_earlier", "keep_passing", "with_passing_tests"]

_Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
_Statement = _Definition | ast.Assign | ast.AnnAssign


def keep_passing(path: str, old: str, failed: Collection[str]) -> BlockEdit:
    """An edit for the answer's blocks: the block of ``path`` gets the tests of ``old`` (the
    file as the last attempt wrote it) that are not in ``failed`` (test function names)."""
    return _keeping(path, old, lambda _content: failed, "that passed before")


def keep_earlier(path: str, old: str) -> BlockEdit:
    """An edit for the answer's blocks: the block of ``path`` gets back the tests of ``old``
    (the file as the task found it) that it lacks; one it defines again stays its own."""

    def own(content: str) -> Collection[str] | None:
        try:
            tree = ast.parse(content)
        except (SyntaxError, ValueError):
            return None
        return {node.name for node in tree.body if isinstance(node, _Definition)}

    return _keeping(path, old, own, "earlier tasks wrote")


def _keeping(
    path: str, old: str, left_out: Callable[[str], Collection[str] | None], what: str
) -> BlockEdit:
    """The edit putting the tests of ``old`` back into the block of ``path``, but those
    ``left_out`` names for the block's content (``None``: none is put back); its note says
    the tests kept are the ones ``what``."""

    def edit(block: FileBlock) -> tuple[FileBlock, str]:
        names = left_out(block.content) if block.path == path else None
        if names is None:
            return block, ""
        content, kept = with_passing_tests(block.content, old, names)
        if not kept:
            return block, ""
        note = f"Kept the {len(kept)} test(s) {what}: {', '.join(kept)}."
        return FileBlock(block.path, content, block.line), note

    return edit


def with_passing_tests(new: str, old: str, failed: Collection[str]) -> tuple[str, list[str]]:
    """``new`` with each top-level test function of ``old`` whose name is not in ``failed``
    put back as ``old`` has it (in place of one of the same name, else at the end), and
    the old imports and helpers those tests use that ``new`` lacks; and the names of the
    tests kept. ``new`` unchanged when either does not parse or no test passed."""
    try:
        old_tree, new_tree = ast.parse(old), ast.parse(new)
    except (SyntaxError, ValueError):
        return new, []
    old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    passing = [
        node
        for node in old_tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test")
        and node.name not in failed
    ]
    if not passing:
        return new, []
    kept_names = {node.name for node in passing}
    defined = _defined(new_tree)
    # Same name in the answer: the passing version takes its place (bottom up, so the line
    # numbers of the ones above stay right).
    in_place = {node.name: node for node in passing if node.name in defined}
    for node in sorted(
        (n for n in new_tree.body if _name(n) in in_place), key=_start, reverse=True
    ):
        source = _segment(in_place[str(_name(node))], old_lines)
        new_lines[_start(node) : node.end_lineno] = [source]
    appended = [node for node in passing if node.name not in defined]
    used = _used_names(passing)
    helpers = [
        node
        for node in old_tree.body
        if isinstance(node, _Statement)
        and not (_names_of(node) & kept_names)
        and _names_of(node) & used
        and not (_names_of(node) & defined)
    ]
    present = {line.strip() for line in new_lines}
    imports = [
        _segment(node, old_lines)
        for node in old_tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        and _segment(node, old_lines).strip() not in present
    ]
    at = after_imports(new_tree)
    carried = "".join(imports) + "".join(
        "\n\n" + _segment(node, old_lines).rstrip("\n") + "\n" for node in helpers
    )
    if carried:
        new_lines[at:at] = [carried if carried.endswith("\n") else carried + "\n"]
    text = "".join(new_lines).rstrip("\n") + "\n"
    for node in appended:
        text += "\n\n" + _segment(node, old_lines).rstrip("\n") + "\n"
    try:
        ast.parse(text)
    except SyntaxError:  # a splice that does not parse is no help
        return new, []
    return text, [node.name for node in passing]


def _start(node: ast.stmt) -> int:
    """The index of the statement's first line (its first decorator's, if any)."""
    decorators = getattr(node, "decorator_list", [])
    return (decorators[0].lineno if decorators else node.lineno) - 1


def _segment(node: ast.stmt, lines: list[str]) -> str:
    return "".join(lines[_start(node) : node.end_lineno])


def _name(node: ast.stmt) -> str | None:
    return node.name if isinstance(node, _Definition) else None


def _names_of(node: ast.stmt) -> set[str]:
    """The names a top-level statement defines."""
    if isinstance(node, _Definition):
        return {node.name}
    targets = node.targets if isinstance(node, ast.Assign) else []
    if isinstance(node, ast.AnnAssign):
        targets = [node.target]
    return {
        name.id for target in targets for name in ast.walk(target) if isinstance(name, ast.Name)
    }


def _defined(tree: ast.Module) -> set[str]:
    return {name for node in tree.body for name in _names_of(node)}


def _used_names(nodes: list[ast.FunctionDef | ast.AsyncFunctionDef]) -> set[str]:
    """The names the functions read, their parameters (pytest fixtures) among them."""
    used: set[str] = set()
    for node in nodes:
        for child in ast.walk(node):
            if isinstance(child, ast.Name):
                used.add(child.id)
            elif isinstance(child, ast.arg):
                used.add(child.arg)
    return used
