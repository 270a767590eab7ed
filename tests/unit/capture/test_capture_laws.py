"""Laws of the capture core over random frame scripts .

Every caller sample lands exactly once; agent samples on the heard track plus the unplayed
track equal every delta received; placements only move forward and never overlap per channel;
replaying the records rebuilds the same state.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections import defaultdict
from dataclasses import dataclass

from hypothesis import example, given, settings
from hypothesis import strategies as st

from recorder.capture.records import AudioRecord, Direction, Record
from recorder.capture.session import CaptureSession, replay
from recorder.capture.timeline import CutPolicy, Timeline

C2S, S2C = Direction.C2S, Direction.S2C
MS = 1_000_000


@dataclass
class Step:
    kind: str
    dt_ms: float
    n: int = 0
    pick: int = 0


picks = st.sampled_from([0, 0, 0, 0, 1, 2])  # mostly the latest response
# Hypothesis favours tiny numbers; real deltas are 20-400 ms, so draw realistic sizes mostly
delta_samples = st.sampled_from([0, 1, 959, 4800, 9600, 9601, 19200]) | st.integers(0, 24000)
caller_samples = st.sampled_from([0, 1, 320, 640, 321]) | st.integers(0, 1200)
gaps_ms = st.integers(0, 120) | st.floats(0, 120) | st.integers(-5, 0)
agent_steps = st.one_of(
    st.builds(Step, st.just("delta"), gaps_ms, delta_samples, picks),
    st.builds(Step, st.just("created"), gaps_ms),
    st.builds(Step, st.just("cancel"), gaps_ms, pick=picks),
    st.builds(Step, st.just("done"), gaps_ms, pick=picks),
)
steps = st.one_of(
    agent_steps,
    agent_steps,  # agent traffic twice as likely: cuts need audio in flight
    st.builds(Step, st.just("delta"), gaps_ms, delta_samples),
    st.builds(Step, st.just("caller"), st.integers(0, 400) | st.floats(-5, 400), caller_samples),
    st.builds(Step, st.just("speech"), gaps_ms),
    st.builds(Step, st.just("configured"), gaps_ms),
    st.builds(Step, st.just("garbage"), gaps_ms, st.integers(0, 1)),
)
policies = st.builds(CutPolicy, st.booleans(), st.booleans(), st.booleans(), st.booleans())
rates = st.sampled_from([48000, 44100, 16000, 8000, 96000])


def b64_pcm(n: int, seed: int) -> str:
    return base64.b64encode(bytes((seed + i) % 256 for i in range(2 * n))).decode()


def run(script: list[Step], rate: int, policy: CutPolicy, gap_ms: float, close: bool, *,
        audio_content: bool = True) -> tuple[CaptureSession, list[Record], dict[int, int], int]:
    """Feed the script; returns (session, records, delta samples by seq, caller samples sent)."""
    session = CaptureSession(gap_threshold_ms=gap_ms, archive_rate=rate, cut_policy=policy,
                             audio_content=audio_content)
    records: list[Record] = []
    t = 0.0
    responses = ["r0"]
    sent_deltas: dict[int, int] = {}
    caller_sent = 0

    def feed(direction: Direction, message: str | bytes) -> None:
        records.extend(session.observe(direction, message, round(max(t, 0) * MS)))

    for i, step in enumerate(script):
        t += step.dt_ms
        rid = responses[max(len(responses) - 1 - step.pick, 0)]
        match step.kind:
            case "caller":
                feed(C2S, json.dumps({"type": "input_audio_buffer.append", "audio": b64_pcm(step.n, i)}))
                caller_sent += step.n
            case "delta":
                before = len(records)
                feed(S2C, json.dumps({"type": "response.output_audio.delta", "response_id": rid,
                                      "delta": b64_pcm(step.n, i)}))
                (audio,) = [r for r in records[before:] if isinstance(r, AudioRecord)]
                sent_deltas[audio.seq] = step.n
            case "created":
                responses.append(f"r{len(responses)}")
                feed(S2C, json.dumps({"type": "response.created", "response": {"id": responses[-1]}}))
            case "cancel" | "done":
                status = "cancelled" if step.kind == "cancel" else "completed"
                feed(S2C, json.dumps({"type": "response.done", "response": {"id": rid, "status": status}}))
            case "speech":
                feed(S2C, json.dumps({"type": "input_audio_buffer.speech_started"}))
            case "configured":
                feed(S2C, json.dumps({"type": "session.configured", "session": {}}))
            case "garbage":
                feed(C2S if step.n else S2C, b"\x00binary" if step.n else "{not json")
            case "bad-audio":  # base64 that is wrong, or right but odd, or escaped in the JSON
                audio = ["QUI", "QU=I", "QUJD", "QUJD=", "QUJDRA===", "QUJ-", "\\u0041AAA", "AAAA\\n"][step.n % 8]
                kind, field = [("input_audio_buffer.append", "audio"), ("response.output_audio.delta", "delta")][step.pick % 2]
                feed(C2S if field == "audio" else S2C, '{"type":"%s","%s":"%s"}' % (kind, field, audio))
    if close:
        records.extend(session.close(round(max(t, 0) * MS) + 1))
    return session, records, sent_deltas, caller_sent


def assert_forward_and_disjoint(spans: list[tuple[int, int]]) -> None:
    for (s1, l1), (s2, _) in zip(spans, spans[1:], strict=False):
        assert s1 + l1 <= s2, f"overlap or backwards: {(s1, l1)} then {s2}"
    for s, ln in spans:
        assert s >= 0 and ln >= 0


scripts = st.lists(steps, max_size=50)


@settings(max_examples=250, deadline=None)
@given(script=scripts, rate=rates, policy=policies, gap_ms=st.sampled_from([0.0, 50.0, 250.0]),
       close=st.booleans())
def test_caller_samples_land_exactly_once(
    script: list[Step], rate: int, policy: CutPolicy, gap_ms: float, close: bool
) -> None:
    session, records, _, caller_sent = run(script, rate, policy, gap_ms, close)
    audio = [r for r in records if isinstance(r, AudioRecord) and r.direction is C2S]
    assert sum(a.samples for a in audio) == caller_sent
    assert_forward_and_disjoint([(a.start, a.length) for a in audio])
    tl = session.timeline()
    assert sum(seg.src_samples for seg in tl.caller) == caller_sent
    assert_forward_and_disjoint([(seg.start, seg.length) for seg in tl.caller])
    if rate == 48000:
        assert all(a.length == 3 * a.samples for a in audio)
    # within a contiguous segment the archive length is exactly the resampled length
    for seg in tl.caller:
        assert abs(seg.length - seg.src_samples * rate / 16000) < 1
    assert session.summary().caller_audio_ms * 16 == caller_sent


# found by Hypothesis: a delta cut again at an earlier (out-of-order) position
RECUT = [Step("delta", 0, 959), Step("created", 1), Step("delta", -1, 0), Step("created", 0)]
# found by Hypothesis: at 44.1 kHz a 1-sample delta spans zero archive samples yet must be cut
ZERO_SPAN = [Step("delta", 0, 4800), Step("delta", 0, 1), Step("created", 0), Step("delta", 0, 1)]
CREATED_ONLY = CutPolicy(True, False, False, False)
# found by Hypothesis: a zero-length span ending exactly at a hang-up cut is cut too
AT_CUT = [Step("delta", 0, 1), Step("delta", 0, 1)]


@settings(max_examples=250, deadline=None)
@given(script=scripts, rate=rates, policy=policies, close=st.booleans())
@example(script=RECUT, rate=48000, policy=CREATED_ONLY, close=False)
@example(script=ZERO_SPAN, rate=44100, policy=CREATED_ONLY, close=False)
def test_heard_plus_unplayed_is_everything_received(
    script: list[Step], rate: int, policy: CutPolicy, close: bool
) -> None:
    session, _, sent, _ = run(script, rate, policy, 250.0, close)
    tl = session.timeline()
    pieces: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for seg in tl.agent:
        pieces[seg.first_seq].append((seg.src_offset, seg.src_samples))
    for u in tl.unplayed:
        pieces[u.seq].append((u.src_offset, u.src_samples))
    for seq, n in sent.items():  # each delta is split into a heard prefix and an unplayed rest
        covered = 0
        for offset, count in sorted(pieces.pop(seq, [])):
            assert offset == covered and count > 0
            covered += count
        assert covered == n
    assert not pieces
    total = sum(sent.values())
    summary = session.summary()
    assert round(summary.agent_audio_ms_received * 48) == total
    heard = sum(seg.src_samples for seg in tl.agent)
    unplayed = sum(u.src_samples for u in tl.unplayed)
    assert heard + unplayed == total
    assert round(summary.agent_audio_ms_heard * 48) == heard
    for r in summary.responses:
        assert abs(r.audio_ms_heard + r.audio_ms_unplayed - r.audio_ms_received) < 1e-6


@settings(max_examples=250, deadline=None)
@given(script=scripts, rate=rates, policy=policies, close=st.booleans())
@example(script=RECUT, rate=48000, policy=CREATED_ONLY, close=False)
@example(script=ZERO_SPAN, rate=44100, policy=CREATED_ONLY, close=False)
@example(script=AT_CUT, rate=44100, policy=CutPolicy(False, False, False, True), close=True)
def test_agent_placements_move_forward_without_overlap(
    script: list[Step], rate: int, policy: CutPolicy, close: bool
) -> None:
    session, _, _, _ = run(script, rate, policy, 250.0, close)
    tl: Timeline = session.timeline()
    assert_forward_and_disjoint([(seg.start, seg.length) for seg in tl.agent])
    offsets = [u.track_offset for u in tl.unplayed]
    assert offsets == [sum(u.length for u in tl.unplayed[:i]) for i in range(len(tl.unplayed))]
    cut_at: dict[str | None, int] = {}
    for c in tl.cuts:  # a response can be cut again at an earlier (out-of-order) position
        cut_at[c.response_id] = min(c.position, cut_at.get(c.response_id, c.position))
    for seg in tl.agent:  # nothing of a cut response is heard from its cut on
        if seg.response_id in cut_at:
            assert seg.start < cut_at[seg.response_id]
            if rate == 48000:
                assert seg.end <= cut_at[seg.response_id]
    if rate == 48000:
        assert all(seg.length == seg.src_samples for seg in tl.agent)


@settings(max_examples=100, deadline=None)
@given(script=scripts, rate=rates, policy=policies, close=st.booleans())
def test_replaying_the_records_rebuilds_the_same_state(
    script: list[Step], rate: int, policy: CutPolicy, close: bool
) -> None:
    session, records, _, _ = run(script, rate, policy, 250.0, close)
    again = replay(records, archive_rate=rate, cut_policy=policy)
    assert again.summary() == session.summary()
    assert again.timeline() == session.timeline()


bad_audio = st.builds(Step, st.just("bad-audio"), gaps_ms, st.integers(0, 7), st.integers(0, 1))


@settings(max_examples=150, deadline=None)
@given(script=st.lists(steps | bad_audio, max_size=50), rate=rates, policy=policies, close=st.booleans())
def test_audio_validated_not_decoded_gives_the_same_records_with_silence_of_the_same_length(
    script: list[Step], rate: int, policy: CutPolicy, close: bool
) -> None:
    decoded, records, _, _ = run(script, rate, policy, 250.0, close)
    checked, lengths, _, _ = run(script, rate, policy, 250.0, close, audio_content=False)
    assert lengths == [dataclasses.replace(r, pcm=bytes(len(r.pcm))) if isinstance(r, AudioRecord) else r
                       for r in records]
    assert checked.summary() == decoded.summary()
    assert checked.timeline() == decoded.timeline()
