"""The rendered recording is what the playout model says the caller heard."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import soxr
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.archive.render import (
    RenderError,
    _event_bytes,
    _event_line,
    canonical_json,
    decode_flac,
    encode_flac,
    plan,
    render,
    render_audio,
)
from recorder.capture.records import AudioRecord, Direction, FrameRecord
from tests.unit.archive.calls import CUT_AT, R1_START, R2_START, build_call, int16


@pytest.fixture(scope="module")
def call():  # type: ignore[no-untyped-def]
    return build_call()


@pytest.fixture(scope="module")
def rendered(call):  # type: ignore[no-untyped-def]
    return render(call.journal, close=call.close)


def test_right_channel_is_agent_audio_bit_exact_at_playout_positions(call, rendered) -> None:  # type: ignore[no-untyped-def]
    right = rendered.stereo[:, 1]
    r1, r2 = int16(call.r1), int16(call.r2)
    heard = CUT_AT - R1_START
    assert np.array_equal(right[R1_START:CUT_AT], r1[:heard])
    assert np.array_equal(right[R2_START : R2_START + len(r2)], r2)
    silent = np.ones(len(right), dtype=bool)
    silent[R1_START:CUT_AT] = False
    silent[R2_START : R2_START + len(r2)] = False
    assert not right[silent].any()  # nothing else on the agent channel


def test_cut_tail_is_in_the_unplayed_track_with_its_index(call, rendered) -> None:  # type: ignore[no-untyped-def]
    r1 = int16(call.r1)
    heard = CUT_AT - R1_START
    assert np.array_equal(rendered.unplayed, r1[heard:])
    pieces = rendered.alignment["unplayed"]
    assert {p["response_id"] for p in pieces} == {"r1"}
    assert all(p["cut_position"] == CUT_AT for p in pieces)
    assert sum(p["length"] for p in pieces) == len(r1) - heard
    assert [p["offset"] for p in pieces] == sorted(p["offset"] for p in pieces)
    assert rendered.alignment["cuts"][0]["trigger"] == "response.created"


def _snr_db(reference: np.ndarray, got: np.ndarray) -> float:
    ref = reference.astype(np.float64)
    err = got.astype(np.float64) - ref
    return float(10 * np.log10(np.sum(ref**2) / np.sum(err**2)))


def test_left_channel_resampled_back_matches_the_caller_above_40_db(call, rendered) -> None:  # type: ignore[no-untyped-def]
    left = rendered.stereo[:, 0]
    back = soxr.resample(left.astype(np.float32), 48000, 16000, quality="HQ")
    expected = np.zeros(len(back))
    for (t_ms, pcm), placed in zip(call.caller_frames, _caller_starts(call)):
        samples = int16(pcm)
        expected[placed // 3 : placed // 3 + len(samples)] = samples
    assert _snr_db(expected, back) > 40
    assert rendered.alignment["gaps"][0]["channel"] == "caller"
    assert rendered.alignment["gaps"][0]["length"] == (3000 - 2600) * 48


def _caller_starts(call) -> list[int]:  # type: ignore[no-untyped-def]
    return [r.start for r in call.journal if isinstance(r, AudioRecord) and r.direction is Direction.C2S]


def test_caller_frames_land_where_capture_placed_them(call) -> None:  # type: ignore[no-untyped-def]
    starts = _caller_starts(call)
    assert starts[0] == 100 * 48
    assert starts[1] - starts[0] == 20 * 48  # contiguous
    assert 3000 * 48 in starts  # laid at arrival after the stall


def test_event_log_has_every_frame_and_no_audio(call, rendered) -> None:  # type: ignore[no-untyped-def]
    lines = [json.loads(line) for line in rendered.events.splitlines()]
    assert len(lines) == len(call.journal) + 1
    assert lines[-1]["kind"] == "close" and lines[-1]["code"] == 1000
    audio = [ln for ln in lines if ln["kind"] == "audio"]
    assert all("text" not in ln and "binary_b64" not in ln for ln in audio)
    assert sum(ln["bytes"] for ln in audio if ln["channel"] == "agent") == len(call.r1) + len(call.r2)
    binary = [ln for ln in lines if "binary_b64" in ln]
    assert len(binary) == 1 and binary[0]["dir"] == "c2s"
    created = [ln for ln in lines if ln.get("type") == "response.created"]
    assert json.loads(created[0]["text"])["response"]["id"] == "r1"
    b = rendered.events
    assert call.caller_frames[5][1] not in b  # no raw PCM in the log


def test_replay_from_journal_matches_the_live_session(call, rendered) -> None:  # type: ignore[no-untyped-def]
    assert rendered.summary == call.session.summary()
    assert rendered.timeline == call.session.timeline()


def test_flac_round_trip_is_lossless(rendered) -> None:  # type: ignore[no-untyped-def]
    samples, rate = decode_flac(encode_flac(rendered.stereo, 48000))
    assert rate == 48000 and np.array_equal(samples, rendered.stereo)
    mono, _ = decode_flac(encode_flac(rendered.unplayed, 48000))
    assert np.array_equal(mono, rendered.unplayed)


def test_other_archive_rate_resamples_both_channels(call) -> None:  # type: ignore[no-untyped-def]
    out = render(call.journal, close=call.close, archive_rate=44100)
    assert out.archive_rate == 44100
    assert out.alignment["agent_bit_exact"] is False
    right = out.stereo[:, 1].astype(np.float64)
    assert np.sqrt(np.mean(right**2)) > 100  # the agent is there, resampled
    assert len(out.unplayed) == out.timeline.unplayed_length


def test_empty_call_renders_and_encodes() -> None:
    out = render([])
    assert len(out.stereo) == 0 and len(out.unplayed) == 0
    samples, _ = decode_flac(encode_flac(out.stereo, 48000))
    assert samples.shape == (1, 2) and not samples.any()


def _render_against_plan(call, records) -> None:  # type: ignore[no-untyped-def]
    call_plan = plan(call.journal, close=call.close)
    render_audio(lambda: records, call_plan, lambda _block: None, lambda _piece: None)


def test_records_that_contradict_the_plan_are_refused(call) -> None:  # type: ignore[no-untyped-def]
    journal = list(call.journal)
    agent = next(k for k, r in enumerate(journal) if isinstance(r, AudioRecord) and r.direction is Direction.S2C)
    caller = next(k for k, r in enumerate(journal) if isinstance(r, AudioRecord) and r.direction is Direction.C2S)
    short = dataclasses.replace(journal[agent], pcm=journal[agent].pcm[:-2])  # one sample fewer
    with pytest.raises(RenderError, match=f"agent frame {agent} lacks samples"):
        _render_against_plan(call, [*journal[:agent], short, *journal[agent + 1 :]])
    not_audio = FrameRecord(agent, Direction.S2C, journal[agent].arrival_ns, "{}")
    with pytest.raises(RenderError, match=f"frame {agent} as s2c audio"):
        _render_against_plan(call, [*journal[:agent], not_audio, *journal[agent + 1 :]])
    longer = dataclasses.replace(journal[caller], pcm=journal[caller].pcm + b"\x01\x00")
    with pytest.raises(RenderError, match="caller frames"):
        _render_against_plan(call, [*journal[:caller], longer, *journal[caller + 1 :]])
    with pytest.raises(RenderError):
        _render_against_plan(call, journal[: len(journal) // 2])  # the journal lost its end
    _render_against_plan(call, journal)  # the records themselves agree


def test_repr_shows_no_audio(rendered) -> None:  # type: ignore[no-untyped-def]
    text = repr(rendered)
    assert "samples=" in text and "array" not in text and len(text) < 200


# --- the event log's audio lines, written without building a dict --------------------------------

_strs = st.none() | st.text(max_size=8) | st.sampled_from(['"', "\\", "\n", "\x00", "é", "\u2028", "🎙", "\ud800"])
_ints = st.integers(0, 2**40) | st.integers(-5, 5) | st.integers(2**63, 2**70)


@settings(max_examples=300, deadline=None)
@given(seq=_ints, direction=st.sampled_from(list(Direction)), arrival_ns=_ints | st.integers(-(2**70), 2**70),
       pcm=st.binary(max_size=7), rate=_ints, start=_ints, length=_ints, event_id=_strs, response_id=_strs,
       item_id=_strs, before=st.booleans(), discarded=st.booleans())
def test_an_audio_line_is_the_canonical_json_of_its_event(
    seq: int, direction: Direction, arrival_ns: int, pcm: bytes, rate: int, start: int, length: int,
    event_id: str | None, response_id: str | None, item_id: str | None, before: bool, discarded: bool,
) -> None:
    r = AudioRecord(seq, direction, arrival_ns, pcm, rate, start, length, event_id=event_id,
                    response_id=response_id, item_id=item_id, before_configured=before, discarded=discarded)
    try:
        expected: bytes | type[Exception] = canonical_json(_event_line(seq, r)) + b"\n"
    except (UnicodeEncodeError, OverflowError) as exc:  # a lone surrogate; an arrival past float range
        expected = type(exc)
    if isinstance(expected, bytes):
        assert _event_bytes(seq, r) == expected
    else:
        with pytest.raises(expected):
            _event_bytes(seq, r)


def test_a_frame_or_an_odd_audio_record_takes_the_general_path() -> None:
    frame = FrameRecord(3, Direction.C2S, 5, '{"type":"x"}', "x")
    odd = AudioRecord(4, Direction.C2S, 5, b"\0\0", 16000, 1.5, 3, before_configured=1)  # type: ignore[arg-type]
    for r in (frame, odd):
        assert _event_bytes(7, r) == canonical_json(_event_line(7, r)) + b"\n"
