"""The two pumps of one call: forward first, then tee; propagate closes both ways.

Every message is handed to the other side before the tee sees it, and the tee is synchronous
(it queues the raw frame for the journal), so nothing on the forwarding path awaits disk or
database. A failing tee is logged once and recorded; it never stops forwarding. A leg that
websockets itself failed (invalid UTF-8: 1007) is on record with the code it sent, not 1006.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from websockets.asyncio.connection import Connection
from websockets.exceptions import ConnectionClosed, PayloadTooBig
from websockets.frames import EXTERNAL_CLOSE_CODES, CloseCode

from recorder.capture.records import Direction

log = logging.getLogger(__name__)

Tee = Callable[[Direction, "str | bytes", int], None]

ABNORMAL = CloseCode.ABNORMAL_CLOSURE  # 1006: no close frame was received


def forwardable(code: int | None, reason: str, *, lost: int) -> tuple[int | None, str]:
    """The close to send on the other leg for a close observed on one leg.

    `lost` is what an abnormal loss becomes: 1011 towards the client, 1001 towards Hydra.
    `None` sends a close frame without a status, mirroring a peer that sent none (1005).
    """
    if code == CloseCode.NO_STATUS_RCVD:
        return None, ""
    if code is None or code == ABNORMAL:
        return lost, ""
    if code in EXTERNAL_CLOSE_CODES or 3000 <= code < 5000:
        return code, reason
    return lost, reason


def refused_as_too_big(connection: Connection) -> str | None:
    """Why the proxy itself closed this leg with 1009 (a message over `--max-message-mb`)."""
    failure = connection.protocol.parser_exc
    return str(failure) if isinstance(failure, PayloadTooBig) else None


@dataclass(slots=True)
class RelayResult:
    close_code: int | None = None
    close_reason: str = ""
    close_side: str | None = None  # "client" or "upstream": who closed first
    bytes_c2s: int = 0
    bytes_s2c: int = 0
    tee_failures: int = 0
    protocol_error: str | None = None  # the proxy failed a leg for a frame it could not take


class Relay:
    def __init__(
        self,
        client: Connection,
        upstream: Connection,
        tee: Tee,
        origin_ns: int,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self._client = client
        self._upstream = upstream
        self._tee = tee
        self._origin = origin_ns
        self._clock = clock
        self.result = RelayResult()
        self._abort = asyncio.Event()
        self._abort_with: tuple[str | None, int, str] = (None, CloseCode.GOING_AWAY, "")

    async def run(self) -> RelayResult:
        async with asyncio.TaskGroup() as tasks:
            pumps = [
                tasks.create_task(self._pump(self._client, self._upstream, Direction.C2S)),
                tasks.create_task(self._pump(self._upstream, self._client, Direction.S2C)),
            ]
            watcher = tasks.create_task(self._watch_abort())
            await asyncio.wait(pumps)
            watcher.cancel()
        return self.result

    def abort(self, frame: str | None, code: int, reason: str) -> None:
        """End the call from the proxy's side (drain timeout, recording failure).

        The client gets `frame` (an `error` event) if given, then `code`; Hydra gets 1001.
        Safe to call from the event loop at any time, more than once.
        """
        if not self._abort.is_set():
            self._abort_with = (frame, code, reason)
            self._abort.set()

    async def _watch_abort(self) -> None:
        await self._abort.wait()
        frame, code, reason = self._abort_with
        if self.result.close_side is None:
            self.result.close_side = "proxy"
            self.result.close_code = code
            self.result.close_reason = reason
        if frame is not None:
            try:
                await self._client.send(frame)
            except ConnectionClosed:
                pass
        await asyncio.gather(
            self._client.close(code, reason), self._upstream.close(CloseCode.GOING_AWAY, "")
        )

    async def _pump(self, src: Connection, dst: Connection, direction: Direction) -> None:
        tee, clock, origin = self._tee, self._clock, self._origin  # locals: read for every message
        forwarded = 0
        try:
            async for message in src:
                arrival = clock() - origin
                try:
                    await dst.send(message)
                except ConnectionClosed:
                    break  # dst's own pump sees the close and propagates it
                forwarded += len(message)
                try:
                    tee(direction, message, arrival)
                except Exception:  # the recording must never break the call
                    self._tee_failed(direction)
        except ConnectionClosed:
            pass  # abnormal close of src: handled below like any close
        finally:
            if direction is Direction.C2S:
                self.result.bytes_c2s += forwarded
            else:
                self.result.bytes_s2c += forwarded
        await self._propagate(src, dst, direction)

    def _tee_failed(self, direction: Direction) -> None:
        self.result.tee_failures += 1
        if self.result.tee_failures == 1:
            log.exception("recording failed for a %s frame; forwarding continues", direction)

    async def _propagate(self, src: Connection, dst: Connection, direction: Direction) -> None:
        if src.close_code is None:  # src still open: we stopped because dst went away
            return
        from_client = direction is Direction.C2S
        too_big = refused_as_too_big(src)
        src_code, src_reason = src.close_code, src.close_reason or ""
        failed = src.protocol.close_sent if src.protocol.close_rcvd is None else None
        if (too_big is None and failed is not None
                and failed.code not in (CloseCode.NORMAL_CLOSURE, CloseCode.GOING_AWAY)):
            # websockets failed this leg itself (invalid UTF-8 → 1007, protocol error → 1002, ...)
            # and discards the peer's echo: the true close is the one it sent, not 1006.
            src_code, src_reason = failed.code, failed.reason
            if self.result.close_side is None:
                self.result.protocol_error = f"{src_code} {src_reason}".strip()
        if self.result.close_side is None:
            self.result.close_side = "client" if from_client else "upstream"
            self.result.close_code = src_code
            self.result.close_reason = src_reason
            if too_big is not None:  # the proxy refused the message: on record as such
                self.result.close_side = "proxy"
                self.result.close_code = CloseCode.MESSAGE_TOO_BIG
                self.result.close_reason = f"{'client' if from_client else 'Hydra'} {too_big}"
        lost = CloseCode.GOING_AWAY if from_client else CloseCode.INTERNAL_ERROR
        code, reason = forwardable(src_code, src_reason, lost=lost)
        if too_big is not None:  # Hydra did nothing wrong (1001); the client learns why (1009)
            code, reason = (lost, "") if from_client else (
                CloseCode.MESSAGE_TOO_BIG, "Hydra sent a message over the recorder's size limit")
        await dst.close(code, reason)  # type: ignore[arg-type]
