"""The proxy server: handshake mirroring, admission, drain, and handing each call to the archiver.

The upstream connection is opened inside `process_request`, i.e. during the client's
handshake, so a refusal reaches the client as the same HTTP status. Before that, a request
that is not a WebSocket upgrade is answered with an HTTP status and a capacity slot is taken
(`admission`); the slot and the upstream connection travel with the client connection
(`_ClientConnection`), so a handshake that fails after Hydra answered frees both at once.
The call's journal is opened only once the client's handshake has succeeded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import http
import json
import logging
import ssl
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidMessage, InvalidStatus
from websockets.frames import CloseCode
from websockets.http11 import Request, Response
from websockets.protocol import CLOSED, CONNECTING, OPEN
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from recorder import logs, metrics
from recorder.archive.archiver import RowsJob
from recorder.call import CallMeta
from recorder.capture.session import CaptureSession
from recorder.config import Settings
from recorder.errors import RecorderError
from recorder.proxy.admission import Admission, Slot
from recorder.proxy.handshake import (
    REFUSAL_HEADERS,
    UpstreamRequest,
    plan_upstream,
    recording_failed_frame,
    server_full_frame,
    upgrade_refusal,
    validate_upstream,
)
from recorder.proxy.archiver import ArchiverProcess
from recorder.proxy.recording import CallRecording, Recorder
from recorder.proxy.relay import Relay
from recorder.scrub import scrub_text
from recorder.values import Direction

log = logging.getLogger(__name__)

_CLOSED_BY = {"client": Direction.C2S, "upstream": Direction.S2C}
RECORDING_FAILED = "recording_failed"


@dataclass(slots=True)
class _Pending:
    plan: UpstreamRequest
    upstream: ClientConnection
    meta: CallMeta
    origin_ns: int
    slot: Slot
    recording: asyncio.Future[CallRecording | None]  # the journal, opened while Hydra answered


@dataclass(slots=True)
class ProxyStats:
    accepted: int = 0
    refused_upstream: int = 0
    unreachable: int = 0
    over_capacity: int = 0
    not_upgrades: int = 0
    abandoned_handshakes: int = 0
    recording_failures: int = 0
    finalize_failures: int = 0
    relays: dict[str, Relay] = field(default_factory=dict)


def _http_response(
    status: int, body: bytes, headers: Headers | None = None, *, extra: Headers | None = None
) -> Response:
    out = Headers()
    for name, value in (headers or Headers()).raw_items():
        if name.lower() in REFUSAL_HEADERS:
            out[name] = value
    for name, value in (extra or Headers()).raw_items():
        out[name] = value
    if "Content-Type" not in out:
        out["Content-Type"] = "text/plain; charset=utf-8"
    out["Content-Length"] = str(len(body))
    out["Connection"] = "close"
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Upstream Status"
    return Response(status, phrase, out, body)


class _AnsweringProtocol(ServerProtocol):
    """websockets closes silently on bytes that are not an HTTP request; answer 400 instead.

    `serve` builds the protocol object itself, so `_ClientConnection` switches its class.
    """

    _answered = False

    def send_eof(self) -> None:
        failed = self.handshake_exc
        if (self.state is CONNECTING and not self._answered and isinstance(failed, InvalidMessage)
                and not isinstance(failed.__cause__, EOFError)):
            self._answered = True
            self.send_response(_http_response(400, b"recorder: not an HTTP request\n"))
            return  # send_response ends the connection (and calls us again)
        super().send_eof()


class _ClientConnection(ServerConnection):
    """A client connection that carries its admission: the slot and upstream it was given.

    Whatever ends the handshake without opening the connection (an invalid request that
    websockets rejects, the client vanishing, the handshake timeout), `handshake` hands the
    slot and the upstream back to the proxy, so nothing outlives a call that never started.
    """

    def __init__(self, *args: Any, on_abandoned: Callable[[_Pending], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.protocol.__class__ = _AnsweringProtocol
        self.call: _Pending | None = None
        self._on_abandoned = on_abandoned

    async def handshake(self, *args: Any, **kwargs: Any) -> None:
        try:
            await super().handshake(*args, **kwargs)
        finally:
            if self.protocol.state is not OPEN and self.call is not None:
                pending, self.call = self.call, None
                self._on_abandoned(pending)

    @property
    def client_address(self) -> str:
        peer = self.remote_address
        return str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"


class ProxyServer:
    """Owns the listening socket and every call's relay."""

    def __init__(self, settings: Settings, recorder: Recorder) -> None:
        self.settings = settings
        self._upstream_base = validate_upstream(settings.upstream_url)
        self._recorder = recorder
        self._admission = Admission(settings.max_sessions, settings.max_sessions_per_client)
        self._closing: set[asyncio.Task[None]] = set()  # upstreams of abandoned handshakes
        self._draining = False
        self._server: Server | None = None
        # Finalizing is CPU work (replay, render, encryption) and database I/O: it runs in a
        # process of its own, so that it never takes the forwarding loop's GIL.
        self.archiver = ArchiverProcess(settings)
        self.port = 0
        self.stats = ProxyStats()

    @property
    def active_calls(self) -> int:
        """Calls holding a slot: being set up or running (what `/healthz` reports)."""
        return self._admission.taken

    @property
    def max_message_bytes(self) -> int:
        return self.settings.max_message_mb * 2**20

    async def start(self, *, reuse_port: bool = False) -> Server:
        """Listen first, then start the archiver (which recovers orphaned journals in the
        background); `reuse_port` lets several worker processes share the port (SO_REUSEPORT)."""
        host, port = self.settings.listen_host_port()
        self._server = await serve(
            self._handle,
            host,
            port,
            process_request=self._process_request,
            select_subprotocol=self._select_subprotocol,
            ssl=self._server_tls(),
            max_size=self.max_message_bytes,  # bounds the decompressed size too
            max_queue=64,
            ping_interval=None,
            compression="deflate",
            server_header=None,
            reuse_port=reuse_port or None,
            create_connection=self._new_connection,  # type: ignore[arg-type]  # called like a class
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        await self.archiver.start()
        return self._server

    def _server_tls(self) -> ssl.SSLContext | None:
        if not self.settings.certfile:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.settings.certfile, self.settings.keyfile)
        return context

    def _upstream_tls(self) -> ssl.SSLContext | None:
        if not self._upstream_base.startswith("wss:"):
            return None
        return ssl.create_default_context(cafile=self.settings.upstream_ca_file or None)

    # -- handshake ---------------------------------------------------------------------------

    def _new_connection(self, *args: Any, **kwargs: Any) -> _ClientConnection:
        return _ClientConnection(*args, on_abandoned=self._abandoned, **kwargs)

    def _abandoned(self, pending: _Pending) -> None:
        """The client's handshake failed after Hydra accepted: free the slot, close Hydra,
        remove the journal of the call that never started."""
        pending.slot.release()
        self.stats.abandoned_handshakes += 1
        log.info("a client left during its handshake; closing its upstream connection")
        loop = asyncio.get_running_loop()
        for work in (pending.upstream.close(CloseCode.GOING_AWAY, ""), _discard(pending.recording)):
            task = loop.create_task(work)
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        assert isinstance(connection, _ClientConnection)
        if request.path.split("?")[0] == "/healthz" and "Upgrade" not in request.headers:
            body = json.dumps({
                "status": "draining" if self._draining else "ok",
                "active_calls": self.active_calls,
                "max_sessions": self.settings.max_sessions,
            }).encode()
            return _http_response(200, body, Headers({"Content-Type": "application/json"}))
        if request.path.split("?")[0] == "/metrics" and "Upgrade" not in request.headers:
            body, content_type = metrics.exposition(
                self.active_calls, self.settings.max_sessions, self._draining, self.stats, self.archiver)
            return _http_response(200, body, Headers({"Content-Type": content_type}))
        refusal = upgrade_refusal(request.method, request.headers.raw_items())
        if refusal is not None:
            self.stats.not_upgrades += 1
            return _http_response(refusal.status, f"recorder: {refusal.message}\n".encode(),
                                  extra=Headers(list(refusal.headers)))
        if self._draining:
            return _http_response(503, b"recorder is shutting down; retry on another instance\n")
        client = connection.client_address
        slot = self._admission.take(client)  # no await between the check and the count
        if slot is None:
            log.warning("refusing a call: %s", self._admission.refusal(client))
            return None  # answered like Hydra in _handle: upgrade, server_full, 1013
        if disk := self._recorder.disk_too_full():
            slot.release()
            log.error("refusing a call: %s", disk)
            return None
        try:
            return await self._open_upstream(connection, request, slot)
        finally:
            if connection.call is None:  # refused, unreachable, failed or cancelled
                slot.release()

    async def _open_upstream(
        self, connection: _ClientConnection, request: Request, slot: Slot
    ) -> Response | None:
        plan = plan_upstream(self._upstream_base, request.path, request.headers.raw_items())
        meta = CallMeta(
            id=str(uuid.uuid4()),
            started_at=dt.datetime.now(dt.timezone.utc),
            ended_at=None,
            duration_ms=None,
            upstream_status=101,  # what connect() succeeding means
            model=plan.model,
            path=plan.path,
            query=plan.scrubbed_query,
            metadata=plan.metadata,
        )
        logs.CALL_ID.set(meta.id)  # this task goes on to run the call: every line carries the id
        # The journal opens (key, header, fsyncs: ~15 ms on a plain disk) while Hydra answers,
        # rather than after it, in front of the call's first frames.
        recording = asyncio.ensure_future(self._open_recording(meta))
        try:
            upstream = await self._connect_upstream(plan)
        except BaseException:
            await asyncio.shield(_discard(recording))
            raise
        if isinstance(upstream, Response):
            await _discard(recording)
            return upstream
        connection.call = _Pending(plan, upstream, meta, time.monotonic_ns(), slot, recording)
        return None

    async def _connect_upstream(self, plan: UpstreamRequest) -> ClientConnection | Response:
        """Hydra's connection, or the answer for the client if Hydra refused or is unreachable."""
        try:
            upstream = await connect(
                plan.url,
                additional_headers=list(plan.headers),
                user_agent_header=plan.user_agent,
                subprotocols=list(plan.subprotocols) or None,  # type: ignore[arg-type]
                compression="deflate" if plan.compression else None,
                ssl=self._upstream_tls(),
                open_timeout=self.settings.open_timeout_s,
                max_size=self.max_message_bytes,
                max_queue=64,
                ping_interval=None,
                close_timeout=5,
            )
        except InvalidStatus as exc:
            self.stats.refused_upstream += 1
            refused = exc.response
            log.info("upstream refused %s with HTTP %d", plan.path, refused.status_code)
            return _http_response(refused.status_code, bytes(refused.body or b""), refused.headers)
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            self.stats.unreachable += 1
            reason = scrub_text(str(exc) or type(exc).__name__)
            log.warning("upstream unreachable for %s: %s", plan.path, reason)
            return _http_response(502, b"recorder: upstream unreachable\n")
        return upstream

    async def _open_recording(self, meta: CallMeta) -> CallRecording | None:
        loop = asyncio.get_running_loop()

        def on_failure(reason: str) -> None:  # from the journal's thread
            loop.call_soon_threadsafe(self._recording_failed, meta.id, reason)

        try:
            return await asyncio.to_thread(self._recorder.open_call, meta, on_failure)
        except RecorderError as exc:
            self.stats.recording_failures += 1
            log.error("call %s: cannot open its journal (%s); policy %s", meta.id, exc,
                      self.settings.recording_failure)
            return None

    def _recording_failed(self, call_id: str, reason: str) -> None:
        self.stats.recording_failures += 1
        relay = self.stats.relays.get(call_id)
        if self.settings.recording_failure == "continue" or relay is None:
            log.error("call %s: RECORDING FAILED (%s); forwarding continues unrecorded", call_id, reason)
            return
        log.error("call %s: RECORDING FAILED (%s); closing the call (policy close)", call_id, reason)
        relay.abort(
            recording_failed_frame(f"rec_{uuid.uuid4().hex[:16]}"),
            CloseCode.INTERNAL_ERROR,
            "recording failed",
        )

    def _select_subprotocol(
        self, connection: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        pending = connection.call if isinstance(connection, _ClientConnection) else None
        return pending.upstream.subprotocol if pending else None

    # -- call --------------------------------------------------------------------------------

    async def _handle(self, client: ServerConnection) -> None:
        assert isinstance(client, _ClientConnection)
        pending, client.call = client.call, None
        if pending is None:  # refused at the handshake (capacity, disk): answered like Hydra
            self.stats.over_capacity += 1
            try:
                await client.send(server_full_frame(f"rec_{uuid.uuid4().hex[:16]}"))
                await client.close(CloseCode.TRY_AGAIN_LATER, "server_full")
            except ConnectionClosed:
                pass
            return
        try:
            await self._call(client, pending)
        finally:  # whatever happened to the call's task
            pending.slot.release()
            if pending.upstream.state is not CLOSED:
                await pending.upstream.close(CloseCode.GOING_AWAY, "")

    async def _call(self, client: ServerConnection, pending: _Pending) -> None:
        meta = pending.meta
        recording = await pending.recording
        if recording is None and self.settings.recording_failure == "close":
            await client.send(recording_failed_frame(f"rec_{uuid.uuid4().hex[:16]}"))
            await client.close(CloseCode.INTERNAL_ERROR, "recording failed")
            return
        # A call without a journal (policy `continue`) keeps at least its rows: only then does
        # capture run live, on a path that has already failed.
        capture = None if recording else CaptureSession(
            gap_threshold_ms=self.settings.gap_threshold_ms, pci_tools=self.settings.pci_tools
        )
        tee = metrics.counting_tee(recording.tee if recording else capture.observe,  # type: ignore[union-attr]
                                   pending.origin_ns)
        relay = Relay(client, pending.upstream, tee, pending.origin_ns)  # type: ignore[arg-type]
        self.stats.relays[meta.id] = relay
        self.stats.accepted += 1
        log.info("call %s opened: path=%s query=%s", meta.id, meta.path, meta.query)
        try:
            result = await relay.run()
        finally:
            del self.stats.relays[meta.id]
            pending.slot.release()
            await pending.upstream.close()
        ended_ns = time.monotonic_ns() - pending.origin_ns
        meta = dataclasses.replace(
            meta,
            ended_at=dt.datetime.now(dt.timezone.utc),
            duration_ms=ended_ns / 1e6,
            close_code=result.close_code,
            close_reason=result.close_reason,
            close_side=result.close_side,
            bytes_c2s=result.bytes_c2s,
            bytes_s2c=result.bytes_s2c,
        )
        if recording is None:
            meta = meta.incomplete("call was not recorded")
        elif result.tee_failures:
            meta = meta.incomplete("recording failed during the call")
        if result.protocol_error:
            meta = meta.incomplete(f"the {result.close_side} sent a frame that could not be "
                                   f"forwarded (close {result.protocol_error})")
        log.info(
            "call %s closed by %s: code=%s duration=%.0fms bytes c2s=%d s2c=%d hydra_session=%s",
            meta.id, result.close_side, result.close_code, meta.duration_ms,
            result.bytes_c2s, result.bytes_s2c, recording.hydra_session_id if recording else None,
        )
        metrics.call_ended(meta.state, meta.close_code)
        closed_by = _CLOSED_BY.get(result.close_side or "")
        try:
            if recording is not None:
                job = await asyncio.to_thread(recording.finish, meta, ended_ns, closed_by)
                self.archiver.submit(job, recording.lock)
            else:
                assert capture is not None
                capture.close(ended_ns, code=meta.close_code, reason=meta.close_reason,
                              closed_by=closed_by)
                self.archiver.submit(RowsJob(meta.id, meta, capture.summary()))
        except Exception:
            self.stats.finalize_failures += 1
            log.exception("call %s: could not hand the call to the archiver; its journal stays "
                          "for `recorder recover`", meta.id)

    # -- shutdown ----------------------------------------------------------------------------

    async def drain(self, timeout_s: float | None = None) -> None:
        """Refuse new calls with 503, let calls finish up to the timeout, then close them with
        1001. The socket keeps listening while calls run, so a new client gets the 503 (and a
        load balancer `/healthz` "draining") rather than a refused connection."""
        assert self._server is not None
        self._draining = True
        timeout = self.settings.drain_timeout_s if timeout_s is None else timeout_s
        log.info("draining: %d calls active, up to %.0fs", self.active_calls, timeout)
        try:
            await asyncio.wait_for(self._calls_ended(), timeout)
        except TimeoutError:
            relays = list(self.stats.relays.values())
            log.warning("drain timeout: closing %d calls with 1001", len(relays))
            for relay in relays:
                relay.abort(None, CloseCode.GOING_AWAY, "recorder shutting down")
        self._server.close(close_connections=False)
        await self._server.wait_closed()
        if self._closing:
            await asyncio.wait(self._closing)
        await self.archiver.finish(timeout + 30)

    async def _calls_ended(self) -> None:
        while self.active_calls:  # slots: calls being set up or running
            await asyncio.sleep(0.05)


async def _discard(opening: asyncio.Future[CallRecording | None]) -> None:
    """Remove the journal of a call that never started (Hydra refused, or the client left)."""
    try:
        recording = await opening
    except asyncio.CancelledError:
        return
    if recording is not None:
        await asyncio.to_thread(recording.journal.discard)
