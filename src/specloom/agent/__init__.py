"""The agent layer: tools, the safety policy, sandbox, MCP toolsets, checkpoints, audit log and
memory. Workflows compose it with ``specloom.spec`` and ``specloom.llm``.

May import: the standard library, ``specloom.errors``, ``specloom.settings``,
``specloom.workspace``, ``specloom.spec`` and ``specloom.llm``.
"""
