"""Which documents of a spec are approved, and when: specloom's own review state.

A spec is written one phase at a time (requirements, design, tasks; design-first specs start
with the design), and each phase waits at a review gate until the user approves it. Approvals
live in ``<state dir>/specs/<name>.json`` (``specloom.settings.state_dir``), never in Kiro's
files, so a spec folder stays exactly what Kiro writes.

A spec with no state file (made by Kiro, or by hand) is read the way Kiro leaves it: every
document that exists is approved except the last one present, which waits for review.

May import: the standard library, ``specloom.errors``, ``specloom.settings``,
``specloom.workspace`` and ``specloom.spec``.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from specloom.errors import StateFileError
from specloom.settings import state_dir
from specloom.spec.meta import parse_config
from specloom.workspace import atomic_write, read_text

__all__ = [
    "PHASES",
    "SpecState",
    "document_name",
    "infer_state",
    "load_state",
    "phase_order",
    "present_phases",
    "save_state",
    "state_path",
]

PHASES = ("requirements", "design", "tasks")
"""Every phase a spec goes through (the order depends on the workflow)."""

_DESIGN_FIRST = ("design", "requirements", "tasks")
_VERSION = 1


def phase_order(workflow: str | None) -> tuple[str, ...]:
    """The phases of ``workflow`` in the order they are written and approved.

    Args:
        workflow: ``.config.kiro``'s ``workflowType`` (``requirements-first``,
            ``design-first``, ``fast-task``...); unknown or missing means requirements first.
    """
    return _DESIGN_FIRST if workflow == "design-first" else PHASES


def document_name(phase: str, spec_type: str) -> str:
    """The file that holds ``phase``: ``requirements.md`` (``bugfix.md`` for a bugfix spec),
    ``design.md`` or ``tasks.md``."""
    if phase == "requirements":
        return "bugfix.md" if spec_type == "bugfix" else "requirements.md"
    return f"{phase}.md"


def present_phases(folder: Path, spec_type: str) -> set[str]:
    """The phases whose document exists in ``folder``."""
    return {phase for phase in PHASES if (folder / document_name(phase, spec_type)).is_file()}


@dataclass(slots=True)
class SpecState:
    """The review state of one spec.

    Attributes:
        name: The spec's folder name.
        workflow: ``requirements-first``, ``design-first`` or ``fast-task`` (quick plan).
        spec_type: ``feature`` or ``bugfix``.
        approved: Phase to the time it was approved (ISO 8601, UTC); ``None`` when the
            approval was inferred from a spec made elsewhere.
        request: What the user asked for when the spec was created (empty when unknown).
        created: When the spec was created (ISO 8601, UTC), if specloom created it.
        inferred: Whether this state was inferred (no state file was there).
    """

    name: str
    workflow: str = "requirements-first"
    spec_type: str = "feature"
    approved: dict[str, str | None] = field(default_factory=dict)
    request: str = ""
    created: str | None = None
    inferred: bool = False

    @property
    def order(self) -> tuple[str, ...]:
        """The phases in the order they are reviewed."""
        return phase_order(self.workflow)

    def document(self, phase: str) -> str:
        """The file name of ``phase``'s document."""
        return document_name(phase, self.spec_type)

    def is_approved(self, phase: str) -> bool:
        """Whether ``phase`` is approved."""
        return phase in self.approved

    def approve(self, phase: str, at: str) -> None:
        """Record that ``phase`` was approved at ``at`` (ISO 8601)."""
        self.approved[phase] = at

    def awaiting(self, present: Collection[str]) -> str | None:
        """The phase waiting for review: the first, in order, whose document exists and is
        not approved; ``None`` when nothing waits."""
        return next((p for p in self.order if p in present and p not in self.approved), None)

    def next_phase(self) -> str | None:
        """The first phase, in order, that is not approved yet (``None``: all are)."""
        return next((phase for phase in self.order if phase not in self.approved), None)

    def phase_after(self, phase: str) -> str | None:
        """The phase that follows ``phase`` in this workflow, if any."""
        order = self.order
        position = order.index(phase)
        return order[position + 1] if position + 1 < len(order) else None

    @property
    def complete(self) -> bool:
        """Whether every phase is approved."""
        return all(phase in self.approved for phase in self.order)

    def to_dict(self) -> dict[str, object]:
        """The state as written to its JSON file."""
        return {
            "version": _VERSION,
            "name": self.name,
            "workflow": self.workflow,
            "specType": self.spec_type,
            "approved": {
                phase: self.approved[phase] for phase in self.order if phase in self.approved
            },
            "request": self.request,
            "created": self.created,
        }


def state_path(root: Path, name: str) -> Path:
    """Where spec ``name``'s state is kept: ``<state dir>/specs/<name>.json``."""
    return state_dir(root) / "specs" / f"{name}.json"


def _config(folder: Path) -> tuple[str | None, str | None]:
    """``(workflowType, specType)`` from the folder's ``.config.kiro``, if readable."""
    path = folder / ".config.kiro"
    if not path.is_file():
        return None, None
    config = parse_config(read_text(path), str(path))
    return config.workflow_type, config.spec_type


def infer_state(name: str, folder: Path) -> SpecState:
    """The state of a spec that has no state file: every existing document is approved
    except the last one present (in workflow order), which waits for review.

    Raises:
        SpecSyntaxError: ``.config.kiro`` is not a JSON object.
    """
    workflow, spec_type = _config(folder)
    if (folder / "bugfix.md").is_file():
        spec_type = "bugfix"
    state = SpecState(
        name=name,
        workflow=workflow or "requirements-first",
        spec_type=spec_type if spec_type == "bugfix" else "feature",
        inferred=True,
    )
    present = [p for p in state.order if p in present_phases(folder, state.spec_type)]
    for phase in present[:-1]:
        state.approved[phase] = None
    return state


def load_state(root: Path, name: str, folder: Path) -> SpecState:
    """Spec ``name``'s review state: its state file, or what ``infer_state`` reads from
    ``folder`` when there is none.

    Raises:
        StateFileError: The state file exists but cannot be read.
    """
    path = state_path(root, name)
    if not path.is_file():
        return infer_state(name, folder)
    try:
        data = json.loads(read_text(path))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise StateFileError(
            f"the review state of spec {name!r} is not valid JSON: {error}.",
            file=path,
            hint="Delete the file: specloom then treats every document but the last as approved.",
        ) from None
    approved = data.get("approved") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(approved, dict):
        raise StateFileError(
            f"the review state of spec {name!r} is not what specloom writes.",
            file=path,
            line=1,
            hint="Delete the file: specloom then treats every document but the last as approved.",
        )
    workflow = data.get("workflow")
    spec_type = data.get("specType")
    request = data.get("request")
    created = data.get("created")
    return SpecState(
        name=name,
        workflow=workflow if isinstance(workflow, str) else "requirements-first",
        spec_type=spec_type if spec_type == "bugfix" else "feature",
        approved={
            str(phase): at if isinstance(at, str) else None
            for phase, at in approved.items()
            if phase in PHASES
        },
        request=request if isinstance(request, str) else "",
        created=created if isinstance(created, str) else None,
    )


def save_state(root: Path, state: SpecState) -> Path:
    """Write ``state`` to its file (atomically) and return the file's path."""
    path = state_path(root, state.name)
    atomic_write(path, json.dumps(state.to_dict(), indent=2, ensure_ascii=False) + "\n")
    state.inferred = False
    return path
