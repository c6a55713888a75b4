"""Run every benchmark: ``python bench/run.py [--quick] [--only NAME]``.

``NAME`` is one of ``cold-start``, ``scale``, ``checkpoints`` and ``local`` (the embedded
model against raw llama-cpp-python; it needs the weights, ``specloom models pull local``).

Prints the environment and one table per benchmark, and writes the same tables as markdown to
``bench/results/latest.md`` (git-ignored) for pasting into the README. Targets are printed as
PASS or FAIL; a missed target never makes the exit status non-zero, since timings depend on
the machine (the test suite only checks that the benchmark inputs stay valid).

May import: the standard library and the sibling modules in bench/.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

# Run as `python bench/run.py`, this folder is already first on sys.path; run any other way
# (runpy, an IDE), it may not be.
_BENCH = Path(__file__).resolve().parent
if str(_BENCH) not in sys.path:
    sys.path.insert(0, str(_BENCH))

from checkpoints import run_checkpoints  # noqa: E402
from cold_start import ensure_specify, run_cold_start, specify_version  # noqa: E402
from context_tokens import run_context_tokens  # noqa: E402
from hooks_latency import run_hooks_latency  # noqa: E402
from local_model import run_local  # noqa: E402
from reporting import Table, environment_table  # noqa: E402
from scale import run_scale  # noqa: E402
from scheduler import run_scheduler  # noqa: E402

RESULTS = _BENCH / "results" / "latest.md"

# Runs per benchmark: (cold-start timed runs, cold-start warm-ups, scale repeats,
# checkpoint rounds).
_FULL = (21, 2, 5, 30)
_QUICK = (5, 1, 1, 5)
# The embedded model: (alternating runs per path, tokens generated, requirement lines in the
# prompt, about 45 tokens each).
_LOCAL_FULL = (5, 128, 12)
_LOCAL_QUICK = (2, 64, 6)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run the specloom benchmarks.")
    parser.add_argument(
        "--quick", action="store_true", help="fewer runs: a smoke check, not figures to publish"
    )
    parser.add_argument(
        "--only",
        choices=("cold-start", "scale", "checkpoints", "local", "context", "hooks", "scheduler"),
        help="run one benchmark only",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; always returns 0 (targets are reported, not enforced)."""
    options = _arguments(argv)
    runs, warmups, repeats, rounds = _QUICK if options.quick else _FULL
    started = time.perf_counter()
    if options.only in (None, "cold-start"):
        ensure_specify()
    environment = environment_table(
        [
            ("specify-cli (in .bench-venv/)", specify_version() or "not installed"),
            ("mode", "quick" if options.quick else "full"),
        ]
    )
    print(environment.text(), end="\n\n", flush=True)
    tables: list[Table] = [environment]
    if options.only in (None, "cold-start"):
        for table in run_cold_start(runs=runs, warmups=warmups):
            print(table.text(), end="\n\n", flush=True)
            tables.append(table)
    if options.only in (None, "scale"):
        for table in run_scale(repeats=repeats):
            print(table.text(), end="\n\n", flush=True)
            tables.append(table)
    if options.only in (None, "checkpoints"):
        for table in run_checkpoints(rounds=rounds):
            print(table.text(), end="\n\n", flush=True)
            tables.append(table)
    if options.only in (None, "local"):
        local_runs, max_tokens, requirements = _LOCAL_QUICK if options.quick else _LOCAL_FULL
        for table in run_local(runs=local_runs, max_tokens=max_tokens, requirements=requirements):
            print(table.text(), end="\n\n", flush=True)
            tables.append(table)
    if options.only in (None, "scheduler"):
        for table in run_scheduler(quick=options.quick):
            print(table.text(), end="\n\n", flush=True)
            tables.append(table)
    if options.only in (None, "context"):
        for table in run_context_tokens():
            print(table.text(), end="\n\n", flush=True)
            tables.append(table)
    if options.only in (None, "hooks"):
        writes = 10 if options.quick else 50
        for table in run_hooks_latency(writes=writes, burst=100):
            print(table.text(), end="\n\n", flush=True)
            tables.append(table)
    elapsed = time.perf_counter() - started

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = "python bench/run.py" + "".join(f" {arg}" for arg in (argv or sys.argv[1:]))
    body = [f"## Benchmarks ({stamp})", "", f"Measured with `{command}` in {elapsed:.0f} s.", ""]
    body.extend(table.markdown() + "\n" for table in tables)
    RESULTS.write_text("\n".join(body), encoding="utf-8")
    print(f"Wrote {RESULTS.relative_to(_BENCH.parent)} ({elapsed:.0f} s in all).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
