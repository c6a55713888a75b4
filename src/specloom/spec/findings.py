"""Findings: what lint and analysis report, with an exact location and a fix where one exists.

May import: the standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Finding", "Severity", "exit_code_for", "sort_findings"]


class Severity(StrEnum):
    """How much a finding matters. Only errors make ``lint``/``analyze`` exit 1."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for errors, 1 for warnings, 2 for infos (sort order)."""
        return ("error", "warning", "info").index(self.value)


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem in a spec.

    Attributes:
        file: Path of the file, as shown to the user.
        line: 1-based line.
        column: 1-based column.
        rule: Stable rule id, e.g. ``EARS001``.
        severity: Error, warning or info.
        message: What is wrong, in one sentence.
        suggestion: A mechanical rewrite of the whole criterion or line, when one exists.
        subject: The id the finding is about (criterion ``1.2``, task ``3.1``...), if any.
    """

    file: str
    line: int
    column: int
    rule: str
    severity: Severity
    message: str
    suggestion: str | None = None
    subject: str | None = None

    def to_dict(self) -> dict[str, object]:
        """The finding as a JSON-ready mapping."""
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "rule": self.rule,
            "severity": self.severity.value,
            "message": self.message,
            "suggestion": self.suggestion,
            "subject": self.subject,
        }


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Findings in file, line, column order (stable for equal positions)."""
    return sorted(findings, key=lambda f: (f.file, f.line, f.column, f.severity.rank, f.rule))


def exit_code_for(findings: list[Finding]) -> int:
    """1 when any finding is an error, else 0."""
    return 1 if any(f.severity is Severity.ERROR for f in findings) else 0
