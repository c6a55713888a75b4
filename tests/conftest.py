"""Shared fixtures: a clean environment for every test, and the real Kiro example files."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from pydantic_ai import models

EXAMPLES = Path(__file__).parent / "data" / "kiro-examples"
REPOSITORY = Path(__file__).parent.parent

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=100
)
settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.too_slow],
                          max_examples=200)  # fmt: skip
settings.load_profile("ci" if os.environ.get("CI") else "default")

# No test may reach a real model provider: pydantic-ai refuses requests from its real models
# unless a test opts in (the `allow_model_requests` fixture), which only tests talking to
# the local protocol fakes or the embedded model do.
models.ALLOW_MODEL_REQUESTS = False


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (``pytest.mark.anyio``) run on asyncio."""
    return "asyncio"


@pytest.fixture
def allow_model_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let real pydantic-ai models send requests (to loopback fakes or the embedded model)."""
    monkeypatch.setattr(models, "ALLOW_MODEL_REQUESTS", True)


def example_files(pattern: str) -> list[Path]:
    """Example files whose name matches ``pattern`` (hidden folders such as .kiro included)."""
    return sorted(path for path in EXAMPLES.rglob("*") if path.is_file() and path.match(pattern))


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
                      ) -> Iterator[None]:  # fmt: skip
    """Each test gets an empty HOME and config dirs, and no colour or API keys."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    for name in list(os.environ):
        if (
            name.endswith(("_API_KEY", "_TOKEN"))
            or name.startswith("AWS_")
            or name in ("FORCE_COLOR", "NO_COLOR", "SPECLOOM_CONFIG_DIR", "SPECLOOM_LOCAL_URL")
        ):
            monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
def example_project(tmp_path: Path) -> Path:
    """A writable copy of the shipped word-frequency example project."""
    target = tmp_path / "wordfreq"
    shutil.copytree(REPOSITORY / "examples" / "wordfreq", target)
    return target


@pytest.fixture
def kiro_project(tmp_path: Path) -> Path:
    """A writable project holding every real Kiro spec from the examples under .kiro/specs/."""
    specs = tmp_path / "project" / ".kiro" / "specs"
    specs.mkdir(parents=True)
    for tasks in example_files("tasks.md"):
        folder = tasks.parent
        if folder.name == "spirit-of-kiro":
            continue
        shutil.copytree(folder, specs / folder.name)
        for path in (specs / folder.name).rglob("*"):
            path.chmod(0o644 if path.is_file() else 0o755)
    return tmp_path / "project"
