"""Scripted frame sequences for the timeline rules (what the caller heard) and the session bookkeeping."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from recorder.capture.records import (
    AudioRecord,
    Channel,
    CutTrigger,
    Direction,
    FrameRecord,
    Record,
    TimelineKind,
    TimelineRecord,
)
from recorder.capture.session import CaptureSession
from recorder.capture.timeline import CutPolicy
from recorder.errors import ConfigError

C2S, S2C = Direction.C2S, Direction.S2C
MS = 1_000_000
RATE = 48


def j(**frame: Any) -> str:
    return json.dumps(frame)


def caller(ms: float, event_id: str | None = None, samples: int | None = None) -> str:
    pcm = b"\x01\x00" * (round(ms * 16) if samples is None else samples)
    return j(type="input_audio_buffer.append", audio=base64.b64encode(pcm).decode(), event_id=event_id)


def delta(rid: str | None, ms: float, item: str = "item_a", samples: int | None = None) -> str:
    pcm = b"\x02\x00" * (round(ms * 48) if samples is None else samples)
    return j(type="response.output_audio.delta", response_id=rid, item_id=item,
             delta=base64.b64encode(pcm).decode())


def created(rid: str) -> str:
    return j(type="response.created", response={"id": rid})


def done(rid: str, status: str = "completed", reason: str | None = None) -> str:
    response: dict[str, Any] = {"id": rid, "status": status}
    if reason:
        response["status_details"] = {"reason": reason}
    return j(type="response.done", response=response)


CONFIGURED = j(type="session.configured", session={"voice": "sterling", "tools": []})


class Script:
    """Feeds (t_ms, direction, frame) to a session and keeps every record."""

    def __init__(self, **settings: Any) -> None:
        self.session = CaptureSession(**settings)
        self.records: list[Record] = []

    def __call__(self, t_ms: float, direction: Direction, message: str | bytes) -> list[Record]:
        out = self.session.observe(direction, message, round(t_ms * MS))
        self.records += out
        return out

    def facts(self, kind: TimelineKind) -> list[TimelineRecord]:
        return [r for r in self.records if isinstance(r, TimelineRecord) and r.kind is kind]

    def response(self, rid: str) -> Any:
        return next(r for r in self.session.summary().responses if r.response_id == rid)


# --- caller channel -----------------------------------------------------------------------------


def test_caller_audio_before_configured_is_flagged_and_still_recorded() -> None:
    s = Script()
    (early,) = s(10, C2S, caller(20))
    s(30, S2C, CONFIGURED)
    (late,) = s(40, C2S, caller(20))
    assert isinstance(early, AudioRecord) and early.before_configured
    assert isinstance(late, AudioRecord) and not late.before_configured
    assert (early.start, early.length) == (10 * RATE, 20 * RATE)
    assert late.start == early.start + early.length  # still contiguous
    summary = s.session.summary()
    assert summary.caller_audio_ms == 40 and summary.caller_audio_ms_before_configured == 20
    segments = s.session.timeline().caller
    assert [seg.before_configured for seg in segments] == [True, False]


def test_caller_stall_inserts_a_logged_gap() -> None:
    s = Script()
    for t in range(0, 100, 20):
        s(t, C2S, caller(20))  # contiguous up to 100 ms
    out = s(400, C2S, caller(20))  # 300 ms late > 250 ms threshold
    audio, gap = out
    assert isinstance(audio, AudioRecord) and audio.start == 400 * RATE
    assert isinstance(gap, TimelineRecord) and gap.kind is TimelineKind.GAP
    assert (gap.channel, gap.position, gap.length) == (Channel.CALLER, 100 * RATE, 300 * RATE)
    (late_but_tolerated,) = s(640, C2S, caller(20))  # 220 ms late: within the threshold
    assert isinstance(late_but_tolerated, AudioRecord) and late_but_tolerated.start == 420 * RATE
    assert len(s.session.timeline().gaps) == 1


def test_fast_client_stays_contiguous_and_drift_is_logged() -> None:
    s = Script()
    for i in range(100):  # 100 frames of 20 ms sent within 99 ms: 2 s of audio
        s(i, C2S, caller(20))
    audio = [r for r in s.records if isinstance(r, AudioRecord)]
    assert [a.start for a in audio] == [i * 20 * RATE for i in range(100)]
    drifts = s.facts(TimelineKind.DRIFT)
    assert drifts, "a client running ahead of real time is reported"
    assert [d.length // (250 * RATE) for d in drifts] == list(range(1, len(drifts) + 1))
    assert s.session.timeline().caller_max_drift == (99 * 20 - 99) * RATE
    assert s.facts(TimelineKind.GAP) == []


def test_gap_threshold_is_configurable() -> None:
    s = Script(gap_threshold_ms=50)
    s(0, C2S, caller(20))
    s(100, C2S, caller(20))  # 80 ms late
    (gap,) = s.facts(TimelineKind.GAP)
    assert gap.length == 80 * RATE


# --- agent channel: playout model and cuts ----------------------------------------------------------


def test_response_starts_at_max_of_cursor_and_arrival() -> None:
    s = Script()
    s(0, S2C, created("r1"))
    a1 = s(100, S2C, delta("r1", 500))[0]
    s(110, S2C, done("r1"))
    s(200, S2C, created("r2"))  # r1 still scheduled until 600: cut at 200
    assert isinstance(a1, AudioRecord) and (a1.start, a1.length) == (100 * RATE, 500 * RATE)
    (cut,) = s.facts(TimelineKind.CUT)
    assert (cut.response_id, cut.position, cut.length, cut.trigger) == (
        "r1", 200 * RATE, 400 * RATE, CutTrigger.RESPONSE_CREATED)
    a2 = s(250, S2C, delta("r2", 100))[0]
    assert isinstance(a2, AudioRecord) and a2.start == 250 * RATE
    assert s.response("r1").audio_ms_heard == 100 and s.response("r1").cut_ms == 200


def test_completed_response_still_playing_is_cut_by_the_next_response_created() -> None:
    s = Script(cut_policy=CutPolicy(on_response_created=False))
    s(0, S2C, created("r1"))
    s(100, S2C, delta("r1", 500))
    s(150, S2C, done("r1"))
    s(200, S2C, created("r2"))
    assert s.facts(TimelineKind.CUT) == []  # policy off: r2 queues after r1
    a2 = s(250, S2C, delta("r2", 100))[0]
    assert isinstance(a2, AudioRecord) and a2.start == 600 * RATE
    assert s.session.summary().cut_policy == "cut-on:response.done.cancelled,close"


def test_no_cut_when_previous_response_already_finished_playing() -> None:
    s = Script()
    s(0, S2C, created("r1"))
    s(10, S2C, delta("r1", 100))
    s(20, S2C, done("r1"))
    s(500, S2C, created("r2"))
    s(500, S2C, done("r2", "cancelled", "client_cancelled"))
    assert s.facts(TimelineKind.CUT) == []
    assert s.response("r1").audio_ms_heard == 100 and s.response("r1").cut_ms is None


def test_cancel_cuts_then_late_deltas_are_discarded_to_the_unplayed_track() -> None:
    s = Script()
    s(0, S2C, created("r1"))
    for t in (0, 10, 20):
        s(t, S2C, delta("r1", 200))  # scheduled 0..600 ms
    s(300, S2C, done("r1", "cancelled", "interrupted"))
    late = s(305, S2C, delta("r1", 200))[0]  # a straggler the client drops
    assert isinstance(late, AudioRecord) and late.discarded
    r1 = s.response("r1")
    assert (r1.audio_ms_received, r1.audio_ms_heard, r1.audio_ms_unplayed) == (800, 300, 500)
    assert r1.cut_trigger is CutTrigger.RESPONSE_CANCELLED
    tl = s.session.timeline()
    assert [(u.src_offset, u.src_samples) for u in tl.unplayed] == [
        (100 * RATE, 100 * RATE), (0, 200 * RATE), (0, 200 * RATE)]
    assert [u.track_offset for u in tl.unplayed] == [0, 100 * RATE, 300 * RATE]
    s(400, S2C, created("r2"))
    first = s(420, S2C, delta("r2", 100))[0]
    assert isinstance(first, AudioRecord) and first.start == 420 * RATE  # cursor was reset to 300


def test_agent_underrun_is_placed_at_arrival_and_logged() -> None:
    s = Script()
    s(0, S2C, created("r1"))
    s(0, S2C, delta("r1", 100))
    late = s(150, S2C, delta("r1", 100))
    audio, gap = late
    assert isinstance(audio, AudioRecord) and audio.start == 150 * RATE
    assert isinstance(gap, TimelineRecord)
    assert (gap.kind, gap.channel, gap.position, gap.length, gap.response_id) == (
        TimelineKind.GAP, Channel.AGENT, 100 * RATE, 50 * RATE, "r1")


def test_speech_started_policy() -> None:
    default = Script()
    eager = Script(cut_policy=CutPolicy(on_speech_started=True))
    for s in (default, eager):
        s(0, S2C, created("r1"))
        s(0, S2C, delta("r1", 1000))
        s(400, S2C, j(type="input_audio_buffer.speech_started", audio_start_ms=380, item_id="u1"))
    assert default.facts(TimelineKind.CUT) == []
    (cut,) = eager.facts(TimelineKind.CUT)
    assert cut.trigger is CutTrigger.SPEECH_STARTED and cut.position == 400 * RATE


def test_close_cuts_audio_scheduled_after_hang_up() -> None:
    s = Script()
    s(0, S2C, created("r1"))
    s(0, S2C, delta("r1", 1000))
    s(100, S2C, done("r1"))
    out = s.session.close(600 * MS, code=1000, closed_by=C2S)
    assert len(out) == 2
    assert s.session.close(700 * MS) == []  # once only
    r1 = s.response("r1")
    assert (r1.audio_ms_heard, r1.cut_trigger, r1.status) == (600, CutTrigger.CLOSE, "completed")


def test_non_divisible_archive_rate_tiles_exactly() -> None:
    s = Script(archive_rate=44100)
    audio: list[AudioRecord] = []
    for i in range(50):
        audio += [r for r in s(i * 20, C2S, caller(0, samples=321)) if isinstance(r, AudioRecord)]
    for a, b in zip(audio, audio[1:], strict=False):
        assert a.start + a.length == b.start
    total = sum(a.length for a in audio)
    assert total == 50 * 321 * 44100 // 16000
    s(0, S2C, created("r1"))
    for t in range(3):
        s(t, S2C, delta("r1", 0, samples=4801))
    s(150, S2C, done("r1", "cancelled", "interrupted"))
    r1 = s.response("r1")
    assert r1.audio_ms_received * 48 == 3 * 4801
    tl = s.session.timeline()
    heard = sum(seg.src_samples for seg in tl.agent)
    assert heard + sum(u.src_samples for u in tl.unplayed) == 3 * 4801
    assert tl.agent[-1].end >= tl.cuts[0].position


# --- frames that do not parse ------------------------------------------------------------------------


def test_unparseable_frames_are_recorded_verbatim_and_counted() -> None:
    s = Script()
    bad_audio = j(type="input_audio_buffer.append", event_id="evt_1", audio="not base64!")
    bad_delta = j(type="response.output_audio.delta", response_id="r1", delta="@@")
    messages: list[tuple[Direction, str | bytes]] = [
        (C2S, bad_audio), (S2C, bad_delta), (C2S, b"\x00\x01binary"), (S2C, "{oops"),
        (C2S, "[]"), (S2C, j(event_id="x")), (S2C, j(type="response.text.delta")),
    ]
    for i, (direction, message) in enumerate(messages):
        (record,) = s(i, direction, message)
        assert isinstance(record, FrameRecord) and record.message == message
    records = [r for r in s.records if isinstance(r, FrameRecord)]
    assert records[0].type == "input_audio_buffer.append" and "base64" in (records[0].unparsed or "")
    assert records[2].unparsed and "binary" in records[2].unparsed
    assert records[-1].unknown and records[-1].unparsed is None
    summary = s.session.summary()
    assert (summary.unparsed_frames, summary.unparsed_audio_frames, summary.unknown_frames) == (6, 2, 1)
    assert (summary.frames_c2s, summary.frames_s2c) == (3, 4)
    assert summary.caller_audio_ms == 0 and summary.agent_audio_ms_received == 0
    text = repr(records)
    for record in records:  # a repr shows each payload's size, never the payload
        unit = "bytes" if isinstance(record.message, bytes) else "chars"
        assert f"message=<{len(record.message)} {unit}>" in repr(record)
        assert repr(record.message) not in text
    assert not any(payload in text for payload in ("not base64!", "@@", "{oops", "\\x00\\x01binary"))


def test_record_reprs_hide_payloads() -> None:
    s = Script()
    s(0, S2C, j(type="session.configured", session={"instructions": "TOPSECRET persona"}))
    s(1, S2C, j(type="response.function_call_arguments.done", call_id="c1", name="pay",
                arguments='{"card": "4111111111111111"}'))
    s(2, C2S, j(type="conversation.item.create",
                item={"type": "function_call_output", "call_id": "c1", "output": "TOPSECRET ok"}))
    s(3, C2S, caller(20))
    text = repr(s.records) + repr(s.session.summary()) + repr(s.session.timeline())
    assert "TOPSECRET" not in text and "4111" not in text and "AQAB" not in text


# --- bookkeeping -------------------------------------------------------------------------------------


def test_tool_call_from_deltas_only_and_timeout() -> None:
    s = Script()
    s(0, S2C, created("r1"))
    s(1, S2C, j(type="response.function_call_arguments.delta", response_id="r1", call_id="c1",
                name="lookup", delta='{"a"'))
    s(2, S2C, j(type="response.function_call_arguments.delta", response_id="r1", call_id="c1",
                delta=": 1}"))
    s(3, S2C, done("r1"))
    s(9000, S2C, j(type="error", error={"code": "tool_response_timeout", "type": "x"}))
    (call,) = s.session.summary().tool_calls
    assert (call.call_id, call.name, call.arguments, call.response_id) == ("c1", "lookup", '{"a": 1}', "r1")
    assert call.output is None and call.timed_out


def test_warning_and_latency_skip_rejected_turns() -> None:
    s = Script()
    s(0, S2C, j(type="warning", code="model_deprecated", message="use hydra-v1.0"))
    s(10, S2C, j(type="input_audio_buffer.speech_started", item_id="u1", audio_start_ms=5))
    s(20, S2C, j(type="input_audio_buffer.speech_stopped", item_id="u1", audio_end_ms=15))
    s(21, S2C, j(type="conversation.item.done",
                 item={"id": "u1", "type": "message", "role": "user", "status": "incomplete"}))
    s(100, S2C, created("r1"))
    s(150, S2C, delta("r1", 20))
    summary = s.session.summary()
    assert summary.warnings == ("model_deprecated",)
    assert summary.speech_turns[0].status == "incomplete"
    assert summary.responses[0].latency_ms is None  # the noise turn got no reply


def test_deltas_without_created_and_done_without_id() -> None:
    s = Script()
    s(0, S2C, delta("rX", 100))
    s(50, S2C, j(type="response.done", response={"status": "completed"}))
    (r,) = s.session.summary().responses
    assert (r.response_id, r.created_ms, r.status, r.audio_ms_received) == ("rX", None, "completed", 100)


def test_observe_accepts_plain_strings_and_clamps_negative_times() -> None:
    session = CaptureSession()
    (record,) = session.observe("c2s", caller(20), -5)  # type: ignore[arg-type]
    assert isinstance(record, AudioRecord) and record.arrival_ns == 0 and record.start == 0


@pytest.mark.parametrize("settings", [{"archive_rate": 0}, {"archive_rate": 44100.0}, {"gap_threshold_ms": -1}])
def test_bad_settings_are_config_errors(settings: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        CaptureSession(**settings)
