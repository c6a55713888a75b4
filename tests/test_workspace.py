"""The project on disk: finding the root, atomic writes, and the files a workspace sees."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from specloom.errors import WorkspaceError
from specloom.workspace import Workspace, atomic_write, find_root


def _write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _has_marker_above(folder: Path) -> bool:
    return any((f / ".kiro").is_dir() or (f / ".git").exists() for f in [folder, *folder.parents])


# -- find_root ------------------------------------------------------------------------------


def test_find_root_walks_up_from_a_nested_folder_to_the_kiro_folder(tmp_path: Path) -> None:
    (tmp_path / "project" / ".kiro").mkdir(parents=True)
    deep = tmp_path / "project" / "src" / "pkg" / "sub"
    deep.mkdir(parents=True)

    assert find_root(deep) == (tmp_path / "project").resolve()
    assert find_root(tmp_path / "project") == (tmp_path / "project").resolve()


def test_find_root_picks_the_nearest_kiro_folder(tmp_path: Path) -> None:
    (tmp_path / "outer" / ".kiro").mkdir(parents=True)
    (tmp_path / "outer" / "inner" / ".kiro").mkdir(parents=True)
    start = tmp_path / "outer" / "inner" / "src"
    start.mkdir()

    assert find_root(start) == (tmp_path / "outer" / "inner").resolve()


def test_find_root_falls_back_to_the_git_folder(tmp_path: Path) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    start = tmp_path / "repo" / "a" / "b"
    start.mkdir(parents=True)

    assert find_root(start) == (tmp_path / "repo").resolve()


def test_find_root_accepts_a_git_file_as_in_worktrees_and_submodules(tmp_path: Path) -> None:
    _write(tmp_path / "worktree" / ".git", "gitdir: /elsewhere/.git/worktrees/w\n")
    start = tmp_path / "worktree" / "src"
    start.mkdir(parents=True)

    assert find_root(start) == (tmp_path / "worktree").resolve()


def test_find_root_prefers_a_kiro_folder_above_over_a_nearer_git_folder(tmp_path: Path) -> None:
    (tmp_path / "mono" / ".kiro").mkdir(parents=True)
    (tmp_path / "mono" / "vendored" / ".git").mkdir(parents=True)
    start = tmp_path / "mono" / "vendored" / "src"
    start.mkdir()

    assert find_root(start) == (tmp_path / "mono").resolve()


def test_find_root_ignores_a_kiro_file(tmp_path: Path) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    _write(tmp_path / "repo" / "sub" / ".kiro", "not a folder")

    assert find_root(tmp_path / "repo" / "sub") == (tmp_path / "repo").resolve()


def test_find_root_fails_with_a_workspace_error_when_there_is_neither(tmp_path: Path) -> None:
    start = tmp_path / "plain" / "folder"
    start.mkdir(parents=True)
    if _has_marker_above(tmp_path):
        pytest.skip("the temporary folder lies inside a project; cannot test 'no root'")

    with pytest.raises(WorkspaceError) as raised:
        find_root(start)

    assert raised.value.exit_code == 2
    assert raised.value.file == str(start.resolve())
    assert "no .kiro/" in raised.value.message
    assert raised.value.hint is not None and "specloom init" in raised.value.hint


def test_find_root_defaults_to_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".kiro").mkdir()
    (tmp_path / "docs").mkdir()
    monkeypatch.chdir(tmp_path / "docs")

    assert find_root() == tmp_path.resolve()
    assert Workspace.discover().root == tmp_path.resolve()


# -- atomic_write ---------------------------------------------------------------------------


def _leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name not in keep)


def test_atomic_write_replaces_the_content(tmp_path: Path) -> None:
    target = _write(tmp_path / "notes.md", "old text\n")

    atomic_write(target, "new text\n")

    assert target.read_text(encoding="utf-8") == "new text\n"
    assert _leftovers(tmp_path, {"notes.md"}) == []


def test_atomic_write_keeps_the_mode_of_an_existing_file(tmp_path: Path) -> None:
    target = _write(tmp_path / "script.sh", "#!/bin/sh\n")
    target.chmod(0o751)

    atomic_write(target, "#!/bin/sh\necho hi\n")

    assert stat.S_IMODE(target.stat().st_mode) == 0o751
    restricted = _write(tmp_path / "secret.md", "x")
    restricted.chmod(0o600)
    atomic_write(restricted, "y")
    assert stat.S_IMODE(restricted.stat().st_mode) == 0o600


def test_atomic_write_gives_a_new_file_the_usual_permissions(tmp_path: Path) -> None:
    """A file created by specloom should be like any file an editor creates: 0o666 less the
    umask, not the 0o600 of the temporary file it was written through."""
    umask = os.umask(0o022)
    os.umask(umask)
    target = tmp_path / "specs" / "new.md"

    atomic_write(target, "text\n")

    assert target.read_text(encoding="utf-8") == "text\n"
    assert oct(stat.S_IMODE(target.stat().st_mode)) == oct(0o666 & ~umask)


def test_atomic_write_keeps_crlf_and_lone_cr_exactly(tmp_path: Path) -> None:
    target = tmp_path / "tasks.md"
    text = "# Plan\r\n\r\n- [ ] 1. Do it\r\n  - detail\rold mac\nunix\n"

    atomic_write(target, text)

    assert target.read_bytes() == text.encode("utf-8")


def test_atomic_write_writes_utf8_without_a_bom(tmp_path: Path) -> None:
    target = tmp_path / "design.md"

    atomic_write(target, "Größe 👉 ✓\n")

    assert target.read_bytes() == "Größe 👉 ✓\n".encode()


def test_atomic_write_creates_missing_parent_folders(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "c.md"

    atomic_write(target, "deep")

    assert target.read_text(encoding="utf-8") == "deep"
    assert _leftovers(target.parent, {"c.md"}) == []


def test_atomic_write_leaves_the_original_intact_when_writing_fails(tmp_path: Path) -> None:
    target = _write(tmp_path / "requirements.md", "original\r\n")
    target.chmod(0o640)
    before = target.read_bytes()

    with pytest.raises(UnicodeEncodeError):
        atomic_write(target, "half written \ud800 lone surrogate")

    assert target.read_bytes() == before
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert _leftovers(tmp_path, {"requirements.md"}) == []


def test_atomic_write_failing_on_a_new_file_creates_nothing(tmp_path: Path) -> None:
    target = tmp_path / "new.md"

    with pytest.raises(UnicodeEncodeError):
        atomic_write(target, "\udcff")

    assert not target.exists()
    assert _leftovers(tmp_path, set()) == []


def test_atomic_write_leaves_no_temporary_files_after_repeated_writes(tmp_path: Path) -> None:
    target = _write(tmp_path / "tasks.md", "a")
    for index in range(5):
        atomic_write(target, f"version {index}")

    assert target.read_text(encoding="utf-8") == "version 4"
    assert os.listdir(tmp_path) == ["tasks.md"]


# -- Workspace.spec_names -----------------------------------------------------------------


def test_spec_names_lists_spec_folders_sorted(tmp_path: Path) -> None:
    specs = tmp_path / ".kiro" / "specs"
    _write(specs / "zeta" / "requirements.md", "# R\n")
    _write(specs / "alpha" / "tasks.md", "# T\n")
    _write(specs / "bug" / "bugfix.md", "# B\n")
    _write(specs / "design-only" / "design.md", "# D\n")
    (specs / "empty").mkdir()
    _write(specs / "config-only" / ".config.kiro", "{}")
    _write(specs / "notes-only" / "notes.md", "# not a spec file\n")
    _write(specs / "stray-file.md", "# a file, not a folder\n")

    assert Workspace(tmp_path).spec_names() == ["alpha", "bug", "design-only", "zeta"]


def test_spec_names_is_empty_without_a_specs_folder(tmp_path: Path) -> None:
    assert Workspace(tmp_path).spec_names() == []
    (tmp_path / ".kiro").mkdir()
    assert Workspace(tmp_path).spec_names() == []


def test_spec_names_of_the_real_kiro_examples(kiro_project: Path) -> None:
    assert Workspace(kiro_project).spec_names() == [
        "5-realtime-feedback-polish",
        "agent-skips-git-question",
        "ci-python-linting",
        "idea-panel",
        "jwt-authentication-system",
        "kirodotdev-KiroCrew__folder-steering-dirs",
        "kirodotdev-Kiro__github-issue-automation",
        "onboarding-license-request-option",
        "property-based-testing",
        "space-weirdos-game-rules",
    ]


# -- project_files and test_files ---------------------------------------------------------


def test_project_files_skips_vcs_environments_and_dependencies(tmp_path: Path) -> None:
    for path in (
        "app.py",
        "src/pkg/core.py",
        "README.md",
        ".git/config",
        ".git/objects/ab/cdef",
        ".venv/lib/python3.11/site-packages/x.py",
        "venv/bin/activate",
        "node_modules/left-pad/index.js",
        "web/node_modules/react/index.js",
        "__pycache__/app.cpython-311.pyc",
        ".kiro/specs/demo/tasks.md",
        "pkg.egg-info/PKG-INFO",
        "dist/pkg-1.0.tar.gz",
        "web/src/app.ts",
        ".github/workflows/ci.yml",
    ):
        _write(tmp_path / path, "x")

    files = Workspace(tmp_path).project_files()

    assert sorted(files) == [
        ".github/workflows/ci.yml",
        "README.md",
        "app.py",
        "src/pkg/core.py",
        "web/src/app.ts",
    ]


def test_project_files_stops_at_the_limit(tmp_path: Path) -> None:
    for index in range(10):
        _write(tmp_path / f"f{index}.txt", "x")

    assert len(Workspace(tmp_path).project_files(limit=3)) == 3
    assert len(Workspace(tmp_path).project_files()) == 10


def test_test_files_finds_tests_by_name_and_by_folder(tmp_path: Path) -> None:
    texts = {
        "tests/test_core.py": "def test_a(): pass  # Validates: Requirements 1.1\n",
        "tests/helpers.py": "HELPER = 1\n",
        "tests/unit/conftest.py": "import pytest\n",
        "src/pkg/test_inline.py": "def test_b(): pass\n",
        "src/pkg/core_test.py": "def test_c(): pass\n",
        "server/handler_test.go": "package server\n",
        "web/src/app.test.ts": "it('works', () => {})\n",
        "web/src/button.spec.tsx": "it('clicks', () => {})\n",
        "web/src/api.test.mjs": "test('x', () => {})\n",
        "src/pkg/core.py": "def core(): pass\n",
        "server/handler.go": "package server\n",
        "web/src/app.ts": "export {}\n",
        "docs/testing.md": "# how to test\n",
        "node_modules/lib/index.test.js": "ignored\n",
        ".venv/lib/test_site.py": "ignored\n",
    }
    for path, text in texts.items():
        _write(tmp_path / path, text)

    found = Workspace(tmp_path).test_files()

    assert sorted(found) == [
        "server/handler_test.go",
        "src/pkg/core_test.py",
        "src/pkg/test_inline.py",
        "tests/helpers.py",
        "tests/test_core.py",
        "tests/unit/conftest.py",
        "web/src/api.test.mjs",
        "web/src/app.test.ts",
        "web/src/button.spec.tsx",
    ]
    assert found["tests/test_core.py"] == texts["tests/test_core.py"]


def test_test_files_finds_every_file_under_a_tests_folder_as_documented(tmp_path: Path) -> None:
    """``Workspace.test_files`` says "any file under a ``tests/`` folder": Rust integration
    tests (``tests/*.rs``) and mocha tests (``test/*.js``) have free names."""
    _write(tmp_path / "tests" / "cli.rs", "// Validates: Requirements 1.1\n#[test]\nfn t() {}\n")
    _write(tmp_path / "test" / "parser.js", "// Validates: Requirements 2.1\n")
    _write(tmp_path / "src" / "lib.rs", "pub fn f() {}\n")

    found = Workspace(tmp_path).test_files()

    assert sorted(found) == ["test/parser.js", "tests/cli.rs"]


def test_test_files_skips_files_it_cannot_read_as_utf8(tmp_path: Path) -> None:
    _write(tmp_path / "tests" / "test_ok.py", "def test_ok(): pass\n")
    (tmp_path / "tests" / "test_latin1.py").write_bytes(b"# caf\xe9\n")

    assert list(Workspace(tmp_path).test_files()) == ["tests/test_ok.py"]


def test_test_files_uses_the_list_it_is_given(tmp_path: Path) -> None:
    _write(tmp_path / "tests" / "test_a.py", "a\n")
    _write(tmp_path / "tests" / "test_b.py", "b\n")

    found = Workspace(tmp_path).test_files(["tests/test_b.py", "app.py"])

    assert found == {"tests/test_b.py": "b\n"}


def test_the_example_project_has_its_test_file_and_code(example_project: Path) -> None:
    workspace = Workspace(example_project)

    files = workspace.project_files()

    assert "wordfreq.py" in files
    assert "tests/test_wordfreq.py" in files
    assert not any(path.startswith((".kiro/", ".hypothesis/")) for path in files)
    assert list(workspace.test_files(files)) == ["tests/test_wordfreq.py"]
