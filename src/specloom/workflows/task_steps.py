"""A whole-file task in steps: its code first, then its tests written against that code.

A small model asked for a module and its tests in one answer makes them disagree: the tests
call functions the code does not define, copy an example's placeholder names, or expect as a
return value what the code prints. Asked in two requests, it first writes the code, then, with
that code in view, tests that import its real functions. The tests request starts the file for
it (``scaffold_for``): the module's functions that return a value, imported by name, a
comment naming those that only print (tested through ``capsys``), and a first test tagged
with the task's requirements (one that makes its input file in ``tmp_path`` when the
function takes a path). Verification still decides: the project's whole
test command runs after both steps, and a failure is fed back to the next attempt's steps.

``steps_for`` picks the steps of an attempt:

- ``("code", "tests")`` for a task whose likely files pair a Python module with its test file;
- ``("tests",)`` for a task about tests (its title says so) whose module exists already;
- ``("all",)``, one request for every file, otherwise: property tasks (their tests come from
  the design), tasks on other kinds of files.

``step_ask`` words each step's ask; ``joined`` makes the step's results one attempt's result.

May import: the standard library, ``specloom.spec`` (types), ``specloom.agent.loop`` (types)
and ``specloom.agent.missing_imports``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Literal

from specloom.agent.missing_imports import is_test_file, module_name
from specloom.spec.tasks import is_test_title

if TYPE_CHECKING:
    from specloom.agent.loop import AgentResult
    from specloom.spec.tasks import Task

__all__ = [
    "Step",
    "is_source",
    "joined",
    "scaffold_for",
    "split_likely",
    "step_ask",
    "steps_for",
]

Step = Literal["all", "code", "tests"]

_SCAFFOLD_FUNCTIONS = 3
"""Functions a scaffold imports (the first test calls the first of them)."""


def is_source(path: str) -> bool:
    """A module of the project's code: importable, not a test, not packaging."""
    name = PurePosixPath(path).name
    return module_name(path) is not None and name not in ("conftest.py", "setup.py", "__init__.py")


def split_likely(likely: Sequence[str]) -> tuple[list[str], list[str]]:
    """The likely files' Python modules and their test files (``test_*.py``)."""
    modules = [path for path in likely if is_source(path)]
    tests = [path for path in likely if is_test_file(path)]
    return modules, tests


def steps_for(
    task: Task, workdir: Path, likely: Sequence[str], *, property_task: bool
) -> tuple[Step, ...]:
    """The steps of an attempt at ``task`` (see the module docstring)."""
    modules, tests = split_likely(likely)
    if property_task or not modules or not tests:
        return ("all",)
    if is_test_title(task.title) and all((workdir / path).is_file() for path in modules):
        return ("tests",)
    return ("code", "tests")


def step_ask(
    step: Step,
    likely: Sequence[str],
    *,
    written: Sequence[str] = (),
    scaffold: str | None = None,
    tests_exist: bool = False,
    failed: bool = False,
) -> str:
    """What the request of ``step`` asks for, last in the request.

    Args:
        step: The step.
        likely: The files the task most likely needs (``task_files.likely_files``).
        written: The code files the ``code`` step wrote (for ``tests``).
        scaffold: The test file's start (``scaffold_for``), for ``tests``.
        tests_exist: The test file is in the project already (its tests are kept).
        failed: The tests shown failed on their own assertions against this code (for
            ``tests``): they are to be fixed, not kept.
    """
    modules, tests = split_likely(likely)
    if step == "code":
        return (
            f"Now write the code of this task, not its tests (they come next): "
            f"{', '.join(modules)}. Answer with each file written in full: its path on a line "
            "of its own, then a fenced code block. Functions return their results (only the "
            "command-line entry point prints them); import everything a file uses."
        )
    if step == "tests":
        code = ", ".join(written or modules)
        keep = " Keep the tests the file has and add the new ones." if tests_exist else ""
        first = (
            f"The code of this task is in {code}, shown above. Now write its tests in "
            f"{', '.join(tests)}"
        )
        if failed:
            first = (
                f"The code of this task is in {code}, shown above, and is kept. So are its "
                f"tests that passed. Write the tests that failed (the last attempt, above) "
                f"again in {', '.join(tests)}"
            )
            keep = (
                " Where a test that failed expected a value the criteria do not ask for, "
                "expect the right one; only where the criteria show that the code is wrong, "
                "answer with the code file fixed, in full, too."
            )
        out = (
            f"{first}: short tests, each calling one function of the code with a "
            "tiny input you make yourself (a file in pytest's `tmp_path` where the function "
            "reads one) and checking the exact value it returns. Choose inputs so simple that "
            "the result is obvious, and work the expected value out by following the code line "
            "by line. Use pytest's own fixtures (`tmp_path`, `capsys`); never define your own."
            f"{'' if failed else ' Do not change the code.'}{keep} Answer with the test file "
            "written in full, its path on a line of its own before a fenced code block"
        )
        if scaffold is None:
            return out + "."
        return f"{out}, starting like this:\n\n{tests[0]}\n```python\n{scaffold}```"
    out = (
        "Now answer with every file you create or change for this task, the code and its "
        "tests, each written in full: its path on a line of its own, then a fenced code "
        "block. Import everything a file uses. Functions return their results (only a "
        "command-line entry point prints them); a test imports a function from its module, "
        "makes its own input (files in pytest's `tmp_path`) and checks the exact value the "
        "function returns."
    )
    if likely:
        out += f"\nThe files this task most likely needs: {', '.join(likely)}."
    return out


def scaffold_for(workdir: Path, module_path: str, requirements: Sequence[str]) -> str | None:
    """The start of a test file for ``module_path``: its functions that return a value
    imported by name, a comment naming each function that prints its result and returns
    nothing (test what it prints), and a first test of each function imported, tagged with
    ``requirements`` (``_first_test``: it writes the input file in ``tmp_path`` when the
    function's first parameter is a path; it reads what was printed when the function only
    prints).

    ``None`` when the module cannot be read or parsed, or defines no public function.
    """
    module = module_name(module_path)
    try:
        tree = ast.parse((workdir / module_path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return None
    if module is None:
        return None
    public = [
        node
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and not node.name.startswith("_")
        and node.name != "main"
    ]
    chosen = ([node for node in public if _returns_value(node)] or public)[:_SCAFFOLD_FUNCTIONS]
    if not chosen:
        return None
    tag = f"Validates: Requirements {', '.join(requirements)}" if requirements else None
    docstring = f'    """{tag}"""\n' if tag else ""
    # A small model compares a printing function's return value (None) with its output.
    printing = [node.name for node in public if _only_prints(node)][:_SCAFFOLD_FUNCTIONS]
    notes = "".join(
        f"# {name}() prints its result and returns None: check what it prints with "
        "capsys.readouterr().out\n"
        for name in printing
    )
    head = f"from {module} import {', '.join(node.name for node in chosen)}\n{notes}\n\n"
    # A first test for each function, in the shape its input takes: a small model given one
    # test that writes a file copies that for every function, text-taking ones too.
    return head + "\n\n".join(_first_test(node, docstring) for node in chosen)


def _first_test(node: ast.FunctionDef | ast.AsyncFunctionDef, docstring: str) -> str:
    """The start of a test of one function: what it prints when it only prints, the file it
    reads made in ``tmp_path`` when it takes a path, else the value it returns."""
    name = node.name
    if _only_prints(node):
        return (
            f"def test_{name}(capsys):\n{docstring}    {name}(...)\n"
            "    assert capsys.readouterr().out == ...\n"
        )
    if not _takes_path(node):
        return f"def test_{name}():\n{docstring}    assert {name}(...) == ...\n"
    # A function that reads a file: the test makes the file (small models otherwise point
    # it at files that do not exist).
    return (
        f"def test_{name}(tmp_path):\n{docstring}"
        f'    source = tmp_path / "input.txt"\n'
        f"    source.write_text(...)\n"
        f"    assert {name}(source) == ...\n"
    )


def joined(results: Sequence[AgentResult]) -> AgentResult:
    """The steps' results as one attempt's: counts added, checkpoints and files in order,
    the first early stop (else the last step's ending)."""
    last = results[-1]
    stopped = next((result for result in results if not result.completed), last)
    changed: list[str] = []
    for result in results:
        changed += [path for path in result.changed_files if path not in changed]
    return replace(
        last,
        output="\n\n".join(result.output for result in results if result.output),
        stop=stopped.stop,
        detail=stopped.detail,
        steps=sum(result.steps for result in results),
        requests=sum(result.requests for result in results),
        input_tokens=sum(result.input_tokens for result in results),
        output_tokens=sum(result.output_tokens for result in results),
        tool_calls=sum(result.tool_calls for result in results),
        checkpoints=[cp for result in results for cp in result.checkpoints],
        changed_files=changed,
        file_blocks=[note for result in results for note in result.file_blocks],
    )


_PATH_PARAMETER = re.compile(r"path|file|filename|source", re.IGNORECASE)


def _takes_path(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether the function's first parameter is, by its name, a file's path."""
    arguments = [*node.args.posonlyargs, *node.args.args]
    return bool(arguments) and _PATH_PARAMETER.search(arguments[0].arg) is not None


def _only_prints(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether the function calls ``print`` and returns no value."""
    calls_print = any(
        isinstance(child, ast.Call)
        and isinstance(child.func, ast.Name)
        and child.func.id == "print"
        for child in ast.walk(node)
    )
    return calls_print and not _returns_value(node)


def _returns_value(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(
        isinstance(child, ast.Return) and child.value is not None for child in ast.walk(node)
    )
