"""``specloom mcp list``: the configured MCP servers, started for real, as text and JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.interfaces.cli_helpers import json_output, specloom

pytestmark = pytest.mark.slow


def write_mcp(path: Path, servers: dict[str, Any] | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = servers if isinstance(servers, str) else json.dumps({"mcpServers": servers}, indent=2)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A workspace with the real time server, a disabled server and two broken ones, and a
    user-level file with one more server."""
    root = tmp_path / "project"
    write_mcp(
        root / ".kiro" / "settings" / "mcp.json",
        {
            "time": {
                "command": sys.executable,
                "args": ["-m", "mcp_server_time"],
                "autoApprove": ["get_current_time"],
                "disabledTools": ["convert_time"],
            },
            "paused": {
                "command": sys.executable,
                "args": ["-m", "mcp_server_time"],
                "disabled": True,
            },
            "crashing": {
                "command": sys.executable,
                "args": ["-c", "import sys; sys.exit('database url is not configured')"],
            },
            "keyless": {"command": "npx", "env": {"API_KEY": "${SPECLOOM_TEST_MISSING_KEY}"}},
        },
    )
    write_mcp(
        Path.home() / ".kiro" / "settings" / "mcp.json",
        {"elsewhere": {"url": "http://127.0.0.1:9/mcp", "disabled": "true"}},
    )
    return root


def test_list_json_reports_each_server_its_state_and_tools(project: Path) -> None:
    servers = json_output(specloom("mcp", "list", "--json", cwd=project), exit_code=1)

    by_name = {server["name"]: server for server in servers}
    assert [server["name"] for server in servers] == sorted(by_name)
    assert {name: server["state"] for name, server in by_name.items()} == {
        "crashing": "failed",
        "elsewhere": "disabled",
        "keyless": "failed",
        "paused": "disabled",
        "time": "connected",
    }
    time = by_name["time"]
    assert set(time) == {"name", "source", "transport", "state", "reason", "tools"}
    assert time["transport"] == "stdio" and time["reason"] is None
    assert Path(time["source"]) == project / ".kiro" / "settings" / "mcp.json"
    tools = {tool["name"]: tool for tool in time["tools"]}
    assert set(tools) == {"get_current_time", "convert_time"}
    assert tools["get_current_time"]["auto_approved"] is True
    assert tools["get_current_time"]["disabled"] is False
    assert tools["convert_time"] == {
        "name": "convert_time",
        "description": tools["convert_time"]["description"],
        "auto_approved": False,
        "disabled": True,
    }
    assert tools["convert_time"]["description"]
    assert "database url is not configured" in by_name["crashing"]["reason"]
    assert by_name["crashing"]["tools"] == []
    keyless = by_name["keyless"]
    assert "SPECLOOM_TEST_MISSING_KEY" in keyless["reason"]
    assert str(project / ".kiro" / "settings" / "mcp.json") in keyless["reason"]
    assert by_name["elsewhere"]["transport"] == "http"
    assert Path(by_name["elsewhere"]["source"]) == Path.home() / ".kiro/settings/mcp.json"


def test_list_prints_a_table_and_why_servers_failed(project: Path) -> None:
    result = specloom("mcp", "list", cwd=project)

    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["server", "source", "transport", "state", "tools"]
    time_row = next(line for line in lines if line.startswith("time "))
    assert ".kiro/settings/mcp.json" in time_row and "connected" in time_row
    assert "get_current_time*" in time_row and "convert_time (off)" in time_row
    assert any(
        line.startswith("elsewhere ") and "~/.kiro/settings/mcp.json" in line for line in lines
    )
    assert any(line.startswith("crashing: ") and "database url" in line for line in lines)
    assert "Traceback" not in result.stderr


def test_a_broken_file_is_an_error_with_its_line_and_the_rest_still_lists(
    project: Path,
) -> None:
    write_mcp(project / ".kiro" / "settings" / "mcp.json", '{\n  "mcpServers": {\n    "a": }\n}\n')
    result = specloom("mcp", "list", "--json", cwd=project)

    servers = json_output(result, exit_code=2)
    assert [server["name"] for server in servers] == ["elsewhere"]
    assert f"{project / '.kiro' / 'settings' / 'mcp.json'}:3:10: not valid JSON" in result.stderr


def test_no_servers_and_a_bad_timeout(tmp_path: Path) -> None:
    (tmp_path / ".kiro").mkdir()
    empty = specloom("mcp", "list", cwd=tmp_path)
    assert empty.returncode == 0, empty.stderr
    assert "No MCP servers are configured" in empty.stdout

    assert json_output(specloom("mcp", "list", "--json", cwd=tmp_path)) == []
    refused = json_output(specloom("mcp", "list", "--timeout", "0", "--json", cwd=tmp_path), 2)
    assert refused["error"] == "UsageError" and "--timeout" in refused["message"]
