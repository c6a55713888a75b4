"""Reading hook files of both formats into one model, the errors bad files give, matching files
and tools, and ``set_enabled``'s in-place edit."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from specloom.errors import SpecNotFoundError, UsageError
from specloom.hooks.editing import set_enabled
from specloom.hooks.loader import find_hook, load_hooks, read_hook_file
from specloom.hooks.model import EventKind, Hook, HookEvent, tool_names
from tests.conftest import example_files
from tests.hooks.conftest import legacy_hook, v1_hooks


def test_every_real_kiro_hook_file_loads(tmp_path: Path) -> None:
    folder = tmp_path / ".kiro" / "hooks"
    folder.mkdir(parents=True)
    sources = example_files("*.kiro.hook")
    for path in sources:
        shutil.copy(path, folder / path.name)

    found = load_hooks(tmp_path)

    assert found.problems == []
    assert len(found.hooks) == len({path.name for path in sources}) >= 15
    by_id = {hook.id: hook for hook in found.hooks}
    gate = by_id["security-write-gate"]
    assert (gate.event, gate.tool_patterns, gate.action.kind) == (
        EventKind.preToolUse,
        ("write",),
        "askAgent",
    )
    assert gate.matches_tool("write_file") and gate.matches_tool("edit_file")
    assert not gate.matches_tool("read_file") and not gate.matches_tool("run_command")
    docs = by_id["update-docs-hook"]
    assert docs.name == "Update Documentation on Code Changes"
    assert docs.enabled  # no `enabled` key means enabled
    assert docs.matches_file("server/api/routes.ts")
    assert docs.matches_file("launch.ts")
    assert not docs.matches_file("server/api/routes.py")
    assert by_id["manual-bug-fix"].event is EventKind.userTriggered
    assert by_id["ask-bootcamper"].event is EventKind.agentStop


def test_v1_files_load_into_the_same_model(tmp_path: Path) -> None:
    (tmp_path / ".kiro" / "hooks").mkdir(parents=True)
    v1_hooks(
        tmp_path,
        "team",
        [
            {
                "name": "lint-on-save",
                "trigger": "PostFileSave",
                "matcher": "\\.ts$",
                "action": {"type": "command", "command": "npm run lint"},
                "timeout": 30,
                "owner": "web-team",
            },
            {
                "name": "remind-tests",
                "trigger": "PreToolUse",
                "matcher": "fs_write|str_replace",
                "action": {"type": "agent", "prompt": "Ensure tests are updated"},
            },
            {
                "name": "gate",
                "trigger": "PreTaskExec",
                "enabled": False,
                "confirm": True,
                "action": {"type": "command", "command": "./check.sh"},
            },
            {
                "name": "by-hand",
                "trigger": "Manual",
                "action": {"type": "command", "command": "make docs"},
            },
        ],
    )

    found = load_hooks(tmp_path)

    assert found.problems == []
    lint, remind, gate, by_hand = found.hooks
    assert (lint.event, lint.format, lint.action.kind, lint.action.timeout) == (
        EventKind.fileEdited,
        "v1",
        "runCommand",
        30.0,
    )
    assert lint.event_name == "PostFileSave"
    assert lint.matches_file("web/src/app.ts") and not lint.matches_file("web/src/app.tsx")
    assert (remind.event, remind.action.kind, remind.action.timeout) == (
        EventKind.preToolUse,
        "askAgent",
        60.0,
    )
    assert remind.matches_tool("write_file") and remind.matches_tool("edit_file")
    assert not remind.matches_tool("run_command")
    assert (gate.event, gate.enabled, gate.confirm, gate.index) == (
        EventKind.preTaskExecution,
        False,
        True,
        2,
    )
    assert by_hand.event is EventKind.userTriggered


def test_an_invalid_file_is_named_with_its_field_and_line_and_the_others_still_load(
    tmp_path: Path,
) -> None:
    folder = tmp_path / ".kiro" / "hooks"
    folder.mkdir(parents=True)
    legacy_hook(tmp_path, "good", event="fileEdited", patterns=["*.py"], command="true")
    (folder / "broken.kiro.hook").write_text('{\n  "name": "broken",\n  "when": {,\n}\n')
    (folder / "no-patterns.kiro.hook").write_text(
        '{\n  "name": "x",\n  "when": {\n    "type": "fileEdited"\n  },\n'
        '  "then": {"type": "runCommand", "command": "true"}\n}\n'
    )
    (folder / "odd-event.kiro.hook").write_text(
        '{\n  "name": "x",\n  "when": {\n    "type": "fileSaved",\n    "patterns": ["*"]\n  },\n'
        '  "then": {"type": "runCommand", "command": "true"}\n}\n'
    )
    v1_hooks(
        tmp_path,
        "mixed",
        [
            {"name": "fine", "trigger": "Stop", "action": {"type": "command", "command": "true"}},
            {"name": "wrong", "trigger": "OnSave", "action": {"type": "command", "command": "x"}},
            {
                "name": "bad-regex",
                "trigger": "PostFileSave",
                "matcher": "(",
                "action": {"type": "command", "command": "x"},
            },
        ],
    )

    found = load_hooks(tmp_path)

    assert [hook.id for hook in found.hooks] == ["good", "fine"]
    problems = {Path(problem.file or "").name: problem for problem in found.problems}
    broken = problems["broken.kiro.hook"]
    assert (broken.line, broken.column) == (3, 12)
    assert "not valid JSON" in broken.message
    missing = problems["no-patterns.kiro.hook"]
    assert "`when.patterns` is missing" in missing.message and missing.line == 3
    assert missing.hint and "patterns" in missing.hint
    odd = problems["odd-event.kiro.hook"]
    assert "`when.type` 'fileSaved'" in odd.message and odd.line == 4
    assert odd.hint and "fileEdited" in odd.hint
    v1_messages = [p for p in found.problems if Path(p.file or "").name == "mixed.json"]
    assert len(v1_messages) == 2
    wrong, regex = v1_messages
    assert "hooks[1] (wrong).trigger" in wrong.message and "OnSave" in wrong.message
    lines = (folder / "mixed.json").read_text().splitlines()
    assert wrong.line is not None and '"trigger": "OnSave"' in lines[wrong.line - 1]
    assert regex.line is not None and '"matcher": "("' in lines[regex.line - 1]
    assert "regular expression" in regex.message
    assert broken.render().startswith(".kiro/hooks/broken.kiro.hook:3:12: ")


def test_file_patterns_are_gitignore_style_globs_relative_to_the_root(tmp_path: Path) -> None:
    def hook(*patterns: str) -> Hook:
        path = legacy_hook(
            tmp_path, "h", event="fileEdited", patterns=list(patterns), command="true"
        )
        return read_hook_file(path)[0][0]

    (tmp_path / ".kiro" / "hooks").mkdir(parents=True)
    anywhere = hook("*.py")
    assert anywhere.matches_file("app.py") and anywhere.matches_file("src/pkg/app.py")
    here = hook("src/*.py")
    assert here.matches_file("src/app.py") and not here.matches_file("src/pkg/app.py")
    deep = hook("**/README.md", "docker-compose.yml")
    assert deep.matches_file("README.md") and deep.matches_file("docs/README.md")
    assert deep.matches_file("docker-compose.yml") and not deep.matches_file("x/compose.yml")
    excluded = hook("**/*.py", "!tests/**")
    assert excluded.matches_file("src/a.py") and not excluded.matches_file("tests/test_a.py")
    event = HookEvent(
        EventKind.fileEdited, tmp_path, files=(str(tmp_path / "src" / "a.py"), "b.md")
    )
    assert event.files == ("src/a.py", "b.md")
    assert excluded.select(event) == ("src/a.py",)
    assert excluded.select(HookEvent(EventKind.fileEdited, tmp_path, files=("b.md",))) is None
    assert excluded.select(HookEvent(EventKind.fileCreated, tmp_path, files=("a.py",))) is None


def test_tool_names_match_specloom_kiro_and_mcp_names(tmp_path: Path) -> None:
    (tmp_path / ".kiro" / "hooks").mkdir(parents=True)

    def legacy(*tools: str) -> Hook:
        path = legacy_hook(tmp_path, "t", event="preToolUse", tools=list(tools), command="true")
        return read_hook_file(path)[0][0]

    def v1(matcher: str) -> Hook:
        path = v1_hooks(
            tmp_path,
            "t",
            [
                {
                    "name": "t",
                    "trigger": "PreToolUse",
                    "matcher": matcher,
                    "action": {"type": "command", "command": "true"},
                }
            ],
        )
        return read_hook_file(path)[0][0]

    assert "shell" in tool_names("run_command") and "@git/git_status" in tool_names(
        "git__git_status"
    )
    shell = legacy("shell")
    assert shell.matches_tool("run_command") and not shell.matches_tool("write_file")
    assert legacy("fs_*").matches_tool("read_file") and legacy("fs_*").matches_tool("edit_file")
    assert legacy("*").matches_tool("git__git_commit")
    assert legacy("@git").matches_tool("git__git_commit")
    assert not legacy("@git").matches_tool("time__now")
    assert legacy("@git/git_.*").matches_tool("git__git_status")
    assert legacy("@mcp").matches_tool("time__now") and not legacy("@mcp").matches_tool("read_file")
    assert legacy("@builtin").matches_tool("read_file")
    assert not legacy("write_file").matches_tool("edit_file")
    assert v1("execute_bash").matches_tool("run_command")
    assert v1("^edit_file$").matches_tool("edit_file") and not v1("^edit_file$").matches_tool(
        "write_file"
    )
    assert v1("@git").matches_tool("git__git_log")
    every = read_hook_file(legacy_hook(tmp_path, "all", event="postToolUse", command="true"))[0][0]
    assert every.matches_tool("anything")  # no toolTypes: every tool
    event = HookEvent(
        EventKind.preToolUse, tmp_path, tool_name="run_command", tool_input={"command": "ls"}
    )
    assert shell.select(event) == () and legacy("write").select(event) is None


def test_set_enabled_changes_only_that_value(tmp_path: Path) -> None:
    folder = tmp_path / ".kiro" / "hooks"
    folder.mkdir(parents=True)
    text = (
        '{\n    "enabled": true,\n    "name": "Lint",\n    "x-owner": {"team": "web"},\n'
        '    "when": {"type": "fileEdited", "patterns": ["*.ts"]},\n'
        '    "then": {"type": "runCommand", "command": "npm run lint"}\n}'
    )
    path = folder / "lint.kiro.hook"
    path.write_text(text)
    hook = read_hook_file(path)[0][0]

    assert set_enabled(hook, False)
    assert path.read_text() == text.replace('"enabled": true', '"enabled": false')
    assert not set_enabled(read_hook_file(path)[0][0], False)  # already off
    assert set_enabled(read_hook_file(path)[0][0], True)
    assert path.read_text() == text


def test_set_enabled_adds_the_key_when_absent_with_the_files_indentation(tmp_path: Path) -> None:
    folder = tmp_path / ".kiro" / "hooks"
    folder.mkdir(parents=True)
    source = example_files("update-docs-hook.kiro.hook")[0]
    path = folder / source.name
    shutil.copy(source, path)
    path.chmod(0o644)
    original = path.read_text()

    assert set_enabled(read_hook_file(path)[0][0], False)

    changed = path.read_text()
    assert changed == original.replace('{\n  "name"', '{\n  "enabled": false,\n  "name"', 1)
    assert not read_hook_file(path)[0][0].enabled
    assert not set_enabled(read_hook_file(path)[0][0], False)


def test_set_enabled_in_a_v1_file_touches_only_that_entry(tmp_path: Path) -> None:
    (tmp_path / ".kiro" / "hooks").mkdir(parents=True)
    path = v1_hooks(
        tmp_path,
        "team",
        [
            {"name": "a", "trigger": "Stop", "action": {"type": "command", "command": "true"}},
            {
                "name": "b",
                "trigger": "Stop",
                "enabled": True,
                "action": {"type": "command", "command": "true"},
            },
        ],
    )
    before = path.read_text()
    hooks = load_hooks(tmp_path).hooks

    assert set_enabled(find_hook(hooks, "b"), False)
    assert set_enabled(find_hook(load_hooks(tmp_path).hooks, "a"), False)

    after = load_hooks(tmp_path).hooks
    assert [(hook.id, hook.enabled) for hook in after] == [("a", False), ("b", False)]
    expected = before.replace('"enabled": true', '"enabled": false').replace(
        '      "name": "a"', '      "enabled": false,\n      "name": "a"'
    )
    assert path.read_text() == expected


def test_find_hook_by_file_name_name_or_slug(tmp_path: Path) -> None:
    (tmp_path / ".kiro" / "hooks").mkdir(parents=True)
    legacy_hook(
        tmp_path,
        "lint-on-save",
        event="fileEdited",
        patterns=["*"],
        command="true",
        name="Lint On Save",
    )
    legacy_hook(tmp_path, "twin-1", event="agentStop", command="true", name="Twin")
    legacy_hook(tmp_path, "twin-2", event="agentStop", command="true", name="Twin")
    hooks = load_hooks(tmp_path).hooks

    assert find_hook(hooks, "lint-on-save").id == "lint-on-save"
    assert find_hook(hooks, "lint on save").id == "lint-on-save"
    assert find_hook(hooks, "twin-2").id == "twin-2"
    with pytest.raises(UsageError, match="several hooks"):
        find_hook(hooks, "Twin")
    with pytest.raises(SpecNotFoundError, match="no hook called 'nope'") as raised:
        find_hook(hooks, "nope")
    assert raised.value.hint and "lint-on-save" in raised.value.hint
