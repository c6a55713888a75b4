"""Reading hook files into ``Hook`` objects, and the few edits specloom makes to them.

``load_hooks(root)`` reads every ``.kiro/hooks/*.kiro.hook`` (legacy, one hook each) and
``.kiro/hooks/*.json`` (v1, a list of hooks) in name order. A file that cannot be read, or a
hook in it with a bad field, becomes a problem (a ``SettingsError`` naming the file, the
line and the field, with a fix); every other hook still loads. Keys specloom does not know
are kept in the file and ignored.

Editing hook files is ``specloom.hooks.editing``'s job.

May import: the standard library, ``specloom.errors``, ``specloom.workspace`` and
``specloom.hooks.model``, ``.jsonspans``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specloom.errors import SettingsError, SpecNotFoundError, UsageError, UserFacingError
from specloom.hooks.jsonspans import Span, line_of, parse_spans
from specloom.hooks.model import (
    FILE_EVENTS,
    TOOL_EVENTS,
    V1_TRIGGERS,
    Action,
    EventKind,
    Hook,
    parse_event_kind,
)
from specloom.workspace import read_text

__all__ = [
    "HOOKS_DIR",
    "LEGACY_SUFFIX",
    "HookSet",
    "find_hook",
    "load_hooks",
    "read_hook_file",
    "slug",
]

HOOKS_DIR = Path(".kiro") / "hooks"
"""Where hook files live, relative to the project root."""
LEGACY_SUFFIX = ".kiro.hook"

_LEGACY_EVENTS = ", ".join(kind.value for kind in EventKind)
_V1_EVENTS = ", ".join(V1_TRIGGERS)


@dataclass(slots=True)
class HookSet:
    """The hooks of a project and what was wrong in their files.

    Attributes:
        hooks: Every hook that loaded, in file order.
        problems: One error per file (or v1 entry) that did not load.
    """

    hooks: list[Hook] = field(default_factory=list)
    problems: list[SettingsError] = field(default_factory=list)


def load_hooks(root: Path) -> HookSet:
    """Every hook under ``root/.kiro/hooks/``, and the problems of the files that are wrong."""
    folder = root / HOOKS_DIR
    found = HookSet()
    if not folder.is_dir():
        return found
    paths = sorted(
        path
        for path in folder.iterdir()
        if path.is_file() and (path.name.endswith(LEGACY_SUFFIX) or path.suffix == ".json")
    )
    for path in paths:
        hooks, problems = read_hook_file(path, display=_display(root, path))
        found.hooks.extend(hooks)
        found.problems.extend(problems)
    return found


def _display(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


class _Reader:
    """Validation of one file's JSON, with errors that name the file, line and field."""

    def __init__(self, path: Path, display: str, text: str, spans: Span) -> None:
        self.path = path
        self.display = display
        self.text = text
        self.spans = spans

    def error(self, message: str, path: Sequence[str | int], hint: str) -> SettingsError:
        keys = list(path)
        node = self.spans.find(*keys)
        while node is None and keys:
            keys.pop()
            node = self.spans.find(*keys)
        offset = 0
        if node is not None:
            offset = node.key_start if node.key_start is not None else node.start
        return SettingsError(message, file=self.display, line=line_of(self.text, offset), hint=hint)


def read_hook_file(
    path: Path, *, display: str | None = None
) -> tuple[list[Hook], list[SettingsError]]:
    """The hooks of one file (legacy or v1, by its name) and its problems."""
    shown = display or str(path)
    try:
        text = read_text(path, shown)
    except OSError as error:
        return [], [
            SettingsError(
                f"cannot read the hook file: {error.strerror or error}.",
                file=shown,
                hint="Check that it exists and can be read.",
            )
        ]
    except UserFacingError as error:  # not UTF-8
        return [], [SettingsError(error.message, file=shown, line=error.line, hint=error.hint)]
    try:
        spans = parse_spans(text)
        data = json.loads(text)
    except json.JSONDecodeError as error:
        return [], [
            SettingsError(
                f"not valid JSON: {error.msg}",
                file=shown,
                line=error.lineno,
                column=error.colno,
                hint="Fix the JSON syntax (comments and trailing commas are not allowed).",
            )
        ]
    reader = _Reader(path, shown, text, spans)
    if path.name.endswith(LEGACY_SUFFIX):
        try:
            return [_legacy_hook(reader, data)], []
        except SettingsError as error:
            return [], [error]
    return _v1_hooks(reader, data)


# --- legacy files -----------------------------------------------------------------------------


def _string(
    reader: _Reader,
    data: Mapping[str, Any],
    key: str,
    where: Sequence[str | int],
    *,
    required: bool,
    hint: str,
) -> str:
    value = data.get(key)
    field_name = ".".join(str(part) for part in [*where, key] if isinstance(part, str))
    if value is None:
        if required:
            raise reader.error(f"`{field_name}` is missing", list(where), hint)
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise reader.error(f"`{field_name}` must be a non-empty string", [*where, key], hint)
    return value


def _bool(
    reader: _Reader, data: Mapping[str, Any], key: str, where: Sequence[str | int], default: bool
) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        name = ".".join(str(part) for part in [*where, key] if isinstance(part, str))
        raise reader.error(
            f"`{name}` must be true or false", [*where, key], f'Write `"{key}": true`.'
        )
    return value


def _timeout(reader: _Reader, data: Mapping[str, Any], where: Sequence[str | int]) -> float | None:
    value = data.get("timeout")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        name = ".".join(str(part) for part in [*where, "timeout"] if isinstance(part, str))
        raise reader.error(
            f"`{name}` must be a number of seconds > 0",
            [*where, "timeout"],
            'Write `"timeout": 60`.',
        )
    return float(value)


def _string_list(
    reader: _Reader, value: Any, path: Sequence[str | int], name: str
) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(
        isinstance(item, str) and item.strip() for item in value
    ):
        raise reader.error(
            f"`{name}` must be a list of non-empty strings",
            list(path),
            f'Write `"{path[-1]}": ["src/**/*.py"]`.',
        )
    return tuple(value)


def _legacy_hook(reader: _Reader, data: Any) -> Hook:
    if not isinstance(data, dict):
        raise reader.error(
            "a .kiro.hook file must hold a JSON object ({...})",
            [],
            "Write the hook as an object with `name`, `when` and `then`.",
        )
    name = _string(
        reader,
        data,
        "name",
        [],
        required=True,
        hint='Give the hook a name: `"name": "Lint on save"`.',
    )
    description = _string(reader, data, "description", [], required=False, hint="")
    enabled = _bool(reader, data, "enabled", [], True)
    when = data.get("when")
    if not isinstance(when, dict):
        raise reader.error(
            "`when` is missing" if when is None else "`when` must be an object",
            ["when"] if when is not None else [],
            "Say what the hook fires on: "
            '`"when": {"type": "fileEdited", "patterns": ["**/*.py"]}`.',
        )
    kind_name = _string(
        reader, when, "type", ["when"], required=True, hint=f"Use one of: {_LEGACY_EVENTS}."
    )
    event = parse_event_kind(kind_name)
    if event is None:
        raise reader.error(
            f"`when.type` {kind_name!r} is not an event hooks know",
            ["when", "type"],
            f"Use one of: {_LEGACY_EVENTS}.",
        )
    patterns: tuple[str, ...] = ()
    tool_patterns: tuple[str, ...] = ()
    if event in FILE_EVENTS:
        if "patterns" not in when:
            raise reader.error(
                f"`when.patterns` is missing: a {event.value} hook needs the files it watches",
                ["when"],
                'Add `"patterns": ["**/*.py"]` (globs relative to the project root).',
            )
        patterns = _string_list(reader, when["patterns"], ["when", "patterns"], "when.patterns")
        _check_globs(reader, patterns, ["when", "patterns"])
    elif event in TOOL_EVENTS:
        for key in ("toolTypes", "tools", "patterns"):
            if key in when:
                tool_patterns = _string_list(reader, when[key], ["when", key], f"when.{key}")
                break
    then = data.get("then")
    if not isinstance(then, dict):
        raise reader.error(
            "`then` is missing" if then is None else "`then` must be an object",
            ["then"] if then is not None else [],
            'Say what the hook does: `"then": {"type": "runCommand", "command": "ruff check ."}` '
            'or `"then": {"type": "askAgent", "prompt": "..."}`.',
        )
    action_kind = _string(
        reader, then, "type", ["then"], required=True, hint="Use `askAgent` or `runCommand`."
    )
    folded = action_kind.casefold()
    timeout = _timeout(reader, then, ["then"])
    if folded == "runcommand":
        command = _string(
            reader,
            then,
            "command",
            ["then"],
            required=True,
            hint='Write `"command": "ruff check ."`.',
        )
        action = Action("runCommand", command=command, timeout_s=timeout)
    elif folded == "askagent":
        prompt = _string(
            reader,
            then,
            "prompt",
            ["then"],
            required=True,
            hint='Write `"prompt": "Update the tests for this change."`.',
        )
        action = Action("askAgent", prompt=prompt, timeout_s=timeout)
    else:
        raise reader.error(
            f"`then.type` {action_kind!r} is not an action hooks know",
            ["then", "type"],
            "Use `askAgent` or `runCommand`.",
        )
    button = data.get("button_text", when.get("button_text"))
    version = data.get("version")
    stem = reader.path.name[: -len(LEGACY_SUFFIX)]
    return Hook(
        id=stem,
        name=name,
        event=event,
        action=action,
        source=reader.path,
        format="legacy",
        description=description,
        enabled=enabled,
        patterns=patterns,
        tool_patterns=tool_patterns,
        button_text=button if isinstance(button, str) else None,
        version=None if version is None else str(version),
    )


def _check_globs(reader: _Reader, patterns: Sequence[str], path: Sequence[str | int]) -> None:
    from pathspec import GitIgnoreSpec

    for index, pattern in enumerate(patterns):
        try:
            GitIgnoreSpec.from_lines([pattern])
        except ValueError as error:
            raise reader.error(
                f"pattern {pattern!r} is not a valid glob: {error}",
                [*path, index],
                "Fix the pattern (`**/*.py`, `src/*.ts`).",
            ) from None


# --- v1 files ---------------------------------------------------------------------------------


def _v1_hooks(reader: _Reader, data: Any) -> tuple[list[Hook], list[SettingsError]]:
    if not isinstance(data, dict):
        return [], [
            reader.error(
                "a hooks .json file must hold a JSON object ({...})",
                [],
                'Write `{"version": "v1", "hooks": [...]}`.',
            )
        ]
    version = data.get("version")
    if version != "v1":
        what = "is missing" if version is None else f"is {version!r}"
        return [], [
            reader.error(
                f'`version` {what}; hook .json files are version "v1"',
                ["version"] if version is not None else [],
                'Write `"version": "v1"` (older hooks are .kiro.hook files).',
            )
        ]
    entries = data.get("hooks")
    if not isinstance(entries, list):
        return [], [
            reader.error(
                "`hooks` must be a list of hooks",
                ["hooks"] if entries is not None else [],
                'Write `"hooks": [{"name": ..., "trigger": ..., "action": ...}]`.',
            )
        ]
    hooks: list[Hook] = []
    problems: list[SettingsError] = []
    for index, entry in enumerate(entries):
        try:
            hooks.append(_v1_hook(reader, entry, index))
        except SettingsError as error:
            problems.append(error)
    return hooks, problems


def _v1_hook(reader: _Reader, entry: Any, index: int) -> Hook:
    where: list[str | int] = ["hooks", index]
    if not isinstance(entry, dict):
        raise reader.error(
            f"`hooks[{index}]` must be an object",
            where,
            'Write each hook as {"name", "trigger", "action"}.',
        )
    label = f"hooks[{index}]"

    def text(
        key: str,
        *,
        required: bool,
        hint: str,
        inside: list[str | int] = where,
        data: Mapping[str, Any] = entry,
    ) -> str:
        value = data.get(key)
        name = f"{label}.{'.'.join(str(p) for p in inside[2:])}{'.' if inside[2:] else ''}{key}"
        if value is None:
            if required:
                raise reader.error(f"`{name}` is missing", inside, hint)
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            raise reader.error(f"`{name}` must be a non-empty string", [*inside, key], hint)
        return value

    name = text("name", required=True, hint='Give the hook a name: `"name": "lint-on-save"`.')
    label = f"hooks[{index}] ({name})"
    trigger = text("trigger", required=True, hint=f"Use one of: {_V1_EVENTS}.")
    event = parse_event_kind(trigger)
    if event is None:
        raise reader.error(
            f"`{label}.trigger` {trigger!r} is not a trigger hooks know",
            [*where, "trigger"],
            f"Use one of: {_V1_EVENTS}.",
        )
    matcher = text("matcher", required=False, hint="Write a regular expression.") or None
    if matcher is not None:
        try:
            re.compile(matcher)
        except re.error as error:
            raise reader.error(
                f"`{label}.matcher` is not a valid regular expression: {error}",
                [*where, "matcher"],
                "Fix the expression (JSON needs `\\\\.py$` for `\\.py$`).",
            ) from None
    action_data = entry.get("action")
    if not isinstance(action_data, dict):
        raise reader.error(
            f"`{label}.action` is missing"
            if action_data is None
            else f"`{label}.action` must be an object",
            [*where, "action"] if action_data is not None else where,
            'Write `"action": {"type": "command", "command": "npm run lint"}`.',
        )
    inside: list[str | int] = [*where, "action"]
    kind = text(
        "type", required=True, hint="Use `command` or `agent`.", inside=inside, data=action_data
    )
    timeout = _timeout(reader, entry, where)
    if timeout is None:
        timeout = _timeout(reader, action_data, inside)
    if kind.casefold() == "command":
        command = text(
            "command",
            required=True,
            hint='Write `"command": "npm run lint"`.',
            inside=inside,
            data=action_data,
        )
        action = Action("runCommand", command=command, timeout_s=timeout)
    elif kind.casefold() == "agent":
        prompt = text(
            "prompt",
            required=True,
            hint='Write `"prompt": "..."`.',
            inside=inside,
            data=action_data,
        )
        action = Action("askAgent", prompt=prompt, timeout_s=timeout)
    else:
        raise reader.error(
            f"`{label}.action.type` {kind!r} is not an action hooks know",
            [*inside, "type"],
            "Use `command` or `agent`.",
        )
    return Hook(
        id=name,
        name=name,
        event=event,
        action=action,
        source=reader.path,
        format="v1",
        index=index,
        description=text("description", required=False, hint=""),
        enabled=_bool(reader, entry, "enabled", where, True),
        matcher=matcher,
        confirm=_bool(reader, entry, "confirm", where, False),
        version="v1",
    )


# --- finding and editing ----------------------------------------------------------------------


def slug(text: str) -> str:
    """``text`` as a file-name-safe id: lower case, words joined by ``-``."""
    words = re.findall(r"[a-z0-9]+", text.casefold())
    return "-".join(words)[:60].strip("-")


def find_hook(hooks: Sequence[Hook], name: str) -> Hook:
    """The hook ``name`` refers to: its id, its name (any case) or the slug of its name.

    Raises:
        SpecNotFoundError: No hook has that name.
        UsageError: Several hooks have it (their files are listed).
    """
    wanted = name.strip()
    for test in (
        lambda hook: hook.id == wanted,
        lambda hook: (
            hook.name.casefold() == wanted.casefold() or hook.id.casefold() == wanted.casefold()
        ),
        lambda hook: slug(hook.name) == slug(wanted),
    ):
        found = [hook for hook in hooks if test(hook)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            places = ", ".join(f"{hook.source.name}#{hook.index}" for hook in found)
            raise UsageError(
                f"several hooks are called {name!r}: {places}.",
                hint="Rename one of them, or use the file name of a .kiro.hook file.",
            )
    known = ", ".join(hook.id for hook in hooks) or "none"
    raise SpecNotFoundError(
        f"no hook called {name!r}.",
        file=str(HOOKS_DIR),
        hint=f"Hooks here: {known}. `specloom hooks list` shows them all.",
    )
