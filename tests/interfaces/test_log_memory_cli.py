"""``specloom log`` and ``specloom memory ...`` through the real command, in a subprocess."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from specloom.agent.audit import AuditLog
from specloom.agent.redact import Redactor
from tests.interfaces.cli_helpers import json_output, specloom

# A scripted model: it answers with rules drawn from the review comments it was sent, so a
# test fails if the comments never reached it.
SCRIPTED_REVIEWER = textwrap.dedent(
    """
    import json

    from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart
    from pydantic_ai.models.function import FunctionModel

    def _answer(messages, info):
        prompt = "\\n".join(
            str(part.content)
            for message in messages
            if message.kind == "request"
            for part in message.parts
            if part.part_kind == "user-prompt"
        )
        rules = []
        if "os.path.join" in prompt:
            rules.append({"text": "Use pathlib instead of os.path for file paths.",
                          "generalizable": True})
        if "print in library code" in prompt:
            rules.append({"text": "Use the logging module instead of print in library code.",
                          "generalizable": True})
        if "failure case" in prompt:
            rules.append({"text": "Give every test of a parser at least one failure case.",
                          "generalizable": True})
        rules.append({"text": "Rename tmp2 in files.py.", "generalizable": False})
        payload = json.dumps({"rules": rules})
        if info.output_tools:
            return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, payload)])
        return ModelResponse(parts=[TextPart(payload)])

    REVIEWER = FunctionModel(_answer, model_name="scripted-reviewer")
    """
)

REST_EXPORT = [
    {
        "id": 11,
        "path": "src/app/files.py",
        "line": 12,
        "user": {"login": "alice"},
        "body": "Please use pathlib here, not os.path.join.",
    },
    {
        "id": 12,
        "path": "src/app/log.py",
        "original_line": 4,
        "user": {"login": "bob"},
        "body": "Don't print in library code; use logging.",
    },
]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / ".kiro" / "specs").mkdir(parents=True)
    return root


@pytest.fixture
def reviewer(tmp_path: Path) -> str:
    path = tmp_path / "reviewer_model.py"
    path.write_text(SCRIPTED_REVIEWER, encoding="utf-8")
    return f"py:{path}:REVIEWER"


@pytest.fixture
def audited(project: Path) -> Path:
    with AuditLog.for_project(project, redactor=Redactor()) as log:
        auth = log.trail("run-a", spec="auth", task="1.1")
        auth.run_started("run auth")
        auth.tool_call("write_file", {"path": "src/auth.py", "api_key": "live-abcdef123"})
        auth.approval("rm -rf build", "deny", by="rule", rule="no-recursive-delete")
        search = log.trail("run-b", spec="search")
        search.model_request("gpt-5", input_tokens=100, output_tokens=20, cost_usd=0.001)
        search.run_finished("completed")
    return project


# --- log ---------------------------------------------------------------------------------


def test_log_as_json_lists_every_event_oldest_first(audited: Path) -> None:
    data = json_output(specloom("log", "--json", cwd=audited))

    assert [entry["kind"] for entry in data] == [
        "run_start",
        "tool_call",
        "approval",
        "model_request",
        "run_end",
    ]
    assert data[1]["spec"] == "auth" and data[1]["task"] == "1.1"
    assert data[1]["data"]["arguments"] == {"path": "src/auth.py", "api_key": "[REDACTED]"}
    assert data[2]["data"]["rule"] == "no-recursive-delete"
    assert set(data[0]) == {
        "id",
        "time",
        "run_id",
        "spec",
        "task",
        "kind",
        "summary",
        "data",
        "checkpoint",
    }


@pytest.mark.parametrize(
    ("options", "summaries"),
    [
        (["--spec", "search"], ["gpt-5: 100 in, 20 out, $0.0010", "finished: completed"]),
        (
            ["--run", "run-a", "--kind", "approval"],
            ["deny by rule no-recursive-delete: rm -rf build"],
        ),
        (["--limit", "2"], ["gpt-5: 100 in, 20 out, $0.0010", "finished: completed"]),
        (["--since", "today", "--kind", "run_start"], ["started: run auth"]),
    ],
)
def test_log_filters(audited: Path, options: list[str], summaries: list[str]) -> None:
    data = json_output(specloom("log", *options, "--json", cwd=audited))

    assert [entry["summary"] for entry in data] == summaries


def test_log_as_text_shows_time_kind_spec_task_and_summary(audited: Path) -> None:
    result = specloom("log", "--spec", "auth", cwd=audited)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["time", "kind", "spec/task", "summary"]
    assert len(lines) == 4
    assert "tool_call" in lines[2] and "auth/1.1" in lines[2]
    assert "write_file(path='src/auth.py', api_key='[REDACTED]')" in lines[2]
    assert "live-abcdef123" not in result.stdout


def test_log_without_events_says_so_and_creates_nothing(project: Path) -> None:
    text = specloom("log", cwd=project)
    data = json_output(specloom("log", "--json", cwd=project))

    assert text.returncode == 0
    assert text.stdout.startswith("No audit events recorded")
    assert data == []
    assert not (project / ".kiro" / ".specloom").exists()


def test_log_rejects_an_unknown_kind_and_reports_a_damaged_log(audited: Path) -> None:
    bad_kind = json_output(specloom("log", "--kind", "deploy", "--json", cwd=audited), 2)
    path = audited / ".kiro" / ".specloom" / "audit.sqlite3"
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    path.write_bytes(b"damaged" * 1000)
    damaged = specloom("log", cwd=audited)

    assert bad_kind["error"] == "UsageError"
    assert "tool_call" in bad_kind["hint"]
    assert damaged.returncode == 2
    assert str(path) in damaged.stderr
    assert "Traceback" not in damaged.stderr


# --- memory add, list, remove ----------------------------------------------------------


def test_memory_add_list_and_remove(project: Path) -> None:
    added = json_output(
        specloom("memory", "add", "Use pathlib instead of os.path", "--json", cwd=project)
    )
    again = specloom("memory", "add", "Always use pathlib instead of os.path.", cwd=project)
    user = json_output(
        specloom(
            "memory",
            "add",
            "Write commit messages in the imperative",
            "--scope",
            "user",
            "--json",
            cwd=project,
        )
    )
    listed = json_output(specloom("memory", "list", "--json", cwd=project))
    text = specloom("memory", "list", cwd=project)

    assert added["added"] is True
    assert added["rule"]["id"] == 1 and added["rule"]["scope"] == "project"
    assert again.returncode == 0
    assert again.stdout.strip() == (
        "not added: it is a near duplicate of project 1: Use pathlib instead of os.path"
    )
    assert user["rule"]["scope"] == "user"
    assert [(rule["scope"], rule["id"], rule["text"]) for rule in listed] == [
        ("project", 1, "Use pathlib instead of os.path"),
        ("user", 1, "Write commit messages in the imperative"),
    ]
    assert text.stdout.splitlines()[0].split() == ["id", "scope", "rule", "source", "created"]

    removed = json_output(
        specloom("memory", "remove", "1", "--scope", "user", "--json", cwd=project)
    )
    missing = specloom("memory", "remove", "5", cwd=project)
    remaining = json_output(specloom("memory", "list", "--json", cwd=project))

    assert removed["removed"]["text"] == "Write commit messages in the imperative"
    assert missing.returncode == 2
    assert "project memory has no rule 5" in missing.stderr
    assert [rule["text"] for rule in remaining] == ["Use pathlib instead of os.path"]


def test_memory_add_reports_an_exact_duplicate_as_json(project: Path) -> None:
    specloom("memory", "add", "Prefer small pure functions", cwd=project)

    data = json_output(
        specloom("memory", "add", "prefer small, pure functions!", "--json", cwd=project)
    )

    assert data["added"] is False
    assert data["rule"] is None
    assert data["duplicate_of"]["text"] == "Prefer small pure functions"
    assert data["similarity"] == 1.0


def test_memory_outside_a_project_uses_the_user_scope(tmp_path: Path) -> None:
    folder = tmp_path / "elsewhere"
    folder.mkdir()

    added = json_output(specloom("memory", "add", "Explain every regex", "--json", cwd=folder))
    refused = specloom("memory", "add", "x", "--scope", "project", cwd=folder)

    assert added["rule"]["scope"] == "user"
    assert refused.returncode == 2
    assert "--scope user" in refused.stderr


def test_memory_add_refuses_an_overlong_rule(project: Path) -> None:
    result = specloom("memory", "add", "word " * 60, cwd=project)

    assert result.returncode == 2
    assert "at most 200 characters" in result.stderr
    assert "steering" in result.stderr


# --- memory learn -------------------------------------------------------------------------


def test_memory_learn_from_a_pr_review_export(project: Path, reviewer: str) -> None:
    specloom("memory", "add", "Use pathlib instead of os.path for file paths", cwd=project)
    export = project / "review" / "pr-7.json"
    export.parent.mkdir()
    export.write_text(json.dumps(REST_EXPORT), encoding="utf-8")

    data = json_output(
        specloom("memory", "learn", "review/pr-7.json", "--model", reviewer, "--json", cwd=project)
    )
    listed = json_output(specloom("memory", "list", "--json", cwd=project))

    assert data["comments"] == 2
    assert [rule["text"] for rule in data["added"]] == [
        "Use the logging module instead of print in library code."
    ]
    assert [d["duplicate_of"]["text"] for d in data["duplicates"]] == [
        "Use pathlib instead of os.path for file paths"
    ]
    assert data["specific"] == ["Rename tmp2 in files.py."]
    assert data["spent"]["requests"] == 1
    assert [(rule["text"], rule["source"]) for rule in listed] == [
        ("Use pathlib instead of os.path for file paths", None),
        ("Use the logging module instead of print in library code.", "review/pr-7.json"),
    ]
    usage = json_output(specloom("usage", "--by", "command", "--json", cwd=project))
    assert [group["key"] for group in usage["groups"]] == ["memory learn"]


def test_memory_learn_from_plain_text_into_user_memory(
    project: Path, reviewer: str, tmp_path: Path
) -> None:
    notes = tmp_path / "review-notes.md"
    notes.write_text(
        "## Review of the parser\n\nThe tests need a failure case for each parser.\n\n"
        "Also: Please avoid os.path.join in new code.\n",
        encoding="utf-8",
    )

    result = specloom(
        "memory", "learn", str(notes), "--model", reviewer, "--scope", "user", cwd=project
    )
    listed = json_output(specloom("memory", "list", "--scope", "user", "--json", cwd=project))

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        f"{notes}: 3 comment(s), 2 rule(s) added, 0 already known, 1 too specific."
    )
    assert "skipped 'Rename tmp2 in files.py.': specific to the reviewed change" in result.stdout
    assert [rule["text"] for rule in listed] == [
        "Use pathlib instead of os.path for file paths.",
        "Give every test of a parser at least one failure case.",
    ]
    assert {rule["source"] for rule in listed} == {str(notes)}
    assert (
        json_output(specloom("memory", "list", "--scope", "project", "--json", cwd=project)) == []
    )


def test_memory_learn_twice_adds_nothing_new(project: Path, reviewer: str) -> None:
    export = project / "pr.json"
    export.write_text(json.dumps(REST_EXPORT), encoding="utf-8")

    first = json_output(
        specloom("memory", "learn", "pr.json", "-m", reviewer, "--json", cwd=project)
    )
    second = json_output(
        specloom("memory", "learn", "pr.json", "-m", reviewer, "--json", cwd=project)
    )

    assert len(first["added"]) == 2
    assert second["added"] == []
    assert len(second["duplicates"]) == 2


def test_memory_learn_reports_bad_files_with_their_name(project: Path, reviewer: str) -> None:
    (project / "broken.json").write_text('{"reviews": [\n  {"body": "x",}\n]}', "utf-8")
    (project / "approvals.json").write_text('{"reviews": [{"body": ""}]}', "utf-8")

    missing = specloom("memory", "learn", "nowhere.json", "--model", reviewer, cwd=project)
    broken = json_output(
        specloom("memory", "learn", "broken.json", "--model", reviewer, "--json", cwd=project), 2
    )
    empty = specloom("memory", "learn", "approvals.json", "--model", reviewer, cwd=project)

    assert missing.returncode == 2
    assert "nowhere.json: the review file does not exist" in missing.stderr
    assert "gh api repos/OWNER/REPO/pulls/N/comments" in missing.stderr
    assert broken["error"] == "UsageError"
    assert broken["file"] == "broken.json" and broken["line"] == 2
    assert empty.returncode == 2
    assert "approvals.json: the review export holds no comments" in empty.stderr
    for result in (missing, empty):
        assert "Traceback" not in result.stderr
    assert json_output(specloom("memory", "list", "--json", cwd=project)) == []
