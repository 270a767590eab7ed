"""Scripted calls whose speech is in the word code, archived directly with ``finalize_call``.

Fast stand-ins for calls through the proxy: the records a CaptureSession would journal, with
the caller streaming 20 ms frames in real time for the whole call (silence between its turns)
and each agent turn sent as one response of 100 ms deltas, faster than real time.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine

from recorder.archive.finalize import ArchiveResult, finalize_call
from recorder.capture.records import CloseRecord, Direction, Record
from recorder.capture.session import CaptureSession
from recorder.crypto.keys import KeyStore
from recorder.call import CallMeta
from recorder.simulate import wordcode

MS = 1_000_000
C2S, S2C = Direction.C2S, Direction.S2C
GAP_MS = 400
CARD = "4111111111111111"
CARD_WORDS = "four one one one one one one one one one one one one one one one"
CARD_CALL = (
    ("agent", "what is the card number please"),
    ("caller", f"it is {CARD_WORDS}"),
    ("agent", "thank you the card ending in one one one one is saved"),
)


@dataclass
class WordCall:
    records: list[Record]
    close: CloseRecord
    turns: list[tuple[str, str, float, float]]  # speaker, text, start ms, end ms on the recording


def _j(**frame: Any) -> str:
    return json.dumps(frame)


def build(turns: Sequence[tuple[str, str]], *, lead_ms: int = 300) -> WordCall:
    events: list[tuple[float, Direction, str]] = [
        (0, S2C, _j(type="session.created", event_id="e0", session={"id": "hyd"})),
        (5, C2S, _j(type="session.configure", session={})),
        (20, S2C, _j(type="session.configured", event_id="e1", session={"tools": []})),
    ]
    caller = np.zeros(0, dtype=np.int16)
    placed: list[tuple[str, str, float, float]] = []
    t = float(lead_ms)
    for k, (speaker, text) in enumerate(turns):
        if speaker == "caller":
            speech = wordcode.render(text, 16_000).pcm
            start = round(t * 16)
            caller = np.concatenate([caller, np.zeros(max(0, start - len(caller)), dtype=np.int16), speech])
            placed.append((speaker, text, t, t + len(speech) / 16))
            t += len(speech) / 16 + GAP_MS
        else:
            speech = wordcode.render(text, 48_000).pcm
            rid = f"r{k}"
            events.append((t - 2, S2C, _j(type="response.created", response={"id": rid, "status": "in_progress"})))
            for i in range(0, len(speech), 4800):
                chunk = speech[i : i + 4800].astype("<i2").tobytes()
                events.append((t + i / 48_000 * 0.1, S2C, _j(type="response.output_audio.delta", response_id=rid,
                                                              item_id=f"a{k}", delta=base64.b64encode(chunk).decode())))
            done = t + len(speech) / 48
            events.append((done, S2C, _j(type="response.done", response={"id": rid, "status": "completed"})))
            placed.append((speaker, text, t, done))
            t = done + GAP_MS
    end_ms = int(t) + 200
    caller = np.concatenate([caller, np.zeros(max(0, end_ms * 16 - len(caller)), dtype=np.int16)])
    for i in range(0, len(caller) - 319, 320):
        frame = caller[i : i + 320].astype("<i2").tobytes()
        events.append((i / 16 + 20, C2S, _j(type="input_audio_buffer.append", audio=base64.b64encode(frame).decode())))
    events.sort(key=lambda e: e[0])
    session = CaptureSession()
    records: list[Record] = []
    for at, direction, message in events:
        records += session.observe(direction, message, round(at * MS))
    closing = session.close((end_ms + 50) * MS, code=1000, reason="bye", closed_by=C2S)
    records += closing
    close = next(r for r in closing if isinstance(r, CloseRecord))
    # The caller's frames are laid from their arrival (20 ms late), the agent's from its first delta.
    shifted = [(s, txt, a + (20 if s == "caller" else 0), b + (20 if s == "caller" else 0)) for s, txt, a, b in placed]
    return WordCall(records, close, shifted)


def meta(session_id: str, started: dt.datetime, duration_ms: float) -> CallMeta:
    return CallMeta(id=session_id, started_at=started, ended_at=started + dt.timedelta(milliseconds=duration_ms),
                    duration_ms=duration_ms, close_code=1000, close_reason="bye", close_side="client",
                    upstream_status=101, model="hydra-1", metadata={"tenant": "test"})


def archive(call: WordCall, session_id: str, *, home: Path, keystore: KeyStore, engine: Engine,
            started: dt.datetime = dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC)) -> ArchiveResult:
    duration = call.turns[-1][3] + 250 if call.turns else 0.0
    return finalize_call(lambda: call.records, meta(session_id, started, duration),
                         home=home, keystore=keystore, engine=engine, close=call.close)
