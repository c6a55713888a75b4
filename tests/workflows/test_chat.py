"""Vibe chat with scripted models on a real git project: the history carried from turn to
turn, a tool call that writes a file (checkpointed), ``#file:`` references, streamed text,
and ``/spec`` turning the conversation into a call of ``create_spec``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

import specloom.workflows.authoring as authoring
from specloom.agent.events import AgentEvent, TextDelta
from specloom.errors import UsageError
from specloom.settings import load_settings
from specloom.workflows.authoring import AuthoringResult
from specloom.workflows.chat import ChatCommand, ChatSession, open_chat, parse_chat_command
from tests.agent.test_checkpoints import git

pytestmark = pytest.mark.anyio

FIRST = "Keep a todo list in notes.md, starting with 'buy milk'."
SUMMARY = {
    "name": "Todo Notes",
    "request": "Keep a todo list in notes.md that the developer can add items to.",
    "is_bugfix": False,
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q")
    (root / "app.py").write_text("def add(a, b):\n    return a + b\n")
    git(root, "add", "app.py")
    git(root, "commit", "-q", "-m", "first")
    return root


def user_prompts(messages: list[ModelMessage]) -> list[str]:
    return [
        str(part.content)
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, UserPromptPart)
    ]


class Partner:
    """A scripted chat partner: writes notes.md when asked, then answers from what it was
    sent; sums the conversation up when asked for a structured answer."""

    def __init__(self, summary: dict[str, Any] = SUMMARY) -> None:
        self.seen: list[list[ModelMessage]] = []
        self.summary = summary

    def answer(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        self.seen.append(list(messages))
        if info.output_tools:
            return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, self.summary)])
        if info.model_request_parameters.output_mode == "native":
            return ModelResponse(parts=[TextPart(json.dumps(self.summary))])
        last = messages[-1]
        assert isinstance(last, ModelRequest)
        if any(isinstance(part, ToolReturnPart) for part in last.parts):
            return ModelResponse(parts=[TextPart("Wrote notes.md with one item.")])
        prompts = user_prompts(messages)
        if "todo list" in prompts[-1]:
            call = ToolCallPart(
                "write_file", {"path": "notes.md", "content": "- buy milk\n"}, tool_call_id="w1"
            )
            return ModelResponse(parts=[call])
        return ModelResponse(parts=[TextPart(f"Earlier you asked: {prompts[0]}")])

    async def stream(
        self, messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | dict[int, DeltaToolCall]]:
        response = self.answer(messages, info)
        for index, part in enumerate(response.parts):
            if isinstance(part, TextPart):
                for word in part.content.split(" "):
                    yield word + " "
            elif isinstance(part, ToolCallPart):
                yield {index: DeltaToolCall(part.tool_name, part.args_as_json_str(),
                                            tool_call_id=part.tool_call_id)}  # fmt: skip

    def model(self) -> FunctionModel:
        return FunctionModel(self.answer, stream_function=self.stream, model_name="partner")


def chat(project: Path, partner: Partner, events: list[AgentEvent] | None = None) -> ChatSession:
    return open_chat(
        project,
        partner.model(),
        settings=load_settings(project),
        mode="autopilot",
        on_event=events.append if events is not None else None,
        use_mcp=False,
    )


async def test_turns_share_history_and_a_tool_call_writes_a_file(project: Path) -> None:
    partner = Partner()
    events: list[AgentEvent] = []
    session = chat(project, partner, events)
    try:
        first = await session.send(FIRST)
        second = await session.send("What did I ask you first?")
    finally:
        session.close()

    assert first.completed and first.changed_files == ["notes.md"]
    assert len(first.checkpoints) == 1
    assert (project / "notes.md").read_text() == "- buy milk\n"
    assert first.output == "Wrote notes.md with one item. "
    assert second.output.strip() == f"Earlier you asked: {FIRST}"
    assert second.changed_files == []
    sent = partner.seen[-1]  # the second turn's request carries the first turn whole
    assert user_prompts(sent) == [FIRST, "What did I ask you first?"]
    assert any(
        isinstance(part, ToolReturnPart) and part.tool_name == "write_file"
        for message in sent
        if isinstance(message, ModelRequest)
        for part in message.parts
    )
    streamed = "".join(event.text for event in events if isinstance(event, TextDelta))
    assert streamed == first.output + second.output
    assert session.transcript == [
        ("Developer", FIRST),
        ("Agent", "Wrote notes.md with one item. "),
        ("Agent", "changed notes.md"),
        ("Developer", "What did I ask you first?"),
        ("Agent", second.output),
    ]


async def test_file_references_go_into_the_context(project: Path) -> None:
    partner = Partner()
    session = chat(project, partner)
    try:
        await session.send("Explain #file:app.py please")
    finally:
        session.close()

    request = partner.seen[0][-1]
    assert isinstance(request, ModelRequest)
    assert request.instructions is not None and "return a + b" in request.instructions


def fake_create_spec(calls: list[dict[str, Any]]) -> Any:
    async def create_spec(root: Path, request: str, **options: Any) -> AuthoringResult:
        calls.append({"root": root, "request": request, **options})
        name = options["name"]
        folder = root / ".kiro" / "specs" / name
        return AuthoringResult(name, folder, "done", [folder / "requirements.md"], None, 0, 5, 7)

    return create_spec


async def test_spec_turns_the_conversation_into_a_create_spec_call(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(authoring, "create_spec", fake_create_spec(calls))
    partner = Partner()
    session = chat(project, partner)
    progress: list[str] = []
    try:
        await session.send(FIRST)
        await session.send("Also let me mark items as done.")
        result = await session.to_spec(on_progress=progress.append)
        named = await session.to_spec("My Todo List!")
    finally:
        session.close()

    assert result.name == "todo-notes" and named.name == "my-todo-list"
    call = calls[0]
    assert call["root"] == project.resolve()
    assert call["kind"] == "quick" and call["name"] == "todo-notes"
    assert call["model"] is session.model and call["settings"] is session.settings
    assert call["on_progress"] is not None
    request = call["request"]
    assert request.startswith(SUMMARY["request"])
    assert f"Developer: {FIRST}" in request  # the conversation itself goes along
    assert "Developer: Also let me mark items as done." in request
    assert "Agent: changed notes.md" in request
    summary_prompt = user_prompts(partner.seen[-1])[0]  # what the summary request was sent
    assert f"Developer: {FIRST}" in summary_prompt
    assert progress[0] == "summing up the conversation ..."


async def test_a_bug_conversation_becomes_a_bugfix_spec(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(authoring, "create_spec", fake_create_spec(calls))
    partner = Partner(
        {
            "name": "add subtracts",
            "request": "add() must return the sum of its "
            "two arguments; it is wrong for negative numbers.",
            "is_bugfix": True,
        }
    )
    session = chat(project, partner)
    try:
        await session.send("add(-1, -1) gives the wrong answer")
        await session.to_spec()
    finally:
        session.close()

    assert calls[0]["kind"] == "bugfix" and calls[0]["name"] == "add-subtracts"


async def test_spec_needs_a_conversation_and_a_usable_name(project: Path) -> None:
    session = chat(project, Partner())
    try:
        with pytest.raises(UsageError, match="no conversation"):
            await session.to_spec()
        await session.send("hello")
        with pytest.raises(UsageError, match="cannot be a spec name"):
            await session.to_spec("!!!")
    finally:
        session.close()


def test_chat_commands() -> None:
    assert parse_chat_command("/spec") == ChatCommand("spec", "")
    assert parse_chat_command("  /spec  csv export ") == ChatCommand("spec", "csv export")
    assert parse_chat_command("/exit") == ChatCommand("exit")
    assert parse_chat_command("/QUIT") == ChatCommand("exit")
    assert parse_chat_command("/usr/bin/python crashes on start") is None
    assert parse_chat_command("please write /spec docs") is None
