"""The sandbox around the commands the agent runs: bubblewrap where it works.

A sandboxed command sees the whole file system read-only (``--ro-bind / /``), an empty private
``/tmp`` (``--tmpfs /tmp``, gone when the command ends; the tools its ``PATH`` and virtual
environment name below ``/tmp`` stay visible there, read-only), a minimal ``/dev``, and can write
only to the workspace roots and the folders named in ``agent.sandbox.extra_writable``. It has
no network (``--unshare-net``; loopback inside reaches nothing outside) unless
``agent.sandbox.network`` is true, no capabilities (``--cap-drop ALL``, which matters when
specloom runs as root), its own process ids and ``/proc`` where the kernel allows
(``--unshare-pid``), and it dies with its parent (``--die-with-parent``). It keeps the working
folder it was given.

Whether bubblewrap works is found out once per process, by running ``bwrap <the same
options> true`` (with and then without a pid namespace); the answer is cached. Where it does
not work (not installed, user namespaces blocked in a container, no network namespaces),
``Sandbox.available`` is false and ``Sandbox.reason`` says why in one sentence: commands then
run without a sandbox, and the policy layer must ask before running any that is not trusted.

Settings (``agent.sandbox``): ``enabled`` (default true), ``network`` (default false),
``extra_writable`` (list of folders; relative ones are relative to the first root, ``~`` is
the user's home; folders that do not exist are skipped).

May import: the standard library, ``specloom.errors`` and ``specloom.settings``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from specloom.settings import Settings

__all__ = ["Sandbox", "SandboxStatus", "reset_sandbox_cache", "sandbox_status"]

_PROBE_TIMEOUT_S = 15.0


@dataclass(frozen=True, slots=True)
class SandboxStatus:
    """Whether commands can be sandboxed on this machine.

    Attributes:
        available: Bubblewrap works with the options specloom needs.
        reason: Why it does not (``None`` when it does).
        isolates_pids: Commands get their own pid namespace and ``/proc``.
        bwrap: The bubblewrap executable found, if any.
    """

    available: bool
    reason: str | None = None
    isolates_pids: bool = False
    bwrap: str | None = None


_cache: dict[tuple[str | None, bool], SandboxStatus] = {}
_cache_lock = threading.Lock()


def reset_sandbox_cache() -> None:
    """Forget what the probes found (for tests, or after installing bubblewrap)."""
    with _cache_lock:
        _cache.clear()


def sandbox_status(*, network: bool = False, bwrap: str | None = None) -> SandboxStatus:
    """Whether bubblewrap works here, probed once per process and options, then cached.

    Args:
        network: Whether commands keep the network (then no network namespace is needed).
        bwrap: The executable to try (default: ``bwrap`` on ``PATH``).

    Returns:
        The status; when unavailable, ``reason`` says why.
    """
    executable = bwrap or shutil.which("bwrap")
    key = (executable, network)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is None:
            cached = _probe(executable, network)
            _cache[key] = cached
    return cached


def _probe(executable: str | None, network: bool) -> SandboxStatus:
    if executable is None:
        return SandboxStatus(
            False,
            "bubblewrap (bwrap) is not installed; install it (Debian and Ubuntu: "
            "`apt install bubblewrap`) to sandbox commands",
        )
    failure = ""
    with tempfile.TemporaryDirectory(prefix="specloom-probe-") as scratch:
        for isolate_pids in (True, False):
            argv = [
                executable,
                *_options(
                    [Path(scratch)], [], network=network, isolate_pids=isolate_pids, cwd=scratch
                ),
                "true",
            ]
            try:
                done = subprocess.run(
                    argv,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    text=True,
                    timeout=_PROBE_TIMEOUT_S,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as error:
                failure = str(error)
                break
            if done.returncode == 0:
                return SandboxStatus(True, None, isolate_pids, executable)
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            failure = lines[-1].strip() if lines else f"exit status {done.returncode}"
    return SandboxStatus(
        False,
        f"bubblewrap cannot create a sandbox here ({failure}); user namespaces may be "
        "disabled in this container or kernel",
        False,
        executable,
    )


def _tools_below_tmp(argv: Sequence[str], env: Mapping[str, str]) -> list[Path]:
    """The folders below ``/tmp`` a command needs to start: its program, the ``PATH`` entries,
    the active virtual environment, this Python's own prefix and import path (the private
    ``/tmp`` would hide a project's ``.venv`` when the project lives there). A ``bin`` folder
    stands for the environment holding it."""
    # sys.path too: an editable install's sources (specloom's own, for hooks that run
    # `specloom ...`) live outside the environment.
    candidates: list[str] = [sys.prefix, sys.base_prefix, env.get("VIRTUAL_ENV", ""), *sys.path]
    candidates += env.get("PATH", "").split(os.pathsep)
    if argv and os.path.isabs(argv[0]):
        candidates.append(os.path.dirname(argv[0]))
    tmp = Path("/tmp")
    found: list[Path] = []
    for candidate in candidates:
        if not candidate or not os.path.isabs(candidate):
            continue
        path = Path(os.path.normpath(candidate))
        if path.name in ("bin", "Scripts"):
            path = path.parent
        if path == tmp or tmp not in path.parents or not path.is_dir():
            continue
        if any(path == kept or kept in path.parents for kept in found):
            continue
        found = [kept for kept in found if path not in kept.parents]
        found.append(path)
    return found


def _options(
    writable: Sequence[Path],
    extra_writable: Sequence[Path],
    *,
    network: bool,
    isolate_pids: bool,
    cwd: str,
    visible: Sequence[Path] = (),
) -> list[str]:
    options = ["--ro-bind", "/", "/", "--dev", "/dev"]
    if isolate_pids:
        options += ["--unshare-pid", "--proc", "/proc"]
    # The private /tmp comes before the binds, so roots and tools below /tmp stay visible;
    # the read-only tools come before the writable roots, so a root holding one stays writable.
    options += ["--tmpfs", "/tmp"]
    for folder in visible:
        options += ["--ro-bind-try", str(folder), str(folder)]
    for folder in writable:
        options += ["--bind", str(folder), str(folder)]
    for folder in extra_writable:
        options += ["--bind-try", str(folder), str(folder)]
    if not network:
        options.append("--unshare-net")
    options += ["--die-with-parent", "--cap-drop", "ALL", "--chdir", cwd]
    return options


class Sandbox:
    """How the commands of one workspace are confined.

    Attributes:
        roots: Folders commands may write to.
        enabled: Whether the user wants a sandbox at all.
        network: Whether commands keep network access.
        extra_writable: More folders commands may write to.
    """

    def __init__(
        self,
        roots: Sequence[Path],
        *,
        enabled: bool = True,
        network: bool = False,
        extra_writable: Sequence[Path] = (),
        bwrap: str | None = None,
    ) -> None:
        """Describe the sandbox; the probe runs on first use of ``available`` or ``wrap``.

        Args:
            roots: The workspace roots (writable inside the sandbox).
            enabled: ``agent.sandbox.enabled``.
            network: ``agent.sandbox.network``.
            extra_writable: ``agent.sandbox.extra_writable``, as absolute paths.
            bwrap: The bubblewrap executable (default: ``bwrap`` on ``PATH``).
        """
        self.roots = tuple(Path(os.path.realpath(root)) for root in roots)
        self.enabled = enabled
        self.network = network
        self.extra_writable = tuple(Path(os.path.realpath(path)) for path in extra_writable)
        self._bwrap = bwrap
        self._status: SandboxStatus | None = None

    @classmethod
    def from_settings(cls, settings: Settings, roots: Sequence[Path]) -> Sandbox:
        """The sandbox the ``agent.sandbox`` settings describe.

        Raises:
            SettingsError: A value has the wrong type (names the file and line).
        """
        keys = ("agent", "sandbox")
        enabled = settings.get(*keys, "enabled", default=True)
        network = settings.get(*keys, "network", default=False)
        extra = settings.get(*keys, "extra_writable", default=[])
        for name, value in (("enabled", enabled), ("network", network)):
            if not isinstance(value, bool):
                raise settings.error(f"`agent.sandbox.{name}` must be true or false", *keys, name)
        if not isinstance(extra, list) or not all(isinstance(item, str) for item in extra):
            raise settings.error(
                "`agent.sandbox.extra_writable` must be a list of folder paths",
                *keys,
                "extra_writable",
            )
        base = Path(roots[0]) if roots else Path.cwd()
        folders = [base / Path(item).expanduser() for item in extra]
        return cls(roots, enabled=enabled, network=network, extra_writable=folders)

    @property
    def status(self) -> SandboxStatus:
        """What the probe found (run once per process; ``enabled: false`` skips it)."""
        if self._status is None:
            if not self.enabled:
                self._status = SandboxStatus(
                    False, "the sandbox is turned off (agent.sandbox.enabled is false)"
                )
            else:
                self._status = sandbox_status(network=self.network, bwrap=self._bwrap)
        return self._status

    @property
    def available(self) -> bool:
        """Whether commands run sandboxed; when false, the policy must ask before commands."""
        return self.status.available

    @property
    def reason(self) -> str | None:
        """Why commands are not sandboxed, or ``None`` when they are."""
        return self.status.reason

    def describe(self) -> str:
        """One sentence for the user: what a sandboxed command may do, or why there is none."""
        if not self.available:
            return f"Commands run without a sandbox: {self.reason}."
        writable = ", ".join(str(path) for path in (*self.roots, *self.extra_writable))
        network = "with network access" if self.network else "without network access"
        return (
            f"Commands run in a sandbox {network}, writing only to {writable} and a private /tmp."
        )

    def wrap(
        self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None
    ) -> list[str]:
        """``argv`` as a command line that runs it inside the sandbox, in folder ``cwd``.

        ``env`` (default: this process's) is the command's environment: the tools its
        ``PATH`` names below ``/tmp`` stay visible, read-only, under the private ``/tmp``.

        Raises:
            RuntimeError: The sandbox is not available (check ``available`` first).
        """
        status = self.status
        if not status.available or status.bwrap is None:
            raise RuntimeError(f"no sandbox to wrap a command in: {status.reason}")
        options = _options(
            self.roots,
            [path for path in self.extra_writable if path.exists()],
            network=self.network,
            isolate_pids=status.isolates_pids,
            cwd=str(cwd),
            visible=_tools_below_tmp(argv, os.environ if env is None else env),
        )
        return [status.bwrap, *options, "--", *argv]

    def environment(self, env: Mapping[str, str]) -> dict[str, str]:
        """The environment for a sandboxed command: ``env`` with ``TMPDIR`` on the private
        ``/tmp`` (a temporary folder set elsewhere would be read-only inside)."""
        return {**env, "TMPDIR": "/tmp"}
