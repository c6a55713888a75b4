"""``specloom mcp ...``: the MCP servers the agent can use, their state and tools."""
