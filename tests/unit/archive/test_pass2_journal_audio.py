"""Pass 2 straight from the journal's frames (``TwoPasses``): base64 cut out of the raw message
and decoded, no JSON, no capture session; it must render exactly what the full capture replay
rendered, over random journals (escaped and bad base64, PCI pauses, barge-ins, frames lost)."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.archive.pipeline import TwoPasses, journal_audio
from recorder.archive.render import plan, render_audio
from recorder.capture.records import AudioRecord, CloseRecord
from recorder.capture.session import Captured, CaptureSettings
from recorder.values import Direction
from tests.unit.archive.frames import JOURNAL, MS, PCI_TOOL, Frame, frames

C2S, S2C = Direction.C2S, Direction.S2C


def _render(records, plan_records, close, tools, max_lead):  # type: ignore[no-untyped-def]
    events: list[bytes] = []
    call = plan(plan_records(), close=close, pci_tools=tools, events=events.append)
    stereo: list[np.ndarray] = [np.zeros((0, 2), np.int16)]
    unplayed: list[np.ndarray] = [np.zeros(0, np.int16)]
    render_audio(records, call, stereo.append, unplayed.append, max_lead=max_lead)
    return call, b"".join(events), np.concatenate(stereo), np.concatenate(unplayed)


@settings(max_examples=80, deadline=None)
@given(
    **JOURNAL,
    max_lead=st.sampled_from([0, 1 << 22]),  # 0: each channel reads a pass of its own
)
def test_pass_two_from_raw_frames_renders_what_the_capture_replay_rendered(  # type: ignore[no-untyped-def]
    steps, seed, lost, close_ms, pci, max_lead
) -> None:
    journal = frames(steps, seed, lost)
    close = None if close_ms is None else CloseRecord((journal[-1][2] if journal else 0) + close_ms * MS, 1000, "bye")
    tools = (PCI_TOOL,) if pci else ()
    made = CaptureSettings(pci_tools=tools)

    def full() -> Captured:
        return Captured(journal, close, made)

    passes = TwoPasses(lambda: journal, close, gap_threshold_ms=made.gap_threshold_ms, pci_tools=tools)
    old = _render(full, lambda: list(full()), close, tools, max_lead)  # the former way: a replay in pass 1
    new = _render(passes.records, passes.plan_records, close, tools, max_lead)

    assert (new[0].summary, new[0].timeline, new[1]) == (old[0].summary, old[0].timeline, old[1])
    assert np.array_equal(new[2], old[2])
    assert np.array_equal(new[3], old[3])
    # and record for record: every audio frame's PCM, silenced ones included
    want = [(r.seq, r.direction, r.pcm) for r in full() if isinstance(r, AudioRecord)]
    got = [(r.seq, r.direction, r.pcm) for r in passes.records() if isinstance(r, AudioRecord)]
    assert got == want


PCM = np.arange(-8, 8, dtype=np.int16).tobytes()
B64 = base64.b64encode(PCM).decode()


@pytest.mark.parametrize("message", [
    json.dumps({"type": "input_audio_buffer.append", "audio": B64}),
    '{ "type" : "input_audio_buffer.append" ,\n\t"audio"\r\n:  "%s" }' % B64,  # JSON whitespace
    '{"type": "input_audio_buffer.append", "audio": "%s"}' % B64.replace("/", "\\/"),  # escaped solidus
    '{"type": "input_audio_buffer.append", "\\u0061udio": "%s", "x": {"audio": "AAAA"}}' % B64,  # escaped key
    '{"type": "input_audio_buffer.append", "audio": "AAAA", "audio": "%s"}' % B64,  # the last one counts
    '{"type": "input_audio_buffer.append", "x": {"audio": "AAAA"}, "audio": "%s"}' % B64,  # a nested key
    '{"type": "input_audio_buffer.append", "event_id": "audio", "audio": "%s"}' % B64,  # the key as a value
])
def test_the_audio_is_the_value_json_reads_however_the_frame_is_written(message: str) -> None:
    journal: list[Frame] = [(C2S, message, 0)]
    (record,) = Captured(journal, None, CaptureSettings())
    assert isinstance(record, AudioRecord) and record.pcm == PCM
    (fast,) = journal_audio(journal, [0])
    assert isinstance(fast, AudioRecord) and fast.pcm == PCM


def test_pass_two_before_pass_one_is_a_full_replay() -> None:
    journal = frames(["configured", "caller", "response", "delta", "caller"], 5, 0.0)
    passes = TwoPasses(lambda: journal, None, gap_threshold_ms=250.0)
    expected = [r for r in Captured(journal, None, CaptureSettings())]
    assert list(passes.records()) == expected
