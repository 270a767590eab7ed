"""Journal segment format: header, record framing, record (de)serialization. Pure: bytes in/out.

A journal is a directory of segments ``seg-000001.rj``, ``seg-000002.rj``, ... (DESIGN.md
"Journal"; issue4-design.md "Journal"). One segment::

    header   b"RECJRNL" version(u8=1) | segment (u32) | len (u16) session id (UTF-8)
             | len (u16) key ids (ASCII, comma separated) | len (u32) wrapped session key
             (an age v1 file to the archive recipients, see ``recorder.crypto.seal``)
             | key check (16 bytes, ``SessionSeal.key_check``)
    records  len (u32) | ChaCha20-Poly1305 ciphertext of one record (nonce = segment || counter,
             counter = the record's index in its segment, from 0)

All integers are big-endian in the framing. The first record of segment 1 is META; every
segment but the last ends with ROTATE; a journal closed cleanly ends with END. So a lost tail of
any segment, a missing segment, a reordered or dropped record is visible to the reader.

Record plaintext = kind (u8) + body. AUDIO and FRAME bodies are a little-endian ``struct``
head, length-prefixed optional strings (u32, 0xFFFFFFFF = None) and the raw payload (PCM bytes
or the verbatim frame) to the end; the rare record whose integers do not fit the head is
written as AUDIO_JSON / FRAME_JSON (a JSON head, then the payload). Small records are JSON.

The decoder never raises on bad input: it returns the records of the clean prefix and a
``JournalTruncated`` (torn tail) or ``JournalCorrupt`` (bytes that fail authentication or do
not parse) naming the segment and the byte offset where trust ends.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any

from recorder.capture.records import AudioRecord, CloseRecord, Direction, FrameRecord
from recorder.crypto.seal import SealError, SessionSeal
from recorder.hydra.events import SafeRepr, frozen_value
from recorder.journal.errors import JournalCorrupt, JournalTruncated

__all__ = [
    "EndRecord",
    "FailureRecord",
    "JournalItem",
    "MAGIC",
    "MetaRecord",
    "RotateRecord",
    "SegmentHeader",
    "decode_header",
    "decode_record",
    "decode_records",
    "encode_frame",
    "encode_header",
    "encode_record",
    "segment_name",
]

MAGIC = b"RECJRNL\x01"
MAX_RECORD = 1 << 28  # ciphertext bytes; anything longer is corruption, not a record
_HEAD = struct.Struct(">IH")  # segment, session id length
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_LEN = struct.Struct(">I")
_STR = struct.Struct("<I")
_NONE = 0xFFFF_FFFF
_CHECK = 16
_AUDIO = struct.Struct("<qqIqqqqB")  # seq, arrival, rate, start, length, out idx, content idx, flags
_FRAME = struct.Struct("<qqB")  # seq, arrival, flags

K_META, K_AUDIO, K_FRAME, K_CLOSE, K_FAILURE, K_ROTATE, K_END = 1, 2, 3, 4, 5, 6, 7
K_AUDIO_JSON, K_FRAME_JSON = 0x12, 0x13

_S2C, _BEFORE, _DISCARDED, _HAS_OUT, _HAS_CONTENT = 1, 2, 4, 8, 16
_BYTES, _UNKNOWN = 2, 4



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


JournalItem = MetaRecord | AudioRecord | FrameRecord | CloseRecord | FailureRecord | RotateRecord | EndRecord


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
    """Every record after the header up to the first that is torn or fails; and that stop.

    Stops without a report at the end of the data, or right after an END or ROTATE record
    (bytes after those are reported as corrupt: nothing may follow them).
    """
    view = memoryview(data)
    seg = header.segment
    pos = header.size
    out: list[JournalItem] = []
    counter = 0
    end = len(view)
    while pos < end:
        if out and isinstance(out[-1], EndRecord | RotateRecord):
            return out, JournalCorrupt(seg, pos, "bytes after the last record of the segment")
        if pos + _LEN.size > end:
            return out, JournalTruncated(seg, pos, "torn record length")
        (n,) = _LEN.unpack_from(view, pos)
        if n > MAX_RECORD or n < 17:
            return out, JournalCorrupt(seg, pos, f"impossible record length {n}")
        if pos + _LEN.size + n > end:
            return out, JournalTruncated(seg, pos, "torn record")
        body = bytes(view[pos + _LEN.size : pos + _LEN.size + n])
        try:
            plain = seal.open(seg, counter, body, name=name)
        except SealError:
            return out, JournalCorrupt(seg, pos, "record failed authentication")
        try:
            out.append(decode_record(plain))
        except _Malformed as exc:
            return out, JournalCorrupt(seg, pos, f"malformed record: {exc}")
        counter += 1
        pos += _LEN.size + n
    return out, None


# --- records ----------------------------------------------------------------------------------


class _Malformed(Exception):
    pass


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=str).encode("utf-8")


def _put_str(parts: list[bytes], value: str | None) -> None:
    if value is None:
        parts.append(_STR.pack(_NONE))
    else:
        raw = value.encode("utf-8", "surrogatepass")
        parts.append(_STR.pack(len(raw)))
        parts.append(raw)


def _get_str(data: bytes, pos: int) -> tuple[str | None, int]:
    (n,) = _STR.unpack_from(data, pos)
    pos += _STR.size
    if n == _NONE:
        return None, pos
    if pos + n > len(data):
        raise _Malformed("string runs past the record")
    return data[pos : pos + n].decode("utf-8", "surrogatepass"), pos + n


def _encode_audio(r: AudioRecord) -> bytes:
    flags = (
        (_S2C if r.direction is Direction.S2C else 0)
        | (_BEFORE if r.before_configured else 0)
        | (_DISCARDED if r.discarded else 0)
        | (_HAS_OUT if r.output_index is not None else 0)
        | (_HAS_CONTENT if r.content_index is not None else 0)
    )
    try:
        head = _AUDIO.pack(
            r.seq, r.arrival_ns, r.sample_rate, r.start, r.length,
            r.output_index or 0, r.content_index or 0, flags,
        )
    except struct.error:
        return _encode_json_head(K_AUDIO_JSON, r, r.pcm)
    parts = [bytes((K_AUDIO,)), head]
    _put_str(parts, r.event_id)
    _put_str(parts, r.response_id)
    _put_str(parts, r.item_id)
    parts.append(r.pcm)
    return b"".join(parts)


def _decode_audio(data: bytes) -> AudioRecord:
    seq, arrival, rate, start, length, out_idx, content_idx, flags = _AUDIO.unpack_from(data, 1)
    event_id, pos = _get_str(data, 1 + _AUDIO.size)
    response_id, pos = _get_str(data, pos)
    item_id, pos = _get_str(data, pos)
    return AudioRecord(
        seq, Direction.S2C if flags & _S2C else Direction.C2S, arrival, data[pos:], rate, start,
        length, event_id=event_id, response_id=response_id, item_id=item_id,
        output_index=out_idx if flags & _HAS_OUT else None,
        content_index=content_idx if flags & _HAS_CONTENT else None,
        before_configured=bool(flags & _BEFORE), discarded=bool(flags & _DISCARDED),
    )


def _encode_frame_record(r: FrameRecord) -> bytes:
    is_bytes = isinstance(r.message, bytes)
    flags = (
        (_S2C if r.direction is Direction.S2C else 0)
        | (_BYTES if is_bytes else 0)
        | (_UNKNOWN if r.unknown else 0)
    )
    try:
        head = _FRAME.pack(r.seq, r.arrival_ns, flags)
    except struct.error:
        return _encode_json_head(K_FRAME_JSON, r, r.message)
    parts = [bytes((K_FRAME,)), head]
    _put_str(parts, r.type)
    _put_str(parts, r.unparsed)
    message = r.message
    parts.append(bytes(message) if isinstance(message, bytes) else message.encode("utf-8", "surrogatepass"))
    return b"".join(parts)


def _decode_frame_record(data: bytes) -> FrameRecord:
    seq, arrival, flags = _FRAME.unpack_from(data, 1)
    kind, pos = _get_str(data, 1 + _FRAME.size)
    unparsed, pos = _get_str(data, pos)
    raw = data[pos:]
    message: str | bytes = raw if flags & _BYTES else raw.decode("utf-8", "surrogatepass")
    direction = Direction.S2C if flags & _S2C else Direction.C2S
    return FrameRecord(seq, direction, arrival, message, kind, unparsed, bool(flags & _UNKNOWN))


_AUDIO_FIELDS = (
    "seq", "direction", "arrival_ns", "sample_rate", "start", "length", "event_id", "response_id",
    "item_id", "output_index", "content_index", "before_configured", "discarded",
)
_FRAME_FIELDS = ("seq", "direction", "arrival_ns", "type", "unparsed", "unknown")


def _encode_json_head(kind: int, r: AudioRecord | FrameRecord, payload: str | bytes) -> bytes:
    """Fallback for integers that do not fit the struct head (never seen from sane peers)."""
    names = _AUDIO_FIELDS if kind == K_AUDIO_JSON else _FRAME_FIELDS
    head: dict[str, Any] = {n: getattr(r, n) for n in names}
    head["direction"] = Direction(r.direction).value
    if isinstance(payload, str):
        head["text"] = True
        payload = payload.encode("utf-8", "surrogatepass")
    raw = _json(head)
    return bytes((kind,)) + _U32.pack(len(raw)) + raw + bytes(payload)


def _decode_json_head(kind: int, data: bytes) -> AudioRecord | FrameRecord:
    (n,) = _U32.unpack_from(data, 1)
    head = json.loads(data[5 : 5 + n])
    payload = data[5 + n :]
    head["direction"] = Direction(head["direction"])
    if kind == K_AUDIO_JSON:
        return AudioRecord(pcm=payload, **{k: head[k] for k in _AUDIO_FIELDS})
    message: str | bytes = payload.decode("utf-8", "surrogatepass") if head.get("text") else payload
    return FrameRecord(message=message, **{k: head[k] for k in _FRAME_FIELDS})


def _close_fields(r: CloseRecord) -> dict[str, Any]:
    closed_by = None if r.closed_by is None else Direction(r.closed_by).value
    return {"arrival_ns": r.arrival_ns, "code": r.code, "reason": r.reason, "closed_by": closed_by}


def encode_record(record: JournalItem) -> bytes:
    """The plaintext of one record (sealed by the writer)."""
    if isinstance(record, AudioRecord):
        return _encode_audio(record)
    if isinstance(record, FrameRecord):
        return _encode_frame_record(record)
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
        if kind == K_AUDIO:
            return _decode_audio(plain)
        if kind == K_FRAME:
            return _decode_frame_record(plain)
        if kind in (K_AUDIO_JSON, K_FRAME_JSON):
            return _decode_json_head(kind, plain)
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
