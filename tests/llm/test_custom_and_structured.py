"""Custom models by import path, and structured generation with repair retries."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import BaseModel
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models import Model
from pydantic_ai.models.function import AgentInfo, FunctionModel

from specloom.errors import ModelRequestError, UsageError
from specloom.llm.custom import is_custom, load_custom_model
from specloom.llm.structured import generate_sync

SCRIPTED = textwrap.dedent(
    """
    from pydantic_ai.messages import ModelResponse, TextPart
    from pydantic_ai.models.function import FunctionModel

    def _answer(messages, info):
        return ModelResponse(parts=[TextPart("scripted")])

    MODEL = FunctionModel(_answer)

    def make_model():
        return FunctionModel(_answer, model_name="made")

    NOT_A_MODEL = 42

    def broken():
        raise RuntimeError("gateway down")
    """
)


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "gateway_models.py"
    path.write_text(SCRIPTED, encoding="utf-8")
    return path


def test_custom_model_from_a_file_attribute_or_factory(model_file: Path) -> None:
    assert is_custom(f"py:{model_file}:MODEL") and not is_custom("gpt-5")
    model = load_custom_model(f"py:{model_file}:MODEL")
    assert isinstance(model, FunctionModel)
    made = load_custom_model(f"py:{model_file}:make_model")
    assert made.model_name == "made"


def test_custom_model_from_a_module(model_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(model_file.parent))
    monkeypatch.delitem(sys.modules, "gateway_models", raising=False)
    assert isinstance(load_custom_model("py:gateway_models:MODEL"), Model)


@pytest.mark.parametrize(
    ("suffix", "message"),
    [
        (":NOT_A_MODEL", "not a pydantic-ai Model"),
        (":broken", "RuntimeError"),
        (":missing", "no attribute"),
        ("", "malformed"),
    ],
)
def test_custom_model_errors_are_usage_errors(model_file: Path, suffix: str, message: str) -> None:
    spec = f"py:{model_file}{suffix}" if suffix else f"py:{model_file}"
    with pytest.raises(UsageError, match=message):
        load_custom_model(spec)
    with pytest.raises(UsageError, match="not found"):
        load_custom_model("py:/nowhere/models.py:MODEL")
    with pytest.raises(UsageError, match="cannot import module"):
        load_custom_model("py:no_such_module_here:MODEL")


class Criterion(BaseModel):
    """One acceptance criterion."""

    id: str
    text: str


def _output_tool_call(info: AgentInfo, payload: dict[str, object]) -> ModelResponse:
    """The answer the way the request asked for it: an output tool call, or native JSON text."""
    if info.output_tools:
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, json.dumps(payload))])
    assert info.model_request_parameters.output_mode == "native"
    return ModelResponse(parts=[TextPart(json.dumps(payload))])


def test_generate_repairs_content_problems_with_feedback() -> None:
    seen_feedback: list[str] = []

    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        seen_feedback.extend(
            str(getattr(part, "content", ""))
            for message in messages
            if message.kind == "request"
            for part in message.parts
        )
        if len([m for m in messages if m.kind == "request"]) == 1:
            return _output_tool_call(info, {"id": "1.1", "text": "The system should be fast"})
        return _output_tool_call(
            info, {"id": "1.1", "text": "WHEN a user saves THE editor SHALL store the note"}
        )

    def check(value: Criterion) -> list[str]:
        return [] if "SHALL" in value.text else [f"{value.id}: use SHALL, not should"]

    generated = generate_sync(
        Criterion, "write one criterion", model=FunctionModel(answer), check=check, repairs=2
    )
    assert generated.value.text.startswith("WHEN a user saves")
    assert generated.repairs == 1
    assert generated.requests == 2
    assert any("use SHALL, not should" in text for text in seen_feedback)


def test_generate_gives_up_with_a_clear_error() -> None:
    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return _output_tool_call(info, {"id": "1.1", "text": "never good"})

    with pytest.raises(ModelRequestError, match="Criterion"):
        generate_sync(
            Criterion,
            "write one criterion",
            model=FunctionModel(answer),
            check=lambda value: ["still not EARS"],
            repairs=1,
        )


def test_generate_repairs_schema_errors() -> None:
    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if len([m for m in messages if m.kind == "request"]) == 1:
            return _output_tool_call(info, {"id": "1.1"})  # `text` is missing
        return _output_tool_call(info, {"id": "1.1", "text": "THE system SHALL log"})

    generated = generate_sync(Criterion, "go", model=FunctionModel(answer), repairs=2)
    assert generated.value == Criterion(id="1.1", text="THE system SHALL log")
    assert generated.requests == 2


def test_text_answers_are_not_accepted_as_objects() -> None:
    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[TextPart("I think the criterion is fine.")])

    with pytest.raises(ModelRequestError):
        generate_sync(Criterion, "go", model=FunctionModel(answer), repairs=1)
