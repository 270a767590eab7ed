"""Reading journals back: the clean prefix of a session's records, and where trust ends.

``JournalReader`` is what finalization (with the writer's in-memory ``session_key``) and
``recorder recover`` (with archive identities) use: it iterates records lazily, one segment file
open and one record in memory at a time, so a call of any length is read in bounded memory, and
it can iterate as often as asked (``frames()`` gives a fresh iterator each time). It never yields
a record that did not authenticate at its position, and it never raises because of a torn or
altered tail: ``scan()`` names a ``JournalTruncated``/``JournalCorrupt`` (segment and byte
offset) next to the small records. It raises only when nothing can be decrypted at all
(``JournalLocked``: wrong identity or key; ``JournalError``: no key given, unreadable directory).
``read_journal`` is the same, whole, in memory (for tests and small tools).
"""

from __future__ import annotations

import hmac
import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recorder.capture.records import CloseRecord
from recorder.crypto.age import Identity
from recorder.crypto.seal import SealError, SessionSeal
from recorder.journal.errors import (
    JournalCorrupt,
    JournalError,
    JournalLocked,
    JournalTruncated,
)
from recorder.journal.owner import OWNER_FILE
from recorder.journal.segment import (
    EndRecord,
    FailureRecord,
    FrameBatch,
    JournalItem,
    MetaRecord,
    RawFrame,
    RotateRecord,
    SegmentHeader,
    decode_header,
    iter_records,
)

__all__ = [
    "JournalContents",
    "JournalReader",
    "JournalScan",
    "delete_journal",
    "list_journals",
    "read_journal",
    "segment_files",
]

logger = logging.getLogger(__name__)

_SEGMENT_FILE = re.compile(r"seg-(\d{6})\.rj")
_HEADER_MAX = 1 << 20  # a segment header (with its wrapped key) is read whole, up to this


@dataclass(frozen=True, slots=True)
class JournalScan:
    """A journal's small records and its shape, from one pass that keeps no frame."""

    session_id: str
    meta: dict[str, Any] | None = field(repr=False)
    close: CloseRecord | None
    end_meta: dict[str, Any] | None = field(repr=False)
    failures: tuple[FailureRecord, ...]
    complete: bool  # the END marker was read and nothing is torn or altered
    truncated: JournalTruncated | None
    segments: int
    frames: int
    key_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class JournalContents:
    """Everything a journal holds that authenticated. ``complete``: the END marker was read."""

    session_id: str
    meta: dict[str, Any] | None = field(repr=False)
    records: tuple[RawFrame, ...] = field(repr=False)
    close: CloseRecord | None
    end_meta: dict[str, Any] | None = field(repr=False)
    failures: tuple[FailureRecord, ...]
    complete: bool
    truncated: JournalTruncated | None
    segments: int
    key_ids: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (
            f"JournalContents(session_id={self.session_id!r}, records={len(self.records)}, "
            f"complete={self.complete}, truncated={self.truncated!r}, failures={len(self.failures)}, "
            f"segments={self.segments})"
        )


def segment_files(session_dir: Path) -> list[tuple[int, Path]]:
    """``(number, path)`` of every segment file in ``session_dir``, by number."""
    out: list[tuple[int, Path]] = []
    for entry in os.scandir(session_dir):
        m = _SEGMENT_FILE.fullmatch(entry.name)
        if m and entry.is_file(follow_symlinks=False):
            out.append((int(m.group(1)), Path(entry.path)))
    return sorted(out)


def _read_head(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(_HEADER_MAX)


def _named(stop: JournalTruncated, path: Path) -> JournalTruncated:
    return type(stop)(stop.segment, stop.offset, stop.reason, path=str(path))


class JournalReader:
    """One journal, read lazily. Iterating never raises for a torn or altered tail."""

    def __init__(
        self,
        session_dir: Path,
        *,
        identities: Sequence[Identity] | None = None,
        session_key: bytes | None = None,
    ) -> None:
        self.session_dir = Path(session_dir)
        try:
            self._files = segment_files(self.session_dir)
            heads = [(n, p, _read_head(p)) for n, p in self._files]
        except OSError as exc:
            raise JournalError(str(self.session_dir), f"cannot read journal: {exc.strerror}") from exc
        self.session_id = self.session_dir.name
        self.key_ids: tuple[str, ...] = ()
        self._seal: SessionSeal | None = None
        self._first: SegmentHeader | None = None
        self._early_stop: JournalTruncated | None = None
        if not heads or heads[0][0] != 1:
            self._early_stop = JournalTruncated(1, 0, "segment missing", path=str(self.session_dir))
            return
        headers: list[tuple[Path, SegmentHeader]] = []
        for number, path, data in heads:
            header = decode_header(data, number)
            if isinstance(header, SegmentHeader):
                headers.append((path, header))
            elif number == 1:
                if header.reason.startswith("unsupported journal version"):
                    raise JournalError(str(path), f"{header.reason}: written by another version of "
                                       "recorder; recover it with that version (it is left as it is)")
                self._early_stop = _named(header, path)
                return
        self._first = headers[0][1]
        self.session_id = self._first.session_id
        self.key_ids = self._first.key_ids
        self._seal = self._seal_for(headers, identities, session_key)

    def _seal_for(
        self,
        headers: list[tuple[Path, SegmentHeader]],
        identities: Sequence[Identity] | None,
        session_key: bytes | None,
    ) -> SessionSeal:
        path, first = headers[0]
        if session_key is not None:
            try:
                seal = SessionSeal(session_key, first.session_id)
            except ValueError as exc:
                raise JournalLocked(str(self.session_dir), first.key_ids, f"bad session key: {exc}") from None
            if not hmac.compare_digest(seal.key_check(), first.key_check):
                raise JournalLocked(str(self.session_dir), first.key_ids, "the session key is not this journal's")
            return seal
        if not identities:
            raise JournalError(str(self.session_dir), "reading a journal needs archive identities or the session key")
        problem: SealError | None = None
        for seg_path, header in headers:  # every segment carries the wrapped key; any intact one will do
            try:
                seal = SessionSeal.unwrap(header.wrapped_key, identities, first.session_id, name=str(seg_path))
            except SealError as exc:
                problem = problem or exc
                continue
            if hmac.compare_digest(seal.key_check(), first.key_check):
                return seal
        reason = problem.reason if problem is not None else "the wrapped session key does not match"
        raise JournalLocked(str(path), first.key_ids, reason)

    def frames(self) -> Iterator[RawFrame]:
        """A fresh iterator over the forwarded frames of the clean prefix, in arrival order."""
        for item in self._walk(_Progress()):
            if isinstance(item, FrameBatch):
                yield from item.frames

    def scan(self) -> JournalScan:
        """One pass over the whole journal keeping only its small records."""
        progress = _Progress()
        meta: dict[str, Any] | None = None
        close: CloseRecord | None = None
        end: EndRecord | None = None
        failures: list[FailureRecord] = []
        frames = 0
        for item in self._walk(progress):
            if isinstance(item, FrameBatch):
                frames += len(item.frames)
            elif isinstance(item, MetaRecord):
                meta = item.meta
            elif isinstance(item, FailureRecord):
                failures.append(item)
            elif isinstance(item, CloseRecord):
                close = item
            elif isinstance(item, EndRecord):
                end = item
        if progress.stop is not None:
            logger.warning("journal %s: %s", self.session_dir, progress.stop)
        return JournalScan(
            session_id=self.session_id, meta=meta, close=close,
            end_meta=end.end_meta if end is not None else None, failures=tuple(failures),
            complete=end is not None and progress.stop is None, truncated=progress.stop,
            segments=progress.segments, frames=frames, key_ids=self.key_ids,
        )

    def _walk(self, progress: _Progress) -> Iterator[JournalItem]:
        if self._early_stop is not None or self._seal is None or self._first is None:
            progress.stop = self._early_stop
            return
        ended = False
        for index, (number, path) in enumerate(self._files):
            expected = index + 1
            if number != expected:
                progress.stop = JournalTruncated(expected, 0, "segment missing", path=str(self.session_dir))
                return
            if ended:
                progress.stop = JournalCorrupt(number, 0, "segment after the end marker", path=str(path))
                return
            try:
                stream = path.open("rb")
            except OSError as exc:
                progress.stop = JournalTruncated(number, 0, f"unreadable ({exc.strerror})", path=str(path))
                return
            with stream:
                header = decode_header(stream.read(_HEADER_MAX), number)
                if not isinstance(header, SegmentHeader):
                    progress.stop = _named(header, path)
                    return
                if header.session_id != self._first.session_id:
                    progress.stop = JournalCorrupt(number, 0, "segment of another session", path=str(path))
                    return
                progress.segments = number
                stream.seek(header.size)
                last: JournalItem | None = None
                for i, item in enumerate(iter_records(stream, header, self._seal, name=str(path))):
                    if isinstance(item, JournalTruncated):
                        progress.stop = _named(item, path)
                        return
                    if (number == 1 and i == 0) != isinstance(item, MetaRecord):
                        progress.stop = _named(
                            JournalCorrupt(number, header.size, "journal does not start with META"), path
                        )
                        return
                    last = item
                    ended = ended or isinstance(item, EndRecord)
                    if not isinstance(item, RotateRecord):
                        yield item
                size = stream.tell()
            if number == 1 and last is None:
                progress.stop = _named(JournalTruncated(1, header.size, "torn before the META record"), path)
                return
            rotated = isinstance(last, RotateRecord)
            more = index + 1 < len(self._files)
            if rotated and not more:
                progress.stop = JournalTruncated(number + 1, 0, "segment missing", path=str(self.session_dir))
            elif more and not rotated and not ended:
                progress.stop = JournalCorrupt(
                    number, size, "segment ends before its rotation marker", path=str(path)
                )
                return


@dataclass(slots=True)
class _Progress:
    stop: JournalTruncated | None = None
    segments: int = 0


def read_journal(
    session_dir: Path,
    *,
    identities: Sequence[Identity] | None = None,
    session_key: bytes | None = None,
) -> JournalContents:
    """The whole clean prefix of the journal in ``session_dir``, in memory."""
    reader = JournalReader(session_dir, identities=identities, session_key=session_key)
    scan = reader.scan()
    return JournalContents(
        session_id=scan.session_id, meta=scan.meta, records=tuple(reader.frames()),
        close=scan.close, end_meta=scan.end_meta, failures=scan.failures, complete=scan.complete,
        truncated=scan.truncated, segments=scan.segments, key_ids=scan.key_ids,
    )


def list_journals(spool_dir: Path) -> list[Path]:
    """Session directories under ``spool_dir`` (live or orphaned journals), by name."""
    spool_dir = Path(spool_dir)
    if not spool_dir.is_dir():
        return []
    return sorted(
        Path(e.path) for e in os.scandir(spool_dir)
        if e.is_dir(follow_symlinks=False) and not e.name.startswith(".")
    )


def delete_journal(session_dir: Path) -> None:
    """Remove a journal whose archive is durable. Refuses a directory holding other files."""
    session_dir = Path(session_dir)
    if not session_dir.exists():
        return
    try:
        names = set(os.listdir(session_dir))
        ours = {p.name for _, p in segment_files(session_dir)} | ({OWNER_FILE} & names)
        if names - ours:
            others = sorted(names - ours)
            raise JournalError(str(session_dir), f"holds files that are not segments ({others}); not deleting")
        for name in sorted(ours):
            (session_dir / name).unlink()
        session_dir.rmdir()
        fd = os.open(session_dir.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise JournalError(str(session_dir), f"cannot delete journal: {exc.strerror}") from exc
    logger.info("journal deleted: %s", session_dir)
