"""Kiro's permissions.yaml and the ``agent.rules`` setting: real-shaped files, messy files,
bad files reported with file and line, and the matching rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from specloom.agent.permissions import (
    Rule,
    command_matches,
    load_permissions,
    path_matches,
    rules_from_settings,
)
from specloom.errors import SettingsError
from specloom.settings import load_settings

KIRO_SHAPED = """\
rules:
  - capability: shell
    effect: allow
    match:
      - git *
      - npm *
      - npx *
  - capability: fs_write
    effect: allow
    match:
      - src/**
      - tests/**
  - capability: fs_read
    effect: allow
  - capability: mcp
    effect: allow
    match:
      - my-server/*
  - capability: fs_read
    effect: deny
    match: [".env", "**/*.pem"]
    exclude: [".env.example"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "permissions.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_kiro_shaped_file_becomes_rules_with_their_lines(tmp_path: Path) -> None:
    path = write(tmp_path, KIRO_SHAPED)

    found = load_permissions(path)

    assert [(r.capability, r.effect) for r in found.rules] == [
        ("shell", "allow"),
        ("fs_write", "allow"),
        ("fs_read", "allow"),
        ("mcp", "allow"),
        ("fs_read", "deny"),
    ]
    assert found.rules[0].match == ("git *", "npm *", "npx *")
    assert found.rules[4].exclude == (".env.example",)
    assert [r.source for r in found.rules] == [f"{path}:{line}" for line in (2, 8, 13, 15, 19)]
    assert found.warnings == []
    assert found.files == [path]


def test_messy_files_are_read_as_meant(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "version: 1\nrules:\n"
        "  - capability: Execute_Bash\n    match: pytest*\n    effect: Allow\n"
        "  - match: ['rm *']\n    effect: DENY\n"
        "  - capability: web_fetch\n    effect: ask\n"
        "  - capability: write\n    effect: ask\n    match:\n",
    )

    found = load_permissions(path)

    shell, anything, web, writes = found.rules
    assert (shell.capability, shell.effect, shell.match) == ("shell", "allow", ("pytest*",))
    assert (anything.capability, anything.effect) == ("all", "deny")
    assert web.capability == "web_fetch"
    assert (writes.capability, writes.match) == ("fs_write", ())
    assert len(found.warnings) == 2
    assert "no capability" in found.warnings[0] and f"{path}:6" in found.warnings[0]
    assert "web_fetch" in found.warnings[1]


def test_a_top_level_list_and_empty_files_are_accepted(tmp_path: Path) -> None:
    listed = load_permissions(write(tmp_path, "- capability: shell\n  effect: deny\n"))
    assert [rule.effect for rule in listed.rules] == ["deny"]
    assert load_permissions(write(tmp_path, "")).rules == []
    assert load_permissions(tmp_path / "missing.yaml").files == []


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("rules:\n  - capability: shell\n    effect: allow\n    match: [unclosed\n", 5, "YAML"),
        ("rules:\n  - capability: shell\n    match: ['x']\n", 2, "no effect"),
        (
            "rules:\n  - capability: shell\n  - capability: shell\n    effect: maybe\n",
            2,
            "no effect",
        ),  # fmt: skip
        ("rules:\n  - capability: shell\n    effect: permit\n", 2, "effect 'permit'"),
        ("rules:\n  - capability: shell\n    effect: allow\n    match: {a: 1}\n", 2, "`match`"),
        ("rules: allow-everything\n", 1, "`rules` must be a list"),
        ("rules:\n  - just a string\n", 2, "must be a mapping"),
    ],
)
def test_bad_files_name_the_file_the_line_and_the_fix(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    path = write(tmp_path, text)

    with pytest.raises(SettingsError) as raised:
        load_permissions(path)

    assert raised.value.file == str(path)
    assert raised.value.line == line
    assert words in raised.value.message
    assert raised.value.hint


def test_rules_in_the_settings_use_the_same_shape(tmp_path: Path) -> None:
    (tmp_path / ".kiro" / "settings").mkdir(parents=True)
    (tmp_path / ".kiro" / "settings" / "specloom.json").write_text(
        json.dumps(
            {"agent": {"rules": [{"capability": "shell", "match": "make *", "effect": "allow"}]}}
        )  # fmt: skip
    )
    settings = load_settings(tmp_path, user_dir=tmp_path / "none")

    (rule,) = rules_from_settings(settings).rules

    assert rule.match == ("make *",)
    assert rule.source.endswith("specloom.json: agent.rules[0]")


def test_a_bad_rule_in_the_settings_names_its_file(tmp_path: Path) -> None:
    (tmp_path / ".kiro" / "settings").mkdir(parents=True)
    path = tmp_path / ".kiro" / "settings" / "specloom.json"
    path.write_text('{"agent": {\n  "rules": [{"capability": "shell"}]}}')
    settings = load_settings(tmp_path, user_dir=tmp_path / "none")

    with pytest.raises(SettingsError) as raised:
        rules_from_settings(settings)

    assert raised.value.file == str(path)
    assert raised.value.line == 2


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("src/**", "src/a/b.py", True),
        ("src/**", "tests/a.py", False),
        ("*.md", "README.md", True),
        ("*.md", "docs/guide.md", False),
        ("**/*.md", "docs/guide.md", True),
        ("**/*.md", "README.md", True),
        ("./.env", ".env", True),
        (".env", ".env.local", False),
        ("build/", "build/x/y.o", True),
        ("/etc/*", "/etc/passwd", True),
        ("secret?.txt", "secret1.txt", True),
        ("[!a]*.py", "b.py", True),
        ("[!a]*.py", "a.py", False),
    ],
)
def test_path_patterns(pattern: str, path: str, expected: bool) -> None:
    assert path_matches(pattern, path) is expected


@pytest.mark.parametrize(
    ("pattern", "command", "expected"),
    [
        ("pytest*", "pytest -q tests/", True),
        ("git status", "git status", True),
        ("git status", "git status --short", False),
        ("npm *", "npm  run   build", True),
        ("npm *", "npx foo", False),
        ("rm -rf build/*", "rm -rf build/x", True),
    ],
)
def test_command_patterns(pattern: str, command: str, expected: bool) -> None:
    assert command_matches(pattern, command) is expected


def test_rules_match_exclude_and_name_destructive_findings() -> None:
    rule = Rule("shell", "allow", ("git *", "git push --force*"), ("git push --force origin main",))

    assert rule.matches("shell", "git status") == "git *"
    assert rule.matches("fs_write", "git status") is None
    assert rule.matches("shell", "git push --force origin main") is None
    assert rule.names("shell", "git push --force origin dev", ("git", "push", "--force"))
    assert not rule.names("shell", "git push -f origin dev", ("git", "push", "-f"))
    assert not Rule("all", "allow").names("shell", "rm -rf /", ("rm", "-rf"))
    assert Rule("mcp", "allow", ("@db/*",)).matches("mcp", "db/query") == "@db/*"
