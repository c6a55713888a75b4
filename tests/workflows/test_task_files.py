"""Tasks in the whole-file edit format: which format a model gets, the files a request shows,
and the executor's attempts (the files as they are now, the last attempt's feedback, no
conversation carried over), against a real project, real writes and a real pytest run."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from specloom.agent.checkpoints import CheckpointStore
from specloom.agent.context import Context
from specloom.errors import SettingsError
from specloom.llm.catalog import ModelEntry
from specloom.llm.metering import UsageRecorder
from specloom.llm.routing import RoutedModel
from specloom.settings import load_settings
from specloom.workflows.execution import TaskJob
from specloom.workflows.task_files import (
    ShownFiles,
    answer_tokens,
    edit_format_for,
    likely_files,
    project_files,
    request_chars,
    whole_file_request,
    with_files,
)
from specloom.workflows.task_runner import make_executor
from specloom.workflows.whole_attempts import NOTHING_WRITTEN, STARTED_OVER
from tests.workflows.test_task_runner import (
    CALC,
    TEST_CALC,
    Script,
    execute,
    git,
    make_project,
    text,
    user_prompts,
    verifications,
)

pytestmark = pytest.mark.anyio


def routed(window: int | None) -> RoutedModel:
    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[TextPart("ok")])

    entry = ModelEntry("m", "openai", "m", context_window=window)
    return RoutedModel(entry, FunctionModel(answer), UsageRecorder())


def settings_with(root: Path, run: dict[str, object]) -> None:
    folder = root / ".kiro" / "settings"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "specloom.json"
    current = json.loads(path.read_text()) if path.is_file() else {}
    current["run"] = run
    path.write_text(json.dumps(current))


# -- choosing the format ------------------------------------------------------------------------


def test_auto_uses_whole_files_for_small_windows_only(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    assert edit_format_for(routed(8_192), settings) == "whole"
    assert edit_format_for(routed(200_000), settings) == "tools"
    assert edit_format_for(routed(None), settings) == "tools"  # unknown: the tools
    settings_with(tmp_path, {"edit_format": "tools"})
    assert edit_format_for(routed(8_192), load_settings(tmp_path)) == "tools"
    settings_with(tmp_path, {"edit_format": "whole"})
    assert edit_format_for(routed(200_000), load_settings(tmp_path)) == "whole"


def test_a_bad_edit_format_names_the_file_and_the_choices(tmp_path: Path) -> None:
    settings_with(tmp_path, {"edit_format": "diff"})
    with pytest.raises(SettingsError) as raised:
        edit_format_for(routed(8_192), load_settings(tmp_path))
    message = str(raised.value)
    assert "specloom.json" in message and "edit_format" in message
    assert "auto, tools, whole" in message and "'diff'" in message


def test_the_answer_keeps_half_the_window_and_the_request_the_rest() -> None:
    assert answer_tokens(8_192) == 4_096 and answer_tokens(4_096) == 2_048
    assert answer_tokens(32_000) == 4_096  # never more than 4,096
    assert request_chars(8_192) < request_chars(16_384)
    assert request_chars(8_192) == int((8_192 - 4_096) * 3.2)


# -- the files a request shows ------------------------------------------------------------------


def _tree(root: Path, files: dict[str, str | bytes], *, age: dict[str, int] | None = None) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    for name, seconds in (age or {}).items():
        stamp = 1_700_000_000 + seconds
        os.utime(root / name, (stamp, stamp))


def test_named_files_come_first_then_the_newest_within_the_budget(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "old.py": "OLD = 1\n",
            "new.py": "NEW = 1\n",
            "named.py": "NAMED = 1\n",
            "big.py": "x = 1\n" * 3_000,  # over the size shown whole
            "image.png": b"\x89PNG\0\0binary",
            ".env": "SECRET=1\n",
            ".kiro/specs/s/tasks.md": "- [ ] 1. t\n",
            "pkg/__pycache__/m.cpython-312.pyc": b"\0",
            "build/out.txt": "built\n",
            ".gitignore": "build/\n",
        },
        age={"old.py": 10, "new.py": 20, "named.py": 0},
    )
    files = project_files(tmp_path, first=["named.py", "missing.py"], budget=10_000)
    assert [path for path, _ in files.shown] == ["named.py", "new.py", "old.py"]
    assert files.shown[0][1] == "NAMED = 1\n"
    assert files.named == ["big.py", "image.png"]  # hidden, ignored and caches are left out

    tight = project_files(tmp_path, first=["named.py"], budget=len("named.py") + 10 + 12)
    assert [path for path, _ in tight.shown] == ["named.py"]
    assert tight.named == ["big.py", "image.png", "new.py", "old.py"]


def test_likely_files_are_the_named_ones_or_the_sources_with_their_tests(tmp_path: Path) -> None:
    _tree(tmp_path, {"wordcount.py": "", "util.py": "", "tests/conftest.py": "", "setup.py": ""})
    files = project_files(tmp_path, budget=10_000)
    assert likely_files(tmp_path, ["src/app.py", "docs"], files) == [
        "src/app.py",
        "tests/test_app.py",
    ]
    assert likely_files(tmp_path, [], files) == [
        "util.py",
        "tests/test_util.py",
        "wordcount.py",
        "tests/test_wordcount.py",
    ]
    flat = tmp_path / "flat"
    _tree(flat, {"tool.py": ""})
    assert likely_files(flat, [], project_files(flat, budget=100)) == ["tool.py", "test_tool.py"]


def test_files_go_into_the_context_block_fenced_so_that_fences_inside_survive() -> None:
    shown = ShownFiles([("doc.md", "# Doc\n\n```python\nx = 1\n```\n"), ("a.py", "A = 1\n")], [])
    context = with_files(Context([], []), shown)
    rendered = context.render()
    assert "````markdown\n# Doc\n\n```python\nx = 1\n```\n````" in rendered
    assert "```python\nA = 1\n```" in rendered
    assert [(part.kind, part.name) for part in context.parts] == [
        ("file", "doc.md"),
        ("file", "a.py"),
    ]


def test_the_request_ends_with_the_ask_and_carries_feedback_and_notes() -> None:
    request = whole_file_request(
        "# Task 1\nDo it.",
        named=["big.py"],
        likely=["app.py", "tests/test_app.py"],
        feedback="Verification failed: assert 1 == 2",
        notes=["app.py was not written: cut off"],
    )
    assert request.startswith("# Task 1\nDo it.\n")
    assert "Also in the project (not shown): big.py" in request
    assert "## Your last answer\n- app.py was not written: cut off" in request
    assert "## The last attempt\nVerification failed: assert 1 == 2" in request
    assert request.rstrip().endswith("most likely needs: app.py, tests/test_app.py.")
    assert "a test imports a function from its module" in request
    # No placeholder example: a small model copies its names (`the_function`) verbatim.
    assert "the_function" not in request
    assert "most likely needs" not in whole_file_request("t")
    stepped = whole_file_request("t", likely=["app.py"], ask="Now write the code.")
    assert stepped == "t\n\nNow write the code.\n"
    assert request.index("## The last attempt") < request.index("Now answer with every file")


# -- the executor in the whole-file format ------------------------------------------------------


def answer_with(calc: str, *, note: str = "Done.") -> ModelResponse:
    return text(f"calc.py\n```python\n{calc}```\n\n{note}")


TESTS_ANSWER = text(f"tests/test_calc.py\n```python\n{TEST_CALC}```\n")
"""The tests step's answer: the test of `add` (the project's own)."""


def whole_file_project(root: Path) -> Path:
    """The calc project (``make_project``), committed, its tasks run in whole files."""
    make_project(root)
    settings_with(root, {"edit_format": "whole"})
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "whole files")
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return whole_file_project(tmp_path / "calc")


class Watched:
    """A ``Script`` whose requests also record the tools offered, the answer's cap and the
    sampling temperature."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.offered: list[list[str]] = []
        self.limits: list[object] = []
        self.temperatures: list[object] = []
        plain = script.answer

        def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
            self.offered.append([tool.name for tool in info.function_tools])
            self.limits.append((info.model_settings or {}).get("max_tokens"))
            self.temperatures.append((info.model_settings or {}).get("temperature"))
            return plain(messages, info)

        script.answer = answer  # type: ignore[method-assign]


@pytest.mark.slow
async def test_a_retry_starts_from_the_project_as_it_was_with_the_last_failure(
    project: Path,
) -> None:
    script = Script(
        [
            answer_with(CALC.replace("a - b", "a + c")),  # fails in the code: NameError
            TESTS_ANSWER,
            answer_with(CALC.replace("a - b", "a + b"), note="Now it adds."),
            TESTS_ANSWER,
        ]
    )
    watched = Watched(script)

    outcome, events = await execute(project, script, retries=2)

    assert outcome.ok, outcome.reason
    # The tests step wrote the test file as it was: only calc.py changed.
    assert outcome.attempts == 2 and outcome.changed_files == ["calc.py"]
    assert "a + b" in (project / "calc.py").read_text()
    assert watched.offered == [[]] * 4  # no tools: the files are in the answer
    assert watched.limits == [4_096] * 4  # room kept for the answer
    assert [check["passed"] for check in verifications(events)] == [False, True]
    # Each attempt is the code, then its tests; no conversation is carried over.
    assert all(len(messages) == 1 for messages in script.seen)
    first, _, retry, _ = (user_prompts(messages)[0] for messages in script.seen)
    assert "## The last attempt" not in first
    assert "Now write the code of this task, not its tests" in first and "calc.py" in first
    assert f"## Your last answer\n- {STARTED_OVER}" in retry
    assert "NameError: name 'c' is not defined" in retry
    # The failed files were set aside: the retry sees calc.py as it was before the task.
    assert "return a - b" in (script.instructions[2] or "")
    assert "return a + c" not in (script.instructions[2] or "")
    assert "tests/test_calc.py" in (script.instructions[2] or "")
    notices = [
        event.data["text"]
        for event in events
        if event.kind == "agent_event" and event.data["type"] == "notice"
    ]
    assert any("attempt 1's files were set aside" in notice for notice in notices)
    writes = [
        event.data
        for event in events
        if event.kind == "agent_event" and event.data["type"] == "tool_started"
    ]
    assert [data["tool"] for data in writes] == ["write_file"] * 4


@pytest.mark.slow
async def test_a_failed_task_s_files_are_set_aside_and_can_be_brought_back(
    project: Path,
) -> None:
    wrong = CALC.replace("a - b", "a * b")
    script = Script(
        [answer_with(wrong), TESTS_ANSWER, answer_with(CALC.replace("a - b", "a // b"))]
    )

    outcome, _ = await execute(project, script, retries=1)

    assert not outcome.ok and outcome.attempts == 2
    assert (project / "calc.py").read_text() == CALC  # the project as before the task
    match = re.search(r"`specloom checkpoint restore (\w+)` brings them back", outcome.reason)
    assert match is not None, outcome.reason
    CheckpointStore(project).restore(match.group(1))
    assert "a // b" in (project / "calc.py").read_text()  # the last attempt's files


async def test_a_task_sharing_the_project_with_others_repairs_in_place(project: Path) -> None:
    wrong = CALC.replace("a - b", "a * b")
    script = Script([answer_with(wrong), TESTS_ANSWER, text("I cannot see the problem.")])
    executor = make_executor(
        model=script.model(), settings=load_settings(project), mode="autopilot", retries=1
    )
    shared = TaskJob("calc", "1", project, project, "run-1", parallel=True)

    outcome = await executor(shared, lambda event: None)

    assert not outcome.ok and outcome.stuck
    # Other tasks may be writing here: nothing is restored, the retry sees the files as they are.
    assert (project / "calc.py").read_text() == wrong
    assert "return a * b" in (script.instructions[2] or "")
    assert "set aside" not in outcome.reason


async def test_an_answer_that_writes_nothing_is_told_so_then_stuck(project: Path) -> None:
    script = Script([text("You should change `a - b` to `a + b` in calc.py.")])

    outcome, _ = await execute(project, script, retries=3)

    assert not outcome.ok and outcome.stuck and outcome.attempts == 2
    assert outcome.reason.startswith("stuck: attempts 1 and 2 changed no file")
    # Each attempt asks for the code, then the tests of calc.py as it is.
    assert len(script.seen) == 4
    [retry_prompt] = user_prompts(script.seen[2])
    assert NOTHING_WRITTEN in retry_prompt
    assert (project / "calc.py").read_text() == CALC


async def test_a_bad_edit_format_fails_the_task_before_any_request(project: Path) -> None:
    settings_with(project, {"edit_format": "patch"})
    script = Script([answer_with(CALC.replace("a - b", "a + b"))])

    outcome, _ = await execute(project, script)

    assert not outcome.ok and script.seen == []
    assert "run.edit_format" in outcome.reason and "specloom.json" in outcome.reason
