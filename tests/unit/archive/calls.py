"""A scripted call with known PCM and a barge-in, fed frame by frame to a CaptureSession.

Timeline (ms since accept; archive rate 48 kHz):

* caller: 20 ms frames of speech-like 16 kHz audio arriving in real time from 100 ms to
  2600 ms, a 400 ms stall (a GAP), then frames again from 3000 ms to 3900 ms;
* response r1: created at 1200, 2000 ms of agent audio sent in 100 ms deltas every 20 ms from
  1250 (faster than real time), so it is scheduled 1250..3250;
* response r2: created at 2300 (before r1's audio was done): r1 is cut at 2300 = sample 110400;
  its 500 ms of audio arrives from 2350 and plays 2350..2850;
* the client closes at 4000.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recorder.capture.records import AudioRecord, CloseRecord, Direction, FrameRecord, Record
from recorder.capture.session import CaptureSession
from recorder.call import CallMeta
from recorder.simulate.voice import agent_speech, caller_speech

MS = 1_000_000
C2S, S2C = Direction.C2S, Direction.S2C
R1_MS, R2_MS = 2000, 500
R1_START, R2_START, CUT_AT = 60024, 112824, 110400  # first deltas arrive at 1250.5 and 2350.5 ms


def j(**frame: Any) -> str:
    return json.dumps(frame)


def b64(pcm: bytes) -> str:
    return base64.b64encode(pcm).decode("ascii")


@dataclass
class ScriptedCall:
    records: list[Record] = field(default_factory=list)
    close: CloseRecord | None = None
    caller_frames: list[tuple[int, bytes]] = field(default_factory=list)  # (arrival ms, pcm)
    r1: bytes = b""
    r2: bytes = b""
    session: CaptureSession | None = None

    @property
    def journal(self) -> list[AudioRecord | FrameRecord]:
        """What a journal keeps: audio and frame records in arrival order."""
        return [r for r in self.records if isinstance(r, (AudioRecord, FrameRecord))]


def build_call(seed: int = 7) -> ScriptedCall:
    call = ScriptedCall(r1=agent_speech(R1_MS, seed=seed, index=1), r2=agent_speech(R2_MS, seed=seed, index=2))
    session = call.session = CaptureSession()
    events: list[tuple[float, Direction, str]] = [
        (0, S2C, j(type="session.created", event_id="e0", session={"id": "hyd_1"})),
        (5, C2S, j(type="session.configure", session={"voice": "sterling"})),
        (50, S2C, j(type="session.configured", event_id="e1", session={"voice": "sterling", "tools": []})),
    ]
    speech = caller_speech(3500, seed=seed)
    times = [*range(100, 2600, 20), *range(3000, 3900, 20)]
    for i, t in enumerate(times):
        pcm = speech[i * 640 : (i + 1) * 640]
        call.caller_frames.append((t, pcm))
        events.append((t, C2S, j(type="input_audio_buffer.append", audio=b64(pcm), event_id=f"c{i}")))
    events += [
        (1150, S2C, j(type="input_audio_buffer.speech_stopped", item_id="u1", audio_end_ms=1000)),
        (1200, S2C, j(type="response.created", response={"id": "r1", "status": "in_progress"})),
        (2000, S2C, j(type="input_audio_buffer.speech_started", item_id="u2", audio_start_ms=1900)),
        (2300, S2C, j(type="response.created", response={"id": "r2", "status": "in_progress"})),
        (2310, S2C, j(type="response.done", response={"id": "r1", "status": "cancelled",
                                                     "status_details": {"reason": "interrupted"}})),
        (2900, S2C, j(type="response.output_audio.done", response_id="r2", item_id="a2")),
        (2910, S2C, j(type="response.done", response={"id": "r2", "status": "completed",
                                                     "usage": {"input_tokens": 5, "output_tokens": 7,
                                                               "total_tokens": 12}})),
    ]
    for k in range(R1_MS // 100):
        chunk = call.r1[k * 9600 : (k + 1) * 9600]
        events.append((1250 + 20 * k + 0.5, S2C, j(type="response.output_audio.delta", response_id="r1",
                                                  item_id="a1", delta=b64(chunk))))
    for k in range(R2_MS // 100):
        chunk = call.r2[k * 9600 : (k + 1) * 9600]
        events.append((2350 + 20 * k + 0.5, S2C, j(type="response.output_audio.delta", response_id="r2",
                                                  item_id="a2", delta=b64(chunk))))
    events.append((2600, C2S, b"\x00\x01binary-frame"))
    events.sort(key=lambda e: e[0])
    for t, direction, message in events:
        call.records += session.observe(direction, message, round(t * MS))
    closing = session.close(4000 * MS, code=1000, reason="bye", closed_by=C2S)
    call.records += closing
    call.close = next(r for r in closing if isinstance(r, CloseRecord))
    return call


def call_meta(session_id: str = "sess_0001") -> CallMeta:
    started = dt.datetime(2026, 11, 26, 23, 59, 58, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    return CallMeta(
        id=session_id, started_at=started, ended_at=started + dt.timedelta(seconds=4),
        duration_ms=4000.0, close_code=1000, close_reason="bye", close_side="client",
        upstream_status=101, model="hydra-1", path="/v1/realtime", query="model=hydra-1",
        metadata={"tenant": "acme"}, bytes_c2s=1000, bytes_s2c=2000,
    )


def int16(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.int16)
