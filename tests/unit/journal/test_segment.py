"""Record round trips and the clean-prefix law of the segment decoder (pure: no writer, no disk)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.capture.records import CloseRecord, Direction
from recorder.crypto.seal import SessionSeal
from recorder.journal import JournalCorrupt, JournalTruncated
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
    decode_record,
    decode_records,
    encode_frame,
    encode_header,
    encode_record,
)
from tests.unit.journal.helpers import META, sample_records

SEAL = SessionSeal(bytes(range(32)), "sess_1")
ints = st.integers(-(2**63), 2**63 - 1)
text = st.text(max_size=20)
opt_text = st.none() | text
directions = st.sampled_from(list(Direction))

raws = st.builds(
    RawFrame, direction=directions, arrival_ns=ints,
    message=st.text(max_size=40) | st.binary(max_size=40),
)
batches = st.lists(raws, min_size=1, max_size=4).map(lambda frames: FrameBatch(tuple(frames)))
closes = st.builds(CloseRecord, arrival_ns=ints, code=st.none() | st.integers(0, 4999), reason=opt_text,
                   closed_by=st.none() | directions)
failures = st.builds(FailureRecord, reason=text, detail=text, arrival_ns=st.none() | ints,
                     dropped_records=st.integers(0, 10**6), dropped_bytes=st.integers(0, 10**9))
items = st.one_of(batches, closes, failures)


def segment(records: list[JournalItem], number: int = 1) -> tuple[bytes, list[int]]:
    """A segment holding ``records`` and the byte offset where each record starts."""
    out = bytearray(encode_header(number, SEAL.session_id, ("k_1",), b"wrapped", SEAL.key_check()))
    starts = []
    for counter, record in enumerate(records):
        starts.append(len(out))
        out += encode_frame(SEAL.seal(number, counter, encode_record(record)))
    return bytes(out), starts


def header_of(data: bytes) -> SegmentHeader:
    header = decode_header(data, 1)
    assert isinstance(header, SegmentHeader)
    return header


# --- round trips --------------------------------------------------------------------------------


@given(items)
def test_every_record_kind_round_trips_exactly(record: JournalItem) -> None:
    back = decode_record(encode_record(record))
    assert back == record
    assert type(back) is type(record)
    if isinstance(record, FrameBatch):
        assert [type(f.message) for f in back.frames] == [type(f.message) for f in record.frames]  # type: ignore[union-attr]


def test_fixed_records_and_markers_round_trip() -> None:
    fixed: list[JournalItem] = [
        MetaRecord(dict(META)), FrameBatch(tuple(sample_records())), CloseRecord(5, 1000, "bye", Direction.S2C),
        FailureRecord("queue_overflow", "slow disk", 7, 3, 1920), RotateRecord(),
        EndRecord({"state": "complete"}),
        EndRecord(None), FrameBatch((RawFrame(Direction.C2S, 2, "lone \ud800 surrogate"),)),
    ]
    for record in fixed:
        assert decode_record(encode_record(record)) == record


def test_frames_are_their_messages_verbatim_plus_a_small_head() -> None:
    message = '{"type":"input_audio_buffer.append","audio":"AAAA"}'
    frames = (RawFrame(Direction.C2S, 2, message), RawFrame(Direction.S2C, -1, b"\x00\x01"))
    plain = encode_record(FrameBatch(frames))
    assert message.encode() in plain and plain.endswith(b"\x00\x01")
    assert len(plain) == 1 + 2 * 13 + len(message) + 2  # kind, then per frame 13 bytes + message
    assert decode_record(plain) == FrameBatch(frames)


def test_reprs_never_show_payloads() -> None:
    assert "wrapped" not in repr(header_of(segment([])[0]))
    assert "secret" not in repr(MetaRecord({"x": "secret"}))
    assert "secret" not in repr(EndRecord({"x": "secret"}))
    assert "secret" not in repr(FrameBatch((RawFrame(Direction.C2S, 1, '{"x": "secret"}'),)))


# --- the clean-prefix law ----------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.lists(items, max_size=6), st.data())
def test_a_segment_cut_at_any_byte_yields_exactly_a_clean_prefix(
    records: list[JournalItem], data: st.DataObject
) -> None:
    raw, starts = segment(records)
    cut = data.draw(st.integers(0, len(raw)), label="cut")
    header = decode_header(raw[:cut], 1)
    if not isinstance(header, SegmentHeader):
        assert cut < starts[0] if starts else cut < len(raw)
        assert type(header) is JournalTruncated and (header.segment, header.offset) == (1, 0)
        return
    got, stop = decode_records(raw[:cut], header, SEAL)
    whole = sum(1 for s in [*starts[1:], len(raw)] if s <= cut) if records else 0
    assert got == records[:whole]
    boundaries = {*starts, len(raw)}
    if cut in boundaries:
        assert stop is None
    else:
        assert type(stop) is JournalTruncated and stop.segment == 1
        assert stop.offset == starts[whole]


@settings(max_examples=150, deadline=None)
@given(st.lists(items, min_size=1, max_size=5), st.data())
def test_a_flipped_byte_stops_the_decoder_at_the_record_it_hit(
    records: list[JournalItem], data: st.DataObject
) -> None:
    raw, starts = segment(records)
    at = data.draw(st.integers(starts[0], len(raw) - 1), label="at")
    bit = data.draw(st.integers(0, 7), label="bit")
    bad = bytearray(raw)
    bad[at] ^= 1 << bit
    got, stop = decode_records(bytes(bad), header_of(raw), SEAL)
    hit = max(i for i, s in enumerate(starts) if s <= at)
    assert got == records[:hit]
    assert isinstance(stop, JournalTruncated) and (stop.segment, stop.offset) == (1, starts[hit])
    if at >= starts[hit] + 4:  # the length was intact: authentication must fail
        assert isinstance(stop, JournalCorrupt)


def test_records_out_of_place_fail_authentication() -> None:
    raw, starts = segment([FrameBatch((f,)) for f in sample_records(3)])
    header = header_of(raw)
    first, second = raw[starts[0]:starts[1]], raw[starts[1]:starts[2]]
    swapped = raw[: starts[0]] + second + first + raw[starts[2]:]
    got, stop = decode_records(swapped, header, SEAL)
    assert got == [] and isinstance(stop, JournalCorrupt) and stop.offset == starts[0]
    other, _ = segment([FrameBatch((f,)) for f in sample_records(3)], number=2)  # same records sealed for segment 2
    got, stop = decode_records(raw[: header.size] + other[header.size :], header, SEAL)
    assert got == [] and isinstance(stop, JournalCorrupt)


def test_nothing_may_follow_an_end_marker() -> None:
    raw, starts = segment([EndRecord(None), FrameBatch((RawFrame(Direction.C2S, 1, "x"),))])
    got, stop = decode_records(raw, header_of(raw), SEAL)
    assert got == [EndRecord(None)]
    assert isinstance(stop, JournalCorrupt) and stop.offset == starts[1]


def test_header_problems_are_reported_not_raised() -> None:
    raw, _ = segment([])
    assert isinstance(decode_header(b"PK\x03\x04" + raw, 1), JournalCorrupt)
    assert "version" in str(decode_header(raw[:7] + b"\x09" + raw[8:], 1))
    assert isinstance(decode_header(raw, 2), JournalCorrupt)  # header says segment 1
    header = header_of(raw)
    assert header.session_id == "sess_1" and header.key_ids == ("k_1",) and header.size == len(raw)


def test_unknown_kinds_and_junk_plaintext_are_corruption() -> None:
    for plain in (b"\x09", b"\x01[1,2]", b"\x08short", b"\x08", b"\x04{}", b"\x06extra"):
        raw = encode_header(1, "sess_1", (), b"", SEAL.key_check()) + encode_frame(SEAL.seal(1, 0, plain))
        got, stop = decode_records(raw, header_of(raw), SEAL)
        assert got == [] and isinstance(stop, JournalCorrupt), plain
    assert json.loads(encode_record(MetaRecord({"a": 1}))[1:]) == {"a": 1}
