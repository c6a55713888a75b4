"""Steering files: real Kiro files, messy front matter, precedence, globs, selection, includes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from specloom.agent.steering import (
    SteeringFile,
    auto_score,
    expand_braces,
    expand_includes,
    glob_match,
    load_steering,
    parse_steering,
    select,
)
from tests.conftest import EXAMPLES

# Every steering file of the examples, with the inclusion Kiro gives it.
REAL_STEERING = {
    "kiroween-dashtact/.kiro/steering/coding-standards.md": "always",
    "kiroween-dashtact/.kiro/steering/jwt-auth-system.md": "fileMatch",
    "no-vibe-no-code-kiroween/.kiro/steering/product.md": "always",
    "no-vibe-no-code-kiroween/.kiro/steering/structure.md": "always",
    "no-vibe-no-code-kiroween/.kiro/steering/tech.md": "always",
    "no-vibe-no-code-kiroween/.kiro/steering/testing-best-practices.md": "always",
    "more/RockyBoyRC-SpaceWeirdos/steering/core-project-info.md": "always",
    "more/RockyBoyRC-SpaceWeirdos/steering/spec-methodology.md": "manual",
    "more/RockyBoyRC-SpaceWeirdos/steering/spec-task-planning.md": "manual",
    "more/RockyBoyRC-SpaceWeirdos/steering/task-execution-standards.md": "always",
    "more/docktermj-senzing-bootcamp-kiro-powers/steering/add-new-module.md": "manual",
    "more/docktermj-senzing-bootcamp-kiro-powers/steering/add-new-script.md": "manual",
    "more/docktermj-senzing-bootcamp-kiro-powers/steering/product.md": "always",
    "more/docktermj-senzing-bootcamp-kiro-powers/steering/python-conventions.md": "fileMatch",
    "more/docktermj-senzing-bootcamp-kiro-powers/steering/security.md": "always",
    "more/docktermj-senzing-bootcamp-kiro-powers/steering/structure.md": "always",
    "more/docktermj-senzing-bootcamp-kiro-powers/steering/tech.md": "always",
    "more/docktermj-senzing-bootcamp-kiro-powers/steering/validation-suite.md": "manual",
    "more/spirit-of-kiro/steering_product.md": "always",
    "more/spirit-of-kiro/steering_specs.md": "always",
    "more/spirit-of-kiro/steering_structure.md": "always",
    "more/spirit-of-kiro/steering_tech.md": "always",
}


def test_the_table_lists_every_example_steering_file() -> None:
    found = {
        path.relative_to(EXAMPLES).as_posix()
        for path in EXAMPLES.rglob("*.md")
        if "/steering/" in path.as_posix() or path.name.startswith("steering_")
    }
    assert found == set(REAL_STEERING)


@pytest.mark.parametrize("relative", sorted(REAL_STEERING))
def test_every_real_steering_file_loads_with_its_inclusion(relative: str) -> None:
    path = EXAMPLES / relative
    steering = parse_steering(path.read_text(encoding="utf-8"), path, "project")
    assert steering.inclusion == REAL_STEERING[relative]
    assert steering.warnings == ()
    assert not steering.body.startswith("---")
    assert steering.body.strip()


def test_real_patterns_descriptions_and_unknown_keys() -> None:
    def load(relative: str) -> SteeringFile:
        path = EXAMPLES / relative
        return parse_steering(path.read_text(encoding="utf-8"), path, "project")

    python = load("more/docktermj-senzing-bootcamp-kiro-powers/steering/python-conventions.md")
    assert python.patterns == ("**/*.py",)
    assert python.description.startswith("Python script and test conventions")
    jwt = load("kiroween-dashtact/.kiro/steering/jwt-auth-system.md")
    assert len(jwt.patterns) == 1 and jwt.patterns[0].startswith("{backend/src/auth/**,")
    assert glob_match(jwt.patterns[0], "backend/src/auth/guards/jwt.guard.ts")
    assert glob_match(jwt.patterns[0], "frontend/src/contexts/AuthContext.tsx")
    assert not glob_match(jwt.patterns[0], "frontend/src/contexts/ThemeContext.tsx")
    testing = load("no-vibe-no-code-kiroween/.kiro/steering/testing-best-practices.md")
    assert dict(testing.extra) == {"title": "Testing Best Practices"}


def test_a_real_steering_folder_loads_whole(tmp_path: Path) -> None:
    source = EXAMPLES / "more/docktermj-senzing-bootcamp-kiro-powers/steering"
    shutil.copytree(source, tmp_path / ".kiro" / "steering")
    loaded = load_steering(tmp_path, user_dir=tmp_path / "no-user")
    assert [s.name for s in loaded] == sorted(p.stem for p in source.glob("*.md"))
    assert {s.scope for s in loaded} == {"project"}
    chosen = select(
        loaded,
        request="add a script",
        touched_paths=["senzing-bootcamp/scripts/new_tool.py"],
        referenced_names=["add-new-script"],
    )
    reasons = {steering.name: reason for steering, reason in chosen}
    assert (
        reasons["python-conventions"]
        == "fileMatch: **/*.py matches senzing-bootcamp/scripts/new_tool.py"
    )
    assert reasons["add-new-script"] == "referenced as #add-new-script"
    assert reasons["tech"] == "always"
    assert "validation-suite" not in reasons and "add-new-module" not in reasons


FRONT = "---\n{}\n---\n# Body\n"
FM = "inclusion: fileMatch\nfileMatchPattern:"


@pytest.mark.parametrize(
    ("front", "inclusion", "patterns"),
    [
        (FM + " '**/*.{ts,tsx}'", "fileMatch", ("**/*.{ts,tsx}",)),
        ('inclusion: fileMatch\nfileMatchPattern: "src/**/*.py"', "fileMatch", ("src/**/*.py",)),
        (FM + " **/*.ts", "fileMatch", ("**/*.ts",)),
        (FM + " {api/**,web/*.ts}", "fileMatch", ("api/**", "web/*.ts")),
        (FM + " ['a/*.py', b/**]", "fileMatch", ("a/*.py", "b/**")),
        (FM + "\n  - '*.py'\n  - docs/**", "fileMatch", ("*.py", "docs/**")),
        (FM + " src/*.ts, lib/**", "fileMatch", ("src/*.ts", "lib/**")),
        (FM + "\n  - **/*.go\n  - cmd/**", "fileMatch", ("**/*.go", "cmd/**")),
        ("inclusion: FileMatch\nfileMatchPattern: '*.md'", "fileMatch", ("*.md",)),
        ("inclusion: manual", "manual", ()),
        ("inclusion: manual\nname: api-style", "manual", ()),
        ('inclusion: "always"', "always", ()),
        ("inclusion: auto\nname: db\ndescription: Database migrations", "auto", ()),
        ("", "always", ()),
        ("title: Only a title", "always", ()),
    ],
)  # fmt: skip
def test_messy_front_matter_loads(front: str, inclusion: str, patterns: tuple[str, ...]) -> None:
    steering = parse_steering(FRONT.format(front), Path("x.md"), "project")
    assert (steering.inclusion, steering.patterns, steering.warnings) == (inclusion, patterns, ())
    assert steering.body == "# Body\n"


def test_bom_and_windows_line_endings() -> None:
    text = (
        "\ufeff---\r\ninclusion: fileMatch\r\nfileMatchPattern: '*.py'\r\n"
        "owner: team-a\r\n---\r\nUse ruff.\r\n"
    )
    steering = parse_steering(text, Path("py.md"), "project")
    assert steering.inclusion == "fileMatch"
    assert steering.patterns == ("*.py",)
    assert steering.body == "Use ruff.\n"
    assert dict(steering.extra) == {"owner": "team-a"}


def test_no_front_matter_is_always_and_keeps_the_whole_text() -> None:
    steering = parse_steering("# Tech\n---\nnot front matter\n", Path("tech.md"), "user")
    assert steering.inclusion == "always"
    assert steering.body == "# Tech\n---\nnot front matter\n"
    assert steering.name == "tech" and steering.scope == "user"


def test_manual_with_a_declared_name_answers_to_both() -> None:
    steering = parse_steering(
        FRONT.format("inclusion: manual\nname: API Style"), Path("api.md"), "project"
    )
    assert steering.declared_name == "API Style"
    assert steering.answers_to("#api") and steering.answers_to("api.md")
    assert steering.answers_to("api style") and not steering.answers_to("apis")


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("---\ninclusion: always\n: broken\n---\nbody\n", 3, "cannot be read"),
        ("---\ninclusion: always\nkey: [unclosed\nmore: {\n---\nbody\n", 3, "cannot be read"),
        ("---\n- a\n- b\n---\nbody\n", 2, "not a list of `key: value` lines"),
        ("---\ninclusion: sometimes\n---\nbody\n", 2, "unknown inclusion 'sometimes'"),
        ("---\ninclusion: always\nbody without a closing fence\n", 1, "never closed"),
    ],
)
def test_broken_front_matter_warns_with_file_and_line(text: str, line: int, says: str) -> None:
    steering = parse_steering(
        text, Path("/p/.kiro/steering/bad.md"), "project", display=".kiro/steering/bad.md"
    )
    assert steering.inclusion == "always"
    (warning,) = steering.warnings
    assert warning.startswith(f".kiro/steering/bad.md:{line}: ")
    assert says in warning
    assert "treated as `inclusion: always`" in warning


def test_filematch_without_pattern_and_auto_without_description_warn() -> None:
    no_pattern = parse_steering(FRONT.format("inclusion: fileMatch"), Path("a.md"), "project")
    assert (
        no_pattern.inclusion == "fileMatch"
        and "without a `fileMatchPattern`" in no_pattern.warnings[0]
    )
    assert select([no_pattern], request="", touched_paths=["a.py"]) == []
    no_description = parse_steering(FRONT.format("inclusion: auto"), Path("b.md"), "project")
    assert "without a `description`" in no_description.warnings[0]
    assert select([no_description], request="b b b") == []
    assert select([no_description], request="", referenced_names=["b"])[0][1] == "referenced as #b"


def test_a_file_that_is_not_utf8_is_kept_empty_with_a_warning(tmp_path: Path) -> None:
    folder = tmp_path / ".kiro" / "steering"
    folder.mkdir(parents=True)
    (folder / "latin.md").write_bytes(b"caf\xe9\n")
    (steering,) = load_steering(tmp_path, user_dir=tmp_path / "none")
    assert steering.body == ""
    assert steering.warnings[0].startswith(".kiro/steering/latin.md:1: ")


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder / name


def test_project_steering_wins_over_user_steering_of_the_same_name(tmp_path: Path) -> None:
    root = tmp_path / "project"
    user = tmp_path / "home" / ".kiro" / "steering"
    _write(root / ".kiro" / "steering", "tech.md", "project tech\n")
    _write(user, "tech.md", "user tech\n")
    _write(user, "personal.md", "---\ninclusion: manual\n---\nmine\n")
    loaded = load_steering(root, user_dir=user)
    assert [(s.name, s.scope, s.body) for s in loaded] == [
        ("tech", "project", "project tech\n"),
        ("personal", "user", "mine\n"),
    ]


def test_user_steering_defaults_to_kiros_home_folder(tmp_path: Path) -> None:
    _write(Path.home() / ".kiro" / "steering", "global.md", "everywhere\n")
    (steering,) = load_steering(tmp_path)
    assert (steering.name, steering.scope) == ("global", "user")
    assert load_steering(None)[0].name == "global"


def test_folder_steering_takes_always_files_once(tmp_path: Path) -> None:
    root = tmp_path / "project"
    _write(root / ".kiro" / "steering", "tech.md", "project\n")
    shared = tmp_path / "standards"
    _write(shared, "style.md", "---\ninclusion: always\n---\nshared style\n")
    _write(shared / "python", "typing.md", "type everything\n")
    _write(shared, "manual.md", "---\ninclusion: manual\n---\nskipped\n")
    _write(shared, "auto.md", "---\ninclusion: auto\ndescription: x y\n---\nskipped\n")
    (shared / "again").symlink_to(shared / "python")
    loaded = load_steering(
        root, user_dir=tmp_path / "none", extra_dirs=[shared, shared, root / ".kiro"]
    )
    assert [(s.name, s.scope) for s in loaded] == [
        ("tech", "project"),
        ("python/typing", "folder"),
        ("style", "folder"),
    ]
    assert select(loaded, request="")[1][1] == "always"


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("**/*.{ts,tsx}", "src/ui/button.tsx", True),
        ("**/*.{ts,tsx}", "button.ts", True),
        ("**/*.{ts,tsx}", "src/ui/button.js", False),
        ("src/**/*.py", "src/a.py", True),
        ("src/**/*.py", "src/a/b/c.py", True),
        ("src/**/*.py", "tests/a.py", False),
        ("src/*.py", "src/a/b.py", False),
        ("*.py", "deep/down/a.py", True),
        ("backend/src/auth/**", "backend/src/auth/jwt/strategy.ts", True),
        ("backend/src/auth/**", "backend/src/authz/x.ts", False),
        ("docs/", "docs/guide/intro.md", True),
        ("./src/?.ts", "src/a.ts", True),
        ("src/[!a]*.ts", "src/abc.ts", False),
        ("src/[!a]*.ts", "src/bcd.ts", True),
        ("{api,web}/{src,lib}/**", "web/lib/x.js", True),
        ("{api,web}/{src,lib}/**", "cli/lib/x.js", False),
        ("**/*.py", "src\\windows\\path.py", True),
    ],
)
def test_glob_match(pattern: str, path: str, matches: bool) -> None:
    assert glob_match(pattern, path) is matches


def test_brace_expansion_nests_and_keeps_unbalanced_braces() -> None:
    assert expand_braces("a/{b,c{d,e}}.ts") == ["a/b.ts", "a/cd.ts", "a/ce.ts"]
    assert expand_braces("a/{b.ts") == ["a/{b.ts"]
    assert expand_braces("{single}.ts") == ["{single}.ts"]


def test_filematch_with_a_list_of_patterns_is_chosen_by_any(tmp_path: Path) -> None:
    steering = parse_steering(
        FRONT.format("inclusion: fileMatch\nfileMatchPattern:\n  - 'api/**'\n  - '**/*.sql'"),
        Path("db.md"),
        "project",
    )
    assert select([steering], request="", touched_paths=["migrations/001.sql"])[0][1] == (
        "fileMatch: **/*.sql matches migrations/001.sql"
    )
    assert select([steering], request="", touched_paths=["./api/users.py"])[0][1] == (
        "fileMatch: api/** matches api/users.py"
    )
    assert select([steering], request="api sql", touched_paths=["web/app.ts"]) == []


def _auto(description: str, name: str = "topic") -> SteeringFile:
    return parse_steering(
        FRONT.format(f"inclusion: auto\ndescription: {description}"), Path(f"{name}.md"), "project"
    )


def test_auto_selects_when_the_request_matches_the_description() -> None:
    steering = _auto("Conventions for writing database migrations and schema changes", "db")
    ((chosen, reason),) = select(
        [steering], request="Write a migration that changes the users schema"
    )
    assert chosen is steering
    assert reason.startswith("auto: the request matches its description")
    assert "migrat" in reason and "schema" in reason
    score, shared = auto_score(steering, "Write a migration that changes the users schema")
    assert score >= 0.25 and len(shared) >= 2


def test_auto_stays_out_when_the_request_is_about_something_else() -> None:
    steering = _auto("Conventions for writing database migrations and schema changes", "db")
    assert select([steering], request="Fix the colour of the login button") == []
    # One shared word is not enough.
    assert select([steering], request="Add a database status page") == []


def test_auto_with_a_short_description_needs_all_of_it() -> None:
    steering = _auto("Accessibility", "a11y")
    assert select([steering], request="Check the form's accessibility") != []
    assert select([steering], request="Check the form") == []


def test_selection_keeps_the_given_order_and_ignores_unreferenced_manual(tmp_path: Path) -> None:
    always = parse_steering("always\n", Path("a.md"), "project")
    manual = parse_steering(FRONT.format("inclusion: manual"), Path("m.md"), "project")
    chosen = select([manual, always], request="#m is not parsed here", referenced_names=[])
    assert [s.name for s, _ in chosen] == ["a"]
    chosen = select([manual, always], request="", referenced_names=["M"])
    assert [s.name for s, _ in chosen] == ["m", "a"]


# --- includes --------------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    _write(root / "docs", "api.md", "# API\nGET /users\n")
    _write(root / "config", "deps.yaml", "modules:\n  - a\n")
    _write(tmp_path, "secret.txt", "TOP-SECRET\n")
    return root


def test_includes_are_expanded_in_place(project: Path) -> None:
    text = "Before\n#[[file:docs/api.md]]\nAnd config: #[[file:config/deps.yaml]]\nAfter\n"
    expanded, included, problems = expand_includes(text, project)
    assert problems == []
    assert [(item.path, item.size) for item in included] == [
        ("docs/api.md", 16),
        ("config/deps.yaml", 14),
    ]
    assert expanded == (
        "Before\n<!-- included: docs/api.md -->\n# API\nGET /users\n<!-- end of docs/api.md -->\n"
        "And config: <!-- included: config/deps.yaml -->\n```yaml\nmodules:\n  - a\n```\n"
        "<!-- end of config/deps.yaml -->\nAfter\n"
    )


def test_real_example_include_of_another_steering_file(tmp_path: Path) -> None:
    source = EXAMPLES / "more/docktermj-senzing-bootcamp-kiro-powers/steering"
    shutil.copytree(source, tmp_path / ".kiro" / "steering")
    script = next(
        s for s in load_steering(tmp_path, user_dir=tmp_path / "u") if s.name == "add-new-script"
    )
    expanded, included, problems = expand_includes(script.body, tmp_path, origin=script.path)
    assert [item.path for item in included] == [".kiro/steering/python-conventions.md"]
    assert problems == []
    assert "# Python Conventions" in expanded and "#[[file:" not in expanded
    module = next(
        s for s in load_steering(tmp_path, user_dir=tmp_path / "u") if s.name == "add-new-module"
    )
    expanded, included, problems = expand_includes(
        module.body, tmp_path, source="add-new-module.md"
    )
    assert included == []
    assert len(problems) == 2 and all("no such file in the workspace" in p for p in problems)
    assert problems[0].startswith("add-new-module.md:2: ")
    assert (
        "[include skipped: #[[file:senzing-bootcamp/config/module-dependencies.yaml]]" in expanded
    )


@pytest.mark.parametrize(
    "path", ["../secret.txt", "docs/../../secret.txt", "~/secret.txt", "$HOME/x"]
)
def test_includes_cannot_escape_the_workspace(project: Path, path: str) -> None:
    expanded, included, problems = expand_includes(f"#[[file:{path}]]\n", project)
    assert included == []
    assert "TOP-SECRET" not in expanded
    assert expanded.startswith(f"[include skipped: #[[file:{path}]] is refused: ")
    assert len(problems) == 1 and "refused" in problems[0]


def test_includes_refuse_absolute_paths_and_links_out(project: Path, tmp_path: Path) -> None:
    (project / "docs" / "link.md").symlink_to(tmp_path / "secret.txt")
    for path in (str(tmp_path / "secret.txt"), "docs/link.md"):
        expanded, included, problems = expand_includes(f"#[[file:{path}]]", project)
        assert included == [] and "refused" in problems[0]
        assert "TOP-SECRET" not in expanded


def test_include_cycles_are_cut(project: Path) -> None:
    _write(project / "docs", "a.md", "A\n#[[file:docs/b.md]]\n")
    _write(project / "docs", "b.md", "B\n#[[file:docs/a.md]]\n")
    expanded, included, problems = expand_includes("#[[file:docs/a.md]]", project)
    assert [item.path for item in included] == ["docs/a.md", "docs/b.md"]
    assert problems == [
        "docs/b.md:2: #[[file:docs/a.md]] includes itself in a cycle "
        "(docs/a.md -> docs/b.md -> docs/a.md)"
    ]
    assert expanded.count("\nA\n") == 1 and expanded.count("\nB\n") == 1


def test_a_file_including_itself_is_a_cycle(project: Path) -> None:
    own = _write(project / ".kiro" / "steering", "self.md", "#[[file:.kiro/steering/self.md]]\n")
    _, included, problems = expand_includes(own.read_text(), project, origin=own)
    assert included == [] and "cycle" in problems[0]


def test_include_depth_and_size_caps(project: Path) -> None:
    for level in range(4):
        _write(project / "chain", f"{level}.md", f"level {level}\n#[[file:chain/{level + 1}.md]]\n")
    _write(project / "chain", "4.md", "bottom\n")
    expanded, included, problems = expand_includes("#[[file:chain/0.md]]", project, max_depth=2)
    assert [item.path for item in included] == ["chain/0.md", "chain/1.md"]
    assert "nested more than 2 includes deep" in problems[0]
    _write(project, "big.md", "".join(f"line {n}\n" for n in range(1000)))
    expanded, included, problems = expand_includes("#[[file:big.md]]", project, max_chars=100)
    assert included[0].size <= 100
    assert "cut here: the include limit was reached" in expanded
    assert "was cut to" in problems[0]
    twice = "#[[file:big.md]]\n#[[file:big.md]]\n"
    expanded, included, problems = expand_includes(twice, project, max_chars=5000, max_total=6000)
    assert [item.size <= 5000 for item in included] == [True, True]
    assert sum(item.size for item in included) <= 6000


def test_includes_in_code_are_left_alone(project: Path) -> None:
    text = "Use `#[[file:docs/api.md]]` lines.\n```\n#[[file:docs/api.md]]\n```\n"
    expanded, included, problems = expand_includes(text, project)
    assert (expanded, included, problems) == (text, [], [])


def test_binary_includes_are_refused(project: Path) -> None:
    (project / "logo.png").write_bytes(b"\x89PNG\0\0data")
    _, included, problems = expand_includes("#[[file:logo.png]]", project)
    assert included == [] and "binary" in problems[0]
