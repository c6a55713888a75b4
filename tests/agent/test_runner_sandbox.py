"""The command runner (real subprocesses: timeouts kill whole trees, output caps) and the
bubblewrap sandbox (really run: no network, writes only inside the workspace)."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from specloom.agent.runner import CommandResult, run_command, scrubbed_environment
from specloom.agent.sandbox import Sandbox, reset_sandbox_cache, sandbox_status
from specloom.errors import SettingsError
from specloom.settings import load_settings

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def fresh_probe() -> Iterator[None]:
    """Each test probes bubblewrap again (some hide it or replace it)."""
    reset_sandbox_cache()
    yield
    reset_sandbox_cache()


def _processes_running(marker: str) -> list[int]:
    """Live (not zombie) processes whose command line contains ``marker``."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if marker in command and state != "Z":
            found.append(int(entry.name))
    return found


def _hide(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real_which = shutil.which

    def which(command: str, mode: int = 1, path: str | None = None) -> str | None:
        return None if command == name else real_which(command, mode, path)

    monkeypatch.setattr(shutil, "which", which)


# -- the runner ------------------------------------------------------------------------------


async def test_exit_code_and_merged_output(tmp_path: Path) -> None:
    result = await run_command("echo out; echo err >&2; echo again; exit 3", cwd=tmp_path)
    assert isinstance(result, CommandResult)
    assert result.exit_code == 3
    assert result.output == "out\nerr\nagain\n"
    assert not result.timed_out and not result.truncated and not result.sandboxed
    assert not result.ok
    assert result.duration_s < 5


async def test_runs_in_cwd_with_the_given_environment(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    result = await run_command(
        'pwd; echo "$GREETING"',
        cwd=tmp_path / "sub",
        env={"GREETING": "hi", "PATH": "/usr/bin:/bin"},
    )
    assert result.ok
    assert result.output == f"{tmp_path / 'sub'}\nhi\n"


async def test_argument_lists_never_go_through_a_shell(tmp_path: Path) -> None:
    result = await run_command(["printf", "%s|", "$HOME", "a b", ";", "exit 7"], cwd=tmp_path)
    assert result.exit_code == 0
    assert result.output == "$HOME|a b|;|exit 7|"


async def test_a_missing_program_gives_127(tmp_path: Path) -> None:
    result = await run_command(["no-such-program-specloom"], cwd=tmp_path)
    assert result.exit_code == 127
    assert "no-such-program-specloom" in result.output
    shell = await run_command("no-such-program-specloom", cwd=tmp_path)
    assert shell.exit_code == 127
    nowhere = await run_command("true", cwd=tmp_path / "missing")
    assert nowhere.exit_code == 127 and "no such folder" in nowhere.output


async def test_output_cap_keeps_head_and_tail(tmp_path: Path) -> None:
    script = "print('START'); print('A' * 50000); print('B' * 50000); print('END')"
    result = await run_command([sys.executable, "-c", script], cwd=tmp_path, output_cap=1000)
    assert result.ok and result.truncated
    assert result.output.startswith("START\nAAAA")
    assert result.output.endswith("BBBB\nEND\n")
    assert "bytes of output left out" in result.output
    left_out = int(result.output.split("[... ")[1].split(" bytes")[0])
    assert left_out == len("START\n") + 50001 * 2 + len("END\n") - 1000
    assert len(result.output) < 1100


async def test_output_under_the_cap_is_whole(tmp_path: Path) -> None:
    result = await run_command("seq 1 100", cwd=tmp_path, output_cap=1000)
    assert not result.truncated
    assert result.output == "".join(f"{n}\n" for n in range(1, 101))


@pytest.mark.parametrize("sandboxed", [False, True])
async def test_timeout_kills_the_whole_process_tree(tmp_path: Path, sandboxed: bool) -> None:
    marker = f"{700 + uuid.uuid4().int % 200}.{uuid.uuid4().int % 10_000}"
    sandbox = Sandbox([tmp_path]) if sandboxed else None
    # bash -> bash -> sleep: the sleep is a grandchild of the process we started.
    line = f"bash -c 'sleep {marker} & wait' & echo started; wait"
    started = time.monotonic()
    result = await run_command(line, cwd=tmp_path, timeout_s=1.0, sandbox=sandbox)
    assert result.timed_out
    assert result.sandboxed is sandboxed
    assert result.output == "started\n"
    assert result.exit_code < 0
    assert time.monotonic() - started < 10
    deadline = time.monotonic() + 5
    while _processes_running(f"sleep {marker}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_running(f"sleep {marker}") == []


async def test_cancelling_the_caller_kills_the_command(tmp_path: Path) -> None:
    import anyio

    marker = f"{300 + uuid.uuid4().int % 100}.{uuid.uuid4().int % 10_000}"
    with anyio.move_on_after(0.5) as scope:
        await run_command(f"bash -c 'sleep {marker}' & wait", cwd=tmp_path, timeout_s=60)
    assert scope.cancelled_caught
    deadline = time.monotonic() + 5
    while _processes_running(f"sleep {marker}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_running(f"sleep {marker}") == []


async def test_background_jobs_do_not_outlive_their_command(tmp_path: Path) -> None:
    marker = f"{500 + uuid.uuid4().int % 100}.{uuid.uuid4().int % 10_000}"
    started = time.monotonic()
    result = await run_command(f"sleep {marker} & echo done", cwd=tmp_path, timeout_s=60)
    assert result.ok and not result.timed_out
    assert result.output == "done\n"
    assert time.monotonic() - started < 10
    deadline = time.monotonic() + 5
    while _processes_running(f"sleep {marker}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_running(f"sleep {marker}") == []


def test_scrubbed_environment_drops_secrets_only() -> None:
    base = {
        "OPENAI_API_KEY": "sk-1",
        "GH_TOKEN": "t",
        "AWS_SECRET_ACCESS_KEY": "a",
        "AWS_REGION": "eu",
        "DB_PASSWORD": "p",
        "SSH_AUTH_SOCK": "/tmp/agent",
        "MY_CLIENT_SECRET": "s",
        "PATH": "/usr/bin",
        "HOME": "/home/me",
        "TOKENIZERS_PARALLELISM": "false",
        "KEYBOARD_LAYOUT": "us",
        "LANG": "C.UTF-8",
    }
    assert scrubbed_environment(base) == {
        "PATH": "/usr/bin",
        "HOME": "/home/me",
        "TOKENIZERS_PARALLELISM": "false",
        "KEYBOARD_LAYOUT": "us",
        "LANG": "C.UTF-8",
    }


# -- the sandbox -----------------------------------------------------------------------------


def test_bubblewrap_works_here() -> None:
    status = sandbox_status()
    assert status.available, status.reason
    assert status.reason is None
    assert status.bwrap is not None
    assert sandbox_status() is status  # probed once, then cached


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A TCP server on 127.0.0.1 of the host that accepts connections until the test ends."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def _connect(port: int) -> list[str]:
    script = (
        f"import socket; s = socket.create_connection(('127.0.0.1', {port}), timeout=5); "
        "print('connected'); s.close()"
    )
    return [sys.executable, "-c", script]


async def test_sandbox_has_no_network(tmp_path: Path, listening_port: int) -> None:
    outside = await run_command(_connect(listening_port), cwd=tmp_path)
    assert outside.ok and outside.output == "connected\n"
    inside = await run_command(_connect(listening_port), cwd=tmp_path, sandbox=Sandbox([tmp_path]))
    assert inside.sandboxed
    assert inside.exit_code != 0
    assert "connected" not in inside.output
    assert "Error" in inside.output  # ConnectionRefusedError or OSError: unreachable


async def test_network_setting_lets_commands_connect(tmp_path: Path, listening_port: int) -> None:
    sandbox = Sandbox([tmp_path], network=True)
    result = await run_command(_connect(listening_port), cwd=tmp_path, sandbox=sandbox)
    assert result.sandboxed
    assert result.ok and result.output == "connected\n"


async def test_sandbox_writes_only_inside_the_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    home = Path.home()
    name = f"specloom-{uuid.uuid4().hex}"
    sandbox = Sandbox([workspace])
    inside = await run_command(
        f"touch inside.txt && touch {workspace}/sub-ok", cwd=workspace, sandbox=sandbox
    )
    assert inside.ok, inside.output
    assert (workspace / "inside.txt").exists() and (workspace / "sub-ok").exists()
    escaped = await run_command(
        f'touch "$HOME/{name}"',
        cwd=workspace,
        sandbox=sandbox,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
    )
    assert escaped.exit_code != 0
    assert not (home / name).exists()
    # Beside the workspace, below /tmp: the private /tmp takes the write, the host never sees it.
    sibling = await run_command(
        f"touch {tmp_path}/{name} && ls {tmp_path}", cwd=workspace, sandbox=sandbox
    )
    assert sibling.output.split() == [name, "ws"]
    assert not (tmp_path / name).exists()
    # A folder the host can write to, outside /tmp: read-only inside.
    var_tmp = Path("/var/tmp")
    if var_tmp.is_dir() and os.access(var_tmp, os.W_OK):
        denied = await run_command(f"touch /var/tmp/{name}", cwd=workspace, sandbox=sandbox)
        assert denied.exit_code != 0
        assert "Read-only file system" in denied.output
        assert not (var_tmp / name).exists()
        allowed = await run_command(f"touch /var/tmp/{name}", cwd=workspace)
        assert allowed.ok
        (var_tmp / name).unlink()


async def test_sandbox_has_a_private_tmp_and_keeps_cwd(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    (workspace / "deep").mkdir(parents=True)
    name = f"specloom-{uuid.uuid4().hex}"
    host_file = Path("/tmp") / f"specloom-host-{uuid.uuid4().hex}"
    host_file.write_text("host\n")
    try:
        sandbox = Sandbox([workspace])
        result = await run_command(
            f'touch /tmp/{name} && ls -a /tmp && pwd && echo "$TMPDIR"',
            cwd=workspace / "deep",
            sandbox=sandbox,
        )
    finally:
        host_file.unlink()
    assert result.ok, result.output
    lines = result.output.splitlines()
    assert name in lines  # written to the private /tmp...
    assert not (Path("/tmp") / name).exists()  # ...which the host never sees
    assert host_file.name not in lines  # and the host's /tmp is not visible inside
    assert lines[-2:] == [str(workspace / "deep"), "/tmp"]


async def test_tools_below_tmp_stay_visible_and_read_only(tmp_path: Path) -> None:
    # A project's virtual environment under /tmp (a clone in /tmp, say) must still run
    # inside the sandbox, whose /tmp is otherwise private and empty.
    workspace, venv = tmp_path / "ws", tmp_path / "tools" / ".venv"
    workspace.mkdir()
    (venv / "bin").mkdir(parents=True)
    tool = venv / "bin" / "hello-tool"
    tool.write_text("#!/bin/sh\necho hello from the tool\n")
    tool.chmod(0o755)
    environment = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    result = await run_command(
        f"hello-tool && touch {venv}/written",
        cwd=workspace,
        env=environment,
        sandbox=Sandbox([workspace]),
    )
    assert result.sandboxed
    assert result.output.startswith("hello from the tool\n")
    assert result.exit_code != 0  # the tool's folder is visible, not writable
    assert not (venv / "written").exists()


async def test_extra_writable_folders(tmp_path: Path) -> None:
    workspace, cache = tmp_path / "ws", tmp_path / "cache"
    workspace.mkdir()
    cache.mkdir()
    sandbox = Sandbox([workspace], extra_writable=[cache, tmp_path / "missing"])
    result = await run_command(f"touch {cache}/ok", cwd=workspace, sandbox=sandbox)
    assert result.ok, result.output
    assert (cache / "ok").exists()


def test_settings_configure_the_sandbox(tmp_path: Path) -> None:
    settings_file = tmp_path / ".kiro" / "settings" / "specloom.json"
    settings_file.parent.mkdir(parents=True)
    settings_file.write_text(
        '{"agent": {"sandbox": {"network": true, "extra_writable": ["cache", "~/.npm"]}}}\n'
    )
    sandbox = Sandbox.from_settings(load_settings(tmp_path), [tmp_path])
    assert sandbox.enabled and sandbox.network
    assert sandbox.extra_writable == (
        (tmp_path / "cache").resolve(),
        (Path.home() / ".npm").resolve(),
    )
    settings_file.write_text('{"agent": {"sandbox": {"enabled": false}}}\n')
    off = Sandbox.from_settings(load_settings(tmp_path), [tmp_path])
    assert not off.available
    assert off.reason is not None and "agent.sandbox.enabled" in off.reason
    assert "without a sandbox" in off.describe()


def test_bad_settings_name_the_file_and_line(tmp_path: Path) -> None:
    settings_file = tmp_path / ".kiro" / "settings" / "specloom.json"
    settings_file.parent.mkdir(parents=True)
    settings_file.write_text('{\n  "agent": {\n    "sandbox": {\n      "network": "yes"\n}}}\n')
    with pytest.raises(SettingsError) as caught:
        Sandbox.from_settings(load_settings(tmp_path), [tmp_path])
    assert caught.value.file == str(settings_file)
    assert caught.value.line == 4
    settings_file.write_text('{"agent": {"sandbox": {"extra_writable": "/opt"}}}\n')
    with pytest.raises(SettingsError, match="extra_writable"):
        Sandbox.from_settings(load_settings(tmp_path), [tmp_path])


async def test_without_bubblewrap_commands_run_unsandboxed_and_say_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _hide("bwrap", monkeypatch)
    sandbox = Sandbox([tmp_path])
    assert not sandbox.available
    assert sandbox.reason is not None and "not installed" in sandbox.reason
    assert sandbox_status().reason == sandbox.reason
    with pytest.raises(RuntimeError):
        sandbox.wrap(["true"], cwd=tmp_path)
    result = await run_command("echo ran", cwd=tmp_path, sandbox=sandbox)
    assert result.ok and result.output == "ran\n"
    assert not result.sandboxed


def _fake_bwrap(folder: Path, stderr: str, exit_code: int) -> Path:
    script = folder / "bwrap"
    script.write_text(
        f"#!/bin/sh\necho run >> {folder}/calls\necho '{stderr}' >&2\nexit {exit_code}\n"
    )
    script.chmod(0o755)
    return script


def test_a_broken_bubblewrap_is_probed_once_and_explained(tmp_path: Path) -> None:
    fake = _fake_bwrap(tmp_path, "bwrap: No permissions to create new namespace", 1)
    status = sandbox_status(bwrap=str(fake))
    assert not status.available
    assert status.reason is not None
    assert "No permissions to create new namespace" in status.reason
    calls = (tmp_path / "calls").read_text().count("run")
    assert calls == 2  # with, then without, a pid namespace
    again = Sandbox([tmp_path], bwrap=str(fake))
    assert again.reason == status.reason
    assert (tmp_path / "calls").read_text().count("run") == calls


def test_a_bubblewrap_without_pid_namespaces_is_still_used(tmp_path: Path) -> None:
    real = shutil.which("bwrap")
    assert real is not None
    script = tmp_path / "bwrap"
    # Refuses --unshare-pid (as some kernels do), passes everything else to the real one.
    script.write_text(
        '#!/bin/sh\nfor a in "$@"; do [ "$a" = --unshare-pid ] && '
        "{ echo 'bwrap: Creating new namespace failed' >&2; exit 1; }; done\n"
        f'exec {real} "$@"\n'
    )
    script.chmod(0o755)
    status = sandbox_status(bwrap=str(script))
    assert status.available and not status.isolates_pids
    argv = Sandbox([tmp_path], bwrap=str(script)).wrap(["true"], cwd=tmp_path)
    assert "--unshare-pid" not in argv and "--unshare-net" in argv


def test_wrap_builds_the_bubblewrap_command(tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    sandbox = Sandbox([tmp_path], extra_writable=[extra, tmp_path / "absent"])
    argv = sandbox.wrap(["bash", "-c", "true"], cwd=tmp_path)
    assert argv[-4:] == ["--", "bash", "-c", "true"]
    joined = " ".join(argv)
    assert "--ro-bind / /" in joined
    assert f"--bind {tmp_path.resolve()} {tmp_path.resolve()}" in joined
    assert f"--bind-try {extra.resolve()} {extra.resolve()}" in joined
    assert "absent" not in joined
    assert joined.index("--tmpfs /tmp") < joined.index(f"--bind {tmp_path.resolve()}")
    for option in ("--unshare-net", "--die-with-parent", "--dev /dev", f"--chdir {tmp_path}"):
        assert option in joined
    assert "--cap-drop ALL" in joined
