"""Archived calls with word-coded speech on both channels, for the transcription benchmark.

Each call alternates caller sentences (16 kHz, 20 ms frames arriving in real time) and agent
replies (48 kHz, 200 ms deltas arriving at twice real time), fed through the real capture and
finalized into real archives and database rows, exactly as the proxy does.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from pathlib import Path

from sqlalchemy import Engine

from recorder.archive.finalize import finalize_call
from recorder.capture.records import AudioRecord, CloseRecord, Direction, FrameRecord
from recorder.capture.session import CaptureSession
from recorder.crypto.keys import KeyStore
from recorder.call import CallMeta
from recorder.simulate.voice import agent_words, caller_words

MS = 1_000_000
CALLER_LINES = (
    "hi i am calling about my order it has not arrived yet",
    "the order number is seven oh six oh two two eight",
    "yes please and my email is jane dot doe at example dot com",
    "thank you that is all for today",
)
AGENT_LINES = (
    "thanks for calling let me look that up for you",
    "i can see the order it shipped yesterday and arrives friday",
    "i have sent the tracking link to your email",
    "you are welcome have a great day",
)


def _frame(**fields: object) -> str:
    return json.dumps(fields)


def build_records(index: int, target_s: float) -> tuple[list[AudioRecord | FrameRecord], CloseRecord]:
    """One call of about `target_s` seconds of conversation."""
    session = CaptureSession()
    out: list[AudioRecord | FrameRecord] = []

    def feed(t_ms: float, direction: Direction, text: str) -> None:
        for record in session.observe(direction, text, int(t_ms * MS)):
            if isinstance(record, (AudioRecord, FrameRecord)):
                out.append(record)

    feed(0, Direction.S2C, _frame(type="session.created", session_id=f"bench-{index}"))
    feed(5, Direction.C2S, _frame(type="session.configure", session={}))
    feed(40, Direction.S2C, _frame(type="session.configured", session={"voice": "sterling"}))
    t, turn = 100.0, 0
    while t < target_s * 1000:
        said = caller_words(CALLER_LINES[turn % len(CALLER_LINES)], seed=index, index=turn)
        said += bytes(640 * 25)  # half a second of silence ends the turn
        for offset in range(0, len(said) - 639, 640):
            feed(t, Direction.C2S, _frame(type="input_audio_buffer.append",
                                           audio=base64.b64encode(said[offset:offset + 640]).decode()))
            t += 20
        rid = f"resp_{index}_{turn}"
        feed(t, Direction.S2C, _frame(type="response.created", response={"id": rid}))
        reply = agent_words(AGENT_LINES[turn % len(AGENT_LINES)], min_ms=1000, step_ms=200)
        for offset in range(0, len(reply), 19_200):
            feed(t, Direction.S2C, _frame(type="response.output_audio.delta", response_id=rid,
                                           delta=base64.b64encode(reply[offset:offset + 19_200]).decode()))
            t += 100  # 200 ms of audio every 100 ms: twice real time
        feed(t, Direction.S2C, _frame(type="response.done", response={
            "id": rid, "status": "completed",
            "usage": {"input_tokens": 10, "output_tokens": 20, "total_tokens": 30}}))
        t += len(reply) / 96 / 2 + 200  # the caller listens, then speaks again
        turn += 1
    (close,) = [r for r in session.close(int(t * MS), code=1000, reason="bye",
                                          closed_by=Direction.C2S) if isinstance(r, CloseRecord)]
    return out, close


def make_calls(home: Path, engine: Engine, count: int, seconds: float) -> float:
    """Archive `count` calls under `home`; returns the total audio seconds (both channels)."""
    keystore = KeyStore(home / "keys")
    keystore.init()
    total = 0.0
    start = dt.datetime(2026, 11, 25, 22, 0, tzinfo=dt.timezone.utc)
    for i in range(count):
        records, close = build_records(i, seconds)
        meta = CallMeta(id=str(uuid.UUID(int=i + 1)), started_at=start + dt.timedelta(minutes=i),
                        ended_at=None, duration_ms=close.arrival_ns / MS)
        result = finalize_call(lambda: records, meta, home=home, keystore=keystore, engine=engine, close=close)
        total += 2 * result.duration_ms / 1000
    return total
