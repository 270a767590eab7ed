"""Mutable per-response, per-tool-call and per-turn state of a session, and its snapshots.

Kept apart from ``session.py`` so the event handling there reads as one flow; only
``CaptureSession`` mutates these, and ``summary()`` turns them into frozen values.
"""

from __future__ import annotations

from recorder.capture.records import (
    CutTrigger,
    ResponseSummary,
    SpeechTurn,
    ToolCallSummary,
)
from recorder.capture.timeline import AgentTrack
from recorder.units import AGENT_RATE


def ms(ns: int | None) -> float | None:
    return None if ns is None else ns / 1_000_000


class ResponseState:
    __slots__ = (
        "id", "created_ns", "first_audio_ns", "audio_done_ns", "done_ns", "status", "reason",
        "usage", "anchor_ns", "latency_ns", "cut_position", "cut_trigger", "item_ids",
    )

    def __init__(self, response_id: str | None) -> None:
        self.id = response_id
        self.created_ns: int | None = None
        self.first_audio_ns: int | None = None
        self.audio_done_ns: int | None = None
        self.done_ns: int | None = None
        self.status: str | None = None
        self.reason: str | None = None
        self.usage: tuple[int | None, int | None, int | None] = (None, None, None)
        self.anchor_ns: int | None = None  # the speech_stopped this response answers
        self.latency_ns: int | None = None
        self.cut_position: int | None = None
        self.cut_trigger: CutTrigger | None = None
        self.item_ids: list[str] = []


class ToolCallState:
    __slots__ = (
        "call_id", "name", "response_id", "parts", "arguments", "output", "requested_ns",
        "output_ns", "response_create_ns", "timed_out",
    )

    def __init__(self, call_id: str | None) -> None:
        self.call_id = call_id
        self.name: str | None = None
        self.response_id: str | None = None
        self.parts: list[str] = []
        self.arguments: str | None = None
        self.output: str | None = None
        self.requested_ns: int | None = None
        self.output_ns: int | None = None
        self.response_create_ns: int | None = None
        self.timed_out = False


class TurnState:
    __slots__ = ("item_id", "started_ns", "stopped_ns", "audio_start_ms", "audio_end_ms", "status")

    def __init__(self, item_id: str | None, started_ns: int) -> None:
        self.item_id = item_id
        self.started_ns = started_ns
        self.stopped_ns: int | None = None
        self.audio_start_ms: int | None = None
        self.audio_end_ms: int | None = None
        self.status: str | None = None



def response_summary(r: ResponseState, agent: AgentTrack, archive_rate: int) -> ResponseSummary:
    """Audio figures come from the playout model: heard = received - unplayed (source samples)."""
    received = agent.received.get(r.id, 0)
    unplayed = agent.unplayed.get(r.id, 0)
    cut_ms = None if r.cut_position is None else r.cut_position * 1000 / archive_rate
    return ResponseSummary(
        response_id=r.id or "",
        status=r.status,
        reason=r.reason,
        created_ms=ms(r.created_ns),
        first_audio_ms=ms(r.first_audio_ns),
        done_ms=ms(r.done_ns),
        input_tokens=r.usage[0],
        output_tokens=r.usage[1],
        total_tokens=r.usage[2],
        audio_ms_received=agent_ms(received),
        audio_ms_heard=agent_ms(received - unplayed),
        latency_ms=ms(r.latency_ns),
        cut_ms=cut_ms,
        audio_ms_unplayed=agent_ms(unplayed),
        cut_trigger=r.cut_trigger,
        audio_done_ms=ms(r.audio_done_ns),
        item_ids=tuple(r.item_ids),
    )


def tool_call_summary(c: ToolCallState) -> ToolCallSummary:
    arguments = c.arguments if c.arguments is not None else ("".join(c.parts) if c.parts else None)
    return ToolCallSummary(
        call_id=c.call_id or "",
        name=c.name,
        arguments=arguments,
        output=c.output,
        response_id=c.response_id,
        requested_ms=ms(c.requested_ns),
        output_ms=ms(c.output_ns),
        response_create_ms=ms(c.response_create_ns),
        timed_out=c.timed_out,
    )


def agent_ms(samples: int) -> float:
    return samples * 1000 / AGENT_RATE


def turn_summary(t: TurnState) -> SpeechTurn:
    return SpeechTurn(
        t.item_id, t.started_ns / 1_000_000, ms(t.stopped_ns), t.audio_start_ms, t.audio_end_ms, t.status
    )
