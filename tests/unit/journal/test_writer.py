"""The writer thread: flush timing, rotation, fsync policies, failures, and no plaintext on disk."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from recorder.capture.records import (
    AudioRecord,
    Direction,
)
from recorder.capture.session import CaptureSession
from recorder.journal import (
    FSYNC_POLICIES,
    JournalError,
    JournalWriter,
    RawFrame,
    list_journals,
    read_journal,
)
from recorder.durable import syncfs
from recorder.journal.reader import segment_files
from recorder.journal.writer import _sync_together
from tests.unit.journal.helpers import (
    IDENTITY,
    META,
    MS,
    call_raw_frames,
    close_record,
    run_call,
    sample_records,
    writer,
)


def audio(seq: int, pcm: bytes) -> RawFrame:
    return RawFrame(Direction.C2S, seq * 20 * MS, pcm)


def visible(w: JournalWriter) -> int:
    return len(read_journal(w.session_dir, session_key=w.session_key).records)


def wait_until(predicate, timeout: float) -> float:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)
    return time.monotonic() - start


def test_open_makes_meta_durable_before_returning(tmp_path: Path) -> None:
    w = writer(tmp_path / "spool", fsync="interval").open()
    try:
        c = read_journal(w.session_dir, identities=[IDENTITY])
        assert c.meta == META and c.records == () and not c.complete and c.truncated is None
        assert oct(os.stat(w.session_dir).st_mode & 0o777) == "0o700"
        assert all(oct(os.stat(p).st_mode & 0o777) == "0o600" for _, p in segment_files(w.session_dir))
    finally:
        w.close()


@pytest.mark.parametrize("interval", [0.05, 0.2])
def test_records_reach_the_file_within_the_flush_interval(tmp_path: Path, interval: float) -> None:
    w = writer(tmp_path / "spool", flush_interval_s=interval).open()
    try:
        time.sleep(interval * 0.6)  # land somewhere inside a tick
        for round_ in range(3):
            w.append([audio(round_, bytes(640))])
            waited = wait_until(lambda r=round_: visible(w) == r + 1, interval + 0.5)
            assert waited <= interval + 0.15, waited  # margin: a loaded 2-core CI box
    finally:
        w.close()
    assert w.failure is None


def test_fsync_policies(tmp_path: Path) -> None:
    for policy in FSYNC_POLICIES:
        w = writer(tmp_path / policy, fsync=policy, flush_interval_s=1.0).open()
        # ticks fall on multiples of the interval: start just after one, a whole interval ahead
        wait_until(lambda: w._deadline - time.monotonic() > 0.7, 1.5)
        w.append([audio(0, bytes(640))])
        if policy == "always":  # wakes the thread at once instead of waiting for the tick
            wait_until(lambda: visible(w) == 1, 1.0)
        else:
            time.sleep(0.2)
            assert visible(w) == 0  # batched until the next tick (0.7 s away or more) or close
        w.close()
        assert read_journal(w.session_dir, session_key=w.session_key).complete
    with pytest.raises(JournalError, match="fsync policy"):
        writer(tmp_path / "x", fsync="sometimes")  # type: ignore[arg-type]


def test_segments_rotate_at_the_size_limit(tmp_path: Path) -> None:
    w = writer(tmp_path / "spool", segment_max_bytes=4096).open()
    records = [audio(i, bytes([i]) * 640) for i in range(30)]
    for r in records:
        w.append([r])
    w.close()
    files = segment_files(w.session_dir)
    assert [n for n, _ in files] == list(range(1, len(files) + 1)) and len(files) >= 5
    assert all(p.stat().st_size <= 4096 + 64 for _, p in files)
    c = read_journal(w.session_dir, identities=[IDENTITY])
    assert c.complete and list(c.records) == records and c.segments == len(files)


def test_only_raw_frames_are_journaled_and_junk_never_raises(tmp_path: Path) -> None:
    w = writer(tmp_path / "spool").open()
    parsed = AudioRecord(0, Direction.C2S, 0, bytes(4), 16000, 0, 2)
    w.append([parsed, audio(0, bytes(4)), object()])
    assert w.failure is None
    w.append(None)  # type: ignore[arg-type]
    assert w.failure is not None and "append failed" in w.failure
    w.close()
    c = read_journal(w.session_dir, session_key=w.session_key)
    assert list(c.records) == [audio(0, bytes(4))]


def dev_full_after(first: int):  # type: ignore[no-untyped-def]
    """A segment opener whose segments from ``first`` on live on a full disk (/dev/full)."""

    def open_segment(path: Path) -> int:
        if int(path.name[4:10]) >= first:
            return os.open("/dev/full", os.O_WRONLY)
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)

    return open_segment


def test_disk_full_while_writing_is_a_recorded_failure(tmp_path: Path) -> None:
    calls: list[tuple[str, str]] = []
    w = writer(
        tmp_path / "spool", segment_max_bytes=3000, flush_interval_s=0.02, open_segment=dev_full_after(2),
        on_failure=lambda reason: calls.append((threading.current_thread().name, reason)),
    ).open()
    records = [audio(i, bytes(640)) for i in range(20)]
    for r in records:
        w.append([r])  # never raises, never blocks, even after the failure
        time.sleep(0.002)
    wait_until(lambda: w.failure is not None, 2.0)
    w.append(records)
    assert w.close(close_record=None) == w.failure
    assert w.failure is not None and "disk full" in w.failure
    assert calls == [("journal-writer", w.failure)]  # once, from the writer thread
    c = read_journal(w.session_dir, session_key=w.session_key)
    assert not c.complete and c.truncated is not None and c.truncated.segment == 2
    assert 0 < len(c.records) < len(records) and list(c.records) == records[: len(c.records)]


def test_unwritable_targets_fail_open_clearly(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="disk full"):
        writer(tmp_path / "spool", open_segment=dev_full_after(1)).open()
    assert list_journals(tmp_path / "spool") == []  # no frame was recorded: nothing to recover
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(JournalError, match="cannot create journal"):
        writer(tmp_path / "file").open()
    w = writer(tmp_path / "spool2").open()
    w.close()
    with pytest.raises(JournalError, match="journal for this session exists"):
        writer(tmp_path / "spool2").open()
    with pytest.raises(JournalError, match="safe directory name"):
        JournalWriter(tmp_path, "../escape", [IDENTITY.recipient], META)
    with pytest.raises(JournalError, match="recipients"):
        JournalWriter(tmp_path, "s", [], META)


def test_queue_overflow_is_a_recorded_failure_not_a_silent_drop(tmp_path: Path) -> None:
    calls: list[str] = []
    w = writer(
        tmp_path / "spool", queue_max_bytes=10_000, flush_interval_s=5.0, on_failure=calls.append
    ).open()
    records = [audio(i, bytes(640)) for i in range(30)]
    started = time.monotonic()
    for r in records:
        w.append([r])
    assert time.monotonic() - started < 0.5
    assert w.failure is not None and "overflow" in w.failure and calls == [w.failure]
    w.append_frame(Direction.S2C, "late", 1)
    w.close(close_record(run_call()[1]))
    assert calls == [w.failure]
    c = read_journal(w.session_dir, session_key=w.session_key)
    kept = len(c.records)
    assert kept == 10_000 // (640 + 64) and list(c.records) == records[:kept]
    assert c.complete and c.close is not None
    overflow, summary = c.failures
    assert overflow.reason == "queue_overflow" and overflow.dropped_records == 1
    assert summary.reason == "not_recorded"
    assert summary.dropped_records == len(records) - kept + 1  # + the late frame


def test_no_plaintext_pcm_ever_reaches_the_spool(tmp_path: Path) -> None:
    pattern = b"PCM!" + bytes(range(256)) * 2 + b"!MCP"
    spool = tmp_path / "spool"
    w = writer(spool, flush_interval_s=0.02, segment_max_bytes=8192).open()
    records = [audio(i, pattern) for i in range(40)]
    records.append(RawFrame(Direction.C2S, 1, b"binary " + pattern))

    def scan() -> None:
        for path in spool.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                for start in range(0, len(pattern) - 16, 16):
                    assert pattern[start : start + 16] not in data, path

    w.append(records)
    wait_until(lambda: visible(w) == len(records), 2.0)
    scan()  # while the call is live
    w.close()
    scan()  # and after
    assert list(read_journal(w.session_dir, session_key=w.session_key).records) == records


def test_replaying_the_journal_rebuilds_the_same_call(tmp_path: Path) -> None:
    original, records = run_call()
    w = writer(tmp_path / "spool", segment_max_bytes=16_384).open()
    for frame in call_raw_frames():  # as the relay does: the frame as forwarded, stamped
        w.append_frame(frame.direction, frame.message, frame.arrival_ns)
    w.close(close_record(records), end_meta={"state": "complete", "bytes_c2s": 123})
    c = read_journal(w.session_dir, identities=[IDENTITY])
    assert c.complete and c.end_meta == {"state": "complete", "bytes_c2s": 123} and c.segments > 1
    assert c.close == close_record(records)
    rebuilt = CaptureSession()
    for frame in c.records:
        rebuilt.observe(frame.direction, frame.message, frame.arrival_ns)
    rebuilt.close(c.close.arrival_ns, code=c.close.code, reason=c.close.reason, closed_by=c.close.closed_by)
    assert rebuilt.summary() == original.summary()
    assert rebuilt.timeline() == original.timeline()
    assert original.summary().agent_audio_ms_unplayed > 0  # the call had a barge-in cut


def test_one_thread_writes_every_journal(tmp_path: Path) -> None:
    before = {t.name for t in threading.enumerate()}
    writers = [writer(tmp_path / "spool", f"s_{i}", flush_interval_s=0.02).open() for i in range(20)]
    for i, w in enumerate(writers):
        w.append([audio(i, bytes([i]) * 64)])
    wait_until(lambda: all(visible(w) == 1 for w in writers), 2.0)
    journal_threads = {t.name for t in threading.enumerate()} - before
    assert journal_threads <= {"journal-writer", "journal-fsync"}
    names = [t.name for t in threading.enumerate()]
    assert names.count("journal-writer") == 1 and names.count("journal-fsync") == 1
    for w in writers:
        w.close()
    assert all(read_journal(w.session_dir, session_key=w.session_key).complete for w in writers)


def test_journals_share_their_ticks_and_one_file_system_sync(tmp_path: Path) -> None:
    """Journals opened at different moments fall due at the same instants (one wake-up of the
    writer per tick), and a tick's journals are made durable by one ``syncfs``."""
    first = writer(tmp_path / "spool", "s_a", flush_interval_s=0.25, fsync="interval").open()
    time.sleep(0.1)
    second = writer(tmp_path / "spool", "s_b", flush_interval_s=0.25, fsync="interval").open()
    try:
        for w in (first, second):  # on the same grid, whenever each was opened
            assert (w._deadline / 0.25).is_integer()
        assert abs(first._deadline - second._deadline) in (0.0, 0.25)
        assert _sync_together([first, second]) is True  # Linux: one syncfs for both
        assert _sync_together([first]) is False  # one journal: its own fsync
    finally:
        first.close()
        second.close()
    for w in (first, second):
        assert read_journal(w.session_dir, session_key=w.session_key).complete
    assert _sync_together([first, second]) is False  # closed journals need no sync
    with pytest.raises(OSError):
        syncfs(-1)


def test_abandon_leaves_what_a_crash_leaves(tmp_path: Path) -> None:
    w = writer(tmp_path / "spool").open()
    records = sample_records(5)
    w.append(records)
    w.abandon()
    c = read_journal(w.session_dir, session_key=w.session_key)
    assert list(c.records) == records and not c.complete and c.truncated is None
    assert w.close() is None  # closing after abandon is a no-op


def test_writer_keeps_the_key_in_memory_only(tmp_path: Path) -> None:
    w = writer(tmp_path / "spool").open()
    w.close()
    key = w.session_key
    assert all(key not in p.read_bytes() for _, p in segment_files(w.session_dir))
    assert key.hex() not in repr(w)
