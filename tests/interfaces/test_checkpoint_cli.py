"""``specloom checkpoint create|list|diff|restore``, run as a real process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dirty_equals import IsPartialDict, IsStr

from tests.agent.test_checkpoints import files_digest, git, make_repo, user_git_state, write
from tests.interfaces.cli_helpers import json_output, specloom

CHECKPOINT_ID = IsStr(regex=r"[0-9a-f]{12}")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A committed repository with a ``.kiro/`` folder."""
    return make_repo(
        tmp_path / "project",
        {".kiro/specs/demo/tasks.md": "- [ ] 1. Do it\n", "src/app.py": "print('hi')\n"},
    )


def test_create_then_list_in_json(project: Path) -> None:
    created = json_output(
        specloom("checkpoint", "create", "-m", "before 1.1", "--task", "1.1", "--spec", "demo",
                 "--json", cwd=project)
    )  # fmt: skip
    listed = json_output(specloom("checkpoint", "list", "--json", cwd=project / "src"))

    assert created == {
        "id": CHECKPOINT_ID,
        "commit": IsStr(regex=r"[0-9a-f]{40}"),
        "parent": None,
        "time": IsStr(),
        "message": "before 1.1",
        "task": "1.1",
        "spec": "demo",
        "files_changed": 2,
        "unchanged": False,
    }
    assert listed == {"root": str(project.resolve()), "checkpoints": [created]}


def test_create_with_nothing_changed_says_so(project: Path) -> None:
    first = json_output(specloom("checkpoint", "create", "--json", cwd=project))

    again = json_output(specloom("checkpoint", "create", "--json", cwd=project))
    text = specloom("checkpoint", "create", cwd=project)

    assert again == IsPartialDict(id=first["id"], unchanged=True)
    assert text.returncode == 0
    assert text.stdout == f"Nothing changed since checkpoint {first['id']}; no new checkpoint " \
        "was taken.\n"  # fmt: skip


def test_text_output_of_create_and_list(project: Path) -> None:
    created = specloom("checkpoint", "create", "-m", "first", "--task", "2.3", cwd=project)
    write(project, {"src/app.py": "print('changed')\n"})
    second = specloom("checkpoint", "create", cwd=project)
    listed = specloom("checkpoint", "list", cwd=project)

    assert created.stdout.startswith("Checkpoint ") and "2 files changed." in created.stdout
    assert "1 file changed." in second.stdout
    lines = listed.stdout.splitlines()
    assert lines[0] == f"Checkpoints of {project.resolve()} (newest first)"
    assert lines[1].split() == ["id", "time", "task", "message", "files", "changed"]
    assert "2.3" in lines[3] and "first" in lines[3] and lines[3].rstrip().endswith("2")
    assert "Checkpoint" in lines[2] and lines[2].rstrip().endswith("1")


def test_list_before_any_checkpoint(project: Path) -> None:
    result = specloom("checkpoint", "list", cwd=project)

    assert result.returncode == 0
    assert result.stdout.startswith("No checkpoints yet in ")


def test_diff_to_the_files_now_and_between_two_checkpoints(project: Path) -> None:
    first = json_output(specloom("checkpoint", "create", "--json", cwd=project))["id"]
    write(project, {"src/app.py": "print('bye')\n"})
    second = json_output(specloom("checkpoint", "create", "--json", cwd=project))["id"]

    now = specloom("checkpoint", "diff", first, cwd=project)
    between = specloom("checkpoint", "diff", first, second, cwd=project)
    as_json = json_output(specloom("checkpoint", "diff", first, "--json", cwd=project))
    nothing = specloom("checkpoint", "diff", second, cwd=project)

    assert now.returncode == 0 and "-print('hi')\n+print('bye')\n" in now.stdout
    assert between.stdout == now.stdout
    assert as_json == {
        "from": first,
        "to": None,
        "changes": [{"status": "modified", "path": "src/app.py"}],
        "diff": now.stdout,
    }
    assert nothing.returncode == 0 and nothing.stdout == ""


def test_restore_brings_the_files_back_and_prints_how_to_undo(project: Path) -> None:
    before = files_digest(project)
    state = user_git_state(project)
    checkpoint = json_output(specloom("checkpoint", "create", "--json", cwd=project))["id"]
    write(project, {"src/app.py": "broken\n", "src/extra.py": "x\n"})
    (project / ".kiro" / "specs" / "demo" / "tasks.md").unlink()
    edited = files_digest(project)

    restored = json_output(specloom("checkpoint", "restore", checkpoint[:6], "--json",
                                    cwd=project))  # fmt: skip

    assert files_digest(project) == before
    assert user_git_state(project) == state
    assert restored == {
        "restored": IsPartialDict(id=checkpoint),
        "undo": IsPartialDict(
            id=CHECKPOINT_ID, message=f"Before restoring checkpoint {checkpoint}"
        ),
        "written": [".kiro/specs/demo/tasks.md", "src/app.py"],
        "removed": ["src/extra.py"],
    }
    undo = restored["undo"]["id"]
    text = specloom("checkpoint", "restore", undo, cwd=project)
    newest = json_output(specloom("checkpoint", "list", "--json", cwd=project))["checkpoints"][0]
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines() == [
        f"Restored checkpoint {undo}: 2 files written, 1 removed.",
        f"Undo with `specloom checkpoint restore {newest['id']}`.",
    ]
    assert newest["message"] == f"Before restoring checkpoint {undo}"
    assert files_digest(project) == edited


def test_an_unknown_id_exits_2_with_a_hint(project: Path) -> None:
    specloom("checkpoint", "create", cwd=project)

    result = specloom("checkpoint", "restore", "deadbeef", cwd=project)
    as_json = specloom("checkpoint", "diff", "deadbeef", "--json", cwd=project)

    assert result.returncode == 2 and result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {project.resolve()}: there is no checkpoint ")
    assert "`specloom checkpoint list`" in result.stderr
    assert json.loads(as_json.stdout) == IsPartialDict(
        error="CheckpointError", hint=IsStr(regex=r".*specloom checkpoint list.*")
    )
    assert as_json.returncode == 2


def test_root_option_and_a_folder_outside_any_project(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()

    created = json_output(specloom("checkpoint", "create", "--root", str(project), "--json",
                                   cwd=outside))  # fmt: skip
    refused = specloom("checkpoint", "list", cwd=outside)

    assert git(project, "rev-parse", "refs/specloom/checkpoints/latest").strip() == \
        created["commit"]  # fmt: skip
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "--root" in refused.stderr


def test_help_lists_the_four_commands(project: Path) -> None:
    result = specloom("checkpoint", "--help", cwd=project)

    assert result.returncode == 0
    for command in ("create", "list", "diff", "restore"):
        assert command in result.stdout
