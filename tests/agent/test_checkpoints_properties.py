"""Properties of checkpoints over random file trees and random edits: a restore gives back
exactly the files of the checkpoint, its undo gives back exactly the files before it, ignored
files are left alone, and the user's own git state never changes."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

from specloom.agent.checkpoints import Checkpoint, CheckpointStore
from tests.agent.test_checkpoints import files_digest, git, make_repo, user_git_state

# Each example builds a repository and runs a few dozen git commands (0.2-0.4 s on two
# cores), so these tests run a fraction of the profile's examples: 20 by default, 40 in CI
# (the shadow-repository test and the state machine fewer), about 30 s in all in CI.
EXAMPLES = max(10, settings.default.max_examples // 5)
IGNORE = ".gitignore"
IGNORED_SUFFIX = ".log"

names = st.sampled_from(["a", "b", "c d", "é", "日本", "x.txt", ".hidden", "-dash"])
paths = st.lists(names, min_size=1, max_size=3).map("/".join)
contents = st.binary(max_size=40)
Tree = dict[str, tuple[bytes, bool]]


def consistent(tree: Tree) -> Tree:
    """``tree`` without the paths that a file earlier in path order makes impossible (a file
    cannot also be a folder)."""
    kept: Tree = {}
    for path in sorted(tree):
        parts = path.split("/")
        ancestors = {"/".join(parts[:depth]) for depth in range(1, len(parts))}
        if ancestors & kept.keys() or any(other.startswith(path + "/") for other in kept):
            continue
        kept[path] = tree[path]
    return kept


trees = st.dictionaries(paths, st.tuples(contents, st.booleans()), max_size=8).map(consistent)
edits = st.lists(
    st.one_of(
        st.tuples(st.just("write"), paths, contents, st.booleans()),
        st.tuples(st.just("delete"), st.integers(0, 50)),
        st.tuples(st.just("chmod"), st.integers(0, 50)),
        st.tuples(st.just("symlink"), paths, paths),
        st.tuples(st.just("ignored"), paths, contents),
    ),
    max_size=8,
)
Edit = tuple[object, ...]


def clear_the_way(root: Path, path: str) -> None:
    """Remove what stands where ``path`` must go: a file or link on its way, or whatever is
    at the path itself (as an agent replacing a file with a folder would)."""
    parts = path.split("/")
    for depth in range(1, len(parts)):
        folder = root.joinpath(*parts[:depth])
        if folder.is_symlink() or folder.is_file():
            folder.unlink()
            break
    target = root / path
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.is_dir():
        shutil.rmtree(target)


def write_file(root: Path, path: str, content: bytes, executable: bool) -> None:
    clear_the_way(root, path)
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    target.chmod(0o755 if executable else 0o644)


def tracked_files(root: Path) -> list[str]:
    """Files and links on disk that are not ignored, in path order."""
    return sorted(
        path
        for path in files_digest(root)
        if not path.endswith(IGNORED_SUFFIX) and path != IGNORE and not path.startswith(".kiro")
    )


def apply(root: Path, edit: Edit) -> None:
    kind = edit[0]
    if kind == "write":
        _, path, content, executable = edit
        assert isinstance(path, str) and isinstance(content, bytes)
        write_file(root, path, content, bool(executable))
    elif kind == "ignored":
        _, path, content = edit
        assert isinstance(path, str) and isinstance(content, bytes)
        write_file(root, path + IGNORED_SUFFIX, content, False)
    elif kind == "symlink":
        _, path, destination = edit
        assert isinstance(path, str) and isinstance(destination, str)
        clear_the_way(root, path)
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).symlink_to(destination)
    else:
        files = tracked_files(root)
        if not files:
            return
        assert isinstance(edit[1], int)
        target = root / files[edit[1] % len(files)]
        if kind == "delete":
            target.unlink()
        elif not target.is_symlink():
            target.chmod(target.stat().st_mode ^ 0o111)


def without_ignored(digest: dict[str, str]) -> dict[str, str]:
    return {path: value for path, value in digest.items() if not path.endswith(IGNORED_SUFFIX)}


def build(root: Path, tree: Tree, staged_edits: list[Edit]) -> None:
    """A repository with ``tree`` committed and ``staged_edits`` made and staged."""
    make_repo(root, {IGNORE: f"*{IGNORED_SUFFIX}\n"}, commit=False)
    for path, (content, executable) in tree.items():
        write_file(root, path, content, executable)
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "--allow-empty", "-m", "initial")
    for edit in staged_edits:
        apply(root, edit)
    git(root, "add", "--all")


@settings(max_examples=EXAMPLES)
@given(tree=trees, staged=edits, before=edits, after=edits)
def test_restore_gives_back_the_checkpoint_and_its_undo_gives_back_the_edits(
    tree: Tree, staged: list[Edit], before: list[Edit], after: list[Edit]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "repo"
        build(root, tree, staged)
        for edit in before:  # unstaged edits and ignored files, present at the checkpoint
            apply(root, edit)
        state = user_git_state(root)
        store = CheckpointStore(root)
        checkpoint = store.create()
        at_checkpoint = files_digest(root)
        for edit in after:
            apply(root, edit)
        edited = files_digest(root)

        undo = store.restore(checkpoint.id)

        restored = files_digest(root)
        assert without_ignored(restored) == without_ignored(at_checkpoint)
        restored_files = set(without_ignored(restored))
        for path, value in edited.items():  # ignored files stay, unless they were in the way
            parts = path.split("/")
            in_the_way = any("/".join(parts[:n]) in restored_files for n in range(1, len(parts)))
            if path.endswith(IGNORED_SUFFIX) and not in_the_way:
                assert restored.get(path) == value, path
        store.restore(undo.id)
        assert files_digest(root) == edited
        assert user_git_state(root) == state


@settings(max_examples=EXAMPLES // 2)
@given(tree=trees, after=edits)
def test_a_folder_outside_git_restores_exactly_through_its_shadow_repository(
    tree: Tree, after: list[Edit]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "plain"
        root.mkdir()
        (root / IGNORE).write_text(f"*{IGNORED_SUFFIX}\n")
        for path, (content, executable) in tree.items():
            write_file(root, path, content, executable)
        store = CheckpointStore(root, shadow_dir=Path(folder) / "shadow")
        checkpoint = store.create()
        at_checkpoint = files_digest(root)
        for edit in after:
            apply(root, edit)

        store.restore(checkpoint.id)

        assert store.shadow and not (root / ".git").exists()
        assert without_ignored(files_digest(root)) == without_ignored(at_checkpoint)


class CheckpointMachine(RuleBasedStateMachine):
    """Interleaved edits, checkpoints and restores of any earlier checkpoint: each restore
    gives back exactly the files recorded when that checkpoint was taken."""

    checkpoints = Bundle("checkpoints")

    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.root = Path(self.folder.name) / "repo"
        self.expected: dict[str, dict[str, str]] = {}
        self.store = CheckpointStore(self.root)
        self.state: dict[str, str] = {}

    @initialize(tree=trees)
    def start(self, tree: Tree) -> None:
        build(self.root, tree, [])
        self.state = user_git_state(self.root)

    @rule(edit=edits)
    def edit(self, edit: list[Edit]) -> None:
        for step in edit:
            apply(self.root, step)

    @rule(target=checkpoints)
    def take(self) -> Checkpoint:
        checkpoint = self.store.create()
        files = without_ignored(files_digest(self.root))
        if checkpoint.unchanged:
            assert self.expected[checkpoint.id] == files
        self.expected[checkpoint.id] = files
        return checkpoint

    @rule(target=checkpoints, checkpoint=checkpoints)
    def restore(self, checkpoint: Checkpoint) -> Checkpoint:
        before = without_ignored(files_digest(self.root))
        undo = self.store.restore(checkpoint.id)
        assert without_ignored(files_digest(self.root)) == self.expected[checkpoint.id]
        assert self.expected.setdefault(undo.id, before) == before
        return undo

    @invariant()
    def user_state_is_untouched(self) -> None:
        if self.state:
            assert user_git_state(self.root) == self.state

    def teardown(self) -> None:
        self.folder.cleanup()


CheckpointMachine.TestCase.settings = settings(
    max_examples=max(5, EXAMPLES // 4), stateful_step_count=10
)
TestInterleavedCheckpointsAndRestores = CheckpointMachine.TestCase


def test_the_strategies_make_trees_with_folders_links_and_odd_names() -> None:
    tree = consistent({"a": (b"1", False), "a/b": (b"2", True), "c d/日本": (b"", True)})

    assert tree == {"a": (b"1", False), "c d/日本": (b"", True)}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        apply(root, ("write", "a/b", b"x", True))
        apply(root, ("symlink", "a", "elsewhere"))
        apply(root, ("ignored", "a/c", b"log"))
        assert sorted(files_digest(root)) == ["a/c.log"]
