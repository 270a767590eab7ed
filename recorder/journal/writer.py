"""The journal writer: one background thread seals and appends every live call's frames.

Contract:

- ``open()`` is synchronous: it creates ``spool_dir/<session_id>/`` holding its owner lock
  (``owner.py``), draws the session key, writes segment 1 (header + META record) and makes it
  durable before returning, or raises ``JournalError``. Only then does forwarding start.
- ``append_frame(direction, message, arrival_ns)`` is the relay's whole recording cost: it queues
  the raw frame under a lock (bounded by ``queue_max_bytes``), never blocks on disk and never
  raises. Nothing is parsed live; capture replays the frames at finalization. Overflow is a
  *recorded* failure: a ``FailureRecord`` is queued in place of the frames that did not fit,
  ``failure`` is set, ``on_failure`` fires, and later frames are counted, not written.
- One thread per process (``JournalThread``) serves every open journal: it wakes at least every
  ``flush_interval_s`` of each, seals its batch and hands it to the kernel in large ``os.write``
  calls (which release the GIL), so a process crash loses at most one flush interval; a second
  thread fsyncs the journals it wrote. ``fsync``: ``"always"`` wakes on every append and fsyncs each batch;
  ``"interval"`` fsyncs each batch (at most once per interval); ``"never"`` leaves it to the
  kernel (a power loss may lose more; a process crash does not). ``close`` always fsyncs.
- A full segment ends with ROTATE and the next one starts with its own header.
- Any write error (disk full, I/O error, vanished directory) sets ``failure`` and stops writing:
  what was written stays readable up to the last whole record. ``on_failure(reason)`` is called
  exactly once, from whichever thread noticed (the writer thread, or the caller of ``append`` on
  overflow): it must be thread-safe and quick (e.g. ``loop.call_soon_threadsafe``).
- ``close(close_record, end_meta)`` queues the close and the END marker, and waits until they
  are written and fsynced: it blocks for up to one write + fsync, so an asyncio shell calls it
  through ``asyncio.to_thread``. The owner lock outlives ``close``: whoever archives the journal
  releases it (``lock``). ``session_key`` stays in memory so the proxy's archiver can read the
  journal back. ``abandon()`` stops without the END marker (what a crash leaves; for tests).
"""

from __future__ import annotations

import errno
import logging
import math
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from recorder.capture.records import CloseRecord, Direction
from recorder.crypto.age import Recipient, recipient_key_ids
from recorder.crypto.seal import SessionSeal
from recorder.durable import fsync_dir, syncfs
from recorder.journal.errors import JournalError
from recorder.journal.owner import OwnerLock, claim
from recorder.journal.segment import (
    EndRecord,
    FailureRecord,
    JournalItem,
    MetaRecord,
    RawFrame,
    RotateRecord,
    encode_frame,
    encode_frames,
    encode_header,
    encode_record,
    frame_part,
    segment_name,
)

__all__ = ["FsyncPolicy", "JournalThread", "JournalWriter", "FSYNC_POLICIES"]

logger = logging.getLogger(__name__)

FsyncPolicy = Literal["always", "interval", "never"]
FSYNC_POLICIES: tuple[FsyncPolicy, ...] = ("always", "interval", "never")
Rng = Callable[[int], bytes]
SegmentOpener = Callable[[Path], int]
_Queued = tuple[Direction, int, "str | bytes"] | JournalItem

_SESSION_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_OVERHEAD = 64  # queue accounting per record beyond its payload
_WRITE_CHUNK = 1 << 20  # hand the kernel about this much per os.write
_WAKE_BYTES = 4 << 20  # a queue this large is written at once, not at the next tick
_FRAME_OVERHEAD = 4 + 16  # length prefix + AEAD tag
_BATCH_BYTES = 1 << 20  # frames sealed together, at most


def _default_opener(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o600)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        if n <= 0:
            raise OSError(errno.EIO, "short write")
        view = view[n:]


def _next_tick(now: float, interval: float) -> float:
    """The next multiple of ``interval``: journals with the same interval fall due together, so
    the writer wakes once per tick for all of them rather than once per journal."""
    return (math.floor(now / interval) + 1) * interval


def _describe(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"disk full ({exc.strerror})"
    return f"write failed ({exc.strerror or type(exc).__name__})"


class JournalThread:
    """The threads that write every open journal of the process: one writes, one fsyncs.

    The writer hands each due journal's batch to the kernel, so that a process crash loses at
    most one flush interval whatever the disk's fsync latency; the fsync thread then makes each
    written journal durable. A journal waiting for its fsync is not written meanwhile (its
    frames stay queued), so one slow fsync delays that journal only.
    """

    def __init__(self, name: str = "journal-writer") -> None:
        self.name = name
        self._cond = threading.Condition(threading.Lock())
        self._writers: list[JournalWriter] = []
        self._sync_cond = threading.Condition(threading.Lock())
        self._to_sync: list[JournalWriter] = []
        self._threads: list[threading.Thread] = []

    def add(self, writer: JournalWriter) -> None:
        with self._cond:
            self._writers.append(writer)
            if not self._threads or not all(t.is_alive() for t in self._threads):
                self._threads = [
                    threading.Thread(target=self._run, name=self.name, daemon=True),
                    threading.Thread(target=self._sync_run, name="journal-fsync", daemon=True),
                ]
                for thread in self._threads:
                    thread.start()
            self._cond.notify()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    now = time.monotonic()
                    due = [w for w in self._writers if not w._syncing and w._due(now)]
                    if due:
                        break
                    deadlines = [w._deadline for w in self._writers if not w._syncing]
                    self._cond.wait(max(0.0, min(deadlines) - now) if deadlines else None)
            synced = [w for w in due if w._write_batch()]
            if synced:
                with self._sync_cond:
                    for w in synced:
                        w._syncing = True
                    self._to_sync.extend(synced)
                    self._sync_cond.notify()

    def _sync_run(self) -> None:
        while True:
            with self._sync_cond:
                while not self._to_sync:
                    self._sync_cond.wait()
                batch, self._to_sync = self._to_sync, []
            covered = _sync_together(batch)
            for w in batch:
                w._finish_tick(covered)
            with self._cond:
                for w in batch:
                    w._syncing = False
                self._writers = [w for w in self._writers if not w._finished]
                self._cond.notify()


_THREAD = JournalThread()


def _sync_together(batch: Sequence[JournalWriter]) -> bool:
    """One ``syncfs`` for every journal of this tick that needs an fsync; True if it covered them.

    Fifty calls mean fifty fsyncs every tick, each its own writeback and journal commit; one
    file-system sync does the same work once. With one journal, or where ``syncfs`` does not
    exist or reports an error, each journal fsyncs its own file (which also says which
    journal an error belongs to).
    """
    fds = [w._fd for w in batch if w._needs_sync()]
    if len(fds) < 2:
        return False
    try:
        return syncfs(fds[0])
    except OSError:
        return False


class JournalWriter:
    """One session's journal. Create, ``open()``, ``append_frame`` from the relay, ``close``."""

    def __init__(
        self,
        spool_dir: Path,
        session_id: str,
        recipients: Sequence[Recipient],
        meta: Mapping[str, Any],
        *,
        flush_interval_s: float = 0.2,
        fsync: FsyncPolicy = "interval",
        segment_max_bytes: int = 32 << 20,
        queue_max_bytes: int = 64 << 20,
        on_failure: Callable[[str], None] | None = None,
        rng: Rng = os.urandom,
        open_segment: SegmentOpener = _default_opener,
        thread: JournalThread = _THREAD,
    ) -> None:
        if fsync not in FSYNC_POLICIES:
            raise JournalError(str(spool_dir), f"fsync policy must be one of {FSYNC_POLICIES}, not {fsync!r}")
        if not flush_interval_s > 0:
            raise JournalError(str(spool_dir), "flush interval must be positive")
        if not _SESSION_ID.fullmatch(session_id):
            raise JournalError(str(spool_dir), f"session id {session_id!r} is not a safe directory name")
        if not recipients:
            raise JournalError(str(spool_dir), "no archive recipients: run `recorder keys init`")
        self.spool_dir = Path(spool_dir)
        self.session_id = session_id
        self.session_dir = self.spool_dir / session_id
        self._recipients = tuple(recipients)
        self._meta = dict(meta)
        self.flush_interval_s = float(flush_interval_s)
        self.fsync = fsync
        self.segment_max_bytes = int(segment_max_bytes)
        self.queue_max_bytes = int(queue_max_bytes)
        self._on_failure = on_failure
        self._rng = rng
        self._open_segment = open_segment
        self._service = thread
        self._seal: SessionSeal | None = None
        self._wrapped = b""
        self._lock = threading.Lock()
        self._queue: list[_Queued] = []
        self._queued_bytes = 0
        self._urgent = False
        self._closing = False
        self._accepting = False
        self._broken = False
        self._failure: str | None = None
        self._dropped_records = 0
        self._dropped_bytes = 0
        self._deadline = 0.0
        self._syncing = False  # handed to the fsync thread; not written meanwhile
        self._finished = False
        self._done = threading.Event()
        self._fd = -1
        self._segment = 0
        self._counter = 0
        self._segment_bytes = 0
        self.lock: OwnerLock | None = None
        self.bytes_written = 0  # every byte of every segment, headers included
        self.records_written = 0

    def __repr__(self) -> str:
        return (
            f"JournalWriter(session_id={self.session_id!r}, segment={self._segment}, "
            f"failure={self._failure!r})"
        )

    # --- public ----------------------------------------------------------------------------------

    @property
    def failure(self) -> str | None:
        """None while every frame handed over is being recorded; else why recording failed."""
        return self._failure

    @property
    def session_key(self) -> bytes:
        """The raw session key (memory only): ``read_journal(..., session_key=...)`` needs no identity."""
        if self._seal is None:
            raise JournalError(str(self.session_dir), "journal is not open")
        return self._seal.key

    @property
    def key_ids(self) -> tuple[str, ...]:
        return recipient_key_ids(self._recipients)

    @property
    def segments(self) -> int:
        return self._segment

    def open(self) -> JournalWriter:
        """Create the journal and make its first segment durable; ``JournalError`` if impossible."""
        if self._deadline or self._closing:
            raise JournalError(str(self.session_dir), "journal writer was already opened")
        staging = self.spool_dir / f".{self.session_id}.new"
        try:
            self.spool_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            if self.session_dir.exists():
                raise JournalError(str(self.session_dir), "a journal for this session exists")
            shutil.rmtree(staging, ignore_errors=True)  # a crash's leftover: never a journal
            staging.mkdir(mode=0o700)  # appears under its name only with its owner lock held
            self.lock = claim(staging, create=True)
            os.rename(staging, self.session_dir)
            if self.fsync != "never":
                fsync_dir(self.spool_dir)
            self._seal = SessionSeal.generate(self.session_id, self._rng)
            self._wrapped = self._seal.wrap(self._recipients, self._rng)
            self._start_segment(1)
            self._emit([MetaRecord(self._meta)])
            self._sync(force=True)
        except OSError as exc:
            self._undo_open()
            raise JournalError(str(self.session_dir), f"cannot create journal: {_describe(exc)}") from exc
        except (ValueError, TypeError) as exc:
            self._undo_open()
            raise JournalError(str(self.session_dir), f"cannot create journal: {exc}") from exc
        self._accepting = True
        self._deadline = _next_tick(time.monotonic(), self.flush_interval_s)
        self._service.add(self)
        logger.info(
            "journal opened: session=%s dir=%s fsync=%s", self.session_id, self.session_dir, self.fsync
        )
        return self

    def _undo_open(self) -> None:
        """A journal that could not be opened holds no frame yet: leave nothing behind."""
        self._close_fd()
        if self.lock is not None:
            shutil.rmtree(self.session_dir, ignore_errors=True)
            self.lock.release()
            self.lock = None

    def append_frame(self, direction: Direction, message: str | bytes, arrival_ns: int) -> None:
        """Queue one forwarded frame. Never blocks on I/O, never raises: the relay's hot path."""
        size = len(message) + _OVERHEAD
        with self._lock:
            accepted = self._accepting and self._queued_bytes + size <= self.queue_max_bytes
            if accepted:
                self._queue.append((direction, arrival_ns, message))
                self._queued_bytes += size
                if self.fsync != "always" and self._queued_bytes < _WAKE_BYTES:
                    return
                self._urgent = True
        if accepted:
            self._service.wake()
        else:
            self._refuse([(direction, arrival_ns, message)], size)

    def append(self, frames: Iterable[object]) -> None:
        """Queue ``RawFrame``s and ``FailureRecord``s (nothing else is journaled). Never raises."""
        try:
            for frame in frames:
                if isinstance(frame, RawFrame):
                    self.append_frame(frame.direction, frame.message, frame.arrival_ns)
                elif isinstance(frame, FailureRecord):
                    with self._lock:
                        if not self._closing:
                            self._queue.append(frame)
        except Exception as exc:  # noqa: BLE001 - append must never raise into the relay
            logger.exception("journal append failed: session=%s", self.session_id)
            self._fail(f"append failed ({type(exc).__name__})")

    def close(
        self,
        close_record: CloseRecord | None = None,
        end_meta: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> str | None:
        """Write the close, the END marker, fsync, and wait for it. Returns ``failure``."""
        with self._lock:
            if self._closing or not self._deadline:
                return self._failure
            self._accepting = False
            if self._dropped_records:
                self._queue.append(FailureRecord(  # totals, the overflowing records included
                    "not_recorded", "records handed to the journal that were not recorded",
                    dropped_records=self._dropped_records, dropped_bytes=self._dropped_bytes,
                ))
            if close_record is not None:
                self._queue.append(close_record)
            self._queue.append(EndRecord(None if end_meta is None else dict(end_meta)))
            self._closing = True
        self._service.wake()
        if not self._done.wait(timeout):
            logger.warning("journal close timed out: session=%s", self.session_id)
        logger.info(
            "journal closed: session=%s segments=%d records=%d bytes=%d failure=%s",
            self.session_id, self._segment, self.records_written, self.bytes_written, self._failure,
        )
        return self._failure

    def abandon(self) -> None:
        """Stop without writing the END marker, as a crash would (queued records are written)."""
        with self._lock:
            if self._closing or not self._deadline:
                return
            self._accepting = False
            self._closing = True
        self._service.wake()
        self._done.wait()

    def discard(self) -> None:
        """Stop and remove the journal of a call that never happened (its upstream refused)."""
        self.abandon()
        self._undo_open()

    # --- queue (any thread) ----------------------------------------------------------------------

    def _refuse(self, items: list[_Queued], size: int) -> None:
        """Frames that did not fit, or came after a failure: counted, and the first overflow told."""
        failed: str | None = None
        with self._lock:
            self._dropped_records += len(items)
            self._dropped_bytes += size
            if self._accepting:  # the queue is full: the disk is not keeping up
                self._accepting = False
                failed = "queue overflow: the disk is not keeping up"
                self._queue.append(FailureRecord(
                    "queue_overflow", failed, dropped_records=len(items), dropped_bytes=size,
                ))
                self._urgent = True
        if failed is not None:
            self._service.wake()
            self._fail(failed)

    def _fail(self, reason: str) -> None:
        """Record the first failure and tell the owner once (outside any lock)."""
        with self._lock:
            if self._failure is not None:
                return
            self._failure = reason
        logger.error("journal recording failed: session=%s reason=%s", self.session_id, reason)
        if self._on_failure is not None:
            try:
                self._on_failure(reason)
            except Exception:  # noqa: BLE001 - a broken callback must not kill the writer
                logger.exception("journal on_failure callback raised: session=%s", self.session_id)

    # --- the writer thread -------------------------------------------------------------------------

    def _due(self, now: float) -> bool:
        return self._urgent or self._closing or now >= self._deadline

    def _write_batch(self) -> bool:
        """Hand this tick's batch to the kernel; True if an fsync or the close must follow."""
        with self._lock:
            batch, self._queue = self._queue, []
            size, self._urgent = self._queued_bytes, False
            closing = self._closing
            self._deadline = _next_tick(time.monotonic(), self.flush_interval_s)
        if batch and not self._broken:
            try:
                self._emit(batch)
            except OSError as exc:
                self._break(exc)
            except Exception as exc:  # noqa: BLE001 - the thread must report, not die silently
                logger.exception("journal writer error: session=%s", self.session_id)
                self._break(OSError(errno.EIO, type(exc).__name__))
        with self._lock:
            self._queued_bytes -= size
        return closing or (bool(batch) and self.fsync != "never" and not self._broken)

    def _needs_sync(self) -> bool:
        return not self._broken and self._fd >= 0 and (self._closing or self.fsync != "never")

    def _finish_tick(self, covered: bool = False) -> None:
        """On the fsync thread: make what was written durable (unless a file-system sync of this
        tick ``covered`` it); end the journal once closed."""
        closing = self._closing
        if not self._broken and not covered:
            try:
                self._sync(force=closing)
            except OSError as exc:
                self._break(exc)
        if not closing:
            return
        with self._lock:
            if self._queue:  # the close came after this batch: written at the next tick
                return
        self._close_fd()
        self._finished = True
        self._done.set()

    def _break(self, exc: OSError) -> None:
        self._broken = True
        with self._lock:
            self._accepting = False
        self._close_fd()
        self._fail(_describe(exc))

    def _emit(self, batch: Sequence[_Queued]) -> None:
        """Seal ``batch`` into the current segment (rotating as needed) in large writes.

        Consecutive frames are sealed together in FRAMES records (as many as fit the segment,
        up to ``_BATCH_BYTES``): one AEAD call per flush of a call rather than one per frame.
        """
        assert self._seal is not None
        pending: list[bytes] = []
        pending_bytes = 0
        i = 0
        while i < len(batch):
            item = batch[i]
            if type(item) is tuple:
                room = self.segment_max_bytes - self._segment_bytes - pending_bytes - _FRAME_OVERHEAD - 1
                parts: list[bytes] = []
                size = 0
                while i < len(batch) and type(batch[i]) is tuple:
                    part = frame_part(*batch[i])  # type: ignore[misc]
                    if parts and size + len(part) > min(room, _BATCH_BYTES):
                        break
                    parts.append(part)
                    size += len(part)
                    i += 1
                plain = encode_frames(parts)
            else:
                i += 1
                try:
                    plain = encode_record(item)  # type: ignore[arg-type]
                except Exception as exc:  # noqa: BLE001 - an odd record becomes a recorded failure
                    plain = encode_record(FailureRecord("unencodable", type(exc).__name__))
            need = len(plain) + _FRAME_OVERHEAD
            if self._counter > 0 and self._segment_bytes + pending_bytes + need > self.segment_max_bytes:
                pending.append(self._frame(RotateRecord()))
                _write_all(self._fd, b"".join(pending))
                self._account(pending)
                pending, pending_bytes = [], 0
                self._sync(force=False)
                self._close_fd()
                self._start_segment(self._segment + 1)
            frame = encode_frame(self._seal.seal(self._segment, self._counter, plain))
            self._counter += 1
            pending.append(frame)
            pending_bytes += len(frame)
            if pending_bytes >= _WRITE_CHUNK:
                _write_all(self._fd, b"".join(pending))
                self._account(pending)
                pending, pending_bytes = [], 0
        if pending:
            _write_all(self._fd, b"".join(pending))
            self._account(pending)

    def _frame(self, item: JournalItem) -> bytes:
        assert self._seal is not None
        frame = encode_frame(self._seal.seal(self._segment, self._counter, encode_record(item)))
        self._counter += 1
        return frame

    def _account(self, frames: list[bytes]) -> None:
        n = sum(len(f) for f in frames)
        self._segment_bytes += n
        self.bytes_written += n
        self.records_written += len(frames)

    def _start_segment(self, number: int) -> None:
        path = self.session_dir / segment_name(number)
        self._fd = self._open_segment(path)
        self._segment, self._counter = number, 0
        assert self._seal is not None
        header = encode_header(number, self.session_id, self.key_ids, self._wrapped, self._seal.key_check())
        _write_all(self._fd, header)
        self._segment_bytes = len(header)
        self.bytes_written += len(header)
        if self.fsync != "never":
            os.fsync(self._fd)
            fsync_dir(self.session_dir)

    def _sync(self, *, force: bool) -> None:
        if self._fd >= 0 and (force or self.fsync != "never"):
            try:
                os.fsync(self._fd)
            except OSError as exc:
                if exc.errno != errno.EINVAL:  # special files (tests' /dev/full) cannot fsync
                    raise

    def _close_fd(self) -> None:
        if self._fd >= 0:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = -1
