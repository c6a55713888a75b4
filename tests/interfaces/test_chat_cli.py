"""``specloom chat`` as a user runs it: the command line with a scripted model loaded with
``--model py:...``, messages read one per line, one-shot messages, ``--json`` events, and
``/spec`` handing the conversation to ``create_spec``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import specloom.workflows.authoring as authoring
from specloom.interfaces.cli import app
from specloom.interfaces.cli import chat_commands as _chat_commands  # noqa: F401  (registers chat)
from specloom.workflows.authoring import AuthoringResult
from tests.agent.test_checkpoints import git

PARTNER = """
import json
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.messages import ToolReturnPart, UserPromptPart
from pydantic_ai.models.function import FunctionModel

SUMMARY = {"name": "todo notes", "request": "Keep a todo list in notes.md.", "is_bugfix": False}


def prompts(messages):
    return [str(part.content) for message in messages if isinstance(message, ModelRequest)
            for part in message.parts if isinstance(part, UserPromptPart)]


def answer(messages, info):
    if info.output_tools:
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, SUMMARY)])
    if info.model_request_parameters.output_mode == "native":
        return ModelResponse(parts=[TextPart(json.dumps(SUMMARY))])
    if any(isinstance(part, ToolReturnPart) for part in messages[-1].parts):
        return ModelResponse(parts=[TextPart("Wrote notes.md.")])
    asked = prompts(messages)
    if "todo" in asked[-1]:
        call = ToolCallPart("write_file", {"path": "notes.md", "content": "- buy milk\\n"})
        return ModelResponse(parts=[call])
    return ModelResponse(parts=[TextPart(f"{len(asked)} messages so far; first: {asked[0]}")])


model = FunctionModel(answer, model_name="partner")
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q")
    (root / "app.py").write_text("print('hi')\n")
    git(root, "add", "app.py")
    git(root, "commit", "-q", "-m", "first")
    (tmp_path / "partner_model.py").write_text(PARTNER)
    return root


def chat(project: Path, *args: str, lines: str | None = None) -> Result:
    model = f"py:{project.parent / 'partner_model.py'}:model"
    return CliRunner().invoke(
        app,
        ["chat", *args, "--model", model, "--no-mcp", "--root", str(project)],
        input=lines,
    )


def test_a_conversation_keeps_its_history_and_writes_files(project: Path) -> None:
    lines = "make a todo list\n\nwhat did I say first?\n/exit\nnever sent\n"
    result = chat(project, "--mode", "autopilot", lines=lines)

    assert result.exit_code == 0, result.output
    assert (project / "notes.md").read_text() == "- buy milk\n"
    assert "-> write_file(path='notes.md'" in result.stdout
    assert "Wrote notes.md." in result.stdout
    assert "changed: notes.md" in result.stdout
    assert "undo with: specloom checkpoint restore " in result.stdout
    assert "2 messages so far; first: make a todo list" in result.stdout
    assert "never sent" not in result.stdout
    assert "3 request(s)" in result.stdout


def test_one_message_with_json(project: Path) -> None:
    result = chat(project, "hello there", "--json")

    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["kind"] for line in lines] == ["turn", "end"]
    assert lines[0]["output"] == "1 messages so far; first: hello there"
    assert lines[0]["stop"] == "completed" and lines[0]["changed_files"] == []
    assert lines[1]["spent"]["requests"] == 1
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert "step" in [event["kind"] for event in events]


def test_supervised_with_nobody_to_ask_writes_nothing(project: Path) -> None:
    result = chat(project, "make a todo list")

    assert result.exit_code == 0, result.output
    assert not (project / "notes.md").exists()
    assert "refused by policy" in result.stdout


def test_spec_hands_the_conversation_to_create_spec(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []

    async def create_spec(root: Path, request: str, **options: Any) -> AuthoringResult:
        calls.append({"root": root, "request": request, **options})
        folder = root / ".kiro" / "specs" / options["name"]
        written = [folder / "requirements.md", folder / "tasks.md"]
        return AuthoringResult(options["name"], folder, "done", written, None, 0, 3, 4)

    monkeypatch.setattr(authoring, "create_spec", create_spec)

    result = chat(project, "--mode", "autopilot", "--json",
                  lines="/spec too-early\nmake a todo list\n/spec Notes\n")  # fmt: skip

    assert result.exit_code == 0, result.output
    kinds = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["kind"] for line in kinds] == ["error", "turn", "spec", "end"]
    assert "no conversation" in kinds[0]["message"]  # the chat went on after it
    assert kinds[2]["name"] == "notes"
    assert kinds[2]["written"] == [".kiro/specs/notes/requirements.md",
                                   ".kiro/specs/notes/tasks.md"]  # fmt: skip
    assert len(calls) == 1
    assert calls[0]["kind"] == "quick" and calls[0]["name"] == "notes"
    assert calls[0]["request"].startswith("Keep a todo list in notes.md.")
    assert "Developer: make a todo list" in calls[0]["request"]
    assert "Agent: changed notes.md" in calls[0]["request"]


def test_spec_as_a_single_message_is_an_error(project: Path) -> None:
    result = chat(project, "/spec")

    assert result.exit_code == 2
    assert "there is no conversation to turn into a spec yet" in result.stderr
