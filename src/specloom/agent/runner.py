"""Running a command: a real subprocess with a timeout, an output cap and a clean end.

``run_command`` takes either a shell line (a ``str``: what a model wrote, run by ``bash -c``)
or an argument list (what specloom itself runs: never through a shell). The command starts
in its own process group (a new session) with no standard input; standard output and error
are captured together, in order.

On timeout the whole group gets ``SIGTERM``, then ``SIGKILL`` after a short grace, so
children and grandchildren end too. When the command ends on its own, whatever it left
running in the background is killed as well: no process outlives its command. (A process
that leaves the group on purpose, with ``setsid``, escapes this outside the sandbox; inside
it, the sandbox's pid namespace ends everything.)

Output is capped in bytes: past the cap, the first half and the last half are kept, with a
line saying how much was left out between them (errors tend to be at the end, what ran at
the start).

May import: the standard library, ``anyio`` and ``specloom.agent.sandbox``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio

from specloom.agent.sandbox import Sandbox

__all__ = ["CommandResult", "run_command", "scrubbed_environment"]

KILL_GRACE_S = 2.0
"""Seconds between ``SIGTERM`` and ``SIGKILL`` when a command times out."""
_DRAIN_S = 0.5
_CHUNK = 65536
_SECRET_PARTS = {
    "KEY",
    "APIKEY",
    "TOKEN",
    "SECRET",
    "SECRETS",
    "PASSWORD",
    "PASSWD",
    "PASS",
    "PASSPHRASE",
    "CREDENTIAL",
    "CREDENTIALS",
    "AUTH",
    "PAT",
    "COOKIE",
}
_SECRET_PREFIXES = ("AWS_", "AZURE_CLIENT_", "GOOGLE_APPLICATION_CREDENTIALS")


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a command did.

    Attributes:
        exit_code: Its exit status; negative when a signal ended it (``-9``: killed).
        output: Standard output and error together, capped (see ``truncated``).
        timed_out: It ran past its timeout and was killed.
        truncated: Part of the output was left out (the line saying so is in ``output``).
        duration_s: Seconds from start to end.
        sandboxed: It ran inside the sandbox.
    """

    exit_code: int
    output: str
    timed_out: bool
    truncated: bool
    duration_s: float
    sandboxed: bool

    @property
    def ok(self) -> bool:
        """It ended on its own with exit status 0."""
        return self.exit_code == 0 and not self.timed_out


def scrubbed_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) without variables that look secret.

    A name is secret when one of its ``_``-separated words is ``KEY``, ``TOKEN``, ``SECRET``,
    ``PASSWORD``, ``AUTH``, ``CREDENTIALS`` and the like (``OPENAI_API_KEY``, ``GH_TOKEN``,
    ``SSH_AUTH_SOCK``), or it starts with ``AWS_``; ``TOKENIZERS_PARALLELISM`` stays.
    """
    source = os.environ if base is None else base
    return {name: value for name, value in source.items() if not _looks_secret(name)}


def _looks_secret(name: str) -> bool:
    upper = name.upper()
    if upper.startswith(_SECRET_PREFIXES):
        return True
    return any(part in _SECRET_PARTS for part in re.split(r"[_\W]+", upper))


class _Capture:
    """The first and last bytes of a stream, up to a cap, and how much was in between."""

    def __init__(self, cap: int) -> None:
        self.head_cap = max(cap, 0) // 2
        self.tail_cap = max(cap, 0) - self.head_cap
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = self.head_cap - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        self.tail += chunk
        if len(self.tail) > 2 * self.tail_cap + _CHUNK:  # trim now and then, not per chunk
            self._trim()

    def _trim(self) -> None:
        excess = len(self.tail) - self.tail_cap
        if excess > 0:
            del self.tail[:excess]
            self.dropped += excess

    def text(self) -> tuple[str, bool]:
        self._trim()
        if not self.dropped:
            return (self.head + self.tail).decode("utf-8", errors="replace"), False
        head = self.head.decode("utf-8", errors="replace")
        tail = self.tail.decode("utf-8", errors="replace")
        if head and not head.endswith("\n"):
            head += "\n"
        return f"{head}[... {self.dropped} bytes of output left out ...]\n{tail}", True


def _argv(line: str | Sequence[str]) -> list[str]:
    if isinstance(line, str):
        shell = shutil.which("bash") or "/bin/sh"
        return [shell, "-c", line]
    argv = list(line)
    if not argv:
        raise ValueError("an empty argument list is not a command")
    return argv


def _signal_group(group: int, number: int) -> None:
    try:
        os.killpg(group, number)
    except (ProcessLookupError, PermissionError):
        pass  # the group is gone already


async def run_command(
    line: str | Sequence[str],
    *,
    cwd: Path,
    timeout_s: float = 120.0,
    output_cap: int = 30_000,
    env: Mapping[str, str] | None = None,
    sandbox: Sandbox | None = None,
) -> CommandResult:
    """Run a command to its end (or its timeout) and report what it did.

    Args:
        line: A shell line (run by ``bash -c``) or an argument list (run directly).
        cwd: The folder it runs in.
        timeout_s: Seconds before the command and everything it started are killed.
        output_cap: Most bytes of output kept (half from the start, half from the end).
        env: Its environment (default: this process's, unchanged; see
            ``scrubbed_environment``).
        sandbox: Run inside this sandbox when it is available; without one, or where it is
            not available, the command runs unsandboxed (``CommandResult.sandboxed`` says).

    Returns:
        The exit status, the capped output and how it ended. A program that cannot be
        started (or a ``cwd`` that is not a folder) gives exit status 127 and the reason as
        output, as a shell would.
    """
    argv = _argv(line)
    if not Path(cwd).is_dir():
        return CommandResult(
            127, f"cannot run in {cwd}: no such folder\n", False, False, 0.0, False
        )
    environment = dict(os.environ if env is None else env)
    sandboxed = sandbox is not None and sandbox.available
    if sandbox is not None and sandboxed:
        argv = sandbox.wrap(argv, cwd=cwd, env=environment)
        environment = sandbox.environment(environment)
    capture = _Capture(output_cap)
    started = time.monotonic()
    try:
        process = await anyio.open_process(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=environment,
            start_new_session=True,
        )
    except OSError as error:
        return CommandResult(
            127,
            f"cannot run {argv[0]!r}: {error.strerror or error}\n",
            False,
            False,
            time.monotonic() - started,
            sandboxed,
        )
    timed_out = False
    async with process:
        drained = anyio.Event()

        async def pump() -> None:
            assert process.stdout is not None
            try:
                while True:
                    capture.add(await process.stdout.receive(_CHUNK))
            except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
                pass
            finally:
                drained.set()

        try:
            async with anyio.create_task_group() as group:
                group.start_soon(pump)
                with anyio.move_on_after(timeout_s) as deadline:
                    await process.wait()
                if deadline.cancelled_caught:
                    timed_out = True
                    _signal_group(process.pid, signal.SIGTERM)
                    with anyio.move_on_after(KILL_GRACE_S):
                        await process.wait()
                else:
                    # Background jobs may still hold the output open: give them a moment.
                    with anyio.move_on_after(_DRAIN_S):
                        await drained.wait()
                _signal_group(process.pid, signal.SIGKILL)
                await process.wait()
                with anyio.move_on_after(_DRAIN_S):
                    await drained.wait()
                group.cancel_scope.cancel()
        finally:
            # Cancelled from outside too: nothing the command started may survive it.
            _signal_group(process.pid, signal.SIGKILL)
    output, truncated = capture.text()
    exit_code = process.returncode if process.returncode is not None else -signal.SIGKILL
    return CommandResult(
        exit_code, output, timed_out, truncated, time.monotonic() - started, sandboxed
    )
