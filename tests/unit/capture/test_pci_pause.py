"""PCI pause in capture: caller audio while a listed tool is in flight is journaled as silence,
and the pause is a timeline fact with its cause; off unless tools are listed."""

from __future__ import annotations

import base64
import json

import numpy as np

from recorder.capture.records import AudioRecord, Direction, TimelineKind, TimelineRecord
from recorder.capture.session import CaptureSession

MS = 1_000_000
C2S, S2C = Direction.C2S, Direction.S2C
NOISE = (np.arange(320, dtype=np.int16) % 50 + 1).astype("<i2").tobytes()  # 20 ms, never zero


def _frame(**f: object) -> str:
    return json.dumps(f)


def _call(session: CaptureSession, *, output: bool = True, created: int | None = None) -> list[object]:
    out: list[object] = []
    at = 0
    feed = [(S2C, _frame(type="session.created", session_id="s")),
            (S2C, _frame(type="session.configured", session={"tools": [{"name": "take_payment"}]}))]
    for direction, message in feed:
        out += session.observe(direction, message, at)
    for k in range(30):  # 600 ms of caller audio, a frame every 20 ms
        at = k * 20 * MS
        if k == 10:
            out += session.observe(S2C, _frame(type="response.function_call_arguments.done", call_id="c1",
                                               name="take_payment", response_id="r1", arguments="{}"), at)
        if k == created:
            out += session.observe(S2C, _frame(type="response.created", response={"id": "r2"}), at)
        if k == 20 and output:
            out += session.observe(C2S, _frame(type="conversation.item.create", item={
                "type": "function_call_output", "call_id": "c1", "output": "{}"}), at)
        out += session.observe(C2S, _frame(type="input_audio_buffer.append",
                                           audio=base64.b64encode(NOISE).decode()), at)
    out += session.close(31 * 20 * MS, code=1000)
    return out


def test_caller_audio_is_silenced_while_a_pci_tool_is_in_flight() -> None:
    records = _call(CaptureSession(pci_tools=("take_payment",)))
    caller = [r for r in records if isinstance(r, AudioRecord) and r.direction is C2S]
    silent = [i for i, r in enumerate(caller) if not any(r.pcm)]
    assert silent == list(range(10, 20))  # from the tool call until its output arrived
    (pause,) = [r for r in records if isinstance(r, TimelineRecord) and r.kind is TimelineKind.PAUSE]
    assert pause.cause == "tool:take_payment"
    assert (pause.position, pause.length) == (caller[10].start, caller[19].start + caller[19].length - caller[10].start)
    assert pause.length == 10 * 20 * 48  # ten 20 ms frames at the archive rate


def test_a_pause_ends_at_the_next_response_or_the_close() -> None:
    session = CaptureSession(pci_tools=("take_payment",))
    records = _call(session, output=False, created=15)
    caller = [r for r in records if isinstance(r, AudioRecord) and r.direction is C2S]
    assert [i for i, r in enumerate(caller) if not any(r.pcm)] == list(range(10, 15))
    session = CaptureSession(pci_tools=("take_payment",))
    records = _call(session, output=False)
    (pause,) = session.timeline().pauses
    caller = [r for r in records if isinstance(r, AudioRecord) and r.direction is C2S]
    assert pause.position + pause.length == caller[-1].start + caller[-1].length  # held to the close


def test_off_by_default() -> None:
    session = CaptureSession()
    records = _call(session)
    assert all(any(r.pcm) for r in records if isinstance(r, AudioRecord))
    assert session.timeline().pauses == ()
