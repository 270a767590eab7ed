"""Reading journals back: the clean prefix of a session's records, and where trust ends.

``read_journal`` is what finalization (with the writer's in-memory ``session_key``) and
``recorder recover`` (with archive identities) call. It never returns a record that did not
authenticate at its position, and it never raises because of a torn or altered tail: it returns
what is intact and a ``JournalTruncated``/``JournalCorrupt`` naming the segment and byte offset.
It raises only when nothing can be decrypted at all (``JournalLocked``: wrong identity or key;
``JournalError``: no key given, unreadable directory).
"""

from __future__ import annotations

import hmac
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recorder.capture.records import AudioRecord, CloseRecord, FrameRecord
from recorder.crypto.age import Identity
from recorder.crypto.seal import SealError, SessionSeal
from recorder.journal.errors import (
    JournalCorrupt,
    JournalError,
    JournalLocked,
    JournalTruncated,
)
from recorder.journal.segment import (
    EndRecord,
    FailureRecord,
    MetaRecord,
    RotateRecord,
    SegmentHeader,
    decode_header,
    decode_records,
)

__all__ = ["JournalContents", "delete_journal", "list_journals", "read_journal", "segment_files"]

logger = logging.getLogger(__name__)

_SEGMENT_FILE = re.compile(r"seg-(\d{6})\.rj")


@dataclass(frozen=True, slots=True)
class JournalContents:
    """Everything a journal holds that authenticated. ``complete``: the END marker was read."""

    session_id: str
    meta: dict[str, Any] | None = field(repr=False)
    records: tuple[AudioRecord | FrameRecord, ...] = field(repr=False)
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


def _seal_for(
    session_dir: Path,
    headers: list[tuple[Path, SegmentHeader]],
    identities: Sequence[Identity] | None,
    session_key: bytes | None,
) -> SessionSeal:
    path, first = headers[0]
    if session_key is not None:
        try:
            seal = SessionSeal(session_key, first.session_id)
        except ValueError as exc:
            raise JournalLocked(str(session_dir), first.key_ids, f"bad session key: {exc}") from None
        if not hmac.compare_digest(seal.key_check(), first.key_check):
            raise JournalLocked(str(session_dir), first.key_ids, "the session key is not this journal's")
        return seal
    if not identities:
        raise JournalError(str(session_dir), "reading a journal needs archive identities or the session key")
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


def read_journal(
    session_dir: Path,
    *,
    identities: Sequence[Identity] | None = None,
    session_key: bytes | None = None,
) -> JournalContents:
    """The clean prefix of the journal in ``session_dir`` (see the module docstring)."""
    session_dir = Path(session_dir)
    try:
        files = segment_files(session_dir)
        blobs = [(n, p, p.read_bytes()) for n, p in files]
    except OSError as exc:
        raise JournalError(str(session_dir), f"cannot read journal: {exc.strerror}") from exc
    empty = JournalContents(session_dir.name, None, (), None, None, (), False, None, 0)
    if not blobs or blobs[0][0] != 1:
        return _replace(empty, truncated=JournalTruncated(1, 0, "segment missing", path=str(session_dir)))
    headers: list[tuple[Path, SegmentHeader]] = []
    first_stop: JournalTruncated | None = None
    for number, path, data in blobs:
        header = decode_header(data, number)
        if isinstance(header, SegmentHeader):
            headers.append((path, header))
        elif number == 1:
            first_stop = header
            break
    if first_stop is not None or not headers:
        return _replace(empty, truncated=_named(first_stop or JournalTruncated(1, 0), blobs[0][1]))
    seal = _seal_for(session_dir, headers, identities, session_key)
    return _walk(session_dir, blobs, seal, headers[0][1])


def _named(stop: JournalTruncated, path: Path) -> JournalTruncated:
    return type(stop)(stop.segment, stop.offset, stop.reason, path=str(path))


def _replace(c: JournalContents, **changes: Any) -> JournalContents:
    values = {name: getattr(c, name) for name in JournalContents.__dataclass_fields__}
    values.update(changes)
    return JournalContents(**values)


def _walk(
    session_dir: Path, blobs: list[tuple[int, Path, bytes]], seal: SessionSeal, first: SegmentHeader
) -> JournalContents:
    meta: dict[str, Any] | None = None
    records: list[AudioRecord | FrameRecord] = []
    failures: list[FailureRecord] = []
    close: CloseRecord | None = None
    end: EndRecord | None = None
    stop: JournalTruncated | None = None
    read = 0
    for index, (number, path, data) in enumerate(blobs):
        expected = index + 1
        if number != expected:
            stop = JournalTruncated(expected, 0, "segment missing", path=str(session_dir))
            break
        if end is not None:
            stop = JournalCorrupt(number, 0, "segment after the end marker", path=str(path))
            break
        header = decode_header(data, number)
        if not isinstance(header, SegmentHeader):
            stop = _named(header, path)
            break
        if header.session_id != first.session_id:
            stop = JournalCorrupt(number, 0, "segment of another session", path=str(path))
            break
        read = number
        items, seg_stop = decode_records(data, header, seal, name=str(path))
        for i, item in enumerate(items):
            if (number == 1 and i == 0) != isinstance(item, MetaRecord):
                seg_stop = JournalCorrupt(number, header.size, "journal does not start with META")
                break
            if isinstance(item, MetaRecord):
                meta = item.meta
            elif isinstance(item, AudioRecord | FrameRecord):
                records.append(item)
            elif isinstance(item, FailureRecord):
                failures.append(item)
            elif isinstance(item, CloseRecord):
                close = item
            elif isinstance(item, EndRecord):
                end = item
        if number == 1 and not items and seg_stop is None:
            seg_stop = JournalTruncated(1, header.size, "torn before the META record")
        if seg_stop is not None:
            stop = _named(seg_stop, path)
            break
        rotated = bool(items) and isinstance(items[-1], RotateRecord)
        more = index + 1 < len(blobs)
        if rotated and not more:
            stop = JournalTruncated(number + 1, 0, "segment missing", path=str(session_dir))
        elif more and not rotated and end is None:
            stop = JournalCorrupt(
                number, len(data), "segment ends before its rotation marker", path=str(path)
            )
            break
    if stop is not None:
        logger.warning("journal %s: %s", session_dir, stop)
    return JournalContents(
        session_id=first.session_id,
        meta=meta,
        records=tuple(records),
        close=close,
        end_meta=end.end_meta if end is not None else None,
        failures=tuple(failures),
        complete=end is not None and stop is None,
        truncated=stop,
        segments=read,
        key_ids=first.key_ids,
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
        ours = {p.name for _, p in segment_files(session_dir)}
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
