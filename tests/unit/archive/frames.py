"""Random calls as the journal keeps them: raw frames (direction, message, arrival ns).

What a replay must get right, mixed at random: caller audio before ``session.configured``,
agent deltas of a response already cut (discarded), barge-ins, PCI tool calls (with and without
their output), audio whose base64 is escaped in the JSON (``\\/``, ``\\u0041``), bad base64,
malformed JSON and binary frames, and frames the journal lost (dropped at random).
"""

from __future__ import annotations

import base64
import json

import numpy as np
from hypothesis import strategies as st

from recorder.values import Direction

MS = 1_000_000
C2S, S2C = Direction.C2S, Direction.S2C
PCI_TOOL = "take_payment"

Frame = tuple[Direction, str | bytes, int]

step = st.sampled_from(["caller", "caller", "caller", "caller", "burst", "response", "delta", "delta", "delta",
                        "done", "cancel", "speech", "configured", "tool", "output", "escaped", "bad", "junk"])


def _b64(pcm: bytes, escaped: int) -> str:
    text = base64.b64encode(pcm).decode("ascii")
    if escaped == 1:
        return text.replace("/", "\\/")  # JSON may escape a solidus
    if escaped == 2 and text:
        return "\\u%04x" % ord(text[0]) + text[1:]
    return text


def _audio_frame(kind: str, pcm: bytes, escaped: int, **fields: object) -> str:
    key = "audio" if kind == "input_audio_buffer.append" else "delta"
    head = json.dumps({"type": kind, **fields})[:-1]
    return f'{head}, "{key}": "{_b64(pcm, escaped)}"}}'


def frames(steps: list[str], seed: int, lost: float) -> list[Frame]:
    """The journal's frames for a call made of ``steps``, with about ``lost`` of them dropped."""
    rng = np.random.default_rng(seed)
    out: list[Frame] = [(S2C, json.dumps({"type": "session.created", "session": {"id": "hyd"}}), 0)]
    t = 1.0
    rid = 0
    call = 0
    for s in steps:
        t += float(rng.integers(0, 400 if s == "caller" else 60)) + 0.25
        at = round(t * MS)
        if s in ("caller", "burst", "escaped"):
            for _ in range(1 if s != "burst" else int(rng.integers(2, 8))):
                pcm = rng.integers(-20000, 20000, int(rng.choice([320, 160, 7, 0])), dtype=np.int16).tobytes()
                escaped = int(rng.integers(1, 3)) if s == "escaped" else 0
                out.append((C2S, _audio_frame("input_audio_buffer.append", pcm, escaped, event_id=f"c{len(out)}"), at))
                at += 20 * MS if s == "caller" else MS
            t = at / MS
        elif s == "response":
            rid += 1
            out.append((S2C, json.dumps({"type": "response.created", "response": {"id": f"r{rid}"}}), at))
        elif s == "delta":
            pcm = rng.integers(-30000, 30000, int(rng.integers(0, 40)) * 48, dtype=np.int16).tobytes()
            out.append((S2C, _audio_frame("response.output_audio.delta", pcm, int(rng.integers(0, 3)),
                                          response_id=f"r{rid}", item_id=f"i{rid}"), at))
        elif s in ("done", "cancel"):
            status = "completed" if s == "done" else "cancelled"
            out.append((S2C, json.dumps({"type": "response.done", "response": {"id": f"r{rid}", "status": status}}), at))
        elif s == "speech":
            out.append((S2C, json.dumps({"type": "input_audio_buffer.speech_started", "item_id": f"u{at}"}), at))
        elif s == "configured":
            out.append((S2C, json.dumps({"type": "session.configured", "session": {"tools": [{"name": PCI_TOOL}]}}), at))
        elif s == "tool":
            call += 1
            out.append((S2C, json.dumps({"type": "response.function_call_arguments.done", "call_id": f"k{call}",
                                         "name": PCI_TOOL, "response_id": f"r{rid}", "arguments": "{}"}), at))
        elif s == "output":
            out.append((C2S, json.dumps({"type": "conversation.item.create", "item": {
                "type": "function_call_output", "call_id": f"k{call}", "output": "{}"}}), at))
        elif s == "bad":
            kind = str(rng.choice(["input_audio_buffer.append", "response.output_audio.delta"]))
            text = str(rng.choice(["AAE", "A=AA", "!!!!", "AAA=AAA="]))
            key = "audio" if kind.startswith("input") else "delta"
            out.append((C2S if key == "audio" else S2C, json.dumps({"type": kind, key: text}), at))
        else:
            out.append((Direction(str(rng.choice([C2S, S2C]))),
                        str(rng.choice(['{"type": "input_audio_buffer.append", "audio": ', "[1]", "{}"])), at))
            out.append((C2S, b"\x00binary", at))
    keep = rng.random(len(out)) >= lost
    return [f for f, k in zip(out, keep, strict=True) if k]


# a random journal: what it holds, which frames it lost, its close, and whether a PCI tool runs
JOURNAL = dict(
    steps=st.lists(step, max_size=40),
    seed=st.integers(0, 2**16),
    lost=st.sampled_from([0.0, 0.1, 0.4]),
    close_ms=st.none() | st.integers(0, 3000),
    pci=st.booleans(),
)
