"""The built-in tools on real files: reading, listing, searching (ripgrep and the Python
fallback giving the same answers), writing, editing, commands, spec parts, approvals, audit
events, and a pydantic-ai agent driving the toolset end to end."""

from __future__ import annotations

import shutil
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from specloom.agent import search
from specloom.agent.tools import (
    DECLINED,
    ApprovalRequest,
    ToolEnv,
    ToolEvent,
    ToolLimits,
    builtin_toolset,
    edit_file,
    list_files,
    read_file,
    read_spec,
    run_command,
    search_files,
    write_file,
)
from specloom.errors import ModelFacingError, SettingsError
from specloom.settings import load_settings
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.anyio


REQUIREMENTS = """# Requirements Document

## Introduction

A tiny word counter.

## Requirements

### Requirement 1: Count words

**User Story:** As a writer, I want word counts, so that I know the length.

#### Acceptance Criteria

1. WHEN a text is given, THE Counter SHALL return the number of words
2. IF the text is empty, THEN THE Counter SHALL return 0

### Requirement 2: Report

**User Story:** As a writer, I want a report, so that I can share it.

#### Acceptance Criteria

1. THE Counter SHALL print the count
"""

DESIGN = """# Design Document

## Overview

Counts words.

## Data Models

A count is an int.

## Correctness Properties

### Property 1: Counting is additive

*For any* two texts a and b, count(a + " " + b) = count(a) + count(b).

**Validates: Requirements 1.1**

## Testing Strategy

Hypothesis.
"""

TASKS = """# Implementation Plan

- [ ] 1. Build the counter
- [x] 1.1 Write count()
  - Split on white space
  - _Requirements: 1.1, 1.2_
- [ ]* 1.2 Property test for additivity
  - **Property 1: Counting is additive**
  - **Validates: Requirements 1.1**
- [ ] 2. Print the report
  - _Requirements: 2.1_
  - _Depends on: 1.1_
"""

APP = """def add(a, b):
    return a - b


def main():
    print(add(2, 3))


if __name__ == "__main__":
    main()
"""


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, newline="")
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    _write(root / ".gitignore", "build/\n*.log\n")
    _write(root / "src" / "app.py", APP)
    _write(root / "src" / "util.py", "import os\n\nTOTAL = 1\n")
    _write(root / "README.md", "# Demo\n\nRun `python src/app.py`.\n")
    _write(root / "build" / "gen.py", "generated = True\n")
    _write(root / "debug.log", "return a - b\n")
    _write(root / ".github" / "workflows" / "ci.yml", "on: push\n")
    _write(root / ".git" / "config", "[core]\n")
    spec = root / ".kiro" / "specs" / "counter"
    _write(spec / "requirements.md", REQUIREMENTS)
    _write(spec / "design.md", DESIGN)
    _write(spec / "tasks.md", TASKS)
    return root


@dataclass
class Hooks:
    """What the agent loop would see: approval requests, checkpoints and audit events."""

    answer: bool = True
    requests: list[ApprovalRequest] = field(default_factory=list)
    checkpoints: list[list[Path]] = field(default_factory=list)
    events: list[ToolEvent] = field(default_factory=list)
    seen_before_change: list[str | None] = field(default_factory=list)

    async def approve(self, request: ApprovalRequest) -> bool:
        self.requests.append(request)
        return self.answer

    async def before_change(self, paths: Sequence[Path]) -> None:
        self.checkpoints.append(list(paths))
        first = paths[0]
        self.seen_before_change.append(first.read_text() if first.is_file() else None)

    def record(self, event: ToolEvent) -> None:
        self.events.append(event)


@pytest.fixture
def hooks() -> Hooks:
    return Hooks()


@pytest.fixture
def env(project: Path, hooks: Hooks) -> ToolEnv:
    return ToolEnv.create(
        [project], approve=hooks.approve, before_change=hooks.before_change, record=hooks.record
    )


def _hide(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real_which = shutil.which

    def which(command: str, mode: int = 1, path: str | None = None) -> str | None:
        return None if command == name else real_which(command, mode, path)

    monkeypatch.setattr(shutil, "which", which)


@pytest.fixture(params=["ripgrep", "python"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with ripgrep, then with the Python fallback."""
    if request.param == "python":
        _hide("rg", monkeypatch)
        assert search.ripgrep() is None
    else:
        assert search.ripgrep() is not None, "ripgrep (rg) must be installed for these tests"
    return str(request.param)


# -- read_file ---------------------------------------------------------------------------------


async def test_read_file_numbers_lines(env: ToolEnv, hooks: Hooks) -> None:
    text = await read_file(env, "src/app.py")
    assert text == (
        "     1\tdef add(a, b):\n     2\t    return a - b\n     3\t\n     4\t\n"
        "     5\tdef main():\n     6\t    print(add(2, 3))\n     7\t\n     8\t\n"
        '     9\tif __name__ == "__main__":\n    10\t    main()'
    )
    assert await read_file(env, "src/app.py", start_line=9) == (
        '     9\tif __name__ == "__main__":\n    10\t    main()'
    )
    assert await read_file(env, "src/app.py", 2, 2) == "     2\t    return a - b"
    assert await read_file(env, "src/app.py", 10, 99) == "    10\t    main()"
    assert [event.outcome for event in hooks.events] == ["ok"] * 4
    assert hooks.events[0].tool == "read_file"
    assert hooks.events[0].arguments == {"path": "src/app.py", "start_line": None, "end_line": None}


async def test_read_file_caps_and_says_how_to_read_on(env: ToolEnv, project: Path) -> None:
    _write(project / "long.txt", "".join(f"line {n}\n" for n in range(1, 101)))
    capped = ToolEnv(env.workspace, limits=ToolLimits(read_max_lines=3))
    assert await read_file(capped, "long.txt", start_line=10) == (
        "    10\tline 10\n    11\tline 11\n    12\tline 12\n"
        "[showing lines 10-12 of 100; read on with start_line=13]"
    )
    by_chars = ToolEnv(env.workspace, limits=ToolLimits(read_max_chars=45))
    text = await read_file(by_chars, "long.txt")
    assert text.splitlines()[-1] == "[showing lines 1-3 of 100; read on with start_line=4]"
    _write(project / "wide.txt", "x" * 5000 + "\n")
    narrow = ToolEnv(env.workspace, limits=ToolLimits(read_max_line_chars=10))
    assert (
        await read_file(narrow, "wide.txt") == "     1\txxxxxxxxxx [... line cut: 5000 characters]"
    )


async def test_read_file_text_details(env: ToolEnv, project: Path) -> None:
    _write(project / "crlf.txt", b"one\r\ntwo\r\n")
    assert await read_file(env, "crlf.txt") == "     1\tone\n     2\ttwo"
    _write(project / "bom.txt", b"\xef\xbb\xbfhello\n")
    assert await read_file(env, "bom.txt") == "     1\thello"
    _write(project / "empty.txt", "")
    assert await read_file(env, "empty.txt") == "(empty.txt is empty)"
    _write(project / "last.txt", "no newline at the end")
    assert await read_file(env, "last.txt") == "     1\tno newline at the end"


async def test_read_file_errors_help_the_model(env: ToolEnv, project: Path, hooks: Hooks) -> None:
    with pytest.raises(ModelFacingError, match=r"does not exist\. Did you mean: src/app\.py"):
        await read_file(env, "src/ap.py")
    with pytest.raises(ModelFacingError, match=r"Did you mean: src/app\.py"):
        await read_file(env, "app.py")
    with pytest.raises(ModelFacingError, match="is a folder: list its files with list_files"):
        await read_file(env, "src")
    _write(project / "image.png", b"\x89PNG\r\n\x1a\n\0\0\0")
    with pytest.raises(ModelFacingError, match="binary file"):
        await read_file(env, "image.png")
    with pytest.raises(
        ModelFacingError, match="start_line 11 is outside 'src/app.py', which has 10"
    ):
        await read_file(env, "src/app.py", start_line=11)
    with pytest.raises(ModelFacingError, match="end_line 1 is before start_line 3"):
        await read_file(env, "src/app.py", 3, 1)
    with pytest.raises(ModelFacingError, match="outside the workspace"):
        await read_file(env, "../../etc/passwd")
    with pytest.raises(ModelFacingError, match="git's own files"):
        await read_file(env, ".git/config")
    assert {event.outcome for event in hooks.events} == {"failed"}
    assert hooks.events[0].summary.startswith("'src/ap.py' does not exist")


# -- list_files and search_files (both engines) ------------------------------------------------


async def test_list_files(env: ToolEnv, engine: str) -> None:
    assert await list_files(env) == (
        ".github/workflows/ci.yml\n.gitignore\n.kiro/specs/counter/design.md\n"
        ".kiro/specs/counter/requirements.md\n.kiro/specs/counter/tasks.md\nREADME.md\n"
        "src/app.py\nsrc/util.py\n[8 files]"
    )
    assert await list_files(env, "src") == "src/app.py\nsrc/util.py\n[2 files]"
    assert await list_files(env, glob="*.py") == "src/app.py\nsrc/util.py\n[2 files]"
    assert await list_files(env, glob="src/u*") == "src/util.py\n[1 file]"
    assert await list_files(env, ".kiro", glob="!*.md") == "No files in .kiro match '!*.md'."
    assert await list_files(env, max_results=2) == (
        ".github/workflows/ci.yml\n.gitignore\n"
        "[showing the first 2 files; there are more: name a sub-folder or a glob]"
    )
    with pytest.raises(ModelFacingError, match=r"'nope' does not exist"):
        await list_files(env, "nope")


@pytest.fixture
def tricky(tmp_path: Path) -> Path:
    """A tree with nested and negated ignore rules, hidden, binary, linked, CRLF and BOM files."""
    root = tmp_path / "tricky"
    _write(root / ".gitignore", "*.tmp\nvendor/\n!keep.tmp\n")
    _write(root / "a.txt", "alpha\nBeta beta\n")
    _write(root / "keep.tmp", "alpha kept\n")
    _write(root / "drop.tmp", "alpha dropped\n")
    _write(root / "vendor" / "lib.txt", "alpha vendored\n")
    _write(root / "pkg" / ".gitignore", "secret_*\n")
    _write(root / "pkg" / "secret_x.txt", "alpha secret\n")
    _write(root / "pkg" / "mod.py", "# alpha\nx = 'a.b('\n")
    _write(root / "pkg" / "deep" / "z.py", "def alpha_total():\n    return 1\n")
    _write(root / ".hidden" / "h.txt", "alpha hidden\n")
    _write(root / "bin.dat", b"alpha\0binary\n")
    _write(root / "crlf.txt", b"alpha one\r\nalpha two\r\n")
    _write(root / "bom.txt", b"\xef\xbb\xbfalpha bom\n")
    _write(root / "name with space.md", "Alpha spaced\n")
    _write(root / "uni.txt", "ålpha ünïcode alpha\n")
    _write(tmp_path / "elsewhere" / "out.txt", "alpha outside\n")
    (root / "linked_dir").symlink_to(tmp_path / "elsewhere")
    (root / "linked_file.txt").symlink_to(root / "a.txt")
    return root


SEARCHES: list[tuple[dict[str, Any], str]] = [
    (
        {"pattern": "alpha"},
        ".hidden/h.txt:1: alpha hidden\na.txt:1: alpha\nbom.txt:1: alpha bom\n"
        "crlf.txt:1: alpha one\ncrlf.txt:2: alpha two\nkeep.tmp:1: alpha kept\n"
        "pkg/deep/z.py:1: def alpha_total():\npkg/mod.py:1: # alpha\n"
        "uni.txt:1: ålpha ünïcode alpha\n[9 matches in 8 files]",
    ),
    (
        {"pattern": "alpha", "ignore_case": True, "glob": "*.md"},
        "name with space.md:1: Alpha spaced\n[1 match in 1 file]",
    ),
    ({"pattern": "a.b(", "literal": True}, "pkg/mod.py:2: x = 'a.b('\n[1 match in 1 file]"),
    (
        {"pattern": r"^def \w+_total\(\):$"},
        "pkg/deep/z.py:1: def alpha_total():\n[1 match in 1 file]",
    ),
    ({"pattern": "two$"}, "crlf.txt:2: alpha two\n[1 match in 1 file]"),  # `$` before a CRLF
    ({"pattern": "omega"}, "No matches for 'omega' in the workspace."),
    (
        {"pattern": "alpha", "path": "pkg"},
        "pkg/deep/z.py:1: def alpha_total():\npkg/mod.py:1: # alpha\n[2 matches in 2 files]",
    ),
    ({"pattern": "alpha", "glob": "pkg/*.py"}, "pkg/mod.py:1: # alpha\n[1 match in 1 file]"),
    (
        {"pattern": "alpha", "glob": "!*.txt", "max_results": 2},
        "keep.tmp:1: alpha kept\npkg/deep/z.py:1: def alpha_total():\n[showing the first 2 "
        "matches; there are more: narrow the pattern, the path or the glob]",
    ),
    (
        {"pattern": "alpha", "path": "vendor/lib.txt"},
        "vendor/lib.txt:1: alpha vendored\n[1 match in 1 file]",
    ),
    ({"pattern": "B[e]ta"}, "a.txt:2: Beta beta\n[1 match in 1 file]"),
]


@pytest.mark.parametrize(("arguments", "expected"), SEARCHES)
async def test_search_gives_the_same_answer_with_both_engines(
    tricky: Path, engine: str, arguments: dict[str, Any], expected: str
) -> None:
    env = ToolEnv.create([tricky])
    assert await search_files(env, **arguments) == expected


async def test_listing_gives_the_same_answer_with_both_engines(tricky: Path, engine: str) -> None:
    env = ToolEnv.create([tricky])
    assert await list_files(env) == (
        ".gitignore\n.hidden/h.txt\na.txt\nbin.dat\nbom.txt\ncrlf.txt\nkeep.tmp\n"
        "name with space.md\npkg/.gitignore\npkg/deep/z.py\npkg/mod.py\nuni.txt\n[12 files]"
    )
    assert await list_files(env, "pkg", glob="*.py") == "pkg/deep/z.py\npkg/mod.py\n[2 files]"


async def test_search_errors(env: ToolEnv, engine: str) -> None:
    with pytest.raises(ModelFacingError, match="The search failed"):
        await search_files(env, "(unclosed")
    with pytest.raises(ModelFacingError, match="outside the workspace"):
        await search_files(env, "x", path="..")
    with pytest.raises(ModelFacingError, match="git's own files"):
        await search_files(env, "core", path=".git")


async def test_search_cuts_long_lines(env: ToolEnv, project: Path, engine: str) -> None:
    _write(project / "wide.txt", "needle " + "x" * 1000 + "\n")
    result = await search_files(env, "needle")
    first = result.splitlines()[0]
    assert first.startswith("wide.txt:1: needle xxx") and first.endswith(" [...]")
    assert len(first) < 330


# -- write_file --------------------------------------------------------------------------------


async def test_write_file_creates_folders_and_asks_first(
    env: ToolEnv, project: Path, hooks: Hooks
) -> None:
    result = await write_file(env, "src/pkg/new.py", "x = 1\ny = 2\n")
    assert result == "Created src/pkg/new.py (2 lines)."
    target = project / "src" / "pkg" / "new.py"
    assert target.read_text() == "x = 1\ny = 2\n"
    [request] = hooks.requests
    assert request.kind == "write" and request.tool == "write_file"
    assert request.path == "src/pkg/new.py" and request.absolute_path == target
    assert request.new_file
    assert request.summary == "create src/pkg/new.py (2 lines)"
    assert request.diff is not None and "+x = 1\n+y = 2\n" in request.diff
    assert hooks.checkpoints == [[target]]
    assert hooks.seen_before_change == [None]  # the hook ran before the file existed
    [event] = hooks.events
    assert event.outcome == "ok" and event.paths == (target,)
    assert event.summary == "Created src/pkg/new.py (2 lines)."
    assert [p.name for p in target.parent.iterdir()] == ["new.py"]  # no temporary files left


async def test_write_file_replaces_and_keeps_permissions(
    env: ToolEnv, project: Path, hooks: Hooks
) -> None:
    script = _write(project / "run.sh", "#!/bin/sh\necho old\n")
    script.chmod(0o755)
    result = await write_file(env, "run.sh", "#!/bin/sh\necho new\n")
    assert result == "Replaced run.sh (2 lines; +1 -1 lines)."
    assert script.read_text() == "#!/bin/sh\necho new\n"
    assert stat.S_IMODE(script.stat().st_mode) == 0o755
    assert hooks.requests[0].summary == "replace run.sh (+1 -1 lines)"
    assert hooks.seen_before_change == ["#!/bin/sh\necho old\n"]
    assert await write_file(env, "run.sh", "#!/bin/sh\necho new\n") == (
        "run.sh already has this content; nothing was written."
    )
    assert len(hooks.requests) == 1  # nothing to ask about


async def test_write_file_writes_exact_text(env: ToolEnv, project: Path) -> None:
    await write_file(env, "win.txt", "a\r\nb")
    assert (project / "win.txt").read_bytes() == b"a\r\nb"


async def test_declined_write_changes_nothing(env: ToolEnv, project: Path, hooks: Hooks) -> None:
    hooks.answer = False
    with pytest.raises(ModelFacingError) as caught:
        await write_file(env, "README.md", "gone\n")
    assert str(caught.value).startswith(f"{DECLINED} this write (README.md)")
    assert (project / "README.md").read_text().startswith("# Demo")
    assert hooks.checkpoints == []
    assert [event.outcome for event in hooks.events] == ["declined"]


async def test_write_file_refusals(env: ToolEnv, project: Path, hooks: Hooks) -> None:
    for path, message in (
        ("src", "is a folder"),
        ("../escape.txt", "outside the workspace"),
        (".git/hooks/pre-commit", "git's own files"),
        (".kiro/.specloom/audit.db", "specloom's own state"),
        ("README.md/inner.txt", "Cannot write"),
    ):
        with pytest.raises(ModelFacingError, match=message):
            await write_file(env, path, "x\n")
    assert not (project.parent / "escape.txt").exists()
    assert len(hooks.requests) == 1  # only the last one got as far as asking


# -- edit_file ---------------------------------------------------------------------------------


async def test_edit_file_replaces_once_and_shows_the_result(
    env: ToolEnv, project: Path, hooks: Hooks
) -> None:
    result = await edit_file(env, "src/app.py", "    return a - b\n", "    return a + b\n")
    assert result == (
        "Edited src/app.py: replaced 1 occurrence (+1 -1 lines). Around the first change:\n"
        "     1\tdef add(a, b):\n     2\t    return a + b\n     3\t\n     4\t"
    )
    assert (project / "src" / "app.py").read_text() == APP.replace("a - b", "a + b")
    [request] = hooks.requests
    assert request.kind == "edit" and request.path == "src/app.py"
    assert request.diff is not None
    assert "-    return a - b\n+    return a + b\n" in request.diff
    assert hooks.seen_before_change == [APP]
    assert hooks.events[-1].outcome == "ok"


async def test_edit_file_no_match_shows_the_nearest_lines(env: ToolEnv) -> None:
    with pytest.raises(ModelFacingError) as caught:
        await edit_file(env, "src/app.py", "def add(x, y):\n    return x - y\n", "")
    message = str(caught.value)
    assert message.startswith("old_text was not found in src/app.py.")
    assert (
        "The most similar lines in the file are:\n     1\tdef add(a, b):\n     2\t    return a - b"
        in message
    )
    with pytest.raises(ModelFacingError, match="different white space or indentation"):
        await edit_file(env, "src/app.py", "def add(a, b):\n  return a - b", "x")
    with pytest.raises(ModelFacingError, match="Leave out the line numbers"):
        await edit_file(env, "src/app.py", "     2\t    return a - b", "x")
    with pytest.raises(ModelFacingError, match="No similar lines"):
        await edit_file(env, "src/app.py", "completely unrelated words here", "x")


async def test_edit_file_several_matches(env: ToolEnv, project: Path, hooks: Hooks) -> None:
    _write(project / "dup.py", "x = 1\ny = 2\nx = 1\nz = 3\nx = 1\n")
    with pytest.raises(ModelFacingError) as caught:
        await edit_file(env, "dup.py", "x = 1", "x = 9")
    assert str(caught.value) == (
        "old_text occurs 3 times in dup.py (at lines 1, 3, 5). Include more of the surrounding "
        "lines so that it matches once, or set replace_all to replace every occurrence."
    )
    assert hooks.requests == []
    result = await edit_file(env, "dup.py", "x = 1", "x = 9", replace_all=True)
    assert result.startswith("Edited dup.py: replaced 3 occurrences (+3 -3 lines).")
    assert (project / "dup.py").read_text() == "x = 9\ny = 2\nx = 9\nz = 3\nx = 9\n"
    await edit_file(env, "dup.py", "y = 2\nx = 9", "y = 2\nx = 0")
    assert (project / "dup.py").read_text() == "x = 9\ny = 2\nx = 0\nz = 3\nx = 9\n"


async def test_edit_file_keeps_crlf_line_endings(env: ToolEnv, project: Path) -> None:
    _write(project / "win.txt", b"one\r\ntwo\r\nthree\r\n")
    await edit_file(env, "win.txt", "one\ntwo\n", "uno\ndos\n")
    assert (project / "win.txt").read_bytes() == b"uno\r\ndos\r\nthree\r\n"


async def test_edit_file_errors(env: ToolEnv, project: Path, hooks: Hooks) -> None:
    with pytest.raises(ModelFacingError, match="does not exist; create it with write_file"):
        await edit_file(env, "src/missing.py", "a", "b")
    with pytest.raises(ModelFacingError, match="old_text is empty"):
        await edit_file(env, "src/app.py", "", "b")
    with pytest.raises(ModelFacingError, match="are the same"):
        await edit_file(env, "src/app.py", "add", "add")
    _write(project / "latin1.txt", "caf\xe9\n".encode("latin-1"))
    with pytest.raises(ModelFacingError, match="not UTF-8"):
        await edit_file(env, "latin1.txt", "caf", "bar")
    hooks.answer = False
    with pytest.raises(ModelFacingError, match=f"^{DECLINED} this edit"):
        await edit_file(env, "src/app.py", "a - b", "a + b")
    assert (project / "src" / "app.py").read_text() == APP
    assert [e.outcome for e in hooks.events] == ["failed"] * 4 + ["declined"]


# -- run_command -------------------------------------------------------------------------------


async def test_run_command_reports_exit_code_and_output(
    env: ToolEnv, project: Path, hooks: Hooks
) -> None:
    result = await run_command(env, "python3 app.py; echo oops >&2; exit 4", cwd="src")
    assert result.startswith("Exit code 4 (")
    assert result.endswith(
        "s). It ran in a sandbox without network access that can write only inside the "
        "workspace.\n-1\noops"
    )
    assert (await run_command(env, "true")).endswith(" s).\n(no output)")
    request = hooks.requests[0]
    assert request.kind == "command" and request.command == "python3 app.py; echo oops >&2; exit 4"
    assert request.cwd == "src" and request.sandboxed is True
    assert hooks.checkpoints[0] == [project.resolve()]
    event = hooks.events[0]
    assert event.exit_code == 4 and event.sandboxed is True and event.summary == "exit code 4"


async def test_run_command_timeout_and_limits(env: ToolEnv) -> None:
    result = await run_command(env, "echo start; sleep 30", timeout_s=0.5)
    assert result == (
        "Timed out after 0.5 s and was killed with everything it started (exit code -15). It "
        "ran in a sandbox without network access that can write only inside the workspace.\nstart"
    )
    short = ToolEnv(
        env.workspace, sandbox=env.sandbox, limits=ToolLimits(command_max_timeout_s=0.3)
    )
    assert (await run_command(short, "sleep 5", timeout_s=100)).startswith("Timed out after 0.3 s")
    capped = ToolEnv(env.workspace, limits=ToolLimits(command_output_cap=100))
    output = await run_command(capped, "seq 1 10000")
    assert "bytes of output left out" in output and output.endswith("\n10000")


async def test_run_command_refusals(env: ToolEnv, project: Path, hooks: Hooks) -> None:
    with pytest.raises(ModelFacingError, match="outside the workspace"):
        await run_command(env, "ls", cwd="..")
    with pytest.raises(ModelFacingError, match="is not a folder"):
        await run_command(env, "ls", cwd="README.md")
    with pytest.raises(ModelFacingError, match="empty"):
        await run_command(env, "  ")
    with pytest.raises(ModelFacingError, match="more than 0"):
        await run_command(env, "ls", timeout_s=-1)
    hooks.answer = False
    with pytest.raises(ModelFacingError, match=f"^{DECLINED} this command \\(touch ran\\)"):
        await run_command(env, "touch ran")
    assert not (project / "ran").exists()
    assert hooks.checkpoints == []


async def test_run_command_hides_secrets_unless_allowed(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-123")
    monkeypatch.setenv("SPECLOOM_VISIBLE", "yes")
    env = ToolEnv.create([project])
    line = 'echo "${OPENAI_API_KEY:-hidden} $SPECLOOM_VISIBLE"'
    assert (await run_command(env, line)).endswith("\nhidden yes")
    settings_file = _write(
        project / ".kiro" / "settings" / "specloom.json",
        '{"agent": {"tools": {"command_pass_secrets": true}}}\n',
    )
    allowed = ToolEnv.create([project], load_settings(project))
    assert (await run_command(allowed, line)).endswith("\nsk-test-123 yes")
    settings_file.write_text('{"agent": {"tools": {"command_timeout_s": "long"}}}\n')
    with pytest.raises(SettingsError, match="command_timeout_s"):
        ToolEnv.create([project], load_settings(project))


# -- read_spec ---------------------------------------------------------------------------------


async def test_read_spec_outline(env: ToolEnv) -> None:
    outline = await read_spec(env, "counter")
    assert outline.startswith("Spec counter (feature; phase: implementation; tasks done: 1/2)")
    assert "- 1. Count words (2 criteria)" in outline
    assert "- Data Models" in outline and "- Property 1: Counting is additive" in outline
    assert "  - [x] 1.1 Write count()" in outline and "  - [ ] 1.2* Property test" in outline


async def test_read_spec_parts(env: ToolEnv) -> None:
    requirement = await read_spec(env, "counter", "1")
    assert requirement.startswith(".kiro/specs/counter/requirements.md:9\n### Requirement 1:")
    assert "2. IF the text is empty" in requirement and "Requirement 2" not in requirement
    assert await read_spec(env, "counter", "requirement 2") == await read_spec(env, "counter", "2")
    criterion = await read_spec(env, "counter", "criterion 1.2")
    assert criterion == (
        ".kiro/specs/counter/requirements.md:16\nCriterion 1.2 (Requirement 1: Count words)\n"
        "IF the text is empty, THEN THE Counter SHALL return 0\nCited by tasks: 1.1\n"
    )
    both = await read_spec(env, "counter", "1.1")
    assert both.startswith(".kiro/specs/counter/requirements.md:15\nCriterion 1.1")
    assert both.endswith("(Task 1.1 exists too: ask for `task 1.1`.)")
    assert "Validated by properties: 1" in both
    task = await read_spec(env, "counter", "task 1.1")
    assert task == (
        ".kiro/specs/counter/tasks.md:4 (status: done)\n- [x] 1.1 Write count()\n"
        "  - Split on white space\n  - _Requirements: 1.1, 1.2_\n\nRequirements it cites:\n"
        "- 1.1: WHEN a text is given, THE Counter SHALL return the number of words\n"
        "- 1.2: IF the text is empty, THEN THE Counter SHALL return 0\n"
    )
    assert "Depends on tasks: 1.1" in await read_spec(env, "counter", "task 2")
    optional = await read_spec(env, "counter", "task 1.2")
    assert "Properties it references:\nProperty 1: Counting is additive" in optional
    prop = await read_spec(env, "counter", "Property 1")
    assert prop.startswith(".kiro/specs/counter/design.md:13\nProperty 1: Counting is additive\n")
    assert prop.endswith(
        "It validates:\n- 1.1: WHEN a text is given, THE Counter SHALL return the number of words\n"
    )
    section = await read_spec(env, "counter", "Data Models")
    assert section == ".kiro/specs/counter/design.md:7\n## Data Models\n\nA count is an int.\n\n"
    assert await read_spec(env, "counter", "data-models") == section
    assert await read_spec(env, "counter", "design: testing strategy") == (
        ".kiro/specs/counter/design.md:19\n## Testing Strategy\n\nHypothesis.\n"
    )


async def test_read_spec_errors_list_what_exists(env: ToolEnv) -> None:
    with pytest.raises(ModelFacingError, match="no spec named 'nope'. Known specs: counter"):
        await read_spec(env, "nope")
    with pytest.raises(ModelFacingError, match="is not a spec name"):
        await read_spec(env, "../../etc")
    with pytest.raises(ModelFacingError, match=r"no requirement '7' \(it has: 1, 2\)"):
        await read_spec(env, "counter", "requirement 7")
    with pytest.raises(ModelFacingError, match=r"no task '9' \(it has: 1, 1.1, 1.2, 2\)"):
        await read_spec(env, "counter", "task 9")
    with pytest.raises(ModelFacingError, match=r"no property '4' \(it has: 1\)"):
        await read_spec(env, "counter", "Property 4")
    with pytest.raises(ModelFacingError, match="Overview; Data Models; Correctness Properties"):
        await read_spec(env, "counter", "Deployment")


async def test_read_spec_refuses_a_spec_linked_from_outside(
    env: ToolEnv, project: Path, tmp_path: Path
) -> None:
    _write(tmp_path / "stolen" / "tasks.md", TASKS)
    (project / ".kiro" / "specs" / "linked").symlink_to(tmp_path / "stolen")
    with pytest.raises(ModelFacingError, match="outside the workspace"):
        await read_spec(env, "linked")


async def test_read_spec_on_a_real_kiro_spec(tmp_path: Path) -> None:
    source = EXAMPLES / "kiroween-dashtact" / ".kiro" / "specs" / "jwt-authentication-system"
    root = tmp_path / "dash"
    shutil.copytree(source, root / ".kiro" / "specs" / "jwt")
    env = ToolEnv.create([root])
    task = await read_spec(env, "jwt", "task 2.1")
    assert "- [x] 2.1 Create authentication configuration file" in task
    assert "_Requirements: 2.2, 2.3, 8.1, 8.2_" in task
    assert "Requirements it cites:\n- 2.2: " in task
    assert (await read_spec(env, "jwt", "2.1")).startswith(".kiro/specs/jwt/requirements.md:")


# -- the pydantic-ai toolset -------------------------------------------------------------------


def test_toolset_names_and_descriptions(env: ToolEnv) -> None:
    toolset = builtin_toolset(env)
    assert sorted(toolset.tools) == [
        "edit_file",
        "list_files",
        "read_file",
        "read_spec",
        "run_command",
        "search_files",
        "write_file",
    ]
    edit = toolset.tools["edit_file"]
    assert edit.description is not None and edit.description.startswith("Replace exact text")
    schema = edit.function_schema.json_schema
    assert schema["required"] == ["path", "old_text", "new_text"]
    assert all(prop.get("description") for prop in schema["properties"].values())
    assert sorted(builtin_toolset(env, read_only=True).tools) == [
        "list_files",
        "read_file",
        "read_spec",
        "search_files",
    ]


async def test_an_agent_reads_edits_and_runs(env: ToolEnv, project: Path, hooks: Hooks) -> None:
    from pydantic_ai import Agent
    from pydantic_ai.messages import (
        ModelMessage,
        ModelRequest,
        ModelResponse,
        TextPart,
        ToolCallPart,
        ToolReturnPart,
    )
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    returns: list[ToolReturnPart] = []
    steps = [
        ToolCallPart("read_file", {"path": "src/app.py"}),
        ToolCallPart(
            "edit_file",
            {"path": "src/app.py", "old_text": "return a + b", "new_text": "return a * b"},
        ),
        ToolCallPart(
            "edit_file",
            {"path": "src/app.py", "old_text": "    return a - b", "new_text": "    return a + b"},
        ),
        ToolCallPart("run_command", {"command": "python3 src/app.py"}),
    ]

    def script(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        assert {tool.name for tool in info.function_tools} >= {"read_file", "edit_file"}
        last = messages[-1]
        if isinstance(last, ModelRequest):
            returns.extend(p for p in last.parts if isinstance(p, ToolReturnPart))
        done = sum(1 for message in messages if isinstance(message, ModelResponse))
        if done < len(steps):
            return ModelResponse(parts=[steps[done]])
        return ModelResponse(parts=[TextPart("add() is fixed")])

    agent = Agent(FunctionModel(script), toolsets=[builtin_toolset(env)])
    result = await agent.run("add(2, 3) prints -1; fix it")
    assert result.output == "add() is fixed"
    assert [part.tool_name for part in returns] == [
        "read_file",
        "edit_file",
        "edit_file",
        "run_command",
    ]
    assert returns[0].outcome == "success" and "     2\t    return a - b" in str(returns[0].content)
    assert returns[1].outcome == "failed"  # the model is told, the run goes on
    assert "old_text was not found in src/app.py" in str(returns[1].content)
    assert "     2\t    return a - b" in str(returns[1].content)
    assert returns[2].outcome == "success"
    assert returns[3].outcome == "success"
    assert str(returns[3].content).startswith("Exit code 0") and str(returns[3].content).endswith(
        "\n5"
    )
    assert (project / "src" / "app.py").read_text() == APP.replace("a - b", "a + b")
    assert [(e.tool, e.outcome) for e in hooks.events] == [
        ("read_file", "ok"),
        ("edit_file", "failed"),
        ("edit_file", "ok"),
        ("run_command", "ok"),
    ]
    assert [r.kind for r in hooks.requests] == ["edit", "command"]
