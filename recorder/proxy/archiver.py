"""The proxy's side of the archiver process: start it, feed it, restart it if it dies.

Every job stays in `outstanding` (with the journal's owner lock, which this process keeps
holding so that no `recorder recover` takes the call meanwhile) until the archiver says it is
done or cannot be done; if the process dies, a new one is started and gets every outstanding
job again. Nothing here blocks the event loop: replies arrive through `loop.add_reader`, and
the archiver drains its pipe on a thread of its own, so a send never waits for a busy archiver.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from recorder import logs, metrics
from recorder.archive.archiver import RECOVER, ArchiveJob, RowsJob, serve
from recorder.config import Settings
from recorder.journal import OwnerLock

log = logging.getLogger(__name__)

_WATCH_S = 0.5


@dataclass(slots=True)
class ArchiverStats:
    done: int = 0
    retries: int = 0
    failed: int = 0
    restarts: int = 0
    last_cause: str | None = None
    recovered: int = 0


class ArchiverProcess:
    """One archiver process, supervised. `submit` jobs; `finish` waits for them and stops it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stats = ArchiverStats()
        self._outstanding: dict[str, tuple[ArchiveJob | RowsJob, OwnerLock | None]] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._stopping = False
        self.fatal: asyncio.Future[str] | None = None  # why the archiver can never store a call

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def pending(self) -> int:
        return len(self._outstanding)

    async def start(self) -> None:
        self.fatal = asyncio.get_running_loop().create_future()
        await self._spawn()
        self._watcher = asyncio.create_task(self._watch(), name="archiver-watch")

    def submit(self, job: ArchiveJob | RowsJob, lock: OwnerLock | None = None) -> None:
        self._outstanding[job.id] = (job, lock)
        self._idle.clear()
        self._send(job)

    async def finish(self, timeout_s: float) -> None:
        """Wait (up to `timeout_s`) for every job, then stop the process; journals not yet
        archived stay on disk, and their locks go with this process, for the next start."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            log.warning("%d calls not yet archived at shutdown; their journals stay for the next start",
                        len(self._outstanding))
        self._stopping = True
        if self._watcher is not None:
            self._watcher.cancel()
        self._detach()
        await asyncio.to_thread(self._join)
        for _job, lock in self._outstanding.values():
            if lock is not None:
                lock.release()

    # -- process ---------------------------------------------------------------------------

    async def _spawn(self) -> None:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        process = context.Process(target=serve, args=(self.settings, theirs),
                                  name="recorder-archiver", daemon=True)
        await asyncio.to_thread(process.start)
        theirs.close()
        self._process, self._conn = process, ours
        asyncio.get_running_loop().add_reader(ours.fileno(), self._on_readable)
        self._send(RECOVER)  # orphans first found are archived between live calls
        for job, _lock in list(self._outstanding.values()):
            self._send(job)
        log.info("archiver process %s started (%d jobs outstanding)", process.pid, len(self._outstanding))

    def _send(self, message: object) -> None:
        if self._conn is None:
            return
        try:
            self._conn.send(message)
        except OSError:
            pass  # the process died: the watcher restarts it and sends everything again

    def _on_readable(self) -> None:
        assert self._conn is not None
        try:
            while self._conn.poll():
                self._on_message(self._conn.recv())
        except (EOFError, OSError):
            self._detach()

    def _on_message(self, message: tuple[object, ...]) -> None:
        kind = message[0]
        job_id = message[1] if kind in ("done", "retry", "failed", "store_error") else None
        with logs.call_id(None if job_id is None else str(job_id)):
            self._on_reply(kind, message)

    def _on_reply(self, kind: object, message: tuple[object, ...]) -> None:
        if kind == "done":
            _, job_id, state, reason, path, seconds = message
            self.stats.done += 1
            if seconds is not None:  # None: archived by an archiver that died before saying so
                metrics.finalized(float(seconds))  # type: ignore[arg-type]
            log.info("call %s archived to %s (%s%s)", job_id, path, state, f": {reason}" if reason else "")
            self._settle(str(job_id))
        elif kind == "retry":
            _, job_id, cause, delay = message
            self.stats.retries += 1
            self.stats.last_cause = str(cause)
            log.warning("call %s: finalization failed (%s); the archiver retries in %.1fs",
                        job_id, cause, delay)
        elif kind == "failed":
            _, job_id, cause = message
            self.stats.failed += 1
            self.stats.last_cause = str(cause)
            log.error("call %s: could not finalize (%s); its journal stays for `recorder recover`",
                      job_id, cause)
            self._settle(str(job_id))
        elif kind == "store_error":
            metrics.store_error(str(message[2]))
        elif kind == "fatal":
            log.error("archiver: %s", message[1])
            if self.fatal is not None and not self.fatal.done():
                self.fatal.set_result(str(message[1]))
        elif kind == "recovered":
            _, taken, skipped = message
            self.stats.recovered += int(taken)  # type: ignore[call-overload]
            if taken or skipped:
                log.info("archiver: %s orphaned journals to recover, %s skipped", taken, skipped)

    def _settle(self, job_id: str) -> None:
        entry = self._outstanding.pop(job_id, None)
        if entry is not None and entry[1] is not None:
            entry[1].release()
        if not self._outstanding:
            self._idle.set()

    def _detach(self) -> None:
        if self._conn is not None:
            asyncio.get_running_loop().remove_reader(self._conn.fileno())
            self._conn.close()
            self._conn = None

    async def _watch(self) -> None:
        while not self._stopping:
            await asyncio.sleep(_WATCH_S)
            process = self._process
            if process is not None and not process.is_alive() and not self._stopping:
                log.error("archiver process %s died (exit %s); restarting it", process.pid, process.exitcode)
                self.stats.restarts += 1
                self._detach()
                await self._spawn()

    def _join(self) -> None:
        process = self._process
        if process is None:
            return
        process.join(30)  # it saw its pipe close and exits after its current job
        if process.is_alive():
            process.terminate()
            process.join(5)
