"""Tables, statistics and the environment line shared by the benchmarks in ``bench/``.

Every benchmark returns ``Table`` objects; ``bench/run.py`` prints them as aligned text and
writes the same tables as markdown to ``bench/results/latest.md``.

May import: the standard library only (and ``specloom`` for its version).
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "Table",
    "environment_table",
    "format_bytes",
    "format_ms",
    "load_average",
    "median",
    "percentile",
    "verdict",
]


@dataclass(slots=True)
class Table:
    """One result table.

    Attributes:
        title: Shown above the table.
        columns: Column headings.
        rows: Cells, already formatted as text.
        align: ``"l"`` or ``"r"`` per column; numbers are right-aligned by default.
        notes: Lines shown under the table (targets, verdicts, remarks).
    """

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    align: str = ""
    notes: list[str] = field(default_factory=list)

    def _alignment(self) -> str:
        return self.align or "l" + "r" * (len(self.columns) - 1)

    def text(self) -> str:
        """The table as aligned plain text, for a terminal or a log."""
        widths = [
            max(len(str(cell)) for cell in column)
            for column in zip(self.columns, *self.rows, strict=True)
        ]
        alignment = self._alignment()

        def line(cells: Sequence[str]) -> str:
            return "  ".join(
                cell.ljust(width) if side == "l" else cell.rjust(width)
                for cell, width, side in zip(cells, widths, alignment, strict=True)
            ).rstrip()

        out = [self.title, "=" * len(self.title), line(self.columns)]
        out.append("  ".join("-" * width for width in widths))
        out.extend(line(row) for row in self.rows)
        out.extend(self.notes)
        return "\n".join(out)

    def markdown(self) -> str:
        """The table as GitHub markdown, ready to paste into the README."""
        alignment = self._alignment()
        out = [f"### {self.title}", ""]
        out.append("| " + " | ".join(self.columns) + " |")
        out.append("|" + "|".join(" ---: " if a == "r" else " --- " for a in alignment) + "|")
        out.extend(
            "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in self.rows
        )
        if self.notes:
            out.append("")
            out.extend(f"- {note}" for note in self.notes)
        return "\n".join(out)


def median(samples: Sequence[float]) -> float:
    """The median of the samples (``nan`` when there are none)."""
    return statistics.median(samples) if samples else math.nan


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile by linear interpolation between the closest ranks."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def format_ms(seconds: float) -> str:
    """Seconds as milliseconds with one decimal (``"n/a"`` for ``nan``)."""
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.1f} ms"


def format_bytes(count: float) -> str:
    """A byte count in MiB with one decimal."""
    return f"{count / (1024 * 1024):.1f} MiB"


def verdict(passed: bool | None) -> str:
    """``PASS``, ``FAIL`` or ``n/a`` (when it could not be measured)."""
    if passed is None:
        return "n/a"
    return "PASS" if passed else "FAIL"


def load_average() -> str:
    """The 1-minute load average, formatted (``n/a`` where the OS does not tell)."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "n/a"


def environment_table(extra: Sequence[tuple[str, str]] = ()) -> Table:
    """Where the figures were taken: CPUs, load, Python, versions."""
    import specloom

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    try:
        load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        load = "n/a"
    rows = [
        ["CPUs", f"{os.cpu_count()} (usable: {usable if usable is not None else 'n/a'})"],
        ["load average (1, 5, 15 min)", load],
        ["Python", f"{platform.python_implementation()} {sys.version.split()[0]}"],
        ["platform", platform.platform()],
        ["specloom", specloom.__version__],
    ]
    rows.extend([name, value] for name, value in extra)
    return Table("Environment", ["what", "value"], rows, align="ll")
