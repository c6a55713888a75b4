"""Scale benchmark: how parse, lint, analyze and schedule grow with the size of a spec.

The inputs come from ``spec_generator.generate_spec`` (re-exported here): specs of 500, 1,000
and 2,000 requirements with 5 criteria and 5 tasks each. ``run_scale`` times each stage
in-process, sizes interleaved run by run so that other load on the machine affects every size
alike, and reports medians, time per 1,000 requirements, the growth ratios between sizes
(about 2 for each doubling means linear) and the peak memory of the largest size.

May import: the standard library, ``specloom.spec`` and the sibling modules in bench/.
"""

from __future__ import annotations

import gc
import itertools
import resource
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass

from reporting import Table, format_bytes, load_average, median, verdict
from spec_generator import GeneratedSpec, generate_spec
from specloom.spec.analysis import analyze_spec
from specloom.spec.lint import lint_criteria
from specloom.spec.model import Spec, load_spec

__all__ = [
    "SIZES",
    "STAGES",
    "TARGET_SECONDS",
    "GeneratedSpec",
    "PipelineResult",
    "generate_spec",
    "run_pipeline",
    "run_scale",
]

SIZES = (500, 1_000, 2_000)
TARGET_SECONDS = 2.0
"""The 2,000-requirement spec's total (parse + lint + analyze + schedule) must stay under this."""

SPEC_NAME = "scale-benchmark"

# -- measuring ------------------------------------------------------------------------------

STAGES = ("parse", "lint", "analyze", "schedule")


@dataclass(slots=True)
class PipelineResult:
    """One pass over a spec: wall seconds per stage, CPU seconds, and what the stages found."""

    seconds: dict[str, float]
    cpu_seconds: float
    lint_rules: Counter[str]
    analysis_rules: Counter[str]
    waves: int
    critical_path: int
    makespan: float

    @property
    def total(self) -> float:
        """Wall seconds of all stages together."""
        return sum(self.seconds.values())


def run_pipeline(spec_files: dict[str, str]) -> PipelineResult:
    """Parse, lint, analyze and schedule one spec, timing each stage.

    Args:
        spec_files: File name to text.
    """
    seconds: dict[str, float] = {}
    cpu_start = time.process_time()
    start = time.perf_counter()
    spec: Spec = load_spec(SPEC_NAME, spec_files)
    seconds["parse"] = time.perf_counter() - start

    start = time.perf_counter()
    lint = lint_criteria(spec.criteria(), spec.requirements_path())
    seconds["lint"] = time.perf_counter() - start

    start = time.perf_counter()
    analysis = analyze_spec(spec, include_lint=False)
    seconds["analyze"] = time.perf_counter() - start

    start = time.perf_counter()
    graph = spec.graph()
    assert graph is not None, "the generated spec has a tasks.md"
    graph.check()
    waves = graph.waves()
    path, _ = graph.critical_path()
    schedule = graph.schedule(8)
    seconds["schedule"] = time.perf_counter() - start
    return PipelineResult(
        seconds,
        time.process_time() - cpu_start,
        Counter(finding.rule for finding in lint),
        Counter(finding.rule for finding in analysis),
        len(waves),
        len(path),
        schedule.makespan,
    )


def _peak_memory(spec_files: dict[str, str]) -> tuple[int, int]:
    """``(tracemalloc peak, RSS high-water growth)`` of one untimed pass, in bytes."""
    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    try:
        run_pipeline(spec_files)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak, (rss_after - rss_before) * 1024  # ru_maxrss is in KiB on Linux


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def run_scale(repeats: int = 5, sizes: tuple[int, ...] = SIZES) -> list[Table]:
    """Run the scale benchmark and return its tables.

    Args:
        repeats: Timed passes per size (the median is reported); sizes are interleaved.
        sizes: Requirement counts, ascending, each double the one before.
    """
    specs = {size: generate_spec(size) for size in sizes}
    load_before = load_average()
    # The RSS high-water mark only rises, so measure memory before the timed passes raise it.
    peak, rss_growth = _peak_memory(specs[sizes[-1]].files)
    run_pipeline(specs[sizes[0]].files)  # warm-up: imports, regex compilation, caches
    samples: dict[int, list[PipelineResult]] = {size: [] for size in sizes}
    for _ in range(repeats):
        for size in sizes:
            gc.collect()
            samples[size].append(run_pipeline(specs[size].files))

    def stage(size: int, name: str) -> float:
        return median([result.seconds[name] for result in samples[size]])

    totals = {size: median([result.total for result in samples[size]]) for size in sizes}
    cpu = {size: median([result.cpu_seconds for result in samples[size]]) for size in sizes}
    stages = Table(
        f"Scale: in-process stage times (wall-clock median of {repeats} run(s), "
        "sizes interleaved)",
        ["requirements", "criteria", "tasks", "input", *STAGES, "total", "total (best run)",
         "total CPU", "per 1,000 req."],
    )  # fmt: skip
    for size in sizes:
        spec = specs[size]
        stages.rows.append(
            [f"{size:,}", f"{spec.criteria:,}", f"{spec.tasks:,}", format_bytes(spec.size_bytes),
             *(_ms(stage(size, name)) for name in STAGES), _ms(totals[size]),
             _ms(min(result.total for result in samples[size])), _ms(cpu[size]),
             _ms(totals[size] / size * 1000)]
        )  # fmt: skip
    largest = sizes[-1]
    stages.notes += [
        f"Target: the {largest:,}-requirement total under {TARGET_SECONDS:.0f} s (wall-clock "
        f"median): {totals[largest]:.3f} s, {verdict(totals[largest] < TARGET_SECONDS)}",
        "total CPU is the process's CPU time (time.process_time): close to the wall time, "
        "the process was not kept waiting for a core (other processes can still slow it "
        f"through shared caches). Load average (1 min) before: {load_before}, after: "
        f"{load_average()}.",
        f"Peak memory of one pass over the {largest:,}-requirement spec: {format_bytes(peak)} "
        "traced by tracemalloc (Python allocations during the pass; the input text is not "
        f"counted); the process's RSS high-water mark grew {format_bytes(rss_growth)}.",
    ]

    growth = Table(
        "Scale: growth (each size is double the one before; about 2.0 means linear)",
        ["ratio", *STAGES, "total", "total CPU"],
    )
    for smaller, larger in itertools.pairwise(sizes):
        growth.rows.append(
            [f"{larger:,} / {smaller:,}",
             *(f"{stage(larger, name) / stage(smaller, name):.2f}" for name in STAGES),
             f"{totals[larger] / totals[smaller]:.2f}", f"{cpu[larger] / cpu[smaller]:.2f}"]
        )  # fmt: skip

    found = Table(
        "Scale: what the stages found (a sanity check: the duplicate and wording rules have work)",
        ["requirements", "lint findings", "DUP001", "DUP002", "AMB001", "AMB002", "AMB005",
         "analysis findings", "waves", "critical path", "makespan (8 workers)"],
    )  # fmt: skip
    for size in sizes:
        result = samples[size][-1]
        lint = result.lint_rules
        found.rows.append(
            [f"{size:,}", f"{sum(lint.values()):,}",
             *(str(lint[rule]) for rule in ("DUP001", "DUP002", "AMB001", "AMB002", "AMB005")),
             f"{sum(result.analysis_rules.values()):,} ({_rule_summary(result.analysis_rules)})",
             str(result.waves), str(result.critical_path), f"{result.makespan:.0f}"]
        )  # fmt: skip
    return [stages, growth, found]


def _rule_summary(rules: Counter[str]) -> str:
    return ", ".join(f"{rule} {count}" for rule, count in sorted(rules.items())) or "none"


def main() -> None:
    """Run only this benchmark: ``python bench/scale.py``."""
    for table in run_scale():
        print(table.text(), end="\n\n")


if __name__ == "__main__":
    main()
