"""Checkpoint benchmark: taking and restoring workspace checkpoints in a 2,000-file repository.

A repository of 2,000 Python files (40 packages of 50 modules, about 1.5 KB each) is made in
a temporary folder and committed. Each round then edits 10 files and takes a checkpoint
(``CheckpointStore.create``), the step an agent takes before each change. Measured side by
side in the same repository: a checkpoint when nothing changed, the first checkpoint (which
seeds its index from the user's), what a snapshot costs without that seeding (``git add -A``
into an empty index, then ``git write-tree``: every file hashed), one ``git status`` (a full
scan, for reference), and restores of 10 and of 200 changed files. The git commands each
operation starts are counted too. Then the repository's growth: loose objects and bytes
added per checkpoint, and the packed size after ``git gc`` against the packed size before.

May import: the standard library, ``specloom.agent`` and ``reporting`` (a sibling in bench/).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from reporting import Table, format_ms, load_average, median, percentile, verdict
from specloom.agent.checkpoints import CheckpointStore
from specloom.agent.git import Git, GitResult

__all__ = ["CHANGED", "FILES", "TARGET_SECONDS", "make_repository", "run_checkpoints"]

FILES = 2_000
CHANGED = 10
TARGET_SECONDS = 0.050
"""The median checkpoint of a 10-file change in the 2,000-file repository must be faster."""
BIG_RESTORE = 200

_PACKAGES = 40
_IDENTITY = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


class CountingGit(Git):
    """A ``Git`` that counts the commands it starts."""

    def __init__(self) -> None:
        super().__init__()
        self.commands = 0

    def run(
        self,
        args: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        stdin: bytes | None = None,
    ) -> GitResult:
        self.commands += 1
        return super().run(args, cwd=cwd, env=env, stdin=stdin)


def _git(repository: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=repository,
        env={**os.environ, **_IDENTITY, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def _module(package: int, module: int, revision: int = 0) -> str:
    functions = "".join(
        f"\n\ndef function_{index}(value: int) -> int:\n"
        f'    """Return the value scaled by {index} (revision {revision})."""\n'
        f"    return value * {index} + {package * 100 + module}\n"
        for index in range(12)
    )
    return f'"""Package {package}, module {module}."""\n\nimport math\n{functions}'


def make_repository(folder: Path, files: int = FILES) -> Path:
    """A committed repository of ``files`` Python modules under ``folder``; packed by
    ``git gc`` so that later growth is measured from a clean start."""
    folder.mkdir(parents=True)
    _git(folder, "init", "--quiet", "--initial-branch=main")
    (folder / ".gitignore").write_text("__pycache__/\n*.log\n")
    per_package = files // _PACKAGES
    for package in range(_PACKAGES):
        (folder / f"pkg{package:02d}").mkdir()
        for module in range(per_package):
            path = folder / f"pkg{package:02d}" / f"mod{module:02d}.py"
            path.write_text(_module(package, module))
    _git(folder, "add", "--all")
    _git(folder, "commit", "--quiet", "-m", "initial")
    _git(folder, "gc", "--quiet")
    return folder


def _edit(repository: Path, rng: random.Random, count: int, revision: int) -> None:
    paths = sorted(repository.glob("pkg*/mod*.py"))
    for path in rng.sample(paths, count):
        package, module = int(path.parent.name[3:]), int(path.stem[3:])
        path.write_text(_module(package, module, revision))


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _objects(repository: Path) -> dict[str, int]:
    """``git count-objects -v`` as numbers (sizes in KiB)."""
    pairs = (line.split(": ") for line in _git(repository, "count-objects", "-v").splitlines())
    return {key: int(value) for key, value in pairs if value.isdigit()}


def run_checkpoints(rounds: int = 30) -> list[Table]:
    """Run the checkpoint benchmark and return its tables.

    Args:
        rounds: Checkpoints taken (and restores done) for each timed row.
    """
    load_before = load_average()
    folder = Path(tempfile.mkdtemp(prefix="specloom-bench-checkpoints-"))
    try:
        return _measure(make_repository(folder / "repository"), rounds, load_before)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _measure(repository: Path, rounds: int, load_before: str) -> list[Table]:
    rng = random.Random(2_000)
    git = CountingGit()
    store = CheckpointStore(repository, git=git)
    samples: dict[str, list[float]] = {}
    commands: dict[str, int] = {}

    def record(label: str, action: Callable[[], object]) -> None:
        before = git.commands
        samples.setdefault(label, []).append(_timed(action))
        commands[label] = git.commands - before

    first_label = "first checkpoint (index seeded from the user's)"
    empty_index = repository / ".git" / "bench-empty-index"
    for _ in range(min(rounds, 5)):  # start over: no checkpoints' index, no chain
        (repository / ".git" / "specloom" / "index").unlink(missing_ok=True)
        _git(repository, "update-ref", "-d", store.ref)
        record(first_label, store.create)
    unseeded = "snapshot without seeding (add -A into an empty index + write-tree)"
    for _ in range(min(rounds, 5)):
        empty_index.unlink(missing_ok=True)
        env = {"GIT_INDEX_FILE": str(empty_index)}
        samples.setdefault(unseeded, []).append(
            _timed(lambda env=env: (_git(repository, "add", "--all", env=env),
                                    _git(repository, "write-tree", env=env)))
        )  # fmt: skip
        commands[unseeded] = 2
    empty_index.unlink(missing_ok=True)

    status_label = "git status --porcelain (reference)"
    commands[status_label] = 1

    def status() -> None:
        command = ["git", "--no-optional-locks", "status", "--porcelain"]
        subprocess.run(command, cwd=repository, capture_output=True, check=True)

    objects_before = _objects(repository)
    created = 0
    changed_label = f"checkpoint, {CHANGED} files changed"
    for revision in range(1, rounds + 1):
        _edit(repository, rng, CHANGED, revision)
        record(changed_label, store.create)
        created += 1
        record("checkpoint, nothing changed", store.create)
        samples.setdefault(status_label, []).append(_timed(status))
    objects_after = _objects(repository)

    for revision in range(rounds + 1, 2 * rounds + 1):
        target = store.create()
        _edit(repository, rng, CHANGED, revision)
        record(f"restore, {CHANGED} files changed since", lambda t=target: store.restore(t.id))
    for revision in range(2 * rounds + 1, 2 * rounds + 1 + min(rounds, 5)):
        target = store.create()
        _edit(repository, rng, BIG_RESTORE, revision)
        record(f"restore, {BIG_RESTORE} files changed since",
               lambda t=target: store.restore(t.id))  # fmt: skip
    checkpoints = len(store.list())
    _git(repository, "gc", "--quiet")
    packed_after = _objects(repository)

    timing = Table(
        f"Checkpoints: {FILES:,}-file repository ({rounds} rounds; first checkpoint and "
        "unseeded snapshot at most 5)",
        ["operation", "median", "p90", "best", "git commands"],
    )
    order = [changed_label, "checkpoint, nothing changed", first_label, unseeded, status_label]
    for label in [*order, *(label for label in samples if label not in order)]:
        values = samples[label]
        timing.rows.append(
            [label, format_ms(median(values)), format_ms(percentile(values, 0.9)),
             format_ms(min(values)), str(commands.get(label, "-"))]
        )  # fmt: skip
    create_median = median(samples[changed_label])
    speedup = median(samples[unseeded]) / create_median
    scans = create_median / median(samples[status_label])
    timing.notes += [
        f"Target: median checkpoint of {CHANGED} changed files under "
        f"{TARGET_SECONDS * 1000:.0f} ms: {format_ms(create_median)}, "
        f"{verdict(create_median < TARGET_SECONDS)}",
        f"Unseeded snapshot / checkpoint (medians): {speedup:.1f}; the kept index spares "
        f"hashing every file. One checkpoint costs {scans:.1f} git status scans.",
        f"Load average (1 min) before: {load_before}, after: {load_average()}.",
    ]

    loose_objects = objects_after["count"] - objects_before["count"]
    loose_kib = objects_after["size"] - objects_before["size"]
    packed_before = objects_before["size-pack"] + objects_before["size"]
    packed_growth = packed_after["size-pack"] + packed_after["size"] - packed_before
    growth = Table(
        "Checkpoints: repository growth",
        ["measure", "total", "per checkpoint"],
    )
    growth.rows += [
        [f"loose objects added by {created} checkpoints of {CHANGED} changed files",
         f"{loose_objects:,}", f"{loose_objects / created:.1f}"],
        ["loose bytes added (before git gc)", f"{loose_kib:,} KiB",
         f"{loose_kib / created:.1f} KiB"],
        [f"packed size growth after git gc ({checkpoints} checkpoints in the chain, restores "
         "included)", f"{packed_growth:,} KiB", f"{packed_growth / checkpoints:.1f} KiB"],
    ]  # fmt: skip
    growth.notes.append(
        f"Packed size before: {packed_before:,} KiB (the {FILES:,} committed files). Each "
        f"checkpoint adds the {CHANGED} changed blobs, the trees on their paths and a commit; "
        "git gc stores the blobs as deltas."
    )
    return [timing, growth]


def main() -> None:
    """Run only this benchmark: ``python bench/checkpoints.py``."""
    for table in run_checkpoints():
        print(table.text(), end="\n\n")


if __name__ == "__main__":
    main()
