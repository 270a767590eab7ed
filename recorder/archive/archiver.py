"""The archiver: a process of its own that finalizes calls, so that replay, rendering, FLAC,
soxr, encryption and database writes never take the forwarding process's GIL.

The proxy (``recorder.proxy.archiver``) starts it and feeds it jobs over a pipe: a journal
whose call ended (with its session key, which never touches disk, and the call's facts as the
proxy knew them at the end), the rows of a call that had no journal, or "recover the orphans".
Each job runs ``archive.pipeline``; the journal is deleted only after its archive and rows are
committed, so a crash of this process loses nothing (the proxy restarts it and sends the jobs
again). A job that fails because the database or the disk failed is kept and retried with
back-off (0.5 s doubling to 60 s), between other jobs, until it succeeds; the cause is reported
each time. Messages back: ``("done", id, state, reason, path, seconds)``, ``("retry", id,
cause, delay)``, ``("failed", id, cause)``, ``("store_error", id, operation)`` (before the
retry or failure it caused), ``("recovered", archived, skipped)``, ``("fatal", why)``. Archives
go to the store the settings name (``open_store``: the directory under home, or a bucket);
every line logged during a job carries the job's call id.

The process ends when the proxy closes its end of the pipe (or dies).
"""

from __future__ import annotations

import gc
import heapq
import itertools
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from recorder.call import CallMeta, CallSummary
from recorder.config import Settings

__all__ = ["ArchiveJob", "RowsJob", "RECOVER", "backoff_s", "serve"]

log = logging.getLogger(__name__)

RECOVER = "recover"
PROCESS_NAME = "rec-archiver"
NICENESS = 10  # added to the proxy's: the scheduler gives the forwarding loop the cores first
FIRST_RETRY_S = 0.5
LAST_RETRY_S = 60.0


@dataclass(frozen=True, slots=True)
class ArchiveJob:
    """A journal whose call ended under a live proxy (which still holds its owner lock)."""

    id: str
    session_dir: str
    session_key: bytes = field(repr=False)
    ended: CallMeta


@dataclass(frozen=True, slots=True)
class RowsJob:
    """A call that had no journal (policy ``continue``): its rows are all there is."""

    id: str
    meta: CallMeta
    summary: CallSummary


@dataclass(frozen=True, slots=True)
class _OrphanJob:
    id: str
    session_dir: str
    lock: Any = field(repr=False, compare=False)


def backoff_s(attempt: int) -> float:
    """Delay before retry number ``attempt`` (1, 2, ...)."""
    return min(LAST_RETRY_S, FIRST_RETRY_S * 2 ** (attempt - 1))


def _inbox(conn: Connection, into: queue.Queue[object]) -> None:
    """Drain the pipe into a queue, so the proxy never blocks sending (None: the proxy is gone)."""
    try:
        while True:
            into.put(conn.recv())
    except (EOFError, OSError):
        into.put(None)


class _Worker:
    def __init__(self, settings: Settings, conn: Connection) -> None:
        from recorder.archive.store import open_store
        from recorder.crypto.keys import KeyStore
        from recorder.db.engine import make_engine

        self.settings = settings
        self.conn = conn
        self.keystore = KeyStore(settings.home / "keys")
        self.engine = make_engine(settings.effective_database_url)
        self.store = open_store(settings)
        self.migrated = False
        self.attempts: dict[str, int] = {}
        self.due: list[tuple[float, int, object]] = []
        self.order = itertools.count()

    def add(self, job: object, at: float = 0.0) -> None:
        heapq.heappush(self.due, (at, next(self.order), job))

    def reply(self, *message: object) -> None:
        try:
            self.conn.send(message)
        except (OSError, ValueError):
            pass  # the proxy is gone; the inbox will say so

    def run(self, job: object) -> None:
        from recorder import logs

        job_id = getattr(job, "id", "?")  # a call id
        with logs.call_id(job_id):
            self._attempt(job, job_id)

    def _attempt(self, job: object, job_id: str) -> None:
        from recorder.archive.store import ArchiveStoreError
        from recorder.db.engine import upgrade
        from recorder.errors import DatabaseError, RecorderError

        try:
            if not self.migrated:
                upgrade(self.settings.effective_database_url)
                self.migrated = True
            self._run(job)
        except (DatabaseError, OSError) as exc:  # the database, the disk or the store: try again later
            if isinstance(exc, ArchiveStoreError):
                self.reply("store_error", job_id, exc.operation.split()[0])
            n = self.attempts[job_id] = self.attempts.get(job_id, 0) + 1
            delay = backoff_s(n)
            cause = _cause(exc)
            log.warning("call %s: finalization failed (%s); retry %d in %.1fs", job_id, cause, n, delay)
            self.add(job, time.monotonic() + delay)
            self.reply("retry", job_id, cause, delay)
        except RecorderError as exc:  # a locked or damaged journal/archive: not for retrying
            log.error("call %s: cannot finalize: %s; the journal stays for `recorder recover`", job_id, exc)
            self._release(job)
            self.reply("failed", job_id, str(exc))
        except Exception as exc:  # noqa: BLE001 - one bad call must not stop the others
            log.exception("call %s: finalization crashed; the journal stays", job_id)
            self._release(job)
            self.reply("failed", job_id, f"{type(exc).__name__}: {exc}")

    def _run(self, job: object) -> None:
        from recorder.archive.pipeline import archive_journal, store_rows

        started = time.monotonic()
        common: dict[str, Any] = dict(
            home=self.settings.home, keystore=self.keystore, engine=self.engine,
            gap_threshold_ms=self.settings.gap_threshold_ms, pci_tools=self.settings.pci_tools,
            store=self.store,
        )
        if isinstance(job, ArchiveJob) and not Path(job.session_dir).exists():
            # deleted only once archived: a previous archiver finished it and died before saying so
            self.reply("done", job.id, job.ended.state, job.ended.reason, None, None)
            return
        if isinstance(job, ArchiveJob):
            result = archive_journal(Path(job.session_dir), session_key=job.session_key,
                                     ended=job.ended, **common)
        elif isinstance(job, _OrphanJob):
            result = archive_journal(Path(job.session_dir),
                                     identities=self.keystore.identities("archive"), **common)
            self._release(job)
            log.warning("recovered call %s from its journal: %s (%s)",
                        result.session_id, result.state, result.reason)
        elif isinstance(job, RowsJob):
            store_rows(self.engine, job.meta, job.summary)
            self.attempts.pop(job.id, None)
            self.reply("done", job.id, job.meta.state, job.meta.reason, None, time.monotonic() - started)
            return
        else:
            raise TypeError(f"not an archiver job: {type(job).__name__}")
        self.attempts.pop(job.id, None)
        self.reply("done", job.id, result.state, result.reason, result.relative_path,
                   time.monotonic() - started)

    def _release(self, job: object) -> None:
        if isinstance(job, _OrphanJob):
            job.lock.release()

    def migrate(self) -> None:
        """Bring the schema to head before anything else. A database that answers but cannot
        be migrated (another application's table, a newer recorder's revision) is fatal: the
        proxy stops and says why, rather than journaling calls it can never store. A database
        that does not answer is an outage: jobs retry, migrating first, until it is back."""
        from recorder.db.engine import upgrade
        from recorder.errors import DatabaseError

        try:
            upgrade(self.settings.effective_database_url)
            self.migrated = True
        except DatabaseError as exc:
            try:
                with self.engine.connect():
                    pass
            except Exception:  # noqa: BLE001 - unreachable: an outage, not a bad schema
                log.warning("database unavailable at start (%s); calls are archived when it is back", exc)
                return
            self.reply("fatal", str(exc))

    def recover(self) -> None:
        """Queue every journal whose owner is gone (holding its lock until it is archived)."""
        from recorder.archive.pipeline import claim_orphans
        from recorder.crypto.keys import IdentitiesUnavailable

        try:
            self.keystore.identities("archive")
        except IdentitiesUnavailable as exc:
            waiting = len(list((self.settings.home / "spool").glob("[!.]*")))
            if waiting:
                log.warning("%d journals wait for `recorder recover` on a host with the archive "
                            "identities: %s", waiting, exc)
            self.reply("recovered", 0, waiting)
            return
        taken, skipped = claim_orphans(self.settings.home / "spool")
        for session_dir, lock in taken:
            self.add(_OrphanJob(session_dir.name, str(session_dir), lock))
        if taken:
            log.warning("recovering %d orphaned journals in the background", len(taken))
        self.reply("recovered", len(taken), len(skipped))


def _cause(exc: BaseException) -> str:
    import errno

    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"disk full ({exc.strerror})"
    if isinstance(exc, OSError) and exc.errno is not None:  # (the archive store's errors have none)
        return f"{exc.strerror or type(exc).__name__}: {exc.filename or ''}".rstrip(": ")
    return str(exc)


def serve(settings: Settings, conn: Connection) -> None:
    """The archiver process's main: jobs from the pipe, retries when due, until the pipe closes."""
    from recorder import logs

    logs.configure(settings.log_level, fmt=settings.log_format)
    try:  # so that `ps`, `top` and the benchmark tell it from the proxy
        Path("/proc/self/comm").write_text(PROCESS_NAME)
    except OSError:
        pass
    try:  # a call's archive can wait a second; its caller's audio cannot: forwarding goes first
        os.nice(NICENESS)
    except (AttributeError, OSError):
        pass
    inbox: queue.Queue[object] = queue.Queue()
    threading.Thread(target=_inbox, args=(conn, inbox), name="archiver-inbox", daemon=True).start()
    worker = _Worker(settings, conn)
    import recorder.archive.pipeline  # noqa: F401 - pay for numpy, soxr & co. once, before the first call ends

    gc.freeze()  # the modules and the engine stay: collections during a job walk the job's objects only
    try:
        while True:
            now = time.monotonic()
            timeout = None if not worker.due else max(0.0, worker.due[0][0] - now)
            try:
                message = inbox.get(timeout=timeout) if timeout != 0.0 else inbox.get_nowait()
            except queue.Empty:
                _at, _n, job = heapq.heappop(worker.due)
                worker.run(job)
                continue
            if message is None:
                return
            if message == RECOVER:
                if not worker.migrated:
                    worker.migrate()
                worker.recover()
            else:
                worker.add(message)
    finally:
        worker.engine.dispose()
