"""Laws of the render over random calls: right channel + unplayed track = every agent sample
received, each exactly once and bit-exact; nothing else is on the agent channel."""

from __future__ import annotations

import base64
import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.archive.render import render
from recorder.capture.records import AudioRecord, Direction, FrameRecord
from recorder.capture.session import CaptureSession

MS = 1_000_000

response_plan = st.tuples(
    st.integers(0, 400),  # gap before response.created (ms)
    st.lists(st.integers(1, 30), min_size=1, max_size=6),  # delta lengths (ms)
    st.integers(0, 40),  # spacing between deltas (ms)
    st.sampled_from(["done", "cancel", "none"]),
)


@settings(max_examples=1000, deadline=None)
@given(plans=st.lists(response_plan, min_size=1, max_size=4), seed=st.integers(0, 2**16), close_ms=st.integers(0, 3000))
def test_agent_samples_are_heard_or_unplayed_exactly_once(plans, seed, close_ms) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    session = CaptureSession()
    records = []
    t = 0.0
    for k, (pause, deltas, spacing, ending) in enumerate(plans):
        t += pause
        rid = f"r{k}"
        records += session.observe(Direction.S2C, json.dumps({"type": "response.created", "response": {"id": rid}}), round(t * MS))
        for ms in deltas:
            t += spacing + 0.25
            pcm = rng.integers(1, 30000, ms * 48, dtype=np.int16).astype("<i2").tobytes()
            frame = {"type": "response.output_audio.delta", "response_id": rid, "delta": base64.b64encode(pcm).decode()}
            records += session.observe(Direction.S2C, json.dumps(frame), round(t * MS))
        if ending != "none":
            status = "completed" if ending == "done" else "cancelled"
            records += session.observe(
                Direction.S2C, json.dumps({"type": "response.done", "response": {"id": rid, "status": status}}), round(t * MS)
            )
    records += session.close(round((t + close_ms) * MS))
    out = render(records)
    right = out.stereo[:, 1]
    frames = [r for r in records if isinstance(r, AudioRecord)]
    covered = np.zeros(len(right), dtype=bool)
    for seg in out.timeline.agent:
        covered[seg.start : seg.end] = True
    assert not right[~covered].any()
    journal = [r for r in records if isinstance(r, (AudioRecord, FrameRecord))]
    for seq, r in enumerate(journal):
        if not isinstance(r, AudioRecord):
            continue
        pieces: list[tuple[int, np.ndarray]] = []
        for seg in out.timeline.agent:
            if seg.first_seq == seq:
                pieces.append((seg.src_offset, right[seg.start : seg.end]))
        for u in out.timeline.unplayed:
            if u.seq == seq:
                pieces.append((u.src_offset, out.unplayed[u.track_offset : u.track_offset + u.length]))
        got = np.concatenate([p for _, p in sorted(pieces, key=lambda x: x[0])]) if pieces else np.zeros(0, np.int16)
        assert np.array_equal(got, np.frombuffer(r.pcm, dtype="<i2")), seq
    assert sum(len(r.pcm) // 2 for r in frames) == int(np.count_nonzero(right)) + len(out.unplayed)
