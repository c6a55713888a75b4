"""``specloom watch``: file events in the foreground, each burst a batch, hooks run for them.

The loop (``watch``) watches the project with watchfiles and turns each batch of changes into
``fileCreated``, ``fileEdited`` and ``fileDeleted`` events, one ``HookEvent`` per kind with
every file of the batch, so a burst of saves runs each matching hook once.

* Debounce: a batch ends when no change came for ``debounce_ms`` (watchfiles' ``step``), or
  after ``max_batch_ms`` of steady changes.
* What is watched: files the project's ``.gitignore`` files (and ``.git/info/exclude``) do not
  ignore, outside ``.git/``, specloom's own state (``.kiro/.specloom/``) and the folders
  watchfiles always skips (``node_modules``, ``__pycache__``, ``.venv``...). A change to a
  ``.gitignore`` reloads the rules; a change under ``.kiro/hooks/`` reloads the hooks.
* Created or edited: decided from whether the file existed before the batch and exists
  after it (a scan at start-up, kept up to date), so an editor's save by rename reads as an
  edit, and a temporary file that came and went reads as nothing.
* No loops: while a hook runs, every change seen is taken as the hook's own and triggers
  nothing; when a run ends, a marker file is written to the state folder, and changes keep
  counting as the hook's until the batch holding that marker (file events arrive in order,
  so everything the hook wrote came before it). An edit saved while a hook runs is taken as
  the hook's too: save again to trigger hooks.
* At most ``jobs`` hooks run at once; a failing hook is reported and the loop goes on.
* Stopping (``SIGINT``/``SIGTERM``, or ``stop`` set): the watcher stops, running hooks are
  cancelled (their commands' process groups killed) and ``watch`` returns.

May import: the standard library, ``anyio``, ``watchfiles``, ``pathspec``,
``specloom.errors``, ``specloom.settings`` and the ``specloom.hooks`` modules.
"""

from __future__ import annotations

import os
import signal
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import anyio
from watchfiles import Change, DefaultFilter, awatch

from specloom.errors import SettingsError
from specloom.hooks.bus import HookBus
from specloom.hooks.loader import HOOKS_DIR
from specloom.hooks.model import EventKind, Hook, HookEvent, HookRun
from specloom.settings import STATE_DIR, Settings, state_dir

__all__ = ["IgnoreRules", "WatchOptions", "WatchReporter", "Watcher", "watch"]

_MARKER_WAIT_S = 2.0
"""How long a finished run's changes may still arrive when its marker is never seen."""
_READY_TRIES = 100


@dataclass(frozen=True, slots=True)
class WatchOptions:
    """How the loop batches and runs.

    Attributes:
        debounce_ms: Quiet time that ends a burst of changes.
        max_batch_ms: Longest a steady stream of changes is grouped into one batch.
        jobs: Hooks running at once.
        force_polling: Poll the file system instead of using its notifications (network
            and some container file systems give none).
    """

    debounce_ms: int = 100
    max_batch_ms: int = 2_000
    jobs: int = 2
    force_polling: bool = False

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> WatchOptions:
        """The ``hooks`` section of the settings (``debounce_ms``, ``max_batch_ms``,
        ``jobs``), with ``overrides`` (command-line options; ``None`` values ignored).

        Raises:
            SettingsError: A value that is not a positive whole number.
        """
        values: dict[str, Any] = {}
        for name in ("debounce_ms", "max_batch_ms", "jobs"):
            value = settings.get("hooks", name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise settings.error(f"`hooks.{name}` must be a whole number > 0", "hooks", name)
            values[name] = value
        values.update({key: value for key, value in overrides.items() if value is not None})
        options = cls(**values)
        if options.max_batch_ms < options.debounce_ms:
            options = cls(**{**values, "max_batch_ms": options.debounce_ms})
        return options


class WatchReporter(Protocol):
    """Where the loop says what happens (the CLI prints lines or JSON)."""

    def ready(self, root: Path, hooks: list[Hook]) -> None:
        """Watching has started; ``hooks`` are those that fire on file events."""
        ...

    def problem(self, error: SettingsError) -> None:
        """A hook file that did not load."""
        ...

    def run(self, run: HookRun) -> None:
        """A hook run ended."""
        ...

    def failure(self, hook: Hook, error: BaseException) -> None:
        """A hook run failed with an unexpected error; the loop goes on."""
        ...

    def stopped(self) -> None:
        """The loop stopped."""
        ...


# --- ignore rules -----------------------------------------------------------------------------


class IgnoreRules:
    """The project's ``.gitignore`` rules, every folder's, read when first needed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._specs: dict[str, Any] = {}

    def invalidate(self) -> None:
        """Forget the rules read (a ``.gitignore`` changed)."""
        self._specs.clear()

    def _spec(self, folder: str) -> Any:
        if folder not in self._specs:
            base = self.root / folder if folder else self.root
            lines = _lines(base / ".gitignore")
            if not folder:
                lines = _lines(base / ".git" / "info" / "exclude") + lines
            spec = None
            if any(line.strip() and not line.startswith("#") for line in lines):
                from pathspec import GitIgnoreSpec

                spec = GitIgnoreSpec.from_lines(lines)
            self._specs[folder] = spec
        return self._specs[folder]

    def _verdict(self, relative: str, is_dir: bool) -> bool:
        parts = relative.split("/")
        for depth in range(len(parts) - 1, -1, -1):
            spec = self._spec("/".join(parts[:depth]))
            if spec is None:
                continue
            tail = "/".join(parts[depth:]) + ("/" if is_dir else "")
            verdict = spec.check_file(tail).include
            if verdict is not None:
                return bool(verdict)
        return False

    def ignored(self, relative: str, *, is_dir: bool = False) -> bool:
        """Whether git ignores ``relative`` (a path below the root, ``/`` separators); a file
        in an ignored folder is ignored, as in git."""
        parts = relative.split("/")
        for index in range(1, len(parts)):
            if self._verdict("/".join(parts[:index]), True):
                return True
        return self._verdict(relative, is_dir)


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


# --- the loop ---------------------------------------------------------------------------------


class Watcher:
    """The file-event loop of one project; see the module docstring."""

    def __init__(self, bus: HookBus, reporter: WatchReporter, options: WatchOptions) -> None:
        self.bus = bus
        self.root = bus.root
        self.reporter = reporter
        self.options = options
        self.rules = IgnoreRules(self.root)
        self.known: set[str] = set()
        self.stop = anyio.Event()
        self.ready = anyio.Event()
        self._default = DefaultFilter()
        folder = state_dir(self.root) / "hooks" / "watch"
        folder.mkdir(parents=True, exist_ok=True)
        self._marks = folder
        self._probe = folder / f"ready-{os.getpid()}"
        self._state = (self.root / STATE_DIR).as_posix() + "/"
        self._active: set[str] = set()
        self._pending: dict[str, tuple[HookRun, float]] = {}
        self._seen_marks: set[str] = set()
        self._reload_hooks = False
        self._limiter = anyio.CapacityLimiter(options.jobs)
        self._group: anyio.abc.TaskGroup | None = None
        bus.listener = self

    # RunListener: the bus tells us when runs start and end.
    def started(self, hook: Hook, event: HookEvent, run_id: str) -> None:
        self._active.add(run_id)

    def finished(self, run: HookRun) -> None:
        self._active.discard(run.run_id)
        if run.outcome == "cancelled":
            self.reporter.run(run)
            return
        self._pending[run.run_id] = (run, time.monotonic() + _MARKER_WAIT_S)
        try:
            (self._marks / run.run_id).write_bytes(b"")
        except OSError:
            self._pending[run.run_id] = (run, time.monotonic())

    # --- filtering ------------------------------------------------------------------------

    def relative(self, path: str) -> str | None:
        """``path`` relative to the root, or ``None`` when it is outside it."""
        try:
            return Path(path).relative_to(self.root).as_posix()
        except ValueError:
            return None

    def _filter(self, change: Change, path: str) -> bool:
        if path.startswith(self._state) or path == self._state[:-1]:
            if path == str(self._probe):
                self.ready.set()
            elif Path(path).parent == self._marks and change == Change.added:
                self._seen_marks.add(Path(path).name)
            return False
        relative = self.relative(path)
        if relative is None or relative == ".":
            return False
        parts = relative.split("/")
        if ".git" in parts or not self._default(change, path):
            return False
        if parts[-1] == ".gitignore":
            self.rules.invalidate()
        if relative.startswith(HOOKS_DIR.as_posix() + "/"):
            self._reload_hooks = True
        return not self.rules.ignored(relative, is_dir=os.path.isdir(path))

    def scan(self) -> set[str]:
        """The files the loop watches now (relative paths)."""
        return set(self._walk(self.root, ""))

    def _walk(self, folder: Path, prefix: str) -> Iterator[str]:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return
        for entry in entries:
            relative = f"{prefix}{entry.name}"
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError:
                continue
            if stat.S_ISDIR(mode):
                if entry.name == ".git" or entry.name in self._default.ignore_dirs:
                    continue
                if (relative + "/").startswith(STATE_DIR.as_posix() + "/") or relative == (
                    STATE_DIR.as_posix()
                ):
                    continue
                if not self.rules.ignored(relative, is_dir=True):
                    yield from self._walk(Path(entry.path), relative + "/")
            elif stat.S_ISREG(mode) and not self.rules.ignored(relative):
                if self._default(Change.added, entry.path):
                    yield relative

    # --- batches --------------------------------------------------------------------------

    def _changed(self, changes: set[tuple[Change, str]]) -> dict[EventKind, list[str]]:
        """The batch's files by event, after the no-loop rule; updates ``known``."""
        events: dict[EventKind, list[str]] = {kind: [] for kind in _FILE_KINDS}
        hooks_running = bool(self._active) or bool(self._pending)
        handled: set[str] = set()
        for path in sorted({path for _, path in changes}):
            relative = self.relative(path)
            if relative is None or relative in handled:
                continue
            if hooks_running:
                # The hook's own writes (see the module docstring): keep `known` true.
                self._note_existence(relative, path)
                continue
            if os.path.isdir(path):
                for inner in self._walk(Path(path), relative + "/"):
                    if inner not in self.known:
                        handled.add(inner)
                        self.known.add(inner)
                        events[EventKind.fileCreated].append(inner)
                continue
            existed = relative in self.known
            exists = os.path.isfile(path)
            if exists and not existed:
                self.known.add(relative)
                events[EventKind.fileCreated].append(relative)
            elif exists:
                events[EventKind.fileEdited].append(relative)
            elif existed:
                self.known.discard(relative)
                events[EventKind.fileDeleted].append(relative)
            else:
                below = [known for known in self.known if known.startswith(relative + "/")]
                for inner in sorted(below):
                    self.known.discard(inner)
                    events[EventKind.fileDeleted].append(inner)
        return events

    def _note_existence(self, relative: str, path: str) -> None:
        if os.path.isfile(path):
            self.known.add(relative)
        elif not os.path.exists(path):
            self.known.discard(relative)
            for inner in [known for known in self.known if known.startswith(relative + "/")]:
                self.known.discard(inner)
        else:
            self.known.update(self._walk(Path(path), relative + "/"))

    def _settle_runs(self) -> None:
        """Report the runs whose marker has been seen (or waited for long enough)."""
        now = time.monotonic()
        for run_id, (run, deadline) in list(self._pending.items()):
            if run_id in self._seen_marks or now >= deadline:
                del self._pending[run_id]
                self._seen_marks.discard(run_id)
                (self._marks / run_id).unlink(missing_ok=True)
                self.reporter.run(run)

    async def _batch(self, changes: set[tuple[Change, str]]) -> None:
        if self._reload_hooks:
            self._reload_hooks = False
            for problem in self.bus.reload():
                self.reporter.problem(problem)
        events = self._changed(changes)
        self._settle_runs()
        for kind in _FILE_KINDS:
            files = events[kind]
            if not files:
                continue
            event = HookEvent(kind, self.root, session_id=self.bus.session_id, files=tuple(files))
            for hook, chosen in self.bus.matching(event):
                assert self._group is not None
                self._group.start_soon(self._run, hook, event, chosen)

    async def _run(self, hook: Hook, event: HookEvent, files: tuple[str, ...]) -> None:
        async with self._limiter:
            try:
                await self.bus.run_hook(hook, event, files)
            except anyio.get_cancelled_exc_class():
                raise
            except Exception as error:  # the loop's boundary: report it with its type, go on
                self.reporter.failure(hook, error)

    async def _sweep(self) -> None:
        """Report finished runs whose marker never showed (a file system that dropped it)."""
        while True:
            await anyio.sleep(0.5)
            if self._pending:
                self._settle_runs()

    async def _announce(self) -> None:
        """Tell the reporter once the watcher sees changes (a probe file in the state folder
        has come through)."""
        for _ in range(_READY_TRIES):
            self._probe.write_bytes(b"")
            with anyio.move_on_after(0.1):
                await self.ready.wait()
            if self.ready.is_set():
                break
        self._probe.unlink(missing_ok=True)
        file_hooks = [hook for hook in self.bus.hooks if hook.enabled and hook.event in _FILE_KINDS]
        self.reporter.ready(self.root, file_hooks)

    async def _watch(self) -> None:
        async for changes in awatch(
            self.root,
            watch_filter=self._filter,
            debounce=self.options.max_batch_ms,
            step=self.options.debounce_ms,
            stop_event=self.stop,
            force_polling=self.options.force_polling,
            poll_delay_ms=max(50, self.options.debounce_ms),
            ignore_permission_denied=True,
        ):
            await self._batch(changes)

    async def run(self, *, handle_signals: bool = True) -> None:
        """Watch until ``stop`` is set (or ``SIGINT``/``SIGTERM`` arrives); then cancel the
        running hooks and return."""
        for problem in self.bus.problems:
            self.reporter.problem(problem)
        self.known = self.scan()
        try:
            async with anyio.create_task_group() as group:
                self._group = group
                if handle_signals:
                    group.start_soon(self._signals)
                group.start_soon(self._announce)
                group.start_soon(self._sweep)
                await self._watch()
                group.cancel_scope.cancel()
        finally:
            self._group = None
            for run_id, (run, _) in list(self._pending.items()):
                (self._marks / run_id).unlink(missing_ok=True)
                self.reporter.run(run)
            self._pending.clear()
            self._probe.unlink(missing_ok=True)
            self.bus.close()
            self.reporter.stopped()

    async def _signals(self) -> None:
        # Kept open until the loop ends, so a second Ctrl-C during shutdown changes nothing.
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                self.stop.set()


_FILE_KINDS = (EventKind.fileCreated, EventKind.fileEdited, EventKind.fileDeleted)


async def watch(
    bus: HookBus,
    reporter: WatchReporter,
    options: WatchOptions | None = None,
    *,
    handle_signals: bool = True,
) -> None:
    """Run the file-event loop of ``bus``'s project until it is stopped (see ``Watcher``)."""
    watcher = Watcher(bus, reporter, options or WatchOptions.from_settings(bus.settings))
    await watcher.run(handle_signals=handle_signals)
