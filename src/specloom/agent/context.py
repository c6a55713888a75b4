"""The agent's context: what goes into the instructions besides the request.

``build_context`` gathers, for one request:

- steering (``specloom.agent.steering``): ``always`` files, ``fileMatch`` files whose
  patterns match a path the work touches (``touched_paths`` and the files the request
  references), ``auto`` files whose description matches the request, and ``manual`` files
  the request names as ``#name``; their ``#[[file:...]]`` includes expanded;
- references in the request: ``#file:path`` (the file's text, confined to the workspace;
  ``#[[file:path]]`` too), ``#spec:name`` (the spec's documents), ``#name`` (a steering
  file; an unknown ``#name`` stays ordinary text: ``#123`` or ``#hashtag``);
- memory: the rules learned from reviews (``specloom.agent.memory``);
- the repository map (``specloom.agent.repomap``).

Caps: ``#file`` at ``FILE_CHARS`` characters each, ``#spec`` at ``SPEC_CHARS``, the map at
``REPO_MAP_CHARS``, memory at ``memory.PROMPT_CAP``, and everything at ``max_chars``. When
the total does not fit, parts are served in this priority, each cut to what is left (at a
line boundary, with a note) or, under ``MIN_PART_CHARS``, left out with a problem:

1. explicit references: ``#file``, ``#spec`` and steering named by ``#name``;
2. ``always`` steering;
3. memory;
4. ``fileMatch`` steering;
5. ``auto`` steering;
6. the repository map (built for the room that is left, so it is cut by its own ranking).

``Context.render`` lays the parts out in a fixed order that keeps what changes least first
(steering, memory, map, then the references of this request), which keeps the prompt's
prefix cacheable. Settings (``context`` section of the settings files): ``max_chars``,
``repo_map_chars``, ``file_chars``, ``spec_chars`` (integers) and ``steering_dirs`` (a list
of folder-steering directories).

May import: the standard library, ``specloom.errors``, ``specloom.settings``,
``specloom.workspace``, ``specloom.spec`` and ``specloom.agent`` modules ``confine``,
``steering``, ``repomap``, ``memory`` and ``spec_parts``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from specloom.agent.confine import Workspace
from specloom.agent.memory import PROMPT_CAP, format_memory, memory_for_prompt
from specloom.agent.repomap import repo_map
from specloom.agent.spec_parts import load_spec
from specloom.agent.steering import Included, SteeringFile, expand_includes, load_steering, select
from specloom.errors import ModelFacingError, SettingsError, StateFileError
from specloom.settings import Settings, load_settings
from specloom.spec.model import SPEC_FILES
from specloom.workspace import Workspace as Project

__all__ = [
    "DEFAULT_MAX_CHARS",
    "FILE_CHARS",
    "MIN_PART_CHARS",
    "REPO_MAP_CHARS",
    "SPEC_CHARS",
    "Context",
    "ContextPart",
    "PartKind",
    "References",
    "build_context",
    "parse_references",
]

PartKind = Literal["steering", "include", "file", "spec", "repomap", "memory"]

DEFAULT_MAX_CHARS = 48_000
"""Characters of context in all (about 12k tokens)."""
FILE_CHARS = 20_000
"""Characters of one ``#file`` reference."""
SPEC_CHARS = 30_000
"""Characters of one ``#spec`` reference."""
REPO_MAP_CHARS = 8_000
"""Characters of the repository map."""
MIN_PART_CHARS = 200
"""A part that would get less room than this is left out rather than cut."""

_FILE_REFERENCE = re.compile(
    r"#\[\[file:(?P<bracketed>[^\]\n]+)\]\]"
    r"|(?<![\w#])#file:(?:\"(?P<quoted>[^\"\n]+)\"|`(?P<ticked>[^`\n]+)`|(?P<bare>\S+))"
)
_SPEC_REFERENCE = re.compile(r"(?<![\w#])#spec:(?P<name>[\w][\w.\-]*)")
_NAME_REFERENCE = re.compile(r"(?<![\w#&/])#(?P<name>[A-Za-z][\w\-]*(?:\.[\w\-]+)*)")
_TRAILING = ".,;:!?)]}'\""

# Priority when the total cap bites (lower first) and layout order in ``render``.
_PRIORITY = {"reference": 0, "always": 1, "memory": 2, "fileMatch": 3, "auto": 4, "repomap": 5}
_LAYOUT = {"steering": 0, "memory": 1, "repomap": 2, "spec": 3, "file": 4, "include": 4}
_TITLES = {
    "steering": "Steering",
    "memory": "Memory",
    "repomap": "Repository map",
    "spec": "Spec",
    "file": "File",
    "include": "File",
}


@dataclass(frozen=True, slots=True)
class ContextPart:
    """One piece of context.

    Attributes:
        kind: ``steering``, ``include``, ``file``, ``spec``, ``repomap`` or ``memory``.
        name: Which one: a steering file's name, a path, a spec's name.
        text: What goes into the prompt.
        reason: Why it is included (``always``, ``fileMatch: ...``, ``#file reference``...).
        includes: The files its ``#[[file:...]]`` lines brought in (steering only).
        truncated: Whether ``text`` was cut for a cap.
    """

    kind: PartKind
    name: str
    text: str
    reason: str
    includes: tuple[Included, ...] = ()
    truncated: bool = False


@dataclass(slots=True)
class Context:
    """The context for one request.

    Attributes:
        parts: What is included, in layout order.
        problems: Warnings to show the user: broken steering files, missing references,
            parts cut or left out for the caps.
    """

    parts: list[ContextPart] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def render(self) -> str:
        """The parts as one block for the system prompt, a heading per part."""
        if not self.parts:
            return ""
        out = [
            "# Context",
            "Project guidance and material for this request. Follow the steering; use the "
            "files and specs as the current state of the project.",
        ]
        for part in self.parts:
            title = _TITLES[part.kind]
            if part.kind in ("repomap", "memory"):
                heading = f"## {title}"
            else:
                heading = f"## {title}: {part.name}"
            out += ["", f"{heading} ({part.reason})", "", part.text.rstrip("\n")]
        return "\n".join(out) + "\n"

    def audit_items(self) -> list[tuple[str, str, int]]:
        """``(part, name, size in characters)`` for each part, and for each file a steering
        file's includes brought in (part ``include``)."""
        items: list[tuple[str, str, int]] = []
        for part in self.parts:
            items.append((part.kind, part.name, len(part.text)))
            items += [("include", item.path, item.size) for item in part.includes]
        return items


@dataclass(frozen=True, slots=True)
class References:
    """What a request refers to.

    Attributes:
        files: ``#file:`` paths, in order, without repeats.
        specs: ``#spec:`` names.
        names: ``#name`` words (steering candidates; unknown ones are ordinary text).
    """

    files: tuple[str, ...] = ()
    specs: tuple[str, ...] = ()
    names: tuple[str, ...] = ()


def parse_references(request: str) -> References:
    """The ``#file:``, ``#[[file:]]``, ``#spec:`` and ``#name`` references in ``request``.

    A bare ``#file:`` path ends at white space, and trailing punctuation is not part of it
    (``see #file:src/app.py.`` names ``src/app.py``); quote a path with spaces
    (``#file:"docs/my notes.md"``).
    """
    files: list[str] = []
    for match in _FILE_REFERENCE.finditer(request):
        path = match.group("bracketed") or match.group("quoted") or match.group("ticked")
        if path is None:
            path = (match.group("bare") or "").rstrip(_TRAILING)
        path = path.strip()
        if path and path not in files:
            files.append(path)
    specs = list(
        dict.fromkeys(m.group("name").rstrip(".-") for m in _SPEC_REFERENCE.finditer(request))
    )
    names: list[str] = []
    for match in _NAME_REFERENCE.finditer(request):
        name = match.group("name")
        if name.casefold() in ("file", "spec") and request[match.end() : match.end() + 1] == ":":
            continue
        if name not in names:
            names.append(name)
    return References(tuple(files), tuple(specs), tuple(names))


@dataclass(slots=True)
class _Candidate:
    priority: int
    order: int
    kind: PartKind
    name: str
    text: str
    reason: str
    includes: tuple[Included, ...] = ()
    truncated: bool = False


def _cut(text: str, limit: int, what: str) -> tuple[str, bool]:
    """``text`` cut to ``limit`` characters at a line boundary, with a closing note."""
    if len(text) <= limit:
        return text, False
    note = f"\n[... cut here: {len(text) - limit} more characters of {what} not shown]"
    room = max(limit - len(note), 0)
    head = text[:room]
    if "\n" in head:
        head = head.rsplit("\n", 1)[0]
    return head + note, True


def _int_setting(settings: Settings, key: str, default: int, problems: list[str]) -> int:
    value = settings.get("context", key, default=default)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    path, line = settings.locate("context", key)
    where = f"{path}:{line}" if line else str(path)
    problems.append(
        f"{where}: `context.{key}` must be a whole number of characters, not {value!r}; "
        f"using {default}."
    )
    return default


def _steering_dirs(settings: Settings, problems: list[str]) -> list[Path]:
    value = settings.get("context", "steering_dirs", default=[])
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [Path(item).expanduser() for item in value]
    path, line = settings.locate("context", "steering_dirs")
    where = f"{path}:{line}" if line else str(path)
    problems.append(f"{where}: `context.steering_dirs` must be a list of folders; it is ignored.")
    return []


def _file_part(workspace: Workspace, path: str, cap: int) -> tuple[str, str, bool] | str:
    """``(display path, text, truncated)`` of a ``#file`` reference, or the problem."""
    try:
        real = workspace.resolve(path, write=False)
    except ModelFacingError as error:
        return f"#file:{path} is not included: {error}"
    shown = workspace.display(real)
    if real.is_dir():
        listing = sorted(workspace.display(item) for item in workspace.files(real))
        text, cut = _cut("\n".join(listing) + "\n", cap, f"the folder {shown}")
        return shown, text, cut
    if not real.is_file():
        return f"#file:{path} is not included: there is no such file in the workspace."
    try:
        data = real.read_bytes()
    except OSError as error:
        return f"#file:{path} is not included: it cannot be read ({error.strerror})."
    if b"\0" in data[:8192]:
        return f"#file:{path} is not included: it is a binary file."
    text = data.decode("utf-8", errors="replace").removeprefix("\ufeff").replace("\r\n", "\n")
    fence = "`" * (max((len(run) for run in re.findall(r"`{3,}", text)), default=2) + 1)
    body, cut = _cut(text.rstrip("\n"), cap, shown)
    language = real.suffix.lstrip(".").lower()
    return shown, f"{fence}{language}\n{body}\n{fence}\n", cut


def _spec_part(workspace: Workspace, name: str, cap: int) -> tuple[str, bool] | str:
    """``(text, truncated)`` of a ``#spec`` reference: its documents; or the problem."""
    try:
        spec = load_spec(workspace, name)
    except ModelFacingError as error:
        known = sorted({n for root in workspace.roots for n in Project(root).spec_names()})
        if any(name == item for item in known):
            return f"#spec:{name} is not included: {error}"
        return (
            f"#spec:{name} is not included: there is no spec named {name!r}. Known specs: "
            f"{', '.join(known) or 'none'}."
        )
    root = next(r for r in workspace.roots if (r / ".kiro" / "specs" / name).is_dir())
    folder = root / ".kiro" / "specs" / name
    sections: list[str] = [f"Spec {spec.name} ({spec.type}; phase: {spec.phase()})"]
    for file_name in SPEC_FILES[:4]:
        path = folder / file_name
        if not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", errors="replace").removeprefix("\ufeff")
        sections += ["", f"### {workspace.display(path)}", "", text.replace("\r\n", "\n").rstrip()]
    text, cut = _cut("\n".join(sections) + "\n", cap, f"spec {name} (read_spec shows any part)")
    return text, cut


def _steering_candidate(
    item: SteeringFile, reason: str, workspace: Workspace, order: int, referenced: bool
) -> tuple[_Candidate, list[str]]:
    expansion = expand_includes(
        item.body, workspace, source=_shown_path(item, workspace), origin=item.path
    )
    key = "reference" if referenced else item.inclusion
    if key == "manual":
        key = "reference"
    text = expansion.text.strip("\n") + "\n"
    candidate = _Candidate(
        _PRIORITY.get(key, 1), order, "steering", item.name, text, reason,
        tuple(expansion.included),
    )  # fmt: skip
    return candidate, expansion.problems


def _shown_path(item: SteeringFile, workspace: Workspace) -> str:
    real = item.path.resolve()
    return workspace.display(real) if workspace.root_of(real) else str(item.path)


def build_context(
    root: Path,
    *,
    request: str,
    touched_paths: Iterable[str] = (),
    settings: Settings | None = None,
    include_repo_map: bool = True,
    include_memory: bool = True,
    max_chars: int | None = None,
    user_steering_dir: Path | None = None,
    user_memory_dir: Path | None = None,
) -> Context:
    """The context for one request in the project at ``root``.

    Args:
        root: The project root.
        request: What the user asked (references are read from it).
        touched_paths: Paths (relative to ``root``) the work reads or changes, for
            ``fileMatch`` steering.
        settings: Settings (default: read from ``root`` and the user's config).
        include_repo_map: Whether to add the repository map.
        include_memory: Whether to add the rules learned from reviews.
        max_chars: The total cap (default: ``context.max_chars`` or ``DEFAULT_MAX_CHARS``).
        user_steering_dir: The user's steering folder (default: ``~/.kiro/steering``).
        user_memory_dir: Where the user's memory lives (default: the user data dir).

    Returns:
        The parts and the problems; nothing here raises for a bad steering file or a
        missing reference.
    """
    problems: list[str] = []
    if settings is None:
        try:
            settings = load_settings(root)
        except SettingsError as error:
            problems.append(f"{error} The context uses default settings.")
            settings = Settings()
    total = (
        max_chars
        if max_chars is not None
        else _int_setting(settings, "max_chars", DEFAULT_MAX_CHARS, problems)
    )
    file_cap = _int_setting(settings, "file_chars", FILE_CHARS, problems)
    spec_cap = _int_setting(settings, "spec_chars", SPEC_CHARS, problems)
    map_cap = _int_setting(settings, "repo_map_chars", REPO_MAP_CHARS, problems)
    workspace = Workspace([root])
    references = parse_references(request)
    candidates: list[_Candidate] = []
    touched = list(touched_paths)

    for path in references.files:
        found = _file_part(workspace, path, file_cap)
        if isinstance(found, str):
            problems.append(found)
            continue
        shown, text, cut = found
        touched.append(shown)
        candidates.append(
            _Candidate(0, len(candidates), "file", shown, text, "#file reference", truncated=cut)
        )
    for name in references.specs:
        found_spec = _spec_part(workspace, name, spec_cap)
        if isinstance(found_spec, str):
            problems.append(found_spec)
            continue
        text, cut = found_spec
        candidates.append(
            _Candidate(0, len(candidates), "spec", name, text, "#spec reference", truncated=cut)
        )

    steering = load_steering(
        root, user_dir=user_steering_dir, extra_dirs=_steering_dirs(settings, problems)
    )
    for item in steering:
        problems += item.warnings
    chosen = select(
        steering, request=request, touched_paths=touched, referenced_names=references.names
    )
    for item, reason in chosen:
        referenced = reason.startswith("referenced as")
        candidate, include_problems = _steering_candidate(
            item, reason, workspace, len(candidates), referenced
        )
        candidates.append(candidate)
        problems += include_problems

    if include_memory:
        try:
            rules = memory_for_prompt(root, max_chars=PROMPT_CAP, user_dir=user_memory_dir)
        except StateFileError as error:
            problems.append(f"{error} Memory is left out of the context.")
            rules = []
        if rules:
            text = format_memory(rules)
            candidates.append(
                _Candidate(_PRIORITY["memory"], len(candidates), "memory", "rules", text,
                           f"{len(rules)} rules learned from reviews")
            )  # fmt: skip

    parts: list[ContextPart] = []
    order: dict[int, int] = {}  # id(part) -> the order it was gathered in (layout ties)
    used = 0
    for candidate in sorted(candidates, key=lambda c: (c.priority, c.order)):
        room = total - used
        text, cut = candidate.text, candidate.truncated
        if len(text) > room:
            if room < MIN_PART_CHARS:
                problems.append(
                    f"{candidate.kind} {candidate.name} is left out: the context reached its "
                    f"cap of {total} characters."
                )
                continue
            text, _ = _cut(text, room, f"{candidate.kind} {candidate.name}")
            cut = True
            problems.append(
                f"{candidate.kind} {candidate.name} was cut to {len(text)} characters to fit "
                f"the context cap of {total}."
            )
        used += len(text)
        part = ContextPart(
            candidate.kind, candidate.name, text, candidate.reason, candidate.includes, cut
        )
        order[id(part)] = candidate.order
        parts.append(part)

    if include_repo_map:
        room = min(map_cap, total - used)
        if room >= MIN_PART_CHARS:
            mapped = repo_map(root, max_chars=room)
            if mapped.text:
                reason = f"{len(mapped.files_listed)} of {mapped.total_files} files"
                parts.append(ContextPart("repomap", "repository", mapped.text, reason,
                                         truncated=mapped.truncated))  # fmt: skip
        else:
            problems.append(
                f"the repository map is left out: the context reached its cap of {total} "
                "characters."
            )
    parts.sort(key=lambda part: (_LAYOUT[part.kind], order.get(id(part), len(order))))
    return Context(parts, problems)
