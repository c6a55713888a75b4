"""Property-based tests from the design's correctness properties.

Each ``Property N`` of ``design.md`` (a "for any ..." statement with the requirements it
validates) becomes one Hypothesis test in ``tests/test_<spec>_properties.py`` of a Python
project. The model is asked, one property at a time (short prompts suit the embedded model
too), for the parts of a test as structured output: its name, the imports it needs, one
Hypothesis strategy per argument, and the body. specloom writes the function around them, so
every test has ``@given`` and carries the tags ``specloom trace`` reads: a
``# Feature: <spec>, Property N: <title>`` comment above it and
``Validates: Requirements X.Y`` in its docstring.

Each answer is checked before it is accepted (names, strategies and imports that compile, a
body with an assertion, the whole file compiling with it); problems go back to the model as a
repair prompt (``specloom.llm.structured.generate``'s ``check``). A property the model cannot
write is reported in ``PropertyTests.failed`` and the rest are still written.

An existing file is extended, never rewritten: properties that already have a test (a
``Property N`` tag of this spec) are skipped; new imports go after the file's own, new tests
at its end. Other languages are not supported (the error says what to do instead).

Settings: ``run.property_examples`` (a whole number) adds
``@settings(max_examples=N)`` to each generated test.

May import: the standard library, pydantic, ``specloom.errors``, ``specloom.settings``,
``specloom.workspace``, ``specloom.spec``, ``specloom.llm.structured`` and
``specloom.agent.repomap``.
"""

from __future__ import annotations

import ast
import keyword
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from specloom.errors import ModelRequestError, SpecNotFoundError, UsageError
from specloom.settings import Settings
from specloom.spec.design import Property
from specloom.spec.model import Spec
from specloom.workspace import Workspace, atomic_write

if TYPE_CHECKING:
    from pydantic_ai.models import Model

__all__ = [
    "GeneratedTest",
    "PropertyTestDraft",
    "PropertyTests",
    "StrategyArgument",
    "existing_property_tests",
    "generate_property_tests",
    "is_python_project",
    "property_test_path",
    "render_property_test",
]

_MAP_CHARS = 1_200
_INSTRUCTIONS = (
    "You write Python property-based tests with Hypothesis for pytest. Answer with the JSON "
    "object asked for, nothing else."
)
_EXAMPLE = (
    'Example, for "For any list of integers, sorting twice gives the same list as sorting '
    'once":\n{"test_name": "test_sorting_is_idempotent", "imports": ["from shop.sorting '
    'import sort_items"], "arguments": [{"name": "items", "strategy": '
    '"st.lists(st.integers())"}], "body": "once = sort_items(items)\\nassert '
    'sort_items(once) == once"}'
)
_HYPOTHESIS_IMPORTS: tuple[str, ...] = (
    "from hypothesis import given",
    "from hypothesis import strategies as st",
)
_NON_PYTHON = {
    "package.json": "JavaScript/TypeScript (fast-check)",
    "Cargo.toml": "Rust (proptest)",
    "go.mod": "Go (rapid or gopter)",
    "pom.xml": "Java (jqwik)",
    "build.gradle": "Java/Kotlin (jqwik or kotest)",
    "build.gradle.kts": "Kotlin (kotest)",
    "Gemfile": "Ruby (rantly)",
    "mix.exs": "Elixir (StreamData)",
}
_PYTHON_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", "Pipfile", "requirements.txt")


class StrategyArgument(BaseModel):
    """One argument of the test function and the values Hypothesis draws for it."""

    name: str = Field(description="The parameter name, a Python identifier (e.g. `text`).")
    strategy: str = Field(
        description="A Hypothesis strategy expression using `st.` (e.g. `st.text()`, "
        "`st.lists(st.integers(), max_size=20)`)."
    )


class PropertyTestDraft(BaseModel):
    """What the model writes for one property; specloom writes the function around it."""

    test_name: str = Field(description="The test function's name: `test_` then snake_case.")
    imports: list[str] = Field(
        default_factory=list,
        description="Import lines for the project code the test uses (`from pkg.mod import "
        "name`); `given` and `st` are imported already.",
    )
    arguments: list[StrategyArgument] = Field(
        description="The test's arguments, each with its strategy (at least one)."
    )
    body: str = Field(
        description="The statements inside the function (no `def` line, no decorator), "
        "ending in `assert` statements that check the property."
    )


@dataclass(frozen=True, slots=True)
class GeneratedTest:
    """A test written for one property.

    Attributes:
        name: The test function's name.
        property_id: The property's id (``"3"``).
        validates: The criteria it validates.
        source: The function's code, tags included.
    """

    name: str
    property_id: str
    validates: tuple[str, ...]
    source: str


@dataclass(slots=True)
class PropertyTests:
    """What ``generate_property_tests`` did.

    Attributes:
        path: The test file.
        tests: The tests written this time.
        existing: Ids of the properties that already had a test in the file.
        failed: ``(property id, why)`` for each property the model could not write.
        input_tokens: Input tokens over all requests.
        output_tokens: Output tokens over all requests.
        requests: Model requests made.
    """

    path: Path
    tests: list[GeneratedTest] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0


def property_test_path(root: Path, spec_name: str) -> Path:
    """``<root>/tests/test_<spec>_properties.py`` (the spec's name made a module name)."""
    module = re.sub(r"\W+", "_", spec_name).strip("_").lower() or "spec"
    return root / "tests" / f"test_{module}_properties.py"


def is_python_project(root: Path) -> bool:
    """Whether ``root`` holds a Python project: a Python packaging file, or ``.py`` files at
    the top, in ``src/`` or in ``tests/``, and no other language's manifest without them."""
    if any((root / name).is_file() for name in _PYTHON_MARKERS):
        return True
    for folder in (root, root / "src", root / "tests"):
        if folder.is_dir() and any(folder.glob("*.py")):
            return True
        if folder.is_dir() and any(folder.glob("*/*.py")) and folder != root:
            return True
    return False


def _language_of(root: Path) -> str:
    for name, language in _NON_PYTHON.items():
        if (root / name).is_file():
            return language
    return "no Python packaging file or Python source was found"


def existing_property_tests(text: str, spec_name: str) -> list[str]:
    """Ids of the properties of ``spec_name`` that ``text`` (a test file) has tests for: a
    ``Feature: <spec>, Property N`` tag, or a ``Property N`` tag in a file about that spec."""
    names = set(re.findall(r"\b(?:Feature|Spec)\s*:\s*([A-Za-z0-9_.\-]+)", text))
    if names and spec_name not in names:
        return []
    found: list[str] = []
    for match in re.finditer(r"\bProperty\s+(\d+(?:\.\d+)*)\b", text):
        if match.group(1) not in found:
            found.append(match.group(1))
    return found


def _docstring_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def render_property_test(
    draft: PropertyTestDraft,
    prop: Property,
    spec_name: str,
    *,
    name: str | None = None,
    max_examples: int | None = None,
) -> str:
    """The test function for ``prop`` from the model's ``draft``, with its tags."""
    function = name or draft.test_name.strip()
    arguments = ", ".join(argument.name.strip() for argument in draft.arguments)
    strategies = ", ".join(
        f"{argument.name.strip()}={argument.strategy.strip()}" for argument in draft.arguments
    )
    title = f"Property {prop.id}: {prop.title}".rstrip(": ")
    docstring = [f"{title}."]
    if prop.statement:
        docstring += ["", prop.statement]
    if prop.validates:
        docstring += ["", f"Validates: Requirements {', '.join(prop.validates)}"]
    doc_lines = [_docstring_text(line) for line in docstring]
    body = _dedent(draft.body).rstrip("\n").splitlines() or ["pass"]
    out = [f"# Feature: {spec_name}, {title}"]
    if max_examples is not None:
        out.append(f"@settings(max_examples={max_examples})")
    out += [f"@given({strategies})", f"def {function}({arguments}):"]
    out.append(f'    """{doc_lines[0]}')
    out += [f"    {line}".rstrip() for line in doc_lines[1:]]
    out.append('    """')
    out += [f"    {line}".rstrip() for line in body]
    return "\n".join(out) + "\n"


def _dedent(code: str) -> str:
    import textwrap

    return textwrap.dedent(code.replace("\t", "    ").strip("\n"))


def _header(spec_name: str, design_path: str) -> str:
    return (
        f'"""Property-based tests of spec {spec_name} (Feature: {spec_name}).\n\n'
        f"Written from the correctness properties of {design_path}; each test names its\n"
        'property and the acceptance criteria it checks.\n"""\n'
    )


@dataclass(slots=True)
class _File:
    """The test file being built: the existing text, the imports and tests added."""

    text: str
    imports: list[str] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)
    names: set[str] = field(default_factory=set)

    def with_test(self, imports: Sequence[str], test: str) -> str:
        """The file's text with ``imports`` and ``test`` added to what is there."""
        present = {line.strip() for line in self.text.splitlines()}
        wanted = [line.strip() for line in [*self.imports, *imports]]
        wanted = [line for line in dict.fromkeys(wanted) if line and line not in present]
        lines = self.text.splitlines(keepends=True)
        at, has_imports = _import_end(self.text)
        block = "".join(f"{line}\n" for line in wanted)
        head = "".join(lines[:at])
        if head and not head.endswith("\n"):
            head += "\n"
        if block and head and not has_imports:
            block = "\n" + block  # a blank line between the docstring and the imports
        body = "".join(lines[at:]).strip("\n")
        tests = [item.strip("\n") for item in [*self.tests, test] if item.strip()]
        pieces = [piece for piece in (body, *tests) if piece]
        return head + block + "".join(f"\n\n{piece}\n" for piece in pieces)


def _import_end(text: str) -> tuple[int, bool]:
    """The line after the file's last top-level import (or after its docstring), and
    whether it has imports."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return 0, False
    end = 0
    imports = False
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            end = node.end_lineno or node.lineno
            imports = True
        elif (
            end == 0
            and isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            end = node.end_lineno or node.lineno
        else:
            break
    return end, imports


def _function_names(text: str) -> set[str]:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return set()
    return {
        node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def _import_problems(imports: Sequence[str]) -> list[str]:
    problems: list[str] = []
    for line in imports:
        try:
            tree = ast.parse(line.strip())
        except SyntaxError:
            problems.append(f"`{line}` is not a Python import line.")
            continue
        if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Import | ast.ImportFrom):
            problems.append(f"`{line}` must be one `import ...` or `from ... import ...` line.")
    return problems


def _draft_problems(draft: PropertyTestDraft) -> list[str]:
    problems: list[str] = []
    name = draft.test_name.strip()
    if not (name.isidentifier() and name.startswith("test_") and not keyword.iskeyword(name)):
        problems.append("`test_name` must be a Python name that starts with `test_`.")
    if not draft.arguments:
        problems.append("Give at least one argument with a Hypothesis strategy.")
    seen: set[str] = set()
    for argument in draft.arguments:
        arg = argument.name.strip()
        if not arg.isidentifier() or keyword.iskeyword(arg):
            problems.append(f"Argument name `{arg}` is not a Python identifier.")
        elif arg in seen:
            problems.append(f"Argument `{arg}` is given twice.")
        seen.add(arg)
        try:
            compile(argument.strategy.strip(), "<strategy>", "eval")
        except SyntaxError:
            problems.append(f"The strategy `{argument.strategy}` of `{arg}` is not a Python "
                            "expression (write it like `st.integers(min_value=0)`).")  # fmt: skip
    problems += _import_problems(draft.imports)
    body = _dedent(draft.body)
    if re.match(r"\s*(@|def\s|async\s+def\s)", body):
        problems.append(
            "`body` must hold only the statements inside the function: no `def` line and no "
            "decorator (specloom writes those from `test_name` and `arguments`)."
        )
        return problems
    try:
        tree = ast.parse(body)
    except SyntaxError as error:
        problems.append(f"`body` is not valid Python: {error.msg} (line {error.lineno}).")
        return problems
    checks = any(
        isinstance(node, ast.Assert)
        or (
            isinstance(node, ast.Call)
            and "assert" in ast.unparse(node.func).lower()
            or isinstance(node, ast.Call)
            and ast.unparse(node.func).endswith("raises")
        )
        for node in ast.walk(tree)
    )
    if not checks:
        problems.append("`body` must check the property with `assert` statements.")
    return problems


def _file_problems(text: str, path: str) -> list[str]:
    try:
        compile(text, path, "exec", dont_inherit=True)
        tree = ast.parse(text, path)
    except SyntaxError as error:
        return [f"The test file does not compile: {error.msg} (line {error.lineno})."]
    problems: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            given = any(
                isinstance(d, ast.Call) and ast.unparse(d.func).split(".")[-1] == "given"
                for d in node.decorator_list
            )
            if not given and "Property" in (ast.get_docstring(node) or ""):
                problems.append(f"`{node.name}` does not use `@given`.")
    return problems


def _prompt(spec: Spec, prop: Property, project_map: str) -> str:
    criteria = {criterion.id: criterion.text for criterion in spec.criteria()}
    lines = [
        "Write one Hypothesis property-based test for this correctness property.",
        "",
        f"Property {prop.id}: {prop.title}",
    ]
    if prop.statement:
        lines.append(prop.statement)
    for item in prop.validates:
        if item in criteria:
            lines.append(f"Requirement {item}: {criteria[item]}")
    if project_map:
        lines += ["", "Project files and their top-level names (import from them):", project_map]
    lines += [
        "",
        "Answer with test_name, imports, arguments (each a name and a strategy using `st.`) "
        "and body (the statements inside the function, ending in asserts).",
        _EXAMPLE,
    ]
    return "\n".join(lines)


def _select(spec: Spec, wanted: Sequence[str] | None) -> list[Property]:
    design = spec.design
    design_file = spec.file("design.md")
    if design is None or not design.properties:
        raise SpecNotFoundError(
            "the design has no correctness properties to write tests for.",
            file=design_file,
            hint="Add `### Property N: <title>` sections with a `*For any* ...` statement and "
            "`**Validates: Requirements X.Y**` to the design's Correctness Properties.",
        )
    if wanted is None:
        return list(design.properties)
    by_id = {prop.id: prop for prop in design.properties}
    unknown = [item for item in wanted if item not in by_id]
    if unknown:
        raise SpecNotFoundError(
            f"the design has no property {', '.join(unknown)}.",
            file=design_file,
            hint=f"Known properties: {', '.join(by_id)}.",
        )
    return [by_id[item] for item in dict.fromkeys(wanted)]


def _max_examples(settings: Settings) -> int | None:
    value = settings.get("run", "property_examples")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise settings.error(
            f"`run.property_examples` must be a whole number above 0, not {value!r}",
            "run",
            "property_examples",
        )
    return value


async def generate_property_tests(
    root: Path,
    spec_name: str,
    *,
    model: Model,
    settings: Settings,
    properties: Sequence[str] | None = None,
    spec_root: Path | None = None,
    max_tokens: int = 1_024,
) -> PropertyTests:
    """Write Hypothesis tests for the correctness properties of spec ``spec_name``.

    Args:
        root: The project (or worktree) the tests are written in.
        spec_name: The spec's name.
        model: The model that writes them.
        settings: The merged settings (``run.property_examples``).
        properties: Ids of the properties to write (default: all of the design's).
        spec_root: Where ``.kiro/specs/`` is read (default: ``root``).
        max_tokens: Output cap per request.

    Returns:
        The file, the tests written, the properties that had tests already and those the
        model could not write.

    Raises:
        UsageError: The project is not a Python project, or its property test file does not
            compile (it is left as it is).
        SpecNotFoundError: No such spec, no correctness properties, or unknown ids.
        SettingsError: A bad ``run.property_examples``.
    """
    from specloom.agent.repomap import repo_map
    from specloom.llm.structured import generate

    spec = Workspace(spec_root if spec_root is not None else root).load(spec_name)
    chosen = _select(spec, properties)
    examples = _max_examples(settings)
    if not is_python_project(root):
        raise UsageError(
            f"property-based tests are generated for Python projects only, and {root} is not "
            f"one ({_language_of(root)}).",
            file=spec.file("design.md"),
            hint="Write the property tests with your language's property-testing library, "
            "each tagged `Validates: Requirements X.Y` so `specloom trace` links it.",
        )
    path = property_test_path(root, spec_name)
    shown = path.relative_to(root).as_posix()
    existing_text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if existing_text:
        problems = _file_problems(existing_text, shown)
        if problems:
            raise UsageError(
                f"{shown} exists but cannot be extended: {problems[0]}",
                file=path,
                hint="Fix the file or delete it, then run again.",
            )
    have = set(existing_property_tests(existing_text, spec_name))
    result = PropertyTests(path, existing=[p.id for p in chosen if p.id in have])
    todo = [prop for prop in chosen if prop.id not in have]
    if not todo:
        return result
    base = existing_text or _header(spec_name, spec.file("design.md"))
    header_imports: list[str] = list(_HYPOTHESIS_IMPORTS)
    if examples is not None:
        header_imports.append("from hypothesis import settings")
    building = _File(base, imports=header_imports, names=_function_names(base))
    project_map = repo_map(root, max_chars=_MAP_CHARS).text
    for prop in todo:

        def check(draft: PropertyTestDraft, prop: Property = prop) -> list[str]:
            problems = _draft_problems(draft)
            if problems:
                return problems
            name = _free_name(draft.test_name.strip(), building.names)
            test = render_property_test(draft, prop, spec_name, name=name,
                                        max_examples=examples)  # fmt: skip
            return _file_problems(building.with_test(draft.imports, test), shown)

        try:
            generated = await generate(
                PropertyTestDraft,
                _prompt(spec, prop, project_map),
                model=model,
                instructions=_INSTRUCTIONS,
                check=check,
                repairs=3,
                max_tokens=max_tokens,
            )
        except ModelRequestError as error:
            result.failed.append((prop.id, error.message))
            continue
        draft = generated.value
        result.input_tokens += generated.input_tokens
        result.output_tokens += generated.output_tokens
        result.requests += generated.requests
        name = _free_name(draft.test_name.strip(), building.names)
        test = render_property_test(draft, prop, spec_name, name=name, max_examples=examples)
        building.imports += [line.strip() for line in draft.imports]
        building.tests.append(test)
        building.names.add(name)
        result.tests.append(GeneratedTest(name, prop.id, tuple(prop.validates), test))
    if result.tests:
        text = building.with_test([], "")
        problems = _file_problems(text, shown)
        if problems:  # each test was checked with the file; this guards the assembly itself
            raise UsageError(f"the generated {shown} does not compile: {problems[0]}",
                             file=path, hint="Run again, or try a larger model.")  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, text)
    return result


def _free_name(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    number = 2
    while f"{name}_{number}" in taken:
        number += 1
    return f"{name}_{number}"
