"""Foundation steering (``specloom init --steering``): product.md, tech.md and structure.md
written from what the repository shows.

The facts come first and without a model (``gather_facts``): the project's name and
description, the README's opening, the manifests (``pyproject.toml``, ``package.json``,
``Cargo.toml``, ``go.mod`` and the build files beside them), the languages by file count,
the top-level folders, the test command, and the repository map
(``specloom.agent.repomap``). The model then writes each file from the facts that file
needs, as short markdown; specloom adds Kiro's front matter (``inclusion: always``) and, in
``tech.md``, the line ``Test command: `<command>``` that the task runner reads
(``specloom.workflows.verify``) when settings name no ``verify.command``.

An existing steering file is never replaced unless ``force`` is given; the files are all
generated before any is written, so a failed request leaves none half-done.

May import: the standard library, pydantic, ``specloom.errors``, ``specloom.settings``,
``specloom.workspace``, ``specloom.agent.repomap``, ``specloom.workflows.verify`` and
``specloom.llm.structured`` (which brings pydantic-ai: load this module only where a model
is used).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from specloom.agent.repomap import list_files, repo_map
from specloom.settings import Settings
from specloom.workspace import atomic_write

if TYPE_CHECKING:
    from pydantic_ai.models import Model

__all__ = [
    "FOUNDATION_FILES",
    "FRONT_MATTER",
    "FoundationResult",
    "RepositoryFacts",
    "SteeringDraft",
    "detect_test_command",
    "foundation_targets",
    "gather_facts",
    "write_foundation_steering",
]

FOUNDATION_FILES = ("product.md", "tech.md", "structure.md")
"""The foundation steering files, under ``.kiro/steering/``."""

FRONT_MATTER = "---\ninclusion: always\n---\n\n"
"""Kiro's front matter for steering that applies to every request."""

# A "Test command:" line the model wrote (replaced by the one found).
_TEST_COMMAND_LINE = re.compile(r"^[\s>*_-]*(?:\*\*|__)?\s*Test\s+command\b", re.IGNORECASE)

_LANGUAGES = {
    ".py": "Python", ".pyi": "Python", ".js": "JavaScript", ".mjs": "JavaScript",
    ".cjs": "JavaScript", ".jsx": "JavaScript", ".ts": "TypeScript", ".tsx": "TypeScript",
    ".go": "Go", ".rs": "Rust", ".java": "Java", ".kt": "Kotlin", ".kts": "Kotlin",
    ".rb": "Ruby", ".cs": "C#", ".php": "PHP", ".swift": "Swift", ".c": "C", ".h": "C",
    ".cc": "C++", ".cpp": "C++", ".hpp": "C++", ".scala": "Scala", ".ex": "Elixir",
    ".exs": "Elixir", ".vue": "Vue", ".svelte": "Svelte", ".sh": "Shell", ".sql": "SQL",
    ".html": "HTML", ".css": "CSS", ".scss": "SCSS", ".dart": "Dart", ".lua": "Lua",
}  # fmt: skip
_BUILD_FILES = (
    "Makefile", "Dockerfile", "docker-compose.yml", "compose.yaml", "requirements.txt",
    "setup.py", "setup.cfg", "tox.ini", "noxfile.py", "pom.xml", "build.gradle",
    "build.gradle.kts", "tsconfig.json", "deno.json", "uv.lock", "poetry.lock",
    "package-lock.json", "pnpm-lock.yaml", "yarn.lock", "bun.lockb", "Cargo.lock", "go.sum",
)  # fmt: skip
_ALL_PARTS = ("name", "readme", "manifests", "build", "languages", "layout", "test", "map")
_README_CHARS = 1_500
_LIST_ITEMS = 15

_INSTRUCTIONS = """\
You write steering files: short markdown notes that tell a coding agent about a project.
Use only the facts given; never invent features, libraries or commands. Be concrete and
brief: headings and bullet lists, 10 to 30 lines. No front matter, no code fence around
the whole answer."""

_BRIEFS = {
    "product.md": (
        "Write product.md: what the product is and does, who uses it, and its main "
        "features. Start with the heading `# Product Overview`.",
        ("name", "readme", "manifests"),
    ),
    "tech.md": (
        "Write tech.md: the languages and their versions, frameworks and main libraries, "
        "build system and tools, and the common commands (install, build, test, lint) as a "
        "list. Start with the heading `# Technology Stack`.",
        ("name", "languages", "manifests", "build", "test"),
    ),
    "structure.md": (
        "Write structure.md: the top-level layout as a short annotated tree, where code, "
        "tests and documentation live, and the naming conventions the files show. Start "
        "with the heading `# Project Structure`.",
        ("name", "languages", "layout", "map", "test"),
    ),
}


class SteeringDraft(BaseModel):
    """One steering file's text, as the model writes it."""

    markdown: str = Field(description="The file's markdown, starting with its `# ` heading.")


@dataclass(slots=True)
class RepositoryFacts:
    """What the repository shows, gathered without a model.

    Attributes:
        name: The project's name (from a manifest, else the folder's name).
        description: One line about it (manifest description or the README's first
            paragraph), if any.
        readme: The README's opening (at most ``_README_CHARS`` characters).
        manifests: Manifest file name to a short summary of what it declares.
        build_files: Other build and lock files at the root.
        languages: ``(language, files)`` by number of files, most first.
        top_level: ``(folder, files)`` of the top-level folders.
        root_files: Files at the top level.
        test_command: The command that runs the tests, if one was found.
        test_command_source: Where it was found.
        repo_map: The repository map (paths and top-level symbols), capped.
    """

    name: str
    description: str = ""
    readme: str = ""
    manifests: dict[str, str] = field(default_factory=dict)
    build_files: list[str] = field(default_factory=list)
    languages: list[tuple[str, int]] = field(default_factory=list)
    top_level: list[tuple[str, int]] = field(default_factory=list)
    root_files: list[str] = field(default_factory=list)
    test_command: str | None = None
    test_command_source: str | None = None
    repo_map: str = ""

    def render(self, parts: tuple[str, ...] = _ALL_PARTS) -> str:
        """The facts as prompt text, only the ``parts`` named (in a fixed order)."""
        sections: list[str] = []
        if "name" in parts:
            sections.append(f"Project: {self.name}" + (f"\n{self.description}" if
                                                       self.description else ""))  # fmt: skip
        if "readme" in parts and self.readme:
            sections.append(f"README (opening):\n{self.readme}")
        if "manifests" in parts and self.manifests:
            sections.append("\n".join(f"{name}:\n{text}" for name, text in self.manifests.items()))
        if "build" in parts and self.build_files:
            sections.append("Build and lock files: " + ", ".join(self.build_files))
        if "languages" in parts and self.languages:
            sections.append("Languages (files): " + ", ".join(
                f"{language} ({count})" for language, count in self.languages))  # fmt: skip
        if "layout" in parts:
            folders = ", ".join(f"{name}/ ({count} files)" for name, count in self.top_level)
            sections.append(f"Top-level folders: {folders or 'none'}\n"
                            f"Top-level files: {', '.join(self.root_files) or 'none'}")  # fmt: skip
        if "test" in parts:
            sections.append(
                f"Test command: {self.test_command} (from {self.test_command_source})"
                if self.test_command
                else "Test command: none found"
            )
        if "map" in parts and self.repo_map:
            sections.append(f"Repository map:\n{self.repo_map}")
        return "\n\n".join(sections)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready mapping (without the map and the README)."""
        return {
            "name": self.name,
            "description": self.description,
            "manifests": sorted(self.manifests),
            "languages": [list(item) for item in self.languages],
            "top_level": [name for name, _ in self.top_level],
            "test_command": self.test_command,
            "test_command_source": self.test_command_source,
        }


@dataclass(slots=True)
class FoundationResult:
    """What ``write_foundation_steering`` did.

    Attributes:
        written: The steering files written.
        skipped: Those left alone because they exist (no ``force``).
        facts: The facts the files were written from.
        input_tokens: Input tokens over all requests.
        output_tokens: Output tokens over all requests.
        requests: Model requests made.
    """

    written: list[Path]
    skipped: list[Path]
    facts: RepositoryFacts | None
    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _listing(values: Any) -> str:
    """At most ``_LIST_ITEMS`` values joined by commas, and how many more there are."""
    items = [str(value) for value in values] if isinstance(values, list | tuple) else [str(values)]
    more = len(items) - _LIST_ITEMS
    return ", ".join(items[:_LIST_ITEMS]) + (f" and {more} more" if more > 0 else "")


def _pyproject(data: Mapping[str, Any]) -> tuple[str | None, str, list[str]]:
    project = data.get("project", {}) if isinstance(data.get("project"), dict) else {}
    poetry = data.get("tool", {}).get("poetry", {}) if isinstance(data.get("tool"), dict) else {}
    name = project.get("name") or poetry.get("name")
    lines: list[str] = []
    if project.get("requires-python"):
        lines.append(f"- requires Python {project['requires-python']}")
    dependencies = project.get("dependencies") or list(poetry.get("dependencies", {}))
    if dependencies:
        lines.append(f"- dependencies: {_listing(dependencies)}")
    optional = project.get("optional-dependencies")
    if isinstance(optional, dict) and optional:
        groups = "; ".join(f"{key}: {_listing(value)}" for key, value in list(optional.items())[:5])
        lines.append(f"- optional dependencies: {groups}")
    scripts = project.get("scripts")
    if isinstance(scripts, dict) and scripts:
        lines.append(f"- console scripts: {_listing(list(scripts))}")
    build = data.get("build-system", {})
    if isinstance(build, dict) and build.get("build-backend"):
        lines.append(f"- build backend: {build['build-backend']}")
    tools = data.get("tool")
    if isinstance(tools, dict) and tools:
        lines.append(f"- tool settings: {_listing(list(tools))}")
    description = str(project.get("description") or poetry.get("description") or "")
    return (str(name) if name else None), description, lines


def _package_json(data: Mapping[str, Any]) -> tuple[str | None, str, list[str]]:
    lines: list[str] = []
    for key in ("type", "engines"):
        if data.get(key):
            lines.append(f"- {key}: {json.dumps(data[key])}")
    scripts = data.get("scripts")
    if isinstance(scripts, dict) and scripts:
        shown = list(scripts.items())[:_LIST_ITEMS]
        lines.append("- scripts: " + "; ".join(f"{key}: {value}" for key, value in shown))
    for key in ("dependencies", "devDependencies"):
        value = data.get(key)
        if isinstance(value, dict) and value:
            lines.append(f"- {key}: {_listing(list(value))}")
    name = data.get("name")
    return (str(name) if name else None), str(data.get("description") or ""), lines


def _cargo(data: Mapping[str, Any]) -> tuple[str | None, str, list[str]]:
    package = data.get("package", {}) if isinstance(data.get("package"), dict) else {}
    lines: list[str] = []
    if package.get("edition"):
        lines.append(f"- Rust edition {package['edition']}")
    for key in ("dependencies", "dev-dependencies"):
        value = data.get(key)
        if isinstance(value, dict) and value:
            lines.append(f"- {key}: {_listing(list(value))}")
    workspace = data.get("workspace")
    if isinstance(workspace, dict) and workspace.get("members"):
        lines.append(f"- workspace members: {_listing(workspace['members'])}")
    name = package.get("name")
    return (str(name) if name else None), str(package.get("description") or ""), lines


def _go_mod(text: str) -> tuple[str | None, str, list[str]]:
    module = re.search(r"^module\s+(\S+)", text, re.MULTILINE)
    version = re.search(r"^go\s+(\S+)", text, re.MULTILINE)
    requires = re.findall(r"^\s*(?:require\s+)?([\w.\-]+\.[\w.\-/]+)\s+v[\w.\-+]+", text,
                          re.MULTILINE)  # fmt: skip
    lines = [f"- Go {version.group(1)}"] if version else []
    if requires:
        lines.append(f"- requires: {_listing(requires)}")
    name = module.group(1).rsplit("/", 1)[-1] if module else None
    return name, "", lines


def _manifests(root: Path) -> tuple[str | None, str, dict[str, str]]:
    """The name, description and per-manifest summaries the manifests give."""
    name: str | None = None
    description = ""
    summaries: dict[str, str] = {}
    readers: list[tuple[str, Callable[[str], tuple[str | None, str, list[str]]]]] = [
        ("pyproject.toml", lambda text: _pyproject(tomllib.loads(text))),
        ("package.json", lambda text: _package_json(_json_object(text))),
        ("Cargo.toml", lambda text: _cargo(tomllib.loads(text))),
        ("go.mod", _go_mod),
    ]
    for file_name, reader in readers:
        text = _read(root / file_name)
        if text is None:
            continue
        try:
            found_name, found_description, lines = reader(text)
        except (tomllib.TOMLDecodeError, ValueError) as error:
            summaries[file_name] = f"- (could not be read: {str(error).splitlines()[0]})"
            continue
        name = name or found_name
        description = description or found_description
        head = [f"- name: {found_name}"] if found_name else []
        summaries[file_name] = "\n".join(head + lines) or "- (declares nothing more)"
    return name, description, summaries


def _json_object(text: str) -> dict[str, Any]:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def _readme(root: Path) -> tuple[str, str]:
    """The README's opening and its first paragraph of prose."""
    candidates = sorted(
        (path for path in root.iterdir() if path.is_file() and path.name.lower().startswith(
            "readme")),
        key=lambda path: (path.suffix.lower() not in (".md", ".markdown"), path.name),
    )  # fmt: skip
    for path in candidates:
        text = _read(path)
        if text is None:
            continue
        opening = text.strip()[:_README_CHARS]
        paragraph: list[str] = []
        in_fence = False
        for line in text.splitlines():
            stripped = line.strip()
            if stripped.startswith(("```", "~~~")):
                in_fence = not in_fence
                continue
            if in_fence or stripped.startswith(("#", "[!", "![", "<", "=", "-" * 3)):
                if paragraph:
                    break
                continue
            if not stripped:
                if paragraph:
                    break
                continue
            paragraph.append(stripped)
        return opening, " ".join(paragraph)[:300]
    return "", ""


def detect_test_command(root: Path, settings: Settings | None = None) -> tuple[str, str] | None:
    """The command that runs the project's tests, and where it was found.

    The task runner's own search comes first (``specloom.workflows.verify``: the settings'
    ``verify.command``, a ``Test command:`` line in steering, then pytest, ``npm test``,
    ``cargo test``, ``go test ./...`` or ``make test`` as the project shows), so the
    steering records the command verification would use; Maven and Gradle builds, which it
    does not look for, come after.

    Raises:
        SettingsError: ``verify.command`` has a bad value.
    """
    from specloom.workflows.verify import find_test_command

    found = find_test_command(root, settings=settings if settings is not None else Settings())
    if found is not None:
        where = {"settings": "settings verify.command", "steering": "steering"}.get(
            found.source, "discovered"
        )
        return found.shown, f"{where}: {found.origin}" if found.origin else where
    if (root / "pom.xml").is_file():
        return "mvn test", "discovered: pom.xml"
    if (root / "build.gradle").is_file() or (root / "build.gradle.kts").is_file():
        wrapper = (root / "gradlew").is_file()
        return ("./gradlew test" if wrapper else "gradle test"), "discovered: the Gradle build"
    return None


def gather_facts(
    root: Path, *, settings: Settings | None = None, map_chars: int = 3_000
) -> RepositoryFacts:
    """What the repository at ``root`` shows, without a model.

    Args:
        root: The project root.
        settings: The merged settings (for ``verify.command``).
        map_chars: The repository map's size cap.
    """
    root = root.resolve()
    files = [path for path in list_files(root) if not path.startswith(".kiro/")]
    manifest_name, manifest_description, manifests = _manifests(root)
    readme, paragraph = _readme(root)
    languages: Counter[str] = Counter()
    folders: Counter[str] = Counter()
    root_files: list[str] = []
    for path in files:
        suffix = Path(path).suffix.lower()
        if suffix in _LANGUAGES:
            languages[_LANGUAGES[suffix]] += 1
        if "/" in path:
            folders[path.split("/", 1)[0]] += 1
        else:
            root_files.append(path)
    found = detect_test_command(root, settings)
    return RepositoryFacts(
        name=manifest_name or root.name,
        description=manifest_description or paragraph,
        readme=readme,
        manifests=manifests,
        build_files=[name for name in _BUILD_FILES if (root / name).is_file()],
        languages=languages.most_common(8),
        top_level=sorted(folders.items()),
        root_files=root_files[:30],
        test_command=found[0] if found else None,
        test_command_source=found[1] if found else None,
        repo_map=repo_map(root, max_chars=map_chars).text,
    )


def foundation_targets(root: Path, *, force: bool = False) -> tuple[list[Path], list[Path]]:
    """The foundation files to write and those to skip because they exist (no ``force``)."""
    folder = root / ".kiro" / "steering"
    paths = [folder / name for name in FOUNDATION_FILES]
    if force:
        return paths, []
    return [p for p in paths if not p.exists()], [p for p in paths if p.exists()]


def _clean(markdown: str) -> str:
    """The model's text as a steering body: no wrapping code fence, no front matter."""
    text = markdown.strip()
    fence = re.match(r"^(```|~~~)[\w-]*\n(?P<body>.*)\n\1\s*$", text, re.DOTALL)
    if fence:
        text = fence.group("body").strip()
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end != -1:
            text = text[end + 4 :].strip()
    return text


def _draft_problems(draft: SteeringDraft, heading: str) -> list[str]:
    body = _clean(draft.markdown)
    problems: list[str] = []
    if len(body) < 40:
        problems.append("the text is empty or too short; write the whole file")
    elif not re.search(r"^#\s+\S", body, re.MULTILINE):
        problems.append(f"start the file with the heading `{heading}`")
    if len(body) > 8_000:
        problems.append("the text is too long; keep it under 60 lines")
    return problems


def _with_test_command(body: str, command: str | None) -> str:
    """``tech.md``'s body with exactly one ``Test command:`` line: the one found."""
    kept = [line for line in body.splitlines() if not _TEST_COMMAND_LINE.match(line)]
    text = "\n".join(kept).rstrip()
    if command:
        text += f"\n\nTest command: `{command}`"
    return text


async def write_foundation_steering(
    root: Path,
    *,
    model: Model,
    settings: Settings | None = None,
    force: bool = False,
    on_progress: Callable[[str], None] | None = None,
) -> FoundationResult:
    """Write ``.kiro/steering/product.md``, ``tech.md`` and ``structure.md``.

    Args:
        root: The project root.
        model: The model that writes the files.
        settings: The merged settings (``verify.command`` wins over what is detected).
        force: Replace files that exist.
        on_progress: Told what is happening, one line at a time.

    Raises:
        ModelRequestError: The model gave no usable text for a file (nothing is written).
    """
    from specloom.llm.structured import generate

    root = root.resolve()
    targets, skipped = foundation_targets(root, force=force)
    if not targets:
        return FoundationResult([], skipped, None)
    facts = gather_facts(root, settings=settings)
    texts: dict[Path, str] = {}
    result = FoundationResult([], skipped, facts)
    for path in targets:
        brief, parts = _BRIEFS[path.name]
        found = re.search(r"`(# [^`]+)`", brief)
        heading = found.group(1) if found else "# "
        if on_progress is not None:
            on_progress(f"writing {path.name} ...")
        generated = await generate(
            SteeringDraft,
            f"{brief}\n\nFacts:\n\n{facts.render(parts)}",
            model=model,
            instructions=_INSTRUCTIONS,
            check=lambda draft, heading=heading: _draft_problems(draft, heading),
            repairs=2,
            max_tokens=1_200,
        )
        body = _clean(generated.value.markdown)
        if path.name == "tech.md":
            body = _with_test_command(body, facts.test_command)
        texts[path] = FRONT_MATTER + body.rstrip() + "\n"
        result.input_tokens += generated.input_tokens
        result.output_tokens += generated.output_tokens
        result.requests += generated.requests
    for path, text in texts.items():
        atomic_write(path, text)
        result.written.append(path)
    return result
