"""Workspace checkpoints against real git: take, list, diff and restore, with the user's own
git state (index, HEAD, branches, stash) left exactly as it was."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from specloom.agent.checkpoints import CHECKPOINT_REFS, Checkpoint, CheckpointStore, FileChange
from specloom.agent.git import Git
from specloom.errors import CheckpointError, UserFacingError

IDENTITY = ("-c", "user.name=Test User", "-c", "user.email=test@example.com")


# -- helpers shared with the property and CLI tests -------------------------------------------


def git(cwd: Path, *args: str, check: bool = True) -> str:
    """Run the user's git in ``cwd`` (with an identity for commits); its stdout."""
    result = subprocess.run(
        ["git", *IDENTITY, *args],
        cwd=cwd,
        capture_output=True,
        encoding="utf-8",
        errors="surrogateescape",  # file contents and names need not be UTF-8
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result.stdout


def write(root: Path, files: dict[str, str | bytes]) -> None:
    """Write ``files`` (path relative to ``root`` to content) under ``root``."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        path.write_bytes(data)


def make_repo(path: Path, files: dict[str, str | bytes], *, commit: bool = True) -> Path:
    """A fresh repository at ``path`` holding ``files`` (committed unless told otherwise)."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "--quiet", "--initial-branch=main")
    write(path, files)
    if commit:
        git(path, "add", "--all")
        git(path, "commit", "--quiet", "-m", "initial")
    return path


def files_digest(root: Path) -> dict[str, str]:
    """Every file and symbolic link under ``root`` (``.git`` left out): its mode and content
    hash, or its link target. Folders are not listed (git records no empty folders)."""
    digest: dict[str, str] = {}
    for folder, dirs, files in os.walk(root):
        if Path(folder) == root and ".git" in dirs:
            dirs.remove(".git")
        for name in [*dirs, *files]:
            path = Path(folder, name)
            relative = path.relative_to(root).as_posix()
            if path.is_symlink():
                digest[relative] = f"link {os.readlink(path)}"
            elif path.is_file():
                mode = oct(stat.S_IMODE(path.stat().st_mode))
                digest[relative] = f"{mode} {hashlib.sha256(path.read_bytes()).hexdigest()}"
    return digest


def user_git_state(repo: Path) -> dict[str, str]:
    """What the user's git shows: HEAD, refs (not specloom's), index, staged diff, stash."""
    head = subprocess.run(
        ["git", "symbolic-ref", "-q", "HEAD"], cwd=repo, capture_output=True, text=True
    ).stdout
    head += subprocess.run(
        ["git", "rev-parse", "-q", "--verify", "HEAD"], cwd=repo, capture_output=True, text=True
    ).stdout
    refs = "\n".join(
        line
        for line in git(repo, "for-each-ref", "--format=%(refname) %(objectname)").splitlines()
        if not line.startswith("refs/specloom/")
    )
    index = repo / ".git" / "index"
    return {
        "HEAD": head,
        "refs": refs,
        "index bytes": hashlib.sha256(index.read_bytes()).hexdigest() if index.exists() else "",
        "ls-files -s": git(repo, "ls-files", "-s"),
        "diff --cached": git(repo, "diff", "--cached", "--binary"),
        "stash": git(repo, "stash", "list", "--format=%H %s"),
    }


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A committed repository with a few files, an executable and a symbolic link."""
    path = make_repo(
        tmp_path / "repo",
        {
            "README.md": "# demo\n",
            "src/app.py": "print('hello')\n",
            "src/util/helpers.py": "def helper():\n    return 1\n",
            "notes with spaces.txt": "spaces\n",
            "ünïcode/日本.txt": "unicode\n",
            "run.sh": "#!/bin/sh\necho run\n",
            ".gitignore": "*.log\nbuild/\n",
        },
        commit=False,
    )
    (path / "run.sh").chmod(0o755)
    (path / "link-to-app").symlink_to("src/app.py")
    git(path, "add", "--all")
    git(path, "commit", "--quiet", "-m", "initial")
    return path


# -- create and list -------------------------------------------------------------------------


def test_create_records_the_files_and_metadata_under_the_checkpoint_ref(repo: Path) -> None:
    moment = datetime(2026, 3, 4, 5, 6, 7, 890_000, tzinfo=timezone(timedelta(hours=2)))
    store = CheckpointStore(repo, clock=lambda: moment)

    checkpoint = store.create("before task 1.2", task="1.2", spec="auth")

    assert len(checkpoint.id) == 12 and checkpoint.commit.startswith(checkpoint.id)
    assert checkpoint.unchanged is False
    assert checkpoint.parent is None
    assert (checkpoint.message, checkpoint.task, checkpoint.spec) == ("before task 1.2", "1.2",
                                                                        "auth")  # fmt: skip
    assert checkpoint.time == moment
    assert checkpoint.files_changed == 8  # every file and link, for the first checkpoint
    assert store.ref == CHECKPOINT_REFS + "latest"
    assert git(repo, "rev-parse", store.ref).strip() == checkpoint.commit
    assert sorted(git(repo, "ls-tree", "-r", "--name-only", "-z", checkpoint.commit).split("\0")
                  )[1:] == sorted(git(repo, "ls-files", "-z").split("\0"))[1:]  # fmt: skip
    # Listing reads the metadata back from the commit alone.
    assert store.list() == [checkpoint]
    assert store.latest() == checkpoint
    assert store.get(checkpoint.id[:6]) == checkpoint
    assert checkpoint.to_dict() == {
        "id": checkpoint.id,
        "commit": checkpoint.commit,
        "parent": None,
        "time": "2026-03-04T05:06:07.890000+02:00",
        "message": "before task 1.2",
        "task": "1.2",
        "spec": "auth",
        "files_changed": 8,
        "unchanged": False,
    }


def test_create_with_nothing_changed_returns_the_last_checkpoint_flagged_unchanged(
    repo: Path,
) -> None:
    store = CheckpointStore(repo)
    first = store.create("first")

    again = store.create("second", task="2")

    assert again.unchanged is True
    assert again.commit == first.commit and again.message == "first"
    assert len(store.list()) == 1


def test_each_checkpoint_counts_the_files_changed_since_its_parent(repo: Path) -> None:
    store = CheckpointStore(repo)
    first = store.create()
    (repo / "src" / "app.py").write_text("print('changed')\n")
    (repo / "README.md").unlink()
    write(repo, {"new/module.py": "x = 1\n", "debug.log": "ignored\n"})
    (repo / "notes with spaces.txt").chmod(0o755)

    second = store.create("step")

    assert second.files_changed == 4  # modified, deleted, added, chmod; the .log is ignored
    assert second.parent == first.commit
    assert [c.id for c in store.list()] == [second.id, first.id]
    assert store.changes(first.id, second.id) == [
        FileChange("D", "README.md"),
        FileChange("A", "new/module.py"),
        FileChange("M", "notes with spaces.txt"),
        FileChange("M", "src/app.py"),
    ]
    assert [c.message for c in store.list()] == ["step", "Checkpoint"]


def test_multi_line_messages_and_odd_metadata_survive_the_round_trip(repo: Path) -> None:
    store = CheckpointStore(repo)
    message = "Refactor\n\nWhy: the old code\nSpecloom-Task: not a trailer here"

    checkpoint = store.create(message, task="3.1\nsecond line", spec="  my spec ")

    listed = store.get(checkpoint.id)
    assert listed.message == message
    assert (listed.task, listed.spec) == ("3.1 second line", "my spec")


# -- restore ---------------------------------------------------------------------------------


def test_restore_brings_back_the_exact_tree_and_leaves_ignored_files_alone(repo: Path) -> None:
    store = CheckpointStore(repo)
    (repo / "build").mkdir()
    (repo / "build" / "out.bin").write_bytes(b"\0" * 10)
    before = files_digest(repo)
    checkpoint = store.create()

    (repo / "src" / "app.py").write_text("print('broken')\n")
    (repo / "src" / "util" / "helpers.py").unlink()
    (repo / "run.sh").chmod(0o644)
    (repo / "link-to-app").unlink()
    (repo / "link-to-app").symlink_to("README.md")
    write(repo, {"created/later.py": "x\n", "also new.txt": "y\n", "ünïcode/新.txt": "z\n"})
    write(repo, {"later.log": "ignored, made after the checkpoint\n"})

    undo = store.restore(checkpoint.id)

    after = files_digest(repo)
    assert after.pop("later.log")  # an ignored file is not removed
    assert after == before
    assert not (repo / "created").exists()  # the folder left empty is gone too
    assert os.readlink(repo / "link-to-app") == "src/app.py"
    assert os.access(repo / "run.sh", os.X_OK)
    assert undo.unchanged is False and undo.parent == checkpoint.commit
    assert undo.message == f"Before restoring checkpoint {checkpoint.id}"


def test_restore_can_be_undone_by_restoring_the_checkpoint_it_returns(repo: Path) -> None:
    store = CheckpointStore(repo)
    checkpoint = store.create()
    write(repo, {"src/app.py": "edited\n", "extra.txt": "extra\n"})
    (repo / "README.md").unlink()
    edited = files_digest(repo)

    undo = store.restore(checkpoint.id)
    assert files_digest(repo) != edited
    store.restore(undo.id)

    assert files_digest(repo) == edited


def test_restore_of_the_current_state_changes_nothing(repo: Path) -> None:
    store = CheckpointStore(repo)
    checkpoint = store.create()
    before = files_digest(repo)

    undo = store.restore(checkpoint.id)

    assert undo.unchanged and undo.commit == checkpoint.commit
    assert files_digest(repo) == before


def test_an_ignored_file_where_a_restored_file_goes_is_kept_in_the_undo_checkpoint(
    repo: Path,
) -> None:
    store = CheckpointStore(repo)
    write(repo, {"out": "tracked output\n", "cache/keep.txt": "tracked\n"})
    checkpoint = store.create()
    (repo / "out").unlink()
    (repo / "cache" / "keep.txt").unlink()
    write(repo, {".gitignore": "*.log\nbuild/\nout\ncache/\n"})
    store.create("ignore out")
    write(repo, {"out": "precious, ignored\n", "cache/blob.bin": "ignored cache\n"})
    (repo / "cache" / "keep.txt").mkdir()  # an ignored folder where a file must go
    (repo / "cache" / "keep.txt" / "inner").write_text("inner\n")

    undo = store.restore(checkpoint.id)

    assert (repo / "out").read_text() == "tracked output\n"
    assert (repo / "cache" / "keep.txt").read_text() == "tracked\n"
    assert (repo / "cache" / "blob.bin").read_text() == "ignored cache\n"  # not in the way
    store.restore(undo.id)
    assert (repo / "out").read_text() == "precious, ignored\n"
    assert (repo / "cache" / "keep.txt" / "inner").read_text() == "inner\n"


def test_a_file_replaced_by_a_folder_and_back_is_restored(repo: Path) -> None:
    store = CheckpointStore(repo)
    checkpoint = store.create()
    before = files_digest(repo)
    (repo / "README.md").unlink()
    write(repo, {"README.md/inside.txt": "now a folder\n"})
    (repo / "src" / "util" / "helpers.py").unlink()
    (repo / "src" / "util").rmdir()
    write(repo, {"src/util": "now a file\n"})
    middle = store.create()

    store.restore(checkpoint.id)
    assert files_digest(repo) == before
    store.restore(middle.id)
    assert (repo / "src" / "util").read_text() == "now a file\n"


def test_large_and_binary_files_come_back_byte_for_byte(repo: Path) -> None:
    store = CheckpointStore(repo)
    payload = os.urandom(3 * 1024 * 1024) + b"\r\n\0tail"
    write(repo, {"data/blob.bin": payload, "crlf.txt": b"one\r\ntwo\r\n"})
    checkpoint = store.create()
    write(repo, {"data/blob.bin": b"small", "crlf.txt": b"one\ntwo\n"})

    store.restore(checkpoint.id)

    assert (repo / "data" / "blob.bin").read_bytes() == payload
    assert (repo / "crlf.txt").read_bytes() == b"one\r\ntwo\r\n"


def test_specloom_state_is_neither_recorded_nor_restored(repo: Path) -> None:
    state = repo / ".kiro" / ".specloom"
    write(repo, {".kiro/.specloom/ledger.db": "before", ".kiro/specs/a/tasks.md": "- [ ] 1. A\n"})
    store = CheckpointStore(repo)
    checkpoint = store.create()
    write(repo, {".kiro/.specloom/ledger.db": "after", ".kiro/specs/a/tasks.md": "- [x] 1. A\n"})

    store.restore(checkpoint.id)

    names = git(repo, "ls-tree", "-r", "--name-only", checkpoint.commit).splitlines()
    assert ".kiro/specs/a/tasks.md" in names
    assert not any(name.startswith(".kiro/.specloom") for name in names)
    assert (state / "ledger.db").read_text() == "after"
    assert (repo / ".kiro/specs/a/tasks.md").read_text() == "- [ ] 1. A\n"


# -- the user's git state ---------------------------------------------------------------------


def test_staged_changes_branches_head_and_stash_stay_exactly_as_they_were(repo: Path) -> None:
    git(repo, "branch", "feature")
    write(repo, {"src/app.py": "stashed\n"})
    git(repo, "stash", "push", "--quiet", "-m", "work in progress")
    write(repo, {"src/app.py": "staged\n", "staged-new.txt": "new\n"})
    git(repo, "add", "src/app.py", "staged-new.txt")
    write(repo, {"src/app.py": "staged, then edited\n", "untracked.txt": "u\n"})
    status_before = git(repo, "status", "--porcelain")  # (may refresh the index: first)
    before = user_git_state(repo)
    store = CheckpointStore(repo)

    checkpoint = store.create()
    write(repo, {"src/app.py": "agent edit\n", "agent.txt": "a\n"})
    (repo / "staged-new.txt").unlink()
    store.create()
    assert user_git_state(repo) == before
    store.restore(checkpoint.id)

    assert user_git_state(repo) == before
    assert git(repo, "status", "--porcelain") == status_before
    assert (repo / "src" / "app.py").read_text() == "staged, then edited\n"


def test_after_a_restore_git_status_shows_the_differences_as_ordinary_edits(repo: Path) -> None:
    store = CheckpointStore(repo)
    write(repo, {"src/app.py": "uncommitted\n", "new.txt": "new\n"})
    checkpoint = store.create()
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "user commits the work")
    head = git(repo, "rev-parse", "HEAD")

    store.restore(checkpoint.id)

    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "status", "--porcelain") == ""  # the checkpoint equals the new commit
    (repo / "new.txt").unlink()
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "remove it")
    store.restore(checkpoint.id)
    assert git(repo, "status", "--porcelain") == "?? new.txt\n"


def test_detached_head_stays_detached_at_the_same_commit(repo: Path) -> None:
    git(repo, "checkout", "--quiet", "--detach")
    before = user_git_state(repo)
    store = CheckpointStore(repo)
    checkpoint = store.create()
    write(repo, {"README.md": "changed\n"})

    store.restore(checkpoint.id)

    assert user_git_state(repo) == before
    assert (repo / "README.md").read_text() == "# demo\n"


def test_a_repository_with_no_commits_yet(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "fresh", {"a.txt": "a\n", "b/c.txt": "c\n"}, commit=False)
    git(repo, "add", "a.txt")
    before = user_git_state(repo)
    store = CheckpointStore(repo)

    checkpoint = store.create()
    write(repo, {"a.txt": "changed\n", "d.txt": "d\n"})
    store.restore(checkpoint.id)

    assert checkpoint.files_changed == 2
    assert sorted(files_digest(repo)) == ["a.txt", "b/c.txt"]
    assert (repo / "a.txt").read_text() == "a\n"
    assert user_git_state(repo) == before
    assert git(repo, "rev-parse", "--verify", "-q", "HEAD", check=False) == ""


def test_assume_unchanged_and_skip_worktree_marks_do_not_hide_changes(repo: Path) -> None:
    git(repo, "update-index", "--assume-unchanged", "README.md")
    git(repo, "update-index", "--skip-worktree", "src/app.py")
    store = CheckpointStore(repo)
    write(repo, {"README.md": "hidden from git status\n", "src/app.py": "also hidden\n"})

    checkpoint = store.create()

    show = git(repo, "show", f"{checkpoint.commit}:README.md")
    assert show == "hidden from git status\n"
    assert git(repo, "show", f"{checkpoint.commit}:src/app.py") == "also hidden\n"
    assert "h README.md" in git(repo, "ls-files", "-v")  # the user's mark is still there


def test_git_environment_variables_and_user_config_do_not_interfere(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = make_repo(tmp_path / "elsewhere", {"x": "x\n"})
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "EMAIL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_DIR", str(elsewhere / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(tmp_path / "bogus-index"))
    git(repo, "config", "commit.gpgSign", "true")
    git(repo, "config", "user.useConfigOnly", "true")
    hooks = repo / ".git" / "hooks"
    for hook in ("post-index-change", "reference-transaction"):
        (hooks / hook).write_text(f"#!/bin/sh\ntouch {tmp_path}/{hook}-ran\n")
        (hooks / hook).chmod(0o755)

    store = CheckpointStore(repo)
    checkpoint = store.create()
    write(repo, {"README.md": "x\n"})
    store.restore(checkpoint.id)

    monkeypatch.delenv("GIT_DIR")
    monkeypatch.delenv("GIT_INDEX_FILE")
    chain = store.list()
    assert [c.parent for c in chain] == [checkpoint.commit, None]
    assert git(repo, "rev-parse", store.ref).strip() == chain[0].commit
    assert git(elsewhere, "for-each-ref", "refs/specloom") == ""
    assert not list(tmp_path.glob("*-ran"))
    assert not (tmp_path / "bogus-index").exists()


# -- other layouts ---------------------------------------------------------------------------


def test_a_folder_that_is_not_a_repository_gets_a_shadow_repository(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    write(folder, {"a.txt": "a\n", ".gitignore": "secret.env\n", "secret.env": "KEY=1\n"})
    store = CheckpointStore(folder)

    checkpoint = store.create()
    write(folder, {"a.txt": "changed\n", "b.txt": "b\n", "secret.env": "KEY=2\n"})
    store.restore(checkpoint.id)

    assert store.shadow
    data_dir = Path(os.environ["XDG_DATA_HOME"]) / "specloom" / "shadow"
    assert store.git_dir.parent == data_dir and store.git_dir.name.endswith(".git")
    assert not (folder / ".git").exists()
    assert sorted(p.name for p in folder.iterdir()) == [".gitignore", "a.txt", "secret.env"]
    assert (folder / "a.txt").read_text() == "a\n"
    assert (folder / "secret.env").read_text() == "KEY=2\n"  # ignored: not recorded, kept
    assert CheckpointStore(folder).list() == store.list()


def test_a_project_in_a_sub_folder_of_a_repository_keeps_to_its_folder(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "mono",
        {"other/keep.txt": "other\n", "pkg/.kiro/specs/.keep": "", "pkg/src/a.py": "a\n"},
    )
    store = CheckpointStore(repo / "pkg")
    checkpoint = store.create()
    write(repo, {"other/keep.txt": "edited outside\n", "other/new.txt": "new outside\n"})
    write(repo, {"pkg/src/a.py": "edited\n", "pkg/src/b.py": "b\n"})

    assert store.changes(checkpoint.id) == [
        FileChange("M", "src/a.py"),
        FileChange("A", "src/b.py"),
    ]
    assert "a/src/a.py" in store.diff(checkpoint.id) and "other" not in store.diff(checkpoint.id)
    store.restore(checkpoint.id)

    assert store.ref.startswith(CHECKPOINT_REFS + "latest-")
    assert (repo / "pkg" / "src" / "a.py").read_text() == "a\n"
    assert not (repo / "pkg" / "src" / "b.py").exists()
    assert (repo / "other" / "keep.txt").read_text() == "edited outside\n"
    assert (repo / "other" / "new.txt").exists()
    assert checkpoint.files_changed == 2
    assert CheckpointStore(repo).list() == []  # the top folder has its own chain


def test_a_linked_work_tree_has_its_own_chain(repo: Path, tmp_path: Path) -> None:
    linked = tmp_path / "linked"
    git(repo, "worktree", "add", "--quiet", str(linked), "-b", "side")
    main_store, linked_store = CheckpointStore(repo), CheckpointStore(linked)

    main_checkpoint = main_store.create("main")
    write(linked, {"README.md": "linked\n"})
    linked_checkpoint = linked_store.create("linked")
    write(linked, {"README.md": "changed again\n"})
    linked_store.restore(linked_checkpoint.id)

    assert main_store.ref != linked_store.ref
    assert [c.message for c in main_store.list()] == ["main"]
    assert main_checkpoint.commit != linked_checkpoint.commit
    assert (linked / "README.md").read_text() == "linked\n"
    assert (repo / "README.md").read_text() == "# demo\n"


# -- diff --------------------------------------------------------------------------------------


def test_diff_against_the_files_now_and_between_two_checkpoints(repo: Path) -> None:
    store = CheckpointStore(repo)
    first = store.create()
    write(repo, {"src/app.py": "print('bye')\n", "ünïcode/新 file.txt": "n\n"})

    now = store.diff(first.id)
    second = store.create()

    assert "--- a/src/app.py\n+++ b/src/app.py\n" in now
    assert "-print('hello')\n+print('bye')\n" in now
    assert "新 file.txt" in now
    assert store.diff(first.id, second.id) == now
    assert store.diff(second.id) == ""
    assert FileChange("D", "ünïcode/新 file.txt") in store.changes(second.id, first.id)
    assert [c.to_dict() for c in store.changes(first.id)] == [
        {"status": "modified", "path": "src/app.py"},
        {"status": "added", "path": "ünïcode/新 file.txt"},
    ]


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("wanted", ["0000000", "zzzz", "12", ""])
def test_an_unknown_or_malformed_id_is_a_user_facing_error_with_a_hint(
    repo: Path, wanted: str
) -> None:
    store = CheckpointStore(repo)
    store.create()

    with pytest.raises(CheckpointError) as caught:
        store.restore(wanted)

    assert isinstance(caught.value, UserFacingError) and caught.value.exit_code == 2
    assert caught.value.hint is not None and "specloom checkpoint list" in caught.value.hint
    assert caught.value.file == str(repo.resolve())


def test_a_missing_git_is_reported_with_how_to_install_it(repo: Path) -> None:
    store = CheckpointStore(repo, git=Git("/nonexistent/bin/git"))

    with pytest.raises(CheckpointError, match="git is not installed") as caught:
        store.create()

    assert caught.value.hint is not None and "Install git" in caught.value.hint


def test_a_held_lock_times_out_with_a_clear_error(repo: Path) -> None:
    from specloom.agent.git import exclusive_lock

    store = CheckpointStore(repo, lock_timeout=0.2)
    store.create()
    with exclusive_lock(store.git_dir / "specloom" / "checkpoints.lock", 1.0):
        with pytest.raises(CheckpointError, match="held the lock"):
            store.create()


# -- concurrency -------------------------------------------------------------------------------


def test_parallel_workers_each_get_a_checkpoint_on_one_unbroken_chain(repo: Path) -> None:
    results: list[Checkpoint] = []
    errors: list[BaseException] = []

    def worker(number: int) -> None:
        try:
            for step in range(3):
                write(repo, {f"worker{number}/step{step}.txt": f"{number} {step}\n"})
                results.append(CheckpointStore(repo).create(f"worker {number} step {step}"))
        except BaseException as error:  # collected and re-raised by the test thread
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    chain = CheckpointStore(repo).list()
    created = {c.commit for c in results if not c.unchanged}
    assert created == {c.commit for c in chain}
    for newer, older in zip(chain, chain[1:], strict=False):
        assert newer.parent == older.commit
    final = git(repo, "ls-tree", "-r", "--name-only", chain[0].commit).splitlines()
    assert sum(name.startswith("worker") for name in final) == 12


def test_parallel_processes_do_not_race_on_the_ref(repo: Path) -> None:
    script = (
        "import sys; from pathlib import Path; "
        "from specloom.agent.checkpoints import CheckpointStore; "
        "root = Path(sys.argv[1]); n = sys.argv[2]\n"
        "for i in range(3):\n"
        "    (root / f'p{n}-{i}.txt').write_text(n)\n"
        "    print(CheckpointStore(root).create(f'process {n}').commit)\n"
    )
    import sys

    processes = [
        subprocess.Popen([sys.executable, "-c", script, str(repo), str(n)], stdout=subprocess.PIPE,
                         text=True)
        for n in range(3)
    ]  # fmt: skip
    outputs = [process.communicate(timeout=120)[0] for process in processes]

    assert all(process.returncode == 0 for process in processes)
    printed = {line for output in outputs for line in output.split()}
    chain = {c.commit for c in CheckpointStore(repo).list()}
    assert printed <= chain and len(chain) >= 3


def test_time_defaults_to_an_aware_local_time(repo: Path) -> None:
    checkpoint = CheckpointStore(repo).create()

    assert checkpoint.time.tzinfo is not None
    assert abs(checkpoint.time - datetime.now(UTC)) < timedelta(minutes=5)
