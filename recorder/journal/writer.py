"""The journal writer: a background thread that seals and appends records off the forwarding path.

Contract (DESIGN.md "Journal", issue4-design.md "Journal"):

- ``open()`` is synchronous: it creates ``spool_dir/<session_id>/``, draws the session key,
  writes segment 1 (header + META record) and makes it durable before returning, or raises
  ``JournalError``. Only then does forwarding start.
- ``append(records)`` never blocks on disk and never raises: it queues the records under a lock
  (bounded by ``queue_max_bytes``). Timeline records are derived facts and are skipped (capture
  rebuilds them on replay). Overflow is a *recorded* failure: a ``FailureRecord`` is queued in
  place of the records that did not fit, ``failure`` is set, ``on_failure`` fires, and later
  audio/frame records are counted, not written.
- The thread wakes at least every ``flush_interval_s``, seals the batch and hands it to the
  kernel in large ``os.write`` calls (which release the GIL), so a process crash loses at most
  one flush interval. ``fsync``: ``"always"`` wakes on every append and fsyncs each batch;
  ``"interval"`` fsyncs each batch (at most once per interval); ``"never"`` leaves it to the
  kernel (a power loss may lose more; a process crash does not). ``close`` always fsyncs.
- A full segment ends with ROTATE and the next one starts with its own header.
- Any write error (disk full, I/O error, vanished directory) sets ``failure`` and stops writing:
  what was written stays readable up to the last whole record. ``on_failure(reason)`` is called
  exactly once, from whichever thread noticed (the writer thread, or the caller of ``append`` on
  overflow): it must be thread-safe and quick (e.g. ``loop.call_soon_threadsafe``).
- ``close(close_record, end_meta)`` queues the close and the END marker, flushes, fsyncs and
  joins: it blocks for up to one write + fsync, so an asyncio shell calls it through
  ``asyncio.to_thread``. ``session_key`` stays in memory so the proxy can read its own journal
  back. ``abandon()`` stops without the END marker (what a crash leaves; for tests).
"""

from __future__ import annotations

import errno
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from recorder.capture.records import AudioRecord, CloseRecord, FrameRecord
from recorder.crypto.age import Recipient, recipient_key_ids
from recorder.crypto.seal import SessionSeal
from recorder.durable import fsync_dir
from recorder.journal.errors import JournalError
from recorder.journal.segment import (
    EndRecord,
    FailureRecord,
    JournalItem,
    MetaRecord,
    RotateRecord,
    encode_frame,
    encode_header,
    encode_record,
    segment_name,
)

__all__ = ["FsyncPolicy", "JournalWriter", "FSYNC_POLICIES"]

logger = logging.getLogger(__name__)

FsyncPolicy = Literal["always", "interval", "never"]
FSYNC_POLICIES: tuple[FsyncPolicy, ...] = ("always", "interval", "never")
Rng = Callable[[int], bytes]
SegmentOpener = Callable[[Path], int]

_SESSION_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_OVERHEAD = 64  # queue accounting per record beyond its payload
_WRITE_CHUNK = 1 << 20  # hand the kernel about this much per os.write
_WAKE_BYTES = 4 << 20  # a queue this large is written at once, not at the next tick
_FRAME_OVERHEAD = 4 + 16  # length prefix + AEAD tag


def _default_opener(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o600)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        if n <= 0:
            raise OSError(errno.EIO, "short write")
        view = view[n:]


def _describe(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"disk full ({exc.strerror})"
    return f"write failed ({exc.strerror or type(exc).__name__})"


def _size(record: object) -> int | None:
    """Queue cost of a record, or None for records the journal does not keep."""
    if isinstance(record, AudioRecord):
        return len(record.pcm) + _OVERHEAD
    if isinstance(record, FrameRecord):
        return len(record.message) + _OVERHEAD
    if isinstance(record, CloseRecord | FailureRecord):
        return _OVERHEAD
    return None


class JournalWriter:
    """One session's journal. Create, ``open()``, ``append`` from the relay, ``close`` at the end."""

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
        self._seal: SessionSeal | None = None
        self._wrapped = b""
        self._cond = threading.Condition(threading.Lock())
        self._queue: list[JournalItem] = []
        self._queued_bytes = 0
        self._urgent = False
        self._closing = False
        self._accepting = False
        self._broken = False
        self._failure: str | None = None
        self._dropped_records = 0
        self._dropped_bytes = 0
        self._thread: threading.Thread | None = None
        self._fd = -1
        self._segment = 0
        self._counter = 0
        self._segment_bytes = 0
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
        """None while every record handed over is being recorded; else why recording failed."""
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
        if self._thread is not None or self._closing:
            raise JournalError(str(self.session_dir), "journal writer was already opened")
        try:
            self.spool_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                self.session_dir.mkdir(mode=0o700)
            except FileExistsError as exc:
                raise JournalError(str(self.session_dir), "a journal for this session exists") from exc
            if self.fsync != "never":
                fsync_dir(self.spool_dir)
            self._seal = SessionSeal.generate(self.session_id, self._rng)
            self._wrapped = self._seal.wrap(self._recipients, self._rng)
            self._start_segment(1)
            self._emit([MetaRecord(self._meta)])
            self._sync(force=True)
        except OSError as exc:
            self._close_fd()
            raise JournalError(str(self.session_dir), f"cannot create journal: {_describe(exc)}") from exc
        except (ValueError, TypeError) as exc:
            self._close_fd()
            raise JournalError(str(self.session_dir), f"cannot create journal: {exc}") from exc
        self._accepting = True
        self._thread = threading.Thread(
            target=self._run, name=f"journal-{self.session_id}", daemon=True
        )
        self._thread.start()
        logger.info(
            "journal opened: session=%s dir=%s fsync=%s", self.session_id, self.session_dir, self.fsync
        )
        return self

    def append(self, records: Iterable[object]) -> None:
        """Queue records for the writer thread. Never blocks on I/O, never raises."""
        try:
            items: list[JournalItem] = []
            size = 0
            for record in records:
                cost = _size(record)
                if cost is not None:
                    items.append(record)  # type: ignore[arg-type]
                    size += cost
            if items:
                self._enqueue(items, size)
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
        """Write the close, the END marker, fsync, join the thread. Returns ``failure``."""
        with self._cond:
            if self._closing or self._thread is None:
                return self._failure
            self._accepting = False
            tail: list[JournalItem] = []
            if self._dropped_records:
                tail.append(FailureRecord(  # totals, the overflowing records included
                    "not_recorded", "records handed to the journal that were not recorded",
                    dropped_records=self._dropped_records, dropped_bytes=self._dropped_bytes,
                ))
            if close_record is not None:
                tail.append(close_record)
            tail.append(EndRecord(None if end_meta is None else dict(end_meta)))
            self._queue.extend(tail)
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("journal close timed out: session=%s", self.session_id)
        logger.info(
            "journal closed: session=%s segments=%d records=%d bytes=%d failure=%s",
            self.session_id, self._segment, self.records_written, self.bytes_written, self._failure,
        )
        return self._failure

    def abandon(self) -> None:
        """Stop without writing the END marker, as a crash would (queued records are written)."""
        with self._cond:
            if self._closing or self._thread is None:
                return
            self._accepting = False
            self._closing = True
            self._cond.notify()
        self._thread.join()

    # --- queue (any thread) ----------------------------------------------------------------------

    def _enqueue(self, items: list[JournalItem], size: int) -> None:
        failed: str | None = None
        with self._cond:
            if not self._accepting:
                kept = [r for r in items if isinstance(r, FailureRecord | CloseRecord)]
                if kept and not self._closing:
                    self._queue.extend(kept)
                self._dropped_records += len(items) - len(kept)
                self._dropped_bytes += size - _OVERHEAD * len(kept)
                return
            if self._queued_bytes + size > self.queue_max_bytes:
                self._accepting = False
                self._dropped_records += len(items)
                self._dropped_bytes += size
                failed = "queue overflow: the disk is not keeping up"
                self._queue.append(FailureRecord(
                    "queue_overflow", failed, dropped_records=len(items), dropped_bytes=size,
                ))
                self._urgent = True
                self._cond.notify()
            else:
                self._queue.extend(items)
                self._queued_bytes += size
                if self.fsync == "always" or self._queued_bytes >= _WAKE_BYTES:
                    self._urgent = True
                    self._cond.notify()
        if failed is not None:
            self._fail(failed)

    def _fail(self, reason: str) -> None:
        """Record the first failure and tell the owner once (outside any lock)."""
        with self._cond:
            if self._failure is not None:
                return
            self._failure = reason
        logger.error("journal recording failed: session=%s reason=%s", self.session_id, reason)
        if self._on_failure is not None:
            try:
                self._on_failure(reason)
            except Exception:  # noqa: BLE001 - a broken callback must not kill the writer
                logger.exception("journal on_failure callback raised: session=%s", self.session_id)

    # --- writer thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        deadline = time.monotonic() + self.flush_interval_s
        while True:
            with self._cond:
                while not (self._closing or self._urgent):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                batch, self._queue = self._queue, []
                size, self._urgent = self._queued_bytes, False
                closing = self._closing
            deadline = time.monotonic() + self.flush_interval_s
            if batch and not self._broken:
                try:
                    self._emit(batch)
                    self._sync(force=closing)
                except OSError as exc:
                    self._break(exc)
                except Exception as exc:  # noqa: BLE001 - the thread must report, not die silently
                    logger.exception("journal writer error: session=%s", self.session_id)
                    self._break(OSError(errno.EIO, type(exc).__name__))
            elif closing and not self._broken:
                try:
                    self._sync(force=True)
                except OSError as exc:
                    self._break(exc)
            with self._cond:
                self._queued_bytes -= size
            if closing:
                self._close_fd()
                return

    def _break(self, exc: OSError) -> None:
        self._broken = True
        with self._cond:
            self._accepting = False
        self._close_fd()
        self._fail(_describe(exc))

    def _emit(self, batch: list[JournalItem]) -> None:
        """Seal ``batch`` into the current segment (rotating as needed) in large writes."""
        assert self._seal is not None
        pending: list[bytes] = []
        pending_bytes = 0
        for item in batch:
            try:
                plain = encode_record(item)
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
