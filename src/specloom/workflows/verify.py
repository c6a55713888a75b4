"""Verifying a task: finding the project's test command, running it, and reading its failure.

A task is done when the project's tests pass, never on the model's word. The command comes
from, in this order:

1. settings: ``verify.command`` (a shell line, or a list of arguments run without a shell)
   and ``verify.timeout_s`` in ``.kiro/settings/specloom.json`` (or the user's settings);
2. steering: a ``Test command: `...` `` line in ``.kiro/steering/tech.md``, else in any other
   steering file of the project (first by name);
3. discovery in the folder the task works in: pytest (a ``tests/`` or ``test/`` folder with
   Python tests, ``conftest.py``, ``pytest.ini``, or a ``pyproject.toml``/``setup.cfg``/
   ``tox.ini`` that configures pytest), ``npm test`` (a ``package.json`` with a real
   ``test`` script), ``cargo test`` (``Cargo.toml``), ``go test ./...`` (``go.mod``),
   ``make test`` (a ``Makefile`` with a ``test`` target).

Found nothing: ``find_test_command`` returns ``None`` and the caller fails the task with
``NO_TEST_COMMAND``. Pytest runs with the project's own virtual environment when it has one
(``.venv/`` or ``venv/``, in the work folder, then in the project root), else ``pytest`` on
``PATH``, else ``python3 -m pytest``.

The command runs through ``specloom.agent.runner.run_command``, in the same sandbox as the
agent's own commands (``agent.sandbox``), with the same environment (secret-looking
variables left out unless ``agent.tools.command_pass_secrets``) and output cap.

``failure_signature`` reduces a failed run's output to the lines that say what failed, with
what changes between identical failures (line numbers, durations, addresses, temporary
paths) taken out, so that two attempts failing the same way can be recognised.

May import: the standard library, ``specloom.errors``, ``specloom.settings`` and the
``specloom.agent`` modules ``runner``, ``sandbox`` and ``tool_env``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

from specloom.agent.runner import run_command, scrubbed_environment
from specloom.agent.sandbox import Sandbox
from specloom.agent.tool_env import ToolLimits
from specloom.settings import PROJECT_SETTINGS, Settings

__all__ = [
    "UNWRITTEN_INPUT",
    "DEFAULT_TIMEOUT_S",
    "NO_TEST_COMMAND",
    "TestCommand",
    "Verification",
    "failed_assertions",
    "failed_test_names",
    "failing_tests",
    "failure_signature",
    "find_test_command",
    "first_error_line",
    "output_tail",
    "pytest_prefix",
    "run_verification",
    "verify_timeout",
]

DEFAULT_TIMEOUT_S = 600.0
"""Seconds the test command may run when ``verify.timeout_s`` is not set."""
TAIL_LINES = 60
"""Lines of output kept for the retry prompt and the outcome."""
TAIL_CHARS = 4_000
"""Characters of output kept for the retry prompt and the outcome."""

NO_TEST_COMMAND = (
    "no test command to verify the task with: set `verify.command` in "
    f"{PROJECT_SETTINGS.as_posix()} (for example "
    '{"verify": {"command": "python -m pytest -q"}}), or write a line '
    "`Test command: \\`...\\`` in .kiro/steering/tech.md; a task is only done when its tests pass"
)
"""Why a task fails when no test command can be found."""

Source = Literal["settings", "steering", "discovered", "property tests"]

_STEERING_LINE = re.compile(
    r"^[ \t>*_-]*(?:\*\*|__)?[ \t]*Test[ \t]+command[ \t]*(?:\*\*|__)?[ \t]*[:：][ \t]*"
    r"(?:\*\*|__)?[ \t]*"
    r"`(?P<command>[^`\n]+)`",
    re.IGNORECASE | re.MULTILINE,
)
_NPM_PLACEHOLDER = "no test specified"
_MAKE_TEST = re.compile(r"^test\s*:(?!=)", re.MULTILINE)
_PYTEST_CONFIG = re.compile(r"^\s*\[(?:tool\.pytest[^\]]*|tool:pytest|pytest)\]", re.MULTILINE)
_PYTHON_TEST = re.compile(r"(?:^test_.*|.*_test)\.py$")
_SEARCH_DEPTH = 3


@dataclass(frozen=True, slots=True)
class TestCommand:
    """The command that verifies a task.

    Attributes:
        command: A shell line (run by ``bash -c``), or an argument list run without a shell.
        source: Where it came from: ``settings``, ``steering``, ``discovered`` or
            ``property tests``.
        origin: Where exactly, in words (``.kiro/steering/tech.md:12``, ``tests/ folder``).
        timeout_s: Seconds before it is killed with everything it started.
    """

    __test__ = False  # not a pytest test class

    command: str | tuple[str, ...]
    source: Source
    origin: str
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def shown(self) -> str:
        """The command as one line, for messages."""
        if isinstance(self.command, str):
            return self.command
        return shlex.join(self.command)


@dataclass(frozen=True, slots=True)
class Verification:
    """One run of a test command.

    Attributes:
        command: The command as shown.
        source: Where the command came from.
        passed: It ended on its own with exit status 0.
        exit_code: Its exit status (negative: a signal ended it).
        output: Its output (standard output and error together, capped).
        duration_s: Seconds it ran.
        timed_out: It ran past its timeout and was killed.
        sandboxed: It ran inside the sandbox.
    """

    command: str
    source: Source
    passed: bool
    exit_code: int
    output: str
    duration_s: float
    timed_out: bool = False
    sandboxed: bool = False

    @property
    def tail(self) -> str:
        """The end of the output (where test runners report failures)."""
        return output_tail(self.output)

    @property
    def signature(self) -> str:
        """What failed, normalised (see ``failure_signature``)."""
        return failure_signature(self.output, self.exit_code, timed_out=self.timed_out)

    def summary(self) -> str:
        """One line: how it ended and, on failure, the first line that says why."""
        if self.passed:
            return f"`{self.command}` passed ({self.duration_s:.1f} s)"
        if self.timed_out:
            return f"`{self.command}` timed out after {self.duration_s:.0f} s"
        first = first_error_line(self.output)
        why = f": {first}" if first else ""
        return f"`{self.command}` failed with exit code {self.exit_code}{why}"


def _settings_command(settings: Settings) -> TestCommand | None:
    value = settings.get("verify", "command")
    if value is None:
        return None
    timeout = verify_timeout(settings)
    path, line = settings.locate("verify", "command")
    where = f"{path}:{line}" if path is not None and line else str(path or "settings")
    if isinstance(value, str) and value.strip():
        return TestCommand(value.strip(), "settings", where, timeout)
    if isinstance(value, list) and value and all(isinstance(item, str) and item for item in value):
        return TestCommand(tuple(value), "settings", where, timeout)
    raise settings.error(
        "`verify.command` must be a shell command line (a string) or a list of arguments",
        "verify",
        "command",
        hint='Write it as {"verify": {"command": "python -m pytest -q"}}.',
    )


def verify_timeout(settings: Settings) -> float:
    """``verify.timeout_s``, or ``DEFAULT_TIMEOUT_S``.

    Raises:
        SettingsError: A value that is not a number of seconds above 0.
    """
    value = settings.get("verify", "timeout_s")
    if value is None:
        return DEFAULT_TIMEOUT_S
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise settings.error(
            f"`verify.timeout_s` must be a number of seconds above 0, not {value!r}",
            "verify",
            "timeout_s",
        )
    return float(value)


def _steering_command(steering_root: Path, timeout: float) -> TestCommand | None:
    folder = steering_root / ".kiro" / "steering"
    if not folder.is_dir():
        return None
    files = sorted(folder.glob("*.md"), key=lambda path: (path.name != "tech.md", path.name))
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        match = _STEERING_LINE.search(text)
        if match is not None and match.group("command").strip():
            line = text.count("\n", 0, match.start()) + 1
            where = f".kiro/steering/{path.name}:{line}"
            return TestCommand(match.group("command").strip(), "steering", where, timeout)
    return None


def _venv_python(folders: Sequence[Path]) -> Path | None:
    for folder in folders:
        for name in (".venv", "venv"):
            for candidate in (folder / name / "bin" / "python", folder / name / "Scripts" /
                              "python.exe"):  # fmt: skip
                if candidate.is_file():
                    return candidate
    return None


def pytest_prefix(workdir: Path, *, project_root: Path | None = None) -> str:
    """How to start pytest for the project in ``workdir``: its virtual environment's Python
    (``-m pytest``), else ``pytest`` on ``PATH``, else ``python3 -m pytest``."""
    folders = [workdir] + ([project_root] if project_root and project_root != workdir else [])
    python = _venv_python(folders)
    if python is not None:
        try:
            shown = python.relative_to(workdir).as_posix()
        except ValueError:
            shown = str(python)
        return f"{shlex.quote(shown)} -m pytest"
    if shutil.which("pytest"):
        return "pytest"
    return "python3 -m pytest"


def _has_python_tests(folder: Path) -> bool:
    for current, dirs, files in os.walk(folder):
        depth = len(Path(current).relative_to(folder).parts)
        dirs[:] = [] if depth >= _SEARCH_DEPTH else [d for d in dirs if not d.startswith(".")]
        if any(_PYTHON_TEST.match(name) for name in files):
            return True
    return False


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _pytest_reason(workdir: Path) -> str | None:
    for name in ("tests", "test"):
        if (workdir / name).is_dir() and _has_python_tests(workdir / name):
            return f"Python tests in {name}/"
    if (workdir / "conftest.py").is_file():
        return "conftest.py"
    if (workdir / "pytest.ini").is_file():
        return "pytest.ini"
    pyproject = _read(workdir / "pyproject.toml")
    if pyproject and ("[tool.pytest" in pyproject or re.search(r"\bpytest\b", pyproject)):
        return "pytest in pyproject.toml"
    for name in ("setup.cfg", "tox.ini"):
        if _PYTEST_CONFIG.search(_read(workdir / name)):
            return f"pytest section in {name}"
    return None


def _npm_has_tests(workdir: Path) -> bool:
    text = _read(workdir / "package.json")
    if not text:
        return False
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return False
    scripts = data.get("scripts") if isinstance(data, dict) else None
    script = scripts.get("test") if isinstance(scripts, dict) else None
    return isinstance(script, str) and bool(script.strip()) and _NPM_PLACEHOLDER not in script


def _discovered_command(
    workdir: Path, timeout: float, project_root: Path | None
) -> TestCommand | None:
    reason = _pytest_reason(workdir)
    if reason is not None:
        prefix = pytest_prefix(workdir, project_root=project_root)
        return TestCommand(f"{prefix} -q", "discovered", reason, timeout)
    if _npm_has_tests(workdir):
        return TestCommand("npm test", "discovered", "the test script of package.json", timeout)
    if (workdir / "Cargo.toml").is_file():
        return TestCommand("cargo test", "discovered", "Cargo.toml", timeout)
    if (workdir / "go.mod").is_file():
        return TestCommand("go test ./...", "discovered", "go.mod", timeout)
    for name in ("Makefile", "makefile", "GNUmakefile"):
        if _MAKE_TEST.search(_read(workdir / name)):
            return TestCommand("make test", "discovered", f"the test target of {name}", timeout)
    return None


def find_test_command(
    workdir: Path, *, settings: Settings, steering_root: Path | None = None
) -> TestCommand | None:
    """The command that verifies work in ``workdir`` (see the module docstring for the order).

    Args:
        workdir: Where the task's work happens (the project, or its worktree).
        settings: The merged settings (``verify`` section).
        steering_root: Where ``.kiro/steering/`` is read (default: ``workdir``).

    Returns:
        The command, or ``None`` when there is none.

    Raises:
        SettingsError: ``verify.command`` or ``verify.timeout_s`` has a bad value.
    """
    configured = _settings_command(settings)
    if configured is not None:
        return configured
    timeout = verify_timeout(settings)
    root = steering_root if steering_root is not None else workdir
    from_steering = _steering_command(root, timeout)
    if from_steering is not None:
        return from_steering
    return _discovered_command(workdir, timeout, root if root != workdir else None)


async def run_verification(
    workdir: Path, command: TestCommand, *, settings: Settings
) -> Verification:
    """Run ``command`` in ``workdir`` as the agent's commands run: sandboxed where possible,
    with the agent's environment and output cap, killed with its children at the timeout.

    Raises:
        SettingsError: A bad ``agent.sandbox`` or ``agent.tools`` value.
    """
    limits = ToolLimits.from_settings(settings)
    sandbox = Sandbox.from_settings(settings, [workdir])
    environment = dict(os.environ) if limits.command_pass_secrets else scrubbed_environment()
    result = await run_command(
        command.command if isinstance(command.command, str) else list(command.command),
        cwd=workdir,
        timeout_s=command.timeout_s,
        output_cap=limits.command_output_cap,
        env=environment,
        sandbox=sandbox,
    )
    return Verification(
        command.shown,
        command.source,
        result.ok,
        result.exit_code,
        result.output,
        result.duration_s,
        result.timed_out,
        result.sandboxed,
    )


def output_tail(output: str, *, lines: int = TAIL_LINES, chars: int = TAIL_CHARS) -> str:
    """The last ``lines`` lines of ``output``, at most ``chars`` characters."""
    kept = output.rstrip("\n").splitlines()[-lines:]
    text = "\n".join(kept)
    if len(text) > chars:
        text = text[-chars:]
        text = text.split("\n", 1)[1] if "\n" in text else text
    return text


_ERROR_LINE = re.compile(
    r"^(?:E\s{2,}|FAILED\b|ERROR\b|FAIL\b|error(?:\[\w+\])?:|panicked|thread '.*' panicked)"
    r"|(?:Error|Exception|AssertionError|assert)\b"
    r"|\b(?:failed|FAILED|error)\b",
)
_NOISE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"0x[0-9a-fA-F]+"), "0x?"),
    (re.compile(r"\b\d+(?:\.\d+)?\s*(?:s|ms|sec|secs|seconds)\b"), "<time>"),
    (re.compile(r"(\.\w{1,5}):\d+(?::\d+)?"), r"\1:<line>"),
    (re.compile(r"\bline \d+\b"), "line <n>"),
    (re.compile(r"(?:/tmp|/var/folders|/private/var)/\S+"), "<tmp>"),
    (re.compile(r"\b\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?\S*"), "<timestamp>"),
    (re.compile(r"\s+"), " "),
)


def _normalised(line: str) -> str:
    for pattern, replacement in _NOISE:
        line = pattern.sub(replacement, line)
    return line.strip()


_BEST_ERROR_LINE = re.compile(r"^(?:E\s+\S|FAILED\b|ERROR\b|error(?:\[\w+\])?:|\w*Error:)")


def first_error_line(output: str) -> str:
    """The first line of ``output`` that says what failed: a pytest ``E`` line, a
    ``FAILED``/``ERROR`` line or a compiler error first, then any line that mentions an error
    or a failure, else the last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for pattern in (_BEST_ERROR_LINE, _ERROR_LINE):
        for line in lines:
            if pattern.search(line) and not line.startswith(("=", ">")):
                return re.sub(r"\s+", " ", line)[:200]
    return lines[-1][:200] if lines else ""


# pytest's last traceback line of a failing test: where it stopped, and what was raised.
_PYTEST_FAILED_AT = re.compile(
    r"^(?P<path>[^\s:][^:\n]*\.py):\d+: (?P<kind>[A-Za-z_][\w.]*)$", re.MULTILINE
)
# A traceback line of a frame that called on (the test's own frame, then the code's).
_PYTEST_CALLED_AT = re.compile(r"^(?P<path>[^\s:][^:\n]*\.py):\d+:(?: in \w+| ?)$", re.MULTILINE)
# The first ``E`` line: what was raised (a failed ``assert`` names no exception).
_RAISED = re.compile(
    r"^E\s+(?:(?P<kind>[A-Za-z_][\w.]*(?:Error|Exception|Exit))\b|assert\b)", re.MULTILINE
)
_PYTEST_ERROR = re.compile(
    r"^(?:ERROR\b|_+ ERROR\b|E\s+\w*Error\b(?<!AssertionError))", re.MULTILINE
)
_PYTEST_COLLECTION_ERROR = re.compile(r"^(?:ERROR\b|_+ ERROR\b)", re.MULTILINE)
_PYTEST_SECTION = re.compile(r"^_{3,} (?P<name>[\w\[\].:-]+) _{3,}$", re.MULTILINE)
# The code was asked to read a file under pytest's temporary folders that the test never
# wrote (a test about a missing file says so in its name or source).
_UNWRITTEN = re.compile(
    r"^E\s+FileNotFoundError: .*['\"](?P<path>[^'\"]*/pytest-(?:of-[^/'\"]+|\d+)/[^'\"]*)['\"]",
    re.MULTILINE,
)
_ABOUT_MISSING = re.compile(
    r"missing|exist|not_?found|no_?such|absent|invalid|raises",
    re.IGNORECASE,
)
UNWRITTEN_INPUT = (
    "# The test reads a file it never wrote: write it first "
    "(`path.write_text(...)`), then call the code."
)


@dataclass(frozen=True)
class _Failure:
    """One failing test's section of pytest's output."""

    name: str
    text: str

    @cached_property
    def stop(self) -> tuple[str, str] | None:
        """Where the test stopped (the last frame's file) and what was raised: pytest's
        last traceback line, or with ``--tb=short`` the last frame and its ``E`` line."""
        end = _PYTEST_FAILED_AT.search(self.text)
        if end is not None:
            return end.group("path"), end.group("kind")
        raised = _RAISED.search(self.text)
        if not self._frames or raised is None:
            return None
        return self._frames[-1].group("path"), raised.group("kind") or "AssertionError"

    @cached_property
    def _frames(self) -> list[re.Match[str]]:
        """The traceback's lines of frames that called on, in order."""
        return list(_PYTEST_CALLED_AT.finditer(self.text))

    @cached_property
    def own_input_missing(self) -> bool:
        """Whether the code raised ``FileNotFoundError`` for a file under pytest's
        temporary folders, in a test that is not about a missing file."""
        stop = self.stop
        if stop is None or stop[1] != "FileNotFoundError":
            return False
        if _UNWRITTEN.search(self.text) is None:
            return False
        return _ABOUT_MISSING.search(f"{self.name}\n{self.test_source}") is None

    @property
    def test_source(self) -> str:
        """The test's own frame: its lines down to where it called the code (with
        ``--tb=short``, the lines after its frame's heading, up to the next frame's)."""
        frames = self._frames
        if not frames:
            return self.text
        if self.text[: frames[0].start()].strip():
            return self.text[: frames[0].start()]
        end = frames[1].start() if len(frames) > 1 else len(self.text)
        return self.text[frames[0].end() : end]

    @property
    def test_file(self) -> str | None:
        return self._frames[0].group("path") if self._frames else None


def _failures(output: str) -> list[_Failure]:
    sections = list(_PYTEST_SECTION.finditer(output))
    failures = []
    for number, match in enumerate(sections):
        end = sections[number + 1].start() if number + 1 < len(sections) else len(output)
        failures.append(_Failure(match.group("name"), output[match.end() : end]))
    return failures


def failed_assertions(output: str) -> list[str] | None:
    """The files where pytest's failing tests stopped, when each of them failed through the
    test itself: an assertion written in the test (the code under test ran and returned),
    or the code reading an input file under pytest's temporary folders that the test never
    wrote (its test file is named then); ``None`` when the output holds no such failure, an
    error raised elsewhere (the code's own ``TypeError``, a failed import, a collection
    error) or no pytest traceback at all."""
    failures = [failure for failure in _failures(output) if failure.stop is not None]
    if not failures or _PYTEST_COLLECTION_ERROR.search(output):
        return None
    places: list[str] = []
    for failure in failures:
        stop = failure.stop
        assert stop is not None
        if failure.own_input_missing and failure.test_file is not None:
            places.append(failure.test_file)
        elif stop[1] == "AssertionError" and not _PYTEST_ERROR.search(failure.text):
            places.append(stop[0])
        else:
            return None
    return list(dict.fromkeys(places))


_FAILED_SUMMARY = re.compile(r"^FAILED \S*?::(?:\w+::)*(?P<name>\w+)", re.MULTILINE)


def failed_test_names(output: str) -> set[str]:
    """The names of the test functions pytest's output reports failed (a parametrized
    test's name without its parameters, a test method's without its class)."""
    names = {failure.name.split("[")[0].split(".")[-1] for failure in _failures(output)}
    return names | {match.group("name") for match in _FAILED_SUMMARY.finditer(output)}


_FIXTURE_VALUE = re.compile(r"^\w+ = [<\w].*$")
_MORE_DIFF = re.compile(r"\buse -v+\b", re.IGNORECASE)


def failing_tests(output: str, *, limit: int = 2_400) -> str:
    """pytest's failures, short: for each failing test its source as the traceback shows it
    (fixture values and blank lines left out) down to the failed assertion and the lines
    that say what was compared, at most ``limit`` characters in all. A test that never
    wrote the file it asked the code to read shows its own lines, the error and
    ``UNWRITTEN_INPUT``."""
    parts: list[str] = []
    for failure in _failures(output):
        unwritten = failure.own_input_missing
        lines = failure.test_source.splitlines() if unwritten else failure.text.splitlines()
        kept: list[str] = []
        for line in lines:
            if _PYTEST_FAILED_AT.match(line) or line.startswith("="):
                break
            if line.strip() in ("", "E") or _FIXTURE_VALUE.match(line) or _MORE_DIFF.search(line):
                continue
            if line.startswith("E ") and sum(k.startswith("E ") for k in kept) >= 6:
                continue
            kept.append(line.rstrip())
        if unwritten:
            error = _UNWRITTEN.search(failure.text)
            assert error is not None
            kept += [error.group(0), UNWRITTEN_INPUT]
        parts.append("\n".join([f"# {failure.name}", *kept]))
    text = "\n\n".join(parts)
    more = "\n[...]"
    return text if len(text) <= limit else text[: limit - len(more)].rsplit("\n", 1)[0] + more


def failure_signature(output: str, exit_code: int, *, timed_out: bool = False) -> str:
    """A short digest of what failed: the error lines of ``output`` (or its last lines when
    none look like errors), normalised, with the exit code.

    Two runs that fail the same test with the same message have the same signature, even
    when durations, line numbers, memory addresses or temporary paths differ.
    """
    lines = [line for line in output.splitlines() if line.strip()]
    chosen = [line for line in lines if _ERROR_LINE.search(line)]
    if not chosen:
        chosen = lines[-20:]
    normal = [_normalised(line) for line in chosen]
    head = f"timeout:{timed_out}|exit:{exit_code}"
    digest = hashlib.sha256("\n".join([head, *normal]).encode("utf-8")).hexdigest()
    return digest[:16]
