"""Worktrees of parallel tasks and the three-way merge of their work, in real git
repositories: nothing is committed on the user's branch, the user's index stays as it was,
a conflict changes no file of the project and keeps the task's work."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from specloom.workflows.worktrees import ParallelWorkspace, unavailable_reason
from tests.agent.test_checkpoints import git

LINES = "".join(f"line {n}\n" for n in range(1, 21))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / ".kiro" / "specs" / "demo").mkdir(parents=True)
    (root / ".kiro" / "specs" / "demo" / "tasks.md").write_text("- [ ] 1. One\n")
    (root / "src" / "lines.txt").write_text(LINES)
    (root / "README.md").write_text("readme\n")
    (root / ".gitignore").write_text(".venv/\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    return root


def state_of_git(root: Path) -> tuple[str, str, str]:
    """HEAD, the branch list and the user's index (as `git ls-files --stage`)."""
    return (
        git(root, "rev-parse", "HEAD"),
        git(root, "branch", "--list"),
        git(root, "ls-files", "--stage"),
    )


def edit_line(path: Path, number: int, text: str) -> None:
    lines = path.read_text().splitlines(keepends=True)
    lines[number - 1] = text + "\n"
    path.write_text("".join(lines))


def test_two_tasks_made_in_worktrees_merge_into_the_project(project: Path) -> None:
    before = state_of_git(project)
    (project / "notes.txt").write_text("an untracked file of the user\n")
    pool = ParallelWorkspace(project, "demo")
    base = pool.snapshot()
    first = pool.create("1.1", "run", base)
    second = pool.create("1.2", "run", base)
    assert (first.workdir / "notes.txt").read_text() == "an untracked file of the user\n"

    edit_line(first.workdir / "src" / "lines.txt", 2, "first task")
    (first.workdir / "src" / "new.py").write_text("print('new')\n")
    edit_line(second.workdir / "src" / "lines.txt", 18, "second task")
    (second.workdir / "README.md").unlink()
    # status files are the scheduler's: a worktree's .kiro/ is never merged
    (second.workdir / ".kiro" / "specs" / "demo" / "tasks.md").write_text("- [x] 1. One\n")

    first_patch = pool.collect(first)
    second_patch = pool.collect(second)
    assert sorted(first_patch.files) == ["src/lines.txt", "src/new.py"]
    assert sorted(second_patch.files) == ["README.md", "src/lines.txt"]

    assert pool.merge(first_patch).ok
    merged = pool.merge(second_patch)
    assert merged.ok and sorted(merged.files) == ["README.md", "src/lines.txt"]

    lines = (project / "src" / "lines.txt").read_text().splitlines()
    assert lines[1] == "first task" and lines[17] == "second task" and len(lines) == 20
    assert (project / "src" / "new.py").read_text() == "print('new')\n"
    assert not (project / "README.md").exists()
    assert (project / ".kiro" / "specs" / "demo" / "tasks.md").read_text() == "- [ ] 1. One\n"
    assert (project / "notes.txt").exists()
    assert state_of_git(project) == before  # no commit, no branch, the index untouched
    assert pool.is_applied(first_patch.text) and pool.is_applied(second_patch.text)

    pool.remove(first)
    pool.remove(second)
    assert not first.path.exists() and not second.path.exists()
    assert str(first.path) not in git(project, "worktree", "list")


def test_a_conflict_changes_nothing_and_keeps_the_work(project: Path) -> None:
    pool = ParallelWorkspace(project, "demo")
    base = pool.snapshot()
    worktree = pool.create("2.1", "run", base)
    edit_line(worktree.workdir / "src" / "lines.txt", 5, "from the task")
    (worktree.workdir / "src" / "extra.py").write_text("x = 1\n")
    patch = pool.collect(worktree)
    edit_line(project / "src" / "lines.txt", 5, "from someone else")  # meanwhile, in the project
    project_before = {
        path.relative_to(project).as_posix(): path.read_bytes()
        for path in project.rglob("*")
        if path.is_file() and ".git" not in path.parts and ".specloom" not in path.parts
    }

    result = pool.merge(patch)

    assert not result.ok
    assert result.conflicts == ["src/lines.txt"]
    project_after = {
        path.relative_to(project).as_posix(): path.read_bytes()
        for path in project.rglob("*")
        if path.is_file() and ".git" not in path.parts and ".specloom" not in path.parts
    }
    assert project_after == project_before
    saved = pool.keep("2.1", patch.text, worktree)
    assert saved == project / ".kiro" / ".specloom" / "patches" / "demo" / "2.1.patch"
    assert saved.read_bytes() == patch.text
    kept = git(project, "show", "refs/specloom/tasks/demo/2.1:src/extra.py")
    assert kept == "x = 1\n"
    # once the other change is gone, the saved patch applies as it is
    edit_line(project / "src" / "lines.txt", 5, "line 5")
    assert pool.merge(saved.read_bytes()).ok
    assert (project / "src" / "extra.py").read_text() == "x = 1\n"


def test_a_file_deleted_in_the_project_is_reported_as_the_conflict(project: Path) -> None:
    pool = ParallelWorkspace(project, "demo")
    worktree = pool.create("3", "run", pool.snapshot())
    edit_line(worktree.workdir / "README.md", 1, "changed")
    patch = pool.collect(worktree)
    (project / "README.md").unlink()

    result = pool.merge(patch)

    assert not result.ok
    assert result.conflicts == ["README.md"]
    assert not (project / "README.md").exists()


def test_binary_files_and_executable_bits_come_through(project: Path) -> None:
    pool = ParallelWorkspace(project, "demo")
    worktree = pool.create("4", "run", pool.snapshot())
    blob = bytes(range(256)) * 4
    (worktree.workdir / "data.bin").write_bytes(blob)
    script = worktree.workdir / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o755)

    assert pool.merge(pool.collect(worktree)).ok

    assert (project / "data.bin").read_bytes() == blob
    assert (project / "run.sh").stat().st_mode & 0o111


def test_ignored_environments_are_linked_in_and_never_merged(project: Path) -> None:
    (project / ".venv" / "bin").mkdir(parents=True)
    (project / ".venv" / "bin" / "tool").write_text("tool\n")
    pool = ParallelWorkspace(project, "demo")
    worktree = pool.create("5", "run", pool.snapshot())
    link = worktree.workdir / ".venv"
    assert link.is_symlink() and (link / "bin" / "tool").read_text() == "tool\n"
    (worktree.workdir / "made.txt").write_text("made\n")

    patch = pool.collect(worktree)

    assert patch.files == ["made.txt"]
    assert pool.merge(patch).ok
    assert not (project / ".venv").is_symlink()


def test_a_project_in_a_subfolder_of_its_repository(tmp_path: Path) -> None:
    repository = tmp_path / "mono"
    project = repository / "services" / "api"
    project.mkdir(parents=True)
    (repository / "top.txt").write_text("top\n")
    (project / "app.py").write_text("a = 1\n")
    git(repository, "init", "-q")
    git(repository, "add", "-A")
    git(repository, "commit", "-q", "-m", "first")
    pool = ParallelWorkspace(project, "demo")
    worktree = pool.create("1", "run", pool.snapshot())
    assert worktree.workdir == worktree.path / "services" / "api"
    (worktree.workdir / "app.py").write_text("a = 2\n")
    (worktree.path / "top.txt").write_text("outside the project: not merged\n")

    patch = pool.collect(worktree)
    merged = pool.merge(patch)

    assert patch.files == ["app.py"] and merged.files == ["app.py"]
    assert (project / "app.py").read_text() == "a = 2\n"
    assert (repository / "top.txt").read_text() == "top\n"


def test_prune_removes_the_worktrees_a_crashed_run_left(project: Path) -> None:
    pool = ParallelWorkspace(project, "demo")
    base = pool.snapshot()
    left = [pool.create(task, "dead", base) for task in ("1", "2")]

    removed = ParallelWorkspace(project, "demo").prune()

    assert removed == [f".kiro/.specloom/worktrees/demo/dead-{task}" for task in ("1", "2")]
    assert not any(worktree.path.exists() for worktree in left)
    assert git(project, "worktree", "list").count("\n") == 1


def test_an_empty_patch_merges_as_nothing(project: Path) -> None:
    pool = ParallelWorkspace(project, "demo")
    worktree = pool.create("6", "run", pool.snapshot())
    patch = pool.collect(worktree)
    assert patch.text == b"" and patch.files == []
    assert pool.merge(patch).ok


def test_a_folder_that_is_not_a_repository_says_why(tmp_path: Path) -> None:
    assert unavailable_reason(tmp_path) == "the project is not a git repository"
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    assert unavailable_reason(tmp_path) is None
