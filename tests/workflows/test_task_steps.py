"""Whole-file tasks in steps: which steps an attempt takes, what each asks, the test file's
start from the real code, and the executor's two requests against a real project and pytest."""

from __future__ import annotations

from pathlib import Path

import pytest

from specloom.agent.loop import AgentResult
from specloom.spec.tasks import Task, parse_tasks
from specloom.workflows.execution import RunEvent
from specloom.workflows.task_steps import joined, scaffold_for, split_likely, step_ask, steps_for
from specloom.workflows.verify import UNWRITTEN_INPUT
from specloom.workflows.whole_attempts import NOTHING_WRITTEN, RETRY_TEMPERATURE, STARTED_OVER
from tests.workflows.test_task_files import Watched, answer_with, whole_file_project
from tests.workflows.test_task_runner import (
    CALC,
    Script,
    execute,
    git,
    text,
    user_prompts,
    verifications,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return whole_file_project(tmp_path / "calc")


def task(title: str) -> Task:
    document = parse_tasks(f"- [ ] 1. {title}\n  - _Requirements: 1.1, 2.3_\n")
    return document.task("1")


# -- choosing the steps -------------------------------------------------------------------------


def test_a_module_with_its_test_file_is_written_in_two_steps(tmp_path: Path) -> None:
    likely = ["wordcount.py", "tests/test_wordcount.py"]
    assert split_likely([*likely, "tests/conftest.py", "README.md"]) == (
        ["wordcount.py"],
        ["tests/test_wordcount.py"],
    )
    assert steps_for(task("Count words"), tmp_path, likely, property_task=False) == (
        "code",
        "tests",
    )
    # A task about tests whose module exists writes the tests only...
    tests_task = task("Write unit tests for the counter")
    assert steps_for(tests_task, tmp_path, likely, property_task=False) == ("code", "tests")
    (tmp_path / "wordcount.py").write_text("def count(text):\n    return 1\n")
    assert steps_for(tests_task, tmp_path, likely, property_task=False) == ("tests",)
    for title in ("Implement the unit tests for count_words(text)", "Unit tests",
                  "Tests of the counter", "Add property-based tests for sorting"):  # fmt: skip
        assert steps_for(task(title), tmp_path, likely, property_task=False) == ("tests",)
    # A code task that mentions its tests writes the code too.
    for title in ("Implement wordcount.py tool with unit-test for requirement 2.1",
                  "Count words, with tests"):  # fmt: skip
        assert steps_for(task(title), tmp_path, likely, property_task=False) == ("code", "tests")
    # ...and property tasks, other files or a module without a test file take one request.
    assert steps_for(task("Count words"), tmp_path, likely, property_task=True) == ("all",)
    assert steps_for(task("Docs"), tmp_path, ["README.md"], property_task=False) == ("all",)
    assert steps_for(task("Count"), tmp_path, ["wordcount.py"], property_task=False) == ("all",)


def test_each_step_asks_for_its_own_files() -> None:
    likely = ["wordcount.py", "tests/test_wordcount.py"]
    code = step_ask("code", likely)
    assert "write the code of this task, not its tests" in code and "wordcount.py" in code
    assert "tests/test_wordcount.py" not in code
    scaffold = "from wordcount import count\n"
    tests = step_ask("tests", likely, written=["wordcount.py"], scaffold=scaffold)
    assert tests.startswith("The code of this task is in wordcount.py, shown above.")
    assert "never define your own" in tests and "Do not change the code." in tests
    assert "Keep the tests the file has" not in tests
    # The file's start comes after its path, as the answer should write it.
    assert tests.endswith("tests/test_wordcount.py\n```python\nfrom wordcount import count\n```")
    kept = step_ask("tests", likely, written=["wordcount.py"], tests_exist=True)
    assert "Keep the tests the file has and add the new ones." in kept
    assert kept.endswith("fenced code block.")
    every = step_ask("all", likely)
    assert "the code and its tests" in every
    assert every.endswith("most likely needs: wordcount.py, tests/test_wordcount.py.")


def test_the_scaffold_imports_the_real_functions_that_return_values(tmp_path: Path) -> None:
    (tmp_path / "src" / "wc").mkdir(parents=True)
    (tmp_path / "src" / "wc" / "core.py").write_text(
        "import sys\n\n\n"
        "def read_text(path):\n    return open(path).read()\n\n\n"
        "def show(counts):\n    print(counts)\n\n\n"
        "def _helper():\n    return 1\n\n\n"
        "def count_words(text):\n    return {}\n\n\n"
        "def main():\n    show(count_words(read_text(sys.argv[1])))\n"
    )
    scaffold = scaffold_for(tmp_path, "src/wc/core.py", ["1.1", "2.3"])
    # read_text takes a path: its test makes the input file; count_words takes text.
    assert scaffold == (
        "from wc.core import read_text, count_words\n"
        "# show() prints its result and returns None: check what it prints with "
        "capsys.readouterr().out\n\n\n"
        "def test_read_text(tmp_path):\n"
        '    """Validates: Requirements 1.1, 2.3"""\n'
        '    source = tmp_path / "input.txt"\n'
        "    source.write_text(...)\n"
        "    assert read_text(source) == ...\n\n\n"
        "def test_count_words():\n"
        '    """Validates: Requirements 1.1, 2.3"""\n'
        "    assert count_words(...) == ...\n"
    )
    compile(scaffold, "scaffold.py", "exec")  # the start of a real Python file

    # A function that only prints is tested through what it prints.
    (tmp_path / "printer.py").write_text("def show(x):\n    print(x)\n")
    note = "# show() prints its result and returns None: check what it prints with capsys"
    assert scaffold_for(tmp_path, "printer.py", []) == (
        f"from printer import show\n{note}.readouterr().out\n\n\n"
        "def test_show(capsys):\n    show(...)\n    assert capsys.readouterr().out == ...\n"
    )
    (tmp_path / "both.py").write_text(
        "def count(text):\n    return len(text.split())\n\n\n"
        "def report(text):\n    print(count(text))\n\n\n"
        "def main():\n    print(count('a b'))\n"
    )
    scaffold = scaffold_for(tmp_path, "both.py", ["1"])
    assert scaffold is not None
    assert scaffold.startswith(
        "from both import count\n# report() prints its result and returns None: check what "
        "it prints with capsys.readouterr().out\n\n\ndef test_count():\n"
    )
    compile(scaffold, "scaffold.py", "exec")
    (tmp_path / "broken.py").write_text("def (:\n")
    (tmp_path / "constants.py").write_text("LIMIT = 3\n")
    assert scaffold_for(tmp_path, "broken.py", ["1"]) is None
    assert scaffold_for(tmp_path, "constants.py", ["1"]) is None
    assert scaffold_for(tmp_path, "missing.py", ["1"]) is None


def test_the_steps_results_join_into_one_attempt() -> None:
    code = AgentResult(
        "code", "completed", requests=1, input_tokens=100, output_tokens=40,
        checkpoints=["c1"], changed_files=["wordcount.py"], file_blocks=["Created wordcount.py"],
    )  # fmt: skip
    tests = AgentResult(
        "tests", "completed", requests=1, input_tokens=120, output_tokens=30,
        checkpoints=["c2"], changed_files=["tests/test_wc.py", "wordcount.py"],
        file_blocks=["Created tests/test_wc.py"],
    )  # fmt: skip
    both = joined([code, tests])
    assert (both.requests, both.input_tokens, both.output_tokens) == (2, 220, 70)
    assert both.checkpoints == ["c1", "c2"]
    assert both.changed_files == ["wordcount.py", "tests/test_wc.py"]
    assert both.file_blocks == ["Created wordcount.py", "Created tests/test_wc.py"]
    assert both.completed and both.output == "code\n\ntests"
    stopped = AgentResult("", "budget", detail="over budget")
    assert joined([code, stopped]).stop == "budget"
    assert joined([code, stopped]).detail == "over budget"


# -- the executor -------------------------------------------------------------------------------


FIXED = CALC.replace("a - b", "a + b")
NEW_TESTS = text(
    "tests/test_calc.py\n```python\nfrom calc import add, render_report\n\n\n"
    'def test_add():\n    """Validates: Requirements 1.2"""\n    assert add(2, 3) == 5\n\n\n'
    "def test_render_report():\n    assert render_report([1, 2]) == '1\\n2'\n```\n"
)


async def test_a_task_keeps_the_tests_earlier_tasks_wrote(project: Path) -> None:
    # The answer writes the test file anew with only this task's test: test_add, which an
    # earlier task wrote, comes back (and still passes against the fixed code).
    only_new = text(
        "tests/test_calc.py\n```python\nfrom calc import render_report\n\n\n"
        "def test_render_report():\n    assert render_report([1, 2]) == '1\\n2'\n```\n"
    )
    script = Script([answer_with(FIXED), only_new])

    outcome, events = await execute(project, script)

    assert outcome.ok, outcome.reason
    written = (project / "tests" / "test_calc.py").read_text()
    assert "def test_render_report():" in written
    assert (
        'def test_add():\n    """Validates: Requirements 1.2"""\n    assert add(2, 3) == 5'
        in written
    )
    assert "from calc import add\n" in written
    assert [check["passed"] for check in verifications(events)] == [True]


async def test_the_tests_are_written_against_the_code_just_written(project: Path) -> None:
    script = Script([answer_with(FIXED), NEW_TESTS])
    watched = Watched(script)

    outcome, events = await execute(project, script)

    assert outcome.ok, outcome.reason
    assert outcome.attempts == 1 and len(script.seen) == 2 and watched.offered == [[], []]
    assert outcome.changed_files == ["calc.py", "tests/test_calc.py"]
    assert "def test_render_report" in (project / "tests" / "test_calc.py").read_text()
    code_prompt, tests_prompt = (user_prompts(messages)[0] for messages in script.seen)
    assert "Now write the code of this task, not its tests" in code_prompt
    # The second request shows the code as the first step wrote it and starts the test file
    # with its real functions.
    assert "return a + b" in (script.instructions[1] or "")
    assert "The code of this task is in calc.py, shown above." in tests_prompt
    assert "Keep the tests the file has" in tests_prompt  # tests/test_calc.py exists
    assert tests_prompt.rstrip().endswith(
        "tests/test_calc.py\n```python\nfrom calc import add, render_report\n\n\n"
        'def test_add():\n    """Validates: Requirements 1.2"""\n'
        "    assert add(...) == ...\n\n\n"
        'def test_render_report():\n    """Validates: Requirements 1.2"""\n'
        "    assert render_report(...) == ...\n```"
    )
    # Verification runs once, after both steps.
    assert [check["passed"] for check in verifications(events)] == [True]
    notices = [
        event.data["text"]
        for event in events
        if event.kind == "agent_event" and event.data["type"] == "notice"
    ]
    assert "writing the tests of calc.py against its code" in notices


async def test_no_tests_are_asked_for_while_there_is_no_code(project: Path) -> None:
    git(project, "rm", "-q", "calc.py")
    git(project, "commit", "-q", "-m", "no calc yet")
    script = Script([text("I would write `add`."), answer_with(FIXED), NEW_TESTS])

    outcome, _ = await execute(project, script, retries=1)

    assert outcome.ok, outcome.reason
    assert outcome.attempts == 2 and len(script.seen) == 3  # no tests request in attempt 1
    retry = user_prompts(script.seen[1])[0]
    assert NOTHING_WRITTEN in retry and "Now write the code of this task" in retry


async def test_code_that_already_does_the_task_still_gets_its_tests(project: Path) -> None:
    (project / "calc.py").write_text(FIXED)
    (project / "tests" / "test_calc.py").unlink()
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "fixed, untested")
    script = Script([answer_with(FIXED), NEW_TESTS])  # the code step rewrites it unchanged

    outcome, _ = await execute(project, script)

    assert outcome.ok, outcome.reason
    assert len(script.seen) == 2 and outcome.changed_files == ["tests/test_calc.py"]
    tests_prompt = user_prompts(script.seen[1])[0]
    assert "The code of this task is in calc.py" in tests_prompt
    assert "Keep the tests the file has" not in tests_prompt


async def test_a_task_naming_no_file_works_on_those_its_criteria_name(project: Path) -> None:
    tasks = project / ".kiro" / "specs" / "calc" / "tasks.md"
    tasks.write_text(tasks.read_text().replace("Make `add` in `calc.py`", "Make addition"))
    requirements = project / ".kiro" / "specs" / "calc" / "requirements.md"
    requirements.write_text(requirements.read_text().replace("the `calc` module", "`calc.py`"))
    git(project, "rm", "-q", "calc.py")  # no module to guess from either
    git(project, "commit", "-qam", "a task naming no file")
    script = Script([answer_with(FIXED), NEW_TESTS])

    outcome, _ = await execute(project, script)

    assert outcome.ok, outcome.reason
    code_prompt, tests_prompt = (user_prompts(messages)[0] for messages in script.seen)
    assert "Now write the code of this task, not its tests (they come next): calc.py." in (
        code_prompt
    )
    assert "Now write its tests in tests/test_calc.py" in tests_prompt


async def test_a_task_about_tests_of_existing_code_asks_for_the_tests_only(
    project: Path,
) -> None:
    tasks = project / ".kiro" / "specs" / "calc" / "tasks.md"
    tasks.write_text(
        tasks.read_text().replace("1. Fix addition", "1. Write unit tests for addition")
    )
    (project / "calc.py").write_text(FIXED)
    git(project, "commit", "-qam", "a tests task")
    script = Script([NEW_TESTS])

    outcome, events = await execute(project, script)

    assert outcome.ok, outcome.reason
    assert len(script.seen) == 1 and outcome.changed_files == ["tests/test_calc.py"]
    [prompt] = user_prompts(script.seen[0])
    assert "Now write the code" not in prompt
    assert "The code of this task is in calc.py" in prompt
    assert "from calc import add, render_report" in prompt
    notices = [event for event in events if event.data.get("type") == "notice"]
    assert notices == []  # no code step came before it


WRONG_TESTS = text(
    "tests/test_calc.py\n```python\nfrom calc import add\n\n\n"
    'def test_add():\n    """Validates: Requirements 1.2"""\n    assert add(2, 3) == 6\n```\n'
)
"""Tests whose expected value is wrong about the criteria: `add` is to return the sum."""


def notices_of(events: list[RunEvent]) -> list[str]:
    return [
        str(event.data["text"])
        for event in events
        if event.kind == "agent_event" and event.data["type"] == "notice"
    ]


@pytest.mark.slow
async def test_tests_that_fail_their_own_assertions_are_written_again_against_the_kept_code(
    project: Path,
) -> None:
    script = Script([answer_with(FIXED), WRONG_TESTS, NEW_TESTS])
    watched = Watched(script)

    outcome, events = await execute(project, script, retries=2)

    assert outcome.ok, outcome.reason
    assert outcome.attempts == 2 and len(script.seen) == 3  # the retry is one request
    # The tests written again sample wider (at a low temperature the same file comes back).
    assert watched.temperatures == [None, None, RETRY_TEMPERATURE]
    assert [check["passed"] for check in verifications(events)] == [False, True]
    retry = user_prompts(script.seen[2])[0]
    assert "Now write the code" not in retry
    assert "The code of this task is in calc.py, shown above, and is kept." in retry
    # The failed test, short: its source down to the assertion, and what was compared.
    assert "The tests that failed:\n```text\n# test_add\n    def test_add():\n" in retry
    assert ">       assert add(2, 3) == 6\nE       assert 5 == 6" in retry
    assert "compare the value the code returned with the value the test expected" in retry
    assert "fix the code, not the tests" not in retry
    assert "Do not change the code" not in retry  # it may, where the criteria say so
    # The test file starts again from the code's functions.
    assert retry.rstrip().endswith(
        "tests/test_calc.py\n```python\nfrom calc import add, render_report\n\n\n"
        'def test_add():\n    """Validates: Requirements 1.2"""\n'
        "    assert add(...) == ...\n\n\n"
        'def test_render_report():\n    """Validates: Requirements 1.2"""\n'
        "    assert render_report(...) == ...\n```"
    )
    # The code was not set aside: the retry shows it as the first attempt wrote it, and not
    # the failed tests (a small model copies a file it is shown).
    shown = script.instructions[2] or ""
    assert "return a + b" in shown and "== 6" not in shown
    assert (project / "calc.py").read_text() == FIXED
    notices = notices_of(events)
    assert "keeping calc.py: writing its tests again" in notices
    assert not any("set aside" in notice for notice in notices)


READS = FIXED + (
    "\n\ndef total(path):\n    with open(path) as source:\n"
    "        return sum(int(word) for word in source.read().split())\n"
)
"""The fixed code with a function that reads its input from a file."""


@pytest.mark.slow
async def test_a_test_that_never_wrote_its_input_file_is_written_again_against_the_kept_code(
    project: Path,
) -> None:
    unwritten = text(
        "tests/test_calc.py\n```python\nfrom calc import add, total\n\n\n"
        "def test_add():\n    assert add(2, 3) == 5\n\n\n"
        "def test_total(tmp_path):\n    assert total(tmp_path / 'numbers.txt') == 3\n```\n"
    )
    # Written again: only the test that failed (the one that passed is put back).
    written = text(
        "tests/test_calc.py\n```python\nfrom calc import total\n\n\n"
        "def test_total(tmp_path):\n    numbers = tmp_path / 'numbers.txt'\n"
        "    numbers.write_text('1 2')\n    assert total(numbers) == 3\n```\n"
    )
    script = Script([answer_with(READS), unwritten, written])

    outcome, events = await execute(project, script, retries=2)

    assert outcome.ok, outcome.reason
    assert outcome.attempts == 2 and len(script.seen) == 3  # the retry asks for tests only
    retry = user_prompts(script.seen[2])[0]
    assert "The code of this task is in calc.py, shown above, and is kept." in retry
    failed = retry.split("The tests that failed:\n```text\n", 1)[1].split("\n```", 1)[0]
    assert failed.startswith("# test_total\n") and failed.endswith(UNWRITTEN_INPUT)
    assert "test_add" not in failed and "open(path)" not in failed
    assert (project / "calc.py").read_text() == READS
    assert "keeping calc.py: writing its tests again" in notices_of(events)
    assert "2 passed" in outcome.verification
    assert "So are its tests that passed. Write the tests that failed" in retry
    tests = (project / "tests" / "test_calc.py").read_text()
    assert "numbers.write_text('1 2')" in tests and "assert add(2, 3) == 5" in tests


@pytest.mark.slow
async def test_tests_written_again_that_fail_the_same_way_give_the_code_its_turn(
    project: Path,
) -> None:
    wrong_code = CALC.replace("a - b", "a + b + 1")  # the tests were right: the code is not
    right_tests = text(
        "tests/test_calc.py\n```python\nfrom calc import add\n\n\n"
        'def test_add():\n    """Validates: Requirements 1.2"""\n    assert add(2, 3) == 5\n```\n'
    )
    script = Script(
        [answer_with(wrong_code), right_tests, right_tests, answer_with(FIXED), NEW_TESTS]
    )
    watched = Watched(script)

    outcome, events = await execute(project, script, retries=2)

    # Only the tests written again sampled wider; the runner's settings were put back.
    assert watched.temperatures == [None, None, RETRY_TEMPERATURE, None, None]
    assert outcome.ok, outcome.reason
    assert outcome.attempts == 3 and len(script.seen) == 5
    assert [check["passed"] for check in verifications(events)] == [False, False, True]
    second, third = user_prompts(script.seen[2])[0], user_prompts(script.seen[3])[0]
    assert "and is kept" in second
    # Failing as before is no reason to stop: the third attempt writes the code again, from
    # the project as it was before the task.
    assert "Now write the code of this task" in third and STARTED_OVER in third
    assert "return a - b" in (script.instructions[3] or "")
    assert any("attempt 2's files were set aside" in notice for notice in notices_of(events))
