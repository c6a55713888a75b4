"""MCP servers as agent tools: Kiro's mcp.json files, and real servers driven by an agent."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from specloom.agent.mcp import (
    McpConfig,
    McpToolCall,
    agent_tool_name,
    build_toolsets,
    inspect_servers,
    load_mcp_config,
)
from specloom.agent.tool_env import ToolEvent
from tests.conftest import example_files

pytestmark = pytest.mark.anyio


# -- helpers ---------------------------------------------------------------------------------


def write(path: Path, content: str | dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = content if isinstance(content, str) else json.dumps(content, indent=2)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    return tmp_path / "home" / ".kiro" / "settings"


def workspace_file(root: Path) -> Path:
    return root / ".kiro" / "settings" / "mcp.json"


def time_server(**more: Any) -> dict[str, Any]:
    return {"command": sys.executable, "args": ["-m", "mcp_server_time"], **more}


def git_server(repo: Path, **more: Any) -> dict[str, Any]:
    return {
        "command": sys.executable,
        "args": ["-m", "mcp_server_git", "--repository", str(repo)],
        **more,
    }


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A real git repository with one untracked file."""
    folder = tmp_path / "repo"
    folder.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(folder)], check=True)
    (folder / "notes.txt").write_text("hello\n", encoding="utf-8")
    return folder


def tool_results(message: ModelMessage) -> dict[str, str]:
    """What each tool call of the previous step returned, as the model reads it."""
    assert isinstance(message, ModelRequest)
    results: dict[str, str] = {}
    for part in message.parts:
        if isinstance(part, ToolReturnPart | RetryPromptPart) and part.tool_name:
            results[part.tool_name] = (
                part.model_response()
                if isinstance(part, RetryPromptPart)
                else part.model_response_str()
            )
    return results


class Script:
    """A scripted model: the first step makes ``calls``, the next one answers; it keeps what
    it was offered and what it read back."""

    def __init__(self, *calls: tuple[str, dict[str, Any]]) -> None:
        self.calls = calls
        self.offered: list[list[str]] = []
        self.results: dict[str, str] = {}

    def __call__(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        self.offered.append(sorted(tool.name for tool in info.function_tools))
        if len(messages) == 1:
            return ModelResponse(parts=[ToolCallPart(name, args) for name, args in self.calls])
        self.results = tool_results(messages[-1])
        return ModelResponse(parts=[TextPart("done")])


# -- configuration ---------------------------------------------------------------------------


def test_workspace_entries_win_over_the_user_file_by_name(project: Path, user_dir: Path) -> None:
    user = write(
        user_dir / "mcp.json",
        {"mcpServers": {"time": {"command": "user-time"}, "fetch": {"command": "uvx"}}},
    )
    work = write(workspace_file(project), {"mcpServers": {"time": {"command": "work-time"}}})

    config = load_mcp_config(project, user_dir=user_dir)

    assert sorted(config.servers) == ["fetch", "time"]
    assert config.servers["time"].command == "work-time"
    assert config.servers["time"].source == work
    assert config.servers["fetch"].source == user
    assert config.servers["time"].cwd == project
    assert config.files == [user, work] and config.problems == []


def test_the_user_file_defaults_to_kiros_home_folder(project: Path) -> None:
    write(Path.home() / ".kiro" / "settings" / "mcp.json", {"mcpServers": {"a": {"command": "x"}}})
    assert list(load_mcp_config(project).servers) == ["a"]
    assert list(load_mcp_config(None).servers) == ["a"]


def test_auto_approve_as_a_list_or_every_tool(project: Path, user_dir: Path) -> None:
    write(
        workspace_file(project),
        {
            "mcpServers": {
                "listed": {"command": "a", "autoApprove": ["read", "list"]},
                "star": {"command": "b", "autoApprove": "*"},
                "star-in-list": {"command": "c", "autoApprove": ["*"]},
                "none": {"command": "d", "autoApprove": []},
                "absent": {"command": "e"},
            }
        },
    )
    servers = load_mcp_config(project, user_dir=user_dir).servers

    assert servers["listed"].auto_approve == frozenset({"read", "list"})
    assert servers["listed"].is_auto_approved("read")
    assert not servers["listed"].is_auto_approved("delete")
    assert servers["star"].auto_approve == "*" and servers["star"].is_auto_approved("delete")
    assert servers["star-in-list"].auto_approve == "*"
    assert not servers["none"].is_auto_approved("read")
    assert not servers["absent"].is_auto_approved("read")


def test_disabled_tools_and_disabled_servers(project: Path, user_dir: Path) -> None:
    write(
        workspace_file(project),
        {
            "mcpServers": {
                "git": {"command": "g", "disabledTools": ["git_reset", "git_commit"]},
                "off": {"command": "o", "disabled": True},
            }
        },
    )
    config = load_mcp_config(project, user_dir=user_dir)

    assert config.servers["git"].is_tool_disabled("git_reset")
    assert not config.servers["git"].is_tool_disabled("git_status")
    assert config.servers["off"].disabled
    assert [server.name for server in config.enabled()] == ["git"]


def test_variables_are_expanded_from_the_environment(project: Path, user_dir: Path) -> None:
    write(
        workspace_file(project),
        {
            "mcpServers": {
                "search": {
                    "command": "npx",
                    "args": ["-y", "server", "--key=${API_KEY}"],
                    "env": {
                        "KEY": "${API_KEY}",
                        "MODE": "${MODE:-fast}",
                        "HOME_DIR": "${env:HOME}",
                    },
                },
                "remote": {
                    "url": "https://${HOST}/mcp",
                    "headers": {"Authorization": "Bearer ${API_KEY}"},
                },
            }
        },
    )
    environ = {"API_KEY": "k-123", "HOST": "mcp.example.com", "HOME": "/home/u"}
    servers = load_mcp_config(project, user_dir=user_dir, environ=environ).servers

    assert servers["search"].args == ("-y", "server", "--key=k-123")
    assert servers["search"].env == {"KEY": "k-123", "MODE": "fast", "HOME_DIR": "/home/u"}
    assert servers["remote"].transport == "http"
    assert servers["remote"].url == "https://mcp.example.com/mcp"
    assert servers["remote"].headers == {"Authorization": "Bearer k-123"}


def test_a_missing_variable_disables_only_its_server(project: Path, user_dir: Path) -> None:
    path = write(
        workspace_file(project),
        textwrap.dedent(
            """\
            {
              "mcpServers": {
                "time": {"command": "mcp-server-time"},
                "brave": {
                  "command": "npx",
                  "env": {
                    "BRAVE_API_KEY": "${BRAVE_API_KEY}"
                  }
                },
                "later": {"command": "x", "disabled": true, "env": {"T": "${NOT_SET_EITHER}"}}
              }
            }
            """
        ),
    )
    config = load_mcp_config(project, user_dir=user_dir, environ={})

    assert sorted(config.servers) == ["later", "time"]
    [problem] = config.problems
    assert problem.server == "brave" and problem.source == path
    assert problem.error.file == str(path) and problem.error.line == 7
    text = problem.error.render()
    assert "BRAVE_API_KEY" in text and "'brave'" in text and str(path) in text
    assert "Set BRAVE_API_KEY" in text


def test_bad_json_names_file_line_and_fix_and_the_other_file_still_loads(
    project: Path, user_dir: Path
) -> None:
    write(user_dir / "mcp.json", {"mcpServers": {"fetch": {"command": "uvx"}}})
    path = write(
        workspace_file(project),
        '{\n  "mcpServers": {\n    "time": {"command": "x" "args": []}\n  }\n}\n',
    )
    config = load_mcp_config(project, user_dir=user_dir)

    assert list(config.servers) == ["fetch"]
    [problem] = config.problems
    assert problem.server is None and problem.source == path
    assert (problem.error.line, problem.error.column) == (3, 29)
    assert "not valid JSON" in problem.error.message
    assert problem.error.hint and "Fix the JSON syntax" in problem.error.hint


def test_messy_files_load_as_kiro_reads_them(project: Path, user_dir: Path) -> None:
    write(
        workspace_file(project),
        textwrap.dedent(
            """\
            // MCP servers for this project
            {
              "mcpServers": {
                /* the docs server, on a URL with // inside a string */
                "docs": {
                  "type": "streamable-http",
                  "url": "http://localhost:3000/mcp", // local
                  "headers": {"X-Team": "core",},
                  "timeout": 120000,
                  "autoApprove": [],
                },
                "legacy": {
                  "transport": "stdio",
                  "command": "node",
                  "args": ["server.js", 8080, true],
                  "env": {"PORT": 8080},
                  "disabled": "true",
                  "alwaysAllow": ["x"],
                  "cwd": "tools",
                },
                "events": {"type": "sse", "url": "https://example.com/events", "timeout": 60},
              },
            }
            """
        ),
    )
    config = load_mcp_config(project, user_dir=user_dir)

    assert config.problems == []
    docs, legacy, events = (config.servers[n] for n in ("docs", "legacy", "events"))
    assert docs.transport == "http" and docs.url == "http://localhost:3000/mcp"
    assert docs.headers == {"X-Team": "core"}
    assert docs.timeout == 120.0 and events.timeout == 60.0
    assert docs.extra == {"type": "streamable-http"} and docs.line == 5
    assert events.transport == "sse"
    assert legacy.disabled and legacy.args == ("server.js", "8080", "true")
    assert legacy.env == {"PORT": "8080"} and legacy.cwd == project / "tools"
    assert legacy.extra == {"transport": "stdio", "alwaysAllow": ["x"]}
    assert not legacy.is_auto_approved("x")


def test_wrong_entries_are_reported_one_by_one(project: Path, user_dir: Path) -> None:
    path = write(
        workspace_file(project),
        {
            "mcpServers": {
                "good": {"command": "ok"},
                "nothing": {"args": ["x"]},
                "args": {"command": "x", "args": "--flag"},
                "approve": {"command": "x", "autoApprove": {"a": 1}},
                "flag": {"command": "x", "disabled": "maybe"},
                "text": "npx server",
            }
        },
    )
    config = load_mcp_config(project, user_dir=user_dir)

    assert list(config.servers) == ["good"]
    found = {str(problem.server): problem.error for problem in config.problems}
    assert sorted(found) == ["approve", "args", "flag", "nothing", "text"]
    assert "neither `command` nor `url`" in found["nothing"].message
    assert "`args` must be a list" in found["args"].message
    assert "`autoApprove`" in found["approve"].message
    assert all(error.file == str(path) and error.line and error.hint for error in found.values())


def test_the_real_kiro_example_file_loads(project: Path, user_dir: Path) -> None:
    [example] = example_files("settings/mcp.json")
    write(workspace_file(project), example.read_text(encoding="utf-8"))
    config = load_mcp_config(project, user_dir=user_dir)
    assert config.servers == {} and config.problems == [] and len(config.files) == 1


def test_tool_names_carry_their_server_and_fit_model_apis() -> None:
    assert agent_tool_name("time", "get_current_time") == "time__get_current_time"
    assert agent_tool_name("my server.v2", "tasks/next") == "my_server_v2__tasks_next"
    long = agent_tool_name("s" * 40, "t" * 40)
    assert len(long) == 64 and long != agent_tool_name("s" * 40, "t" * 41)


# -- real servers ----------------------------------------------------------------------------


def config_for(project: Path, user_dir: Path, servers: dict[str, Any]) -> McpConfig:
    write(workspace_file(project), {"mcpServers": servers})
    config = load_mcp_config(project, user_dir=user_dir)
    assert config.problems == []
    return config


@pytest.mark.slow
async def test_the_agent_calls_real_time_and_git_servers(
    project: Path, user_dir: Path, repo: Path
) -> None:
    config = config_for(
        project,
        user_dir,
        {
            "time": time_server(autoApprove=["get_current_time"], disabledTools=["convert_time"]),
            "git": git_server(repo, disabledTools=["git_reset"]),
        },
    )
    asked: list[McpToolCall] = []
    events: list[ToolEvent] = []

    async def approve(call: McpToolCall) -> bool:
        asked.append(call)
        return True

    script = Script(
        ("time__get_current_time", {"timezone": "UTC"}),
        ("git__git_status", {"repo_path": str(repo)}),
    )
    agent = Agent(
        FunctionModel(script),
        toolsets=build_toolsets(config, approve=approve, record=events.append),
    )
    result = await agent.run("What time is it, and what changed in the repository?")

    assert result.output == "done"
    offered = script.offered[0]
    assert "time__get_current_time" in offered and "git__git_status" in offered
    assert "time__convert_time" not in offered and "git__git_reset" not in offered
    now = json.loads(script.results["time__get_current_time"])
    assert now["timezone"] == "UTC"
    moment = datetime.fromisoformat(now["datetime"])
    assert abs((moment - datetime.now(UTC)).total_seconds()) < 120
    assert "notes.txt" in script.results["git__git_status"]
    assert "Untracked" in script.results["git__git_status"]
    by_tool = {call.tool: call for call in asked}
    assert by_tool["get_current_time"].auto_approved and by_tool["get_current_time"].read_only
    assert by_tool["get_current_time"].server == "time"
    assert not by_tool["git_status"].auto_approved
    assert by_tool["git_status"].arguments == {"repo_path": str(repo)}
    assert sorted((event.tool, event.outcome) for event in events) == [
        ("git__git_status", "ok"),
        ("time__get_current_time", "ok"),
    ]


@pytest.mark.slow
async def test_a_refused_call_reaches_the_model_and_never_runs(
    project: Path, user_dir: Path, repo: Path
) -> None:
    config = config_for(project, user_dir, {"git": git_server(repo, autoApprove="*")})
    events: list[ToolEvent] = []
    asked: list[McpToolCall] = []

    async def refuse_changes(call: McpToolCall) -> bool:
        asked.append(call)
        return bool(call.read_only)

    script = Script(
        ("git__git_create_branch", {"repo_path": str(repo), "branch_name": "refused"}),
        ("git__git_status", {"repo_path": str(repo)}),
    )
    agent = Agent(
        FunctionModel(script),
        toolsets=build_toolsets(config, approve=refuse_changes, record=events.append),
    )
    await agent.run("Make a branch.")

    refused = script.results["git__git_create_branch"]
    assert "The user declined" in refused and "git_create_branch" in refused
    assert "notes.txt" in script.results["git__git_status"]
    # Every call was auto-approved by the file, and the policy still refused the change.
    assert all(call.auto_approved for call in asked)
    branches = subprocess.run(
        ["git", "-C", str(repo), "branch", "--list", "refused"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert branches.stdout == ""
    outcomes = {event.tool: event.outcome for event in events}
    assert outcomes == {"git__git_create_branch": "declined", "git__git_status": "ok"}


@pytest.mark.slow
async def test_a_server_that_fails_to_start_is_reported_and_skipped(
    project: Path, user_dir: Path
) -> None:
    config = config_for(
        project,
        user_dir,
        {
            "time": time_server(),
            "broken": {
                "command": sys.executable,
                "args": [
                    "-c",
                    "import sys; print('missing licence key', file=sys.stderr); exit(3)",
                ],
            },
            "absent": {"command": str(project / "no-such-program")},
        },
    )
    failures: dict[str, str] = {}

    def note_failure(name: str, reason: str) -> None:
        failures[name] = reason

    async def approve(call: McpToolCall) -> bool:
        return True

    script = Script(("time__get_current_time", {"timezone": "Europe/Paris"}))
    toolsets = build_toolsets(config, approve=approve, on_failure=note_failure)
    await Agent(FunctionModel(script), toolsets=toolsets).run("time?")

    assert sorted(failures) == ["absent", "broken"]
    assert "missing licence key" in failures["broken"]
    assert "no-such-program" in failures["absent"]
    assert all(not name.startswith(("broken__", "absent__")) for name in script.offered[0])
    assert json.loads(script.results["time__get_current_time"])["timezone"] == "Europe/Paris"


@pytest.mark.slow
async def test_inspect_servers_reports_each_state(project: Path, user_dir: Path) -> None:
    write(
        workspace_file(project),
        {
            "mcpServers": {
                "time": time_server(
                    autoApprove=["get_current_time"], disabledTools=["convert_time"]
                ),
                "off": time_server(disabled=True),
                "broken": {"command": sys.executable, "args": ["-c", "exit(1)"]},
                "unset": {"command": "x", "env": {"K": "${SPECLOOM_TEST_UNSET}"}},
            }
        },
    )
    config = load_mcp_config(project, user_dir=user_dir)
    states = {state.name: state for state in await inspect_servers(config, timeout=20)}

    assert {name: state.state for name, state in states.items()} == {
        "broken": "failed",
        "off": "disabled",
        "time": "connected",
        "unset": "failed",
    }
    tools = {tool.name: tool for tool in states["time"].tools}
    assert set(tools) == {"get_current_time", "convert_time"}
    assert tools["get_current_time"].auto_approved and not tools["get_current_time"].disabled
    assert tools["convert_time"].disabled and not tools["convert_time"].auto_approved
    assert tools["get_current_time"].description
    assert states["unset"].reason and "SPECLOOM_TEST_UNSET" in states["unset"].reason
    assert states["broken"].reason and states["broken"].tools == ()
    assert states["time"].to_dict()["transport"] == "stdio"


# -- a remote server over streamable HTTP ----------------------------------------------------

HTTP_SERVER = """\
import sys
from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("notes")


@server.tool()
def whoami(ctx: Context) -> str:
    \"\"\"Say which credentials the request carried.\"\"\"
    headers = getattr(ctx.request_context.request, "headers", {})
    return "authorization=" + headers.get("authorization", "none")


server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    """A real MCP server on a loopback port, in its own process; yields its URL."""
    script = write(tmp_path / "notes_server.py", HTTP_SERVER)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(script), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the test MCP server did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.slow
async def test_the_agent_calls_a_remote_server_with_its_headers(
    project: Path, user_dir: Path, http_server: str
) -> None:
    write(
        workspace_file(project),
        {
            "mcpServers": {
                "notes": {"url": http_server, "headers": {"Authorization": "Bearer ${NOTES_TOKEN}"}}
            }
        },
    )
    config = load_mcp_config(project, user_dir=user_dir, environ={"NOTES_TOKEN": "t-42"})

    async def approve(call: McpToolCall) -> bool:
        return True

    script = Script(("notes__whoami", {}))
    await Agent(FunctionModel(script), toolsets=build_toolsets(config, approve=approve)).run("?")

    assert script.offered[0] == ["notes__whoami"]
    assert script.results["notes__whoami"] == "authorization=Bearer t-42"
    [state] = await inspect_servers(config, timeout=20)
    assert (state.state, state.transport, [tool.name for tool in state.tools]) == (
        "connected",
        "http",
        ["whoami"],
    )


CRASHING_SERVER = """\
import os
from mcp.server.mcpserver import MCPServer

server = MCPServer("flaky")


@server.tool()
def crash() -> str:
    \"\"\"Stop the server in the middle of the call.\"\"\"
    os._exit(1)


server.run()
"""


@pytest.mark.slow
async def test_a_server_that_dies_mid_call_fails_that_call_only(
    project: Path, user_dir: Path, tmp_path: Path
) -> None:
    script_path = write(tmp_path / "flaky_server.py", CRASHING_SERVER)
    config = config_for(
        project,
        user_dir,
        {"flaky": {"command": sys.executable, "args": [str(script_path)]}, "time": time_server()},
    )
    events: list[ToolEvent] = []

    async def approve(call: McpToolCall) -> bool:
        return True

    script = Script(("flaky__crash", {}), ("time__get_current_time", {"timezone": "UTC"}))
    agent = Agent(
        FunctionModel(script),
        toolsets=build_toolsets(config, approve=approve, record=events.append),
    )
    result = await agent.run("go")

    assert result.output == "done"
    refused = script.results["flaky__crash"]
    assert "MCP server 'flaky' failed during the call" in refused
    assert "unavailable for the rest of this run" in refused
    assert "flaky__crash" in script.offered[0] and "flaky__crash" not in script.offered[1]
    assert json.loads(script.results["time__get_current_time"])["timezone"] == "UTC"
    assert {event.tool: event.outcome for event in events} == {
        "flaky__crash": "failed",
        "time__get_current_time": "ok",
    }
