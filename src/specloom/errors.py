"""Every error specloom raises on purpose, in one hierarchy.

The classes are grouped by what they make the caller do, not by where they come from::

    SpecloomError                   root; never raised directly
    ├── UserFacingError             stop and tell the user (one paragraph, exit code 2)
    │   ├── SpecSyntaxError         a spec file cannot be read as what it claims to be
    │   │   └── DependencyCycleError    tasks that depend on each other in a loop
    │   ├── SpecNotFoundError       a spec, a task or a file named by the user is missing
    │   ├── WorkspaceError          no project root, or a folder that is not a spec
    │   ├── ImportFormatError       a spec-kit or OpenSpec folder that cannot be imported
    │   ├── UsageError              arguments that do not make sense together
    │   ├── SettingsError           a settings file that cannot be read or is invalid
    │   ├── ModelUnavailableError   a model that cannot be used now (no key, no server, no weights)
    │   ├── ModelRequestError       every retry and every fallback model failed
    │   ├── BudgetExceededError     a run or a day reached its spending cap
    │   ├── StateFileError          specloom's own state (usage ledger, run state) is unreadable
    │   └── CheckpointError         a checkpoint that is unknown, or cannot be taken or restored
    ├── RetryableError              a transient failure: try again, maybe after a delay
    └── ModelFacingError            a tool call went wrong: show the message to the model

Every user-facing error carries the file and line it is about (where there is one) and a
``hint`` that says what to do; ``str(error)`` renders all three as one paragraph.

May import: the standard library only.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "CheckpointError",
    "DependencyCycleError",
    "ImportFormatError",
    "BudgetExceededError",
    "ModelFacingError",
    "ModelRequestError",
    "ModelUnavailableError",
    "RetryableError",
    "SettingsError",
    "SpecNotFoundError",
    "SpecSyntaxError",
    "SpecloomError",
    "StateFileError",
    "UsageError",
    "UserFacingError",
    "WorkspaceError",
]


class SpecloomError(Exception):
    """Root of every error specloom raises on purpose."""


class UserFacingError(SpecloomError):
    """Stop the current command and tell the user what went wrong and how to fix it.

    Attributes:
        message: What went wrong, in one sentence.
        file: The file the error is about, if any.
        line: 1-based line in ``file``, if known.
        column: 1-based column in ``line``, if known.
        hint: What the user should do about it.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        column: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.column = column
        self.hint = hint
        super().__init__(self.render())

    @property
    def location(self) -> str:
        """``file:line:column`` as far as it is known, or an empty string."""
        if self.file is None:
            return ""
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def render(self) -> str:
        """The error as one paragraph: location, message and hint."""
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.hint:
            text = f"{text} {self.hint}"
        return text

    def to_dict(self) -> dict[str, object]:
        """The error as a JSON-ready mapping (for ``--json`` output)."""
        return {
            "error": type(self).__name__,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "hint": self.hint,
        }


class SpecSyntaxError(UserFacingError):
    """A spec file (markdown, JSON block, ``.config.kiro``...) that cannot be parsed."""


class DependencyCycleError(SpecSyntaxError):
    """Tasks whose dependencies form a loop.

    Attributes:
        cycle: The task ids around the loop, the first repeated at the end.
    """

    def __init__(
        self,
        cycle: list[str],
        *,
        file: str | Path | None = None,
        line: int | None = None,
    ) -> None:
        self.cycle = cycle
        super().__init__(
            "task dependencies form a cycle: " + " -> ".join(cycle) + ".",
            file=file,
            line=line,
            hint="Remove one of these dependencies (a `_Depends on:_` line or a wave order).",
        )


class SpecNotFoundError(UserFacingError):
    """A spec, task, requirement or file that the user named does not exist."""


class WorkspaceError(UserFacingError):
    """No project root where one is needed, or a folder that is not what it should be."""


class ImportFormatError(UserFacingError):
    """A spec-kit or OpenSpec folder that cannot be turned into a spec."""


class UsageError(UserFacingError):
    """Command-line arguments that cannot work together."""


class SettingsError(UserFacingError):
    """A settings file (``.kiro/settings/*.json``, the user's settings) that is invalid."""


class ModelUnavailableError(UserFacingError):
    """A model that cannot be used now; the hint says how to make it usable.

    Attributes:
        model_id: The catalog id of the model.
    """

    def __init__(self, model_id: str, reason: str, *, hint: str | None = None) -> None:
        self.model_id = model_id
        self.reason = reason
        super().__init__(f"model {model_id!r} is not usable: {reason}.", hint=hint)


class ModelRequestError(UserFacingError):
    """A model request failed for good: retries and fallback models were all used up.

    Attributes:
        attempts: One line per attempt, in order (model id and what went wrong).
    """

    def __init__(self, message: str, *, attempts: list[str], hint: str | None = None) -> None:
        self.attempts = attempts
        super().__init__(message, hint=hint)

    def to_dict(self) -> dict[str, object]:
        data = super().to_dict()
        data["attempts"] = list(self.attempts)
        return data


class BudgetExceededError(UserFacingError):
    """A spending cap (per run or per day, USD or credits) was reached; the run stopped.

    Attributes:
        scope: ``"run"`` or ``"day"``.
        unit: ``"usd"`` or ``"credits"``.
        cap: The cap that was reached.
        spent: What had been spent in that scope when the run stopped.
    """

    def __init__(self, *, scope: str, unit: str, cap: float, spent: float) -> None:
        self.scope = scope
        self.unit = unit
        self.cap = cap
        self.spent = spent
        amount = (
            f"${spent:.4f} of ${cap:.2f}" if unit == "usd" else f"{spent:.2f} of {cap:.2f} credits"
        )
        super().__init__(
            f"the {scope} budget is used up: {amount} spent; "
            "the run stopped and its state is saved.",
            hint=(
                "Raise the cap with --budget or in the `budget` section of "
                ".kiro/settings/specloom.json, or wait for the next day."
                if scope == "day"
                else "Raise the cap with --budget or in the `budget` section of "
                ".kiro/settings/specloom.json, then run the command again to continue."
            ),
        )

    def to_dict(self) -> dict[str, object]:
        data = super().to_dict()
        data.update(scope=self.scope, unit=self.unit, cap=self.cap, spent=self.spent)
        return data


class StateFileError(UserFacingError):
    """A file of specloom's own state (usage ledger, run state) cannot be read or is damaged."""


class CheckpointError(UserFacingError):
    """A workspace checkpoint that does not exist, or one that cannot be taken or restored
    (git is missing or failed, or a file is in the way)."""


class RetryableError(SpecloomError):
    """A transient failure (rate limit, timeout): the operation may succeed if repeated.

    Attributes:
        retry_after: Seconds the other side asked us to wait, if it said.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class ModelFacingError(SpecloomError):
    """A tool call failed in a way the model can correct; the message is shown to it."""
