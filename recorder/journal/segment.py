"""Journal segment format: header, record framing, record (de)serialization. Pure: bytes in/out.

A journal is a directory of segments ``seg-000001.rj``, ``seg-000002.rj``, ....
One segment::

    header   b"RECJRNL" version(u8=2) | segment (u32) | len (u16) session id (UTF-8)
             | len (u16) key ids (ASCII, comma separated) | len (u32) wrapped session key
             (an age v1 file to the archive recipients, see ``recorder.crypto.seal``)
             | key check (16 bytes, ``SessionSeal.key_check``)
    records  len (u32) | ChaCha20-Poly1305 ciphertext of one record (nonce = segment || counter,
             counter = the record's index in its segment, from 0)

All integers are big-endian in the framing. The first record of segment 1 is META; every
segment but the last ends with ROTATE; a journal closed cleanly ends with END. So a lost tail of
any segment, a missing segment, a reordered or dropped record is visible to the reader.

Record plaintext = kind (u8) + body. FRAMES holds forwarded messages, each as flags (u8:
direction, text or binary) | arrival ns (i64) | length (u32) | the message verbatim (little-
endian): the live path parses nothing, capture replays these at finalization. A flush seals a
call's frames together, so a torn tail loses at most that flush. Small records (META, CLOSE,
FAILURE, END) are JSON.

The decoder never raises on bad input: it returns the records of the clean prefix and a
``JournalTruncated`` (torn tail) or ``JournalCorrupt`` (bytes that fail authentication or do
not parse) naming the segment and the byte offset where trust ends.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from recorder.capture.records import CloseRecord, Direction
from recorder.crypto.seal import SealError, SessionSeal
from recorder.values import SafeRepr, frozen_value, secret_field
from recorder.journal.errors import JournalCorrupt, JournalTruncated

__all__ = [
    "EndRecord",
    "FailureRecord",
    "FrameBatch",
    "JournalItem",
    "MAGIC",
    "MetaRecord",
    "RawFrame",
    "RotateRecord",
    "SegmentHeader",
    "decode_header",
    "decode_record",
    "decode_records",
    "iter_records",
    "encode_frame",
    "encode_header",
    "encode_frames",
    "encode_record",
    "frame_part",
    "segment_name",
]

MAGIC = b"RECJRNL\x02"
MAX_RECORD = 1 << 28  # ciphertext bytes; anything longer is corruption, not a record
_HEAD = struct.Struct(">IH")  # segment, session id length
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_LEN = struct.Struct(">I")
_CHECK = 16

K_META, K_CLOSE, K_FAILURE, K_ROTATE, K_END, K_FRAMES = 1, 4, 5, 6, 7, 8
_S2C, _BYTES = 1, 2
_PART = struct.Struct("<BqI")  # flags, arrival (ns since the call was accepted), length


@frozen_value
class RawFrame(SafeRepr):
    """One forwarded message exactly as it crossed the proxy, stamped on arrival."""

    direction: Direction
    arrival_ns: int
    message: str | bytes = secret_field()



@frozen_value
class MetaRecord(SafeRepr):
    """First record of a journal: what the proxy knows at accept time (never secrets)."""

    meta: dict[str, Any] = field(default_factory=dict, metadata={"secret": True})


@frozen_value
class FailureRecord(SafeRepr):
    """Recording failed or degraded here: disk full, queue overflow, policy ``continue``...

    ``reason`` is a short code (``queue_overflow``, ``write_error``, ``policy_continue``);
    ``dropped_records``/``dropped_bytes`` count what was handed to the writer but not recorded.
    """

    reason: str
    detail: str = ""
    arrival_ns: int | None = None
    dropped_records: int = 0
    dropped_bytes: int = 0


@frozen_value
class RotateRecord(SafeRepr):
    """Last record of a full segment: the journal continues in the next one."""


@frozen_value
class EndRecord(SafeRepr):
    """The writer closed cleanly; ``end_meta`` is what the proxy knew at the end (CallMeta)."""

    end_meta: dict[str, Any] | None = field(default=None, metadata={"secret": True})


@frozen_value
class FrameBatch(SafeRepr):
    """Frames sealed as one record: what one flush of one call wrote (one AEAD call, not many)."""

    frames: tuple[RawFrame, ...]


JournalItem = MetaRecord | FrameBatch | CloseRecord | FailureRecord | RotateRecord | EndRecord


@dataclass(frozen=True, slots=True)
class SegmentHeader:
    segment: int
    session_id: str
    key_ids: tuple[str, ...]
    wrapped_key: bytes = field(repr=False)
    key_check: bytes = field(repr=False)
    size: int = 0  # bytes the header takes at the start of the file


def segment_name(segment: int) -> str:
    return f"seg-{segment:06d}.rj"


# --- header and framing -----------------------------------------------------------------------


def encode_header(
    segment: int, session_id: str, key_ids: tuple[str, ...], wrapped_key: bytes, key_check: bytes
) -> bytes:
    sid = session_id.encode("utf-8", "surrogatepass")
    ids = ",".join(key_ids).encode("ascii")
    if len(key_check) != _CHECK:
        raise ValueError("key check is 16 bytes")
    return b"".join((
        MAGIC, _HEAD.pack(segment, len(sid)), sid, _U16.pack(len(ids)), ids,
        _U32.pack(len(wrapped_key)), wrapped_key, key_check,
    ))


def decode_header(data: bytes | memoryview, segment: int) -> SegmentHeader | JournalTruncated:
    """The header at the start of ``data``, or where and why it cannot be read."""
    view = memoryview(data)
    if len(view) < len(MAGIC):
        if bytes(view) != MAGIC[: len(view)]:
            return JournalCorrupt(segment, 0, "not a journal segment")
        return JournalTruncated(segment, 0, "torn segment header")
    if bytes(view[: len(MAGIC)]) != MAGIC:
        if bytes(view[:7]) == MAGIC[:7]:
            return JournalCorrupt(segment, 0, f"unsupported journal version {view[7]}")
        return JournalCorrupt(segment, 0, "not a journal segment")
    pos = len(MAGIC)
    try:
        number, sid_len = _HEAD.unpack_from(view, pos)
        pos += _HEAD.size
        sid = _take(view, pos, sid_len).decode("utf-8", "surrogatepass")
        pos += sid_len
        (ids_len,) = _U16.unpack_from(view, pos)
        pos += _U16.size
        ids = _take(view, pos, ids_len).decode("ascii")
        pos += ids_len
        (blob_len,) = _U32.unpack_from(view, pos)
        pos += _U32.size
        blob = _take(view, pos, blob_len)
        pos += blob_len
        check = _take(view, pos, _CHECK)
        pos += _CHECK
    except (struct.error, _Short):
        return JournalTruncated(segment, 0, "torn segment header")
    except UnicodeDecodeError:
        return JournalCorrupt(segment, 0, "malformed segment header")
    if number != segment:
        return JournalCorrupt(segment, 0, f"header says segment {number}")
    key_ids = tuple(ids.split(",")) if ids else ()
    return SegmentHeader(number, sid, key_ids, blob, check, pos)


class _Short(Exception):
    pass


def _take(view: memoryview, pos: int, n: int) -> bytes:
    if pos + n > len(view):
        raise _Short
    return bytes(view[pos : pos + n])


def encode_frame(ciphertext: bytes) -> bytes:
    return _LEN.pack(len(ciphertext)) + ciphertext


def decode_records(
    data: bytes | memoryview, header: SegmentHeader, seal: SessionSeal, *, name: str = "<segment>"
) -> tuple[list[JournalItem], JournalTruncated | None]:
    """Every record after the header up to the first that is torn or fails; and that stop."""
    stream = io.BytesIO(bytes(data))
    stream.seek(header.size)
    out: list[JournalItem] = []
    for item in iter_records(stream, header, seal, name=name):
        if isinstance(item, JournalTruncated):
            return out, item
        out.append(item)
    return out, None


def iter_records(
    stream: BinaryIO, header: SegmentHeader, seal: SessionSeal, *, name: str = "<segment>"
) -> Iterator[JournalItem | JournalTruncated]:
    """Records read one at a time from ``stream`` (positioned after the header).

    Ends at the end of the data, or with a ``JournalTruncated``/``JournalCorrupt`` naming where
    trust ends; bytes after an END or ROTATE record are corrupt: nothing may follow them. Holds
    one record in memory at a time.
    """
    seg = header.segment
    pos = header.size
    counter = 0
    last: JournalItem | None = None
    while True:
        prefix = stream.read(_LEN.size)
        if not prefix:
            return
        if isinstance(last, EndRecord | RotateRecord):
            yield JournalCorrupt(seg, pos, "bytes after the last record of the segment")
            return
        if len(prefix) < _LEN.size:
            yield JournalTruncated(seg, pos, "torn record length")
            return
        (n,) = _LEN.unpack(prefix)
        if n > MAX_RECORD or n < 17:
            yield JournalCorrupt(seg, pos, f"impossible record length {n}")
            return
        body = stream.read(n)
        if len(body) < n:
            yield JournalTruncated(seg, pos, "torn record")
            return
        try:
            plain = seal.open(seg, counter, body, name=name)
        except SealError:
            yield JournalCorrupt(seg, pos, "record failed authentication")
            return
        try:
            last = decode_record(plain)
        except _Malformed as exc:
            yield JournalCorrupt(seg, pos, f"malformed record: {exc}")
            return
        yield last
        counter += 1
        pos += _LEN.size + n


# --- records ----------------------------------------------------------------------------------


class _Malformed(Exception):
    pass


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=str).encode("utf-8")


def frame_part(direction: Direction, arrival_ns: int, message: str | bytes) -> bytes:
    """One forwarded frame inside a FRAMES record: flags, arrival time, length, the message."""
    if isinstance(message, str):
        payload = message.encode("utf-8", "surrogatepass")
        flags = _S2C if direction is Direction.S2C else 0
    else:
        payload = bytes(message)
        flags = (_S2C if direction is Direction.S2C else 0) | _BYTES
    return _PART.pack(flags, arrival_ns, len(payload)) + payload


def encode_frames(parts: list[bytes]) -> bytes:
    """The plaintext of a FRAMES record from ``frame_part``s."""
    return bytes((K_FRAMES,)) + b"".join(parts)


def _decode_frames(data: bytes) -> FrameBatch:
    frames: list[RawFrame] = []
    pos, end = 1, len(data)
    while pos < end:
        flags, arrival, n = _PART.unpack_from(data, pos)
        pos += _PART.size
        if pos + n > end:
            raise _Malformed("frame runs past the record")
        body = data[pos : pos + n]
        pos += n
        message: str | bytes = body if flags & _BYTES else body.decode("utf-8", "surrogatepass")
        frames.append(RawFrame(Direction.S2C if flags & _S2C else Direction.C2S, arrival, message))
    if not frames:
        raise _Malformed("a FRAMES record without frames")
    return FrameBatch(tuple(frames))


def _close_fields(r: CloseRecord) -> dict[str, Any]:
    closed_by = None if r.closed_by is None else Direction(r.closed_by).value
    return {"arrival_ns": r.arrival_ns, "code": r.code, "reason": r.reason, "closed_by": closed_by}


def encode_record(record: JournalItem) -> bytes:
    """The plaintext of one record (sealed by the writer)."""
    if isinstance(record, FrameBatch):
        return encode_frames([frame_part(f.direction, f.arrival_ns, f.message) for f in record.frames])
    if isinstance(record, MetaRecord):
        return bytes((K_META,)) + _json(record.meta)
    if isinstance(record, CloseRecord):
        return bytes((K_CLOSE,)) + _json(_close_fields(record))
    if isinstance(record, FailureRecord):
        doc = {
            "reason": record.reason, "detail": record.detail, "arrival_ns": record.arrival_ns,
            "dropped_records": record.dropped_records, "dropped_bytes": record.dropped_bytes,
        }
        return bytes((K_FAILURE,)) + _json(doc)
    if isinstance(record, RotateRecord):
        return bytes((K_ROTATE,))
    if isinstance(record, EndRecord):
        return bytes((K_END,)) + _json(record.end_meta)
    raise TypeError(f"not a journal record: {type(record).__name__}")


def decode_record(plain: bytes) -> JournalItem:
    """Inverse of ``encode_record``; raises ``_Malformed`` (reported as corruption) otherwise."""
    if not plain:
        raise _Malformed("empty record")
    kind = plain[0]
    try:
        if kind == K_FRAMES:
            return _decode_frames(plain)
        if kind == K_ROTATE and len(plain) == 1:
            return RotateRecord()
        doc = json.loads(plain[1:]) if kind in (K_META, K_CLOSE, K_FAILURE, K_END) else None
        if kind == K_META and isinstance(doc, dict):
            return MetaRecord(doc)
        if kind == K_CLOSE and isinstance(doc, dict):
            closed_by = doc["closed_by"]
            return CloseRecord(
                doc["arrival_ns"], doc["code"], doc["reason"],
                None if closed_by is None else Direction(closed_by),
            )
        if kind == K_FAILURE and isinstance(doc, dict):
            return FailureRecord(**doc)
        if kind == K_END and (doc is None or isinstance(doc, dict)):
            return EndRecord(doc)
    except (struct.error, ValueError, KeyError, TypeError) as exc:
        raise _Malformed(f"kind {kind}: {type(exc).__name__}") from None
    raise _Malformed(f"unknown record kind {kind}")
