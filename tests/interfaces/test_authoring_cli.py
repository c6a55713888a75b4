"""``specloom new``, ``approve`` and ``refine`` through the real command line (typer's runner),
with a scripted model loaded by ``--model py:<file>:model``."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from specloom.interfaces.cli import app, authoring_commands
from specloom.settings import state_dir
from specloom.spec.bugfix import parse_bugfix
from specloom.spec.requirements import parse_requirements
from specloom.spec.tasks import parse_tasks
from tests.workflows.test_authoring import REQUIREMENTS

SCRIPTED = """
import json

from tests.workflows.test_authoring import scripted_model

model = scripted_model(json.loads({answers!r}))
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / ".kiro" / "specs").mkdir(parents=True)
    return root


def model_option(tmp_path: Path, answers: dict[str, Any] | None = None, name: str = "m") -> str:
    script = tmp_path / f"scripted_{name}.py"
    script.write_text(SCRIPTED.format(answers=json.dumps(answers or {})))
    return f"py:{script}:model"


def cli(project: Path, *args: str, model: str | None = None, stdin: str | None = None) -> Result:
    extra = ["--model", model] if model else []
    return CliRunner().invoke(app, [*args, *extra, "--root", str(project)], input=stdin)


def test_new_approve_approve_approve_in_plain_text(project: Path, tmp_path: Path) -> None:
    model = model_option(tmp_path)
    specs = project / ".kiro" / "specs"

    created = cli(project, "new", "Add notes", model=model)
    assert created.exit_code == 0, created.output
    assert "... writing requirements.md" in created.stdout
    assert "wrote .kiro/specs/add-notes/requirements.md" in created.stdout
    assert "requirements.md: 3 requirement(s), 4 acceptance criteria" in created.stdout
    assert "waiting for review: requirements" in created.stdout
    assert "approve: specloom approve add-notes" in created.stdout
    assert 'refine:  specloom refine add-notes "<feedback>"' in created.stdout
    tokens = created.stdout.splitlines()[-1]
    assert tokens.startswith("tokens: ") and tokens != "tokens: 0 in, 0 out"
    files = sorted(p.name for p in (specs / "add-notes").iterdir())
    assert files == [".config.kiro", "requirements.md"]

    design = cli(project, "approve", "add-notes", model=model)
    assert design.exit_code == 0, design.output
    assert "wrote .kiro/specs/add-notes/design.md" in design.stdout
    assert "waiting for review: design" in design.stdout

    tasks = cli(project, "approve", "add-notes", model=model)
    assert tasks.exit_code == 0, tasks.output
    assert parse_tasks((specs / "add-notes" / "tasks.md").read_text()).tasks

    done = cli(project, "approve", "add-notes")  # nothing left to write: no model needed
    assert done.exit_code == 0, done.output
    assert "the spec is ready to run" in done.stdout
    assert "run: specloom run add-notes --all" in done.stdout
    state = json.loads((state_dir(project) / "specs" / "add-notes.json").read_text())
    assert list(state["approved"]) == ["requirements", "design", "tasks"]


def test_json_output_and_refine(project: Path, tmp_path: Path) -> None:
    created = cli(project, "new", "Add notes", "--name", "notes", "--json",
                  model=model_option(tmp_path))  # fmt: skip
    assert created.exit_code == 0, created.output
    data = json.loads(created.stdout)
    assert (data["name"], data["phase"], data["awaiting"]) == ("notes", "requirements",
                                                              "requirements")  # fmt: skip
    assert data["written"] == [
        ".kiro/specs/notes/requirements.md",
        ".kiro/specs/notes/.config.kiro",
    ]
    assert data["tokens"]["input"] > 0 and data["tokens"]["output"] > 0
    assert data["next"][0] == "specloom approve notes"

    changed = copy.deepcopy(REQUIREMENTS)
    changed["requirements"][2]["criteria"].append(
        "WHEN a user deletes a note, THE Note_Service SHALL ask for confirmation first"
    )
    refined = cli(project, "refine", "notes", "Confirm deletes", "--json",
                  model=model_option(tmp_path, {"requirements": changed}, "refine"))  # fmt: skip
    assert refined.exit_code == 0, refined.output
    assert json.loads(refined.stdout)["awaiting"] == "requirements"
    criteria = parse_requirements((project / ".kiro/specs/notes/requirements.md").read_text())
    assert [c.id for c in criteria.criteria()] == ["1.1", "1.2", "2.1", "3.1", "3.2"]


def test_quick_with_yes_writes_everything(project: Path, tmp_path: Path) -> None:
    result = cli(project, "new", "Add notes", "--quick", "--yes", model=model_option(tmp_path))
    assert result.exit_code == 0, result.output
    assert "A few questions" not in result.stdout
    assert "the spec is ready to run" in result.stdout
    folder = project / ".kiro" / "specs" / "add-notes"
    assert {p.name for p in folder.iterdir()} == {".config.kiro", "requirements.md", "design.md",
                                                   "tasks.md"}  # fmt: skip


def test_bugfix_and_design_first_from_a_notes_file(project: Path, tmp_path: Path) -> None:
    model = model_option(tmp_path)
    bug = cli(project, "new", "Empty passwords log in", "--bugfix", "--json", model=model)
    assert bug.exit_code == 0, bug.output
    bugfix = parse_bugfix((project / ".kiro/specs/empty-passwords-log-in/bugfix.md").read_text())
    assert bugfix.bug_condition is not None and bugfix.expected

    notes = tmp_path / "design-notes.md"
    notes.write_text("# Sync engine\nPush local notes to a server every minute.\n")
    design = cli(project, "new", "--from", str(notes), "--json", model=model)
    assert design.exit_code == 0, design.output
    data = json.loads(design.stdout)
    assert (data["name"], data["awaiting"]) == ("sync-engine", "design")


def test_interactive_gates_refine_then_approve_then_stop(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(authoring_commands, "_interactive", lambda as_json, yes: not yes)
    changed = copy.deepcopy(REQUIREMENTS)
    changed["requirements"][0]["title"] = "Create and save notes"

    result = cli(project, "new", "Add notes", model=model_option(tmp_path, {"requirements": [
        REQUIREMENTS, changed]}), stdin="r\nName it create and save\na\ns\n")  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "requirements is waiting for your review." in result.stdout
    assert "... rewriting requirements.md" in result.stdout
    assert "... approved requirements.md" in result.stdout
    assert "design is waiting for your review." in result.stdout
    assert "waiting for review: design" in result.stdout
    folder = project / ".kiro" / "specs" / "add-notes"
    assert "### Requirement 1: Create and save notes" in (folder / "requirements.md").read_text()
    assert (folder / "design.md").is_file() and not (folder / "tasks.md").exists()


def test_interactive_quick_asks_the_clarifying_questions(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(authoring_commands, "_interactive", lambda as_json, yes: not yes)
    result = cli(project, "new", "Add notes", "--quick", model=model_option(tmp_path),
                 stdin="Only me\n\n\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "A few questions first" in result.stdout
    assert "Who uses the notes?" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("new", "x", "--quick", "--bugfix"), "cannot be combined"),
        (("new", "--from", "missing.md"), "the design notes file does not exist"),
        (("new",), "the request is empty"),
        (("approve", "nope"), "there is no spec named 'nope'"),
        (("refine", "nope", "more"), "there is no spec named 'nope'"),
    ],
)
def test_bad_input_is_one_paragraph_and_exit_2(
    project: Path, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = cli(project, *args, model=model_option(tmp_path))
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert list((project / ".kiro" / "specs").iterdir()) == []


def test_an_existing_spec_is_refused_before_any_model_is_needed(
    project: Path, tmp_path: Path
) -> None:
    model = model_option(tmp_path)
    assert cli(project, "new", "Add notes", model=model).exit_code == 0
    before = (project / ".kiro/specs/add-notes/requirements.md").read_text()
    again = cli(project, "new", "Add notes", "--json", model="no-such-model")
    assert again.exit_code == 2
    error = json.loads(again.stdout)
    assert error["message"] == "a spec named 'add-notes' already exists."
    assert error["file"] == ".kiro/specs/add-notes" and "--name" in error["hint"]
    assert (project / ".kiro/specs/add-notes/requirements.md").read_text() == before


def test_a_model_that_keeps_failing_writes_nothing(project: Path, tmp_path: Path) -> None:
    bad = copy.deepcopy(REQUIREMENTS)
    bad["requirements"][0]["criteria"] = []
    result = cli(project, "new", "Add notes", model=model_option(tmp_path, {"requirements": bad}))
    assert result.exit_code == 2
    assert "could not write a valid requirements document" in result.stderr
    assert "Nothing was written" in result.stderr
    assert list((project / ".kiro" / "specs").iterdir()) == []
