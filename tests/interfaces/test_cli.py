"""The offline CLI, run as a real process: init, list, show, task, lint, analyze, tasks, trace
and import do what the issue promises, in text and with ``--json``."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from dirty_equals import IsInstance, IsInt, IsOneOf, IsPartialDict, IsStr

from tests.interfaces.cli_helpers import (
    SPEC,
    WORDFREQ,
    WORDFREQ_TASKS,
    json_output,
    specloom,
    tree_digest,
    write_spec,
)

KIROCREW = "kirodotdev-KiroCrew__folder-steering-dirs"
BUGFIX = "agent-skips-git-question"
ONBOARDING = "onboarding-license-request-option"
ANSI = re.compile(r"\x1b[\[\]()#;?]*[0-9;]*[A-Za-z@-~]?")


def requirements(*criteria: str) -> str:
    """A one-requirement ``requirements.md`` with ``criteria`` (criterion 1.1 on line 11)."""
    lines = "\n".join(f"{number}. {text}" for number, text in enumerate(criteria, start=1))
    return (
        "# Requirements Document\n\n## Requirements\n\n### Requirement 1: Search\n\n"
        "**User Story:** As a reader, I want to search, so that I find things.\n\n"
        f"#### Acceptance Criteria\n\n{lines}\n"
    )


def byte_changes(before: bytes, after: bytes) -> list[tuple[int, str, str]]:
    """(offset, old, new) for each differing byte of two equally long files."""
    assert len(before) == len(after), (len(before), len(after))
    return [
        (i, chr(a), chr(b)) for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b
    ]


def show_contract(data: dict[str, Any]) -> dict[str, Any]:
    """``show --json`` reduced to the keys the issue promises (more keys are allowed)."""
    return {
        "name": data["name"],
        "type": data["type"],
        "requirements": [
            {
                "id": r["id"],
                "user_story": r["user_story"],
                "criteria": [
                    {"id": c["id"], "text": c["text"], "pattern": c["pattern"]}
                    for c in r["criteria"]
                ],
            }
            for r in data["requirements"]
        ],
        "tasks": [
            {
                key: t[key]
                for key in ("id", "title", "status", "optional", "requirements", "depends_on")
            }
            for t in data["tasks"]
        ],
        "properties": [
            {"id": p["id"], "title": p["title"], "validates": p["validates"]}
            for p in data["properties"]
        ],
    }


# -- init -------------------------------------------------------------------------------------


def test_init_creates_kiro_folders_and_leaves_everything_else_alone(tmp_path: Path) -> None:
    project = tmp_path / "project"
    steering = project / ".kiro" / "steering" / "product.md"
    steering.parent.mkdir(parents=True)
    steering.write_bytes(b"---\r\ninclusion: always\r\n---\r\n# Product\r\n")
    (project / "README.md").write_text("# readme\n", encoding="utf-8")
    steering_stat = steering.stat()
    before = tree_digest(project)

    created = json_output(specloom("init", "--json", cwd=project))

    assert created == {
        "root": str(project.resolve()),
        "created": [".kiro/specs", ".kiro/hooks", ".kiro/settings"],
    }
    after = tree_digest(project)
    assert {k: v for k, v in after.items() if k in before} == before
    assert sorted(set(after) - set(before)) == [".kiro/hooks/", ".kiro/settings/", ".kiro/specs/"]
    assert steering.stat().st_mtime_ns == steering_stat.st_mtime_ns

    again = specloom("init", cwd=project)
    assert again.returncode == 0, again.stderr
    assert "nothing changed" in again.stdout
    assert tree_digest(project) == after
    assert json_output(specloom("init", "--json", cwd=project))["created"] == []
    assert tree_digest(project) == after


def test_init_in_an_empty_folder_lists_what_it_created(tmp_path: Path) -> None:
    result = specloom("init", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "created .kiro/",
        "created .kiro/specs/",
        "created .kiro/steering/",
        "created .kiro/hooks/",
        "created .kiro/settings/",
    ]
    assert sorted(tree_digest(tmp_path)) == [
        ".kiro/", ".kiro/hooks/", ".kiro/settings/", ".kiro/specs/", ".kiro/steering/",
    ]  # fmt: skip


def test_init_with_root_works_from_another_folder(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    data = json_output(specloom("init", "--root", str(target), "--json", cwd=elsewhere))

    assert data["root"] == str(target.resolve())
    assert len(data["created"]) == 5
    assert (target / ".kiro" / "settings").is_dir()
    assert list(elsewhere.iterdir()) == []


def test_the_console_script_runs_too(example_project: Path) -> None:
    script = Path(sys.executable).with_name("specloom")
    if not script.exists():
        pytest.skip("no console script beside this interpreter")

    result = subprocess.run(
        [str(script), "list", "--json"], cwd=example_project, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip

    assert json_output(result)[0]["name"] == WORDFREQ


# -- list -------------------------------------------------------------------------------------


def test_list_shows_type_phase_and_progress(example_project: Path) -> None:
    assert json_output(specloom("list", "--json", cwd=example_project)) == [
        {"name": WORDFREQ, "type": "feature", "phase": "implementation", "done": 2, "total": 4}
    ]
    text = specloom("list", cwd=example_project)
    assert text.returncode == 0
    assert text.stdout.splitlines() == [
        "spec            type     phase           progress",
        "word-frequency  feature  implementation  2/4",
    ]


def test_list_from_a_nested_folder_finds_the_project(example_project: Path) -> None:
    nested = example_project / "tests"

    assert json_output(specloom("list", "--json", cwd=nested))[0]["name"] == WORDFREQ


def test_list_of_the_real_kiro_specs(kiro_project: Path) -> None:
    rows = json_output(specloom("list", "--json", cwd=kiro_project))

    assert rows == [
        {"name": "5-realtime-feedback-polish", "type": "feature", "phase": "done",
         "done": 30, "total": 30},
        {"name": BUGFIX, "type": "bugfix", "phase": "done", "done": 6, "total": 6},
        {"name": "ci-python-linting", "type": "feature", "phase": "done", "done": 6, "total": 6},
        {"name": "idea-panel", "type": "feature", "phase": "done", "done": 54, "total": 54},
        {"name": "jwt-authentication-system", "type": "feature", "phase": "done", "done": 73,
         "total": 73},
        {"name": KIROCREW, "type": "feature", "phase": "done", "done": 7, "total": 7},
        {"name": "kirodotdev-Kiro__github-issue-automation", "type": "feature",
         "phase": "implementation", "done": 26, "total": 29},
        {"name": ONBOARDING, "type": "feature", "phase": "done", "done": 3, "total": 3},
        {"name": "property-based-testing", "type": "feature", "phase": "tasks", "done": 0,
         "total": 43},
        {"name": "space-weirdos-game-rules", "type": "feature", "phase": "done", "done": 5,
         "total": 5},
    ]  # fmt: skip
    text = specloom("list", cwd=kiro_project).stdout.splitlines()
    assert text[0].split() == ["spec", "type", "phase", "progress"]
    assert [BUGFIX, "bugfix", "done", "6/6"] in [line.split() for line in text]


def test_list_of_a_project_without_specs(tmp_path: Path) -> None:
    (tmp_path / ".kiro").mkdir()

    assert json_output(specloom("list", "--json", cwd=tmp_path)) == []
    text = specloom("list", cwd=tmp_path)
    assert text.returncode == 0
    assert "No specs yet" in text.stdout


def test_list_follows_task_edits(example_project: Path) -> None:
    tasks = example_project / WORDFREQ_TASKS
    text = tasks.read_text(encoding="utf-8")
    tasks.write_text(
        text.replace("- [ ] 2.2", "- [x] 2.2").replace("- [ ] 4.", "- [x] 4."), encoding="utf-8"
    )

    assert json_output(specloom("list", "--json", cwd=example_project))[0] == IsPartialDict(
        phase="done", done=4, total=4
    )


# -- show -------------------------------------------------------------------------------------

WORDFREQ_SHOW: dict[str, Any] = {
    "name": WORDFREQ,
    "type": "feature",
    "requirements": [
        {
            "id": "1",
            "user_story": "As a writer, I want the words of my text counted, so that I can see "
            "which words I overuse.",
            "criteria": [
                {"id": "1.1", "pattern": "event", "text": "WHEN the CLI is given a path to a "
                 "UTF-8 text file, THE Counter SHALL count every word in the file"},
                {"id": "1.2", "pattern": "ubiquitous", "text": 'THE Counter SHALL treat words '
                 'case-insensitively, so that "The" and "the" are one word'},
                {"id": "1.3", "pattern": "ubiquitous", "text": "THE Counter SHALL ignore "
                 "punctuation at the start and end of each word"},
                {"id": "1.4", "pattern": "event", "text": "WHEN the file is empty, THE Counter "
                 "SHALL return an empty count"},
            ],
        },
        {
            "id": "2",
            "user_story": "As a writer, I want the most frequent words listed first, so that I "
            "can act on the worst offenders.",
            "criteria": [
                {"id": "2.1", "pattern": "event", "text": "WHEN counting finishes, THE CLI SHALL "
                 "print the words ordered by descending count, ties in alphabetical order"},
                {"id": "2.2", "pattern": "optional", "text": "WHERE the `--top N` option is "
                 "given, THE CLI SHALL print only the first N words"},
                {"id": "2.3", "pattern": "ubiquitous", "text": "THE CLI SHALL print results "
                 "quickly"},
            ],
        },
        {
            "id": "3",
            "user_story": "As a user, I want clear errors, so that I know what to fix.",
            "criteria": [
                {"id": "3.1", "pattern": "unwanted", "text": "IF the file does not exist, THEN "
                 "THE CLI SHALL print an error naming the path and exit with status 2"},
                {"id": "3.2", "pattern": "unwanted", "text": "IF `--top` is not a positive "
                 "integer, THEN THE CLI SHALL print a usage error and exit with status 2"},
            ],
        },
    ],
    "tasks": [
        {"id": "1", "title": "Implement word counting", "status": "done", "optional": False,
         "requirements": ["1.1", "1.2", "1.3", "1.4"], "depends_on": []},
        {"id": "2", "title": "Implement the report", "status": "in_progress", "optional": False,
         "requirements": [], "depends_on": []},
        {"id": "2.1", "title": "Write `top_words` in `wordfreq.py`", "status": "done",
         "optional": False, "requirements": ["2.1", "2.2"], "depends_on": ["1"]},
        {"id": "2.2", "title": "Write the command-line entry point `main`", "status": "todo",
         "optional": False, "requirements": ["2.2", "3.1", "3.2"], "depends_on": ["2.1"]},
        {"id": "3", "title": "Write property tests", "status": "todo", "optional": True,
         "requirements": ["1.1", "1.2", "1.4", "2.1", "2.2"], "depends_on": ["2.1"]},
        {"id": "4", "title": "Checkpoint - Ensure all tests pass", "status": "todo",
         "optional": False, "requirements": [], "depends_on": ["2.2", "3"]},
    ],
    "properties": [
        {"id": "1", "title": "Counts add up", "validates": ["1.1", "1.4"]},
        {"id": "2", "title": "Case does not matter", "validates": ["1.2"]},
        {"id": "3", "title": "Ordering is total", "validates": ["2.1", "2.2"]},
    ],
}  # fmt: skip

CRITERION = IsPartialDict(
    id=IsStr(regex=r"\d+\.\d+"),
    text=IsStr(min_length=1),
    pattern=IsOneOf(
        "ubiquitous", "event", "state", "unwanted", "optional", "complex", "not_ears"
    ),  # fmt: skip
)
REQUIREMENT = IsPartialDict(id=IsStr(regex=r"\d+"), user_story=IsStr, criteria=IsInstance(list))
TASK = IsPartialDict(
    id=IsStr(min_length=1),
    title=IsStr,
    status=IsOneOf("todo", "in_progress", "done", "queued"),
    optional=IsInstance(bool),
    requirements=IsInstance(list),
    depends_on=IsInstance(list),
)
PROPERTY = IsPartialDict(id=IsStr, title=IsStr, validates=IsInstance(list))


def assert_show_shape(data: dict[str, Any]) -> None:
    """``data`` has the shape the issue promises for ``show --json`` (more keys allowed)."""
    assert data == IsPartialDict(
        name=IsStr(min_length=1), type=IsOneOf("feature", "bugfix"), requirements=IsInstance(list),
        tasks=IsInstance(list), properties=IsInstance(list),
    )  # fmt: skip
    for requirement in data["requirements"]:
        assert requirement == REQUIREMENT
        assert all(criterion == CRITERION for criterion in requirement["criteria"]), requirement
        assert all(c["id"].startswith(requirement["id"] + ".") for c in requirement["criteria"])
    for task in data["tasks"]:
        assert task == TASK
        assert all(isinstance(ref, str) for ref in task["requirements"] + task["depends_on"])
    for prop in data["properties"]:
        assert prop == PROPERTY
        assert all(isinstance(ref, str) for ref in prop["validates"])


def test_show_json_of_the_wordfreq_example(example_project: Path) -> None:
    data = json_output(specloom("show", WORDFREQ, "--json", cwd=example_project))

    assert_show_shape(data)
    assert show_contract(data) == WORDFREQ_SHOW
    assert data["phase"] == "implementation"
    assert data["progress"] == {"done": 2, "total": 4}
    assert [t["parent"] for t in data["tasks"]] == [None, None, "2", "2", None, None]
    assert [t["line"] for t in data["tasks"]] == [3, 7, 8, 11, 15, 22]
    assert data["tasks"][4]["properties"] == ["1", "2", "3"]


def test_show_json_of_a_real_kiro_bugfix_spec(kiro_project: Path) -> None:
    data = json_output(specloom("show", BUGFIX, "--json", cwd=kiro_project))

    assert_show_shape(data)
    contract = show_contract(data)
    assert contract["name"] == BUGFIX
    assert contract["type"] == "bugfix"
    assert [(r["id"], [c["id"] for c in r["criteria"]]) for r in contract["requirements"]] == [
        ("1", ["1.1", "1.2", "1.3"]),
        ("2", ["2.1", "2.2", "2.3"]),
        ("3", ["3.1", "3.2", "3.3", "3.4"]),
    ]
    criteria = {c["id"]: c for r in contract["requirements"] for c in r["criteria"]}
    assert criteria["2.3"] == {
        "id": "2.3",
        "pattern": "event",
        "text": "WHEN the bootcamper responds to the git repo question THEN the system SHALL act "
        "on the response (initialize git if yes, skip if no) and only then proceed to Step 2 "
        "and write the Step 1 checkpoint.",
    }
    assert criteria["3.2"]["text"].startswith("WHEN the agent asks other 👉-prefixed questions")
    assert contract["tasks"] == [
        {"id": "1", "title": "Write bug condition exploration test", "status": "done",
         "optional": False, "requirements": ["1.1", "1.2", "1.3"], "depends_on": []},
        {"id": "2", "title": "Write preservation property tests (BEFORE implementing fix)",
         "status": "done", "optional": False, "requirements": ["3.1", "3.2", "3.3", "3.4"],
         "depends_on": []},
        {"id": "3", "title": "Fix for agent skipping git initialization question in Module 1 "
         "Step 1", "status": "done", "optional": False, "requirements": [], "depends_on": []},
        {"id": "3.1", "title": "Implement the fix in "
         "`senzing-bootcamp/steering/module-01-business-problem.md`", "status": "done",
         "optional": False, "requirements": ["2.1", "2.2", "2.3", "3.1", "3.2", "3.3", "3.4"],
         "depends_on": []},
        {"id": "3.2", "title": "Verify bug condition exploration test now passes",
         "status": "done", "optional": False, "requirements": ["2.1", "2.2", "2.3"],
         "depends_on": []},
        {"id": "3.3", "title": "Verify preservation tests still pass", "status": "done",
         "optional": False, "requirements": [], "depends_on": []},
        {"id": "4", "title": "Checkpoint - Ensure all tests pass", "status": "done",
         "optional": False, "requirements": [], "depends_on": []},
    ]  # fmt: skip
    assert contract["properties"] == [
        {"id": "1", "title": "Bug Condition - Git Question Uses 👉 Marker and Stop Instruction",
         "validates": ["2.1", "2.2", "2.3"]},
        {"id": "2", "title": "Preservation - Non-Git-Question Behavior Unchanged",
         "validates": ["3.1", "3.2", "3.3", "3.4"]},
    ]  # fmt: skip
    assert [t["parent"] for t in data["tasks"]] == [None, None, None, "3", "3", "3", None]


def test_show_json_of_a_real_kiro_feature_spec(kiro_project: Path) -> None:
    data = json_output(specloom("show", ONBOARDING, "--json", cwd=kiro_project))

    assert_show_shape(data)
    contract = show_contract(data)
    assert contract["type"] == "feature"
    assert [r["id"] for r in contract["requirements"]] == ["1", "2", "3", "4"]
    assert contract["requirements"][1] == {
        "id": "2",
        "user_story": "As a maintainer, I want the onboarding licensing line to stay accurate as "
        "Senzing's terms change, so that the overview never presents stale figures.",
        "criteria": [
            {"id": "2.1", "pattern": "not_ears", "text": "THE Licensing_Line MAY refer to the "
             "built-in evaluation limit by the figure already used elsewhere in onboarding (500 "
             "records) for orientation, but SHALL NOT introduce any new hardcoded validity "
             "period or capacity figure for the In_Flow_MCP_Request evaluation license."},
            {"id": "2.2", "pattern": "event", "text": "WHEN the bootcamper asks for the specific "
             "capacity or validity of a requested evaluation license during onboarding, THE "
             "Agent SHALL defer to the Module_1_Licensing_Flow, which sources those values from "
             "the Senzing MCP server at request time."},
        ],
    }  # fmt: skip
    patterns = {c["id"]: c["pattern"] for r in contract["requirements"] for c in r["criteria"]}
    assert patterns["1.2"] == "optional"
    assert [c["id"] for r in contract["requirements"] for c in r["criteria"]] == [
        "1.1", "1.2", "1.3", "1.4", "2.1", "2.2", "3.1", "3.2", "3.3", "4.1", "4.2", "4.3",
    ]  # fmt: skip
    assert contract["tasks"] == [
        {"id": "1", "title": "Write the content test (before editing the steering file)",
         "status": "done", "optional": False, "requirements": ["4.1", "4.2", "4.3"],
         "depends_on": []},
        {"id": "2", "title": "Rewrite the onboarding licensing bullet", "status": "done",
         "optional": False,
         "requirements": ["1.1", "1.2", "1.3", "1.4", "2.1", "2.2", "3.1", "3.2"],
         "depends_on": []},
        {"id": "3", "title": "Verify tests, CommonMark, and token budget", "status": "done",
         "optional": False, "requirements": ["3.3", "4.1", "4.2"], "depends_on": []},
    ]  # fmt: skip
    assert contract["properties"] == [
        {"id": "1", "title": "Three options present", "validates": ["1.1", "1.2", "1.4"]},
        {"id": "2", "title": "No URLs introduced", "validates": ["3.1"]},
    ]


def test_show_json_of_a_spec_with_tasks_meta(kiro_project: Path) -> None:
    data = json_output(specloom("show", KIROCREW, "--json", cwd=kiro_project))

    assert_show_shape(data)
    assert [(t["id"], t["status"]) for t in data["tasks"]] == [
        (task_id, "done")
        for task_id in ("1", "1.1", "2", "2.1", "3", "3.1", "4", "4.1", "5", "5.1", "6", "6.1",
                        "7", "7.1")
    ]  # fmt: skip
    assert data["tasks"][1]["requirements"][:3] == ["2.1", "2.2", "2.3"]
    assert data["properties"] == []


def test_show_json_of_every_real_kiro_spec_has_the_promised_shape(kiro_project: Path) -> None:
    names = [row["name"] for row in json_output(specloom("list", "--json", cwd=kiro_project))]
    assert len(names) == 10
    for name in names:
        data = json_output(specloom("show", name, "--json", cwd=kiro_project))
        assert_show_shape(data)
        ids = [t["id"] for t in data["tasks"]]
        assert len(ids) == len(set(ids)), name
        assert [t["line"] for t in data["tasks"]] == sorted(t["line"] for t in data["tasks"])


def test_show_text(example_project: Path) -> None:
    result = specloom("show", WORDFREQ, cwd=example_project)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "word-frequency  (feature, phase: implementation, 2/4 tasks done)"
    assert "Requirement 1: Count words" in lines
    assert (
        "     2.2 [optional] WHERE the `--top N` option is given, THE CLI SHALL print only the "
        "first N words"
    ) in lines
    assert "Tasks" in lines
    assert any(line.split()[:2] == ["2.2", "todo"] for line in lines)


def test_show_accepts_a_folder_path(example_project: Path) -> None:
    folder = example_project / SPEC / WORDFREQ

    data = json_output(specloom("show", str(folder), "--json", cwd=example_project))

    assert data["name"] == WORDFREQ
    assert len(data["tasks"]) == 6


# -- task -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task_id", "status", "old", "new"),
    [
        ("2.2", "in_progress", " ", "-"),
        ("2.2", "done", " ", "x"),
        ("2.2", "queued", " ", "~"),
        ("2.1", "todo", "x", " "),
    ],
)
def test_task_status_changes_exactly_one_character(
    example_project: Path, task_id: str, status: str, old: str, new: str
) -> None:
    tasks = example_project / WORDFREQ_TASKS
    before = tasks.read_bytes()
    others = {k: v for k, v in tree_digest(example_project).items() if k != str(WORDFREQ_TASKS)}

    result = specloom("task", WORDFREQ, task_id, "--status", status, cwd=example_project)

    assert result.returncode == 0, result.stderr
    changes = byte_changes(before, tasks.read_bytes())
    assert len(changes) == 1
    offset, was, now = changes[0]
    assert (was, now) == (old, new)
    line = before[:offset].count(b"\n") + 1
    assert before.splitlines()[line - 1].lstrip().startswith(f"- [{old}] {task_id}".encode())
    assert {k: v for k, v in tree_digest(example_project).items()
            if k != str(WORDFREQ_TASKS)} == others  # fmt: skip
    shown = json_output(specloom("show", WORDFREQ, "--json", cwd=example_project))
    assert {t["id"]: t["status"] for t in shown["tasks"]}[task_id] == status


def test_task_status_round_trip_through_every_status(example_project: Path) -> None:
    tasks = example_project / WORDFREQ_TASKS
    original = tasks.read_bytes()
    previous = original
    for status, char in [("in_progress", "-"), ("done", "x"), ("queued", "~"), ("todo", " ")]:
        data = json_output(
            specloom("task", WORDFREQ, "2.2", "--status", status, "--json", cwd=example_project)
        )
        assert data == {"spec": WORDFREQ, "task": "2.2", "before": IsStr, "status": status}
        current = tasks.read_bytes()
        changes = byte_changes(previous, current)
        assert [new for _, _, new in changes] == [char]
        previous = current
    assert tasks.read_bytes() == original


def test_task_text_output_says_before_and_after(example_project: Path) -> None:
    result = specloom("task", WORDFREQ, "2.2", "--status", "done", cwd=example_project)

    assert result.returncode == 0, result.stderr
    assert result.stdout == "task 2.2: todo -> done\n"


def test_task_status_that_is_already_set_changes_nothing(example_project: Path) -> None:
    before = tree_digest(example_project)

    result = specloom("task", WORDFREQ, "1", "--status", "done", cwd=example_project)

    assert result.returncode == 0, result.stderr
    assert tree_digest(example_project) == before


def test_task_status_keeps_crlf_line_endings(example_project: Path) -> None:
    tasks = example_project / WORDFREQ_TASKS
    tasks.write_bytes(tasks.read_bytes().replace(b"\n", b"\r\n"))
    before = tasks.read_bytes()

    result = specloom("task", WORDFREQ, "2.2", "--status", "done", cwd=example_project)

    assert result.returncode == 0, result.stderr
    assert [new for _, _, new in byte_changes(before, tasks.read_bytes())] == ["x"]
    assert tasks.read_bytes().count(b"\r\n") == before.count(b"\r\n")


def test_task_status_keeps_a_byte_order_mark(example_project: Path) -> None:
    """Windows editors often save with a UTF-8 BOM; setting a status must not drop it."""
    tasks = example_project / WORDFREQ_TASKS
    tasks.write_bytes(b"\xef\xbb\xbf" + tasks.read_bytes())
    before = tasks.read_bytes()

    result = specloom("task", WORDFREQ, "2.2", "--status", "done", cwd=example_project)

    assert result.returncode == 0, result.stderr
    after = tasks.read_bytes()
    assert after.startswith(b"\xef\xbb\xbf")
    assert [new for _, _, new in byte_changes(before, after)] == ["x"]


def test_task_status_keeps_the_file_mode(example_project: Path) -> None:
    tasks = example_project / WORDFREQ_TASKS
    tasks.chmod(0o664)

    result = specloom("task", WORDFREQ, "2.2", "--status", "done", cwd=example_project)

    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(tasks.stat().st_mode) == 0o664


@pytest.mark.parametrize(
    ("status", "recorded"),
    [("queued", "queued"), ("in_progress", "in_progress"), ("done", "completed")],
)
def test_task_status_updates_tasks_meta_json(
    kiro_project: Path, status: str, recorded: str
) -> None:
    folder = kiro_project / SPEC / KIROCREW
    meta_path = folder / ".tasks-meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["x-unknown"] = {"kept": [1, 2, 3]}
    meta["statuses"]["4.1"] = "in_progress" if status != "in_progress" else "queued"
    meta_path.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    tasks_before = (folder / "tasks.md").read_bytes()
    checkbox = "x" if status == "done" else {"queued": "~", "in_progress": "-"}[status]

    result = specloom("task", KIROCREW, "4.1", "--status", status, cwd=kiro_project)

    assert result.returncode == 0, result.stderr
    after = json.loads(meta_path.read_text(encoding="utf-8"))
    assert list(after) == ["statuses", "pbt", "history", "x-unknown"]
    assert after["x-unknown"] == {"kept": [1, 2, 3]}
    assert after["pbt"] == {}
    assert after["statuses"] == {**meta["statuses"], "4.1": recorded}
    assert after["history"][:-1] == meta["history"]
    assert after["history"][-1] == {
        "ts": IsStr(regex=r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"),
        "taskId": "4.1",
        "status": recorded,
    }
    changes = byte_changes(tasks_before, (folder / "tasks.md").read_bytes())
    if status == "done":
        assert changes == []  # the box was already ticked
    else:
        assert [new for _, _, new in changes] == [checkbox]
    shown = json_output(specloom("show", KIROCREW, "--json", cwd=kiro_project))
    assert {t["id"]: t["status"] for t in shown["tasks"]}["4.1"] == status


def test_task_back_to_todo_records_history_in_tasks_meta_json(kiro_project: Path) -> None:
    folder = kiro_project / SPEC / KIROCREW
    meta_path = folder / ".tasks-meta.json"
    before = json.loads(meta_path.read_text(encoding="utf-8"))

    result = specloom("task", KIROCREW, "6.1", "--status", "todo", cwd=kiro_project)

    assert result.returncode == 0, result.stderr
    after = json.loads(meta_path.read_text(encoding="utf-8"))
    assert after["statuses"].get("6.1") in (None, "not_started", "todo")
    assert {k: v for k, v in after["statuses"].items() if k != "6.1"} == {
        k: v for k, v in before["statuses"].items() if k != "6.1"
    }
    assert after["history"][:-1] == before["history"]
    assert after["history"][-1] == IsPartialDict(taskId="6.1", ts=IsStr, status=IsStr)
    shown = json_output(specloom("show", KIROCREW, "--json", cwd=kiro_project))
    assert {t["id"]: t["status"] for t in shown["tasks"]}["6.1"] == "todo"


# -- lint and analyze -------------------------------------------------------------------------

FINDING = IsPartialDict(
    file=IsStr,
    line=IsInt(ge=1),
    column=IsInt(ge=1),
    rule=IsStr(regex=r"[A-Z]+\d{3}"),
    severity=IsOneOf("error", "warning", "info"),
    message=IsStr(min_length=1),
    suggestion=IsOneOf(None, IsStr),
)


def test_lint_exits_0_without_findings(tmp_path: Path) -> None:
    write_spec(tmp_path, "search", requirements_md=requirements(
        "WHEN the user presses Enter, THE Search SHALL show results within 200 ms"))  # fmt: skip

    result = specloom("lint", "search", cwd=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "0 findings (0 errors, 0 warnings, 0 infos)"
    assert json_output(specloom("lint", "search", "--json", cwd=tmp_path)) == []


def test_lint_exits_0_with_only_warnings(tmp_path: Path) -> None:
    write_spec(tmp_path, "search", requirements_md=requirements(
        "THE Search SHALL show results quickly"))  # fmt: skip

    findings = json_output(specloom("lint", "search", "--json", cwd=tmp_path), 0)

    assert findings and all(finding == FINDING for finding in findings)
    assert {f["severity"] for f in findings} <= {"warning", "info"}
    assert any(f["rule"] == "AMB001" and f["line"] == 11 for f in findings)


def test_lint_exits_1_with_an_error_finding(tmp_path: Path) -> None:
    write_spec(tmp_path, "speed", requirements_md=requirements("The system should be fast"))

    result = specloom("lint", "speed", cwd=tmp_path)
    findings = json_output(specloom("lint", "speed", "--json", cwd=tmp_path), 1)

    assert result.returncode == 1
    assert findings and all(finding == FINDING for finding in findings)
    errors = [f for f in findings if f["severity"] == "error"]
    assert errors
    assert {f["file"] for f in findings} == {".kiro/specs/speed/requirements.md"}
    assert all(f["line"] == 11 for f in findings)
    should = next(f for f in findings if f["rule"] == "EARS003")
    assert should == IsPartialDict(severity="error", column=15,
                                   suggestion="The system SHALL be fast")  # fmt: skip
    assert any(f["rule"] == "AMB001" and "'fast'" in f["message"] for f in findings)
    assert ".kiro/specs/speed/requirements.md:11:15: error EARS003 " in result.stdout
    assert "    suggestion: The system SHALL be fast" in result.stdout
    assert re.search(r"^\d+ findings \(\d+ errors?, ", result.stdout, re.MULTILINE)


@pytest.mark.parametrize(
    ("criterion", "rule"),
    [
        ("THE Exporter SHALL write the file to TBD", "AMB003"),
        ("the exporter writes files", "EARS001"),
    ],
)
def test_lint_flags_other_errors(tmp_path: Path, criterion: str, rule: str) -> None:
    write_spec(tmp_path, "export", requirements_md=requirements(criterion))

    findings = json_output(specloom("lint", "export", "--json", cwd=tmp_path), 1)

    assert any(f["rule"] == rule and f["severity"] == "error" for f in findings), findings


def test_lint_flags_an_exact_duplicate(tmp_path: Path) -> None:
    same = "WHEN the user saves, THE Editor SHALL write the file to disk"
    write_spec(tmp_path, "editor", requirements_md=requirements(same, same))

    findings = json_output(specloom("lint", "editor", "--json", cwd=tmp_path), 1)

    duplicate = next(f for f in findings if f["rule"] == "DUP001")
    assert duplicate == IsPartialDict(severity="error", line=12)


def test_lint_without_a_spec_lints_every_spec(tmp_path: Path) -> None:
    write_spec(tmp_path, "good", requirements_md=requirements(
        "WHEN the user presses Enter, THE Search SHALL show results within 200 ms"))  # fmt: skip
    write_spec(tmp_path, "bad", requirements_md=requirements("The system should be fast"))

    findings = json_output(specloom("lint", "--json", cwd=tmp_path), 1)

    assert {f["file"] for f in findings} == {".kiro/specs/bad/requirements.md"}
    write_spec(tmp_path, "bad", requirements_md=requirements("THE System SHALL answer in 1 s"))
    assert json_output(specloom("lint", "--json", cwd=tmp_path), 0) == []


def test_lint_of_the_real_kiro_specs_reports_the_onboarding_error(kiro_project: Path) -> None:
    findings = json_output(specloom("lint", "--json", cwd=kiro_project), 1)

    assert findings and all(finding == FINDING for finding in findings)
    assert (
        IsPartialDict(
            file=f".kiro/specs/{ONBOARDING}/requirements.md",
            line=59,
            column=4,
            rule="EARS001",
            severity="error",
        )
        in findings
    )


def test_analyze_exits_0_when_only_warnings(example_project: Path) -> None:
    findings = json_output(specloom("analyze", WORDFREQ, "--json", cwd=example_project), 0)

    assert findings and all(finding == FINDING for finding in findings)
    assert {f["severity"] for f in findings} <= {"warning", "info"}
    assert IsPartialDict(rule="ANA001", file=".kiro/specs/word-frequency/requirements.md",
                         line=33) in findings  # fmt: skip
    text = specloom("analyze", WORDFREQ, cwd=example_project)
    assert text.returncode == 0
    assert ".kiro/specs/word-frequency/requirements.md:33:4: warning ANA001 " in text.stdout


def test_analyze_exits_1_on_a_dangling_reference(tmp_path: Path) -> None:
    write_spec(
        tmp_path, "search",
        requirements_md=requirements(
            "WHEN the user presses Enter, THE Search SHALL show results within 200 ms"),
        tasks_md="# Implementation Plan\n\n- [ ] 1. Build search\n  - _Requirements: 1.1, 7.3_\n",
    )  # fmt: skip

    findings = json_output(specloom("analyze", "search", "--json", cwd=tmp_path), 1)

    assert findings and all(finding == FINDING for finding in findings)
    assert IsPartialDict(rule="ANA002", severity="error", file=".kiro/specs/search/tasks.md",
                         line=4) in findings  # fmt: skip
    assert "7.3" in next(f["message"] for f in findings if f["rule"] == "ANA002")


def test_analyze_exits_1_on_a_dependency_on_a_missing_task(tmp_path: Path) -> None:
    write_spec(
        tmp_path, "search",
        requirements_md=requirements(
            "WHEN the user presses Enter, THE Search SHALL show results within 200 ms"),
        tasks_md="# Implementation Plan\n\n- [ ] 1. Build search\n  - _Requirements: 1.1_\n"
        "  - _Depends on: 9_\n",
    )  # fmt: skip

    findings = json_output(specloom("analyze", "search", "--json", cwd=tmp_path), 1)

    assert IsPartialDict(rule="ANA004", severity="error") in findings


# -- tasks ------------------------------------------------------------------------------------


def test_tasks_graph_json_of_wordfreq(example_project: Path) -> None:
    data = json_output(specloom("tasks", WORDFREQ, "--graph", "json", cwd=example_project))

    assert [node["id"] for node in data["nodes"]] == ["1", "2.1", "2.2", "3", "4"]
    assert data["edges"] == [["1", "2.1"], ["2.1", "2.2"], ["2.1", "3"], ["2.2", "4"], ["3", "4"]]
    assert data["waves"] == [
        {"id": 0, "tasks": ["1"]},
        {"id": 1, "tasks": ["2.1"]},
        {"id": 2, "tasks": ["2.2", "3"]},
        {"id": 3, "tasks": ["4"]},
    ]
    assert data["critical_path"] == {"tasks": ["1", "2.1", "2.2", "4"], "length": 4}
    assert data["source"] == "explicit"
    assert [(t["id"], t["status"]) for t in data["tasks"]] == [
        ("1", "done"), ("2", "in_progress"), ("2.1", "done"), ("2.2", "todo"), ("3", "todo"),
        ("4", "todo"),
    ]  # fmt: skip
    assert json_output(specloom("tasks", WORDFREQ, "--json", cwd=example_project)) == data


def test_tasks_graph_mermaid_of_wordfreq(example_project: Path) -> None:
    result = specloom("tasks", WORDFREQ, "--graph", "mermaid", cwd=example_project)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "graph TD"
    assert '    t2_1["2.1 Write `top_words` in `wordfreq.py`"]' in lines
    edges = sorted(line.strip() for line in lines if "-->" in line)
    assert edges == ["t1 --> t2_1", "t2_1 --> t2_2", "t2_1 --> t3", "t2_2 --> t4", "t3 --> t4"]
    assert not any(line.lstrip().startswith("t2[") for line in lines)  # parents are no nodes


def test_tasks_waves_and_critical_path_text(example_project: Path) -> None:
    result = specloom("tasks", WORDFREQ, "--waves", "--critical-path", cwd=example_project)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    waves = [index for index, line in enumerate(lines) if line.startswith("Wave ")]
    assert [lines[i] for i in waves] == ["Wave 0", "Wave 1", "Wave 2", "Wave 3"]
    wave_2 = lines[waves[2] + 1 : waves[3]]
    assert [line.split()[0] for line in wave_2[1:]] == ["2.2", "3"]
    assert "critical path (4 tasks, length 4): 1 -> 2.1 -> 2.2 -> 4" in lines


def test_tasks_default_table(example_project: Path) -> None:
    result = specloom("tasks", WORDFREQ, cwd=example_project)

    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows[0][:2] == ["id", "status"]
    assert [row[0] for row in rows[1:]] == ["1", "2", "2.1", "2.2", "3*", "4"]
    assert rows[-1][-2:] == ["2.2,", "3"]


def test_tasks_of_a_kiro_spec_with_only_a_waves_block(kiro_project: Path) -> None:
    data = json_output(specloom("tasks", KIROCREW, "--graph", "json", cwd=kiro_project))

    assert data["source"] == "waves"
    assert data["waves"] == [
        {"id": 0, "tasks": ["1.1", "2.1", "3.1", "5.1", "6.1"]},
        {"id": 1, "tasks": ["4.1"]},
        {"id": 2, "tasks": ["7.1"]},
    ]
    assert sorted(data["edges"]) == sorted(
        [[first, "4.1"] for first in ("1.1", "2.1", "3.1", "5.1", "6.1")] + [["4.1", "7.1"]]
    )
    assert data["critical_path"]["length"] == 3
    assert data["critical_path"]["tasks"][1:] == ["4.1", "7.1"]


# -- trace ------------------------------------------------------------------------------------


def test_trace_json_of_wordfreq(example_project: Path) -> None:
    data = json_output(specloom("trace", WORDFREQ, "--json", cwd=example_project))

    rows = {row["criterion"]: row for row in data["rows"]}
    assert list(rows) == ["1.1", "1.2", "1.3", "1.4", "2.1", "2.2", "2.3", "3.1", "3.2"]
    assert "tests/test_wordfreq.py::test_counts_words_case_insensitively" in rows["1.1"]["tests"]
    assert rows["1.1"]["code"] == ["wordfreq.py"]
    assert rows["1.1"]["tasks"] == ["1", "3"]
    assert rows["1.3"]["tests"] == ["tests/test_wordfreq.py::test_strips_edge_punctuation"]
    assert rows["1.4"]["tests"] == [
        "tests/test_wordfreq.py::test_empty_text_gives_empty_count",
        "tests/test_wordfreq.py::test_property_counts_add_up",
    ]
    assert rows["2.1"]["tests"] == ["tests/test_wordfreq.py::test_property_ordering_is_total"]
    assert rows["2.3"] == IsPartialDict(tasks=[], tests=[], code=[])
    assert rows["3.1"] == IsPartialDict(tasks=["2.2"], tests=[])
    assert data["coverage"] == IsPartialDict(
        criteria=9, with_tasks=8, with_done_tasks=6, with_tests=6, with_code=6
    )


def test_trace_text_of_wordfreq(example_project: Path) -> None:
    result = specloom("trace", WORDFREQ, cwd=example_project)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Traceability: word-frequency"
    assert lines[1].split() == ["criterion", "tasks", "tests", "code"]
    assert lines[2].split() == ["1.1", "1,", "3", "2", "wordfreq.py"]
    assert lines[-1] == ("coverage: 9 criteria; tasks 88.9%, done 66.7%, tests 66.7%, code 66.7%")


def test_trace_sees_a_new_tagged_test(example_project: Path) -> None:
    (example_project / "tests" / "test_cli.py").write_text(
        'def test_missing_file_exits_2():\n    """Validates: Requirements 3.1"""\n',
        encoding="utf-8",
    )

    data = json_output(specloom("trace", WORDFREQ, "--json", cwd=example_project))

    row = next(row for row in data["rows"] if row["criterion"] == "3.1")
    assert row["tests"] == ["tests/test_cli.py::test_missing_file_exits_2"]


# -- import -----------------------------------------------------------------------------------

SPECKIT_SPEC = (
    """# Feature Specification: Photo Albums

**Feature Branch**: `001-photo-albums`
**Created**: 2025-01-01
**Status**: Draft
**Input**: User description: "Let me group my photos into albums."

## User Scenarios & Testing *(mandatory)*

### User Story 1 - Create an album (Priority: P1)

A user creates an album so that related photos are kept together.

**Why this priority**: Albums are the core of the feature.

**Independent Test**: Create an album and see it in the album list.

**Acceptance Scenarios**:

"""
    '1. **Given** no albums exist, **When** the user creates an album named "Trip", '
    '**Then** the album list shows "Trip"\n'
    '2. **Given** an album named "Trip" exists, **When** the user creates another album named '
    '"Trip", **Then** the system rejects the name as a duplicate\n'
    """
## Requirements *(mandatory)*

### Functional Requirements

- **FR-001**: System MUST let users create albums with a unique name
- **FR-002**: System MUST list albums by creation date, newest first
"""
)

SPECKIT_TASKS = """# Tasks: Photo Albums

## Phase 1: Setup

- [ ] T001 Create the project structure
- [ ] T002 [P] [US1] Implement the Album model in src/models/album.py
- [x] T003 [US1] Implement album creation in src/services/albums.py
"""

OPENSPEC_PROPOSAL = """## Why

Users cannot group photos.

## What Changes

- Add albums.
"""

OPENSPEC_TASKS = """## 1. Implementation

- [ ] 1.1 Add the Album model
- [ ] 1.2 Add the create-album endpoint
"""

OPENSPEC_SPEC = """# Albums

## ADDED Requirements

### Requirement: Album creation

The system SHALL let users create albums with a unique name.

#### Scenario: Create an album

- **WHEN** the user creates an album named "Trip"
- **THEN** the album list shows "Trip"
"""


def leaf_tasks(shown: dict[str, Any]) -> list[dict[str, Any]]:
    """The tasks of ``show --json`` output that no other task has as its parent."""
    parents = {t.get("parent") for t in shown["tasks"]}
    return [t for t in shown["tasks"] if t["id"] not in parents]


def speckit_feature(root: Path) -> Path:
    folder = root / "specs" / "001-photo-albums"
    folder.mkdir(parents=True)
    (folder / "spec.md").write_text(SPECKIT_SPEC, encoding="utf-8")
    (folder / "tasks.md").write_text(SPECKIT_TASKS, encoding="utf-8")
    return folder


def openspec_change(root: Path) -> Path:
    folder = root / "openspec" / "changes" / "add-albums"
    (folder / "specs" / "albums").mkdir(parents=True)
    (folder / "proposal.md").write_text(OPENSPEC_PROPOSAL, encoding="utf-8")
    (folder / "tasks.md").write_text(OPENSPEC_TASKS, encoding="utf-8")
    (folder / "specs" / "albums" / "spec.md").write_text(OPENSPEC_SPEC, encoding="utf-8")
    return folder


def test_import_speckit_creates_a_spec(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / ".kiro" / "specs").mkdir(parents=True)
    source = speckit_feature(tmp_path / "elsewhere")

    result = json_output(specloom("import", "speckit", str(source), "--json", cwd=project))

    assert result == IsPartialDict(
        spec=IsStr(min_length=1), folder=IsStr, files=IsInstance(list), warnings=IsInstance(list),
    )  # fmt: skip
    assert result["files"]
    name = result["spec"]
    folder = project / SPEC / name
    assert result["folder"] == f".kiro/specs/{name}"
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == sorted(result["files"])
    assert [p.name for p in (project / SPEC).iterdir()] == [name]  # no staging left behind
    assert [row["name"] for row in json_output(specloom("list", "--json", cwd=project))] == [name]
    shown = json_output(specloom("show", name, "--json", cwd=project))
    assert_show_shape(shown)
    assert shown["requirements"], "the user story becomes a requirement"
    criteria = [c["text"] for r in shown["requirements"] for c in r["criteria"]]
    assert any("Trip" in text for text in criteria)
    leaves = leaf_tasks(shown)
    assert len(leaves) == 3, "T001-T003, each a task (phases may group them)"
    assert [t["status"] for t in leaves] == ["todo", "todo", "done"]
    assert "Album model" in leaves[1]["title"]
    assert (source / "spec.md").read_text(encoding="utf-8") == SPECKIT_SPEC


def test_import_speckit_with_a_name(tmp_path: Path) -> None:
    source = speckit_feature(tmp_path)

    result = json_output(
        specloom("import", "speckit", str(source), "--name", "albums", "--json", cwd=tmp_path)
    )

    assert result["spec"] == "albums"
    assert (tmp_path / SPEC / "albums").is_dir()
    text = specloom("list", cwd=tmp_path)
    assert text.returncode == 0
    assert "albums" in text.stdout


def test_import_openspec_creates_a_spec(tmp_path: Path) -> None:
    source = openspec_change(tmp_path)

    result = json_output(
        specloom(
            "import", "openspec", str(source), "--name", "add-albums", "--json", cwd=tmp_path
        )  # fmt: skip
    )

    assert result["spec"] == "add-albums"
    shown = json_output(specloom("show", "add-albums", "--json", cwd=tmp_path))
    assert_show_shape(shown)
    assert [t["title"] for t in leaf_tasks(shown)] == [
        IsStr(regex=".*Album model.*"),
        IsStr(regex=".*create-album endpoint.*"),
    ]
    assert any("unique name" in c["text"] for r in shown["requirements"] for c in r["criteria"])


def test_import_text_output(tmp_path: Path) -> None:
    source = speckit_feature(tmp_path)

    result = specloom("import", "speckit", str(source), "--name", "albums", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("imported albums into .kiro/specs/albums: ")


def test_import_of_a_missing_folder_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    before = tree_digest(project)

    for kind in ("speckit", "openspec"):
        result = specloom("import", kind, str(tmp_path / "no-such-folder"), cwd=project)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert "no-such-folder" in result.stderr
        assert tree_digest(project) == before
    data = json_output(specloom("import", "speckit", "missing", "--json", cwd=project), 2)
    assert data == IsPartialDict(error="SpecNotFoundError", file=IsStr(regex=".*missing"))
    assert tree_digest(project) == before


def test_import_of_a_folder_in_no_known_format_exits_2_and_writes_nothing(
    tmp_path: Path,
) -> None:
    source = tmp_path / "notes"
    source.mkdir()
    (source / "ideas.txt").write_text("nothing a spec-kit importer can read\n", encoding="utf-8")
    project = tmp_path / "project"
    project.mkdir()

    result = specloom("import", "speckit", str(source), cwd=project)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert tree_digest(project) == {}


def test_import_over_an_existing_spec_needs_force(tmp_path: Path) -> None:
    source = speckit_feature(tmp_path)
    old = write_spec(tmp_path, "albums", requirements_md=requirements("THE App SHALL run"))
    before = tree_digest(tmp_path)

    refused = specloom("import", "speckit", str(source), "--name", "albums", cwd=tmp_path)

    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr
    assert "--force" in refused.stderr
    assert tree_digest(tmp_path) == before
    forced = specloom("import", "speckit", str(source), "--name", "albums", "--force",
                      cwd=tmp_path)  # fmt: skip
    assert forced.returncode == 0, forced.stderr
    assert "THE App SHALL run" not in (old / "requirements.md").read_text(encoding="utf-8")
    assert [p.name for p in (tmp_path / SPEC).iterdir()] == ["albums"]


def test_import_writes_files_anyone_may_read_like_any_other_file(tmp_path: Path) -> None:
    """The spec folder and files get the usual permissions (0o777/0o666 less the umask), not
    the owner-only modes of the temporary folder and files they were staged in."""
    umask = os.umask(0o022)
    os.umask(umask)
    source = speckit_feature(tmp_path)

    json_output(specloom("import", "speckit", str(source), "--name", "albums", "--json",
                         cwd=tmp_path))  # fmt: skip

    folder = tmp_path / SPEC / "albums"
    modes = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in [folder, *folder.iterdir()]}
    expected = {
        p.name: oct((0o777 if p.is_dir() else 0o666) & ~umask) for p in [folder, *folder.iterdir()]
    }
    assert modes == expected


# -- output when piped --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["list"],
        ["show", WORDFREQ],
        ["tasks", WORDFREQ],
        ["tasks", WORDFREQ, "--waves", "--critical-path"],
        ["lint"],
        ["analyze", WORDFREQ],
        ["trace", WORDFREQ],
        ["init"],
        ["show", "no-such-spec"],
        ["show"],
        ["task", WORDFREQ, "2.2", "--status", "finished"],
    ],
)
def test_piped_output_is_plain_text(
    example_project: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLORTERM", "truecolor")

    result = specloom(*args, cwd=example_project)

    assert result.stdout or result.stderr
    assert "\x1b" not in result.stdout
    assert "\x1b" not in result.stderr
    assert not any(ch in result.stdout for ch in "┃━┏┡│")


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_a_terminal_gets_a_drawn_table(example_project: Path) -> None:
    """The counterpart of the piped test: the same command on a terminal draws with rich."""
    import pty

    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "specloom", "list"], cwd=example_project, stdin=subprocess.DEVNULL,
        stdout=slave, stderr=slave, env={**os.environ, "TERM": "xterm-256color"},
    )  # fmt: skip
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=120)
    os.close(master)
    output = b"".join(chunks).decode("utf-8")

    assert process.returncode == 0
    assert "┃" in output or "│" in output
    assert "word-frequency" in ANSI.sub("", output)


def test_json_output_is_never_decorated(example_project: Path) -> None:
    for args in (["list"], ["show", WORDFREQ], ["tasks", WORDFREQ], ["trace", WORDFREQ],
                 ["lint"], ["analyze", WORDFREQ]):  # fmt: skip
        result = specloom(*args, "--json", cwd=example_project)
        assert result.returncode == 0, (args, result.stderr)
        json.loads(result.stdout)
        assert result.stderr == ""


def test_version_flag_prints_the_package_version() -> None:
    from specloom import __version__

    result = subprocess.run(
        [sys.executable, "-m", "specloom", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert result.stdout == f"specloom {__version__}\n"
