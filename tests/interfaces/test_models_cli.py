"""``specloom models list`` and ``specloom models check``, run as real processes.

``models check`` runs against scripted pydantic-ai ``FunctionModel``s loaded from a file with
``py:<file.py>:<attribute>``, so both probes (structured output, tool call) go through the real
command, session, recorder and ledger without a network.
"""

from __future__ import annotations

import json
import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dirty_equals import IsFloat, IsPositiveInt, IsStr
from typer.testing import CliRunner, Result

from specloom.interfaces.cli import app
from specloom.llm.catalog import PROVIDERS
from specloom.llm.ledger import Ledger
from specloom.settings import PROJECT_SETTINGS
from tests.interfaces.cli_helpers import json_output, specloom
from tests.llm.fakes import FakeModelServer

OPENAI_KEY = "sk-openai-should-never-be-printed-1234"
# Providers whose models need nothing but a key in the environment (their SDK is a dependency).
KEY_ONLY = {name for name, info in PROVIDERS.items() if info.protocol in ("openai", "anthropic")
            and info.key_env}  # fmt: skip

SCRIPTED = textwrap.dedent(
    """
    import json

    from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart, ToolReturnPart
    from pydantic_ai.models.function import FunctionModel


    def _capable(messages, info):
        capital = {"country": "France", "capital": "Paris"}
        # The structured probe asks for JSON natively or through an output tool.
        if info.model_request_parameters.output_mode == "native":
            return ModelResponse(parts=[TextPart(json.dumps(capital))])
        if info.output_tools:
            return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, capital)])
        returned = [part for message in messages for part in message.parts
                    if isinstance(part, ToolReturnPart)]
        if returned:
            return ModelResponse(parts=[TextPart(f"17 + 25 = {returned[-1].content}")])
        return ModelResponse(parts=[ToolCallPart("add", {"a": 17, "b": 25})])


    def _chatty(messages, info):
        return ModelResponse(parts=[TextPart("I would rather talk about the weather.")])


    CAPABLE = FunctionModel(_capable, model_name="scripted-gateway")
    CHATTY = FunctionModel(_chatty, model_name="chatty")
    """
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / ".kiro" / "specs").mkdir(parents=True)
    return root


@pytest.fixture
def scripted(project: Path) -> Path:
    path = project / "gateway_models.py"
    path.write_text(SCRIPTED, encoding="utf-8")
    return path


@pytest.fixture
def server() -> Iterator[FakeModelServer]:
    with FakeModelServer() as fake:
        yield fake


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _models(result: Any) -> dict[str, dict[str, Any]]:
    rows = json_output(result)
    assert isinstance(rows, list)
    return {row["id"]: row for row in rows}


def test_list_json_without_keys_says_which_variable_each_model_needs(project: Path) -> None:
    rows = _models(specloom("models", "list", "--json", cwd=project))

    for row in rows.values():
        assert set(row) >= {"id", "provider", "credit_multiplier", "available", "reason"}
        assert isinstance(row["available"], bool) and isinstance(row["reason"], str)
        assert row["available"] or row["reason"], f"{row['id']} says why it is unusable"
    cloud = [row for row in rows.values() if row["provider"] in KEY_ONLY]
    assert {row["provider"] for row in cloud} >= {"anthropic", "openai", "deepseek"}
    for row in cloud:
        variables = PROVIDERS[row["provider"]].key_env
        assert row == {**row, "available": False, "reason": "no key: set " + " or ".join(variables)}
    assert rows["gpt-5"]["reason"] == "no key: set OPENAI_API_KEY"
    assert rows["claude-sonnet-4-5"]["credit_multiplier"] == 1.3
    assert rows["gemini-2.5-pro"]["available"] is False
    assert "GEMINI_API_KEY" in rows["gemini-2.5-pro"]["reason"] or (
        "specloom[google]" in rows["gemini-2.5-pro"]["reason"]
    )


def test_list_json_with_a_key_and_local_servers(
    project: Path, server: FakeModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    closed = f"http://127.0.0.1:{_closed_port()}/v1"
    settings = {
        "models": [
            {"id": "lab-vllm", "provider": "vllm", "model_name": "qwen", "base_url": closed},
            {"id": "lab-llamacpp", "provider": "llamacpp", "base_url": server.openai_url},
        ]
    }
    path = project / PROJECT_SETTINGS
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(settings), encoding="utf-8")

    result = specloom("models", "list", "--json", cwd=project)
    rows = _models(result)

    openai_rows = [row for row in rows.values() if row["provider"] == "openai"]
    assert {row["id"] for row in openai_rows} >= {"gpt-5", "gpt-5-mini", "gpt-4.1"}
    assert all(row["available"] and row["reason"] == "" for row in openai_rows)
    assert rows["claude-haiku-4-5"]["available"] is False
    assert rows["lab-vllm"] == {
        **rows["lab-vllm"],
        "available": False,
        "reason": f"server not reachable at {closed}",
        "credit_multiplier": 1.0,
    }
    assert rows["lab-llamacpp"]["available"] is True
    assert rows["lab-llamacpp"]["prices"]["source"] == "free"
    assert server.requests == [], "availability is a TCP connect, not a request"
    assert OPENAI_KEY not in result.stdout + result.stderr


def test_list_text_is_a_table_with_prices_and_reasons(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-never-printed")

    result = specloom("models", "list", cwd=project)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Models (prices in USD per million tokens)"
    assert lines[1].split() == [
        "id", "provider", "credits", "input", "output", "cached", "context", "usable"
    ]  # fmt: skip
    by_id = {line.split()[0]: line for line in lines[2:]}
    assert by_id["claude-sonnet-4-5"].split() == [
        "claude-sonnet-4-5", "anthropic", "1.3x", "$3", "$15", "$0.3", "200,000", "yes"
    ]  # fmt: skip
    assert by_id["gpt-5"].split()[:3] == ["gpt-5", "openai", "0.9x"]
    assert by_id["gpt-5"].endswith("no: no key: set OPENAI_API_KEY")
    assert "sk-ant-never-printed" not in result.stdout + result.stderr


def test_check_a_custom_model_passes_both_probes(project: Path, scripted: Path) -> None:
    spec = f"py:{scripted}:CAPABLE"

    report = json_output(specloom("models", "check", spec, "--json", cwd=project))

    assert report["ok"] is True and report["model"] == spec
    assert report["answered_by"] == [spec]
    structured, tool = report["probes"]
    assert structured == {
        "name": "structured_output",
        "ok": True,
        "latency_s": IsFloat(ge=0),
        "input_tokens": IsPositiveInt,
        "output_tokens": IsPositiveInt,
        "detail": '{"country":"France","capital":"Paris"}',
    }
    assert tool == {
        "name": "tool_call",
        "ok": True,
        "latency_s": IsFloat(ge=0),
        "input_tokens": IsPositiveInt,
        "output_tokens": IsPositiveInt,
        "detail": "add called with [(17, 25)]; answer: 17 + 25 = 42",
    }
    assert report["spent"]["requests"] == 3  # one structured answer, the tool call, the reply
    assert report["spent"]["credits"] > 0
    [ledger_path] = (project / ".kiro" / ".specloom").glob("usage.sqlite3")
    records = Ledger(ledger_path).records()
    assert [(r.model_id, r.command, r.ok) for r in records] == [(spec, "models check", True)] * 3


def test_check_a_failing_model_exits_1_with_a_clear_report(project: Path, scripted: Path) -> None:
    spec = f"py:{scripted}:CHATTY"

    report = json_output(specloom("models", "check", spec, "--json", cwd=project), exit_code=1)
    assert report["ok"] is False
    structured, tool = report["probes"]
    assert structured["ok"] is False
    assert structured["detail"] == IsStr(regex=r"the model did not produce a valid _Capital .*")
    assert (tool["ok"], tool["detail"]) == (
        False,
        "no tool call; answer: I would rather talk about the weather.",
    )

    text = _invoke("models", "check", spec, "--root", str(project))
    assert text.exit_code == 1, text.output
    lines = text.stdout.splitlines()
    assert lines[0] == f"model: {spec} (answered by: {spec})"
    assert lines[1].split() == ["probe", "ok", "latency", "tokens", "in/out", "detail"]
    assert lines[2].split()[:2] == ["structured_output", "NO"]
    assert lines[3].split()[:2] == ["tool_call", "NO"]
    assert lines[-1].startswith("spent: $0.0000, ")


def _invoke(*args: str) -> Result:
    """The command run in this process (quicker than a new one for the many error cases)."""
    return CliRunner().invoke(app, list(args))


def test_check_with_an_unknown_model_is_one_paragraph_and_exit_2(project: Path) -> None:
    result = specloom("models", "check", "gpt-17", cwd=project)

    assert result.returncode == 2 and result.stdout == ""
    [paragraph] = result.stderr.splitlines()
    assert paragraph.startswith("error: unknown model 'gpt-17' Use `auto`, one of ")
    assert paragraph.endswith("`specloom models list` shows them all.")


@pytest.mark.parametrize(
    ("model", "message", "hint"),
    [
        ("gpt-17", "unknown model 'gpt-17'", "`specloom models list` shows them all"),
        ("nowhere:llama", "unknown model 'nowhere:llama'", "<provider>:<model name>"),
        ("gpt-5", "model 'gpt-5' is not usable: no key: set OPENAI_API_KEY.",
         "`specloom models list` shows every model"),
        ("py:gateway_models.py", "malformed custom model", "py:<module>:<attribute>"),
        ("py:missing.py:MODEL", "custom model file not found: missing.py", "py:<module>"),
    ],
)  # fmt: skip
def test_check_with_a_bad_model_exits_2_with_a_hint(
    project: Path, scripted: Path, model: str, message: str, hint: str
) -> None:
    result = _invoke("models", "check", model, "--json", "--root", str(project))

    assert result.exit_code == 2
    error = json.loads(result.stdout)
    assert message in error["message"] and hint in error["hint"]
    assert error["error"] in ("UsageError", "ModelUnavailableError")
    [paragraph] = result.stderr.splitlines()
    assert paragraph.startswith("error: ") and message in paragraph and hint in paragraph
