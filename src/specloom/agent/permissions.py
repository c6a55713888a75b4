"""Permission rules: Kiro's ``permissions.yaml`` and specloom's ``agent.rules`` setting.

Both hold a list of rules in Kiro's shape::

    rules:
      - capability: shell          # shell | fs_write | fs_read | mcp | all (others are kept)
        match: ["npm *", "git *"]  # glob patterns; one string or a list; absent = everything
        exclude: ["git push*"]     # patterns exempted from the rule
        effect: allow              # deny | ask | allow

Files read: the project's ``.kiro/settings/permissions.yaml`` and the user's
``~/.kiro/settings/permissions.yaml``. Real files are messy, so: ``match``/``exclude`` may be
one string or a list; a missing ``match`` covers everything; a missing ``capability`` means
``all`` (with a warning); capability and effect are read case-insensitively, and Kiro's tool
names (``execute_bash``, ``write``, ``read``) stand for their capabilities; a top-level list
is read as the rules. What cannot be understood (bad YAML, a missing or unknown ``effect``, a
pattern that is not text) is a ``SettingsError`` naming the file, the line and the fix.

Matching, per capability:

- ``shell``: each pattern is a glob over one command as written (``*`` matches any text,
  spaces and ``/`` included; ``?`` one character; no wildcard = the exact command). The policy
  applies it to every program a line runs, never to the whole line, so ``pytest*`` does not
  cover ``pytest; rm -rf /``.
- ``fs_write`` / ``fs_read``: a glob over the path relative to the workspace root (``*`` stays
  inside one folder, ``**`` crosses folders, a leading ``./`` is ignored); an absolute pattern
  is matched against the absolute path.
- ``mcp``: a glob over ``server/tool`` (a leading ``@`` is ignored).
- ``all``: every kind of action; its patterns are tried in each of the ways above.

A rule applies when some ``match`` pattern matches and no ``exclude`` pattern does.
A rule *names* a destructive finding (``Rule.names``) when it applies and one of its patterns
spells out every keyword of the finding (``git push --force*`` names a forced push;
``git *`` and ``*`` name nothing).

May import: the standard library, ``yaml``, ``specloom.errors`` and ``specloom.settings``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from specloom.errors import SettingsError
from specloom.settings import Settings

__all__ = [
    "CAPABILITIES",
    "PERMISSIONS_FILE",
    "Effect",
    "RuleSet",
    "Rule",
    "command_matches",
    "load_permissions",
    "path_matches",
    "rules_from_settings",
]

PERMISSIONS_FILE = Path(".kiro") / "settings" / "permissions.yaml"
"""Kiro's permission rules, relative to the project root (and to the user's home)."""

Effect = Literal["deny", "ask", "allow"]
Capability = str

CAPABILITIES = ("shell", "fs_write", "fs_read", "mcp", "all")
"""The capabilities specloom applies; other ones are kept and shown, not applied."""

_ALIASES = {
    "execute_bash": "shell",
    "bash": "shell",
    "command": "shell",
    "commands": "shell",
    "run_command": "shell",
    "write": "fs_write",
    "fs_edit": "fs_write",
    "read": "fs_read",
    "*": "all",
    "mcp_tool": "mcp",
    "mcp_tools": "mcp",
}
_EFFECTS: tuple[Effect, ...] = ("deny", "ask", "allow")


@dataclass(frozen=True, slots=True)
class Rule:
    """One permission rule.

    Attributes:
        capability: ``shell``, ``fs_write``, ``fs_read``, ``mcp``, ``all`` or another
            (kept, not applied).
        effect: ``deny``, ``ask`` or ``allow``.
        match: Glob patterns; empty means everything.
        exclude: Patterns exempted.
        source: Where it was written (``file:line`` or a settings key).
    """

    capability: Capability
    effect: Effect
    match: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    source: str = ""

    def covers(self, capability: Capability) -> bool:
        """Whether the rule is about ``capability``."""
        return self.capability in (capability, "all")

    def matches(self, capability: Capability, resource: str) -> str | None:
        """The pattern that makes the rule apply to ``resource``, or ``None``.

        Args:
            capability: ``shell``, ``fs_write``, ``fs_read`` or ``mcp``.
            resource: A command, a path relative to the root (or absolute), or
                ``server/tool``.

        Returns:
            The matching pattern (``"*"`` for a rule without ``match``).
        """
        if not self.covers(capability):
            return None
        if any(_match(capability, pattern, resource) for pattern in self.exclude):
            return None
        if not self.match:
            return "*"
        for pattern in self.match:
            if _match(capability, pattern, resource):
                return pattern
        return None

    def names(self, capability: Capability, resource: str, keywords: Sequence[str]) -> bool:
        """Whether the rule applies to ``resource`` through a pattern that spells out every
        keyword (case-insensitively): an explicit rule for a destructive action."""
        if not keywords or not self.covers(capability):
            return False
        if any(_match(capability, pattern, resource) for pattern in self.exclude):
            return False
        return any(
            _match(capability, pattern, resource)
            and all(keyword.lower() in pattern.lower() for keyword in keywords if keyword)
            for pattern in self.match
        )

    def describe(self) -> str:
        """``allow shell `pytest*` (file:line)``."""
        patterns = ", ".join(f"`{pattern}`" for pattern in self.match) or "everything"
        if self.exclude:
            patterns += " except " + ", ".join(f"`{pattern}`" for pattern in self.exclude)
        where = f" ({self.source})" if self.source else ""
        return f"{self.effect} {self.capability} {patterns}{where}"

    def to_dict(self) -> dict[str, object]:
        """The rule as JSON."""
        return {
            "capability": self.capability,
            "effect": self.effect,
            "match": list(self.match),
            "exclude": list(self.exclude),
            "source": self.source,
        }


@dataclass(slots=True)
class RuleSet:
    """Rules read from files or settings, and what was odd about them.

    Attributes:
        rules: In the order read.
        warnings: Things that were tolerated (a rule without capability...).
        files: The files read.
    """

    rules: list[Rule] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    def extend(self, other: RuleSet) -> None:
        """Add another set's rules, warnings and files."""
        self.rules.extend(other.rules)
        self.warnings.extend(other.warnings)
        self.files.extend(other.files)


@lru_cache(maxsize=512)
def _path_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("**", index):
            out.append(".*")
            index += 2
        elif char == "*":
            out.append("[^/]*")
            index += 1
        elif char == "?":
            out.append("[^/]")
            index += 1
        elif char == "[":
            end = pattern.find("]", index + 1)
            if end == -1:
                out.append(re.escape(char))
                index += 1
            else:
                body = pattern[index + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                index = end + 1
        else:
            out.append(re.escape(char))
            index += 1
    return re.compile("".join(out) + r"\Z", re.S)


def path_matches(pattern: str, path: str) -> bool:
    """Whether a path glob (``src/**``, ``*.md``, ``.env``) matches ``path`` (posix, relative
    to the root, or absolute for an absolute pattern). A pattern ending in ``/`` matches the
    folder's whole content."""
    pattern = pattern.strip()
    path = path.strip()
    while pattern.startswith("./"):
        pattern = pattern[2:]
    while path.startswith("./"):
        path = path[2:]
    if pattern.endswith("/"):
        pattern += "**"
    return bool(_path_regex(pattern).match(path))


def command_matches(pattern: str, command: str) -> bool:
    """Whether a command glob matches one command: ``*`` matches any text; surrounding
    spaces and runs of spaces are not significant."""
    normal_pattern = " ".join(pattern.split())
    normal_command = " ".join(command.split())
    return fnmatch.fnmatchcase(normal_command, normal_pattern)


def _match(capability: Capability, pattern: str, resource: str) -> bool:
    if capability == "shell":
        return command_matches(pattern, resource)
    if capability == "mcp":
        return fnmatch.fnmatchcase(resource.lstrip("@"), pattern.strip().lstrip("@"))
    return path_matches(pattern, resource)


def _patterns(
    value: Any, key: str, where: str, path: Path | None, line: int | None
) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise SettingsError(
        f"{where}: `{key}` must be a pattern or a list of patterns, not {type(value).__name__}",
        file=path,
        line=line,
        hint=f'Write `{key}: ["pattern", ...]` (glob patterns, quoted when they start with `*`).',
    )


def _rule(
    data: Any,
    where: str,
    source: str,
    warnings: list[str],
    *,
    path: Path | None = None,
    line: int | None = None,
) -> Rule:
    if not isinstance(data, dict):
        raise SettingsError(
            f"{where} must be a mapping with capability, match and effect",
            file=path,
            line=line,
            hint="Write each rule as `- capability: shell` / `  match: [...]` / `  effect: ask`.",
        )
    effect = data.get("effect")
    if not isinstance(effect, str) or effect.strip().lower() not in _EFFECTS:
        shown = "no effect" if effect is None else f"effect {effect!r}"
        raise SettingsError(
            f"{where} has {shown}",
            file=path,
            line=line,
            hint="Give it `effect: deny`, `effect: ask` or `effect: allow`.",
        )
    capability = data.get("capability")
    if capability is None:
        capability = "all"
        warnings.append(f"{source}: the rule has no capability; it applies to every capability")
    if not isinstance(capability, str):
        raise SettingsError(
            f"{where}: `capability` must be a name, not {type(capability).__name__}",
            file=path,
            line=line,
            hint="Use one of: " + ", ".join(CAPABILITIES) + ".",
        )
    capability = capability.strip().lower()
    capability = _ALIASES.get(capability, capability)
    if capability not in CAPABILITIES:
        warnings.append(f"{source}: specloom does not apply capability `{capability}`")
    match = data.get("match", data.get("matches"))
    return Rule(
        capability=capability,
        effect=effect.strip().lower(),  # type: ignore[arg-type]
        match=_patterns(match, "match", where, path, line),
        exclude=_patterns(data.get("exclude"), "exclude", where, path, line),
        source=source,
    )


def _read_yaml(path: Path) -> tuple[Any, Any]:
    """The data and the node tree (for line numbers) of a YAML file."""
    import yaml

    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        raise SettingsError(
            f"not valid YAML: {error.problem or error.context}",
            file=path,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
            hint="Fix the YAML syntax (indent with spaces; quote patterns that start with `*`).",
        ) from None
    except yaml.YAMLError as error:
        raise SettingsError(f"not valid YAML: {error}", file=path, hint="Fix the YAML.") from None
    return data, node


def load_permissions(path: Path) -> RuleSet:
    """Read one ``permissions.yaml``; a missing or empty file has no rules.

    Raises:
        SettingsError: The file is not YAML, or a rule cannot be understood (file, line, fix).
    """
    found = RuleSet()
    if not path.is_file():
        return found
    data, node = _read_yaml(path)
    found.files.append(path)
    if data is None:
        return found
    items: Any
    item_nodes: list[Any] = []
    if isinstance(data, list):
        items = data
        item_nodes = list(getattr(node, "value", []))
    elif isinstance(data, dict):
        items = data.get("rules")
        for key_node, value_node in getattr(node, "value", []):
            if getattr(key_node, "value", None) == "rules":
                item_nodes = list(getattr(value_node, "value", []))
        if items is None:
            found.warnings.append(f"{path}: no `rules` list; nothing to apply")
            return found
        if not isinstance(items, list):
            raise SettingsError(
                "`rules` must be a list of rules",
                file=path,
                line=_line(node, "rules"),
                hint="Write `rules:` then one `- capability: ...` item per rule.",
            )
    else:
        raise SettingsError(
            "the file must hold `rules:` and a list of rules",
            file=path,
            line=1,
            hint="Start the file with `rules:` then one `- capability: ...` item per rule.",
        )
    for index, item in enumerate(items):
        item_node = item_nodes[index] if index < len(item_nodes) else None
        line = item_node.start_mark.line + 1 if item_node is not None else None
        found.rules.append(
            _rule(
                item,
                f"rule {index + 1}",
                f"{path}:{line}" if line else str(path),
                found.warnings,
                path=path,
                line=line,
            )
        )
    return found


def _line(node: Any, key: str) -> int | None:
    for key_node, value_node in getattr(node, "value", []):
        if getattr(key_node, "value", None) == key:
            return value_node.start_mark.line + 1
    return None


def rules_from_settings(settings: Settings) -> RuleSet:
    """The rules of ``agent.rules`` (same shape as ``permissions.yaml`` rules).

    Raises:
        SettingsError: The value is not a list, or a rule cannot be understood (file, line).
    """
    found = RuleSet()
    value = settings.get("agent", "rules")
    if value is None:
        return found
    if not isinstance(value, list):
        raise settings.error(
            "`agent.rules` must be a list of rules",
            "agent",
            "rules",
            hint='Write `"rules": [{"capability": "shell", "match": [...], "effect": "allow"}]`.',
        )
    for index, item in enumerate(value):
        path, line = settings.locate("agent", "rules", index)
        source = f"{path}: agent.rules[{index}]" if path else f"agent.rules[{index}]"
        found.rules.append(
            _rule(item, f"`agent.rules[{index}]`", source, found.warnings, path=path, line=line)
        )
    return found
