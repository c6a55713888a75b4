"""The secret scanner behind the ``secret-scan`` hooks: detect-secrets over files, or over what
is about to be committed.

``scan_files`` scans files on disk; ``scan_staged`` scans the staged content of a git
repository (what ``git commit`` would record, not the working copy). Each finding names the
file, the line and the kind of secret, never the secret itself.

As a program (``specloom hooks scan-secrets``, or ``python -m specloom.hooks.secrets``) it
scans the files given, else the files of the hook event (``file_paths`` of the JSON on
standard input, or ``SPECLOOM_FILES``); with ``--staged`` the staged content; with
``--on-commit`` it reads a tool call from the event and scans the staged content only when
the call is a ``git commit``. Findings go to standard error, one line each. Exit status: 0
nothing found, 2 secrets found (which blocks the action of a pre-event hook in both hook
formats), 1 the scan itself failed.

May import: the standard library, ``detect_secrets`` and ``specloom.agent.git``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from specloom.agent.git import Git

__all__ = ["Finding", "main", "scan_files", "scan_staged"]

FOUND = 2
FAILED = 1
_COMMIT = re.compile(r"(^|[\s;&|()])git(\s+-\S+(\s+\S+)?)*\s+commit(\s|$)")
_MAX_BYTES = 2_000_000


@dataclass(frozen=True, slots=True)
class Finding:
    """A secret found.

    Attributes:
        path: The file, as given (or relative to the repository, for staged content).
        line: 1-based line.
        kind: What detect-secrets calls it (``AWS Access Key``, ``Secret Keyword``...).
    """

    path: str
    line: int
    kind: str

    def render(self) -> str:
        """``path:line: kind`` (the secret itself is never shown)."""
        return f"{self.path}:{self.line}: {self.kind}"


def _scan(paths: Iterable[tuple[str, str]]) -> list[Finding]:
    """Scan ``(file on disk, name to report)`` pairs."""
    from detect_secrets.core.secrets_collection import SecretsCollection
    from detect_secrets.settings import default_settings

    found: list[Finding] = []
    with default_settings():
        for disk, shown in paths:
            collection = SecretsCollection()
            collection.scan_file(disk)
            for _, secret in collection:
                found.append(Finding(shown, int(secret.line_number or 0), str(secret.type)))
    return sorted(set(found), key=lambda item: (item.path, item.line, item.kind))


def scan_files(paths: Sequence[str | Path], *, cwd: Path | None = None) -> list[Finding]:
    """Secrets in the files ``paths`` (relative to ``cwd``); missing files, folders and
    files over 2 MB are skipped."""
    base = cwd or Path.cwd()
    pairs: list[tuple[str, str]] = []
    for path in paths:
        disk = base / path
        try:
            if not disk.is_file() or disk.stat().st_size > _MAX_BYTES:
                continue
        except OSError:
            continue
        pairs.append((str(disk), str(path)))
    return _scan(pairs)


def scan_staged(repository: Path, *, git: Git | None = None) -> list[Finding]:
    """Secrets in the staged content of ``repository`` (added, copied, modified, renamed).

    Raises:
        OSError: git failed (not a repository, git missing).
    """
    runner = git or Git(timeout=60.0)
    listed = runner.run(
        ["diff", "--cached", "--name-only", "--diff-filter=ACMR", "-z"], cwd=repository
    )
    if not listed.ok:
        raise OSError(f"git diff --cached failed: {listed.error_text}")
    names = [name for name in listed.stdout.decode("utf-8", "surrogateescape").split("\0") if name]
    pairs: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="specloom-staged-") as scratch:
        for index, name in enumerate(names):
            blob = runner.run(["show", f":{name}"], cwd=repository)
            if not blob.ok or len(blob.stdout) > _MAX_BYTES:
                continue
            # Same file name (some detectors look at the extension), in its own folder.
            copy = Path(scratch) / str(index) / Path(name).name
            copy.parent.mkdir()
            copy.write_bytes(blob.stdout)
            pairs.append((str(copy), name))
        return _scan(pairs)


def _event(stream: TextIO) -> Mapping[str, Any]:
    if stream.isatty():
        return {}
    text = stream.read()
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def _event_files(event: Mapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    files = event.get("file_paths")
    if isinstance(files, list) and all(isinstance(item, str) for item in files):
        return list(files)
    listed = environ.get("SPECLOOM_FILES", "")
    return [line for line in listed.splitlines() if line.strip()]


def _is_commit(event: Mapping[str, Any], environ: Mapping[str, str]) -> bool:
    tool_input = event.get("tool_input")
    if not isinstance(tool_input, dict):
        try:
            tool_input = json.loads(environ.get("SPECLOOM_TOOL_INPUT", "{}"))
        except json.JSONDecodeError:
            tool_input = {}
    command = tool_input.get("command") if isinstance(tool_input, dict) else None
    return isinstance(command, str) and _COMMIT.search(command) is not None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the scanner as a program; returns the exit status (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="specloom hooks scan-secrets",
        description="Find secrets (keys, tokens, passwords) in files or in staged changes.",
    )
    parser.add_argument("files", nargs="*", help="files to scan (default: the hook event's)")
    parser.add_argument("--staged", action="store_true", help="scan what is staged for commit")
    parser.add_argument(
        "--on-commit",
        action="store_true",
        help="scan the staged content when the hook event's tool call is a `git commit`",
    )
    options = parser.parse_args(argv)
    environ = os.environ
    cwd = Path(environ.get("SPECLOOM_ROOT") or Path.cwd())
    try:
        if options.on_commit or options.staged:
            if options.on_commit and not _is_commit(_event(sys.stdin), environ):
                return 0
            findings = scan_staged(cwd)
            where = "staged for commit"
        else:
            files = options.files or _event_files(_event(sys.stdin), environ)
            findings = scan_files(files, cwd=cwd if not options.files else Path.cwd())
            where = "in " + ", ".join(files) if files else "(no files given)"
    except OSError as error:
        sys.stderr.write(f"secret scan failed: {error}\n")
        return FAILED
    if not findings:
        return 0
    for finding in findings:
        sys.stderr.write(f"{finding.render()}\n")
    count = len(findings)
    sys.stderr.write(
        f"{count} possible secret{'s' if count != 1 else ''} {where}: move "
        f"{'them' if count != 1 else 'it'} to environment variables or a secrets manager "
        "(a false alarm can be marked with a `# pragma: allowlist secret` comment).\n"
    )
    return FOUND


if __name__ == "__main__":
    sys.exit(main())
