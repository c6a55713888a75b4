"""Bad input to the CLI, run as a real process: one clear paragraph on stderr naming the file
and line, exit code 2, no traceback, nothing written, and a JSON error object with ``--json``."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dirty_equals import IsOneOf, IsPartialDict, IsStr

from tests.interfaces.cli_helpers import (
    SPEC,
    WORDFREQ,
    json_output,
    specloom,
    tree_digest,
    write_spec,
)

FOLDER = SPEC / WORDFREQ

# Every command that reads the word-frequency spec (the two lints read it as part of all).
COMMANDS = [
    ["list"],
    ["show", WORDFREQ],
    ["tasks", WORDFREQ],
    ["tasks", WORDFREQ, "--graph", "json"],
    ["task", WORDFREQ, "2.2", "--status", "done"],
    ["lint"],
    ["lint", WORDFREQ],
    ["analyze", WORDFREQ],
    ["trace", WORDFREQ],
]


def spec_commands(name: str) -> list[list[str]]:
    """Every command that takes a spec name, run on ``name``."""
    return [
        ["show", name],
        ["tasks", name],
        ["task", name, "1", "--status", "done"],
        ["lint", name],
        ["analyze", name],
        ["trace", name],
    ]


def requirements(criterion: str) -> str:
    """A ``requirements.md`` with one requirement and one criterion (1.1, on line 11)."""
    return (
        "# Requirements Document\n\n## Requirements\n\n### Requirement 1: Search\n\n"
        "**User Story:** As a reader, I want to search, so that I find things.\n\n"
        f"#### Acceptance Criteria\n\n1. {criterion}\n"
    )


def assert_user_error(result: subprocess.CompletedProcess[str], *names: str) -> str:
    """The command failed as a user error: exit 2, one paragraph on stderr naming ``names``,
    no traceback. Returns the paragraph."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    message = result.stderr.strip()
    assert message.startswith("error: "), message
    assert len(message.splitlines()) == 1, message
    for name in names:
        assert name in message, (name, message)
    return message


def json_error(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The JSON error object a ``--json`` command printed."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data, dict), data
    assert {"error", "message", "file", "line"} <= data.keys(), data
    assert isinstance(data["error"], str) and data["error"]
    assert isinstance(data["message"], str) and data["message"]
    assert data["file"] is None or isinstance(data["file"], str)
    assert data["line"] is None or (isinstance(data["line"], int) and data["line"] >= 1)
    return data


def _replace(path: Path, old: str, new: str) -> int:
    """Replace the first ``old`` in ``path`` and return the 1-based line it was on."""
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return text[: text.index(old)].count("\n") + 1


@dataclass(frozen=True)
class Breakage:
    """One way to break the word-frequency spec, and where the error should point."""

    name: str
    file: str
    error: str
    apply: Callable[[Path], int]  # breaks the project, returns the line the error is on

    def __str__(self) -> str:
        return self.name


def _waves_not_json(project: Path) -> int:
    return _replace(project / FOLDER / "tasks.md", '{"id": 0, "tasks"', '{"id": 0 "tasks"')


def _waves_wrong_shape(project: Path) -> int:
    tasks = project / FOLDER / "tasks.md"
    text = tasks.read_text(encoding="utf-8")
    block = text[text.index('{"waves"') : text.index("\n```", text.index('{"waves"'))]
    return _replace(tasks, block, '{"waves": "soon"}')


def _meta_not_json(project: Path) -> int:
    (project / FOLDER / ".tasks-meta.json").write_text(
        '{\n  "statuses": {\n    "2.2": "queued",\n  }\n}', encoding="utf-8"
    )
    return 4


def _meta_not_an_object(project: Path) -> int:
    (project / FOLDER / ".tasks-meta.json").write_text('["2.2"]\n', encoding="utf-8")
    return 1


def _config_not_json(project: Path) -> int:
    (project / FOLDER / ".config.kiro").write_text('{"specId": "x", specType}', encoding="utf-8")
    return 1


def _requirements_not_utf8(project: Path) -> int:
    path = project / FOLDER / "requirements.md"
    line = _replace(path, "### Requirement 2: Report", "### Requirement 2: R\x00port")
    path.write_bytes(path.read_bytes().replace(b"R\x00port", b"R\xe9port"))
    return line


def _tasks_not_utf8(project: Path) -> int:
    path = project / FOLDER / "tasks.md"
    line = _replace(path, "Checkpoint - Ensure", "Checkpoint \x00 Ensure")
    path.write_bytes(path.read_bytes().replace(b"\x00", b"\x96"))  # a cp1252 dash
    return line


def _duplicate_task_id(project: Path) -> int:
    return _replace(project / FOLDER / "tasks.md", "- [ ] 2.2 Write", "- [ ] 2.1 Write")


BREAKAGES = [
    Breakage("waves block not JSON", "tasks.md", "SpecSyntaxError", _waves_not_json),
    Breakage("waves block wrong shape", "tasks.md", "SpecSyntaxError", _waves_wrong_shape),
    Breakage("tasks-meta not JSON", ".tasks-meta.json", "SpecSyntaxError", _meta_not_json),
    Breakage("tasks-meta a list", ".tasks-meta.json", "SpecSyntaxError", _meta_not_an_object),
    Breakage("config not JSON", ".config.kiro", "SpecSyntaxError", _config_not_json),
    Breakage("requirements not UTF-8", "requirements.md", "SpecSyntaxError",
             _requirements_not_utf8),
    Breakage("tasks not UTF-8", "tasks.md", "SpecSyntaxError", _tasks_not_utf8),
    Breakage("duplicate task id", "tasks.md", "SpecSyntaxError", _duplicate_task_id),
]  # fmt: skip


@pytest.mark.parametrize("breakage", BREAKAGES, ids=str)
def test_malformed_spec_file_is_a_clear_error_and_nothing_is_written(
    example_project: Path, breakage: Breakage
) -> None:
    line = breakage.apply(example_project)
    before = tree_digest(example_project)

    for command in COMMANDS:
        result = specloom(*command, cwd=example_project)
        message = assert_user_error(result, f"{breakage.file}:{line}")
        assert result.stdout == "", command
        assert "word-frequency" in message.split(f"{breakage.file}:{line}")[0], message
        assert tree_digest(example_project) == before, command


@pytest.mark.parametrize("breakage", BREAKAGES, ids=str)
def test_malformed_spec_file_with_json_gives_an_error_object(
    example_project: Path, breakage: Breakage
) -> None:
    line = breakage.apply(example_project)
    before = tree_digest(example_project)

    for command in (["show", WORDFREQ], ["task", WORDFREQ, "2.2", "--status", "queued"],
                    ["list"]):  # fmt: skip
        data = json_error(specloom(*command, "--json", cwd=example_project))
        assert data == IsPartialDict(error=breakage.error, line=line), command
        assert data["file"].endswith(f"{FOLDER.as_posix()}/{breakage.file}"), data
    assert tree_digest(example_project) == before


@pytest.mark.parametrize(
    "breakage", [b for b in BREAKAGES if b.name.endswith("not UTF-8")], ids=str
)
def test_error_paths_are_shown_relative_to_the_root_like_every_other(
    example_project: Path, breakage: Breakage
) -> None:
    """Parse errors and findings name ``.kiro/specs/<spec>/<file>``; an encoding error in
    the same file should too, so ``--json`` consumers can match them up."""
    breakage.apply(example_project)

    data = json_error(specloom("show", WORDFREQ, "--json", cwd=example_project))

    assert data["file"] == f"{FOLDER.as_posix()}/{breakage.file}"


def test_waves_error_points_at_the_json_column(example_project: Path) -> None:
    _waves_not_json(example_project)
    tasks = (example_project / FOLDER / "tasks.md").read_text(encoding="utf-8")
    bad_line = next(line for line in tasks.splitlines() if line.startswith('{"waves"'))

    data = json_error(specloom("tasks", WORDFREQ, "--json", cwd=example_project))

    assert data["column"] == bad_line.index('"tasks"') + 1
    assert "JSON" in data["message"]


def test_a_folder_with_no_spec_files_is_not_a_spec(example_project: Path) -> None:
    empty = example_project / SPEC / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("ideas\n", encoding="utf-8")
    before = tree_digest(example_project)

    for command in spec_commands("empty"):
        assert_user_error(specloom(*command, cwd=example_project), ".kiro/specs/empty")
        data = json_error(specloom(*command, "--json", cwd=example_project))
        assert data == IsPartialDict(error="WorkspaceError", file=".kiro/specs/empty", line=None)
    listed = specloom("list", "--json", cwd=example_project)
    assert listed.returncode == 0
    assert [row["name"] for row in json.loads(listed.stdout)] == [WORDFREQ]
    assert tree_digest(example_project) == before


def test_an_unknown_spec_name_lists_the_known_ones(example_project: Path) -> None:
    before = tree_digest(example_project)

    for command in spec_commands("nope"):
        message = assert_user_error(specloom(*command, cwd=example_project), "'nope'", WORDFREQ)
        assert ".kiro/specs" in message
        data = json_error(specloom(*command, "--json", cwd=example_project))
        assert data == IsPartialDict(error="SpecNotFoundError", file=".kiro/specs", line=None)
    assert tree_digest(example_project) == before


@pytest.mark.parametrize("command", ["show", "tasks", "analyze", "trace", "task"])
def test_a_missing_spec_name_is_a_usage_error(example_project: Path, command: str) -> None:
    before = tree_digest(example_project)

    result = specloom(command, cwd=example_project)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "Missing argument" in result.stderr
    assert tree_digest(example_project) == before


def test_a_missing_spec_name_with_json_still_prints_a_json_error(example_project: Path) -> None:
    """Every error under ``--json`` is a JSON object on stdout, usage errors included, so a
    script can always parse what it gets."""
    result = specloom("show", "--json", cwd=example_project)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert json.loads(result.stdout or "null") == IsPartialDict(error=IsStr, message=IsStr)


def test_no_kiro_folder_at_all(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "README.md").write_text("# hello\n", encoding="utf-8")
    if any((f / ".kiro").is_dir() or (f / ".git").exists() for f in folder.parents):
        pytest.skip("the temporary folder lies inside a project")
    before = tree_digest(folder)

    for command in [["list"], ["lint"], *spec_commands(WORDFREQ)]:
        message = assert_user_error(specloom(*command, cwd=folder), "specloom init")
        assert str(folder.resolve()) in message
        data = json_error(specloom(*command, "--json", cwd=folder))
        assert data == IsPartialDict(error="WorkspaceError", file=str(folder.resolve()), line=None)
    assert tree_digest(folder) == before


def test_a_git_repository_without_kiro_has_no_specs(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "src").mkdir()

    result = specloom("list", "--json", cwd=tmp_path / "src")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
    assert_user_error(specloom("show", "x", cwd=tmp_path / "src"), "'x'")


def test_tasks_md_missing_for_task_and_tasks(example_project: Path) -> None:
    (example_project / FOLDER / "tasks.md").unlink()
    before = tree_digest(example_project)

    for command in (["task", WORDFREQ, "1", "--status", "done"], ["tasks", WORDFREQ]):
        assert_user_error(specloom(*command, cwd=example_project), "tasks.md")
        data = json_error(specloom(*command, "--json", cwd=example_project))
        assert data["file"] == f"{FOLDER.as_posix()}/tasks.md"
    assert tree_digest(example_project) == before


def test_init_with_kiro_as_a_file_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / ".kiro").write_text("not a folder\n", encoding="utf-8")
    before = tree_digest(tmp_path)

    assert_user_error(specloom("init", cwd=tmp_path), ".kiro")
    data = json_error(specloom("init", "--json", cwd=tmp_path))

    assert data == IsPartialDict(error="WorkspaceError", file=".kiro", line=None)
    assert tree_digest(tmp_path) == before


def test_init_with_a_file_in_the_way_changes_nothing(tmp_path: Path) -> None:
    """``init`` refuses when ``.kiro/hooks`` is a file; it must not have created the folders
    before it (specs, steering) on its way to that refusal."""
    (tmp_path / ".kiro").mkdir()
    (tmp_path / ".kiro" / "hooks").write_text("not a folder\n", encoding="utf-8")
    before = tree_digest(tmp_path)

    assert_user_error(specloom("init", cwd=tmp_path), ".kiro/hooks")

    assert tree_digest(tmp_path) == before


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_a_file_that_cannot_be_read_is_a_clear_error(example_project: Path) -> None:
    tasks = example_project / FOLDER / "tasks.md"
    tasks.chmod(0)
    try:
        result = specloom("show", WORDFREQ, cwd=example_project)
        data = json_error(specloom("show", WORDFREQ, "--json", cwd=example_project))
    finally:
        tasks.chmod(0o644)

    assert_user_error(result, "tasks.md")
    assert data["file"].endswith("tasks.md")


def test_errors_in_json_go_to_stdout_and_the_paragraph_to_stderr(example_project: Path) -> None:
    result = specloom("show", "nope", "--json", cwd=example_project)

    data = json_error(result)
    assert data == IsPartialDict(
        error="SpecNotFoundError",
        message="there is no spec named 'nope'.",
        file=".kiro/specs",
        line=None,
        hint=IsStr(regex=r".*word-frequency.*"),
    )
    assert result.stderr.startswith("error: .kiro/specs: there is no spec named 'nope'.")
    assert "\x1b" not in result.stdout + result.stderr


# -- errors of single commands ----------------------------------------------------------

CYCLE_TASKS = """# Implementation Plan

- [ ] 1. Build the parser
  - _Depends on: 2_

- [ ] 2. Build the printer
  - _Depends on: 1_

- [ ] 3. Document it
"""


def test_task_with_an_unknown_id_names_the_file_and_the_known_ids(example_project: Path) -> None:
    before = tree_digest(example_project)

    result = specloom("task", WORDFREQ, "9.9", "--status", "done", cwd=example_project)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert ".kiro/specs/word-frequency/tasks.md" in result.stderr
    assert "'9.9'" in result.stderr
    assert "1, 2, 2.1, 2.2, 3, 4" in result.stderr
    assert result.stdout == ""
    assert tree_digest(example_project) == before


def test_task_with_an_unknown_id_in_json(example_project: Path) -> None:
    data = json_output(
        specloom("task", WORDFREQ, "7", "--status", "done", "--json", cwd=example_project), 2
    )

    assert data == IsPartialDict(
        error="SpecNotFoundError",
        file=".kiro/specs/word-frequency/tasks.md",
        message=IsStr(regex=r".*'7'.*"),
        line=None,
    )


def test_task_with_an_unknown_status_is_a_usage_error(example_project: Path) -> None:
    before = tree_digest(example_project)

    result = specloom("task", WORDFREQ, "2.2", "--status", "finished", cwd=example_project)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--status" in result.stderr
    assert tree_digest(example_project) == before


def test_lint_exits_2_on_unreadable_input(tmp_path: Path) -> None:
    folder = write_spec(tmp_path, "broken", requirements_md="")
    (folder / "requirements.md").write_bytes(
        requirements("THE System SHALL answer in 1 s").encode() + b"\n5. caf\xe9\n"
    )
    before = tree_digest(tmp_path)

    result = specloom("lint", "broken", cwd=tmp_path)
    everything = specloom("lint", cwd=tmp_path)

    for outcome in (result, everything):
        assert outcome.returncode == 2
        assert "Traceback" not in outcome.stderr
        assert "requirements.md:13" in outcome.stderr
        assert "UTF-8" in outcome.stderr
    assert tree_digest(tmp_path) == before


def test_analyze_exits_2_on_unreadable_input(example_project: Path) -> None:
    design = example_project / SPEC / WORDFREQ / "design.md"
    design.write_bytes(design.read_bytes() + b"\n\xff\xfe\n")
    before = tree_digest(example_project)

    result = specloom("analyze", WORDFREQ, cwd=example_project)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "design.md" in result.stderr
    assert tree_digest(example_project) == before


@pytest.mark.parametrize(
    "options",
    [[], ["--waves"], ["--critical-path"], ["--graph", "mermaid"], ["--graph", "json"]],
)
def test_tasks_with_a_dependency_cycle_exits_2_naming_the_cycle(
    tmp_path: Path, options: list[str]
) -> None:
    write_spec(tmp_path, "loop", tasks_md=CYCLE_TASKS)
    before = tree_digest(tmp_path)

    result = specloom("tasks", "loop", *options, cwd=tmp_path)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    match = re.search(r"(\d) -> (\d) -> (\d)", result.stderr)
    assert match is not None, result.stderr
    assert match.group(1) == match.group(3) and {match.group(1), match.group(2)} == {"1", "2"}
    first_line = {"1": (3, 4), "2": (6, 7)}[match.group(1)]
    assert any(f".kiro/specs/loop/tasks.md:{n}" in result.stderr for n in first_line)
    assert tree_digest(tmp_path) == before


def test_tasks_with_a_dependency_cycle_in_json(tmp_path: Path) -> None:
    write_spec(tmp_path, "loop", tasks_md=CYCLE_TASKS)

    data = json_output(specloom("tasks", "loop", "--json", cwd=tmp_path), 2)

    assert data == IsPartialDict(
        error="DependencyCycleError",
        file=".kiro/specs/loop/tasks.md",
        line=IsOneOf(3, 4, 6, 7),
        message=IsStr(regex=r".*(1 -> 2 -> 1|2 -> 1 -> 2).*"),
    )


def test_tasks_of_a_spec_without_tasks_md(tmp_path: Path) -> None:
    write_spec(tmp_path, "early", requirements_md=requirements("THE System SHALL answer in 1 s"))

    result = specloom("tasks", "early", cwd=tmp_path)

    assert result.returncode == 2
    assert "tasks.md" in result.stderr
    assert "Traceback" not in result.stderr
