"""Path confinement: escapes refused (real symlinks, real files), legitimate paths allowed,
and the agent's view of the files (gitignore rules, .git skipped, links not followed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from specloom.agent.confine import Workspace, is_git_internal, is_state_path
from specloom.errors import ModelFacingError, WorkspaceError


def _write(path: Path, text: str = "x\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """``tmp/ws`` (the root) with tricky links, beside ``outside``, ``ws-evil`` and ``other``."""
    ws = tmp_path / "ws"
    _write(ws / "src" / "app.py", "print('app')\n")
    _write(ws / "README.md")
    _write(ws / "a" / "b" / "c" / "deep.txt")
    _write(ws / ".git" / "config")
    _write(ws / ".git" / "HEAD")
    _write(ws / ".gitignore", "build/\n")
    _write(ws / ".github" / "workflows" / "ci.yml")
    _write(ws / ".kiro" / "specs" / "demo" / "tasks.md")
    _write(ws / ".kiro" / ".specloom" / "audit.db")
    _write(ws / "sub" / ".git" / "HEAD")
    _write(ws / "worktree" / ".git", "gitdir: /elsewhere/.git/worktrees/w\n")
    _write(tmp_path / "outside" / "secret.txt", "secret\n")
    (tmp_path / "outside" / "x" / "y").mkdir(parents=True)
    _write(tmp_path / "ws-evil" / "file.txt")
    _write(tmp_path / "other" / "lib.py")
    links = {
        "etc_link": "/etc",
        "secret_link": "../outside/secret.txt",
        "outlink": "../outside",
        "chain1": "chain2",
        "chain2": "../outside",
        "updir": "..",
        "inner": "src",
        "gitlink": ".git",
        "deep_out": "../outside/x/y",
    }
    for name, target in links.items():
        (ws / name).symlink_to(target)
    return tmp_path


ESCAPES = [
    ("../outside/secret.txt", False),
    ("/etc/passwd", False),
    ("~/x", True),
    ("~root/.bashrc", False),
    ("a/../../outside/secret.txt", False),
    ("nope/../../outside/new.txt", True),
    ("a/b/c/../../../../outside/secret.txt", False),
    ("etc_link/passwd", False),
    ("secret_link", False),
    ("outlink/new.txt", True),
    ("outlink/x/y/../new-dir/new.txt", True),
    ("chain1/secret.txt", False),
    ("updir/outside/secret.txt", False),
    ("inner/../../outside/secret.txt", False),
    ("deep_out/../z.txt", True),  # lexically inside the root, really outside it
    (".git/config", False),
    (".git/hooks/pre-commit", True),
    (".GIT/config", False),
    (".Git/HEAD", True),
    ("sub/.git/HEAD", False),
    ("gitlink/config", True),
    ("gitlink/config", False),
    ("worktree/.git", True),
    ("src/../.git/config", False),
    (".kiro/.specloom/audit.db", True),
    (".KIRO/.Specloom/new.db", True),
    ("$HOME/x", True),
    ("a\0b", False),
    ("", False),
    ("   ", True),
    ("/proc/self/root/etc/passwd", False),
    ("./../ws-evil/file.txt", False),
    ("src/../../outside/", False),
]


@pytest.mark.parametrize(("path", "write"), ESCAPES)
def test_escapes_are_refused(tree: Path, path: str, write: bool) -> None:
    workspace = Workspace([tree / "ws"])
    with pytest.raises(ModelFacingError):
        workspace.resolve(path, write=write)


@pytest.mark.parametrize("write", [False, True])
def test_absolute_paths_outside_are_refused(tree: Path, write: bool) -> None:
    workspace = Workspace([tree / "ws"])
    for path in (tree / "ws-evil" / "file.txt", tree, tree / "outside" / "secret.txt"):
        with pytest.raises(ModelFacingError, match="outside the workspace"):
            workspace.resolve(str(path), write=write)
        with pytest.raises(ModelFacingError):
            workspace.resolve(path, write=write)


def test_refusals_say_why_and_what_to_do(tree: Path) -> None:
    workspace = Workspace([tree / "ws"])
    with pytest.raises(ModelFacingError, match=r"outside the workspace.*relative to the workspace"):
        workspace.resolve("outlink/new.txt", write=True)
    with pytest.raises(ModelFacingError, match=r"git's own files.*run_command"):
        workspace.resolve("gitlink/config", write=False)
    with pytest.raises(ModelFacingError, match=r"specloom's own state"):
        workspace.resolve(".kiro/.specloom/audit.db", write=True)
    with pytest.raises(ModelFacingError, match="not expanded"):
        workspace.resolve("~/notes.txt", write=False)
    with pytest.raises(ModelFacingError, match="empty"):
        workspace.resolve("", write=False)


ALLOWED = [
    ("src/app.py", False, "src/app.py"),
    ("./src/app.py", True, "src/app.py"),
    ("src/../README.md", False, "README.md"),
    ("new/dir/file.py", True, "new/dir/file.py"),
    ("inner/app.py", True, "src/app.py"),  # a link inside, to inside: its target
    ("inner/../README.md", False, "README.md"),
    (".gitignore", True, ".gitignore"),
    (".github/workflows/ci.yml", True, ".github/workflows/ci.yml"),
    (".git-blame-ignore-revs", True, ".git-blame-ignore-revs"),
    ("src/.gitkeep", True, "src/.gitkeep"),
    (".kiro/specs/demo/tasks.md", True, ".kiro/specs/demo/tasks.md"),
    (".kiro/.specloom/audit.db", False, ".kiro/.specloom/audit.db"),
    ("notes/~backup", True, "notes/~backup"),
    ("a/b/c/deep.txt", True, "a/b/c/deep.txt"),
    (".", False, "."),
]


@pytest.mark.parametrize(("path", "write", "expected"), ALLOWED)
def test_legitimate_paths_are_allowed(tree: Path, path: str, write: bool, expected: str) -> None:
    workspace = Workspace([tree / "ws"])
    real = workspace.resolve(path, write=write)
    root = (tree / "ws").resolve()
    assert real == (root / expected if expected != "." else root)
    assert workspace.display(real) == expected


def test_absolute_paths_inside_are_allowed(tree: Path) -> None:
    workspace = Workspace([tree / "ws"])
    inside = tree / "ws" / "src" / "app.py"
    assert workspace.resolve(str(inside), write=True) == inside.resolve()


def test_several_roots(tree: Path) -> None:
    workspace = Workspace([tree / "ws", tree / "other"])
    other = (tree / "other").resolve()
    assert workspace.resolve("other/lib.py", write=True) == other / "lib.py"
    assert workspace.resolve(str(other / "lib.py"), write=False) == other / "lib.py"
    assert workspace.display(other / "lib.py") == "other/lib.py"
    assert workspace.display(other) == "other"
    assert workspace.root_of(other / "lib.py") == other
    # A folder of the first root with the other root's name wins.
    _write(tree / "ws" / "other" / "mine.txt")
    assert workspace.resolve("other/mine.txt", write=False) == (tree / "ws" / "other" / "mine.txt")
    with pytest.raises(ModelFacingError, match="`other/...`"):
        workspace.resolve("../outside/secret.txt", write=False)


def test_nested_roots_use_the_innermost(tree: Path) -> None:
    workspace = Workspace([tree / "ws", tree / "ws" / "a"])
    assert workspace.root_of((tree / "ws" / "a" / "b").resolve()) == (tree / "ws" / "a").resolve()


def test_roots_must_be_folders(tree: Path) -> None:
    with pytest.raises(WorkspaceError):
        Workspace([])
    with pytest.raises(WorkspaceError):
        Workspace([tree / "ws" / "README.md"])
    with pytest.raises(WorkspaceError):
        Workspace([tree / "missing"])


def test_a_root_given_through_a_link_is_resolved(tree: Path) -> None:
    (tree / "ws-link").symlink_to(tree / "ws")
    workspace = Workspace([tree / "ws-link"])
    assert workspace.primary == (tree / "ws").resolve()
    assert workspace.resolve(str(tree / "ws-link" / "README.md"), write=True).name == "README.md"


def test_part_checks() -> None:
    assert is_git_internal(("sub", ".GIT", "HEAD"))
    assert not is_git_internal((".github", ".gitignore", ".git-x"))
    assert is_state_path(("x", ".Kiro", ".SPECLOOM", "db"))
    assert not is_state_path((".kiro", "specs", ".specloom"))


# -- what the agent sees ------------------------------------------------------------------------


def _relative(workspace: Workspace, start: Path) -> list[str]:
    return [workspace.display(path) for path in workspace.files(start)]


def test_files_honour_gitignore_and_skip_git_and_links(tmp_path: Path) -> None:
    root = tmp_path / "p"
    _write(root / ".gitignore", "*.log\nbuild/\n!keep.log\n")
    _write(root / "app.log")
    _write(root / "keep.log")
    _write(root / "build" / "out.js")
    _write(root / "src" / "build" / "nested.js")  # `build/` matches at any depth
    _write(root / "src" / "main.py")
    _write(root / "src" / ".gitignore", "generated_*.py\n")
    _write(root / "src" / "generated_a.py")
    _write(root / "docs" / "generated_b.py")  # the rule in src/ does not reach docs/
    _write(root / ".git" / "config")
    _write(root / ".git" / "info" / "exclude", "private.txt\n")
    _write(root / "private.txt")
    _write(root / ".hidden" / "h.txt")
    _write(tmp_path / "outside" / "o.txt")
    (root / "out").symlink_to(tmp_path / "outside")
    (root / "file_link.txt").symlink_to(root / "keep.log")
    workspace = Workspace([root])
    assert _relative(workspace, workspace.primary) == [
        ".gitignore",
        ".hidden/h.txt",
        "docs/generated_b.py",
        "keep.log",
        "src/.gitignore",
        "src/main.py",
    ]
    # A sub-folder keeps the rules of the folders above it.
    assert _relative(workspace, workspace.primary / "src") == ["src/.gitignore", "src/main.py"]
    # A folder named on purpose is listed even when ignored; a file, alone.
    assert _relative(workspace, workspace.primary / "build") == ["build/out.js"]
    assert _relative(workspace, workspace.primary / "app.log") == ["app.log"]


def test_files_walk_in_path_order(tmp_path: Path) -> None:
    root = tmp_path / "p"
    for name in ("b.py", "a-b/x.py", "a/x.py", "A.py", "a/z/y.py", "a/c.py"):
        _write(root / name)
    workspace = Workspace([root])
    assert _relative(workspace, workspace.primary) == [
        "A.py",
        "a/c.py",
        "a/x.py",
        "a/z/y.py",
        "a-b/x.py",
        "b.py",
    ]


def test_files_outside_the_roots_are_never_listed(tmp_path: Path) -> None:
    root = tmp_path / "p"
    _write(root / "x.txt")
    workspace = Workspace([root])
    assert list(workspace.files(tmp_path)) == []
    assert list(workspace.files(tmp_path / "p" / "x.txt")) == [root / "x.txt"]
