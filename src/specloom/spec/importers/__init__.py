"""Importers that turn other spec-driven tools' folders into Kiro-layout specs.

- ``import_speckit``: a GitHub spec-kit feature folder (``specs/NNN-name/``: spec.md,
  plan.md, tasks.md, research.md, data-model.md, contracts/, quickstart.md).
- ``import_openspec``: an OpenSpec change folder (``openspec/changes/<change>/``: proposal.md,
  design.md, tasks.md, specs/<capability>/spec.md) or a capability folder of
  ``openspec/specs/``.

Both are pure: they take the folder's files as text and return an ``ImportedSpec`` whose
``files`` (requirements.md, design.md, tasks.md, .config.kiro) the caller writes to
``.kiro/specs/<name>/``. What could not be carried over is listed in ``warnings``; input that
cannot be imported at all raises ``ImportFormatError`` and nothing else.

May import: the standard library, ``specloom.errors`` and ``specloom.spec``.
"""

from __future__ import annotations

from specloom.spec.importers._common import ImportedSpec
from specloom.spec.importers.openspec import import_openspec
from specloom.spec.importers.speckit import import_speckit

__all__ = ["ImportedSpec", "import_openspec", "import_speckit"]
