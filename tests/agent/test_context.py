"""The agent's context: references, steering selection, caps and priority, audit items."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from specloom.agent.context import (
    Context,
    ContextPart,
    References,
    build_context,
    parse_references,
)
from specloom.agent.memory import Memory
from specloom.settings import Settings
from tests.conftest import EXAMPLES

REQUIREMENTS = """# Requirements Document

## Introduction

Users sign in.

## Requirements

### Requirement 1

**User Story:** As a user, I want to sign in, so that I see my data.

#### Acceptance Criteria

1. WHEN a user submits valid credentials, THE Auth_Service SHALL start a session
"""


def _write(root: Path, path: str, text: str) -> Path:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    steering = ".kiro/steering/"
    _write(root, steering + "tech.md", "# Tech\nPython 3.11.\n#[[file:docs/stack.md]]\n")
    _write(root, "docs/stack.md", "Stack: FastAPI.\n")
    _write(
        root,
        steering + "python.md",
        "---\ninclusion: fileMatch\nfileMatchPattern: '**/*.py'\n---\nUse ruff.\n",
    )
    _write(root, steering + "release.md", "---\ninclusion: manual\n---\nTag, then publish.\n")
    _write(
        root,
        steering + "db.md",
        "---\ninclusion: auto\ndescription: Database migrations and schema changes\n---\n"
        "Alembic only.\n",
    )
    _write(root, "src/app.py", "def main() -> int:\n    return 0\n")
    _write(root, "web/ui.ts", "export function draw() {}\n")
    _write(root, ".kiro/specs/login/requirements.md", REQUIREMENTS)
    return root


def _build(root: Path, request: str, **options: object) -> Context:
    options.setdefault("user_steering_dir", root.parent / "user-steering")
    options.setdefault("user_memory_dir", root.parent / "user-data")
    options.setdefault("settings", Settings())
    return build_context(root, request=request, **options)  # type: ignore[arg-type]


def _names(context: Context) -> list[tuple[str, str, str]]:
    return [(part.kind, part.name, part.reason) for part in context.parts]


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        ("Fix #file:src/app.py.", References(files=("src/app.py",))),
        (
            'See #file:"docs/my notes.md" and #file:`a b.txt`',
            References(files=("docs/my notes.md", "a b.txt")),
        ),
        (
            "Use #[[file:docs/stack.md]] twice #file:docs/stack.md",
            References(files=("docs/stack.md",)),
        ),
        (
            "Implement #spec:login, then #spec:user-profile.",
            References(specs=("login", "user-profile")),
        ),
        (
            "Follow #release and #Release then #python.md",
            References(names=("release", "Release", "python.md")),
        ),
        ("Issue #123, colour #fff, a#b, url http://x/#anchor", References(names=("fff",))),
        ("nothing here", References()),
    ],
)
def test_references_are_parsed(request_text: str, expected: References) -> None:
    assert parse_references(request_text) == expected


def test_always_filematch_auto_and_manual_steering_are_chosen(project: Path) -> None:
    context = _build(
        project,
        "Write a migration that changes the schema, then follow #release",
        touched_paths=["src/models.py"],
        include_repo_map=False,
    )
    assert _names(context) == [
        (
            "steering",
            "db",
            "auto: the request matches its description (75%: chang, migrat, schema)",
        ),
        ("steering", "python", "fileMatch: **/*.py matches src/models.py"),
        ("steering", "release", "referenced as #release"),
        ("steering", "tech", "always"),
    ]
    assert context.problems == []
    tech = context.parts[3]
    assert "Stack: FastAPI." in tech.text and "#[[file:" not in tech.text
    assert [(item.path, item.size) for item in tech.includes] == [("docs/stack.md", 15)]


def test_nothing_optional_is_chosen_for_an_unrelated_request(project: Path) -> None:
    context = _build(
        project, "Make the button blue #123", touched_paths=["web/ui.ts"], include_repo_map=False
    )
    assert _names(context) == [("steering", "tech", "always")]
    assert context.problems == []


def test_file_and_spec_references(project: Path) -> None:
    context = _build(project, "Implement #spec:login in #file:src/app.py", include_repo_map=False)
    kinds = _names(context)
    assert ("spec", "login", "#spec reference") in kinds
    assert ("file", "src/app.py", "#file reference") in kinds
    # A referenced Python file makes the fileMatch steering apply.
    assert ("steering", "python", "fileMatch: **/*.py matches src/app.py") in kinds
    file_part = next(part for part in context.parts if part.kind == "file")
    assert file_part.text == "```py\ndef main() -> int:\n    return 0\n```\n"
    spec_part = next(part for part in context.parts if part.kind == "spec")
    assert spec_part.text.startswith("Spec login (feature; phase: ")
    assert "### .kiro/specs/login/requirements.md" in spec_part.text
    assert "THE Auth_Service SHALL start a session" in spec_part.text
    # Layout: steering first, then the references of this request.
    assert [part.kind for part in context.parts] == ["steering", "steering", "spec", "file"]


def test_missing_and_refused_references_are_problems(project: Path, tmp_path: Path) -> None:
    _write(tmp_path, "outside.txt", "TOP-SECRET\n")
    context = _build(
        project,
        "Use #spec:payments #file:missing.py #file:../outside.txt #unknown-name #file:.git/config",
        include_repo_map=False,
    )
    rendered = context.render()
    assert "TOP-SECRET" not in rendered
    assert [part.kind for part in context.parts] == ["steering"]
    assert (
        context.problems[0]
        == "#file:missing.py is not included: there is no such file in the workspace."
    )
    assert context.problems[1].startswith(
        "#file:../outside.txt is not included: '../outside.txt' is outside"
    )
    assert context.problems[2].startswith("#file:.git/config is not included:")
    assert context.problems[3] == (
        "#spec:payments is not included: there is no spec named 'payments'. Known specs: login."
    )
    assert len(context.problems) == 4  # #unknown-name is ordinary text


def test_steering_warnings_and_include_problems_reach_the_user(project: Path) -> None:
    _write(
        project, ".kiro/steering/broken.md", "---\ninclusion: always\n: nope\n---\nStill here.\n"
    )
    _write(project, ".kiro/steering/links.md", "#[[file:docs/gone.md]]\n")
    context = _build(project, "anything", include_repo_map=False)
    assert ("steering", "broken", "always") in _names(context)
    assert any(
        p.startswith(".kiro/steering/broken.md:3: the front matter cannot be read")
        for p in context.problems
    )
    assert (
        ".kiro/steering/links.md:1: #[[file:docs/gone.md]]: no such file in the workspace"
        in context.problems
    )


def test_user_steering_and_folder_steering_from_settings(project: Path, tmp_path: Path) -> None:
    user = tmp_path / "user-steering"
    _write(user, "tech.md", "user tech, shadowed\n")
    _write(user, "personal.md", "Prefer small commits.\n")
    shared = tmp_path / "standards"
    _write(shared, "org.md", "Company rules.\n")
    settings = Settings(data={"context": {"steering_dirs": [str(shared)]}})
    context = _build(project, "x", settings=settings, include_repo_map=False)
    steering = [(part.name, part.text) for part in context.parts]
    assert (
        "tech",
        "# Tech\nPython 3.11.\n<!-- included: docs/stack.md -->\nStack: FastAPI.\n"
        "<!-- end of docs/stack.md -->\n",
    ) in steering
    assert ("personal", "Prefer small commits.\n") in steering
    assert ("org", "Company rules.\n") in steering
    assert all("shadowed" not in text for _, text in steering)


def test_settings_files_are_read_and_bad_values_reported(project: Path) -> None:
    _write(
        project,
        ".kiro/settings/specloom.json",
        json.dumps({"context": {"max_chars": "lots", "steering_dirs": 3}}, indent=2),
    )
    context = build_context(
        project, request="x", include_repo_map=False, user_steering_dir=project / "none",
        user_memory_dir=project.parent / "m",
    )  # fmt: skip
    assert any(
        "`context.max_chars` must be a whole number" in p and "specloom.json:3" in p
        for p in context.problems
    )
    assert any("`context.steering_dirs` must be a list of folders" in p for p in context.problems)
    assert [part.name for part in context.parts] == ["tech"]


def test_memory_is_included(project: Path) -> None:
    with Memory(project, user_dir=project.parent / "user-data") as memory:
        memory.add("Use pathlib instead of os.path.")
    context = _build(project, "x", include_repo_map=False)
    memory_part = next(part for part in context.parts if part.kind == "memory")
    assert "- Use pathlib instead of os.path." in memory_part.text
    assert memory_part.reason == "1 rules learned from reviews"
    assert (
        _build(project, "x", include_repo_map=False, include_memory=False).parts[-1].kind
        == "steering"
    )


def test_repo_map_is_included_and_rendered_with_headings(project: Path) -> None:
    context = _build(project, "Implement #spec:login")
    assert [part.kind for part in context.parts] == ["steering", "repomap", "spec"]
    repomap = context.parts[1]
    assert "src/app.py\n  def main() -> int\n" in repomap.text
    rendered = context.render()
    assert rendered.startswith("# Context\n")
    assert "\n## Steering: tech (always)\n\n# Tech\n" in rendered
    assert "\n## Repository map (" in rendered
    assert "\n## Spec: login (#spec reference)\n" in rendered


def test_audit_items_list_every_part_and_include(project: Path) -> None:
    context = _build(project, "Read #file:web/ui.ts")
    items = context.audit_items()
    assert ("include", "docs/stack.md", 15) in items
    assert ("file", "web/ui.ts", len(context.parts[-1].text)) in items
    for part in context.parts:
        assert (part.kind, part.name, len(part.text)) in items
    assert len(items) == len(context.parts) + 1


def test_the_total_cap_serves_references_and_always_steering_first(project: Path) -> None:
    _write(project, "ref.txt", "r" * 999 + "\n")
    front = "---\ninclusion: fileMatch\nfileMatchPattern: '**/*.py'\n---\n"
    _write(project, ".kiro/steering/python.md", front + "Use ruff.\n" * 200)
    context = _build(project, "Read #file:ref.txt", max_chars=1500, touched_paths=["src/x.py"])
    parts = {(part.kind, part.name): part for part in context.parts}
    assert list(parts) == [("steering", "python"), ("steering", "tech"), ("file", "ref.txt")]
    assert not parts["file", "ref.txt"].truncated
    assert not parts["steering", "tech"].truncated
    python = parts["steering", "python"]
    assert python.truncated and "more characters of steering python not shown]" in python.text
    assert sum(len(part.text) for part in context.parts) <= 1500
    assert context.problems == [
        f"steering python was cut to {len(python.text)} characters to fit the context cap of 1500.",
        "the repository map is left out: the context reached its cap of 1500 characters.",
    ]


def test_a_part_with_too_little_room_is_left_out(project: Path) -> None:
    _write(project, "big.txt", "".join(f"line {n} of a long referenced file\n" for n in range(400)))
    context = _build(project, "Read #file:big.txt", max_chars=3000)
    big = next(part for part in context.parts if part.kind == "file")
    assert big.truncated and "more characters of file big.txt not shown]" in big.text
    assert sum(len(part.text) for part in context.parts) <= 3000
    assert [part.kind for part in context.parts] == ["file"]
    assert context.problems[0].startswith("file big.txt was cut to ")
    assert (
        "steering tech is left out: the context reached its cap of 3000 characters."
        in context.problems
    )


def test_the_map_gets_the_room_that_is_left(project: Path) -> None:
    for index in range(30):
        _write(
            project, f"src/pkg/module_{index}.py", f"def function_{index}(value: int) -> int: ...\n"
        )
    roomy = _build(project, "x", include_memory=False)
    full_map = next(part for part in roomy.parts if part.kind == "repomap")
    assert not full_map.truncated
    others = sum(len(part.text) for part in roomy.parts if part.kind != "repomap")
    cap = others + len(full_map.text) - 300
    tight = _build(project, "x", include_memory=False, max_chars=cap)
    tight_map = next(part for part in tight.parts if part.kind == "repomap")
    assert tight_map.truncated and len(tight_map.text) <= len(full_map.text) - 300
    assert sum(len(part.text) for part in tight.parts) <= cap


def test_a_real_steering_folder_with_its_includes(tmp_path: Path) -> None:
    root = tmp_path / "bootcamp"
    shutil.copytree(
        EXAMPLES / "more/docktermj-senzing-bootcamp-kiro-powers/steering",
        root / ".kiro" / "steering",
    )
    context = _build(root, "Follow #add-new-script to add a tool", include_repo_map=False)
    names = [part.name for part in context.parts]
    assert names == ["add-new-script", "product", "security", "structure", "tech"]
    script = context.parts[0]
    assert [item.path for item in script.includes] == [".kiro/steering/python-conventions.md"]
    assert context.problems == []


def test_context_part_is_plain_data() -> None:
    part = ContextPart("memory", "rules", "- x\n", "1 rules learned from reviews")
    assert Context([part]).audit_items() == [("memory", "rules", 4)]
    assert Context().render() == ""
