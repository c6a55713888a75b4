"""The review state of a spec: its file, and what is inferred for a spec made elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from specloom.errors import StateFileError
from specloom.settings import state_dir
from specloom.workflows.spec_state import (
    SpecState,
    document_name,
    infer_state,
    load_state,
    phase_order,
    present_phases,
    save_state,
    state_path,
)


def spec_folder(root: Path, name: str, *files: str, config: str | None = None) -> Path:
    folder = root / ".kiro" / "specs" / name
    folder.mkdir(parents=True)
    for file in files:
        (folder / file).write_text(f"# {file}\n")
    if config is not None:
        (folder / ".config.kiro").write_text(config)
    return folder


def test_phase_order_and_documents() -> None:
    assert phase_order("requirements-first") == ("requirements", "design", "tasks")
    assert phase_order("design-first") == ("design", "requirements", "tasks")
    assert phase_order(None) == phase_order("fast-task") == ("requirements", "design", "tasks")
    assert document_name("requirements", "bugfix") == "bugfix.md"
    assert document_name("requirements", "feature") == "requirements.md"
    assert document_name("tasks", "bugfix") == "tasks.md"


@pytest.mark.parametrize(
    ("files", "approved", "awaiting"),
    [
        (("requirements.md",), [], "requirements"),
        (("requirements.md", "design.md"), ["requirements"], "design"),
        (("requirements.md", "design.md", "tasks.md"), ["requirements", "design"], "tasks"),
    ],
)
def test_a_spec_without_state_approves_all_but_its_last_document(
    tmp_path: Path, files: tuple[str, ...], approved: list[str], awaiting: str
) -> None:
    folder = spec_folder(tmp_path, "feature", *files)

    state = load_state(tmp_path, "feature", folder)

    assert state.inferred
    assert list(state.approved) == approved
    assert all(at is None for at in state.approved.values())
    assert state.awaiting(present_phases(folder, state.spec_type)) == awaiting
    assert not state.complete


def test_inference_reads_the_workflow_and_the_bugfix_type(tmp_path: Path) -> None:
    config = '{"specId": "x", "workflowType": "design-first"}'
    design_first = spec_folder(tmp_path, "df", "design.md", config=config)
    state = infer_state("df", design_first)
    assert state.workflow == "design-first"
    assert state.awaiting(present_phases(design_first, state.spec_type)) == "design"
    assert state.next_phase() == "design"

    bugfix = spec_folder(tmp_path, "bug", "bugfix.md", "design.md")
    state = infer_state("bug", bugfix)
    assert state.spec_type == "bugfix"
    assert list(state.approved) == ["requirements"]
    assert state.awaiting(present_phases(bugfix, "bugfix")) == "design"


def test_saved_state_loads_back_and_wins_over_inference(tmp_path: Path) -> None:
    folder = spec_folder(tmp_path, "notes", "requirements.md", "design.md")
    state = SpecState("notes", "requirements-first", "feature", request="Add notes",
                      created="2026-01-01T00:00:00+00:00")  # fmt: skip
    state.approve("requirements", "2026-01-02T00:00:00+00:00")

    path = save_state(tmp_path, state)

    assert path == state_path(tmp_path, "notes") == state_dir(tmp_path) / "specs" / "notes.json"
    data = json.loads(path.read_text())
    assert data["approved"] == {"requirements": "2026-01-02T00:00:00+00:00"}
    loaded = load_state(tmp_path, "notes", folder)
    assert not loaded.inferred
    assert (loaded.request, loaded.created) == ("Add notes", "2026-01-01T00:00:00+00:00")
    assert loaded.approved == state.approved
    assert loaded.awaiting(present_phases(folder, "feature")) == "design"
    loaded.approve("design", "t")
    loaded.approve("tasks", "t")
    assert loaded.complete and loaded.next_phase() is None
    assert loaded.phase_after("design") == "tasks" and loaded.phase_after("tasks") is None


@pytest.mark.parametrize("content", ["{not json", '["a list"]', '{"approved": 3}'])
def test_a_damaged_state_file_is_a_clear_error(tmp_path: Path, content: str) -> None:
    folder = spec_folder(tmp_path, "notes", "requirements.md")
    path = state_path(tmp_path, "notes")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)

    with pytest.raises(StateFileError) as caught:
        load_state(tmp_path, "notes", folder)

    assert caught.value.file == str(path)
    assert "Delete the file" in str(caught.value)


def test_unknown_phases_in_the_file_are_ignored(tmp_path: Path) -> None:
    folder = spec_folder(tmp_path, "notes", "requirements.md")
    path = state_path(tmp_path, "notes")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"approved": {"requirements": "t", "deploy": "t"}}))
    assert load_state(tmp_path, "notes", folder).approved == {"requirements": "t"}
