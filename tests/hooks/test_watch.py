"""``specloom watch`` as a user runs it: a real subprocess on a real folder, real file events,
real hook commands; its ``--json`` lines read as they come."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.hooks.conftest import TRUST_ALL, legacy_hook, make_project, script

pytestmark = pytest.mark.slow

ENTRY = "from specloom.interfaces.cli import main; main()"


class Watch:
    """A running ``specloom watch --json`` and the JSON lines it printed."""

    def __init__(self, root: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", ENTRY, "watch", "--json", "--root", str(root), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "NO_COLOR": "1"},
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(json.loads(line))

    def next(self, kind: str, timeout: float = 15.0) -> dict[str, Any]:
        """The next line of type ``kind`` (earlier lines of other types are kept)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind!r} line in {timeout} s; saw {self.seen}")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append(line)
            if line["type"] == kind:
                return line

    def quiet(self, seconds: float) -> list[dict[str, Any]]:
        """Every line printed in the next ``seconds``."""
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                found.append(self.lines.get(timeout=left))
            except queue.Empty:
                break
        self.seen.extend(found)
        return found

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=15)

    def errors(self) -> str:
        """Its standard error, once it has ended."""
        assert self.process.stderr is not None
        return self.process.stderr.read()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.reader.join(timeout=5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def watches() -> Iterator[list[Watch]]:
    started: list[Watch] = []
    yield started
    for watch in started:
        watch.close()


def start(watches: list[Watch], root: Path, *args: str) -> Watch:
    watch = Watch(root, *args)
    watches.append(watch)
    watch.next("ready")
    return watch


def test_created_edited_and_deleted_files_run_their_hooks(
    tmp_path: Path, watches: list[Watch]
) -> None:
    root = make_project(tmp_path / "project", settings=TRUST_ALL)
    (root / "src").mkdir()
    for kind in ("fileCreated", "fileEdited", "fileDeleted"):
        legacy_hook(
            root, kind, event=kind, patterns=["src/**/*.py"], command=f"echo {kind} $SPECLOOM_FILES"
        )
    (root / ".kiro" / "hooks" / "broken.kiro.hook").write_text(
        '{\n  "name": "broken",\n  "when": {"type": "fileEdited", "patterns": ["*"]}\n}\n'
    )
    watch = Watch(root)
    watches.append(watch)
    problem = watch.next("problem")
    ready = watch.next("ready")

    assert problem["file"] == ".kiro/hooks/broken.kiro.hook" and "`then`" in problem["message"]
    assert ready["hooks"] == ["fileCreated", "fileDeleted", "fileEdited"]
    (root / "src" / "pkg").mkdir()
    (root / "src" / "pkg" / "mod.py").write_text("x = 1\n")
    created = watch.next("run")
    assert (created["hook"], created["files"], created["outcome"]) == (
        "fileCreated",
        ["src/pkg/mod.py"],
        "ok",
    )
    assert created["output"] == "fileCreated src/pkg/mod.py\n"

    with (root / "src" / "pkg" / "mod.py").open("a") as stream:
        stream.write("y = 2\n")
    assert (watch.next("run")["hook"], watch.seen[-1]["files"]) == (
        "fileEdited",
        ["src/pkg/mod.py"],
    )

    temporary = root / "src" / "pkg" / ".mod.py.tmp"  # an editor's save: write, then rename over
    temporary.write_text("x = 3\n")
    os.replace(temporary, root / "src" / "pkg" / "mod.py")
    saved = watch.next("run")
    assert (saved["hook"], saved["files"]) == ("fileEdited", ["src/pkg/mod.py"])

    (root / "src" / "pkg" / "mod.py").unlink()
    deleted = watch.next("run")
    assert (deleted["hook"], deleted["files"]) == ("fileDeleted", ["src/pkg/mod.py"])

    (root / "docs").mkdir()
    (root / "docs" / "notes.py").write_text("outside the patterns\n")
    (root / "build").mkdir()
    (root / "build" / "gen.py").write_text("ignored by .gitignore\n")
    (root / "src" / "debug.log").write_text("ignored by .gitignore\n")
    assert [line for line in watch.quiet(1.0) if line["type"] == "run"] == []
    (root / "src" / "late.py").write_text("still watching\n")
    assert watch.next("run")["files"] == ["src/late.py"]

    legacy_hook(root, "docs", event="fileCreated", patterns=["docs/*.md"], command="echo docs")
    time.sleep(0.3)
    (root / "docs" / "guide.md").write_text("a hook file added while watching counts\n")
    added = watch.next("run")
    assert (added["hook"], added["files"]) == ("docs", ["docs/guide.md"])
    assert watch.stop() == 0


def test_a_burst_of_saves_gives_one_run(tmp_path: Path, watches: list[Watch]) -> None:
    root = make_project(tmp_path / "project", settings=TRUST_ALL)
    (root / "data").mkdir()
    for index in range(30):
        (root / "data" / f"part{index:02d}.txt").write_text("old\n")
    legacy_hook(root, "count", event="fileEdited", patterns=["data/*.txt"], command="echo ran")
    watch = start(watches, root)

    for index in range(30):
        (root / "data" / f"part{index:02d}.txt").write_text(f"new {index}\n")

    run = watch.next("run")
    later = [line for line in watch.quiet(1.5) if line["type"] == "run"]
    assert later == []
    assert run["files"] == [f"data/part{index:02d}.txt" for index in range(30)]
    assert watch.stop() == 0


def test_hooks_never_retrigger_themselves_and_a_failing_hook_does_not_stop_the_loop(
    tmp_path: Path, watches: list[Watch]
) -> None:
    root = make_project(tmp_path / "project", settings=TRUST_ALL)
    for folder in ("notes", "gen", "fail"):
        (root / folder).mkdir()
    (root / "notes" / "a.txt").write_text("start\n")
    (root / "fail" / "x.txt").write_text("start\n")
    legacy_hook(
        root,
        "grow",
        event="fileEdited",
        patterns=["notes/*.txt"],
        command='echo "appended by the hook" >> "$SPECLOOM_FILE"',
    )
    legacy_hook(
        root,
        "chain",
        event="fileCreated",
        patterns=["gen/*.txt"],
        command=script(
            root,
            "chain.py",
            (
                "import os, time\n"
                "open(f'gen/made-{time.time_ns()}.txt', 'w').write('made by the hook')\n"
            ),
        ),
    )
    legacy_hook(
        root,
        "broken",
        event="fileEdited",
        patterns=["fail/*.txt"],
        command="echo this hook is broken >&2; exit 1",
    )
    watch = start(watches, root)

    with (root / "notes" / "a.txt").open("a") as stream:
        stream.write("user edit\n")
    assert watch.next("run")["hook"] == "grow"
    (root / "gen" / "seed.txt").write_text("seed\n")
    assert watch.next("run")["hook"] == "chain"
    assert [line for line in watch.quiet(1.5) if line["type"] == "run"] == []
    assert (root / "notes" / "a.txt").read_text() == "start\nuser edit\nappended by the hook\n"
    assert len(list((root / "gen").iterdir())) == 2

    for attempt in range(2):
        (root / "fail" / "x.txt").write_text(f"edit {attempt}\n")
        failed = watch.next("run")
        assert (failed["hook"], failed["outcome"], failed["exit_code"]) == ("broken", "failed", 1)
        assert failed["errors"] == "this hook is broken\n"
    with (root / "notes" / "a.txt").open("a") as stream:
        stream.write("second edit\n")
    assert watch.next("run")["hook"] == "grow"
    assert watch.stop() == 0


def test_sigterm_stops_the_loop_and_the_running_hook(tmp_path: Path, watches: list[Watch]) -> None:
    root = make_project(tmp_path / "project", settings=TRUST_ALL)
    legacy_hook(
        root,
        "forever",
        event="fileEdited",
        patterns=["*.txt"],
        command="(while true; do date +%s%N > tick; sleep 0.05; done) & wait",
    )
    (root / "a.txt").write_text("start\n")
    watch = start(watches, root)

    (root / "a.txt").write_text("edit\n")
    deadline = time.monotonic() + 10
    while not (root / "tick").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (root / "tick").exists()
    started = time.monotonic()
    code = watch.stop()

    assert code == 0 and time.monotonic() - started < 10
    lines = watch.quiet(0.5)
    kinds = [line["type"] for line in lines]
    assert kinds[-1] == "stopped"
    assert [line["outcome"] for line in lines if line["type"] == "run"] == ["cancelled"]
    first = (root / "tick").read_text()
    time.sleep(0.4)
    assert (root / "tick").read_text() == first  # the hook's whole process group is gone
    assert "Traceback" not in watch.errors()
