"""Cold-start benchmark: wall time of fresh ``specloom`` processes against spec-kit's ``specify``.

Each command runs as a new subprocess (output to ``/dev/null``, so neither side draws for a
terminal). The commands are interleaved round by round, with the starting command rotated
each round, so that other load on the machine falls on all of them alike. Reported: median
and 90th percentile wall time, median CPU time (user + system, from ``RUSAGE_CHILDREN``,
which load on the machine disturbs less), and each specloom command's median over
``specify --help``'s median.

``specify`` is GitHub spec-kit's CLI (``specify-cli`` on PyPI). It is installed into its own
virtual environment, ``.bench-venv/``, never into the project's: its dependencies (a newer
typer among them) would change ours. ``ensure_specify`` creates that environment once.

May import: the standard library and ``reporting`` (a sibling in bench/).
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from reporting import Table, format_ms, load_average, median, percentile, verdict

__all__ = [
    "SPECIFY_VERSION",
    "TARGET_RATIO",
    "Command",
    "ensure_specify",
    "run_cold_start",
    "specify_version",
]

REPOSITORY = Path(__file__).resolve().parent.parent
BENCH_VENV = REPOSITORY / ".bench-venv"
SPECIFY_VERSION = "1.2.3"
TARGET_RATIO = 0.5
"""specloom's median start-up over ``specify --help``'s must be at most this."""

EXAMPLE = REPOSITORY / "examples" / "wordfreq"
EXAMPLE_SPEC = "word-frequency"


@dataclass(slots=True)
class Command:
    """One command line to time, and what its runs measured."""

    label: str
    argv: list[str]
    cwd: Path
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def run_once(self, env: dict[str, str]) -> tuple[float, float]:
        """Run the command once; return ``(wall seconds, child CPU seconds)``.

        Raises:
            subprocess.CalledProcessError: The command failed (its stderr is attached).
        """
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        completed = subprocess.run(
            self.argv,
            cwd=self.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if completed.returncode != 0:
            raise subprocess.CalledProcessError(
                completed.returncode, self.argv, stderr=completed.stderr
            )
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return wall, cpu


def _quiet_pip_command(python: Path, *arguments: str) -> list[str]:
    return [str(python), "-m", "pip", "--disable-pip-version-check", "--quiet", *arguments]


def specify_version() -> str | None:
    """The ``specify-cli`` version installed in ``.bench-venv/``, or ``None``."""
    python = BENCH_VENV / "bin" / "python"
    if not python.exists():
        return None
    completed = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('specify-cli'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        return None
    return completed.stdout.strip() or None


def ensure_specify(log: bool = True) -> Path | None:
    """Install ``specify-cli`` into ``.bench-venv/`` unless it is already there.

    Returns:
        The ``specify`` executable, or ``None`` when it could not be installed (no network,
        say); the reason is printed.
    """
    executable = BENCH_VENV / "bin" / "specify"
    if executable.exists() and specify_version() == SPECIFY_VERSION:
        return executable
    python = BENCH_VENV / "bin" / "python"
    steps: list[list[str]] = []
    if not python.exists():
        steps.append([sys.executable, "-m", "venv", str(BENCH_VENV)])
    steps.append(_quiet_pip_command(python, "install", f"specify-cli=={SPECIFY_VERSION}"))
    if log:
        print(f"Installing specify-cli=={SPECIFY_VERSION} into {BENCH_VENV} (once) ...")
    for step in steps:
        completed = subprocess.run(step, capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            print(
                f"Could not install specify-cli ({' '.join(step[:4])} ... exited "
                f"{completed.returncode}):\n{completed.stderr.strip()[-2000:]}"
            )
            return None
    return executable if executable.exists() else None


def _specloom_executable() -> Path:
    """The ``specloom`` console script beside the interpreter running the benchmark."""
    beside = Path(sys.executable).parent / "specloom"
    if beside.exists():
        return beside
    found = shutil.which("specloom")
    if found is None:
        raise SystemExit("specloom is not installed: run `make install` first.")
    return Path(found)


# Settings that change what a start costs. PYTHONDONTWRITEBYTECODE in particular (some sandboxes
# and containers set it) would make specloom, installed editable, compile its own sources on
# every start, while specify's wheel install came with its .pyc files: a user's machine writes
# them once, so the warm-ups here must be allowed to as well.
_UNSET = (
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONPROFILEIMPORTTIME",
    "PYTHONPYCACHEPREFIX",
    "FORCE_COLOR",
    "NO_COLOR",
)


def _environment() -> dict[str, str]:
    """The environment the commands run in: ours, less the settings in ``_UNSET``."""
    env = {name: value for name, value in os.environ.items() if name not in _UNSET}
    env["COLUMNS"] = "100"
    return env


def _measure(commands: list[Command], runs: int, warmups: int) -> None:
    """Run every command ``warmups`` times untimed, then ``runs`` times, interleaved."""
    env = _environment()
    for _ in range(warmups):
        for command in commands:
            command.run_once(env)
    for round_number in range(runs):
        shift = round_number % len(commands)
        for command in commands[shift:] + commands[:shift]:
            wall, cpu = command.run_once(env)
            command.wall.append(wall)
            command.cpu.append(cpu)


def run_cold_start(runs: int = 21, warmups: int = 2) -> list[Table]:
    """Run the cold-start benchmark and return its table.

    Args:
        runs: Timed runs per command (at least 15 for published figures).
        warmups: Untimed runs per command first (fill the OS cache, write ``.pyc`` files).
    """
    specify = ensure_specify()
    specloom = _specloom_executable()
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="specloom-bench-") as temporary:
        project = Path(temporary) / "wordfreq"
        shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".hypothesis"))
        commands = [
            Command("specloom --help", [str(specloom), "--help"], project),
            Command(
                f"specloom tasks {EXAMPLE_SPEC}", [str(specloom), "tasks", EXAMPLE_SPEC], project
            ),
        ]
        if specify is not None:
            commands.append(Command("specify --help", [str(specify), "--help"], project))
        try:
            _measure(commands, runs, warmups)
        except subprocess.CalledProcessError as error:
            stderr = error.stderr.decode(errors="replace") if error.stderr else ""
            raise SystemExit(f"{' '.join(map(str, error.cmd))} failed:\n{stderr}") from None

    table = Table(
        f"Cold start: fresh process per run ({runs} runs each after {warmups} warm-up(s), "
        "interleaved)",
        ["command", "median", "p90", "min", "median CPU", "median / specify --help"],
    )
    baseline = median(commands[-1].wall) if specify is not None else None
    for command in commands:
        ratio = median(command.wall) / baseline if baseline else None
        table.rows.append(
            [
                command.label,
                format_ms(median(command.wall)),
                format_ms(percentile(command.wall, 0.9)),
                format_ms(min(command.wall)),
                format_ms(median(command.cpu)),
                "n/a" if ratio is None else f"{ratio:.2f}",
            ]
        )
        if command.label.startswith("specloom"):
            shown = "n/a" if ratio is None else f"{ratio:.2f}"
            table.notes.append(
                f"Target: `{command.label}` median / `specify --help` median <= {TARGET_RATIO}: "
                f"{shown}, {verdict(None if ratio is None else ratio <= TARGET_RATIO)}"
            )
    if specify is None:
        table.notes.append("specify-cli could not be installed, so there is no ratio.")
    table.notes.append(
        "median CPU is the child's user + system time. Load average (1 min) before: "
        f"{load_before}, after: {load_average()}."
    )
    return [table]


def main() -> None:
    """Run only this benchmark: ``python bench/cold_start.py``."""
    for table in run_cold_start():
        print(table.text(), end="\n\n")


if __name__ == "__main__":
    main()
