"""The project on disk: its root, its ``.kiro/`` folder, its specs, and safe writes.

Writes are atomic: a temporary file in the same folder, flushed and synced, then renamed
over the target, so a crash at any moment leaves each file either old or new.

May import: ``specloom.errors``, ``specloom.spec``.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from specloom.errors import SpecNotFoundError, SpecSyntaxError, WorkspaceError
from specloom.spec.meta import TasksMeta
from specloom.spec.model import SPEC_FILES, Spec, load_spec
from specloom.spec.tasks import Status, set_status

__all__ = [
    "KIRO_DIRS",
    "ImportResult",
    "Workspace",
    "atomic_write",
    "find_root",
    "import_folder",
    "read_text",
]

KIRO_DIRS = ("specs", "steering", "hooks", "settings")
# Folders never scanned for tests or code: VCS data, environments, dependencies, builds.
_SKIPPED_DIRS = {
    ".git", ".hg", ".svn", ".kiro", ".venv", "venv", "env", ".env", "node_modules",
    "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis", ".tox",
    ".nox", "dist", "build", "target", ".next", ".idea", ".vscode", "site-packages",
}  # fmt: skip
_SOURCE_SUFFIXES = (
    ".py", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx", ".go", ".rs", ".java", ".kt", ".rb",
    ".cs", ".php", ".swift", ".c", ".cc", ".cpp", ".h", ".hpp", ".scala", ".ex", ".exs",
)  # fmt: skip
_TEST_FILE = re.compile(
    r"(^|/)(test_[^/]*\.py|[^/]*_test\.(py|go)|[^/]*\.(test|spec)\.[cm]?[jt]sx?|"
    r"[^/]*Tests?\.(java|kt|cs)|[^/]*_spec\.rb)$"
)


def find_root(start: Path | None = None) -> Path:
    """The project root: the nearest folder at or above ``start`` that has a ``.kiro/``
    folder, else the nearest with ``.git``.

    Raises:
        WorkspaceError: Neither is found.
    """
    here = (start or Path.cwd()).resolve()
    candidates = [here, *here.parents]
    for folder in candidates:
        if (folder / ".kiro").is_dir():
            return folder
    for folder in candidates:
        if (folder / ".git").exists():
            return folder
    raise WorkspaceError(
        "no specloom project here: no .kiro/ folder in this folder or any above it.",
        file=str(here),
        hint="Run `specloom init` in the project's root folder first.",
    )


def atomic_write(path: Path, text: str) -> None:
    """Replace ``path``'s content with ``text`` atomically, keeping its permissions.

    The text is written as UTF-8 with no newline translation, so line endings are exactly
    those in ``text``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask()
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


_BOM = b"\xef\xbb\xbf"
# What spec-kit and OpenSpec folders hold: documents, and contracts in their own formats.
_IMPORTED_SUFFIXES = (
    ".md", ".markdown", ".txt", ".yaml", ".yml", ".json", ".graphql", ".gql", ".proto",
)  # fmt: skip


def _umask() -> int:
    """The process umask (read without changing it where /proc allows)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


def read_text(path: Path, display: str | None = None) -> str:
    """A file's text, line endings untouched, without a leading byte-order mark.

    Raises:
        SpecSyntaxError: The file is not UTF-8.
    """
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig") if data.startswith(_BOM) else data.decode()
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise SpecSyntaxError(
            f"the file is not UTF-8 text (byte {error.start}).",
            file=display or str(path),
            line=line,
            hint="Save it as UTF-8.",
        ) from None


class Workspace:
    """One project: its root folder and what lives in its ``.kiro/``.

    Attributes:
        root: The project's root folder.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def discover(cls, start: Path | None = None) -> Workspace:
        """The workspace containing ``start`` (default: the current folder)."""
        return cls(find_root(start))

    @property
    def kiro(self) -> Path:
        """The ``.kiro/`` folder."""
        return self.root / ".kiro"

    @property
    def specs_dir(self) -> Path:
        """``.kiro/specs/``."""
        return self.kiro / "specs"

    def display(self, path: Path) -> str:
        """``path`` relative to the root when it is inside it."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def spec_names(self) -> list[str]:
        """Names of the spec folders, sorted."""
        if not self.specs_dir.is_dir():
            return []
        return sorted(
            entry.name
            for entry in self.specs_dir.iterdir()
            if entry.is_dir() and any((entry / name).is_file() for name in SPEC_FILES[:4])
        )

    def spec_folder(self, name: str) -> Path:
        """The folder of spec ``name`` (a name under ``.kiro/specs/`` or a folder path).

        Raises:
            SpecNotFoundError: There is no such spec.
        """
        candidate = self.specs_dir / name
        if candidate.is_dir():
            return candidate
        as_path = Path(name)
        if as_path.is_dir():
            return as_path.resolve()
        known = ", ".join(self.spec_names()) or "none yet"
        raise SpecNotFoundError(
            f"there is no spec named {name!r}.",
            file=self.display(self.specs_dir),
            hint=f"Known specs: {known}. `specloom list` shows them.",
        )

    def load(self, name: str) -> Spec:
        """Read and parse spec ``name``.

        Raises:
            SpecNotFoundError: There is no such spec.
            WorkspaceError: The folder holds no spec files.
            SpecSyntaxError: A file cannot be parsed.
        """
        folder = self.spec_folder(name)
        files = {
            file_name: read_text(folder / file_name, self.display(folder / file_name))
            for file_name in SPEC_FILES
            if (folder / file_name).is_file()
        }
        return load_spec(folder.name, files, self.display(folder))

    def set_task_status(self, name: str, task_id: str, status: Status) -> Spec:
        """Set one task's checkbox (one character of ``tasks.md``) and, where the spec has a
        ``.tasks-meta.json``, record the status and a history entry there too.

        Both new texts are prepared before either file is written.

        Returns:
            The spec as it is after the change.
        """
        folder = self.spec_folder(name)
        spec = self.load(name)
        if spec.tasks is None:
            raise SpecNotFoundError(
                "this spec has no tasks.md yet.",
                file=spec.file("tasks.md"),
                hint="Approve the design to generate tasks, or write tasks.md.",
            )
        spec.tasks.task(task_id)
        tasks_path = folder / "tasks.md"
        new_tasks = set_status(read_text(tasks_path), task_id, status, spec.file("tasks.md"))
        if tasks_path.read_bytes().startswith(_BOM):
            new_tasks = "\ufeff" + new_tasks  # the user's editor wrote one; keep it
        new_meta: str | None = None
        if spec.meta is not None:
            meta: TasksMeta = spec.meta
            meta.record(task_id, status, datetime.now().strftime("%Y-%m-%dT%H:%M:%S"))
            new_meta = meta.render()
        atomic_write(tasks_path, new_tasks)
        if new_meta is not None:
            atomic_write(folder / ".tasks-meta.json", new_meta)
        return self.load(name)

    def project_files(self, limit: int = 50_000) -> list[str]:
        """Paths (relative, ``/``-separated) of the project's files, without VCS data,
        environments, dependencies and build output; at most ``limit`` of them."""
        found: list[str] = []
        for folder, dirs, files in os.walk(self.root):
            dirs[:] = sorted(
                d for d in dirs if d not in _SKIPPED_DIRS and not d.endswith(".egg-info")
            )
            relative = Path(folder).relative_to(self.root).as_posix()
            prefix = "" if relative == "." else relative + "/"
            for name in sorted(files):
                found.append(prefix + name)
                if len(found) >= limit:
                    return found
        return found

    def test_files(self, files: list[str] | None = None) -> dict[str, str]:
        """Test files (by name: ``test_*.py``, ``*_test.go``, ``*.test.ts``...; any source
        file under a ``tests/`` or ``test/`` folder) mapped to their text; unreadable files
        are skipped."""
        texts: dict[str, str] = {}
        for path in files if files is not None else self.project_files():
            in_tests = "/tests/" in f"/{path}" or "/test/" in f"/{path}"
            if not (_TEST_FILE.search(path) or (in_tests and path.endswith(_SOURCE_SUFFIXES))):
                continue
            try:
                texts[path] = (self.root / path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
        return texts

    def init(self) -> list[Path]:
        """Create ``.kiro/`` and its sub-folders; touch nothing that exists.

        Returns:
            The folders created.
        """
        folders = [self.kiro, *(self.kiro / sub for sub in KIRO_DIRS)]
        for folder in folders:
            if folder.exists() and not folder.is_dir():
                raise WorkspaceError(
                    "a file is in the way of a folder specloom needs.",
                    file=self.display(folder),
                    hint="Move or rename that file, then run `specloom init` again.",
                )
        created: list[Path] = []
        for folder in folders:
            if not folder.exists():
                folder.mkdir(parents=True)
                created.append(folder)
        return created


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What ``import_folder`` did.

    Attributes:
        spec: The new spec's name.
        folder: Its folder, relative to the project root.
        files: The files written.
        warnings: What could not be carried over.
    """

    spec: str
    folder: str
    files: list[str]
    warnings: list[str]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready mapping."""
        return {"spec": self.spec, "folder": self.folder, "files": self.files,
                "warnings": self.warnings}  # fmt: skip


def import_folder(
    workspace: Workspace,
    kind: str,
    source: Path,
    *,
    name: str | None = None,
    force: bool = False,
) -> ImportResult:
    """Import a spec-kit feature folder or an OpenSpec change into ``.kiro/specs/<name>/``.

    The new spec is written into a temporary folder and renamed into place, so a failure
    leaves nothing behind.

    Returns:
        The spec written and any warnings.

    Raises:
        SpecNotFoundError: ``source`` is not a folder.
        WorkspaceError: The spec exists already (and ``force`` is not set).
        ImportFormatError: The folder is not in the format named.
    """
    from specloom.spec.importers import import_openspec, import_speckit

    if not source.is_dir():
        raise SpecNotFoundError(
            "there is no such folder to import.",
            file=str(source),
            hint="Name a spec-kit feature folder (specs/001-name/) or an OpenSpec change "
            "folder (openspec/changes/<name>/).",
        )
    files: dict[str, str] = {}
    for path in sorted(source.rglob("*")):
        if path.is_file() and path.suffix.lower() in _IMPORTED_SUFFIXES:
            files[path.relative_to(source).as_posix()] = read_text(path)
    importer = import_speckit if kind == "speckit" else import_openspec
    imported = importer(files, name or source.resolve().name)
    if name:
        imported.name = name
    target = workspace.specs_dir / imported.name
    if target.exists() and not force:
        raise WorkspaceError(
            f"a spec named {imported.name!r} exists already.",
            file=workspace.display(target),
            hint="Choose another name with --name, or replace it with --force.",
        )
    workspace.specs_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{imported.name}.", dir=workspace.specs_dir))
    try:
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes it owner-only
        for file_name, text in imported.files.items():
            atomic_write(staging / file_name, text)
        # Validate what was produced before it replaces anything.
        load_spec(imported.name, imported.files, workspace.display(target))
        if target.exists():
            backup = workspace.specs_dir / f".{imported.name}.old.{os.getpid()}"
            os.replace(target, backup)
            os.replace(staging, target)
            shutil.rmtree(backup)
        else:
            os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ImportResult(
        imported.name, workspace.display(target), sorted(imported.files), list(imported.warnings)
    )
