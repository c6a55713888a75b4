"""Projects with hook files, for the hook tests."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.agent.test_checkpoints import git

PYTHON = shlex.quote(sys.executable)
"""This interpreter, quoted for a shell line (hook commands run Python scripts with it)."""


def make_project(root: Path, *, settings: dict[str, Any] | None = None) -> Path:
    """A git repository with one commit, ``.kiro/hooks/`` and (optionally) project settings."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    (root / "app.py").write_text("def add(a, b):\n    return a + b\n")
    (root / ".gitignore").write_text("build/\n*.log\n")
    git(root, "add", "app.py", ".gitignore")
    git(root, "commit", "-q", "-m", "first")
    (root / ".kiro" / "hooks").mkdir(parents=True)
    if settings is not None:
        write_settings(root, settings)
    return root


def write_settings(root: Path, settings: dict[str, Any]) -> None:
    folder = root / ".kiro" / "settings"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "specloom.json").write_text(json.dumps(settings))


TRUST_ALL = {"agent": {"trusted_commands": ["*"]}}
"""Settings under which every (non-destructive) hook command runs without asking."""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A git project whose settings trust every non-destructive command."""
    return make_project(tmp_path / "project", settings=TRUST_ALL)


def legacy_hook(
    root: Path,
    stem: str,
    *,
    event: str,
    command: str | None = None,
    prompt: str | None = None,
    patterns: list[str] | None = None,
    tools: list[str] | None = None,
    timeout: float | None = None,
    enabled: bool | None = None,
    name: str | None = None,
) -> Path:
    """Write ``.kiro/hooks/<stem>.kiro.hook``."""
    when: dict[str, Any] = {"type": event}
    if patterns is not None:
        when["patterns"] = patterns
    if tools is not None:
        when["toolTypes"] = tools
    then: dict[str, Any] = (
        {"type": "runCommand", "command": command}
        if command is not None
        else {"type": "askAgent", "prompt": prompt}
    )
    if timeout is not None:
        then["timeout"] = timeout
    data: dict[str, Any] = {"name": name or stem, "version": "1", "when": when, "then": then}
    if enabled is not None:
        data["enabled"] = enabled
    path = root / ".kiro" / "hooks" / f"{stem}.kiro.hook"
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def v1_hooks(root: Path, stem: str, hooks: list[dict[str, Any]]) -> Path:
    """Write ``.kiro/hooks/<stem>.json`` holding ``hooks``."""
    path = root / ".kiro" / "hooks" / f"{stem}.json"
    path.write_text(json.dumps({"version": "v1", "hooks": hooks}, indent=2) + "\n")
    return path


def script(root: Path, name: str, body: str) -> str:
    """A Python script in the project, and the shell line that runs it."""
    path = root / name
    path.write_text(body)
    return f"{PYTHON} {shlex.quote(name)}"
