"""The user-visible flows: writing specs (requirements-first, design-first, quick plan,
bugfix), reviewing and refining them, running their tasks, verifying, and chatting.

This is the only layer that composes ``specloom.spec``, ``specloom.llm`` and
``specloom.agent``; every interface (CLI, web app, ACP agent, MCP server) calls one function
here per action, so the interfaces cannot drift apart.
"""
