"""Reading whole journals: keys, torn and altered files, missing segments, listing and deletion."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest

from recorder.capture.records import CloseRecord, Direction
from recorder.crypto.keys import KeyStore
from recorder.journal import (
    FailureRecord,
    JournalCorrupt,
    JournalError,
    JournalLocked,
    JournalReader,
    JournalTruncated,
    JournalWriter,
    RawFrame,
    claim,
    delete_journal,
    describe_owner,
    list_journals,
    read_journal,
)
from recorder.journal.reader import segment_files
from recorder.journal.segment import SegmentHeader, decode_header
from tests.unit.journal.helpers import IDENTITY, META, OTHER_IDENTITY, FixedRng, sample_records, writer

CLOSE = CloseRecord(999, 1000, "bye", Direction.C2S)


def written(tmp_path: Path, n: int = 8, **kw: object) -> tuple[Path, bytes, list]:  # type: ignore[type-arg]
    w = writer(tmp_path / "spool", **kw).open()  # type: ignore[arg-type]
    records = sample_records(n)
    w.append(records)
    w.close(CLOSE, {"state": "complete"})
    assert w.failure is None
    return w.session_dir, w.session_key, records


def test_read_back_with_identity_and_with_session_key(tmp_path: Path) -> None:
    session_dir, key, records = written(tmp_path)
    by_identity = read_journal(session_dir, identities=[OTHER_IDENTITY, IDENTITY])
    by_key = read_journal(session_dir, session_key=key)
    assert by_identity == by_key
    c = by_key
    assert c.meta == META and list(c.records) == records and c.close == CLOSE
    assert c.end_meta == {"state": "complete"} and c.complete and c.truncated is None
    assert c.failures == () and c.segments == 1 and c.key_ids == (IDENTITY.key_id,)
    assert "records=8" in repr(c) and "sess_1" in repr(c)


def test_read_back_with_an_identity_from_a_keystore(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys", rng=FixedRng(b"store"))
    store.init()
    jw = JournalWriter(tmp_path / "spool", "s2", store.recipients("archive"), META, fsync="never").open()
    jw.append(sample_records(3))
    jw.close()
    c = read_journal(jw.session_dir, identities=store.identities("archive"))
    assert c.complete and list(c.records) == sample_records(3) and c.close is None
    assert c.key_ids == tuple(k.key_id for k in store.recipients("archive"))


def test_wrong_identity_or_key_is_a_clear_error(tmp_path: Path) -> None:
    session_dir, key, _ = written(tmp_path)
    with pytest.raises(JournalLocked) as err:
        read_journal(session_dir, identities=[OTHER_IDENTITY])
    assert IDENTITY.key_id in str(err.value) and OTHER_IDENTITY.key_id in str(err.value)
    with pytest.raises(JournalLocked, match="not this journal's"):
        read_journal(session_dir, session_key=bytes(32))
    with pytest.raises(JournalLocked, match="bad session key"):
        read_journal(session_dir, session_key=b"short")
    with pytest.raises(JournalError, match="identities or the session key"):
        read_journal(session_dir)


def test_every_cut_of_a_journal_file_reads_as_a_clean_prefix(tmp_path: Path) -> None:
    session_dir, key, records = written(tmp_path, n=6)
    (path,) = [p for _, p in segment_files(session_dir)]
    data = path.read_bytes()
    full = read_journal(session_dir, session_key=key)
    cut_dir = tmp_path / "cut" / "sess_1"
    cut_dir.mkdir(parents=True)
    target = cut_dir / path.name
    seen_lengths = set()
    for cut in range(len(data)):
        target.write_bytes(data[:cut])
        c = read_journal(cut_dir, session_key=key)
        assert list(c.records) == records[: len(c.records)]
        assert not c.complete
        seen_lengths.add(len(c.records))
        if c.meta is None:
            assert c.records == () and c.truncated is not None
        else:
            assert c.meta == META
        if c.truncated is not None:
            assert type(c.truncated) is JournalTruncated and c.truncated.segment == 1
            assert str(target) in str(c.truncated)
    assert {0, len(records)} <= seen_lengths  # frames sealed together appear together
    assert full.complete


def test_a_flipped_byte_anywhere_in_the_records_stops_there(tmp_path: Path) -> None:
    session_dir, key, records = written(tmp_path, n=6)
    (path,) = [p for _, p in segment_files(session_dir)]
    data = path.read_bytes()
    header = decode_header(data, 1)
    assert isinstance(header, SegmentHeader)
    start = header.size
    for at in range(start, len(data), 7):
        bad = bytearray(data)
        bad[at] ^= 0x40
        path.write_bytes(bytes(bad))
        c = read_journal(session_dir, session_key=key)
        assert not c.complete and c.truncated is not None, at
        assert c.truncated.segment == 1 and start <= c.truncated.offset <= at
        assert list(c.records) == records[: len(c.records)]
        if at >= c.truncated.offset + 4:
            assert isinstance(c.truncated, JournalCorrupt)
    for at in range(0, start):  # header bytes: a clear error or a report, never wrong records
        bad = bytearray(data)
        bad[at] ^= 0x01
        path.write_bytes(bytes(bad))
        try:
            c = read_journal(session_dir, identities=[IDENTITY])
        except JournalError:
            continue
        assert list(c.records) == records[: len(c.records)]
        assert c.complete or c.truncated is not None


def test_segments_missing_or_unrotated_are_reported(tmp_path: Path) -> None:
    w = writer(tmp_path / "spool", segment_max_bytes=2048).open()
    records = sample_records(40)
    w.append(records)
    w.close(CLOSE)
    files = segment_files(w.session_dir)
    assert len(files) >= 3
    c = read_journal(w.session_dir, session_key=w.session_key)
    assert c.complete and list(c.records) == records and c.segments == len(files)
    files[1][1].rename(tmp_path / "aside")
    c = read_journal(w.session_dir, session_key=w.session_key)
    assert isinstance(c.truncated, JournalTruncated) and (c.truncated.segment, c.truncated.offset) == (2, 0)
    assert 0 < len(c.records) < len(records) and list(c.records) == records[: len(c.records)]
    (tmp_path / "aside").rename(files[1][1])
    files[-1][1].unlink()  # the last segment lost: the one before promised a successor
    c = read_journal(w.session_dir, session_key=w.session_key)
    assert not c.complete and c.truncated is not None and c.truncated.segment == len(files)
    files[0][1].unlink()
    c = read_journal(w.session_dir, session_key=w.session_key)
    assert c.meta is None and c.records == () and c.truncated == JournalTruncated(1, 0, "segment missing")


def test_failure_records_are_returned(tmp_path: Path) -> None:
    w = writer(tmp_path / "spool").open()
    w.append([FailureRecord("policy_continue", "recording stopped", 5)])
    w.close()
    c = read_journal(w.session_dir, session_key=w.session_key)
    assert c.failures == (FailureRecord("policy_continue", "recording stopped", 5),) and c.complete


def test_list_and_delete(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    assert list_journals(spool) == []
    for sid in ("b_2", "a_1"):
        w = writer(spool, sid).open()
        w.close()
    (spool / ".tmp").mkdir()
    assert list_journals(spool) == [spool / "a_1", spool / "b_2"]
    delete_journal(spool / "a_1")
    assert list_journals(spool) == [spool / "b_2"]
    delete_journal(spool / "a_1")  # already gone: nothing to do
    (spool / "b_2" / "notes.txt").write_text("x")
    with pytest.raises(JournalError, match="not deleting"):
        delete_journal(spool / "b_2")
    assert os.path.exists(spool / "b_2" / "seg-000001.rj")


def test_frames_are_read_lazily_and_as_often_as_asked(tmp_path: Path) -> None:
    w = writer(tmp_path / "spool", segment_max_bytes=2 << 20).open()
    frames = [RawFrame(Direction.S2C, i, bytes([i % 251]) * 20_000) for i in range(600)]  # ~12 MB
    w.append(frames)
    w.close(CLOSE)
    reader = JournalReader(w.session_dir, session_key=w.session_key)
    scan = reader.scan()
    assert scan.complete and scan.frames == len(frames) and scan.segments >= 5 and scan.close == CLOSE
    tracemalloc.start()
    try:
        count = sum(1 for f, expected in zip(reader.frames(), frames, strict=True) if f == expected)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == len(frames)
    assert peak < 4 << 20, peak  # one segment header and a record or two, never the journal
    assert [f.arrival_ns for f in reader.frames()] == list(range(len(frames)))  # and again


def test_a_live_owner_keeps_its_journal(tmp_path: Path) -> None:
    w = writer(tmp_path / "spool").open()
    assert w.lock is not None and w.lock.held
    assert claim(w.session_dir) is None  # another claimant, even in this process, is refused
    assert f"pid {os.getpid()}" in describe_owner(w.session_dir)
    w.close()
    assert claim(w.session_dir) is None  # closing the journal does not give it away
    w.lock.release()
    taken = claim(w.session_dir)
    assert taken is not None and taken.held
    taken.release()
    delete_journal(w.session_dir)  # the owner file is part of a journal
    assert not w.session_dir.exists()


def test_a_journal_of_another_format_version_is_refused_not_emptied(tmp_path: Path) -> None:
    session_dir, key, _ = written(tmp_path)
    (path,) = [p for _, p in segment_files(session_dir)]
    data = bytearray(path.read_bytes())
    data[7] = 1  # what the previous format wrote
    path.write_bytes(bytes(data))
    with pytest.raises(JournalError, match="unsupported journal version 1.*written by another version"):
        read_journal(session_dir, session_key=key)
