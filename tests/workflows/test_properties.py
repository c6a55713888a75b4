"""Property-based tests from the design's correctness properties: a scripted model answers
with the parts of each test, specloom writes a compiling Hypothesis file whose tags
``specloom trace`` links to the criteria, repairs bad answers, extends an existing file and
refuses what it cannot do."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai.messages import ModelMessage, ModelRequest, RetryPromptPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from specloom.errors import SettingsError, SpecNotFoundError, UsageError
from specloom.settings import load_settings
from specloom.spec.design import Property
from specloom.spec.trace import find_test_references
from specloom.workflows.properties import (
    PropertyTestDraft,
    StrategyArgument,
    existing_property_tests,
    generate_property_tests,
    is_python_project,
    property_test_path,
    render_property_test,
)
from tests.workflows.test_task_runner import (
    DESIGN,
    is_structured,
    make_project,
    structured_answer,
)

pytestmark = pytest.mark.anyio

MORE_PROPERTIES = (
    """\
### Property 2: Zero changes nothing

*For any* integer a, `add(a, 0)` equals a.

**Validates: Requirements 1.2**

### Property 3: One line per result

*For any* list of results, `render_report` gives """
    + '"""'
    + """one line\\per result"""
    + '"""'
    + """.

**Validates: Requirements 2.1**

"""
)

DRAFTS: dict[str, dict[str, Any]] = {
    "1": {
        "test_name": "test_addition_commutes",
        "imports": ["from calc import add"],
        "arguments": [
            {"name": "a", "strategy": "st.integers()"},
            {"name": "b", "strategy": "st.integers()"},
        ],
        "body": "assert add(a, b) == add(b, a)",
    },
    "2": {
        "test_name": "test_zero_changes_nothing",
        "imports": ["from calc import add"],
        "arguments": [{"name": "a", "strategy": "st.integers()"}],
        "body": "result = add(a, 0)\nassert result == a",
    },
    "3": {
        "test_name": "test_one_line_per_result",
        "imports": ["from calc import render_report"],
        "arguments": [{"name": "results", "strategy": "st.lists(st.integers(), min_size=1)"}],
        "body": "assert len(render_report(results).splitlines()) == len(results)",
    },
}

FIXED_CALC = "def add(a, b):\n    return a + b\n\n\ndef render_report(results):\n" + (
    '    return "\\n".join(str(result) for result in results)\n'
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = make_project(tmp_path / "calc")
    design = root / ".kiro" / "specs" / "calc" / "design.md"
    design.write_text(DESIGN.replace("## Error Handling", MORE_PROPERTIES + "## Error Handling"))
    (root / "calc.py").write_text(FIXED_CALC)
    return root


def prompts(messages: list[ModelMessage]) -> list[str]:
    return [
        str(part.content)
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, UserPromptPart | RetryPromptPart)
    ]


class Writer:
    """Answers each property's request with its draft (``answers`` may script several
    answers per property, the last one repeating); keeps what it was sent."""

    def __init__(self, answers: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.answers = answers or {key: [value] for key, value in DRAFTS.items()}
        self.seen: list[list[ModelMessage]] = []
        self.calls: dict[str, int] = {}

    def answer(self, messages: list[ModelMessage], info: AgentInfo) -> Any:
        assert is_structured(info)
        self.seen.append(list(messages))
        first = prompts(messages)[0]
        match = re.search(r"^Property (\d+):", first, re.MULTILINE)
        assert match is not None, first
        key = match.group(1)
        count = self.calls.get(key, 0)
        self.calls[key] = count + 1
        options = self.answers[key]
        return structured_answer(info, options[min(count, len(options) - 1)])

    def model(self) -> FunctionModel:
        return FunctionModel(self.answer, model_name="writer")


async def generate(root: Path, writer: Writer, **options: Any) -> Any:
    return await generate_property_tests(
        root, "calc", model=writer.model(), settings=load_settings(root), **options
    )


async def test_each_property_becomes_a_tagged_hypothesis_test(project: Path) -> None:
    writer = Writer()

    result = await generate(project, writer)

    path = project / "tests" / "test_calc_properties.py"
    assert result.path == path == property_test_path(project, "calc")
    assert [(t.name, t.property_id, t.validates) for t in result.tests] == [
        ("test_addition_commutes", "1", ("1.2",)),
        ("test_zero_changes_nothing", "2", ("1.2",)),
        ("test_one_line_per_result", "3", ("2.1",)),
    ]
    assert result.failed == [] and result.existing == []
    assert result.requests == 3 and result.input_tokens > 0
    source = path.read_text()
    compile(source, str(path), "exec")
    assert source.count("@given(") == 3
    assert "# Feature: calc, Property 2: Zero changes nothing\n@given(a=st.integers())" in source
    assert "from calc import add\nfrom calc import render_report\n" in source
    references = find_test_references("tests/test_calc_properties.py", source, "calc")
    assert [(r.test.split("::")[1], r.ids) for r in references] == [
        ("test_addition_commutes", ("1.2",)),
        ("test_zero_changes_nothing", ("1.2",)),
        ("test_one_line_per_result", ("2.1",)),
    ]
    assert find_test_references("tests/test_calc_properties.py", source, "other") == []
    # Each request is about one property, with the criteria it validates and the project map.
    first = prompts(writer.seen[0])[0]
    assert "Property 1: Addition commutes" in first and "Zero changes nothing" not in first
    assert "return their sum from `add`" in first
    assert "calc.py" in first
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(path)],
        cwd=project, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout


async def test_a_bad_answer_is_sent_back_with_its_problems(project: Path) -> None:
    bad = {
        "test_name": "addition commutes",
        "imports": ["calc.add"],
        "arguments": [{"name": "a", "strategy": "st.integers("}],
        "body": "def test_x(a):\n    assert add(a, 1) == add(1, a)",
    }
    writer = Writer({"1": [bad, DRAFTS["1"]]})

    result = await generate(project, writer, properties=["1"])

    assert [test.name for test in result.tests] == ["test_addition_commutes"]
    assert writer.calls == {"1": 2}
    repair = "\n".join(prompts(writer.seen[1])[1:])
    assert "`test_name` must be a Python name that starts with `test_`" in repair
    assert "`calc.add` must be one `import ...`" in repair or "not a Python import" in repair
    assert "The strategy `st.integers(` of `a` is not a Python expression" in repair
    assert "no `def` line and no decorator" in repair


async def test_a_property_the_model_cannot_write_is_reported_and_the_rest_written(
    project: Path,
) -> None:
    no_assert = {**DRAFTS["2"], "body": "add(a, 0)"}
    writer = Writer({"1": [DRAFTS["1"]], "2": [no_assert], "3": [DRAFTS["3"]]})

    result = await generate(project, writer)

    assert [test.property_id for test in result.tests] == ["1", "3"]
    [(failed_id, why)] = result.failed
    assert failed_id == "2" and "PropertyTestDraft" in why
    assert writer.calls["2"] == 4  # the first answer and three repairs
    source = result.path.read_text()
    assert existing_property_tests(source, "calc") == ["1", "3"]


async def test_an_existing_file_is_extended_not_rewritten(project: Path) -> None:
    path = project / "tests" / "test_calc_properties.py"
    existing = (
        '"""Hand-written. Feature: calc"""\n\nimport math\n\nfrom hypothesis import given\n'
        "from hypothesis import strategies as st\n\nfrom calc import add\n\n\n"
        "# Property 1: Addition commutes\n@given(st.integers(), st.integers())\n"
        "def test_commutes(a, b):\n    assert add(a, b) == add(b, a)\n"
    )
    path.write_text(existing)
    writer = Writer()

    result = await generate(project, writer)

    assert result.existing == ["1"]
    assert [test.property_id for test in result.tests] == ["2", "3"]
    assert "1" not in writer.calls
    source = path.read_text()
    compile(source, str(path), "exec")
    assert source.startswith(existing.split("\n\n\n# Property 1")[0].replace(
        "from calc import add\n", "from calc import add\nfrom calc import render_report\n"
    ))  # fmt: skip
    assert "def test_commutes(a, b):\n    assert add(a, b) == add(b, a)\n" in source
    assert source.count("from hypothesis import given") == 1
    assert source.index("def test_commutes") < source.index("def test_zero_changes_nothing")

    again = await generate(project, writer)

    assert again.tests == [] and again.existing == ["1", "2", "3"]
    assert path.read_text() == source


async def test_a_clashing_test_name_gets_a_number(project: Path) -> None:
    same = {**DRAFTS["2"], "test_name": "test_addition_commutes"}
    writer = Writer({"1": [DRAFTS["1"]], "2": [same], "3": [DRAFTS["3"]]})

    result = await generate(project, writer, properties=["1", "2"])

    assert [test.name for test in result.tests] == [
        "test_addition_commutes",
        "test_addition_commutes_2",
    ]


async def test_a_broken_existing_file_is_left_alone(project: Path) -> None:
    path = project / "tests" / "test_calc_properties.py"
    path.write_text("def test_broken(:\n")

    with pytest.raises(UsageError) as caught:
        await generate(project, Writer())

    assert caught.value.file == str(path)
    assert "Fix the file or delete it" in (caught.value.hint or "")
    assert path.read_text() == "def test_broken(:\n"


async def test_other_languages_are_not_supported(tmp_path: Path) -> None:
    root = make_project(tmp_path / "web", with_tests=False)
    (root / "calc.py").unlink()
    (root / "package.json").write_text(json.dumps({"name": "web"}))

    assert not is_python_project(root)
    with pytest.raises(UsageError) as caught:
        await generate(root, Writer())

    assert "Python projects only" in caught.value.message
    assert "fast-check" in caught.value.message
    assert not (root / "tests").exists()


async def test_unknown_properties_and_designs_without_any_are_errors(project: Path) -> None:
    with pytest.raises(SpecNotFoundError) as caught:
        await generate(project, Writer(), properties=["9"])
    assert caught.value.hint == "Known properties: 1, 2, 3."

    design = project / ".kiro" / "specs" / "calc" / "design.md"
    design.write_text("# Design\n\n## Overview\n\nNothing to check.\n")
    with pytest.raises(SpecNotFoundError) as caught:
        await generate(project, Writer())
    assert caught.value.file == ".kiro/specs/calc/design.md"


async def test_property_examples_setting_caps_each_test(project: Path) -> None:
    settings_file = project / ".kiro" / "settings" / "specloom.json"
    settings_file.write_text(json.dumps({"run": {"property_examples": 25}}))

    result = await generate(project, Writer(), properties=["2"])

    source = result.path.read_text()
    assert "from hypothesis import settings\n" in source
    assert "@settings(max_examples=25)\n@given(a=st.integers())" in source

    settings_file.write_text(json.dumps({"run": {"property_examples": "many"}}))
    with pytest.raises(SettingsError):
        await generate(project, Writer(), properties=["3"])


def test_statements_with_quotes_and_backslashes_stay_valid_python() -> None:
    prop = Property("3", "Odd", 'Text with """quotes""" and a \\ backslash', ["2.1"], 1)
    draft = PropertyTestDraft(
        test_name="test_odd",
        imports=[],
        arguments=[StrategyArgument(name="x", strategy="st.text()")],
        body="    assert isinstance(x, str)\n",
    )

    source = render_property_test(draft, prop, "calc")

    compile(source, "<test>", "exec")
    namespace: dict[str, Any] = {}
    exec("from hypothesis import given\nfrom hypothesis import strategies as st\n" + source,
         namespace)  # fmt: skip
    assert 'Text with """quotes""" and a \\ backslash' in namespace["test_odd"].__doc__
