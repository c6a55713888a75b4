"""``specloom agent`` as a user runs it: the real CLI in a subprocess, a scripted model loaded
with ``--model py:...``, a real git project. Covers autopilot changes with checkpoints and the
audit log, supervised mode with nobody to ask, the destructive-action guard in autopilot, and
``--json``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.agent.test_checkpoints import git

SCRIPTED = """
import json
from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import FunctionModel

STEPS = json.loads({steps!r})


def answer(messages, info):
    done = sum(1 for message in messages if message.kind == "response")
    step = STEPS[min(done, len(STEPS) - 1)]
    if "say" in step:
        return ModelResponse(parts=[TextPart(step["say"])])
    call = ToolCallPart(step["tool"], step["args"], tool_call_id=f"c{{done}}")
    return ModelResponse(parts=[call])


model = FunctionModel(answer, model_name="scripted")
"""

FIX = [
    {"tool": "edit_file", "args": {"path": "app.py", "old_text": "a - b", "new_text": "a + b"}},
    {"tool": "run_command", "args": {"command": "python -c 'import app; print(app.add(2, 3))'"}},
    {"say": "Fixed add; it prints 5 now."},
]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q")
    (root / "app.py").write_text("def add(a, b):\n    return a - b\n")
    git(root, "add", "app.py")
    git(root, "commit", "-q", "-m", "first")
    return root


def agent(
    project: Path, steps: list[dict[str, object]], *args: str
) -> subprocess.CompletedProcess[str]:
    script = project.parent / "scripted_model.py"
    script.write_text(SCRIPTED.format(steps=json.dumps(steps)))
    return subprocess.run(
        [sys.executable, "-m", "specloom", "agent", "fix add", "--model", f"py:{script}:model",
         "--no-mcp", *args],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=120,
        check=False,
    )  # fmt: skip


def log(project: Path, kind: str) -> list[dict[str, object]]:
    shown = subprocess.run(
        [sys.executable, "-m", "specloom", "log", "--kind", kind, "--json"],
        cwd=project, capture_output=True, text=True, check=True,
    )  # fmt: skip
    data = json.loads(shown.stdout)
    return data["entries"] if isinstance(data, dict) else data


def test_autopilot_makes_the_change_checkpointed_and_logged(project: Path) -> None:
    result = agent(project, FIX, "--mode", "autopilot")

    assert result.returncode == 0, result.stderr
    assert (project / "app.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert "-> edit_file(path='app.py'" in result.stdout
    assert "Fixed add; it prints 5 now." in result.stdout
    assert "changed: app.py" in result.stdout
    undo = result.stdout.split("undo with: specloom checkpoint restore ")[1].split()[0]

    restored = subprocess.run(
        [sys.executable, "-m", "specloom", "checkpoint", "restore", undo],
        cwd=project, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    assert (project / "app.py").read_text() == "def add(a, b):\n    return a - b\n"
    approvals = log(project, "approval")
    assert [entry["data"]["by"] for entry in approvals] == ["mode", "mode"]  # type: ignore[index]
    assert len(log(project, "tool_call")) == 2
    assert len(log(project, "model_request")) == 3


def test_supervised_with_nobody_to_ask_refuses_changes(project: Path) -> None:
    result = agent(project, FIX)

    assert result.returncode == 0, result.stderr  # the model finished; it was told "no"
    assert (project / "app.py").read_text() == "def add(a, b):\n    return a - b\n"
    assert "refused by policy: edit app.py" in result.stdout
    denied = log(project, "approval")
    assert [entry["data"]["decision"] for entry in denied] == ["deny", "deny"]  # type: ignore[index]


def test_autopilot_never_runs_a_destructive_command(project: Path) -> None:
    (project / "data").mkdir()
    (project / "data" / "keep.txt").write_text("precious")
    wipe = [
        {"tool": "run_command", "args": {"command": "cd data && git clean -fdx; rm -rf ../data"}},
        {"say": "Tried to clean up."},
    ]

    result = agent(project, wipe, "--mode", "autopilot")

    assert result.returncode == 0, result.stderr
    assert (project / "data" / "keep.txt").read_text() == "precious"
    approvals = log(project, "approval")
    assert len(approvals) == 1
    assert approvals[0]["data"]["decision"] == "deny"  # type: ignore[index]
    assert "never approved automatically" in str(approvals[0]["data"]["reason"])  # type: ignore[index]


def test_json_prints_the_result_and_events(project: Path) -> None:
    result = agent(project, FIX, "--mode", "autopilot", "--json", "--max-steps", "2")

    assert result.returncode == 1  # two steps are not enough for three
    data = json.loads(result.stdout)
    assert data["stop"] == "step_limit"
    assert data["changed_files"] == ["app.py"]
    assert len(data["checkpoints"]) == 2
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    kinds = [event["kind"] for event in events]
    assert kinds.count("tool_started") == 2
    assert kinds.count("checkpoint") == 2
    assert "context" in kinds
