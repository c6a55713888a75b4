"""Steering files: loading them, expanding their includes, and choosing which apply.

Steering files are markdown files with an optional YAML front matter, as Kiro writes them:

- project steering: ``<root>/.kiro/steering/*.md``;
- user steering: Kiro's ``~/.kiro/steering/*.md`` (for every project); a project file with
  the same name replaces the user's;
- folder steering: extra directories (shared standards kept outside the project), searched
  recursively for ``*.md``. As in Kiro Crew's folder steering, only files whose inclusion is
  ``always`` (or absent) are taken from them, a file reachable twice is taken once, and files
  that are the project's or the user's steering are skipped there.

Front matter keys: ``inclusion`` (``always``, the default; ``fileMatch`` with
``fileMatchPattern``; ``manual``, pulled in as ``#name``; ``auto``, chosen when the request
matches ``description``), ``name`` (another name the file answers to) and ``description``.
Unknown keys are kept in ``SteeringFile.extra``. Real files are messy, and all of them load:
no front matter, a byte-order mark, Windows line endings, a pattern written as a string, a
YAML list, a comma list or a brace glob, quoted or not (``fileMatchPattern: **/*.ts`` is not
valid YAML, so a front matter YAML refuses is read again as plain ``key: value`` lines).
A front matter that cannot be read either way gives a warning naming the file and line, and
the file counts as ``always``.

Which files apply to a piece of work is ``select``: ``always`` files, ``fileMatch`` files whose
glob matches a touched path, ``auto`` files whose description matches the request (both rules
are in ``specloom.agent.steering_match``), and any file the request names as ``#name``.
``#[[file:...]]`` includes are expanded by ``specloom.agent.steering_includes``. The public
names of both modules are re-exported here.

May import: the standard library, ``yaml``, ``specloom.errors``, ``specloom.workspace``,
``specloom.agent.steering_match`` and ``specloom.agent.steering_includes``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from specloom.agent.steering_includes import (
    MAX_INCLUDE_CHARS,
    MAX_INCLUDE_DEPTH,
    MAX_INCLUDED_TOTAL,
    Expansion,
    Included,
    _unquote,
    expand_includes,
)
from specloom.agent.steering_match import (
    AUTO_MIN_COVERAGE,
    AUTO_MIN_SHARED,
    MAX_BRACE_EXPANSIONS,
    _auto_matches,
    _normal_path,
    _split_top_level,
    auto_score,
    expand_braces,
    glob_match,
)
from specloom.errors import SpecSyntaxError
from specloom.workspace import read_text

__all__ = [
    "AUTO_MIN_COVERAGE",
    "AUTO_MIN_SHARED",
    "MAX_BRACE_EXPANSIONS",
    "MAX_INCLUDED_TOTAL",
    "MAX_INCLUDE_CHARS",
    "MAX_INCLUDE_DEPTH",
    "Expansion",
    "Included",
    "Inclusion",
    "Scope",
    "SteeringFile",
    "auto_score",
    "expand_braces",
    "expand_includes",
    "glob_match",
    "load_steering",
    "parse_steering",
    "select",
    "user_steering_dir",
]

Inclusion = Literal["always", "fileMatch", "manual", "auto"]
Scope = Literal["project", "user", "folder"]
MAX_STEERING_FILES = 200
"""Steering files read per folder; more are ignored with a warning."""

_INCLUSIONS: dict[str, Inclusion] = {
    "always": "always",
    "filematch": "fileMatch",
    "file_match": "fileMatch",
    "file-match": "fileMatch",
    "manual": "manual",
    "auto": "auto",
}
_KNOWN_KEYS = ("inclusion", "fileMatchPattern", "name", "description")
_PATTERN_KEYS = ("filematchpattern", "filematchpatterns", "filepattern", "pattern", "patterns")


@dataclass(frozen=True, slots=True)
class SteeringFile:
    """One steering file, read and classified.

    Attributes:
        name: The file's name without ``.md`` (for folder steering, its path below the
            folder): what ``#name`` refers to.
        path: Where it was read from.
        scope: ``project``, ``user`` or ``folder``.
        inclusion: When it applies.
        patterns: ``fileMatch`` globs (braces kept; ``glob_match`` expands them).
        description: What it is about (``auto`` files are chosen by it).
        body: The text after the front matter, line endings made ``\\n``.
        declared_name: The front matter's ``name``, another name ``#`` may use.
        extra: Front-matter keys specloom does not use, kept as read.
        warnings: What was wrong with the file, each naming the file and line.
    """

    name: str
    path: Path
    scope: Scope
    inclusion: Inclusion = "always"
    patterns: tuple[str, ...] = ()
    description: str = ""
    body: str = ""
    declared_name: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def answers_to(self, reference: str) -> bool:
        """Whether ``#reference`` names this file (case ignored, ``.md`` optional)."""
        wanted = _reference_key(reference)
        names = {_reference_key(self.name)}
        if self.declared_name:
            names.add(_reference_key(self.declared_name))
        return wanted in names


def _reference_key(name: str) -> str:
    name = name.strip().lstrip("#").casefold()
    return name[:-3] if name.endswith(".md") else name


def user_steering_dir() -> Path:
    """Kiro's user-level steering folder, ``~/.kiro/steering``."""
    return Path.home() / ".kiro" / "steering"


# --- reading --------------------------------------------------------------------------------


def _display(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    try:
        return "~/" + path.relative_to(Path.home()).as_posix()
    except ValueError:
        return str(path)


def _front_matter(lines: list[str]) -> tuple[int, int] | None:
    """``(first, end)``: front-matter lines are ``lines[first:end]``, the closing fence is
    ``lines[end]``; ``None`` when the file has none. ``end`` is -1 when it is never closed."""
    if not lines or lines[0].strip() != "---":
        return None
    for index in range(1, len(lines)):
        if lines[index].strip() in ("---", "..."):
            return 1, index
    return 1, -1


_LOOSE_LINE = re.compile(r"^(?P<key>[A-Za-z_][\w\-]*)\s*:\s*(?P<value>.*?)\s*$")
_LOOSE_ITEM = re.compile(r"^\s+-\s*(?P<value>.*?)\s*$|^-\s+(?P<top>.*?)\s*$")


def _loose_parse(block: list[str]) -> tuple[dict[str, Any], int | None]:
    """Plain ``key: value`` lines (and ``- item`` lines under a key with no value), for the
    front matter YAML refuses. Returns the mapping and the 0-based index of the first line
    that is neither (``None`` when every line was read)."""
    data: dict[str, Any] = {}
    current: str | None = None
    for index, line in enumerate(block):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        item = _LOOSE_ITEM.match(line)
        if item and current is not None and isinstance(data.get(current), list):
            data[current].append(_unquote(item.group("value") or item.group("top") or ""))
            continue
        entry = _LOOSE_LINE.match(line)
        if entry is None:
            return data, index
        key: str = entry.group("key")
        current = key
        value: str = entry.group("value")
        if value.startswith("#"):
            value = ""
        if value[:1] not in ("'", '"'):
            value = re.sub(r"\s+#.*$", "", value)
        closer = {"[": "]", "{": "}", "'": "'", '"': '"'}.get(value[:1])
        if closer is not None and (len(value) < 2 or not value.endswith(closer)):
            return data, index  # an unclosed bracket or quote: really broken
        if value.startswith("["):
            data[key] = [_unquote(item) for item in _split_top_level(value[1:-1]) if item]
        else:
            data[key] = _unquote(value) if value else []
    return data, None


def _key_line(block: list[str], key: str, first_line: int) -> int:
    for index, line in enumerate(block):
        if re.match(rf"^\s*{re.escape(key)}\s*:", line, re.IGNORECASE):
            return first_line + index
    return first_line


def _patterns(value: Any) -> tuple[list[str], bool]:
    """Globs from a front-matter value, and whether the value had a usable shape."""
    if value is None:
        return [], True
    if isinstance(value, str):
        text = value.strip()
        # A whole-value brace glob stays one pattern; "a, b" is a list written on one line.
        if text.startswith("{") and text.endswith("}") and len(_split_top_level(text)) == 1:
            return [text], True
        return [_unquote(p) for p in _split_top_level(text) if _unquote(p)], True
    if isinstance(value, Mapping):
        # `fileMatchPattern: {a/**,b/**}` unquoted is a YAML flow mapping of its alternatives.
        if all(item is None for item in value.values()):
            return [str(key) for key in value], True
        return [], False
    if isinstance(value, list | tuple):
        found: list[str] = []
        for item in value:
            if not isinstance(item, str | int | float):
                return found, False
            found += _patterns(str(item))[0]
        return found, True
    if isinstance(value, int | float):
        return [str(value)], True
    return [], False


def parse_steering(
    text: str, path: Path, scope: Scope, *, name: str | None = None, display: str | None = None
) -> SteeringFile:
    """Read one steering file's text (see the module docstring for the rules).

    Args:
        text: The file's text (a leading byte-order mark is dropped here too).
        path: Where it came from.
        scope: ``project``, ``user`` or ``folder``.
        name: Its ``#name`` (default: the file name without ``.md``).
        display: How warnings name the file (default: ``path``).

    Returns:
        The file; problems are in ``warnings``, never raised.
    """
    shown = display or str(path)
    name = name or (path.name[:-3] if path.name.lower().endswith(".md") else path.name)
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    warnings: list[str] = []
    span = _front_matter(lines)
    if span is None:
        return SteeringFile(name=name, path=path, scope=scope, body=text)
    first, end = span
    if end == -1:
        warnings.append(
            f"{shown}:1: the front matter opened here is never closed with `---`; the whole "
            "file is used as its text and it is treated as `inclusion: always`."
        )
        return SteeringFile(name, path, scope, body=text, warnings=tuple(warnings))
    block = lines[first:end]
    body = "\n".join(lines[end + 1 :])
    data: Any
    try:
        data = yaml.safe_load("\n".join(block)) if any(line.strip() for line in block) else {}
    except yaml.YAMLError as error:
        loose, bad = _loose_parse(block)
        if bad is None:
            data = loose
        else:
            # The first line the plain reading stumbles on is where the fault starts; YAML's
            # own mark is often the line after an unclosed bracket.
            line = first + 1 + bad
            problem = getattr(error, "problem", None) or "not valid YAML"
            warnings.append(
                f"{shown}:{line}: the front matter cannot be read ({problem}); the file is "
                "treated as `inclusion: always`."
            )
            return SteeringFile(name, path, scope, body=body, warnings=tuple(warnings))
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        warnings.append(
            f"{shown}:{first + 1}: the front matter is not a list of `key: value` lines; the "
            "file is treated as `inclusion: always`."
        )
        return SteeringFile(name, path, scope, body=body, warnings=tuple(warnings))
    by_fold = {str(key).casefold(): key for key in data}
    used: set[str] = set()

    def take(*keys: str) -> tuple[Any, str | None]:
        for key in keys:
            original = by_fold.get(key.casefold())
            if original is not None:
                used.add(str(original))
                return data[original], str(original)
        return None, None

    raw_inclusion, inclusion_key = take("inclusion")
    inclusion: Inclusion = "always"
    if raw_inclusion is not None:
        folded = str(raw_inclusion).strip().casefold()
        if folded in _INCLUSIONS:
            inclusion = _INCLUSIONS[folded]
        else:
            line = _key_line(block, inclusion_key or "inclusion", first + 1)
            warnings.append(
                f"{shown}:{line}: unknown inclusion {raw_inclusion!r} (use always, fileMatch, "
                "manual or auto); the file is treated as `inclusion: always`."
            )
    raw_patterns, pattern_key = take(*_PATTERN_KEYS)
    patterns, usable = _patterns(raw_patterns)
    if not usable:
        line = _key_line(block, pattern_key or "fileMatchPattern", first + 1)
        warnings.append(
            f"{shown}:{line}: `{pattern_key}` must be a glob or a list of globs; "
            + ("only the globs among its items are used." if patterns else "it is ignored.")
        )
    if inclusion == "fileMatch" and not patterns:
        line = _key_line(block, inclusion_key or "inclusion", first + 1)
        warnings.append(
            f"{shown}:{line}: `inclusion: fileMatch` without a `fileMatchPattern` matches no "
            "file; the file is only included when a request names it as #" + name + "."
        )
    raw_name, _ = take("name")
    declared = str(raw_name).strip() if raw_name not in (None, "", []) else None
    raw_description, _ = take("description")
    description = "" if raw_description in (None, []) else " ".join(str(raw_description).split())
    if inclusion == "auto" and not description:
        line = _key_line(block, inclusion_key or "inclusion", first + 1)
        warnings.append(
            f"{shown}:{line}: `inclusion: auto` without a `description` cannot match a "
            "request; the file is only included when a request names it as #" + name + "."
        )
    extra = {str(key): value for key, value in data.items() if str(key) not in used}
    return SteeringFile(
        name=name,
        path=path,
        scope=scope,
        inclusion=inclusion,
        patterns=tuple(patterns),
        description=description,
        body=body,
        declared_name=declared,
        extra=extra,
        warnings=tuple(warnings),
    )


def _read_file(path: Path, scope: Scope, name: str, shown: str) -> SteeringFile:
    try:
        text = read_text(path, shown)
    except SpecSyntaxError as error:
        return SteeringFile(name, path, scope, warnings=(f"{error} It is skipped.",))
    except OSError as error:
        reason = error.strerror or type(error).__name__
        return SteeringFile(
            name, path, scope, warnings=(f"{shown}: cannot be read ({reason}); it is skipped.",)
        )
    return parse_steering(text, path, scope, name=name, display=shown)


def _markdown_files(folder: Path, *, recursive: bool) -> list[Path]:
    if not folder.is_dir():
        return []
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(
        (path for path in found if path.suffix.lower() == ".md" and path.is_file()),
        key=lambda path: path.as_posix(),
    )


def load_steering(
    root: Path | None,
    *,
    user_dir: Path | None = None,
    extra_dirs: Sequence[Path] = (),
) -> list[SteeringFile]:
    """Every steering file that applies to a project, project files first.

    Args:
        root: The project root (``None`` outside a project: user steering only).
        user_dir: The user's steering folder (default: ``~/.kiro/steering``).
        extra_dirs: Folder-steering directories (see the module docstring).

    Returns:
        Project files by name, then the user's files whose name no project file has, then
        folder steering. A file that cannot be read is kept, empty, with a warning; a file
        that is not UTF-8 too.
    """
    user_folder = user_dir if user_dir is not None else user_steering_dir()
    project_folder = root / ".kiro" / "steering" if root is not None else None
    loaded: list[SteeringFile] = []
    seen_names: set[str] = set()
    for folder, scope in ((project_folder, "project"), (user_folder, "user")):
        if folder is None:
            continue
        scope_name: Scope = "project" if scope == "project" else "user"
        paths = _markdown_files(folder, recursive=False)
        for path in paths[:MAX_STEERING_FILES]:
            name = path.name[:-3]
            if name.casefold() in seen_names:
                continue  # the project's file of the same name wins
            seen_names.add(name.casefold())
            loaded.append(_read_file(path, scope_name, name, _display(path, root)))
        if len(paths) > MAX_STEERING_FILES:
            loaded[-1] = _with_warning(
                loaded[-1],
                f"{_display(folder, root)}: more than {MAX_STEERING_FILES} steering files; "
                "the rest are ignored.",
            )
    skipped = [folder.resolve() for folder in (project_folder, user_folder) if folder]
    seen_paths: set[Path] = set()
    for extra in extra_dirs:
        base = Path(os.path.expanduser(extra))
        if not base.is_dir():
            continue
        real_base = base.resolve()
        for path in _markdown_files(base, recursive=True)[:MAX_STEERING_FILES]:
            real = path.resolve()
            if not real.is_relative_to(real_base) or real in seen_paths:
                continue  # a link out of its folder, or a file reached twice
            if any(real.is_relative_to(folder) for folder in skipped):
                continue  # already delivered as project or user steering
            seen_paths.add(real)
            name = path.relative_to(base).as_posix()[:-3]
            steering = _read_file(path, "folder", name, _display(path, root))
            if steering.inclusion != "always":
                continue
            loaded.append(steering)
    return loaded


def _with_warning(steering: SteeringFile, warning: str) -> SteeringFile:
    return SteeringFile(
        steering.name,
        steering.path,
        steering.scope,
        steering.inclusion,
        steering.patterns,
        steering.description,
        steering.body,
        steering.declared_name,
        steering.extra,
        (*steering.warnings, warning),
    )


# --- selection ----------------------------------------------------------------------------


def select(
    steering: Iterable[SteeringFile],
    *,
    request: str,
    touched_paths: Iterable[str] = (),
    referenced_names: Iterable[str] = (),
) -> list[tuple[SteeringFile, str]]:
    """The steering files that apply to one piece of work, each with the reason, in the
    order given.

    Args:
        steering: The loaded files (``load_steering``).
        request: What the user asked for (``auto`` files are matched against it).
        touched_paths: Paths (relative to the project root) the work reads or changes.
        referenced_names: Names the request mentions as ``#name``.

    Returns:
        ``(file, reason)`` pairs: ``always``; ``fileMatch: <pattern> matches <path>``;
        ``referenced as #name``; ``auto: ...`` with the words that matched.
    """
    touched = [_normal_path(path) for path in touched_paths]
    references = list(referenced_names)
    chosen: list[tuple[SteeringFile, str]] = []
    for item in steering:
        reference = next((ref for ref in references if item.answers_to(ref)), None)
        if item.inclusion == "always":
            chosen.append((item, "always"))
        elif reference is not None:
            chosen.append((item, f"referenced as #{reference.lstrip('#')}"))
        elif item.inclusion == "fileMatch":
            hit = next(
                ((pattern, path) for pattern in item.patterns for path in touched
                 if glob_match(pattern, path)),
                None,
            )  # fmt: skip
            if hit is not None:
                chosen.append((item, f"fileMatch: {hit[0]} matches {hit[1]}"))
        elif item.inclusion == "auto":
            matched, reason = _auto_matches(item, request)
            if matched:
                chosen.append((item, reason))
    return chosen
