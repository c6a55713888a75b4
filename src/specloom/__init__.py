"""specloom: spec-driven agentic development, compatible with Kiro's ``.kiro/`` layout.

The layers, from the inside out: ``specloom.spec`` (pure spec engine), ``specloom.workspace``
(the project on disk), and ``specloom.interfaces`` (the CLI).
"""

__version__ = "0.1.0"
