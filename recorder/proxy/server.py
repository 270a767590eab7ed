"""The proxy server: handshake mirroring, capacity, drain, and handing each call to the archiver.

reference/hydra-protocol.md §14.6 and DESIGN.md "Transparency contract". The upstream
connection is opened inside `process_request`, i.e. during the client's handshake, so a
refusal reaches the client as the same HTTP status.
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
from collections.abc import Sequence
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import InvalidHandshake, InvalidStatus
from websockets.frames import CloseCode
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from recorder.archive.archiver import RowsJob
from recorder.call import CallMeta
from recorder.capture.session import CaptureSession
from recorder.config import Settings
from recorder.errors import RecorderError
from recorder.proxy.handshake import (
    REFUSAL_HEADERS,
    UpstreamRequest,
    plan_upstream,
    recording_failed_frame,
    server_full_frame,
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
    recording: CallRecording | None


@dataclass(slots=True)
class ProxyStats:
    accepted: int = 0
    refused_upstream: int = 0
    unreachable: int = 0
    over_capacity: int = 0
    recording_failures: int = 0
    finalize_failures: int = 0
    relays: dict[str, Relay] = field(default_factory=dict)


def _http_response(status: int, body: bytes, headers: Headers | None = None) -> Response:
    out = Headers()
    for name, value in (headers or Headers()).raw_items():
        if name.lower() in REFUSAL_HEADERS:
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


class ProxyServer:
    """Owns the listening socket and every call's relay."""

    def __init__(self, settings: Settings, recorder: Recorder) -> None:
        self.settings = settings
        self._upstream_base = validate_upstream(settings.upstream_url)
        self._recorder = recorder
        self._pending: dict[ServerConnection, _Pending] = {}
        self._full: set[ServerConnection] = set()
        self._draining = False
        self._server: Server | None = None
        # Finalizing is CPU work (replay, render, encryption) and database I/O: it runs in a
        # process of its own, so that it never takes the forwarding loop's GIL.
        self.archiver = ArchiverProcess(settings)
        self.port = 0
        self.stats = ProxyStats()

    @property
    def active_calls(self) -> int:
        return len(self.stats.relays)

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
            max_size=None,
            max_queue=64,
            ping_interval=None,
            compression="deflate",
            server_header=None,
            reuse_port=reuse_port or None,
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

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        if request.path.split("?")[0] == "/healthz" and "Upgrade" not in request.headers:
            body = json.dumps(
                {"status": "draining" if self._draining else "ok", "active_calls": self.active_calls}
            ).encode()
            return _http_response(200, body, Headers({"Content-Type": "application/json"}))
        if self._draining:
            return _http_response(503, b"recorder is shutting down; retry on another instance\n")
        if self.active_calls + len(self._pending) >= self.settings.max_sessions:
            self._full.add(connection)  # answered like Hydra: upgrade, server_full, 1013
            return None
        if disk := self._recorder.disk_too_full():
            log.error("refusing a call: %s", disk)
            self._full.add(connection)
            return None
        plan = plan_upstream(self._upstream_base, request.path, request.headers.raw_items())
        meta = CallMeta(
            id=str(uuid.uuid4()),
            started_at=dt.datetime.now(dt.timezone.utc),
            ended_at=None,
            duration_ms=None,
            upstream_status=101,  # a journal is kept only for a call Hydra accepted
            model=plan.model,
            path=plan.path,
            query=plan.scrubbed_query,
            metadata=plan.metadata,
        )
        # The journal opens (a few fsyncs) while Hydra's handshake runs, so that Hydra's first
        # frames do not wait for the disk; a call Hydra refuses leaves no journal.
        opening = asyncio.ensure_future(self._open_recording(meta))
        try:
            upstream = await connect(
                plan.url,
                additional_headers=list(plan.headers),
                user_agent_header=plan.user_agent,
                subprotocols=list(plan.subprotocols) or None,  # type: ignore[arg-type]
                compression="deflate" if plan.compression else None,
                ssl=self._upstream_tls(),
                open_timeout=self.settings.open_timeout_s,
                max_size=None,
                max_queue=64,
                ping_interval=None,
                close_timeout=5,
            )
        except InvalidStatus as exc:
            await self._discard(opening)
            self.stats.refused_upstream += 1
            refused = exc.response
            log.info("upstream refused %s with HTTP %d", plan.path, refused.status_code)
            return _http_response(refused.status_code, bytes(refused.body or b""), refused.headers)
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            await self._discard(opening)
            self.stats.unreachable += 1
            reason = scrub_text(str(exc) or type(exc).__name__)
            log.warning("upstream unreachable for %s: %s", plan.path, reason)
            return _http_response(502, b"recorder: upstream unreachable\n")
        except BaseException:  # cancelled: the journal still goes
            await asyncio.shield(self._discard(opening))
            raise
        origin_ns = time.monotonic_ns()
        recording = await opening
        if recording is None and self.settings.recording_failure == "close":
            await upstream.close(CloseCode.GOING_AWAY, "")
            return _http_response(503, b"recorder: cannot record this call; retry later\n")
        self._pending[connection] = _Pending(plan, upstream, meta, origin_ns, recording)
        return None

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

    async def _discard(self, opening: asyncio.Future[CallRecording | None]) -> None:
        """Remove the journal of a call that never started."""
        recording = await opening
        if recording is not None:
            await asyncio.to_thread(recording.journal.discard)

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
        pending = self._pending.get(connection)
        return pending.upstream.subprotocol if pending else None

    # -- call --------------------------------------------------------------------------------

    async def _handle(self, client: ServerConnection) -> None:
        if client in self._full:
            self._full.discard(client)
            self.stats.over_capacity += 1
            await client.send(server_full_frame(f"rec_{uuid.uuid4().hex[:16]}"))
            await client.close(CloseCode.TRY_AGAIN_LATER, "server_full")
            log.warning("refused a call: %d calls active (limit)", self.active_calls)
            return
        pending = self._pending.pop(client)
        meta, recording = pending.meta, pending.recording
        # A call without a journal (policy `continue`) keeps at least its rows: only then does
        # capture run live, on a path that has already failed.
        capture = None if recording else CaptureSession(gap_threshold_ms=self.settings.gap_threshold_ms)
        tee = recording.tee if recording else capture.observe  # type: ignore[union-attr]
        relay = Relay(client, pending.upstream, tee, pending.origin_ns)  # type: ignore[arg-type]
        self.stats.relays[meta.id] = relay
        self.stats.accepted += 1
        log.info("call %s opened: path=%s query=%s", meta.id, meta.path, meta.query)
        try:
            result = await relay.run()
        finally:
            del self.stats.relays[meta.id]
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
        """Stop accepting, let calls finish up to the timeout, then close them with 1001."""
        assert self._server is not None
        self._draining = True
        timeout = self.settings.drain_timeout_s if timeout_s is None else timeout_s
        log.info("draining: %d calls active, up to %.0fs", self.active_calls, timeout)
        self._server.close(close_connections=False)
        try:
            await asyncio.wait_for(asyncio.shield(self._server.wait_closed()), timeout)
        except TimeoutError:
            relays = list(self.stats.relays.values())
            log.warning("drain timeout: closing %d calls with 1001", len(relays))
            for relay in relays:
                relay.abort(None, CloseCode.GOING_AWAY, "recorder shutting down")
            await self._server.wait_closed()
        await self.archiver.finish(timeout + 30)
