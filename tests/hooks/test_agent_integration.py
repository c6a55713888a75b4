"""Hooks fire inside real agent runs: ``promptSubmit`` and ``agentStop`` around the run,
``preToolUse`` around each tool call, ``preTaskExecution`` and ``postTaskExecution`` around a
task of ``specloom run``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart

from specloom.agent.runtime import prepare_agent
from specloom.settings import load_settings
from specloom.workflows.execution import RunEvent, TaskJob
from specloom.workflows.task_runner import make_executor
from tests.agent.test_runtime import call, returned, scripted
from tests.hooks.conftest import legacy_hook, script, v1_hooks, write_settings

pytestmark = pytest.mark.anyio


def _prepared(project: Path, model: object, **options: object):  # type: ignore[no-untyped-def]
    return prepare_agent(
        project,
        model,  # type: ignore[arg-type]
        settings=load_settings(project),
        mode="autopilot",
        use_mcp=False,
        hooks=True,
        **options,  # type: ignore[arg-type]
    )


def secrets_guard(project: Path) -> dict[str, Any]:
    """A v1 ``PreToolUse`` hook that refuses writes under ``secrets/`` (exit status 2)."""
    guard = script(
        project,
        "guard.py",
        "import json, sys\n"
        "event = json.load(sys.stdin)\n"
        "if event['tool_input'].get('path', '').startswith('secrets/'):\n"
        "    print('writing under secrets/ is not allowed', file=sys.stderr)\n"
        "    sys.exit(2)\n",
    )
    return {
        "name": "guard",
        "trigger": "PreToolUse",
        "matcher": "write_file",
        "action": {"type": "command", "command": guard},
    }


async def test_a_pre_tool_hook_refuses_a_write_and_the_model_is_told_why(project: Path) -> None:
    v1_hooks(project, "guard", [secrets_guard(project)])
    seen: list[list[ModelMessage]] = []
    model = scripted(
        [
            call("write_file", "w1", path="secrets/key.txt", content="k\n"),
            call("write_file", "w2", path="notes.txt", content="n\n"),
            ModelResponse([TextPart("done")]),
        ],
        seen,
    )
    prepared = _prepared(project, model)
    try:
        result = await prepared.run("write things", with_context=False)
    finally:
        prepared.close()
    assert result.stop == "completed"
    assert not (project / "secrets" / "key.txt").exists()
    assert (project / "notes.txt").read_text() == "n\n"
    outcome, text = returned(seen[1], "w1")
    assert outcome == "failed"
    assert "writing under secrets/ is not allowed" in text


async def test_tool_hooks_see_the_writes_of_a_whole_file_answer(project: Path) -> None:
    v1_hooks(
        project,
        "guard",
        [
            secrets_guard(project),
            {
                "name": "lint",
                "trigger": "PostToolUse",
                "matcher": "write_file",
                "action": {"type": "command", "command": "echo remember the changelog"},
            },
        ],
    )
    answer = "secrets/key.txt\n```\nk\n```\n\nnotes.txt\n```\nn\n```\n"
    model = scripted([ModelResponse([TextPart(answer)])], [])
    prepared = _prepared(project, model, edit_format="whole")
    try:
        result = await prepared.run("write things", with_context=False)
    finally:
        prepared.close()
    assert result.stop == "completed"
    assert not (project / "secrets" / "key.txt").exists()
    assert (project / "notes.txt").read_text() == "n\n"
    refused, written = result.file_blocks
    assert refused.startswith("secrets/key.txt was not written: a hook blocked it")
    assert "writing under secrets/ is not allowed" in refused
    assert written.startswith("Created notes.txt") and "remember the changelog" in written


async def test_a_prompt_submit_hook_blocks_before_the_model_is_asked(project: Path) -> None:
    legacy_hook(
        project,
        "no-deploys",
        event="promptSubmit",
        command=script(
            project,
            "check.py",
            "import os, sys\nsys.exit(1 if 'deploy' in os.environ['SPECLOOM_PROMPT'] else 0)\n",
        ),
    )
    seen: list[list[ModelMessage]] = []
    model = scripted([ModelResponse([TextPart("fine")])], seen)
    prepared = _prepared(project, model)
    try:
        blocked = await prepared.run("deploy to production", with_context=False)
        allowed = await prepared.run("explain app.py", with_context=False)
        # In a conversation, a refused prompt leaves the history as it was.
        again = await prepared.run("deploy now", history=allowed.messages, with_context=False)
    finally:
        prepared.close()
    assert blocked.stop == "blocked"
    assert "promptSubmit" in blocked.detail
    assert allowed.stop == "completed" and allowed.output == "fine"
    assert len(seen) == 1  # only the allowed prompt reached the model
    assert again.stop == "blocked" and again.messages == allowed.messages


async def test_an_agent_stop_hook_hands_the_agent_one_more_instruction(project: Path) -> None:
    legacy_hook(project, "changelog", event="agentStop", prompt="Also add a line to CHANGES.md.")
    seen: list[list[ModelMessage]] = []
    model = scripted(
        [
            ModelResponse([TextPart("first answer")]),
            call("write_file", "c1", path="CHANGES.md", content="- changed\n"),
            ModelResponse([TextPart("changelog written")]),
        ],
        seen,
    )
    prepared = _prepared(project, model)
    try:
        result = await prepared.run("tidy up", with_context=False)
    finally:
        prepared.close()
    assert result.output == "changelog written"
    assert result.changed_files == ["CHANGES.md"]
    assert "Also add a line to CHANGES.md." in str(seen[1][-1])


async def test_a_pre_task_hook_blocks_the_task_and_a_post_task_hook_sees_its_files(
    project: Path,
) -> None:
    spec = project / ".kiro" / "specs" / "demo"
    spec.mkdir(parents=True)
    (spec / "requirements.md").write_text(
        "# Requirements Document\n\n## Requirements\n\n### Requirement 1\n\n"
        "**User Story:** As a user, I want notes, so that I remember.\n\n"
        "#### Acceptance Criteria\n\n1. THE System SHALL keep notes in notes.txt.\n"
    )
    (spec / "tasks.md").write_text(
        "# Implementation Plan\n\n- [ ] 1. Write the notes file\n  - _Requirements: 1.1_\n\n"
        "- [ ] 2. Frozen task\n  - _Requirements: 1.1_\n"
    )
    (project / "tests").mkdir()
    (project / "tests" / "test_notes.py").write_text(
        "from pathlib import Path\n\n\ndef test_notes():\n"
        "    assert Path('notes.txt').read_text() == 'n\\n'\n"
    )
    write_settings(
        project,
        {"agent": {"trusted_commands": ["*"]}, "verify": {"command": "python -m pytest -q"}},
    )
    legacy_hook(
        project,
        "freeze",
        event="preTaskExecution",
        command=script(
            project,
            "freeze.py",
            "import os, sys\nsys.exit(1 if os.environ['SPECLOOM_TASK'] == '2' else 0)\n",
        ),
    )
    legacy_hook(
        project,
        "after",
        event="postTaskExecution",
        command=script(
            project,
            "after.py",
            "import os\nopen('after.log', 'a').write(os.environ['SPECLOOM_TASK'] + ':' "
            "+ os.environ.get('SPECLOOM_FILES', '').replace(chr(10), ',') + '\\n')\n",
        ),
    )
    seen: list[list[ModelMessage]] = []
    model = scripted(
        [
            call("write_file", "n1", path="notes.txt", content="n\n"),
            ModelResponse([TextPart("ok")]),
        ],
        seen,
    )
    executor = make_executor(model=model, settings=load_settings(project), mode="autopilot")
    events: list[RunEvent] = []
    first = await executor(TaskJob("demo", "1", project, project, "run-1"), events.append)
    frozen = await executor(TaskJob("demo", "2", project, project, "run-1"), events.append)
    assert first.ok, first.reason
    assert not frozen.ok
    assert "blocked by a preTaskExecution hook" in frozen.reason
    assert (project / "after.log").read_text() == "1:notes.txt\n"
