"""The §14.7 example session of the reference, replayed through CaptureSession with real PCM."""

from __future__ import annotations

import numpy as np
import pytest
from capture_example_14_7 import ARGUMENTS, C2S, CLOSE_MS, OUTPUT, build

from recorder.capture.records import (
    AudioRecord,
    CallSummary,
    CutTrigger,
    FrameRecord,
    Record,
    TimelineKind,
)
from recorder.capture.session import CaptureSession, replay

MS = 1_000_000  # ns
RATE = 48  # archive samples per ms at the default 48 kHz


@pytest.fixture(scope="module")
def run() -> tuple[CaptureSession, list[Record], dict[str, list[bytes]], list[bytes]]:
    frames, agent, caller = build()
    session = CaptureSession()
    records: list[Record] = []
    for t_ms, direction, text in frames:
        records += session.observe(direction, text, round(t_ms * MS))
    records += session.close(CLOSE_MS * MS, code=1000, reason="caller hung up", closed_by=C2S)
    return session, records, agent, caller


@pytest.fixture(scope="module")
def summary(run: tuple[CaptureSession, list[Record], object, object]) -> CallSummary:
    return run[0].summary()


def test_session_and_configuration(summary: CallSummary) -> None:
    assert summary.hydra_session_id == "5f0c2a9e-6d1b-4c8e-9a57-2e41b7d0c3f8"
    assert summary.voice == "aria" and summary.requested_voice == "aria"
    assert summary.instructions is not None and summary.instructions.startswith("You are Ava")
    assert summary.tools == ("lookup_order", "transfer_to_human")  # after session.updated
    assert summary.configured_ms == 92.0
    assert summary.caller_audio_ms_before_configured == 0.0
    assert summary.warnings == ()
    assert summary.close_code == 1000 and summary.closed_by == C2S and summary.closed_ms == CLOSE_MS


def test_responses(summary: CallSummary) -> None:
    by_id = {r.response_id: r for r in summary.responses}
    assert list(by_id) == ["resp_01", "resp_02", "resp_03", "resp_04"]
    r1, r2, r3, r4 = by_id.values()

    assert (r1.status, r1.reason, r1.created_ms, r1.first_audio_ms, r1.done_ms) == (
        "completed", None, 402.0, 450.0, 1005.0)
    assert r1.audio_ms_received == r1.audio_ms_heard == 2400.0
    assert r1.latency_ms is None  # the greeting answers no caller turn
    assert r1.cut_ms is None

    assert r2.audio_ms_received == 0.0 and r2.first_audio_ms is None and r2.status == "completed"

    assert (r3.status, r3.reason) == ("cancelled", "interrupted")
    assert r3.audio_ms_received == 4800.0
    assert r3.audio_ms_heard == pytest.approx(2458, abs=1)
    assert r3.audio_ms_unplayed == pytest.approx(2342, abs=1)
    assert r3.cut_ms == 9898.0 and r3.cut_trigger is CutTrigger.RESPONSE_CANCELLED
    assert r3.latency_ms == 7440 - 6290  # the caller's turn ended at 6290; first audio at 7440

    assert r4.audio_ms_heard == 1600.0 and r4.latency_ms == 11530 - 11240
    assert summary.agent_audio_ms_received == 8800.0
    assert summary.agent_audio_ms_heard == pytest.approx(2400 + 2458 + 1600, abs=1)
    assert summary.agent_audio_ms_unplayed == pytest.approx(2342, abs=1)


def test_usage_sums(summary: CallSummary) -> None:
    assert [(r.input_tokens, r.output_tokens, r.total_tokens) for r in summary.responses] == [
        (388, 61, 449), (702, 19, 721), (760, 88, 848), (811, 34, 845)]
    assert (summary.input_tokens, summary.output_tokens, summary.total_tokens) == (2661, 202, 2863)


def test_tool_call(summary: CallSummary) -> None:
    (call,) = summary.tool_calls
    assert (call.call_id, call.name, call.response_id) == ("call_7Qk2", "lookup_order", "resp_02")
    assert call.arguments == ARGUMENTS and call.output == OUTPUT
    assert (call.requested_ms, call.output_ms, call.response_create_ms) == (6636.0, 6920.0, 7122.0)
    assert not call.timed_out
    assert ARGUMENTS not in repr(summary) and OUTPUT not in repr(summary)


def test_error_links_the_client_frame(summary: CallSummary) -> None:
    (error,) = summary.errors
    assert (error.code, error.type, error.param, error.client_event_id, error.at_ms) == (
        "invalid_audio", "invalid_request_error", "audio", "evt_0655", 13024.0)
    assert error.message == "audio frame too small (40 bytes, need 320)"


def test_speech_turns(summary: CallSummary) -> None:
    turns = [(t.item_id, t.started_ms, t.stopped_ms, t.audio_start_ms, t.audio_end_ms, t.status)
             for t in summary.speech_turns]
    assert turns == [("item_u1", 3360.0, 6290.0, 3180, 6020, "completed"),
                     ("item_u2", 9895.0, 11240.0, 9700, 11010, "completed")]


def test_frame_counts_and_records(
    run: tuple[CaptureSession, list[Record], object, list[bytes]], summary: CallSummary
) -> None:
    _, records, _, caller = run
    frames, _, _ = build()
    assert summary.frames_c2s == sum(1 for f in frames if f[1] is C2S)
    assert summary.frames_c2s + summary.frames_s2c == len(frames)
    assert summary.unparsed_frames == summary.unknown_frames == 0
    audio = [r for r in records if isinstance(r, AudioRecord)]
    text = [r for r in records if isinstance(r, FrameRecord)]
    assert len(audio) + len(text) == len(frames)
    assert [r.seq for r in sorted(audio + text, key=lambda r: r.seq)] == list(range(len(frames)))
    for r in text:  # non-audio frames are kept verbatim
        assert r.message == frames[r.seq][2]
    assert summary.caller_audio_ms == len(caller) * 0 + (len(caller) - 1) * 20 + 1.25
    assert "SECRET" not in repr(records[:50]) and '"audio"' not in repr(records)


def test_agent_channel_is_bit_exact_at_the_playout_positions(
    run: tuple[CaptureSession, list[Record], dict[str, list[bytes]], object]
) -> None:
    session, _, agent, _ = run
    tl = session.timeline()
    right = np.zeros(tl.end, dtype="<i2")
    by_seq = {}
    for seg in tl.agent:
        by_seq.setdefault(seg.response_id, []).append(seg)
    # resp_01: 450 ms -> 2850 ms, every sample in order
    r1 = np.frombuffer(b"".join(agent["resp_01"]), dtype="<i2")
    start = 450 * RATE
    assert [s.start for s in by_seq["resp_01"]] == [start + 9600 * i for i in range(12)]
    for seg in tl.agent:
        assert seg.length == seg.src_samples
    # the heard part of resp_03 is exactly its first 2458 ms from 7440 ms
    r3 = np.frombuffer(b"".join(agent["resp_03"]), dtype="<i2")
    heard = sum(s.src_samples for s in by_seq["resp_03"])
    assert by_seq["resp_03"][0].start == 7440 * RATE
    assert by_seq["resp_03"][-1].end == 9898 * RATE
    assert heard == (9898 - 7440) * RATE
    # reassemble the right channel from the records and compare with the PCM sent
    pcm_of = {r.seq: np.frombuffer(r.pcm, dtype="<i2") for r in run[1] if isinstance(r, AudioRecord)}
    for seg in tl.agent:
        right[seg.start:seg.end] = pcm_of[seg.first_seq][seg.src_offset:seg.src_offset + seg.src_samples]
    assert np.array_equal(right[start:start + len(r1)], r1)
    assert np.array_equal(right[7440 * RATE:9898 * RATE], r3[:heard])
    # the unplayed track holds the rest of resp_03, in order
    unplayed = np.concatenate([
        pcm_of[u.seq][u.src_offset:u.src_offset + u.src_samples] for u in tl.unplayed])
    assert np.array_equal(unplayed, r3[heard:])
    assert {u.response_id for u in tl.unplayed} == {"resp_03"}
    assert tl.unplayed[0].scheduled_start == 9898 * RATE
    assert tl.unplayed_length == len(r3) - heard


def test_timeline_facts(run: tuple[CaptureSession, list[Record], object, object]) -> None:
    session, records, _, _ = run
    tl = session.timeline()
    (cut,) = tl.cuts
    assert (cut.response_id, cut.position, cut.length, cut.trigger) == (
        "resp_03", 9898 * RATE, (4800 - 2458) * RATE, CutTrigger.RESPONSE_CANCELLED)
    assert tl.gaps == () and tl.drifts == ()
    # the 1.25 ms frame arrived at 13010 but its contiguous slot is 13020: 10 ms ahead, < threshold
    assert tl.caller_max_drift == 10 * RATE
    (caller,) = tl.caller  # one contiguous run from the first frame at 100 ms
    assert caller.start == 100 * RATE and caller.src_samples * 3 == caller.length
    assert [r for r in records if getattr(r, "kind", None) is TimelineKind.CUT] == [cut]
    assert tl.cut_policy == "cut-on:response.created,response.done.cancelled,close"


def test_replay_from_records_rebuilds_the_same_state(
    run: tuple[CaptureSession, list[Record], object, object]
) -> None:
    session, records, _, _ = run
    again = replay(records)
    assert again.summary() == session.summary()
    assert again.timeline() == session.timeline()
