"""One command's use of models: the resolved model, its recorder, budget and settings.

``open_model_session`` is what every command that talks to a model calls first: it reads the
settings, loads the catalog, opens the project's usage ledger, combines the settings' budget
with ``--budget``, refuses to start when a cap is already reached, and resolves ``--model``
(or Auto) for the kind of work.

May import: the standard library, ``specloom.errors``, ``specloom.settings``,
``specloom.workspace`` and the ``specloom.llm`` modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic_ai.models import Model

from specloom.errors import WorkspaceError
from specloom.llm.budget import Budget, BudgetGuard, parse_budget_option
from specloom.llm.catalog import Catalog
from specloom.llm.ledger import Ledger
from specloom.llm.metering import UsageContext, UsageRecorder
from specloom.llm.routing import RetryPolicy, Sleep, resolve_model
from specloom.settings import Settings, load_settings
from specloom.workspace import find_root

__all__ = ["ModelSession", "open_model_session", "project_root_or_none"]


@dataclass(slots=True)
class ModelSession:
    """What a command needs to talk to models.

    Attributes:
        model: The resolved model (a fallback chain for Auto).
        recorder: Usage and budget for the command's requests.
        settings: The merged settings.
        catalog: The model catalog.
        budget: The caps in force.
        root: The project root, if the command runs in a project.
    """

    model: Model
    recorder: UsageRecorder
    settings: Settings
    catalog: Catalog
    budget: Budget
    root: Path | None

    def spent(self) -> dict[str, float]:
        """Tokens, USD and credits of this session's requests so far."""
        return self.recorder.totals()


def project_root_or_none(root: Path | None = None) -> Path | None:
    """The project root from ``root`` or the current folder, or ``None`` outside a project."""
    if root is not None:
        return root.resolve()
    try:
        return find_root()
    except WorkspaceError:
        return None


def open_model_session(
    *,
    command: str,
    model: str | None = None,
    kind: str = "code",
    budget: str | None = None,
    root: Path | None = None,
    spec: str | None = None,
    task: str | None = None,
    policy: RetryPolicy | None = None,
    sleep: Sleep | None = None,
) -> ModelSession:
    """Resolve the model and open the ledger and budget for one command.

    Args:
        command: The command's name, written with each ledger row.
        model: ``--model`` (``None``: the settings' ``model``, else Auto).
        kind: The kind of work, for Auto (``spec``, ``design``, ``code``, ``summary``, ``hook``).
        budget: ``--budget`` text (see ``budget.parse_budget_option``).
        root: The project root; ``None`` finds it from the current folder, if any.
        spec: The spec the work is for.
        task: The task the work is for.
        policy: Retry policy override (default: from the settings).
        sleep: How to wait between retries (default ``anyio.sleep``).

    Raises:
        BudgetExceededError: A cap is already reached before the first request.
        ModelUnavailableError: The model cannot be used now.
        UsageError: A bad ``--model`` or ``--budget``.
        SettingsError: Invalid settings.
    """
    root = project_root_or_none(root)
    settings = load_settings(root)
    catalog = Catalog.load(settings)
    caps = Budget.from_settings(settings)
    if budget:
        caps = caps.merged(parse_budget_option(budget))
    ledger = Ledger.for_project(root)
    context = UsageContext(command=command, spec=spec, task=task)
    recorder = UsageRecorder(context, ledger, BudgetGuard(caps, ledger, context.run_id))
    recorder.check()
    resolved = resolve_model(
        model,
        kind=kind,
        recorder=recorder,
        settings=settings,
        catalog=catalog,
        policy=policy,
        sleep=sleep,
    )
    return ModelSession(resolved, recorder, settings, catalog, caps, root)
