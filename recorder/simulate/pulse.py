"""`recorder simulate pulse`: a real HTTP server for `POST /waves/v1/stt/` (reference/pulse-stt.md).

A thin shell around `PulseService` (recorder.simulate.pulse_core), which makes every decision.
The stdlib `ThreadingHTTPServer` serves HTTP/1.1 with keep-alive, one thread per connection,
so the stand-in needs no dependency and a fault can do what a real server does: answer late,
or reset the TCP connection (SO_LINGER 0, then close) without a response.

The server runs on its own thread. `run_pulse_sim` wraps it as an async context manager for
tests and other shells; `serve_pulse` blocks until a stop event (or SIGINT/SIGTERM) for the CLI.
Stopping closes the listening socket, wakes slow answers and shuts open connections, then
joins every handler thread, so nothing outlives the block.

One DEBUG line per request (method, path without the query, status, bytes in/out, duration);
the Authorization header is never logged.
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import socketserver
import struct
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

from recorder.simulate.pulse_core import (
    RESET_STATUS,
    Decoder,
    PulseService,
    PulseSimConfig,
    Reply,
    Reset,
    Ticket,
)

__all__ = ["RESET_STATUS", "PulseSimConfig", "PulseSimulator", "run_pulse_sim", "serve_pulse"]

log = logging.getLogger(__name__)

PATH = "/waves/v1/stt/"
DEFAULT_PORT = 8767
DRAIN_CAP = 2**30
IDLE_TIMEOUT_S = 120.0
_CHUNK = 1 << 16
DEFAULT_CONFIG = PulseSimConfig()


class _BodyTooLarge(Exception):
    pass


class _Server(ThreadingHTTPServer):
    """Joins its handler threads on close (not daemons) and knows its open connections."""

    daemon_threads = False
    block_on_close = True
    sim: PulseSimulator

    def server_bind(self) -> None:
        """As HTTPServer's, minus its reverse DNS lookup of the host."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver calls this inside its `except`, so the traceback is the current one
        log.debug("pulse-sim connection from %s failed", client_address[0], exc_info=True)  # noqa: LOG014


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pulse-sim"
    sys_version = ""
    timeout = IDLE_TIMEOUT_S
    server: _Server

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes; without this, Nagle + delayed ACK add ~40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.sim._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.sim._track(self.connection, add=False)

    def do_POST(self) -> None:
        self._serve()

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_POST

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: one line per request is logged by `_serve` instead."""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("pulse-sim %s: %s", self.client_address[0], format % args)

    # -- one request ------------------------------------------------------------------------

    def _serve(self) -> None:
        started = time.monotonic()
        self._bytes_out = 0
        sim = self.server.sim
        headers = {k.lower(): v for k, v in self.headers.items()}
        step = sim.service.begin(self.command, self.path, headers)
        received = 0
        if isinstance(step, Reply):
            received = self._discard_body(headers)
            sent = self._send(step)
        else:
            try:
                body = self._read_body(step)
            except _BodyTooLarge:
                self.close_connection = True
                sent = self._send(sim.service.too_large(step.request_id))
            else:
                received = len(body)
                sent = self._answer(step, body)
        log.debug(
            "pulse-sim %s %s -> %s in=%d out=%d %.1f ms", self.command, self.path.split("?")[0],
            sent, received, self._bytes_out, (time.monotonic() - started) * 1000,
        )

    def _answer(self, ticket: Ticket, body: bytes) -> int:
        try:
            outcome = self.server.sim.service.finish(ticket, body)
        except Exception:
            log.exception("pulse-sim failed on request %s", ticket.request_id)
            return self._send(Reply(500, {"error": "Internal server error"}, ticket.request_id))
        if outcome.delay_s and self.server.sim._stopping.wait(outcome.delay_s):
            self.close_connection = True
            return RESET_STATUS
        if isinstance(outcome.action, Reset):
            self._reset()
            return RESET_STATUS
        return self._send(outcome.action)

    def _send(self, reply: Reply) -> int:
        data = json.dumps(reply.body, separators=(",", ":")).encode()
        self._bytes_out = len(data)
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-request-id", reply.request_id)
            for name, value in reply.headers:
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except OSError:
            self.close_connection = True
        return reply.status

    def _reset(self) -> None:
        """RST instead of FIN: linger 0, then drop every reference to the socket."""
        self.close_connection = True
        sock = self.connection
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.rfile.close()
        sock.close()

    # -- bodies -----------------------------------------------------------------------------

    _bytes_out = 0

    def _read_body(self, ticket: Ticket) -> bytes:
        limit = self.server.sim.config.max_bytes
        if ticket.content_length is not None:
            data = self.rfile.read(ticket.content_length)
            if len(data) < ticket.content_length:
                self.close_connection = True
            return data
        parts: list[bytes] = []
        total = 0
        for chunk in self._chunks():
            total += len(chunk)
            if total > DRAIN_CAP:
                break
            if total <= limit:
                parts.append(chunk)
            # past the limit the rest is still read (and dropped): closing on unread data
            # would reset the connection before the client could read the 413
        if total > limit:
            raise _BodyTooLarge
        return b"".join(parts)

    def _discard_body(self, headers: dict[str, str]) -> int:
        """Read and drop a body we answer without using, so the client sees the answer."""
        try:
            if "chunked" in headers.get("transfer-encoding", "").lower():
                total = 0
                for chunk in self._chunks():
                    total += len(chunk)
                    if total > DRAIN_CAP:
                        raise _BodyTooLarge
                return total
            raw = headers.get("content-length", "0").strip()
            remaining = int(raw) if raw.isdigit() else 0
            if remaining > DRAIN_CAP or not raw.isdigit():
                self.close_connection = True
                return 0
            total = 0
            while remaining:
                data = self.rfile.read(min(remaining, _CHUNK))
                if not data:
                    break
                total += len(data)
                remaining -= len(data)
            return total
        except (_BodyTooLarge, OSError, ValueError):
            self.close_connection = True
            return 0

    def _chunks(self) -> Iterator[bytes]:
        """Chunked transfer coding (RFC 9112 §7.1), trailers skipped."""
        while True:
            line = self.rfile.readline(1024)
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return
            yield self.rfile.read(size)
            self.rfile.readline(8)


class PulseSimulator:
    """The running stand-in: where it listens and what it has answered (see `PulseService`)."""

    def __init__(self, config: PulseSimConfig = DEFAULT_CONFIG, *,
                 decoder: Decoder | None = None) -> None:
        self.config = config
        self.service = PulseService(config, decoder=decoder)
        self.host = "127.0.0.1"
        self.port = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{PATH}"

    @property
    def requests(self) -> int:
        """Requests received (every status, resets included)."""
        return self.service.requests

    @property
    def accepted_times(self) -> list[float]:
        """Monotonic admission times of the requests answered 200."""
        return list(self.service.accepted_times)

    @property
    def request_log(self) -> list[int]:
        """Status per request in answer order; `RESET_STATUS` (0) for a reset."""
        return list(self.service.request_log)

    def __repr__(self) -> str:
        return f"PulseSimulator({self.url}, requests={self.requests})"

    def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Bind and serve on a background thread (port 0: a free port)."""
        server = (_Server6 if ":" in host else _Server)((host, port), _Handler)
        server.sim = self
        self._server = server
        self.host, self.port = host, int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="pulse-sim",
            daemon=True,
        )
        self._thread.start()
        log.info("pulse-sim listening on %s", self.url)

    def stop(self) -> None:
        """Stop accepting, end slow answers and open connections, join every thread."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        with self._conn_lock:
            open_now = list(self._connections)
        for conn in open_now:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if self._thread is not None:
            self._thread.join()
        log.info("pulse-sim stopped after %d requests", self.requests)

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._conn_lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)


@asynccontextmanager
async def run_pulse_sim(
    config: PulseSimConfig = DEFAULT_CONFIG, host: str = "127.0.0.1", port: int = 0,
    *, decoder: Decoder | None = None,
) -> AsyncIterator[PulseSimulator]:
    """Serve the stand-in on `host:port` (0: a free port) for the duration of the block."""
    import asyncio

    sim = PulseSimulator(config, decoder=decoder)
    sim.start(host, port)
    try:
        yield sim
    finally:
        await asyncio.to_thread(sim.stop)


def serve_pulse(
    config: PulseSimConfig, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *,
    announce: Callable[[str], None] | None = None, stop: threading.Event | None = None,
) -> None:
    """Serve until `stop` is set; without one, until SIGINT or SIGTERM (main thread only)."""
    own = stop is None
    event = stop or threading.Event()
    previous: dict[signal.Signals, Any] = {}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        event.set()

    if own:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    sim = PulseSimulator(config)
    try:
        sim.start(host, port)
        if announce is not None:
            announce(sim.url)
        while not event.wait(0.5):
            pass
    finally:
        sim.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
