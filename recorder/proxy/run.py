"""`run_proxy`: one proxy process from start to drained stop."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from typing import Any

from recorder.config import Settings
from recorder.errors import RecorderError

log = logging.getLogger(__name__)


class ArchiverFailed(RecorderError):
    """The archiver cannot store any call (the database answers but cannot be migrated)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"{reason}; the proxy stopped: calls would be journaled but never stored")


async def run_proxy(
    settings: Settings, ready: asyncio.Event | None = None, *, worker: int | None = None
) -> None:
    """Serve until SIGTERM/SIGINT, then drain. Listens before anything slow: the archiver
    process migrates the database and recovers orphaned journals in the background. A
    `worker` of several shares the port."""
    from recorder.proxy.server import ProxyServer
    from recorder.proxy.startup import first_run_note, prepare_recorder

    note = first_run_note(settings) if worker is None else None
    recorder = await asyncio.to_thread(prepare_recorder, settings)
    server = ProxyServer(settings, recorder)
    await server.start(reuse_port=worker is not None)
    from recorder.db.engine import safe_url  # after listening: sqlalchemy is slow to import

    gc.freeze()  # what start-up built lives as long as the process: no collection walks it again

    scheme = "wss" if settings.certfile else "ws"
    log.log(
        logging.INFO if note is None else logging.WARNING,
        "recorder proxy%s on %s://%s:%d -> %s (database %s, limit %d calls, archiver pid %s)%s",
        "" if worker is None else f" worker {worker}",
        scheme, settings.listen_host_port()[0], server.port, settings.upstream_url,
        safe_url(settings.effective_database_url), settings.max_sessions, server.archiver.pid,
        "" if note is None else f"; {note}",
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        ready.set()
    try:
        stopped: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
        assert server.archiver.fatal is not None
        waiting: set[asyncio.Future[Any]] = {stopped, server.archiver.fatal}
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if server.archiver.fatal.done():  # e.g. a database that cannot be migrated
            await server.drain(timeout_s=0)
            raise ArchiverFailed(server.archiver.fatal.result())
        await server.drain()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    log.info("recorder proxy stopped")


def run(settings: Settings, worker: int | None = None) -> None:
    """`asyncio.run(run_proxy(...))`, on uvloop when it is installed (the `fast` extra)."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(run_proxy(settings, worker=worker))
    else:
        uvloop.run(run_proxy(settings, worker=worker))
