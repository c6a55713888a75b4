"""Editing hook files: turning a hook on or off in place, and writing new ones.

``set_enabled`` changes (or adds) only the hook's ``enabled`` value: the rest of the file,
unknown keys and formatting included, stays byte for byte as it was. ``render_legacy_hook``
writes a hook in the ``.kiro.hook`` format Kiro's IDE reads; ``write_hook_file`` saves it
atomically, never over an existing file.

May import: the standard library, ``specloom.errors``, ``specloom.workspace`` and
``specloom.hooks.model``, ``.jsonspans``, ``.loader``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from specloom.errors import SettingsError, UsageError
from specloom.hooks.jsonspans import Span, parse_spans
from specloom.hooks.loader import HOOKS_DIR, LEGACY_SUFFIX
from specloom.hooks.model import FILE_EVENTS, TOOL_EVENTS, Action, EventKind, Hook
from specloom.workspace import atomic_write, read_text

__all__ = ["render_legacy_hook", "set_enabled", "write_hook_file"]


def set_enabled(hook: Hook, enabled: bool) -> bool:
    """Turn a hook on or off in its file, changing nothing else in it.

    Returns:
        Whether the file changed (``False`` when it already said so).

    Raises:
        SettingsError: The file changed since it was read and the hook is no longer there.
    """
    text = read_text(hook.source)
    spans = parse_spans(text)
    node = spans if hook.format == "legacy" else spans.find("hooks", hook.index)
    if node is None:
        raise SettingsError(
            "the hook is no longer in its file.", file=hook.source, hint="Run the command again."
        )
    literal = "true" if enabled else "false"
    current = node.children.get("enabled")
    if current is not None:
        if current.value is enabled:
            return False
        updated = text[: current.start] + literal + text[current.end :]
    elif enabled:
        return False  # absent means enabled
    else:
        updated = _insert_member(text, node, f'"enabled": {literal}')
    atomic_write(hook.source, updated)
    return True


def _insert_member(text: str, node: Span, member: str) -> str:
    """``text`` with ``member`` as the first member of the object at ``node``, indented like
    the member that follows it."""
    first = min(
        (child.key_start for child in node.children.values() if child.key_start is not None),
        default=None,
    )
    if first is None:
        return text[: node.start + 1] + member + text[node.start + 1 :]
    line_start = text.rfind("\n", node.start, first)
    if line_start == -1:
        return text[:first] + member + ", " + text[first:]
    indent = text[line_start + 1 : first]
    if indent.strip():
        return text[:first] + member + ", " + text[first:]
    return text[:first] + member + ",\n" + indent + text[first:]


def render_legacy_hook(
    *,
    name: str,
    description: str,
    event: EventKind,
    action: Action,
    patterns: Sequence[str] = (),
    tool_patterns: Sequence[str] = (),
    enabled: bool = True,
) -> str:
    """A ``.kiro.hook`` file's text (the format Kiro's IDE reads), two-space indented."""
    when: dict[str, Any] = {"type": event.value}
    if event in FILE_EVENTS:
        when["patterns"] = list(patterns)
    elif event in TOOL_EVENTS and tool_patterns:
        when["toolTypes"] = list(tool_patterns)
    then: dict[str, Any] = {"type": action.kind}
    if action.kind == "runCommand":
        then["command"] = action.command
    else:
        then["prompt"] = action.prompt
    if action.timeout_s is not None:
        then["timeout"] = action.timeout_s
    data = {
        "enabled": enabled,
        "name": name,
        "description": description,
        "version": "1",
        "when": when,
        "then": then,
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def write_hook_file(root: Path, stem: str, text: str) -> Path:
    """Save a new legacy hook file as ``.kiro/hooks/<stem>.kiro.hook``, atomically.

    Raises:
        UsageError: A hook file of that name exists already.
    """
    path = root / HOOKS_DIR / f"{stem}{LEGACY_SUFFIX}"
    if path.exists():
        raise UsageError(
            f"a hook file {HOOKS_DIR / path.name} exists already.",
            hint="Remove or rename it first, or pick another name.",
        )
    atomic_write(path, text)
    return path
