"""Persistent memory: scopes, dedupe, removal, prompt blocks, review files and learning."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from specloom.agent.memory import (
    MAX_RULE_CHARS,
    Memory,
    ReviewComment,
    clean_rule,
    format_memory,
    learn_rules,
    memory_block,
    memory_for_prompt,
    read_review_file,
    review_chunks,
)
from specloom.agent.redact import Redactor
from specloom.errors import (
    SpecNotFoundError,
    SpecSyntaxError,
    StateFileError,
    UsageError,
    WorkspaceError,
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / ".kiro").mkdir(parents=True)
    return root


@pytest.fixture
def memory(project: Path) -> Memory:
    return Memory(project, redactor=Redactor())


def test_rules_are_added_listed_and_kept_across_instances(memory: Memory, project: Path) -> None:
    first = memory.add("Use pathlib instead of os.path.", source="review.json")
    second = memory.add("  - Prefer   dataclasses over dicts for records ")
    user = memory.add("Write commit messages in the imperative.", scope="user")

    assert first.added and second.added and user.added
    assert second.rule is not None
    assert second.rule.text == "Prefer dataclasses over dicts for records"
    reopened = Memory(project, redactor=Redactor())
    rules = reopened.rules()
    assert [(rule.scope, rule.id, rule.text, rule.source) for rule in rules] == [
        ("project", 1, "Use pathlib instead of os.path.", "review.json"),
        ("project", 2, "Prefer dataclasses over dicts for records", None),
        ("user", 1, "Write commit messages in the imperative.", None),
    ]
    assert [rule.text for rule in reopened.rules("user")] == [
        "Write commit messages in the imperative."
    ]
    assert (project / ".kiro" / ".specloom" / "memory.sqlite3").is_file()
    assert (project / ".kiro" / ".specloom" / ".gitignore").is_file()


@pytest.mark.parametrize(
    "again",
    [
        "Use pathlib instead of os.path.",
        "use PATHLIB instead of os.path",
        "Always use pathlib instead of os.path",
        "- Use pathlib, instead of os.path!",
    ],
)
def test_exact_and_near_duplicates_are_not_added_twice(memory: Memory, again: str) -> None:
    original = memory.add("Use pathlib instead of os.path.")

    result = memory.add(again)

    assert not result.added
    assert result.duplicate_of == original.rule
    assert result.similarity >= 0.75
    assert len(memory.rules()) == 1


@pytest.mark.parametrize(
    "different",
    [
        "Never use pathlib instead of os.path",
        "Use os.path instead of pathlib for speed in hot loops",
        "Use pytest fixtures instead of setUp methods",
    ],
)
def test_rules_that_differ_in_meaning_are_both_kept(memory: Memory, different: str) -> None:
    memory.add("Use pathlib instead of os.path")

    assert memory.add(different).added


def test_a_rule_in_the_other_scope_counts_as_a_duplicate(memory: Memory) -> None:
    user_rule = memory.add("Keep functions under fifty lines", scope="user").rule

    result = memory.add("Keep functions under fifty lines.", scope="project")

    assert result.duplicate_of == user_rule
    assert memory.rules("project") == []


def test_rules_are_removed_by_scope_and_id(memory: Memory) -> None:
    memory.add("Use pathlib instead of os.path")
    memory.add("Prefer f-strings over format()")
    memory.add("Write docstrings in Google style", scope="user")

    removed = memory.remove(1)

    assert removed.text == "Use pathlib instead of os.path"
    assert [rule.text for rule in memory.rules()] == [
        "Prefer f-strings over format()",
        "Write docstrings in Google style",
    ]
    with pytest.raises(SpecNotFoundError, match="project memory has no rule 1"):
        memory.remove(1)
    with pytest.raises(SpecNotFoundError, match="user memory has no rule 7"):
        memory.remove(7, scope="user")
    assert memory.add("Use pathlib instead of os.path").rule is not None
    assert [rule.id for rule in memory.rules("project")] == [2, 3]


def test_project_scope_needs_a_project(tmp_path: Path) -> None:
    outside = Memory(None, redactor=Redactor())

    assert outside.default_scope == "user"
    assert outside.add("Run the linter before committing").added
    with pytest.raises(WorkspaceError, match="no project here"):
        outside.add("Anything", scope="project")
    with pytest.raises(WorkspaceError):
        outside.rules("project")
    assert [rule.scope for rule in outside.rules()] == ["user"]


def test_reading_memory_creates_no_files(project: Path) -> None:
    memory = Memory(project, redactor=Redactor())

    assert memory.rules() == []
    with pytest.raises(SpecNotFoundError):
        memory.remove(1)
    assert not (project / ".kiro" / ".specloom").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [("   ", "cannot be empty"), ("- ", "cannot be empty"), ("x" * 201, "at most 200")],
)
def test_empty_and_overlong_rules_are_refused(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        clean_rule(text)
    assert len(clean_rule("y" * MAX_RULE_CHARS)) == MAX_RULE_CHARS


def test_secrets_in_rules_are_redacted(project: Path) -> None:
    memory = Memory(project)

    result = memory.add("Never commit the key sk-ant-api03-abcdefghijklmnopqrstuvwx")

    assert result.rule is not None
    assert result.rule.text == "Never commit the key [REDACTED]"


def test_the_same_rule_added_from_many_threads_is_stored_once(memory: Memory) -> None:
    def add() -> None:
        memory.add("Check every return code of subprocess.run")

    threads = [threading.Thread(target=add) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(memory.rules()) == 1


def test_a_damaged_memory_file_is_a_state_file_error(project: Path) -> None:
    path = project / ".kiro" / ".specloom" / "memory.sqlite3"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage" * 500)

    with pytest.raises(StateFileError) as caught:
        Memory(project, redactor=Redactor()).rules()

    assert caught.value.file == str(path)


def test_prompts_get_project_rules_then_user_rules_within_the_cap(memory: Memory) -> None:
    memory.add("User rule one about commit messages", scope="user")
    memory.add("Project rule one about pathlib")
    memory.add("Project rule two about fixtures")

    everything = memory_for_prompt(memory.root)
    capped = memory_for_prompt(memory.root, max_chars=70)

    assert [rule.text for rule in everything] == [
        "Project rule one about pathlib",
        "Project rule two about fixtures",
        "User rule one about commit messages",
    ]
    assert [rule.text for rule in capped] == [
        "Project rule one about pathlib",
        "Project rule two about fixtures",
    ]
    assert memory_block(memory.root) == (
        "Rules learned from earlier reviews of this work (follow them):\n"
        "- Project rule one about pathlib\n"
        "- Project rule two about fixtures\n"
        "- User rule one about commit messages\n"
    )
    assert format_memory([]) == ""


# --- review files ----------------------------------------------------------------------

REST_EXPORT = [
    {
        "id": 1,
        "path": "src/app/files.py",
        "line": 12,
        "original_line": 10,
        "diff_hunk": "@@ -1,3 +1,4 @@",
        "user": {"login": "alice", "type": "User"},
        "body": "Please use pathlib here, not os.path.join.",
    },
    {
        "id": 2,
        "path": "src/app/log.py",
        "line": None,
        "original_line": 4,
        "user": {"login": "bob"},
        "body": "Don't print in library code; use logging.",
    },
    {"id": 3, "path": "README.md", "user": {"login": "carol"}, "body": "  "},
]

GH_PR_VIEW_EXPORT = {
    "reviews": [
        {"author": {"login": "alice"}, "body": "", "state": "APPROVED"},
        {"author": {"login": "bob"}, "body": "Tests need a failure case.", "state": "COMMENTED"},
    ],
    "comments": [
        {"author": {"login": "carol"}, "body": "Thanks!", "createdAt": "2026-11-01T10:00:00Z"}
    ],
    "reviewThreads": [
        {"comments": {"nodes": [{"author": {"login": "dave"}, "body": "Name the magic 42."}]}}
    ],
}


def test_a_rest_review_export_gives_each_comment_with_author_path_and_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "comments.json"
    path.write_text(json.dumps(REST_EXPORT), encoding="utf-8")

    comments = read_review_file(path)

    assert comments == [
        ReviewComment(
            "Please use pathlib here, not os.path.join.", "alice", "src/app/files.py", 12
        ),
        ReviewComment("Don't print in library code; use logging.", "bob", "src/app/log.py", 4),
    ]
    assert comments[0].render() == (
        "[src/app/files.py:12 (alice)]\nPlease use pathlib here, not os.path.join."
    )


def test_a_gh_pr_view_export_gives_reviews_comments_and_threads(tmp_path: Path) -> None:
    path = tmp_path / "pr.json"
    path.write_text(json.dumps(GH_PR_VIEW_EXPORT), encoding="utf-8")

    comments = read_review_file(path)

    assert [(c.author, c.body) for c in comments] == [
        ("bob", "Tests need a failure case."),
        ("carol", "Thanks!"),
        ("dave", "Name the magic 42."),
    ]


def test_text_and_markdown_files_are_read_by_paragraph(tmp_path: Path) -> None:
    path = tmp_path / "review.md"
    path.write_text(
        "# Review\n\nUse pathlib.\nIt is clearer.\n\n\n[link](x) ignore this\n", "utf-8"
    )

    assert [c.body for c in read_review_file(path)] == [
        "# Review",
        "Use pathlib.\nIt is clearer.",
        "[link](x) ignore this",
    ]


def test_unreadable_review_files_are_clear_errors_naming_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('[{"body": "ok"},\n  {"body": ]', encoding="utf-8")
    empty_export = tmp_path / "empty.json"
    empty_export.write_text('[{"body": ""}, {"state": "APPROVED"}]', encoding="utf-8")
    blank = tmp_path / "blank.txt"
    blank.write_text("\n  \n", encoding="utf-8")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00 review")

    with pytest.raises(UsageError, match="not valid JSON") as caught:
        read_review_file(broken)
    assert (caught.value.file, caught.value.line) == (str(broken), 2)
    with pytest.raises(UsageError, match="holds no comments"):
        read_review_file(empty_export)
    with pytest.raises(UsageError, match="empty"):
        read_review_file(blank)
    with pytest.raises(SpecSyntaxError, match="not UTF-8"):
        read_review_file(binary)
    with pytest.raises(SpecNotFoundError, match="does not exist") as missing:
        read_review_file(tmp_path / "missing.json")
    assert missing.value.file == str(tmp_path / "missing.json")
    with pytest.raises(SpecNotFoundError, match="not a file"):
        read_review_file(tmp_path)


def test_review_chunks_keep_comments_whole_and_under_the_size() -> None:
    comments = [ReviewComment(f"comment {index} " + "w" * 40) for index in range(10)]

    chunks = review_chunks(comments, max_chars=120)

    assert len(chunks) == 5
    assert all(len(chunk) <= 120 for chunk in chunks)
    assert "\n\n".join(chunks).count("comment ") == 10
    assert review_chunks([ReviewComment("z" * 500)], max_chars=100) == ["z" * 100]


# --- learning ----------------------------------------------------------------------------


def _answer_with(info: AgentInfo, payload: dict[str, object]) -> ModelResponse:
    if info.output_tools:
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, json.dumps(payload))])
    return ModelResponse(parts=[TextPart(json.dumps(payload))])


def test_learn_adds_new_general_rules_and_drops_duplicates_and_specifics(
    memory: Memory,
) -> None:
    memory.add("Use pathlib instead of os.path for file paths")
    prompts: list[str] = []

    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        prompt = "\n".join(
            str(part.content)
            for message in messages
            if message.kind == "request"
            for part in message.parts
            if part.part_kind == "user-prompt"
        )
        prompts.append(prompt)
        rules = []
        if "os.path.join" in prompt:
            rules.append(
                {"text": "Use pathlib instead of os.path for file paths.", "generalizable": True}
            )
        if "print in library code" in prompt:
            rules.append(
                {"text": "Use logging, not print, in library code.", "generalizable": True}
            )
            rules.append(
                {"text": "Always use logging, not print, in library code", "generalizable": True}
            )
        rules.append({"text": "Fix the typo in the files.py docstring.", "generalizable": False})
        return _answer_with(info, {"rules": rules})

    comments = [
        ReviewComment("Please use pathlib here, not os.path.join.", "alice", "src/files.py", 3),
        ReviewComment("Don't print in library code; use logging. sk-ant-api03-" + "k" * 30),
    ]

    result = learn_rules(comments, memory, model=FunctionModel(answer), source="pr-7.json")

    assert [rule.text for rule in result.added] == ["Use logging, not print, in library code."]
    assert result.added[0].source == "pr-7.json"
    assert [d.text for d in result.duplicates] == [
        "Use pathlib instead of os.path for file paths.",
        "Always use logging, not print, in library code",
    ]
    assert result.specific == ["Fix the typo in the files.py docstring."]
    assert result.requests == 1
    assert len(memory.rules()) == 2
    assert "[src/files.py:3 (alice)]" in prompts[0]
    assert "sk-ant-api03" not in prompts[0]
    assert result.to_dict()["comments"] == 2
