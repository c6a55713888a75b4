"""Settings: user then project, merged key by key and model entry by entry; clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from specloom.errors import SettingsError
from specloom.settings import PROJECT_SETTINGS, load_settings, state_dir


def _write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def test_project_settings_override_user_settings_key_by_key(tmp_path: Path) -> None:
    user = tmp_path / "user"
    _write(user / "settings.json", {
        "model": "claude-sonnet-4-5",
        "auto": {"retries": 5, "timeout_s": 30},
        "models": [{"id": "gateway", "provider": "openai-compatible", "base_url": "http://a"},
                   {"id": "gpt-5", "credit_multiplier": 2}],
    })  # fmt: skip
    root = tmp_path / "project"
    _write(root / PROJECT_SETTINGS, {
        "auto": {"retries": 1},
        "models": [{"id": "gateway", "base_url": "http://b"}],
    })  # fmt: skip
    settings = load_settings(root, user_dir=user)
    assert settings.get("model") == "claude-sonnet-4-5"
    assert settings.get("auto") == {"retries": 1, "timeout_s": 30}
    assert settings.get("models") == [
        {"id": "gateway", "provider": "openai-compatible", "base_url": "http://b"},
        {"id": "gpt-5", "credit_multiplier": 2},
    ]
    assert settings.get("auto", "missing", default="x") == "x"


def test_invalid_json_names_file_line_and_column(tmp_path: Path) -> None:
    root = tmp_path / "project"
    path = root / PROJECT_SETTINGS
    path.parent.mkdir(parents=True)
    path.write_text('{\n  "model": "auto",\n  "auto": {,}\n}\n', encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings(root, user_dir=tmp_path / "nobody")
    assert caught.value.file == str(path)
    assert caught.value.line == 3
    assert caught.value.column is not None
    assert "JSON" in caught.value.render()


def test_a_settings_file_must_be_an_object(tmp_path: Path) -> None:
    user = tmp_path / "user"
    _write(user / "settings.json", ["not", "an", "object"])
    with pytest.raises(SettingsError, match="JSON object"):
        load_settings(None, user_dir=user)


def test_locate_finds_the_line_of_a_nested_key(tmp_path: Path) -> None:
    root = tmp_path / "project"
    path = _write(root / PROJECT_SETTINGS, {"model": "auto", "auto": {"rules": {"code": 3}}})
    settings = load_settings(root, user_dir=tmp_path / "nobody")
    error = settings.error("`auto.rules.code` must be a list", "auto", "rules", "code")
    assert error.file == str(path)
    assert error.line == path.read_text().splitlines().index('      "code": 3') + 1


def test_state_dir_ignores_itself_in_git(tmp_path: Path) -> None:
    folder = state_dir(tmp_path)
    assert folder == tmp_path / ".kiro" / ".specloom"
    assert (folder / ".gitignore").read_text().splitlines()[-1] == "*"
    outside = state_dir(None)
    assert outside.is_dir() and str(outside).startswith(str(Path.home()))
