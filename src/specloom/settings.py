"""Settings: the project's ``.kiro/settings/specloom.json`` over the user's ``settings.json``.

Both files are JSON objects. Objects merge key by key (the project wins); a list of objects
that all have an ``"id"`` (``models``) merges entry by entry, so a project can override one
field of one model; any other value is replaced whole. Each layer keeps the file it came
from, so a consumer that finds a bad value can name the file and the line
(``Settings.locate``).

Also here: the folders specloom keeps its own files in (user config, data and cache dirs,
and the per-project state folder ``.kiro/.specloom/``, which ignores itself in git).

May import: the standard library, ``platformdirs``, ``specloom.errors`` and
``specloom.workspace``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specloom.errors import SettingsError
from specloom.workspace import atomic_write, read_text

__all__ = [
    "PROJECT_SETTINGS",
    "STATE_DIR",
    "Settings",
    "load_settings",
    "state_dir",
    "user_cache_dir",
    "user_config_dir",
    "user_data_dir",
]

APP_NAME = "specloom"
PROJECT_SETTINGS = Path(".kiro") / "settings" / "specloom.json"
"""The project's settings file, relative to the project root."""
USER_SETTINGS_NAME = "settings.json"
STATE_DIR = Path(".kiro") / ".specloom"
"""Per-project state (usage ledger, audit log, run state), relative to the project root."""


def user_config_dir() -> Path:
    """The user's specloom config folder (``$XDG_CONFIG_HOME/specloom`` on Linux)."""
    from platformdirs import user_config_path

    return user_config_path(APP_NAME)


def user_data_dir() -> Path:
    """The user's specloom data folder (ledger and state of runs outside a project)."""
    from platformdirs import user_data_path

    return user_data_path(APP_NAME)


def user_cache_dir() -> Path:
    """The user's specloom cache folder (the embedded model's weights)."""
    from platformdirs import user_cache_path

    return user_cache_path(APP_NAME)


def state_dir(root: Path | None) -> Path:
    """The folder for specloom's own state, created on first use.

    Args:
        root: The project root, or ``None`` outside a project (then the user data dir).

    Returns:
        ``<root>/.kiro/.specloom`` (with a ``.gitignore`` that ignores the folder's content,
        so state is never committed by accident) or the user data dir.
    """
    if root is None:
        folder = user_data_dir()
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    folder = root / STATE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        atomic_write(ignore, "# specloom's state: usage ledger, audit log, run state.\n*\n")
    return folder


@dataclass(slots=True)
class _Layer:
    path: Path
    text: str
    data: dict[str, Any]


@dataclass(slots=True)
class Settings:
    """Merged settings and the files they came from.

    Attributes:
        data: The merged JSON object.
        layers: The files read, lowest priority first (user, then project).
    """

    data: dict[str, Any] = field(default_factory=dict)
    layers: list[_Layer] = field(default_factory=list)

    def section(self, name: str) -> dict[str, Any]:
        """A top-level object, or ``{}`` if absent.

        Raises:
            SettingsError: The key holds something other than an object.
        """
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise self.error(f"`{name}` must be an object, not {type(value).__name__}", name)
        return value

    def get(self, *keys: str, default: Any = None) -> Any:
        """The value under a key path (``get("auto", "retries")``), or ``default``."""
        value: Any = self.data
        for key in keys:
            if not isinstance(value, dict) or key not in value:
                return default
            value = value[key]
        return value

    def locate(self, *keys: str | int) -> tuple[Path | None, int | None]:
        """The file (and line, as far as it can be found) that set a key path last.

        The line is that of the last key of the path that can be found in the file's text
        (``"key":``), searched after the line of the key before it.
        """
        for layer in reversed(self.layers):
            value: Any = layer.data
            found = True
            for key in keys:
                if isinstance(key, int) and isinstance(value, list) and key < len(value):
                    value = value[key]
                elif isinstance(key, str) and isinstance(value, dict) and key in value:
                    value = value[key]
                else:
                    found = False
                    break
            if not found and not (keys and isinstance(keys[0], str) and keys[0] in layer.data):
                continue
            return layer.path, _line_of(layer.text, [k for k in keys if isinstance(k, str)])
        return (self.layers[-1].path if self.layers else None), None

    def error(self, message: str, *keys: str | int, hint: str | None = None) -> SettingsError:
        """A ``SettingsError`` located at the file and line that set ``keys``."""
        path, line = self.locate(*keys)
        return SettingsError(
            message,
            file=path,
            line=line,
            hint=hint or "Fix the value in that file (see the README's Settings section).",
        )


def _line_of(text: str, keys: list[str]) -> int | None:
    line: int | None = None
    offset = 0
    for key in keys:
        match = re.compile(r'"' + re.escape(key) + r'"\s*:').search(text, offset)
        if match is None:
            break
        offset = match.end()
        line = text.count("\n", 0, match.start()) + 1
    return line


def load_settings(root: Path | None, *, user_dir: Path | None = None) -> Settings:
    """Read and merge the user's and the project's settings.

    Args:
        root: The project root, or ``None`` outside a project.
        user_dir: The user config folder (default: ``user_config_dir()``;
            ``SPECLOOM_CONFIG_DIR`` overrides it).

    Raises:
        SettingsError: A file is not valid JSON or not a JSON object (file, line, column).
    """
    folder = user_dir or Path(os.environ.get("SPECLOOM_CONFIG_DIR") or user_config_dir())
    paths = [folder / USER_SETTINGS_NAME]
    if root is not None:
        paths.append(root / PROJECT_SETTINGS)
    settings = Settings()
    for path in paths:
        if not path.is_file():
            continue
        text = read_text(path)
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise SettingsError(
                f"not valid JSON: {error.msg}",
                file=path,
                line=error.lineno,
                column=error.colno,
                hint="Fix the JSON syntax (comments and trailing commas are not allowed).",
            ) from None
        if not isinstance(data, dict):
            raise SettingsError(
                "the settings must be a JSON object ({...})", file=path, line=1, hint=None
            )
        settings.layers.append(_Layer(path, text, data))
        settings.data = _merge(settings.data, data)
    return settings


def _merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        old = merged.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            merged[key] = _merge(old, value)
        elif (
            isinstance(old, list)
            and isinstance(value, list)
            and _is_id_list(old)
            and _is_id_list(value)
        ):
            merged[key] = _merge_by_id(old, value)
        else:
            merged[key] = value
    return merged


def _is_id_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, dict) and "id" in v for v in value)


def _merge_by_id(base: list[dict[str, Any]], top: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merged = {entry["id"]: dict(entry) for entry in base}
    for entry in top:
        merged[entry["id"]] = _merge(merged.get(entry["id"], {}), entry)
    return list(merged.values())


def dump_json(value: Any) -> str:
    """JSON as specloom writes settings: two-space indent, a final newline."""
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"
