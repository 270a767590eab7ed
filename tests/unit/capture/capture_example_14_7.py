"""The example session of reference/hydra-protocol.md §14.7, rebuilt with real base64 PCM.

Frames are the reference's lines verbatim except that each audio placeholder is replaced by
real PCM of the stated size, and the elided frames are filled in as the notes describe: one
20 ms caller frame every 20 ms from t 100 to the close, 12 + 24 + 8 agent deltas of 200 ms.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np

from recorder.capture.records import Direction

C2S, S2C = Direction.C2S, Direction.S2C

_CONFIG = {
    "instructions": (
        "You are Ava, a concise support agent for Northwind Electronics. Keep replies to one or"
        " two short sentences. Use lookup_order whenever the caller gives an order number."
    ),
    "voice": "aria",
    "tools": [
        {
            "type": "function",
            "name": "lookup_order",
            "description": "Fetch status and delivery date for an order number.",
            "parameters": {
                "type": "object",
                "properties": {"order_number": {"type": "string"}},
                "required": ["order_number"],
            },
        }
    ],
    "generate_initial_response": True,
}
_TOOLS_2 = [
    _CONFIG["tools"][0],  # type: ignore[index]
    {
        "type": "function",
        "name": "transfer_to_human",
        "description": "Hand the call to a human agent.",
        "parameters": {
            "type": "object",
            "properties": {"reason": {"type": "string"}},
            "required": ["reason"],
        },
    },
]
ARGUMENTS = '{"order_number": "7060228"}'
OUTPUT = '{"status": "shipped", "carrier": "UPS", "eta": "2026-09-14"}'


def pcm(samples: int, seed: int) -> bytes:
    """Distinct, deterministic PCM16 so sample-exact checks can tell frames apart."""
    rng = np.random.default_rng(seed)
    return rng.integers(-20000, 20000, size=samples, dtype="<i2").tobytes()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _msg(item_id: str, role: str, status: str, part: str) -> dict[str, Any]:
    return {"id": item_id, "type": "message", "role": role, "status": status,
            "content": [{"type": part, "text": None}]}


def _delta(event_id: str, rid: str, item: str, data: bytes) -> dict[str, Any]:
    return {"type": "response.output_audio.delta", "event_id": event_id, "response_id": rid,
            "item_id": item, "output_index": 0, "content_index": 0, "delta": b64(data)}


def build() -> tuple[list[tuple[float, Direction, str]], dict[str, list[bytes]], list[bytes]]:
    """(frames as (t_ms, direction, text) in arrival order, agent PCM per response, caller PCM)."""
    f: list[tuple[float, Direction, dict[str, Any]]] = []
    agent: dict[str, list[bytes]] = {"resp_01": [], "resp_03": [], "resp_04": []}
    caller: list[bytes] = []

    def add(t: float, d: Direction, frame: dict[str, Any]) -> None:
        f.append((t, d, frame))

    add(37, S2C, {"type": "session.created", "event_id": "sv_3b9d0e2a7c41f865",
                  "session_id": "5f0c2a9e-6d1b-4c8e-9a57-2e41b7d0c3f8"})
    add(40, C2S, {"type": "session.configure", "event_id": "evt_0001", "session": _CONFIG})
    add(92, S2C, {"type": "session.configured", "event_id": "sv_5e02c7d91a3f4b60", "session": _CONFIG})
    for k, t in enumerate(range(100, 15400, 20)):  # 20 ms of caller audio every 20 ms
        data = pcm(320, 100_000 + k)
        caller.append(data)
        add(t, C2S, {"type": "input_audio_buffer.append", "event_id": f"evt_c{k:04d}", "audio": b64(data)})
    add(402, S2C, {"type": "response.created", "event_id": "sv_a10f", "response": {"id": "resp_01"}})
    add(404, S2C, {"type": "conversation.item.added", "event_id": "sv_a110",
                   "item": _msg("item_a1", "assistant", "in_progress", "output_audio")})
    for i in range(12):  # 12 x 200 ms, one every 48 ms from t 450 to t 978
        data = pcm(9600, 1_000 + i)
        agent["resp_01"].append(data)
        add(450 + 48 * i, S2C, _delta(f"sv_a2{i:02d}", "resp_01", "item_a1", data))
    add(1002, S2C, {"type": "response.output_audio.done", "event_id": "sv_a300", "response_id": "resp_01",
                    "item_id": "item_a1", "output_index": 0, "content_index": 0})
    add(1003, S2C, {"type": "conversation.item.done", "event_id": "sv_a301",
                    "item": _msg("item_a1", "assistant", "completed", "output_audio")})
    add(1005, S2C, {"type": "response.done", "event_id": "sv_a302", "response": {
        "id": "resp_01", "status": "completed",
        "output": [_msg("item_a1", "assistant", "completed", "output_audio")],
        "usage": {"input_tokens": 388, "output_tokens": 61, "total_tokens": 449}}})
    add(2300, C2S, {"type": "session.update", "event_id": "evt_0110", "session": {"tools": _TOOLS_2}})
    add(2351, S2C, {"type": "session.updated", "event_id": "sv_b001", "session": {"tools": _TOOLS_2}})
    add(3360, S2C, {"type": "input_audio_buffer.speech_started", "event_id": "sv_c001",
                    "audio_start_ms": 3180, "item_id": "item_u1"})
    add(3361, S2C, {"type": "conversation.item.added", "event_id": "sv_c002", "previous_item_id": "item_a1",
                    "item": _msg("item_u1", "user", "in_progress", "input_audio")})
    add(6290, S2C, {"type": "input_audio_buffer.speech_stopped", "event_id": "sv_c003",
                    "audio_end_ms": 6020, "item_id": "item_u1"})
    add(6292, S2C, {"type": "conversation.item.done", "event_id": "sv_c004", "previous_item_id": "item_a1",
                    "item": _msg("item_u1", "user", "completed", "input_audio")})
    add(6540, S2C, {"type": "response.created", "event_id": "sv_c010", "response": {"id": "resp_02"}})
    fcall = {"id": "item_f1", "type": "function_call", "status": "in_progress", "call_id": "call_7Qk2",
             "name": "lookup_order", "arguments": ""}
    add(6542, S2C, {"type": "conversation.item.added", "event_id": "sv_c011", "previous_item_id": "item_u1",
                    "item": fcall})
    args = "response.function_call_arguments"
    add(6601, S2C, {"type": f"{args}.delta", "event_id": "sv_c012", "response_id": "resp_02",
                    "call_id": "call_7Qk2", "name": "lookup_order", "delta": '{"order_'})
    add(6619, S2C, {"type": f"{args}.delta", "event_id": "sv_c013", "response_id": "resp_02",
                    "call_id": "call_7Qk2", "delta": 'number": "706'})
    add(6634, S2C, {"type": f"{args}.delta", "event_id": "sv_c014", "response_id": "resp_02",
                    "call_id": "call_7Qk2", "delta": '0228"}'})
    add(6636, S2C, {"type": f"{args}.done", "event_id": "sv_c015", "response_id": "resp_02",
                    "call_id": "call_7Qk2", "name": "lookup_order", "arguments": ARGUMENTS})
    fdone = {**fcall, "status": "completed", "arguments": ARGUMENTS}
    add(6637, S2C, {"type": "conversation.item.done", "event_id": "sv_c016", "previous_item_id": "item_u1",
                    "item": fdone})
    add(6639, S2C, {"type": "response.done", "event_id": "sv_c017", "response": {
        "id": "resp_02", "status": "completed", "output": [fdone],
        "usage": {"input_tokens": 702, "output_tokens": 19, "total_tokens": 721}}})
    out_item = {"type": "function_call_output", "call_id": "call_7Qk2", "output": OUTPUT}
    add(6920, C2S, {"type": "conversation.item.create", "event_id": "evt_0350", "item": out_item})
    add(6931, S2C, {"type": "conversation.item.added", "event_id": "sv_c020", "previous_item_id": "item_f1",
                    "item": {"id": "item_o1", "status": "completed", **out_item}})
    add(7122, C2S, {"type": "response.create", "event_id": "evt_0351"})
    add(7390, S2C, {"type": "response.created", "event_id": "sv_c030", "response": {"id": "resp_03"}})
    add(7392, S2C, {"type": "conversation.item.added", "event_id": "sv_c031", "previous_item_id": "item_o1",
                    "item": _msg("item_a2", "assistant", "in_progress", "output_audio")})
    for i in range(24):  # 24 x 200 ms between t 7440 and t 9840 (~2x real time)
        data = pcm(9600, 3_000 + i)
        agent["resp_03"].append(data)
        add(7440 + round(i * 2400 / 23), S2C, _delta(f"sv_c1{i:02d}", "resp_03", "item_a2", data))
    add(9895, S2C, {"type": "input_audio_buffer.speech_started", "event_id": "sv_d001",
                    "audio_start_ms": 9700, "item_id": "item_u2"})
    a2_incomplete = _msg("item_a2", "assistant", "incomplete", "output_audio")
    add(9897, S2C, {"type": "conversation.item.done", "event_id": "sv_d002", "previous_item_id": "item_o1",
                    "item": a2_incomplete})
    add(9898, S2C, {"type": "response.done", "event_id": "sv_d003", "response": {
        "id": "resp_03", "status": "cancelled", "status_details": {"reason": "interrupted"},
        "output": [a2_incomplete],
        "usage": {"input_tokens": 760, "output_tokens": 88, "total_tokens": 848}}})
    add(9899, S2C, {"type": "conversation.item.added", "event_id": "sv_d004", "previous_item_id": "item_a2",
                    "item": _msg("item_u2", "user", "in_progress", "input_audio")})
    add(11240, S2C, {"type": "input_audio_buffer.speech_stopped", "event_id": "sv_d005",
                     "audio_end_ms": 11010, "item_id": "item_u2"})
    add(11242, S2C, {"type": "conversation.item.done", "event_id": "sv_d006", "previous_item_id": "item_a2",
                     "item": _msg("item_u2", "user", "completed", "input_audio")})
    add(11480, S2C, {"type": "response.created", "event_id": "sv_d010", "response": {"id": "resp_04"}})
    add(11482, S2C, {"type": "conversation.item.added", "event_id": "sv_d011", "previous_item_id": "item_u2",
                     "item": _msg("item_a3", "assistant", "in_progress", "output_audio")})
    for i in range(8):  # 8 x 200 ms, all received by t 11880
        data = pcm(9600, 4_000 + i)
        agent["resp_04"].append(data)
        add(11530 + 50 * i, S2C, _delta(f"sv_d1{i:02d}", "resp_04", "item_a3", data))
    add(11882, S2C, {"type": "response.output_audio.done", "event_id": "sv_d200", "response_id": "resp_04",
                     "item_id": "item_a3", "output_index": 0, "content_index": 0})
    add(11883, S2C, {"type": "conversation.item.done", "event_id": "sv_d201", "previous_item_id": "item_u2",
                     "item": _msg("item_a3", "assistant", "completed", "output_audio")})
    add(11885, S2C, {"type": "response.done", "event_id": "sv_d202", "response": {
        "id": "resp_04", "status": "completed",
        "output": [_msg("item_a3", "assistant", "completed", "output_audio")],
        "usage": {"input_tokens": 811, "output_tokens": 34, "total_tokens": 845}}})
    short = pcm(20, 9_999)  # 40 bytes = 1.25 ms: Hydra rejects it as too small
    caller.append(short)
    add(13010, C2S, {"type": "input_audio_buffer.append", "event_id": "evt_0655", "audio": b64(short)})
    add(13024, S2C, {"type": "error", "event_id": "sv_e001", "error": {
        "type": "invalid_request_error", "code": "invalid_audio",
        "message": "audio frame too small (40 bytes, need 320)", "param": "audio", "event_id": "evt_0655"}})

    order = sorted(range(len(f)), key=lambda i: (f[i][0], i))  # stable: arrival order, then script order
    frames = [(f[i][0], f[i][1], json.dumps(f[i][2])) for i in order]
    caller_in_order = [
        base64.b64decode(json.loads(text)["audio"])
        for _, d, text in frames
        if d is C2S and '"input_audio_buffer.append"' in text
    ]
    return frames, agent, caller_in_order


CLOSE_MS = 15400
