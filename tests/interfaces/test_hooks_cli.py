"""``specloom hooks list|run|enable|disable|add|new`` as a user types them (the CLI app in this
process, real files, real commands, scripted models loaded with ``--model py:...``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import specloom.interfaces.cli.hooks_commands  # noqa: F401  (registers the commands)
from specloom.hooks.loader import load_hooks
from specloom.interfaces.cli import app
from tests.hooks.conftest import TRUST_ALL, legacy_hook, make_project, v1_hooks

DRAFTS = """
import json
from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import FunctionModel

ANSWERS = json.loads({answers!r})
SEEN = []


def answer(messages, info):
    SEEN.append(messages)
    payload = json.dumps(ANSWERS[min(len(SEEN) - 1, len(ANSWERS) - 1)])
    if info.output_tools:
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, payload)])
    return ModelResponse(parts=[TextPart(payload)])  # native structured output


model = FunctionModel(answer, model_name="drafts")
"""

AGENT = """
from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import FunctionModel


def answer(messages, info):
    if sum(1 for message in messages if message.kind == "response") == 0:
        prompt = messages[0].parts[-1].content
        content = "seen: " + ("app.py" if "Files saved: app.py" in prompt else "nothing")
        return ModelResponse(parts=[ToolCallPart("write_file", {{"path": "NOTES.md",
                                                               "content": content}})])
    return ModelResponse(parts=[TextPart("Wrote NOTES.md.")])


model = FunctionModel(answer, model_name="agent")
"""


def cli(root: Path, *args: str) -> Result:
    return CliRunner().invoke(app, [*args, "--root", str(root)])


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project", settings=TRUST_ALL)


def test_list_shows_both_formats_and_fails_on_broken_files(root: Path) -> None:
    legacy_hook(root, "lint", event="fileEdited", patterns=["**/*.py"], command="ruff check .")
    v1_hooks(
        root,
        "team",
        [
            {
                "name": "guard",
                "trigger": "PreToolUse",
                "matcher": "fs_write",
                "enabled": False,
                "action": {"type": "command", "command": "./guard.sh"},
            }
        ],
    )

    shown = cli(root, "hooks", "list")
    listed = cli(root, "hooks", "list", "--json")
    (root / ".kiro" / "hooks" / "bad.kiro.hook").write_text('{"name": "bad", "when": []}')
    broken = cli(root, "hooks", "list")

    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[0].split() == ["hook", "event", "watches", "action", "enabled", "file"]
    assert lines[1].split()[:3] == ["lint", "fileEdited", "**/*.py"]
    assert "runCommand: ruff check ." in lines[1] and ".kiro/hooks/lint.kiro.hook" in lines[1]
    assert lines[2].split()[:3] == ["guard", "preToolUse", "/fs_write/"] and " no " in lines[2]
    data = json.loads(listed.stdout)
    assert [(hook["id"], hook["format"], hook["enabled"]) for hook in data["hooks"]] == [
        ("lint", "legacy", True),
        ("guard", "v1", False),
    ]
    assert data["problems"] == []
    assert broken.exit_code == 1
    assert "lint" in broken.stdout
    assert "error: .kiro/hooks/bad.kiro.hook:1: `when` must be an object" in broken.stderr


def test_enable_and_disable_edit_only_the_enabled_value(root: Path) -> None:
    path = legacy_hook(root, "lint", event="fileEdited", patterns=["*.py"], command="true")
    original = path.read_text()

    off = cli(root, "hooks", "disable", "lint")
    again = cli(root, "hooks", "disable", "lint")
    on = cli(root, "hooks", "enable", "lint", "--json")
    missing = cli(root, "hooks", "enable", "nope")

    assert off.exit_code == 0 and off.stdout.startswith("lint: disabled")
    assert again.stdout.strip() == "lint: already disabled"
    assert json.loads(on.stdout) == {
        "hook": "lint",
        "enabled": True,
        "changed": True,
        "file": str(path),
    }
    assert path.read_text() == original.replace("{\n", '{\n  "enabled": true,\n', 1)
    assert missing.exit_code == 2 and "no hook called 'nope'" in missing.stderr
    assert "Traceback" not in missing.output


def test_run_runs_a_hook_now_and_reports_how_it_ended(root: Path) -> None:
    legacy_hook(
        root,
        "show",
        event="fileEdited",
        patterns=["*.py"],
        command='echo "linting $SPECLOOM_FILES"; echo "a warning" >&2',
    )
    legacy_hook(root, "guard", event="preToolUse", command="echo refusing >&2; exit 1")

    shown = cli(root, "hooks", "run", "show", "--file", str(root / "app.py"))
    as_json = cli(root, "hooks", "run", "show", "--file", str(root / "app.py"), "--json")
    guard = cli(root, "hooks", "run", "guard")
    outside = cli(root, "hooks", "run", "show", "--file", "/etc/passwd")

    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith("fileEdited app.py -> show (runCommand): ok (exit 0, ")
    assert "  linting app.py\n  a warning\n" in shown.stdout
    data = json.loads(as_json.stdout)
    assert (data["outcome"], data["exit_code"], data["files"]) == ("ok", 0, ["app.py"])
    assert data["context"] == ["linting app.py"]
    assert guard.exit_code == 1
    assert "blocked: refusing" in guard.stdout
    assert outside.exit_code == 2 and "outside the project" in outside.stderr


def test_run_an_ask_agent_hook_with_a_scripted_model(root: Path, tmp_path: Path) -> None:
    legacy_hook(
        root,
        "notes",
        event="fileEdited",
        patterns=["*.py"],
        prompt="Write what you saw to NOTES.md.",
    )
    model_file = tmp_path / "agent_model.py"
    model_file.write_text(AGENT.format())

    result = cli(
        root,
        "hooks",
        "run",
        "notes",
        "--file",
        "app.py",
        "--mode",
        "autopilot",
        "--model",
        f"py:{model_file}:model",
    )

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("fileEdited app.py -> notes (askAgent): ok")
    assert "Wrote NOTES.md." in result.stdout
    assert (root / "NOTES.md").read_text() == "seen: app.py"


def test_add_writes_ready_made_hooks(root: Path) -> None:
    listed = cli(root, "hooks", "add", "--list")
    added = cli(root, "hooks", "add", "lint-on-save")
    twice = cli(root, "hooks", "add", "lint-on-save")
    trusted = cli(root, "hooks", "add", "secret-scan", "--trust", "--json")
    unknown = cli(root, "hooks", "add", "nope")

    assert listed.exit_code == 0
    for name in (
        "secret-scan",
        "secret-scan-commit",
        "tests-on-save",
        "readme-sync",
        "lint-on-save",
    ):
        assert name in listed.stdout
    assert added.exit_code == 0 and "added .kiro/hooks/lint-on-save.kiro.hook" in added.stdout
    hooks = {hook.id: hook for hook in load_hooks(root).hooks}
    lint = hooks["lint-on-save"]
    assert lint.action.command.startswith("ruff check")  # a Python project (app.py)
    assert lint.patterns == ("**/*.py",)
    assert twice.exit_code == 2 and "exists already" in twice.stderr
    assert json.loads(trusted.stdout)["hook"]["id"] == "secret-scan"
    settings = json.loads((root / ".kiro" / "settings" / "specloom.json").read_text())
    assert settings["agent"]["trusted_commands"] == ["*", "specloom hooks scan-secrets"]
    assert unknown.exit_code == 2 and "no hook template called 'nope'" in unknown.stderr


def test_tests_on_save_follows_the_projects_language(tmp_path: Path) -> None:
    root = make_project(tmp_path / "web")
    (root / "package.json").write_text("{}")
    (root / "app.py").unlink()

    assert cli(root, "hooks", "add", "tests-on-save").exit_code == 0
    assert cli(root, "hooks", "add", "lint-on-save").exit_code == 0

    hooks = {hook.id: hook for hook in load_hooks(root).hooks}
    tests = hooks["tests-on-save"]
    assert tests.action.kind == "askAgent" and "**/*.ts" in tests.patterns
    assert tests.matches_file("src/app.ts") and not tests.matches_file("src/app.test.ts")
    assert hooks["lint-on-save"].action.command.startswith("npx --no-install eslint")


def test_new_writes_a_validated_hook_from_a_sentence(root: Path, tmp_path: Path) -> None:
    first = {
        "name": "Format Python",
        "description": "Format saved Python files.",
        "event": "fileEdited",
        "patterns": [],
        "tools": [],
        "action": "runCommand",
        "command": "ruff format $SPECLOOM_FILES",
        "prompt": "",
    }
    fixed = {**first, "patterns": ["**/*.py"]}
    model_file = tmp_path / "drafts.py"
    model_file.write_text(DRAFTS.format(answers=json.dumps([first, fixed])))
    model = f"py:{model_file}:model"

    unconfirmed = cli(root, "hooks", "new", "format python files when saved", "--model", model)
    made = cli(
        root, "hooks", "new", "format python files when saved", "--model", model, "--yes", "--json"
    )

    assert unconfirmed.exit_code == 2 and "--yes" in unconfirmed.stderr
    assert made.exit_code == 0, made.output
    data = json.loads(made.stdout)
    assert data["repairs"] == 1  # the draft without patterns was sent back once
    path = Path(data["file"])
    assert path == root / ".kiro" / "hooks" / "format-python.kiro.hook"
    (hook,) = [hook for hook in load_hooks(root).hooks if hook.id == "format-python"]
    assert (hook.event.value, hook.patterns, hook.action.command) == (
        "fileEdited",
        ("**/*.py",),
        "ruff format $SPECLOOM_FILES",
    )
    assert json.loads(path.read_text())["when"] == {"type": "fileEdited", "patterns": ["**/*.py"]}
    second = cli(root, "hooks", "new", "again", "--model", model, "--yes")
    assert second.exit_code == 0, second.output
    assert (root / ".kiro" / "hooks" / "format-python-2.kiro.hook").is_file()
