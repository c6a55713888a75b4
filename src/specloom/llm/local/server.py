"""``specloom models serve-local``: the embedded model's OpenAI surface on loopback HTTP.

One process loads the model; others (parallel task workers, editors, another specloom) point
``SPECLOOM_LOCAL_URL`` at ``http://127.0.0.1:PORT/v1`` and share it. Each connection gets a
thread (stdlib ``ThreadingHTTPServer``); the engine's lock answers requests one at a time,
so a request waits for the ones before it rather than failing.

HTTP/1.1 with keep-alive: a JSON reply has a ``Content-Length``, a stream is sent with
chunked transfer encoding, one chunk per event, flushed at once. A client that goes away
mid-stream closes the stream, which frees the engine at the next token. Bodies over
``MAX_BODY_BYTES`` get a 413; every error is OpenAI-shaped JSON (see ``protocol``).

Only loopback addresses are accepted: the server has no authentication, and prompts hold
the user's code. SIGINT and SIGTERM stop it cleanly: it stops accepting, tells streams to
end at their next event, waits briefly for requests in flight, and returns.

May import: the standard library, ``specloom.errors`` and ``specloom.llm.local.protocol``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

from specloom.errors import UsageError
from specloom.llm.local.protocol import ChatEngine, Reply, error_reply, respond

__all__ = ["MAX_BODY_BYTES", "SHUTDOWN_GRACE_S", "LocalServer", "is_loopback", "serve"]

MAX_BODY_BYTES = 16 * 1024 * 1024
"""Largest request body accepted (a full 8,192-token context is far less)."""
SHUTDOWN_GRACE_S = 30.0
"""Seconds a stop waits for requests in flight to finish (streams end at their next event)."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) resolves only to loopback addresses."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(
        ipaddress.ip_address(str(address).split("%", 1)[0]).is_loopback for address in addresses
    )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    @property
    def local(self) -> LocalServer:
        server = self.server
        assert isinstance(server, LocalServer)
        return server

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's naming)
        self._answer()

    def do_POST(self) -> None:  # noqa: N802
        self._answer()

    def do_PUT(self) -> None:  # noqa: N802
        self._answer()

    def do_DELETE(self) -> None:  # noqa: N802
        self._answer()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's name)
        """Quiet: prompts are the user's code, and a terminal is for the ready line."""

    def _answer(self) -> None:
        with self.local.tracked():
            reply = self._reply()
            try:
                self._send(reply)
            except (BrokenPipeError, ConnectionResetError):  # the client went away
                self.close_connection = True
            finally:
                reply.close()

    def _reply(self) -> Reply:
        if self.local.stopping.is_set():
            self.close_connection = True
            return error_reply(503, "the server is stopping", kind="server_error", code="stopping")
        length_header = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            return error_reply(411, "send the body with a Content-Length", code="length_required")
        try:
            length = int(length_header) if length_header else 0
        except ValueError:
            self.close_connection = True
            return error_reply(400, f"invalid Content-Length {length_header!r}")
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            return error_reply(
                413, f"the body is {length:,} bytes; the limit is {MAX_BODY_BYTES:,}",
                code="request_too_large",
            )  # fmt: skip
        body = self.rfile.read(length) if length else b""
        return respond(self.local.engine, self.command, self.path, body)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers:
            self.send_header(name, value)
        if reply.events is None:
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
            return
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        for frame in reply.events:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame))
            self.wfile.flush()
            if self.local.stopping.is_set():
                self.close_connection = True
                break  # ending without the last chunk tells the client the stream broke
        else:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()


class LocalServer(ThreadingHTTPServer):
    """A threaded HTTP server answering with ``protocol.respond`` against one engine.

    Args:
        engine: The model.
        host: A loopback address or name.
        port: The port (0 picks a free one; ``url`` says which).

    Raises:
        UsageError: ``host`` is not a loopback address, or the port cannot be bound.
    """

    daemon_threads = True

    def __init__(self, engine: ChatEngine, host: str = "127.0.0.1", port: int = 0) -> None:
        if not is_loopback(host):
            raise UsageError(
                f"{host!r} is not a loopback address",
                hint="serve-local has no authentication and listens on 127.0.0.1 (or ::1) only.",
            )
        self.engine = engine
        self.stopping = threading.Event()
        self._active = 0
        self._idle = threading.Condition()
        if ":" in host:
            self.address_family = socket.AF_INET6
        try:
            super().__init__((host, port), _Handler)
        except OSError as error:
            raise UsageError(
                f"cannot listen on {host}:{port}: {error.strerror}",
                hint="Choose another port with --port (0 picks a free one).",
            ) from None

    @property
    def url(self) -> str:
        """The ``/v1`` base URL clients use."""
        host, port = self.server_address[:2]
        shown = f"[{host}]" if ":" in str(host) else str(host)
        return f"http://{shown}:{port}/v1"

    @contextlib.contextmanager
    def tracked(self) -> Iterator[None]:
        """Count a request in flight while it is answered."""
        with self._idle:
            self._active += 1
        try:
            yield
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def drain(self, timeout_s: float) -> bool:
        """Tell streams to end, and wait for requests in flight; ``False`` on timeout."""
        self.stopping.set()
        with self._idle:
            return self._idle.wait_for(lambda: self._active == 0, timeout=timeout_s)


def serve(
    engine: ChatEngine,
    host: str = "127.0.0.1",
    port: int = 8765,
    ready: Callable[[str], None] | None = None,
    *,
    stop: threading.Event | None = None,
) -> None:
    """Serve ``engine`` until SIGINT or SIGTERM (or ``stop`` is set), then return.

    Args:
        engine: The model (loaded here, before ``ready`` is called, so the first request
            does not pay for it).
        host: A loopback address or name.
        port: The port (0 picks a free one).
        ready: Called once with the ``/v1`` URL when the server accepts requests.
        stop: Set it to stop the server (for callers that are not the main thread, where
            signal handlers cannot be installed).

    Raises:
        UsageError: ``host`` is not loopback, or the port is taken.
        ModelUnavailableError: The model cannot be loaded.
    """
    server = LocalServer(engine, host, port)  # bind first: a taken port fails before loading
    try:
        load = getattr(engine, "load", None)
        if callable(load):
            load()
        _serve_until(server, stop or threading.Event(), ready)
    finally:
        server.server_close()


def _serve_until(
    server: LocalServer, stopped: threading.Event, ready: Callable[[str], None] | None
) -> None:
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():

        def on_signal(_number: int, _frame: FrameType | None) -> None:
            stopped.set()

        for number in (signal.SIGINT, signal.SIGTERM):
            previous[number] = signal.signal(number, on_signal)
    worker = threading.Thread(target=server.serve_forever, name="serve-local", daemon=True)
    worker.start()
    try:
        if ready is not None:
            ready(server.url)
        # A short wait keeps the main thread responsive to signals on every platform.
        while not stopped.wait(0.5):
            pass
    finally:
        server.shutdown()
        server.drain(SHUTDOWN_GRACE_S)
        worker.join()
        for number, handler in previous.items():
            signal.signal(number, handler)
