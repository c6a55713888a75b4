"""Ready-made hooks, added with one command (``specloom hooks add <template>``).

* ``secret-scan``: on save, scan the saved files for secrets (detect-secrets); a finding
  names the file, the line and the kind of secret, and the hook fails.
* ``secret-scan-commit``: before the agent runs a shell command, if it is a ``git commit``,
  scan what is staged and block the commit when a secret is in it.
* ``tests-on-save``: on saving a source file, ask the agent to update the tests that cover
  it.
* ``readme-sync``: on saving a source file, ask the agent to keep ``README.md`` in step.
* ``lint-on-save``: on save, lint the saved files: ``ruff check`` in a Python project,
  ``eslint`` in a JavaScript or TypeScript one, ``gofmt -l`` in a Go one, and elsewhere
  ``git diff --check`` (whitespace errors and leftover conflict markers).

Patterns follow the project: ``detect_languages`` looks at the files in its root.

May import: the standard library, ``specloom.errors``, ``specloom.settings``,
``specloom.workspace`` and the ``specloom.hooks`` modules.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specloom.errors import SettingsError, UsageError
from specloom.hooks.editing import render_legacy_hook, write_hook_file
from specloom.hooks.model import Action, EventKind
from specloom.settings import PROJECT_SETTINGS
from specloom.workspace import atomic_write, read_text

__all__ = [
    "TEMPLATES",
    "Template",
    "add_template",
    "detect_languages",
    "render_template",
    "trust_command",
]

_SOURCE_GLOBS: dict[str, tuple[str, ...]] = {
    "python": ("**/*.py",),
    "javascript": ("**/*.js", "**/*.jsx", "**/*.ts", "**/*.tsx", "**/*.mjs", "**/*.cjs"),
    "go": ("**/*.go",),
    "rust": ("**/*.rs",),
    "java": ("**/*.java", "**/*.kt"),
}
_TEST_EXCLUDES: dict[str, tuple[str, ...]] = {
    "python": ("!tests/**", "!test/**", "!**/test_*.py", "!**/*_test.py", "!**/conftest.py"),
    "javascript": ("!**/*.test.*", "!**/*.spec.*", "!**/__tests__/**"),
    "go": ("!**/*_test.go",),
    "rust": ("!tests/**",),
    "java": ("!**/src/test/**",),
}
_MARKERS: dict[str, tuple[str, ...]] = {
    "python": ("pyproject.toml", "setup.py", "setup.cfg", "requirements.txt", "Pipfile"),
    "javascript": ("package.json", "tsconfig.json"),
    "go": ("go.mod",),
    "rust": ("Cargo.toml",),
    "java": ("pom.xml", "build.gradle", "build.gradle.kts"),
}
_EXTENSIONS = {
    ".py": "python",
    ".js": "javascript",
    ".ts": "javascript",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
}


def detect_languages(root: Path) -> list[str]:
    """The project's languages, most certain first: from marker files in the root
    (``pyproject.toml``, ``package.json``, ``go.mod``...), else from the source files in the
    root and ``src/``."""
    found = [
        language
        for language, names in _MARKERS.items()
        if any((root / name).is_file() for name in names)
    ]
    if found:
        return found
    for folder in (root, root / "src"):
        try:
            for path in folder.iterdir():
                language = _EXTENSIONS.get(path.suffix)
                if language and language not in found:
                    found.append(language)
        except OSError:
            continue
    return found


def _sources(root: Path, *, without_tests: bool = False) -> list[str]:
    languages = detect_languages(root) or ["python", "javascript", "go", "rust", "java"]
    globs: list[str] = []
    for language in languages:
        globs.extend(_SOURCE_GLOBS[language])
    if without_tests:
        for language in languages:
            globs.extend(_TEST_EXCLUDES[language])
    return globs


def _lint_command(root: Path) -> tuple[str, list[str]]:
    languages = detect_languages(root)
    if "python" in languages:
        return "ruff check --force-exclude $SPECLOOM_FILES", ["**/*.py"]
    if "javascript" in languages:
        return "npx --no-install eslint $SPECLOOM_FILES", list(_SOURCE_GLOBS["javascript"])
    if "go" in languages:
        return 'test -z "$(gofmt -l $SPECLOOM_FILES)"', ["**/*.go"]
    return "git diff --check -- $SPECLOOM_FILES", ["**/*"]


def _lint(root: Path) -> tuple[EventKind, Action, list[str], list[str]]:
    command, patterns = _lint_command(root)
    return EventKind.fileEdited, Action("runCommand", command=command, timeout_s=120), patterns, []


@dataclass(frozen=True, slots=True)
class Template:
    """A ready-made hook.

    Attributes:
        id: Its name on the command line, and the hook file's stem.
        title: The hook's ``name``.
        description: What it does, in one sentence.
        build: Makes the hook (event, action, patterns, tool names) for a project.
    """

    id: str
    title: str
    description: str
    build: Callable[[Path], tuple[EventKind, Action, list[str], list[str]]]


TEMPLATES: dict[str, Template] = {
    template.id: template
    for template in (
        Template(
            "secret-scan",
            "Scan saved files for secrets",
            "On save, scan the saved files for keys, tokens and passwords (detect-secrets); "
            "a finding names the file, the line and the kind of secret.",
            lambda root: (
                EventKind.fileEdited,
                Action("runCommand", command="specloom hooks scan-secrets", timeout_s=60),
                ["**/*"],
                [],
            ),
        ),
        Template(
            "secret-scan-commit",
            "Block commits that contain secrets",
            "Before the agent runs a shell command that is a `git commit`, scan what is "
            "staged and block the commit when a secret is in it.",
            lambda root: (
                EventKind.preToolUse,
                Action(
                    "runCommand", command="specloom hooks scan-secrets --on-commit", timeout_s=60
                ),
                [],
                ["shell"],
            ),
        ),
        Template(
            "tests-on-save",
            "Update tests when source changes",
            "On saving a source file, ask the agent to update the tests that cover the change.",
            lambda root: (
                EventKind.fileEdited,
                Action(
                    "askAgent",
                    prompt=(
                        "A source file was saved. Read the change and update or add the unit "
                        "tests that cover the changed code, so they check its new behaviour. "
                        "Change only test files, then run the tests. If no test needs to "
                        "change, say so in one line."
                    ),
                ),
                _sources(root, without_tests=True),
                [],
            ),
        ),
        Template(
            "readme-sync",
            "Keep the README in sync",
            "On saving a source file, ask the agent to update README.md where the change "
            "makes it wrong (usage, options, examples).",
            lambda root: (
                EventKind.fileEdited,
                Action(
                    "askAgent",
                    prompt=(
                        "A source file was saved. Check whether README.md still describes the "
                        "code correctly (installation, usage, options, examples). If the change "
                        "makes part of it wrong or incomplete, edit only README.md to fix that "
                        "part. If the README is still right, change nothing and say so."
                    ),
                ),
                _sources(root, without_tests=True),
                [],
            ),
        ),
        Template(
            "lint-on-save",
            "Lint saved files",
            "On save, lint the saved files: ruff in a Python project, eslint in a JavaScript "
            "or TypeScript one, gofmt in a Go one, else git diff --check.",
            lambda root: _lint(root),
        ),
    )
}
"""The ready-made hooks by id."""


def _template(name: str) -> Template:
    template = TEMPLATES.get(name)
    if template is None:
        raise UsageError(
            f"no hook template called {name!r}.",
            hint=f"Templates: {', '.join(TEMPLATES)} (`specloom hooks add --list`).",
        )
    return template


def render_template(name: str, root: Path) -> tuple[Action, str]:
    """The template's action and its hook file's text, for the project at ``root``.

    Raises:
        UsageError: No template has that name.
    """
    template = _template(name)
    event, action, patterns, tools = template.build(root)
    text = render_legacy_hook(
        name=template.title,
        description=template.description,
        event=event,
        action=action,
        patterns=patterns,
        tool_patterns=tools,
    )
    return action, text


def add_template(name: str, root: Path, *, trust: bool = False) -> Path:
    """Write the template's hook file ``.kiro/hooks/<name>.kiro.hook``.

    Args:
        name: The template's id.
        root: The project root.
        trust: Also add its command to ``agent.trusted_commands`` in the project settings,
            so it runs without asking.

    Raises:
        UsageError: No such template, or the hook file exists already.
        SettingsError: The project settings file cannot be updated.
    """
    action, text = render_template(name, root)
    path = write_hook_file(root, name, text)
    if trust and action.kind == "runCommand":
        trust_command(root, action.command)
    return path


def trust_command(root: Path, command: str) -> bool:
    """Add ``command`` to ``agent.trusted_commands`` in ``.kiro/settings/specloom.json``.

    Returns:
        Whether the file changed (``False`` when the pattern was there already).

    Raises:
        SettingsError: The file is not valid JSON, or ``agent.trusted_commands`` is not a
            list of patterns.
    """
    path = root / PROJECT_SETTINGS
    data: dict[str, Any] = {}
    if path.is_file():
        text = read_text(path)
        if text.strip():
            try:
                loaded = json.loads(text)
            except json.JSONDecodeError as error:
                raise SettingsError(
                    f"not valid JSON: {error.msg}",
                    file=path,
                    line=error.lineno,
                    hint="Fix the JSON syntax first.",
                ) from None
            if not isinstance(loaded, dict):
                raise SettingsError("the settings must be a JSON object", file=path, line=1)
            data = loaded
    agent = data.setdefault("agent", {})
    if not isinstance(agent, dict):
        raise SettingsError("`agent` must be an object", file=path)
    trusted = agent.setdefault("trusted_commands", [])
    if isinstance(trusted, str):
        trusted = agent["trusted_commands"] = [trusted]
    if not isinstance(trusted, list):
        raise SettingsError("`agent.trusted_commands` must be a list of patterns", file=path)
    if command in trusted:
        return False
    trusted.append(command)
    atomic_write(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return True
