"""The live PCI gate: while a listed tool is in flight the journal keeps the caller's audio
frames as silence of the same length; every other frame, and the forwarded frame, unchanged."""

from __future__ import annotations

import base64
import json

import numpy as np

from recorder.capture.pci import PciGate, silenced
from recorder.capture.records import AudioRecord, TimelineKind, TimelineRecord
from recorder.capture.session import CaptureSession
from recorder.values import Direction

MS = 1_000_000
C2S, S2C = Direction.C2S, Direction.S2C
NOISE = (np.arange(320, dtype=np.int16) % 50 + 1).astype("<i2").tobytes()  # 20 ms, never zero


def _frame(**f: object) -> str:
    return json.dumps(f)


def _script() -> list[tuple[Direction, str, int]]:
    """A tool call at frame 10 whose output arrives at frame 20, caller audio every 20 ms."""
    out = [(S2C, _frame(type="session.created", session_id="s"), 0),
           (S2C, _frame(type="session.configured", session={"tools": [{"name": "take_payment"}]}), 0)]
    for k in range(30):
        at = k * 20 * MS
        if k == 10:
            out.append((S2C, _frame(type="response.function_call_arguments.done", call_id="c1",
                                    name="take_payment", response_id="r1", arguments="{}"), at))
        if k == 20:
            out.append((C2S, _frame(type="conversation.item.create", item={
                "type": "function_call_output", "call_id": "c1", "output": "{}"}), at))
        out.append((C2S, _frame(type="input_audio_buffer.append", event_id=f"e{k}",
                                audio=base64.b64encode(NOISE).decode()), at))
    return out


def _audio(message: str) -> bytes:
    return base64.b64decode(json.loads(message)["audio"])


def test_the_journal_gets_silence_exactly_while_the_tool_is_in_flight() -> None:
    gate = PciGate(("take_payment",), gap_threshold_ms=250.0)
    kept = [(d, gate.journaled(d, m, at), m, at) for d, m, at in _script()]
    audio = [(k, m) for _d, k, m, _at in kept if "input_audio_buffer.append" in m]
    silent = [i for i, (k, _m) in enumerate(audio) if not any(_audio(k))]
    assert silent == list(range(10, 20))
    for k, m in audio:  # same length, same fields; outside the pause the very same frame
        assert len(_audio(k)) == len(_audio(m))
        assert json.loads(k)["event_id"] == json.loads(m)["event_id"]
    assert [k for _d, k, m, _at in kept if "input_audio" not in m] == [
        m for _d, m, _at in _script() if "input_audio" not in m]


def test_a_replay_of_the_gated_journal_finds_the_same_pause_over_silence() -> None:
    gate = PciGate(("take_payment",), gap_threshold_ms=250.0)
    replay = CaptureSession(pci_tools=("take_payment",))
    records = [r for d, m, at in _script() for r in replay.observe(d, gate.journaled(d, m, at), at)]
    caller = [r for r in records if isinstance(r, AudioRecord) and r.direction is C2S]
    (pause,) = [r for r in records if isinstance(r, TimelineRecord) and r.kind is TimelineKind.PAUSE]
    assert pause.position == caller[10].start
    assert not any(b for r in caller[10:20] for b in r.pcm) and all(any(r.pcm) for r in caller[:10])


def test_no_tools_listed_means_nothing_is_silenced() -> None:
    gate = PciGate((), gap_threshold_ms=250.0)
    assert all(gate.journaled(d, m, at) == m for d, m, at in _script())


def test_silenced_leaves_what_is_not_readable_caller_audio_alone() -> None:
    for message in ('{"type":"input_audio_buffer.append","audio":"not base64!"}', "not json",
                    '["input_audio_buffer.append"]', '{"type":"input_audio_buffer.commit","audio":"AAAA"}'):
        assert silenced(message) == message
    assert _audio(silenced('{"type":"input_audio_buffer.append","audio":"AQIDBA=="}')) == bytes(4)
