"""Writing specs with a scripted model: review gates, lint-driven repair, refinement with
stable ids, design-first, quick plans, bugfix specs, and failures that leave nothing behind."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from specloom.errors import ModelRequestError, SpecNotFoundError, UsageError
from specloom.settings import Settings, state_dir
from specloom.spec.analysis import analyze_spec
from specloom.spec.bugfix import parse_bugfix
from specloom.spec.design import parse_design
from specloom.spec.graph import TaskGraph
from specloom.spec.lint import lint_criteria
from specloom.spec.meta import parse_config
from specloom.spec.requirements import parse_requirements
from specloom.spec.tasks import parse_tasks
from specloom.workflows.authoring import (
    AuthoringResult,
    approve_phase,
    clarifying_questions,
    create_spec,
    pending_generation,
    refine_phase,
    spec_name,
)
from specloom.workflows.authoring_schemas import copies_example
from specloom.workspace import Workspace
from tests.llm.conftest import installed_weights

# Which schema a request asks for, told by a top-level field only that schema has.
SCHEMA_KEYS = (
    ("questions", "questions"),
    ("criterion", "criterion"),
    ("validates", "links"),
    ("tasks", "tasks"),
    ("steps", "steps"),
    ("current", "bugfix"),
    ("root_cause", "bugfix-design"),
    ("components", "design"),
    ("requirements", "requirements"),
)

REQUIREMENTS: dict[str, Any] = {
    "introduction": "Notes lets a user keep short texts and find them again.",
    "glossary": [{"term": "Note_Service", "definition": "The module that stores notes."}],
    "requirements": [
        {
            "title": "Create notes",
            "user_story": "As a user, I want to create notes, so that I remember things.",
            "criteria": [
                "WHEN a user saves a note, THE Note_Service SHALL store the note with its "
                "creation time",
                "IF the note text is empty, THEN THE Note_Service SHALL reject the note with "
                "an error message",
            ],
        },
        {
            "title": "List notes",
            "user_story": "As a user, I want to list my notes, so that I can find them.",
            "criteria": [
                "WHEN a user opens the list, THE Note_Service SHALL return the notes newest first"
            ],
        },
        {
            "title": "Delete notes",
            "user_story": "As a user, I want to delete notes, so that old ones go away.",
            "criteria": [
                "WHEN a user deletes a note, THE Note_Service SHALL remove the note from storage"
            ],
        },
    ],
}

DESIGN: dict[str, Any] = {
    "overview": "A Note_Service over a JSON file store.",
    "architecture": "The CLI calls the Note_Service, which reads and writes the store.",
    "component_diagram": "```mermaid\ngraph TD\n  CLI --> Note_Service\n  Note_Service --> DB\n```",
    "sequence_diagram": "sequenceDiagram\n  User->>CLI: save\n  CLI->>Note_Service: save(text)",
    "components": [
        {
            "name": "Note_Service",
            "responsibility": "Creates, lists and deletes notes.",
            "interface": "save(text: str) -> Note; list() -> list[Note]; delete(id: int)",
        }
    ],
    "data_models": [{"name": "Note", "fields": ["id: int", "text: str", "created: datetime"]}],
    "error_handling": ["An empty text raises EmptyNoteError."],
    "testing_strategy": "Unit tests per operation; one property test per property.",
    "properties": [
        {
            "title": "Saved notes are listed",
            "statement": "For any non-empty text, saving it then listing returns it first.",
            "validates": ["1.1", "Requirements 2.1"],
        }
    ],
}

TASKS: dict[str, Any] = {
    "tasks": [
        {"title": "Create the Note model", "details": ["Add notes/model.py"],
         "requirements": ["1.1"], "kind": "code"},
        {"title": "Implement the Note_Service", "requirements": ["1.1", "1.2", "2.1", "3.1"],
         "depends_on": [1], "kind": "code"},
        {"title": "Write unit tests for the Note_Service", "requirements": ["1.2", "3.1"],
         "depends_on": [2], "kind": "unit-test"},
        {"title": "Write the saved-notes-are-listed property test", "requirements": ["2"],
         "depends_on": [2], "kind": "property-test", "property": 1, "optional": True},
    ]
}  # fmt: skip

LINKS: dict[str, Any] = {"validates": ["1.1", "Requirement 2"]}

BUGFIX: dict[str, Any] = {
    "introduction": "Login accepts an empty password for existing users.",
    "current": ["WHEN a user logs in with an empty password THEN the system logs the user in"],
    "expected": [
        "WHEN a user logs in with an empty password THEN the system SHALL reject the login"
    ],
    "unchanged": [
        "WHEN a user logs in with the correct password THEN the system SHALL CONTINUE TO "
        "log the user in",
        "WHEN a user logs in with a wrong password THEN the system SHALL CONTINUE TO reject "
        "the login",
    ],
    "input_type": "LoginRequest",
    "bug_condition": 'X.password = "" AND X.user.exists',
    "expected_result": "loginRejected(result)",
    "function": "login()",
}

BUGFIX_DESIGN: dict[str, Any] = {
    "overview": "auth.login skips the password check when the password is empty.",
    "root_cause": ["check_password returns True for an empty hash comparison"],
    "changes": ["auth/login.py: reject an empty password before check_password"],
    "testing_strategy": "Regression test first, then the two property tests.",
}

FIX_STEPS: dict[str, Any] = {
    "steps": [
        {"title": "Reject empty passwords in auth/login.py", "details": ["Return early"],
         "requirements": ["2.1"]},
        {"title": "Keep the error message of wrong passwords", "requirements": ["3.2"]},
    ]
}  # fmt: skip

ALL_ANSWERS: dict[str, Any] = {
    "requirements": REQUIREMENTS,
    "design": DESIGN,
    "tasks": TASKS,
    "links": LINKS,
    "bugfix": BUGFIX,
    "bugfix-design": BUGFIX_DESIGN,
    "steps": FIX_STEPS,
    "questions": {"questions": ["Who uses the notes", "Who uses the notes?", "Sync?", "Tags?"]},
    "criterion": {
        "criterion": "WHERE a note has a title, THE Note_Service SHALL show the title in the list"
    },
}


def schema_kind(info: AgentInfo) -> str:
    """The kind of document a request asks for."""
    if info.output_tools:
        schema = info.output_tools[0].parameters_json_schema
    else:
        assert info.model_request_parameters.output_object is not None
        schema = info.model_request_parameters.output_object.json_schema
    keys = set(schema.get("properties", {}))
    return next(kind for key, kind in SCHEMA_KEYS if key in keys)


def respond(info: AgentInfo, payload: object) -> ModelResponse:
    """``payload`` the way the request asked for it: an output tool call or JSON text; a
    ``str`` is an answer cut off at the output cap, sent as it is."""
    if isinstance(payload, str):
        return ModelResponse(parts=[TextPart(payload)], finish_reason="length")
    text = json.dumps(payload)
    if info.output_tools:
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, text)])
    return ModelResponse(parts=[TextPart(text)])


@dataclass
class Request:
    """One request the scripted model saw."""

    kind: str
    text: str  # every part of every request message, joined
    instructions: str
    max_tokens: int | None


@dataclass
class Script:
    """A scripted model: per kind, a list of answers used in turn (the last one repeats)."""

    answers: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(ALL_ANSWERS))
    seen: list[Request] = field(default_factory=list)

    def model(self, **attributes: object) -> FunctionModel:
        def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
            kind = schema_kind(info)
            text = "\n".join(
                str(getattr(part, "content", ""))
                for message in messages
                if message.kind == "request"
                for part in message.parts
            )
            settings = info.model_settings or {}
            self.seen.append(Request(kind, text, info.instructions or "",
                                     settings.get("max_tokens")))  # fmt: skip
            planned = self.answers[kind]
            if isinstance(planned, list):
                done = sum(1 for request in self.seen if request.kind == kind) - 1
                planned = planned[min(done, len(planned) - 1)]
            return respond(info, planned)

        model = FunctionModel(answer, model_name="scripted")
        for key, value in attributes.items():
            setattr(model, key, value)
        return model

    def requests(self, kind: str) -> list[Request]:
        return [request for request in self.seen if request.kind == kind]


def scripted_model(answers: dict[str, Any] | None = None) -> FunctionModel:
    """A scripted model answering every spec schema (for ``--model py:...`` in CLI tests)."""
    script = Script()
    if answers:
        script.answers.update(answers)
    return script.model()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / ".kiro" / "specs").mkdir(parents=True)
    (root / "notes").mkdir()
    (root / "notes" / "store.py").write_text("def load_notes(path):\n    return []\n")
    return root


def run(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return anyio.run(lambda: function(*args, **kwargs))


def new(
    project: Path, script: Script, request: str = "Add notes", **options: Any
) -> AuthoringResult:
    return run(create_spec, project, request, model=script.model(), settings=Settings(),
               **options)  # fmt: skip


def approve(project: Path, script: Script, name: str) -> AuthoringResult:
    return run(approve_phase, project, name, model=script.model(), settings=Settings())


def state_of(project: Path, name: str) -> dict[str, Any]:
    return json.loads((state_dir(project) / "specs" / f"{name}.json").read_text())


def test_gates_move_from_requirements_to_design_to_tasks_to_ready(project: Path) -> None:
    script = Script()
    folder = project / ".kiro" / "specs" / "add-notes"

    created = new(project, script)
    assert (created.name, created.phase, created.awaiting) == ("add-notes", "requirements",
                                                              "requirements")  # fmt: skip
    assert sorted(p.name for p in created.written) == [".config.kiro", "requirements.md"]
    assert sorted(p.name for p in folder.iterdir()) == [".config.kiro", "requirements.md"]
    config = parse_config((folder / ".config.kiro").read_text())
    assert (config.workflow_type, config.spec_type) == ("requirements-first", "feature")
    requirements = parse_requirements((folder / "requirements.md").read_text())
    assert [c.id for c in requirements.criteria()] == ["1.1", "1.2", "2.1", "3.1"]
    assert requirements.glossary[0].term == "Note_Service"
    assert lint_criteria(requirements.criteria(), "requirements.md") == []
    assert state_of(project, "add-notes")["approved"] == {}
    assert created.input_tokens > 0 and created.output_tokens > 0
    assert created.summary == ["requirements.md: 3 requirement(s), 4 acceptance criteria"]
    assert created.next_commands()[0] == "specloom approve add-notes"

    design = approve(project, script, "add-notes")
    assert (design.phase, design.awaiting) == ("design", "design")
    assert [p.name for p in design.written] == ["design.md"]
    assert list(state_of(project, "add-notes")["approved"]) == ["requirements"]
    parsed = parse_design((folder / "design.md").read_text())
    assert [d.kind for d in parsed.diagrams] == ["graph", "sequenceDiagram"]
    assert [(p.id, p.validates) for p in parsed.properties] == [("1", ["1.1", "2.1"])]
    assert {"overview", "architecture", "components-and-interfaces", "data-models",
            "correctness-properties", "error-handling", "testing-strategy"} <= {
        s.slug for s in parsed.sections}  # fmt: skip
    design_prompt = script.requests("design")[0].text
    assert "1.1 WHEN a user saves a note" in design_prompt

    tasks = approve(project, script, "add-notes")
    assert (tasks.phase, tasks.awaiting) == ("tasks", "tasks")
    plan = parse_tasks((folder / "tasks.md").read_text())
    assert [t.depends_on for t in plan.tasks] == [[], ["1"], ["2"], ["2"]]
    prop_test = plan.tasks[3]
    assert prop_test.optional and prop_test.properties == ["1"]
    assert prop_test.requirements == ["2.1"]  # a requirement's id stands for its criteria
    assert prop_test.validates == ["1.1", "2.1"]
    assert TaskGraph(plan).waves() == [["1"], ["2"], ["3", "4"]]
    assert "## Task Dependency Graph" in (folder / "tasks.md").read_text()
    assert tasks.findings == 0

    done = approve(project, script, "add-notes")
    assert (done.phase, done.awaiting, done.written) == ("done", None, [])
    assert done.next_commands() == ["specloom run add-notes --all"]
    assert list(state_of(project, "add-notes")["approved"]) == ["requirements", "design", "tasks"]
    again = approve(project, script, "add-notes")
    assert again.phase == "done" and again.written == []


def test_a_criterion_that_fails_the_lint_goes_back_to_the_model(project: Path) -> None:
    bad = copy.deepcopy(REQUIREMENTS)
    bad["requirements"][0]["criteria"][1] = "The system should be fast"
    script = Script()
    script.answers["requirements"] = [bad, REQUIREMENTS]

    result = new(project, script)

    attempts = script.requests("requirements")
    assert len(attempts) == 2
    repair = attempts[1].text
    assert 'Requirement 1 (Create notes), criterion 2 "The system should be fast"' in repair
    assert "Write instead: The system SHALL be fast" in repair
    text = (result.folder / "requirements.md").read_text()
    assert "should be fast" not in text and "SHALL reject the note" in text


def test_a_criterion_the_document_repairs_miss_is_rewritten_on_its_own(project: Path) -> None:
    stubborn = copy.deepcopy(REQUIREMENTS)
    stubborn["requirements"][2]["criteria"].append("WHERE the note has a title")
    script = Script()
    script.answers["requirements"] = stubborn

    result = run(create_spec, project, "Add notes", model=script.model(), settings=Settings(),
                 repairs=1)  # fmt: skip

    assert len(script.requests("requirements")) == 2
    [alone] = script.requests("criterion")
    assert "WHERE the note has a title" in alone.text and "## Project context" not in alone.text
    assert "Delete notes" in alone.text  # the requirement it belongs to
    written = parse_requirements((result.folder / "requirements.md").read_text())
    assert written.requirements[2].criteria[1].text.startswith("WHERE a note has a title, THE")
    assert lint_criteria(written.criteria(), "requirements.md") == []
    assert result.findings == 0 and result.notices == []


def test_a_function_the_request_names_gets_a_requirement_when_no_criterion_names_it(
    project: Path,
) -> None:
    covered = copy.deepcopy(REQUIREMENTS)
    covered["requirements"][0]["criteria"][0] = (
        "WHEN save_note is given a text, THE Note_Service SHALL store the note with its "
        "creation time"
    )
    script = Script()
    script.answers["requirements"] = covered
    request = (
        "Add notes: save_note(text) in notes/store.py stores one, and list_notes() returns "
        "them newest first."
    )

    result = new(project, script, request)

    [first] = script.requests("requirements")  # no repair is asked for
    assert (
        "## Must cover\n\nThe request names save_note(text), list_notes(), notes/store.py. "
        "Write criteria that name each of them" in first.text
    )
    written = parse_requirements((result.folder / "requirements.md").read_text())
    # save_note is covered by the model's own criterion; list_notes gets the request's words.
    assert [r.title for r in written.requirements][-2:] == ["Delete notes", "list_notes()"]
    added = written.requirements[-1]
    assert added.id == "4" and [c.text for c in added.criteria] == [
        "WHEN list_notes() is called, THE list_notes function SHALL return them newest first"
    ]
    assert added.story_parts() == ("user", "list_notes() to return them newest first",
                                   "the tool does what I asked for")  # fmt: skip
    assert lint_criteria(written.criteria(), "requirements.md") == []
    assert result.notices == [
        "no criterion named list_notes(), which the request names: requirement(s) 4 say what "
        "the request says of them, in its own words"
    ]


def test_a_request_that_names_no_function_gets_no_coverage_part(project: Path) -> None:
    script = Script()

    new(project, script, "Add notes", kind="quick")

    assert [kind for kind in ("requirements", "design", "tasks")
            if "Must cover" in script.requests(kind)[0].text] == []  # fmt: skip


def test_the_plan_is_asked_for_a_task_per_function_the_request_names(project: Path) -> None:
    script = Script()
    request = "Add notes: save(text) stores a note and notes() lists them"

    new(project, script, request, kind="quick")

    [tasks] = script.requests("tasks")
    assert (
        "## Must cover\n\nThe request names save(text), notes(): plan one code task for each"
        in tasks.text
    )


def test_an_answer_cut_off_at_the_cap_is_asked_for_again_afresh(project: Path) -> None:
    cut = json.dumps(REQUIREMENTS)[:300]
    script = Script()
    script.answers["requirements"] = [cut, REQUIREMENTS]
    progress: list[str] = []

    result = run(create_spec, project, "Add notes", model=script.model(), settings=Settings(),
                 repairs=1, on_progress=progress.append)  # fmt: skip

    asked = script.requests("requirements")
    assert len(asked) == 2
    assert "ran past the length limit" not in asked[0].text
    assert cut not in asked[1].text and "ran past the length limit" in asked[1].text
    assert any("ran past the length limit; asking again" in line for line in progress)
    written = parse_requirements((result.folder / "requirements.md").read_text())
    assert [r.title for r in written.requirements] == ["Create notes", "List notes", "Delete notes"]


def test_answers_cut_off_twice_stop_with_nothing_written(project: Path) -> None:
    script = Script()
    script.answers["requirements"] = json.dumps(REQUIREMENTS)[:300]

    with pytest.raises(ModelRequestError, match="could not write a valid requirements"):
        run(create_spec, project, "Add notes", model=script.model(), settings=Settings(),
            repairs=1)  # fmt: skip

    assert len(script.requests("requirements")) == 2  # the answer, then one asked afresh
    assert not (project / ".kiro" / "specs").exists() or not any(
        (project / ".kiro" / "specs").iterdir()
    )


def test_lint_problems_left_after_every_repair_are_written_as_findings(project: Path) -> None:
    stubborn = copy.deepcopy(REQUIREMENTS)
    stubborn["requirements"][2]["criteria"].append("WHERE the note has a title")
    script = Script()
    script.answers["requirements"] = stubborn
    script.answers["criterion"] = {"criterion": "WHERE the note has a title"}

    result = run(create_spec, project, "Add notes", model=script.model(), settings=Settings(),
                 repairs=2)  # fmt: skip

    assert len(script.requests("requirements")) == 3
    assert len(script.requests("criterion")) == 3
    assert result.input_tokens > 0 and result.output_tokens > 0  # counted though the runs failed
    assert result.findings >= 1
    assert any("problems the model did not fix after 2 repair(s)" in n for n in result.notices)
    written = parse_requirements((result.folder / "requirements.md").read_text())
    findings = lint_criteria(written.criteria(), "requirements.md")
    assert [(f.rule, f.subject) for f in findings] == [("EARS001", "3.2")]


def test_a_criterion_copied_from_the_instructions_example_is_sent_back(project: Path) -> None:
    copied = copy.deepcopy(REQUIREMENTS)
    copied["requirements"][2]["criteria"] = [
        "WHEN a reader returns a book, THE Loan_Service SHALL mark the book as available"
    ]
    script = Script()
    script.answers["requirements"] = [copied, REQUIREMENTS]

    new(project, script)

    repair = script.requests("requirements")[1].text
    assert "Requirement 3 (Delete notes), criterion 1" in repair
    assert "copies the library example" in repair


def test_an_example_copied_under_the_feature_s_name_is_left_out_when_repairs_keep_it(
    project: Path,
) -> None:
    # The embedded model's answer for a word-count tool: two library examples with the
    # tool's name swapped in, the examples' terms in the glossary, a lower-case "shall" and
    # a term and definition swapped.
    copied = copy.deepcopy(REQUIREMENTS)
    copied["requirements"][0]["criteria"] += [
        "WHERE email is enabled, THE Note_Service shall send a reminder 2 days before the "
        "due date.",
    ]
    copied["requirements"][2]["criteria"] = [
        "THE Note_Service shall keep each loan record for 5 years."
    ]
    copied["glossary"] += [
        {"term": "due date", "definition": "The time at which something is due."},
        {"term": "A service that keeps the notes of a user on disk", "definition": "Note_Store"},
    ]
    copied["requirements"][1]["criteria"] = [
        "WHEN a user opens the list, THE Note_Service shall return the notes newest first"
    ]
    script = Script()
    script.answers["requirements"] = copied
    script.answers["criterion"] = {
        "criterion": "THE Note_Service SHALL keep each loan record for 5 years"
    }

    result = new(project, script, repairs=1)

    repair = script.requests("requirements")[1].text
    assert 'criterion 3 "WHERE email is enabled, THE Note_Service shall send' in repair
    assert "copies the library example" in repair
    rewrites = script.requests("criterion")
    assert len(rewrites) == 4  # two criteria, each asked and repaired once
    assert "## Feature request\n\nAdd notes" in rewrites[0].text
    [notice] = [n for n in result.notices if "worked examples" in n]
    assert "left out 2 acceptance criterion(s)" in notice and "loan record" in notice
    text = (result.folder / "requirements.md").read_text()
    assert "reminder" not in text and "loan" not in text and "due date" not in text
    written = parse_requirements(text)
    assert [r.title for r in written.requirements] == ["Create notes", "List notes"]
    assert written.criteria()[2].text == (
        "WHEN a user opens the list, THE Note_Service SHALL return the notes newest first"
    )
    assert [(entry.term, entry.definition) for entry in written.glossary][1] == (
        "Note_Store",
        "A service that keeps the notes of a user on disk",
    )
    assert lint_criteria(written.criteria(), "requirements.md") == []


def test_requirements_written_over_and_over_are_kept_once(project: Path) -> None:
    # The embedded model's answer: one requirement written again and again, word for word.
    looped = copy.deepcopy(REQUIREMENTS)
    create, listing, delete = looped["requirements"]
    again = {
        "title": "Empty list",
        "user_story": "As a user, I want an empty list, so that I know nothing is left.",
        "criteria": [
            "WHEN a user opens the list, THE Note_Service SHALL return the notes newest first.",
            "WHEN a user deletes every note, THE Note_Service SHALL show an empty list",
        ],
    }
    looped["requirements"] = [create, *[copy.deepcopy(listing) for _ in range(7)], delete, again]
    script = Script()
    script.answers["requirements"] = looped

    result = new(project, script, repairs=1)

    written = parse_requirements((result.folder / "requirements.md").read_text())
    assert [r.title for r in written.requirements] == [
        "Create notes", "List notes", "Delete notes", "Empty list"
    ]  # fmt: skip
    assert [c.id for c in written.criteria()] == ["1.1", "1.2", "2.1", "3.1", "4.1"]
    assert "show an empty list" in written.criteria()[-1].text
    assert lint_criteria(written.criteria(), "requirements.md") == []
    assert any("left out 7 acceptance criterion(s) that repeated an earlier one" in n
               for n in result.notices)  # fmt: skip
    assert script.requests("criterion") == []  # no repeat was sent to be rewritten


def test_a_criterion_that_borrows_only_the_example_component_keeps_its_words(
    project: Path,
) -> None:
    # The embedded model's answer for a word-count tool: two criteria about the feature
    # under the examples' component name, which the repairs did not change.
    borrowed = copy.deepcopy(REQUIREMENTS)
    borrowed["requirements"][2]["criteria"] = [
        "IF the note text is longer than 2000 characters, THEN THE Loan_Service SHALL reject "
        "the note",
        "THE Loan_Service SHALL keep each loan record for 5 years",
    ]
    borrowed["glossary"] += [{"term": "Loan_Service", "definition": "The library service."}]
    script = Script()
    script.answers["requirements"] = borrowed
    script.answers["criterion"] = {"criterion": "THE Loan_Service SHALL keep each loan record"}

    result = new(project, script, repairs=1)

    written = parse_requirements((result.folder / "requirements.md").read_text())
    assert [c.text for c in written.requirements[2].criteria] == [
        "IF the note text is longer than 2000 characters, THEN THE Note_Service SHALL reject "
        "the note"
    ]
    assert [entry.term for entry in written.glossary] == ["Note_Service"]
    assert any("1 acceptance criterion(s) named the instructions' example component" in n
               for n in result.notices)  # fmt: skip
    assert any("left out 1 acceptance criterion(s)" in n and "loan record" in n
               for n in result.notices)  # fmt: skip


@pytest.mark.parametrize(
    ("criterion", "request_text", "copied"),
    [
        ("WHERE email is enabled, THE wordcount.py tool shall send a reminder 2 days before "
         "the due date.", "A tool that counts the words of a text file", True),
        ("THE Loan_Service SHALL refuse new loans", "Count words", True),
        ("IF the reader owes a fine, THEN THE Counter SHALL refuse new loans", "Count words",
         True),
        # A request about reminders may ask for what an example says.
        ("WHERE email is enabled, THE Loan_Manager SHALL send a reminder 2 days before the "
         "due date", "Send email reminders to readers before the due date of their loans", False),
        ("IF the file does not exist, THEN THE wordcount.py tool SHALL print an error and exit "
         "with status 1", "A tool that counts the words of a text file", False),
        ("THE Log_Store SHALL keep each log entry for 30 days", "Keep logs", False),
    ],
)  # fmt: skip
def test_copies_of_the_worked_examples_are_told_from_criteria_that_share_words(
    criterion: str, request_text: str, copied: bool
) -> None:
    assert copies_example(criterion, request_text) is copied


def test_repair_feedback_never_carries_a_system_tag(project: Path) -> None:
    copied = copy.deepcopy(REQUIREMENTS)
    copied["requirements"][1]["criteria"] = ["WHEN <trigger>, THE <System> SHALL <response>"]
    script = Script()
    script.answers["requirements"] = [copied, REQUIREMENTS]

    new(project, script)

    repair = script.requests("requirements")[1].text
    assert "THE <component> SHALL <response>" in repair and "placeholder" in repair
    assert "<system" not in repair.lower()
    assert "written to look like instructions" not in repair


def test_a_model_that_keeps_failing_is_a_clear_error_and_nothing_is_written(
    project: Path,
) -> None:
    bad = copy.deepcopy(REQUIREMENTS)
    bad["requirements"][1]["criteria"] = []
    script = Script()
    script.answers["requirements"] = bad

    with pytest.raises(ModelRequestError) as caught:
        run(create_spec, project, "Add notes", model=script.model(), settings=Settings(),
            repairs=1)  # fmt: skip

    message = str(caught.value)
    assert "could not write a valid requirements document after 1 repair(s)" in message
    assert "Requirement 2 (List notes) has no acceptance criteria" in message
    assert "Nothing was written" in message
    assert list((project / ".kiro" / "specs").iterdir()) == []
    assert not (state_dir(project) / "specs" / "add-notes.json").exists()


def test_a_failed_next_phase_keeps_the_approval_unrecorded(project: Path) -> None:
    script = Script()
    new(project, script)
    script.answers["design"] = {
        **DESIGN,
        "sequence_diagram": "User calls CLI",
        "properties": [
            {"title": "Ghost", "statement": "For any note, it is there.", "validates": ["9.9"]}
        ],
    }
    with pytest.raises(ModelRequestError) as caught:
        run(approve_phase, project, "add-notes", model=script.model(), settings=Settings(),
            repairs=1)  # fmt: skip
    assert "sequence_diagram must be mermaid source" in str(caught.value)
    assert "Property 1 (Ghost) validates 9.9" in str(caught.value)
    assert script.requests("links") == []
    assert not (project / ".kiro" / "specs" / "add-notes" / "design.md").exists()
    assert state_of(project, "add-notes")["approved"] == {}
    assert pending_generation(project, "add-notes") == "design"


def test_properties_still_citing_nothing_after_the_repairs_are_linked_on_their_own(
    project: Path,
) -> None:
    script = Script()
    new(project, script)
    script.answers["design"] = {**DESIGN, "properties": [
        {"title": "Saved notes are listed", "statement": "For any note, it is listed.",
         "validates": []}]}  # fmt: skip
    script.answers["links"] = [{"validates": ["8.1"]}, {"validates": ["2.1"]}]

    result = run(approve_phase, project, "add-notes", model=script.model(), settings=Settings(),
                 repairs=1)  # fmt: skip

    assert len(script.requests("design")) == 2
    assert "Property 1 (Saved notes are listed) validates no acceptance criterion" in (
        script.requests("design")[1].text
    )
    link, repair = script.requests("links")
    assert (
        "Property 1: Saved notes are listed" in link.text and "2.1 WHEN a user opens" in link.text
    )
    assert "8.1 are not acceptance criteria" in repair.text
    design = parse_design((result.folder / "design.md").read_text())
    assert [p.validates for p in design.properties] == [["2.1"]]


def test_a_property_the_model_cannot_link_does_not_cost_the_design(project: Path) -> None:
    script = Script()
    new(project, script)
    script.answers["design"] = {**DESIGN, "properties": [
        {"title": "Saved notes are listed", "statement": "For any note, it is listed.",
         "validates": []},
        {"title": "Notes survive", "statement": "For any note, it is kept.",
         "validates": []}]}  # fmt: skip
    # Property 1: real and unknown ids mixed, every time; property 2: only unknown ids.
    script.answers["links"] = [
        {"validates": ["2.1", "8.1"]}, {"validates": ["2.1", "8.1"]},
        {"validates": ["9.9"]}, {"validates": ["9.9"]},
    ]  # fmt: skip

    result = run(approve_phase, project, "add-notes", model=script.model(), settings=Settings(),
                 repairs=1)  # fmt: skip

    design = parse_design((result.folder / "design.md").read_text())
    assert [p.validates for p in design.properties] == [["2.1"], []]
    assert any("property 2 was not linked to the criteria" in n for n in result.notices)


def test_refine_keeps_the_ids_of_what_did_not_change(project: Path) -> None:
    script = Script()
    created = new(project, script)
    before = parse_requirements((created.folder / "requirements.md").read_text())

    changed = copy.deepcopy(REQUIREMENTS)
    changed["requirements"][1]["criteria"] = [
        "WHEN a user opens the list, THE Note_Service SHALL return the notes newest first, "
        "20 per page",
        "WHEN a user asks for the next page, THE Note_Service SHALL return the next 20 notes",
    ]
    changed["requirements"].append({
        "title": "Search notes",
        "user_story": "As a user, I want to search notes, so that I find one quickly.",
        "criteria": ["WHEN a user searches for a word, THE Note_Service SHALL return the notes "
                     "that contain it"],
    })  # fmt: skip
    script.answers["requirements"] = changed

    refined = run(refine_phase, project, "add-notes", "Page the list by 20; add search",
                  model=script.model(), settings=Settings())  # fmt: skip

    assert (refined.phase, refined.awaiting) == ("requirements", "requirements")
    assert [p.name for p in refined.written] == ["requirements.md"]
    after = parse_requirements((created.folder / "requirements.md").read_text())
    old = {c.id: c.text for c in before.criteria()}
    new_ids = {c.id: c.text for c in after.criteria()}
    for kept in ("1.1", "1.2", "3.1"):
        assert new_ids[kept] == old[kept]
    assert new_ids["2.1"].endswith("20 per page")
    assert new_ids["2.2"].startswith("WHEN a user asks for the next page")
    assert [(r.id, r.title) for r in after.requirements] == [
        ("1", "Create notes"),
        ("2", "List notes"),
        ("3", "Delete notes"),
        ("4", "Search notes"),
    ]
    prompt = script.requests("requirements")[-1].text
    assert "Page the list by 20; add search" in prompt
    assert "2.1 WHEN a user opens the list" in prompt  # the current document, with its ids

    without_two = copy.deepcopy(changed)
    del without_two["requirements"][1]
    script.answers["requirements"] = without_two
    run(refine_phase, project, "add-notes", "Drop the list", model=script.model(),
        settings=Settings())  # fmt: skip
    last = parse_requirements((created.folder / "requirements.md").read_text())
    assert [r.id for r in last.requirements] == ["1", "3", "4"]
    assert last.requirements[1].criteria[0].text == old["3.1"]


def test_design_first_writes_the_design_then_derives_requirements(project: Path) -> None:
    script = Script()
    notes = "# Notes design\nA Note_Service with save, list and delete over a JSON store."

    created = new(project, script, "", kind="design-first", design_notes=notes)

    assert created.name == "notes-design"
    assert (created.phase, created.awaiting) == ("design", "design")
    config = parse_config((created.folder / ".config.kiro").read_text())
    assert config.workflow_type == "design-first"
    design = parse_design((created.folder / "design.md").read_text())
    assert [p.validates for p in design.properties] == [[]]  # no criteria exist yet
    assert "A Note_Service with save, list and delete" in script.requests("design")[0].text
    assert not (created.folder / "requirements.md").exists()

    derived = approve(project, script, created.name)
    assert (derived.phase, derived.awaiting) == ("requirements", "requirements")
    assert sorted(p.name for p in derived.written) == ["design.md", "requirements.md"]
    assert "Saved notes are listed" in script.requests("requirements")[0].text
    linked = parse_design((created.folder / "design.md").read_text())
    assert [p.validates for p in linked.properties] == [["1.1", "2.1"]]
    assert (created.folder / "design.md").read_text().count("**Validates:") == 1

    script.answers["links"] = {"validates": ["3.1"]}
    refined = run(refine_phase, project, created.name, "Say more about deleting",
                  model=script.model(), settings=Settings())  # fmt: skip
    assert sorted(p.name for p in refined.written) == ["design.md", "requirements.md"]
    relinked = (created.folder / "design.md").read_text()
    assert relinked.count("**Validates:") == 1 and "**Validates: Requirements 3.1**" in relinked
    assert relinked.replace("3.1**", "1.1, 2.1**") == linked.document.text()  # type: ignore[union-attr]

    assert approve(project, script, created.name).awaiting == "tasks"
    assert approve(project, script, created.name).phase == "done"


def test_quick_plan_writes_everything_in_one_pass_with_the_answers(project: Path) -> None:
    script = Script()
    questions = run(clarifying_questions, "Add notes", model=script.model(), settings=Settings(),
                    root=project)  # fmt: skip
    assert questions == ["Who uses the notes?", "Sync?", "Tags?"]

    result = new(project, script, kind="quick", answers=[(questions[0], "Only me"),
                                                         (questions[1], " ")])  # fmt: skip

    assert (result.phase, result.awaiting) == ("done", None)
    assert sorted(p.name for p in result.written) == [".config.kiro", "design.md",
                                                      "requirements.md", "tasks.md"]  # fmt: skip
    assert list(state_of(project, result.name)["approved"]) == ["requirements", "design", "tasks"]
    assert parse_config((result.folder / ".config.kiro").read_text()).workflow_type == "fast-task"
    prompt = script.requests("requirements")[0].text
    assert "Clarifications:\n- Who uses the notes? Only me" in prompt
    assert "Sync?" not in prompt
    assert result.next_commands() == ["specloom run add-notes --all"]


def test_quick_plan_without_questions(project: Path) -> None:
    script = Script()
    result = new(project, script, "Add notes", kind="quick", name="notes")
    assert result.phase == "done" and result.folder.name == "notes"
    assert "Clarifications" not in script.requests("requirements")[0].text
    assert script.requests("questions") == []


def test_bugfix_spec_layout_design_and_tasks(project: Path) -> None:
    script = Script()
    created = new(project, script, "Login accepts an empty password", kind="bugfix")

    assert created.awaiting == "requirements"
    assert sorted(p.name for p in created.written) == [".config.kiro", "bugfix.md"]
    assert parse_config((created.folder / ".config.kiro").read_text()).spec_type == "bugfix"
    text = (created.folder / "bugfix.md").read_text()
    bug = parse_bugfix(text)
    assert [c.id for c in bug.criteria()] == ["1.1", "2.1", "3.1", "3.2"]
    assert bug.bug_condition is not None
    assert "FUNCTION isBugCondition(X)" in bug.bug_condition.condition
    assert 'RETURN X.password = "" AND X.user.exists' in bug.bug_condition.condition
    assert "FOR ALL X WHERE isBugCondition(X) DO" in bug.bug_condition.fix_checking
    assert "ASSERT login(X) = login'(X)" in bug.bug_condition.preservation_checking
    for heading in ("## Bug Analysis", "### Current Behavior (Defect)",
                    "### Expected Behavior (Correct)",
                    "### Unchanged Behavior (Regression Prevention)",
                    "## Deriving the Bug Condition"):  # fmt: skip
        assert heading in text

    approve(project, script, created.name)
    design = parse_design((created.folder / "design.md").read_text())
    assert design.section("Hypothesized Root Cause") is not None
    assert design.section("Fix Implementation") is not None
    assert [(p.title, p.validates) for p in design.properties] == [
        ("Fix Checking", ["2.1"]),
        ("Preservation Checking", ["3.1", "3.2"]),
    ]

    tasks = approve(project, script, created.name)
    plan = parse_tasks((created.folder / "tasks.md").read_text())
    first, fix_check, preserve = plan.tasks[:3]
    assert "failing regression test" in first.title
    assert first.requirements == ["1.1", "2.1"]
    assert fix_check.properties == ["1"] and fix_check.validates == ["2.1"]
    assert preserve.properties == ["2"] and preserve.validates == ["3.1", "3.2"]
    graph = TaskGraph(plan)
    assert graph.waves()[0] == ["1", "2", "3"]
    assert graph.dependencies("4.1") == ["1", "2", "3"]
    assert plan.task("4.2").requirements == ["3.2"]
    spec = Workspace(project).load(created.name)
    assert [f.rule for f in analyze_spec(spec) if f.severity.value == "error"] == []
    assert tasks.awaiting == "tasks"


def test_bugfix_forms_are_repaired(project: Path) -> None:
    bad = copy.deepcopy(BUGFIX)
    bad["unchanged"] = ["WHEN a user logs in with the correct password THEN the system SHALL "
                        "log the user in"]  # fmt: skip
    script = Script()
    script.answers["bugfix"] = [bad, BUGFIX]
    new(project, script, "Login accepts an empty password", kind="bugfix")
    assert "must say what the system SHALL CONTINUE TO do" in script.requests("bugfix")[1].text


def test_tasks_with_a_dependency_loop_or_unknown_criteria_are_repaired(project: Path) -> None:
    script = Script()
    new(project, script)
    approve(project, script, "add-notes")
    looped = copy.deepcopy(TASKS)
    looped["tasks"][0]["depends_on"] = [3]
    unknown = copy.deepcopy(TASKS)
    unknown["tasks"][1]["requirements"] = ["7.1"]
    untested = {"tasks": [TASKS["tasks"][0]]}
    script.answers["tasks"] = [looped, unknown, untested, TASKS]

    approve(project, script, "add-notes")

    repairs = [request.text for request in script.requests("tasks")[1:]]
    assert "The dependencies form a loop (1 -> 2 -> 3 -> 1)" in repairs[0]
    assert "Task 2 (Implement the Note_Service) cites 7.1" in repairs[1]
    assert "Add at least one test task" in repairs[2]


def test_errors_existing_spec_unknown_spec_and_nothing_to_refine(project: Path) -> None:
    script = Script()
    new(project, script)
    with pytest.raises(UsageError, match="a spec named 'add-notes' already exists"):
        new(project, script)
    with pytest.raises(SpecNotFoundError, match="no spec named 'nope'"):
        approve(project, script, "nope")
    with pytest.raises(UsageError, match="cannot be a spec name"):
        new(project, script, name="../escape")
    with pytest.raises(UsageError, match="the request is empty"):
        new(project, script, "  ")
    for _ in range(3):
        approve(project, script, "add-notes")
    with pytest.raises(UsageError, match="nothing in spec 'add-notes' is waiting for review"):
        run(refine_phase, project, "add-notes", "more", model=script.model(),
            settings=Settings())  # fmt: skip


def test_a_kiro_spec_without_state_is_approved_up_to_its_last_document(
    kiro_project: Path,
) -> None:
    name = "kirodotdev-Kiro__github-issue-automation"
    assert pending_generation(kiro_project, name) is None

    result = run(approve_phase, kiro_project, name, model=None, settings=Settings())

    assert (result.phase, result.awaiting, result.written) == ("done", None, [])
    assert list(state_of(kiro_project, name)["approved"]) == ["requirements", "design", "tasks"]


def test_the_prompt_carries_steering_and_the_repository_map(project: Path) -> None:
    steering = project / ".kiro" / "steering"
    steering.mkdir()
    (steering / "tech.md").write_text("# Tech\n\nStore everything through notes.store.\n")
    script = Script()

    new(project, script)

    prompt = script.requests("requirements")[0].text
    assert "Store everything through notes.store." in prompt
    assert "notes/store.py" in prompt
    assert prompt.index("## Project context") < prompt.index("## Feature request")


def test_a_small_window_gets_a_short_prompt_and_a_capped_answer(project: Path) -> None:
    for number in range(200):
        (project / "notes" / f"module_{number}.py").write_text(
            f"def function_{number}(value):\n    return value\n"
        )
    small = Script()
    large = Script()

    run(create_spec, project, "Add notes", model=small.model(
        entry=SimpleNamespace(context_window=4096)), settings=Settings(), name="small")  # fmt: skip
    run(create_spec, project, "Add notes", model=large.model(), settings=Settings(), name="large")

    run(approve_phase, project, "small", model=small.model(
        entry=SimpleNamespace(context_window=4096)), settings=Settings())  # fmt: skip
    run(approve_phase, project, "large", model=large.model(), settings=Settings())

    short, full = small.requests("requirements")[0], large.requests("requirements")[0]
    assert len(short.text) + len(short.instructions) <= 2 * 4096
    assert len(full.text) > len(short.text)
    for request in (short, small.requests("design")[0]):
        prompt_tokens = (len(request.text) + len(request.instructions)) // 3
        assert request.max_tokens is not None and request.max_tokens + prompt_tokens <= 4096
    assert small.requests("design")[0].max_tokens < 3000  # type: ignore[operator]
    assert (full.max_tokens, large.requests("design")[0].max_tokens) == (2048, 3000)


def test_a_small_window_gets_one_repair_that_fits_beside_the_first_answer(
    project: Path,
) -> None:
    bad = copy.deepcopy(REQUIREMENTS)
    bad["requirements"][0]["criteria"] = []
    script = Script()
    script.answers["requirements"] = bad
    small = script.model(entry=SimpleNamespace(context_window=4096))

    with pytest.raises(ModelRequestError, match=r"after 1 repair\(s\)"):
        run(create_spec, project, "Add notes", model=small, settings=Settings())

    first, repair = script.requests("requirements")
    prompt_tokens = (len(first.text) + len(first.instructions)) // 3
    assert first.max_tokens is not None and prompt_tokens + 2 * first.max_tokens <= 4096


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        ("Add a CSV export to the report page", "add-csv-export-report-page"),
        ("I want users to reset their password!", "users-reset-their-password"),
        ("Écrire des notes", "ecrire-des-notes"),
        ("???", "spec"),
    ],
)
def test_spec_names_are_kebab_case_slugs(request_text: str, expected: str) -> None:
    assert spec_name(request_text) == expected
    assert spec_name(request_text, "my.spec_1") == "my.spec_1"


@pytest.mark.slow
@pytest.mark.usefixtures("allow_model_requests")
def test_the_embedded_model_writes_requirements_that_parse_and_mostly_lint_clean(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from specloom.llm.local.weights import MODEL_PATH_ENV
    from specloom.llm.session import open_model_session

    weights = installed_weights("1.5b")
    if weights is None:
        pytest.skip("the embedded model's weights are not installed (specloom models pull local)")
    monkeypatch.setenv(MODEL_PATH_ENV, str(weights))
    session = open_model_session(command="new", model="local", kind="spec", root=project)

    # The model samples (no fixed seed): a second spec is written when the first one misses
    # the bar (one run put a placeholder like <note> in every criterion); the bar (every user
    # story in form, at most half the criteria with a lint error) holds for one of the two.
    outcomes: list[tuple[bool, int, int]] = []
    for name in ("notes", "notes-again"):
        result = run(create_spec, project, "A command line tool that saves short text notes "
                     "to a JSON file and lists them", model=session.model,
                     settings=session.settings, name=name, repairs=1)  # fmt: skip
        document = parse_requirements((result.folder / "requirements.md").read_text())
        criteria = document.criteria()
        assert document.requirements and criteria
        assert "look like instructions" not in document.introduction
        assert result.input_tokens > 0 and result.output_tokens > 0
        stories = all(r.story_parts() is not None for r in document.requirements)
        findings = lint_criteria(criteria, "requirements.md")
        errors = [f for f in findings if f.severity.value == "error"]
        outcomes.append((stories, len(errors), len(criteria)))
        if stories and len(errors) <= len(criteria) // 2:
            break
    assert any(stories and errors <= count // 2 for stories, errors, count in outcomes), outcomes


def test_a_plan_missing_its_bookkeeping_is_completed_mechanically() -> None:
    from specloom.workflows.authoring_schemas import TaskDraft, TasksDraft, tasks_check
    from specloom.workflows.plan_tidy import complete_plan

    criteria = {
        "1.1": "WHEN a file is given, THE Counter SHALL count each word case-insensitively",
        "1.2": "THE Counter SHALL print the words most frequent first",
        "2.1": "IF the file does not exist, THEN THE Counter SHALL print an error",
    }
    draft = TasksDraft(
        tasks=[
            TaskDraft(title="Count each word of the file", requirements=[]),
            TaskDraft(
                title="Print an error when the file does not exist", requirements=[], depends_on=[3]
            ),
            TaskDraft(
                title="Check property", requirements=["7.7"], kind="property-test", property=9
            ),
        ]
    )
    assert tasks_check(list(criteria), {})(draft)  # the model's plan is not acceptable as is
    completed, changes = complete_plan(draft, criteria, {})
    assert tasks_check(list(criteria), {})(completed) == []
    first, second, third = completed.tasks
    assert "1.1" in first.requirements and "2.1" not in first.requirements
    assert second.requirements == ["2.1"] and second.depends_on == []
    assert third.kind == "unit-test"  # a property test naming no property; 7.7 dropped
    assert third.requirements and "7.7" not in third.requirements
    assert draft.tasks[0].requirements == []  # the model's answer itself is not changed
    assert third.depends_on == [1, 2]  # a test task waits for the code before it
    assert len(changes) == 6
    only_code = TasksDraft(tasks=[TaskDraft(title="Count each word", requirements=["1.1"])])
    completed, changes = complete_plan(only_code, criteria, {})
    code, added = completed.tasks
    assert added.kind == "unit-test" and added.requirements == ["1.1", "1.2", "2.1"]
    assert added.depends_on == [1]
    assert changes == ["task 2: added, a unit-test task for every criterion"]


def test_test_tasks_chained_one_to_the_next_depend_on_the_code_they_test() -> None:
    from specloom.workflows.authoring_schemas import TaskDraft, TasksDraft
    from specloom.workflows.plan_tidy import complete_plan

    criteria = {"1.1": "THE Counter SHALL count each word", "1.2": "THE Counter SHALL sort"}
    draft = TasksDraft(
        tasks=[
            TaskDraft(title="Count words", requirements=["1.1"]),
            TaskDraft(title="Unit tests of counting", requirements=["1.1"], depends_on=[1],
                      kind="unit-test"),
            TaskDraft(title="Property tests of counting", requirements=["1.1"], depends_on=[2],
                      kind="property-test", property=1),
            TaskDraft(title="Sort the counts", requirements=["1.2"], depends_on=[3]),
            TaskDraft(title="Unit tests of sorting", requirements=["1.2"], depends_on=[3, 4],
                      kind="unit-test"),
        ]
    )  # fmt: skip

    completed, changes = complete_plan(draft, criteria, {"1": ["1.1"]})

    assert [task.depends_on for task in completed.tasks] == [[], [1], [1], [3], [1, 4]]
    assert changes == [
        "task 3: depends on 1, the code it tests, not on other test tasks",
        "task 5: depends on 1, 4, the code it tests, not on other test tasks",
    ]


def test_a_task_that_repeats_an_earlier_one_is_left_out() -> None:
    from specloom.workflows.authoring_schemas import TaskDraft, TasksDraft
    from specloom.workflows.plan_tidy import without_repeats

    # The embedded model's plan: its first task written again as the fourth.
    draft = TasksDraft(
        tasks=[
            TaskDraft(title="Implement wordcount.py tool", requirements=["1.2", "1.3"]),
            TaskDraft(title="Sort the counts", requirements=["2.1"], depends_on=[1]),
            TaskDraft(title="Handle errors", requirements=["1.1"], depends_on=[2]),
            TaskDraft(title="Implement  wordcount.py Tool", requirements=["1.3", "2.2"],
                      depends_on=[3]),
            TaskDraft(title="Unit tests", requirements=["1.1"], depends_on=[4],
                      kind="unit-test"),
            TaskDraft(title="Sort the counts", requirements=["2.1"], depends_on=[5],
                      kind="unit-test"),
            TaskDraft(title="Property tests", requirements=["1.3"], depends_on=[1],
                      kind="property-test", property=1),
            TaskDraft(title="Property tests", requirements=["2.1"], depends_on=[2],
                      kind="property-test", property=2),
        ]
    )  # fmt: skip

    changes = without_repeats(draft)

    assert changes == ["task 4: left out, it repeats task 1", "task 6: left out, it repeats task 2"]
    assert [task.title for task in draft.tasks] == [
        "Implement wordcount.py tool", "Sort the counts", "Handle errors", "Unit tests",
        "Property tests", "Property tests",
    ]  # fmt: skip
    assert draft.tasks[0].requirements == ["1.2", "1.3", "2.2"]
    assert [task.depends_on for task in draft.tasks] == [[], [1], [2], [1], [1], [2]]
    assert without_repeats(draft) == []


def test_test_tasks_depend_on_their_code_even_through_a_loop() -> None:
    from specloom.workflows.authoring_schemas import TaskDraft, TasksDraft
    from specloom.workflows.plan_tidy import unchain_tests

    draft = TasksDraft(
        tasks=[
            TaskDraft(title="Count words", requirements=["1.1"]),
            TaskDraft(title="Test counting", requirements=["1.1"], depends_on=[1, 3],
                      kind="unit-test"),
            TaskDraft(title="Test sorting", requirements=["1.1"], depends_on=[2],
                      kind="unit-test"),
        ]
    )  # fmt: skip

    changes = unchain_tests(draft)

    assert [task.depends_on for task in draft.tasks] == [[], [1], [1]]
    assert changes == [
        "task 2: depends on 1, the code it tests, not on other test tasks",
        "task 3: depends on 1, the code it tests, not on other test tasks",
    ]


def test_a_valid_plan_is_written_without_repeats_or_chained_test_tasks(project: Path) -> None:
    script = Script()
    script.answers["tasks"] = {
        "tasks": [
            {"title": "Implement the Note_Service", "requirements": ["1.1", "1.2", "2.1"]},
            {"title": "Write unit tests for saving", "requirements": ["1.1", "1.2"],
             "depends_on": [1], "kind": "unit-test"},
            {"title": "Write unit tests for listing", "requirements": ["2.1"],
             "depends_on": [1, 2], "kind": "unit-test"},
            {"title": "Implement the Note_Service", "requirements": ["3.1"], "depends_on": [3]},
        ]
    }  # fmt: skip

    result = new(project, script, kind="quick", name="notes")

    plan = parse_tasks((result.folder / "tasks.md").read_text())
    assert [(t.id, t.title, t.requirements) for t in plan.tasks] == [
        ("1", "Implement the Note_Service", ["1.1", "1.2", "2.1", "3.1"]),
        ("2", "Write unit tests for saving", ["1.1", "1.2"]),
        ("3", "Write unit tests for listing", ["2.1"]),
    ]
    assert TaskGraph(plan).dependencies("3") == ["1"]
    [notice] = [n for n in result.notices if "tidied mechanically" in n]
    assert "task 4: left out, it repeats task 1" in notice
    assert "task 3: depends on 1, the code it tests" in notice


def test_a_plan_completed_for_more_criteria_than_a_task_may_cite_is_written(
    project: Path,
) -> None:
    # The embedded model's quick plan: 13 criteria and no test task; the unit-test task added
    # cites them all (the schema lets the model cite at most 12).
    many = copy.deepcopy(REQUIREMENTS)
    for number in (0, 1):
        many["requirements"][number]["criteria"] = [
            f"WHEN a user saves a note with tag {number}{n}, THE Note_Service SHALL store the "
            f"tag {number}{n}"
            for n in range(1, 7)
        ]
    script = Script()
    script.answers["requirements"] = many
    script.answers["tasks"] = {
        "tasks": [{"title": "Implement the Note_Service", "requirements": ["1.1"]}]
    }

    result = new(project, script, kind="quick", name="notes")

    plan = parse_tasks((result.folder / "tasks.md").read_text())
    added = plan.tasks[-1]
    assert added.title == "Write unit tests for the acceptance criteria"
    assert len(added.requirements) == 13 and added.requirements[-1] == "3.1"
    assert any("a unit-test task for every criterion" in n for n in result.notices)


def test_a_loosely_worded_user_story_is_repaired_or_written_with_a_notice(project: Path) -> None:
    loose = copy.deepcopy(REQUIREMENTS)
    loose["requirements"][1]["user_story"] = "Users list notes."
    script = Script()
    script.answers["requirements"] = loose
    progress: list[str] = []

    result = run(create_spec, project, "Add notes", model=script.model(), settings=Settings(),
                 repairs=1, on_progress=progress.append)  # fmt: skip

    assert not [line for line in progress if "one by one" in line]  # no criterion to rewrite
    assert "requirements.md" in [path.name for path in result.written]
    assert "Users list notes." in (result.folder / "requirements.md").read_text()
    assert len(script.requests("requirements")) == 2  # it was sent back once first
    assert result.notices
