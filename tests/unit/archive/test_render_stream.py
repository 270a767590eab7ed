"""The streaming render gives exactly what the former whole-call, in-memory render gave.

Random calls (caller frames with stalls and bursts ahead of real time, agent responses with
deltas arriving faster than playout, barge-ins by ``response.created``, cancels, a close or
none) are rendered both ways, at several archive rates and stereo block sizes.
"""

from __future__ import annotations

import base64
import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.archive.render import _Listed, _write_canonical, canonical_json, plan, render_audio
from recorder.capture.records import AudioRecord, Direction, FrameRecord, Record
from recorder.capture.session import CaptureSession
from tests.unit.archive import reference_render
from tests.unit.archive.calls import build_call

MS = 1_000_000

caller_burst = st.tuples(
    st.integers(0, 600),  # pause before the burst (ms): over 250 ms is a gap
    st.integers(1, 12),  # frames
    st.sampled_from([20, 10, 0]),  # spacing (ms): 20 real time, less runs ahead
    st.sampled_from([320, 160, 0, 7]),  # samples per frame
)
response = st.tuples(
    st.integers(0, 500),  # when it is created, after the previous event (ms)
    st.lists(st.integers(0, 40), min_size=1, max_size=5),  # delta lengths (ms)
    st.integers(0, 30),  # spacing between deltas (ms)
    st.sampled_from(["done", "cancel", "none"]),
)


def _call(bursts, responses, seed: int, close_ms: int | None) -> list[Record]:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    events: list[tuple[float, Direction, str]] = []
    t = 0.0
    for pause, frames, spacing, samples in bursts:
        t += pause
        for _ in range(frames):
            pcm = rng.integers(-20000, 20000, samples, dtype=np.int16).astype("<i2").tobytes()
            events.append((t, Direction.C2S, json.dumps({"type": "input_audio_buffer.append",
                                                          "audio": base64.b64encode(pcm).decode()})))
            t += spacing
    t = 0.0
    for k, (pause, deltas, spacing, ending) in enumerate(responses):
        t += pause
        rid = f"r{k}"
        events.append((t, Direction.S2C, json.dumps({"type": "response.created", "response": {"id": rid}})))
        for ms in deltas:
            t += spacing + 0.5
            pcm = rng.integers(-30000, 30000, ms * 48, dtype=np.int16).astype("<i2").tobytes()
            events.append((t, Direction.S2C, json.dumps({"type": "response.output_audio.delta", "response_id": rid,
                                                          "delta": base64.b64encode(pcm).decode()})))
        if ending != "none":
            status = "completed" if ending == "done" else "cancelled"
            events.append((t, Direction.S2C, json.dumps({"type": "response.done",
                                                          "response": {"id": rid, "status": status}})))
    events.sort(key=lambda e: e[0])  # arrival order: the two directions interleave
    session = CaptureSession()
    records: list[Record] = []
    for at, direction, text in events:
        records += session.observe(direction, text, round(at * MS))
    if close_ms is not None:
        records += session.close(round(((events[-1][0] if events else 0) + close_ms) * MS), code=1000)
    return records


@settings(max_examples=60, deadline=None)
@given(
    bursts=st.lists(caller_burst, max_size=5),
    responses=st.lists(response, max_size=4),
    seed=st.integers(0, 2**16),
    close_ms=st.none() | st.integers(0, 2000),
    rate=st.sampled_from([48000, 44100, 16000]),
    block=st.sampled_from([1, 97, 4800, 1 << 16]),
    max_lead=st.sampled_from([0, 500, 1 << 22]),  # 0 and 500: a channel takes a pass of its own
)
def test_streaming_render_equals_the_former_render(bursts, responses, seed, close_ms, rate, block, max_lead) -> None:  # type: ignore[no-untyped-def]
    records = _call(bursts, responses, seed, close_ms)
    expected = reference_render.render(records, archive_rate=rate)
    events: list[bytes] = []
    call = plan(iter(records), archive_rate=rate, events=events.append)
    stereo: list[np.ndarray] = [np.zeros((0, 2), np.int16)]
    unplayed: list[np.ndarray] = [np.zeros(0, np.int16)]
    passes: list[int] = []

    def again() -> list[Record]:
        passes.append(1)
        return records

    render_audio(again, call, stereo.append, unplayed.append, block=block, max_lead=max_lead)
    assert len(passes) <= 3
    assert all(len(b) <= block for b in stereo)
    assert np.array_equal(np.concatenate(stereo), expected.stereo)
    assert np.array_equal(np.concatenate(unplayed), expected.unplayed)
    assert b"".join(events) == expected.events
    alignment = call.alignment()  # every field of the former render, identical (later fields are not its to judge)
    assert {k: alignment[k] for k in expected.alignment} == expected.alignment
    written: list[bytes] = []
    call.write_alignment(written.append)  # what the archive holds, streamed: the same bytes
    assert b"".join(written) == canonical_json(alignment)
    assert (call.summary, call.timeline) == (expected.summary, expected.timeline)
    assert call.frames == sum(isinstance(r, (AudioRecord, FrameRecord)) for r in records)


def test_a_channel_far_ahead_reads_a_pass_of_its_own_and_renders_the_same() -> None:
    call = build_call()
    expected = reference_render.render(call.journal, close=call.close)
    passes: list[int] = []

    def again() -> list[AudioRecord | FrameRecord]:
        passes.append(1)
        return call.journal

    stereo: list[np.ndarray] = []
    unplayed: list[np.ndarray] = []
    render_audio(again, plan(call.journal, close=call.close), stereo.append, unplayed.append,
                 block=960, max_lead=2000)
    assert len(passes) == 3  # the shared pass, and one of its own for the channel ahead
    assert np.array_equal(np.concatenate(stereo), expected.stereo)
    assert np.array_equal(np.concatenate(unplayed), expected.unplayed)


json_leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=6)
json_item = json_leaf | st.dictionaries(st.text(max_size=4), json_leaf, max_size=4)


@settings(max_examples=200, deadline=None)
@given(doc=st.dictionaries(st.text(max_size=6), json_item | st.lists(json_item, max_size=9), max_size=6),
       batch=st.integers(1, 4))
def test_a_document_written_in_pieces_is_its_canonical_json(doc: dict[str, object], batch: int) -> None:
    """Lists written item by item in batches of any size: exactly the bytes of the whole."""
    lazy = {k: _Listed(iter(v)) if isinstance(v, list) else v for k, v in doc.items()}
    written: list[bytes] = []
    _write_canonical(lazy, written.append, batch=batch)
    assert b"".join(written) == canonical_json(doc)
