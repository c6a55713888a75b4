"""Running the real ``specloom`` command in tests, and checking what it left on disk."""

from __future__ import annotations

import hashlib
import json
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

SPEC = Path(".kiro") / "specs"
WORDFREQ = "word-frequency"
WORDFREQ_TASKS = SPEC / WORDFREQ / "tasks.md"


def specloom(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the installed ``specloom`` in a fresh process, its output piped."""
    return subprocess.run(
        [sys.executable, "-m", "specloom", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


def json_output(result: subprocess.CompletedProcess[str], exit_code: int = 0) -> Any:
    """The JSON a command printed, after checking how it exited."""
    assert result.returncode == exit_code, result.stderr
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout)


def tree_digest(root: Path) -> dict[str, str]:
    """Every folder and file under ``root`` with its mode (and content hash for files)."""
    digest: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        mode = oct(stat.S_IMODE(path.lstat().st_mode))
        if path.is_dir():
            digest[relative + "/"] = mode
        else:
            digest[relative] = f"{mode} {hashlib.sha256(path.read_bytes()).hexdigest()}"
    return digest


def write_spec(root: Path, name: str, **files: str) -> Path:
    """A spec folder under ``root/.kiro/specs/`` holding ``files`` (``tasks_md=...``)."""
    folder = root / SPEC / name
    folder.mkdir(parents=True, exist_ok=True)
    for key, text in files.items():
        (folder / key.replace("_md", ".md")).write_text(text, encoding="utf-8")
    return folder
