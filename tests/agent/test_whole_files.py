"""The whole-file edit format: answers read leniently, files written as tool calls would be."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_ai.messages import ModelMessage, ModelRequest, SystemPromptPart

from specloom.agent.audit import AuditLog, AuditTrail
from specloom.agent.checkpoints import CheckpointStore
from specloom.agent.context import Context, ContextPart
from specloom.agent.events import AgentEvent, ToolFinished, ToolStarted
from specloom.agent.loop import AgentRunner
from specloom.agent.whole_files import PLACEHOLDER_PATH, elided, parse_file_blocks, placeholder
from tests.agent.test_loop import Approver, Script, text

pytestmark = pytest.mark.anyio


CODE = "import sys\n\n\ndef main():\n    print(sys.argv)\n"


def block(header: str, body: str = CODE, *, info: str = "python") -> str:
    return f"{header}\n```{info}\n{body}```\n"


# -- reading answers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "wordcount.py",
        "`wordcount.py`",
        "**wordcount.py**",
        "### wordcount.py",
        "**File: wordcount.py**",
        "File: `wordcount.py`",
        "1. wordcount.py",
        "- `wordcount.py`:",
        "wordcount.py (new file)",
        "wordcount.py - the entry point",
        "Here is the code for wordcount.py:",
        "Create wordcount.py",
        "./wordcount.py",
    ],
)
def test_the_line_before_a_block_names_its_file(header: str) -> None:
    parsed = parse_file_blocks(f"Sure.\n\n{block(header)}\nDone.")
    assert [(found.path, found.content) for found in parsed.files] == [("wordcount.py", CODE)]
    assert parsed.unnamed == [] and parsed.cut_off == []


def test_the_path_can_be_in_the_fence_or_a_first_line_comment() -> None:
    answer = (
        "```python src/pkg/core.py\nX = 1\n```\n\n"
        '```python title="tests/test_core.py"\nY = 2\n```\n\n'
        "```python\n# file: setup_helpers.py\nZ = 3\n```\n"
    )
    parsed = parse_file_blocks(answer)
    assert [(found.path, found.content) for found in parsed.files] == [
        ("src/pkg/core.py", "X = 1\n"),
        ("tests/test_core.py", "Y = 2\n"),
        ("setup_helpers.py", "Z = 3\n"),  # the comment naming the file is not part of it
    ]


def test_a_file_written_twice_keeps_its_last_block_and_lines_are_reported() -> None:
    answer = block("app.py", "A = 1\n") + "\nBetter:\n\n" + block("app.py", "A = 2\n")
    parsed = parse_file_blocks(answer)
    assert [(found.path, found.content, found.line) for found in parsed.files] == [
        ("app.py", "A = 2\n", 9)  # the line of its opening fence
    ]


SCAFFOLD = (
    "from wordcount import count_words\n\n\ndef test_count_words(tmp_path):\n"
    '    source = tmp_path / "input.txt"\n    source.write_text(...)\n'
    "    assert count_words(source) == ...\n"
)
"""The start of a test file as a request gives it, placeholders and all."""


def test_a_copy_of_the_given_start_after_the_real_file_does_not_replace_it() -> None:
    real = (
        "from wordcount import count_words\n\n\n"
        "def test_two():\n    assert count_words('a a') == {'a': 2}\n"
    )
    answer = (
        block("tests/test_wc.py", real)
        + "\nWrite the tests, starting like this:\n\n"
        + block("tests/test_wc.py", SCAFFOLD)
    )
    assert [found.content for found in parse_file_blocks(answer).files] == [real]
    # The other way round, the real file written last counts, as any later block does.
    answer = block("tests/test_wc.py", SCAFFOLD) + block("tests/test_wc.py", real)
    assert [found.content for found in parse_file_blocks(answer).files] == [real]


def test_placeholders_are_found_in_test_files_only_where_they_stand_for_values() -> None:
    assert placeholder("tests/test_wc.py", SCAFFOLD) == "source.write_text(...)"
    compared = "def test_x():\n    assert f(1) == ...\n"
    assert placeholder("tests/test_wc.py", compared) == "assert f(1) == ..."
    # Real code: a pydantic field, a stub body, an ellipsis index, and code that is no test.
    real = (
        "from pydantic import BaseModel, Field\n\n\nclass Item(BaseModel):\n"
        "    name: str = Field(..., description='x')\n\n\n"
        "def helper() -> int: ...\n\n\ndef test_x(grid):\n    assert grid[..., 0] == 1\n"
    )
    assert placeholder("tests/test_wc.py", real) is None
    assert placeholder("wordcount.py", SCAFFOLD) is None
    assert placeholder("tests/test_wc.py", "def broken(:\n") is None


def test_blocks_that_name_no_file_are_reported_and_commands_ignored() -> None:
    answer = (
        "Run it with:\n```bash\npython wordcount.py input.txt\n```\n\n"
        "The idea:\n```python\nprint('hi')\n```\n\n"
        f"{block(PLACEHOLDER_PATH)}"  # the instructions' example path is no file
    )
    parsed = parse_file_blocks(answer)
    assert parsed.files == []
    assert parsed.unnamed == [7, 12]  # the lines of their opening fences


def test_the_example_folder_before_a_real_name_is_dropped_unless_the_project_has_it() -> None:
    answer = block("path/to/wordcount.py") + "```python path/to/tests/test_wc.py\nX = 1\n```\n"
    assert [found.path for found in parse_file_blocks(answer).files] == [
        "wordcount.py",
        "tests/test_wc.py",
    ]
    real = parse_file_blocks(block("path/to/wordcount.py"), frozenset({"path/to/wordcount.py"}))
    assert [found.path for found in real.files] == ["path/to/wordcount.py"]


def test_a_bare_word_counts_as_a_path_only_when_the_project_has_that_file() -> None:
    answer = block("Makefile", "all:\n\ttrue\n", info="") + block("Procfile2", "x\n", info="")
    assert [found.path for found in parse_file_blocks(answer).files] == ["Makefile"]
    known = parse_file_blocks(answer, frozenset({"Procfile2"}))
    assert [found.path for found in known.files] == ["Makefile", "Procfile2"]


def test_paths_outside_the_project_or_language_names_are_not_paths() -> None:
    answer = block("../escape.py") + block("python") + block("Here is the code:")
    parsed = parse_file_blocks(answer)
    assert parsed.files == [] and len(parsed.unnamed) == 3


def test_an_answer_cut_off_inside_a_block_writes_nothing_of_it() -> None:
    answer = block("a.py", "A = 1\n") + "\nb.py\n```python\ndef half(:\n"
    parsed = parse_file_blocks(answer)
    assert [found.path for found in parsed.files] == ["a.py"]
    assert parsed.cut_off == ["b.py"]


def test_longer_fences_hold_blocks_with_fences_inside() -> None:
    inner = 'DOC = """\n```python\nx = 1\n```\n"""\n'
    answer = f"README_tool.py\n````python\n{inner}````\n"
    parsed = parse_file_blocks(answer)
    assert [(found.path, found.content) for found in parsed.files] == [("README_tool.py", inner)]


@pytest.mark.parametrize(
    "line",
    [
        "# ...",
        "    # ... rest of the code",
        "// rest of the file unchanged",
        "# existing functions unchanged",
        "# ... existing code ...",
        "# same as before",
        "    # (other methods stay unchanged)",
    ],
)
def test_blocks_that_leave_code_out_are_recognised(line: str) -> None:
    assert elided(f"def a():\n    pass\n{line}\nX = 1\n") == line.strip()


@pytest.mark.parametrize(
    "content",
    [
        CODE,
        "# Count the words of a file.\nimport sys\n",
        "def f():\n    ...\n",  # an ellipsis as code is not a comment
        "# the rest of the line is ignored by the parser\n",
        "message = 'rest of the code unchanged'\n",
    ],
)
def test_whole_files_are_not_mistaken_for_elided_ones(content: str) -> None:
    assert elided(content) is None


# -- the loop in the whole-file format ----------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    from tests.agent.test_checkpoints import git

    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    (root / "app.py").write_text("def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    ...\n")
    git(root, "add", "app.py")
    git(root, "commit", "-q", "-m", "first")
    return root


ANSWER = (
    "Fixed it.\n\napp.py\n```python\ndef add(a, b):\n    return a + b\n```\n\n"
    "tests/test_app.py\n```python\nfrom app import add\n\n\ndef test_add():\n"
    "    assert add(2, 3) == 5\n```\n\n"
    "```bash\npython -m pytest\n```\n"
)


def _system_text(messages: list[ModelMessage]) -> str:
    first = messages[0]
    assert isinstance(first, ModelRequest)
    instructions = first.instructions or ""
    parts = [part.content for part in first.parts if isinstance(part, SystemPromptPart)]
    return instructions + "".join(parts)


async def test_a_whole_file_answer_is_written_with_checkpoints_events_and_audit(
    repo: Path,
) -> None:
    script = Script([text(ANSWER)])
    events: list[AgentEvent] = []
    approver = Approver()
    store = CheckpointStore(repo)
    log = AuditLog.for_project(repo)
    runner = AgentRunner(
        repo,
        script.model(stream=False),
        approver,
        audit=AuditTrail(log, "run-1", spec="calc", task="1"),
        checkpoints=store,
        on_event=events.append,
        stream=False,
        edit_format="whole",
        task="1",
        spec="calc",
    )
    context = Context([ContextPart("file", "app.py", "```python\n...\n```", "shown")], [])

    result = await runner.run("Fix add and test it.", context=context)

    assert result.completed, result.detail
    # One request; its instructions say how to answer and carry the files (no tools are
    # offered: test_no_tools_are_offered_in_the_whole_file_format).
    assert len(script.seen) == 1
    system = _system_text(script.seen[0])
    assert "WHOLE new content" in system and "app.py" in system
    assert (repo / "app.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert (repo / "tests" / "test_app.py").read_text().endswith("assert add(2, 3) == 5\n")
    assert result.changed_files == ["app.py", "tests/test_app.py"]
    assert result.tool_calls == 2
    assert [request.kind for request in approver.requests] == ["write", "write"]
    assert [note.split(" (")[0] for note in result.file_blocks] == [
        "Replaced app.py",
        "Created tests/test_app.py",
    ]
    started = [event for event in events if isinstance(event, ToolStarted)]
    finished = [event for event in events if isinstance(event, ToolFinished)]
    assert [event.tool for event in started] == ["write_file", "write_file"]
    assert all(event.ok for event in finished)
    # One checkpoint before the writes restores the project as it was.
    assert len(result.checkpoints) == 1
    store.restore(result.checkpoints[0])
    assert (repo / "app.py").read_text().startswith("def add(a, b):\n    return a - b\n")
    assert not (repo / "tests" / "test_app.py").exists()
    kinds = [entry.kind for entry in log.entries(spec="calc")]
    assert kinds.count("tool_call") == 2 and kinds.count("tool_result") == 2
    # The answer itself is kept, after the writes, with what became of each file.
    assert kinds[-1] == "answer"
    [answer] = log.entries(spec="calc", kind="answer")
    assert answer.data["text"] == ANSWER and answer.data["notes"] == result.file_blocks
    log.close()


async def test_no_tools_are_offered_in_the_whole_file_format(repo: Path) -> None:
    offered: list[list[str]] = []

    def answer(messages: list[ModelMessage], info: object) -> object:
        offered.append([tool.name for tool in info.function_tools])  # type: ignore[attr-defined]
        return text("Nothing to do.")

    from pydantic_ai.models.function import FunctionModel

    runner = AgentRunner(repo, FunctionModel(answer), Approver(), stream=False, edit_format="whole")  # type: ignore[arg-type]
    result = await runner.run("Look around.")
    assert result.completed and offered == [[]]
    assert result.file_blocks == [] and result.changed_files == []

    tools_runner = AgentRunner(repo, FunctionModel(answer), Approver(), stream=False)  # type: ignore[arg-type]
    await tools_runner.run("Look around.")
    assert "write_file" in offered[1]


async def test_refused_elided_and_cut_off_blocks_are_reported_not_written(repo: Path) -> None:
    answer = (
        "app.py\n```python\ndef add(a, b):\n    return a + b\n\n# ... rest of the code\n```\n\n"
        "notes.txt\n```\nhello\n```\n\n"
        "```python\nprint('where?')\n```\n\n"
        f"tests/test_wc.py\n```python\n{SCAFFOLD}```\n\n"
        "late.py\n```python\nX = 1\n"
    )
    approver = Approver(allow=False)
    runner = AgentRunner(
        repo, Script([text(answer)]).model(stream=False), approver, edit_format="whole"
    )
    result = await runner.run("Change things.")

    assert result.completed
    assert (repo / "app.py").read_text().endswith("def sub(a, b):\n    ...\n")  # untouched
    assert not (repo / "notes.txt").exists() and not (repo / "late.py").exists()
    assert result.changed_files == []
    notes = "\n".join(result.file_blocks)
    assert "app.py was not written: the block leaves code out ('# ... rest of the code')" in notes
    assert "notes.txt was not written" in notes  # the user declined it
    assert [request.kind for request in approver.requests] == ["write"]
    assert "late.py was not written: your answer ends inside its block" in notes
    assert "The code block at line 14 of your answer names no file" in notes
    assert (
        "tests/test_wc.py was not written: it still has a placeholder `...` "
        "('source.write_text(...)'); write real values in its place" in notes
    )
    assert not (repo / "tests" / "test_wc.py").exists()


async def test_a_path_outside_the_project_is_refused(repo: Path) -> None:
    answer = "/etc/passwd\n```\nroot::0:0\n```\n\nsub/../../x.py\n```python\nX=1\n```\n"
    runner = AgentRunner(
        repo, Script([text(answer)]).model(stream=False), Approver(), edit_format="whole"
    )
    result = await runner.run("Try.")
    assert result.changed_files == [] and result.tool_calls == 0
    assert len(result.file_blocks) == 2
    assert all("names no file" in note for note in result.file_blocks)
    assert not (repo.parent / "x.py").exists()


async def test_the_example_folder_is_kept_only_where_the_project_has_one(repo: Path) -> None:
    answer = block("path/to/util.py", "X = 2\n")
    runner = AgentRunner(
        repo, Script([text(answer), text(answer)]).model(stream=False), Approver(),
        edit_format="whole",
    )  # fmt: skip
    first = await runner.run("Write util.")
    assert first.changed_files == ["util.py"] and not (repo / "path").exists()

    (repo / "path" / "to").mkdir(parents=True)
    (repo / "path" / "to" / "util.py").write_text("X = 1\n")
    second = await runner.run("Write util again.")
    assert second.changed_files == ["path/to/util.py"]
    assert (repo / "path" / "to" / "util.py").read_text() == "X = 2\n"


async def test_a_read_only_runner_keeps_the_tools(repo: Path) -> None:
    runner = AgentRunner(
        repo, Script([text(ANSWER)]).model(stream=False), Approver(), read_only=True,
        edit_format="whole",
    )  # fmt: skip
    result = await runner.run("Explain.")
    assert runner.edit_format == "tools"
    assert result.changed_files == [] and result.file_blocks == []
    assert (repo / "app.py").read_text().startswith("def add(a, b):\n    return a - b")


async def test_python_files_get_the_imports_they_lack_and_the_note_says_so(repo: Path) -> None:
    (repo / "util.py").write_text("def helper():\n    return 1\n")
    answer = (
        "wordcount.py\n```python\ndef count(text):\n    return Counter(text.split())\n```\n\n"
        "tests/test_wordcount.py\n```python\ndef test_count():\n"
        "    assert count('a a') == {'a': 2} and helper() == 1\n"
        "    with capsys.disabled():\n        print(1)\n"
        "    assert capsys.readouterr().out == '1\\n'\n```\n"
    )
    runner = AgentRunner(
        repo, Script([text(answer)]).model(stream=False), Approver(), edit_format="whole"
    )
    result = await runner.run("Count words.")

    assert (repo / "wordcount.py").read_text() == (
        "from collections import Counter\n\ndef count(text):\n    return Counter(text.split())\n"
    )
    assert (
        (repo / "tests" / "test_wordcount.py")
        .read_text()
        .startswith(
            "from util import helper\nfrom wordcount import count\n\ndef test_count(capsys):\n"
        )
    )
    first, second = result.file_blocks
    assert first.endswith("Added the imports it lacked: from collections import Counter.")
    assert second.endswith(
        "Added the imports it lacked: from util import helper; from wordcount import count. "
        "Added the pytest fixtures its tests use: test_count takes capsys. "
        "Took out `with capsys.disabled():`, which hides the output from readouterr(): "
        "test_count reads what it captures."
    )
    assert (
        "    print(1)\n    assert capsys.readouterr()"
        in (repo / "tests" / "test_wordcount.py").read_text()
    )


async def test_a_test_file_written_without_its_folder_goes_onto_the_project_s_one(
    repo: Path,
) -> None:
    (repo / "tests").mkdir()
    (repo / "tests" / "test_app.py").write_text("def test_old():\n    assert True\n")
    (repo / "test_other.py").write_text("def test_other():\n    assert True\n")
    new_tests = "def test_add():\n    assert 2 + 3 == 5\n"
    answer = block("test_app.py", new_tests) + block("tests/test_new.py", new_tests)
    answer += block("test_other.py", new_tests)
    runner = AgentRunner(
        repo, Script([text(answer)]).model(stream=False), Approver(), edit_format="whole"
    )

    result = await runner.run("Fix the tests.")

    assert (repo / "tests" / "test_app.py").read_text() == new_tests
    assert not (repo / "test_app.py").exists()
    assert (repo / "tests" / "test_new.py").read_text() == new_tests  # no other of its name
    assert (repo / "test_other.py").read_text() == new_tests  # the file named exists
    assert sorted(result.changed_files) == ["test_other.py", "tests/test_app.py",
                                            "tests/test_new.py"]  # fmt: skip
    assert result.file_blocks[0].endswith(
        "(Written to tests/test_app.py, the project's test file of that name: pytest refuses two.)"
    )
