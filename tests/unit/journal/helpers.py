"""Shared builders for journal tests: deterministic keys, records, and a short real call."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from recorder.capture.records import CloseRecord, Direction, Record
from recorder.capture.session import CaptureSession
from recorder.crypto.age import Identity
from recorder.journal import JournalWriter, RawFrame

C2S, S2C = Direction.C2S, Direction.S2C
MS = 1_000_000


class FixedRng:
    """Deterministic ``os.urandom`` stand-in: SHA-256 of (seed, call, block)."""

    def __init__(self, seed: bytes) -> None:
        self.seed = seed
        self.calls = 0

    def __call__(self, n: int) -> bytes:
        out = b""
        block = 0
        while len(out) < n:
            counters = self.calls.to_bytes(4, "big") + block.to_bytes(4, "big")
            out += hashlib.sha256(self.seed + counters).digest()
            block += 1
        self.calls += 1
        return out[:n]


IDENTITY = Identity.from_secret(hashlib.sha256(b"journal test identity").digest())
OTHER_IDENTITY = Identity.from_secret(hashlib.sha256(b"some other identity").digest())
META = {"session_id": "sess_1", "started_at": "2026-01-02T03:04:05+00:00", "path": "/v1/realtime"}


def writer(spool: Path, session_id: str = "sess_1", **kw: Any) -> JournalWriter:
    kw.setdefault("fsync", "never")
    kw.setdefault("rng", FixedRng(session_id.encode()))
    return JournalWriter(spool, session_id, [IDENTITY.recipient], META, **kw)


def caller_pcm(seq: int, samples: int = 320) -> bytes:
    return bytes((seq * 7 + i) % 251 for i in range(2 * samples))


def sample_records(n: int = 12) -> list[RawFrame]:
    """Every shape the writer meets: caller/agent text frames, binary frames, odd characters."""
    out: list[RawFrame] = []
    for seq in range(n):
        ns = seq * 20 * MS
        match seq % 4:
            case 0:
                audio = base64.b64encode(caller_pcm(seq)).decode()
                out.append(RawFrame(C2S, ns, _j(type="input_audio_buffer.append", audio=audio)))
            case 1:
                out.append(RawFrame(S2C, ns, _j(type="response.output_audio.delta", item_id="item_ü",
                                                 delta=base64.b64encode(caller_pcm(seq, 480)).decode())))
            case 2:
                out.append(RawFrame(S2C, ns, json.dumps({"type": "response.created", "n": seq})))
            case _:
                out.append(RawFrame(C2S, ns, b"\x00\xffbinary" * seq))
    return out


def _j(**frame: Any) -> str:
    return json.dumps(frame)


def call_frames() -> list[tuple[int, Direction, str]]:
    """A short call: configure, caller speech, an agent reply, a barge-in, a second reply."""
    frames: list[tuple[int, Direction, str]] = [
        (0, S2C, _j(type="session.created", session={"id": "hs_1"})),
        (5, C2S, _j(type="session.update", session={"voice": "aria"})),
        (10, S2C, _j(type="session.configured", session={"voice": "aria", "tools": []})),
    ]
    t = 20
    for i in range(40):  # 800 ms of caller audio, 20 ms frames
        frames.append((t, C2S, _j(type="input_audio_buffer.append",
                                  audio=base64.b64encode(caller_pcm(i)).decode())))
        t += 20
    frames += [
        (820, S2C, _j(type="input_audio_buffer.speech_stopped", item_id="it_1", audio_end_ms=800)),
        (840, S2C, _j(type="response.created", response={"id": "r1"})),
    ]
    for i in range(10):  # 2 s of agent audio, 200 ms deltas, sent fast
        pcm = base64.b64encode(caller_pcm(i, 9600)).decode()
        frames.append((850 + 5 * i, S2C, _j(type="response.output_audio.delta", response_id="r1",
                                            item_id="it_2", delta=pcm)))
    frames += [
        (1200, S2C, _j(type="response.output_audio.done", response_id="r1")),
        (1300, S2C, _j(type="input_audio_buffer.speech_started", item_id="it_3", audio_start_ms=1250)),
        (1310, S2C, _j(type="response.created", response={"id": "r2"})),
        (1320, S2C, _j(type="response.done", response={"id": "r1", "status": "cancelled",
                                                       "status_details": {"reason": "interrupted"}})),
        (1330, S2C, _j(type="response.output_audio.delta", response_id="r2", item_id="it_4",
                       delta=base64.b64encode(caller_pcm(99, 4800)).decode())),
        (1400, S2C, _j(type="response.done", response={"id": "r2", "status": "completed",
                                                       "usage": {"input_tokens": 5, "output_tokens": 7,
                                                                 "total_tokens": 12}})),
    ]
    return frames


def call_raw_frames() -> list[RawFrame]:
    return [RawFrame(direction, t_ms * MS, message) for t_ms, direction, message in call_frames()]


def run_call() -> tuple[CaptureSession, list[Record]]:
    session = CaptureSession()
    records: list[Record] = []
    for t_ms, direction, message in call_frames():
        records += session.observe(direction, message, t_ms * MS)
    records += session.close(1500 * MS, code=1000, reason="bye", closed_by=C2S)
    return session, records


def close_record(records: list[Record]) -> CloseRecord:
    return next(r for r in records if isinstance(r, CloseRecord))
