"""The secret scanner and its hook templates: a planted AWS-style key is found with its file,
line and kind (never its value), on save and in what a ``git commit`` would record."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from specloom.hooks.bus import HookBus
from specloom.hooks.model import EventKind, HookEvent
from specloom.hooks.secrets import Finding, scan_files, scan_staged
from specloom.hooks.templates import add_template
from tests.agent.test_checkpoints import git
from tests.hooks.conftest import make_project

KEY = "AKIAZ5QK7WXQ2M4RN3TB"
PLANTED = f'import os\n\nREGION = "eu-west-1"\naws_access_key_id = "{KEY}"\n'


def scanner(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "specloom.hooks.secrets", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_planted_aws_key_is_found_with_file_line_and_kind(tmp_path: Path) -> None:
    (tmp_path / "settings.py").write_text(PLANTED)
    (tmp_path / "clean.py").write_text("def add(a, b):\n    return a + b\n")

    found = scan_files(["settings.py", "clean.py", "missing.py"], cwd=tmp_path)

    assert Finding("settings.py", 4, "AWS Access Key") in found
    assert all(finding.path == "settings.py" for finding in found)
    assert scan_files(["clean.py"], cwd=tmp_path) == []


def test_the_program_exits_2_and_names_the_secret_without_showing_it(tmp_path: Path) -> None:
    (tmp_path / "settings.py").write_text(PLANTED)
    (tmp_path / "clean.py").write_text("x = 1\n")

    found = scanner("settings.py", cwd=tmp_path)
    clean = scanner("clean.py", cwd=tmp_path)
    from_event = scanner(cwd=tmp_path, stdin=json.dumps({"file_paths": ["settings.py"]}))

    assert found.returncode == 2
    assert "settings.py:4: AWS Access Key" in found.stderr
    assert KEY not in found.stderr + found.stdout
    assert clean.returncode == 0 and clean.stderr == ""
    assert from_event.returncode == 2 and "settings.py:4: AWS Access Key" in from_event.stderr


def test_staged_content_is_scanned_not_the_working_copy(tmp_path: Path) -> None:
    root = make_project(tmp_path / "repo")
    (root / "settings.py").write_text(PLANTED)
    git(root, "add", "settings.py")
    (root / "settings.py").write_text("aws_access_key_id = os.environ['KEY']\n")  # not staged

    assert Finding("settings.py", 4, "AWS Access Key") in scan_staged(root)
    commit = json.dumps(
        {
            "tool_name": "run_command",
            "tool_input": {"command": "git add -A && git commit -m 'config'"},
        }
    )
    status = json.dumps({"tool_name": "run_command", "tool_input": {"command": "git status"}})
    blocked = scanner("--on-commit", cwd=root, stdin=commit)
    ignored = scanner("--on-commit", cwd=root, stdin=status)
    assert blocked.returncode == 2 and "settings.py:4: AWS Access Key" in blocked.stderr
    assert "staged for commit" in blocked.stderr
    assert ignored.returncode == 0 and ignored.stderr == ""


@pytest.mark.anyio
async def test_the_templates_run_the_scanner_as_hooks(tmp_path: Path) -> None:
    root = make_project(tmp_path / "repo")
    add_template("secret-scan", root, trust=True)
    add_template("secret-scan-commit", root, trust=True)
    (root / "settings.py").write_text(PLANTED)
    git(root, "add", "settings.py")
    bus = HookBus.load(root)

    saved = await bus.dispatch(
        HookEvent(EventKind.fileEdited, root, files=("settings.py", "app.py"))
    )
    commit = await bus.dispatch(
        HookEvent(
            EventKind.preToolUse,
            root,
            tool_name="run_command",
            tool_input={"command": "git commit -m wip"},
        )
    )
    listing = await bus.dispatch(
        HookEvent(EventKind.preToolUse, root, tool_name="run_command", tool_input={"command": "ls"})
    )
    bus.close()

    (run,) = saved.runs
    assert (run.outcome, run.exit_code) == ("failed", 2)
    assert "settings.py:4: AWS Access Key" in run.errors
    assert commit.blocked and "settings.py:4: AWS Access Key" in commit.reason
    assert not listing.blocked and [r.outcome for r in listing.runs] == ["ok"]
