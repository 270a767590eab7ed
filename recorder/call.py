"""The call's facts, in one typed home below every layer that uses them.

``CallMeta`` is what the proxy knows about a connection (ids, times, close, byte counts);
``CallSummary`` is what capture learns from its frames. The journal keeps the meta in two
halves (``journal_start`` when the call is accepted, ``journal_end`` when it ends, no secrets:
the query is scrubbed), the archive keeps both in ``call.json`` (``to_json``/``from_json``),
and the database writes its rows from them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from recorder.values import Direction, SafeRepr, frozen_value, secret_field

__all__ = [
    "CallMeta",
    "CallSummary",
    "CutTrigger",
    "ErrorSummary",
    "ResponseSummary",
    "SpeechTurn",
    "ToolCallSummary",
]

_START_FIELDS = ("id", "path", "query", "model", "metadata", "upstream_status")
_END_FIELDS = (
    "close_code", "close_reason", "close_side", "bytes_c2s", "bytes_s2c", "duration_ms", "state", "reason",
)


class CutTrigger(enum.StrEnum):
    """The event that made the modelled client stop playing a response (§10, §14.2)."""

    RESPONSE_CREATED = "response.created"
    RESPONSE_CANCELLED = "response.done.cancelled"
    SPEECH_STARTED = "input_audio_buffer.speech_started"
    CLOSE = "close"


@dataclass(frozen=True, slots=True)
class CallMeta:
    """What the proxy knows about a connection that capture does not."""

    id: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    duration_ms: float | None
    state: str = "complete"
    reason: str | None = None  # why the record is incomplete, if it is
    close_code: int | None = None
    close_reason: str | None = None
    close_side: str | None = None
    upstream_status: int | None = None
    model: str | None = None
    path: str | None = None
    query: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    bytes_c2s: int = 0
    bytes_s2c: int = 0

    def journal_start(self, version: str) -> dict[str, Any]:
        """What the journal's first record keeps of the call."""
        out = {name: getattr(self, name) for name in _START_FIELDS}
        return {**out, "started_at": self.started_at.isoformat(), "recorder_version": version}

    def journal_end(self) -> dict[str, Any]:
        """What the journal's END record keeps: the facts only known when the call ended."""
        out = {name: getattr(self, name) for name in _END_FIELDS}
        return {**out, "ended_at": self.ended_at.isoformat() if self.ended_at else None}

    @classmethod
    def from_journal(
        cls,
        start: Mapping[str, Any] | None,
        end: Mapping[str, Any] | None,
        *,
        session_id: str,
        close_code: int | None = None,
        close_reason: str | None = None,
    ) -> CallMeta:
        """The facts back from a journal; after a crash the end half is missing (incomplete)."""
        start, end = start or {}, end or {}
        started = start.get("started_at")
        ended = end.get("ended_at")
        return cls(
            id=str(start.get("id") or session_id),
            started_at=dt.datetime.fromisoformat(started) if started else dt.datetime.now(dt.UTC),
            ended_at=dt.datetime.fromisoformat(ended) if ended else None,
            duration_ms=end.get("duration_ms"),
            state=str(end.get("state") or "incomplete"),
            reason=end.get("reason"),
            close_code=end.get("close_code", close_code),
            close_reason=end.get("close_reason", close_reason),
            close_side=end.get("close_side"),
            upstream_status=start.get("upstream_status"),
            model=start.get("model"),
            path=start.get("path"),
            query=start.get("query"),
            metadata=dict(start.get("metadata") or {}),
            bytes_c2s=int(end.get("bytes_c2s") or 0),
            bytes_s2c=int(end.get("bytes_s2c") or 0),
        )

    def incomplete(self, *reasons: str | None) -> CallMeta:
        """The same facts marked incomplete, with every distinct reason (its own first)."""
        why = [r for r in (self.reason, *reasons) if r]
        return dataclasses.replace(self, state="incomplete", reason="; ".join(dict.fromkeys(why)) or None)

    def to_json(self) -> dict[str, Any]:
        doc = dataclasses.asdict(self)
        doc["started_at"] = self.started_at.isoformat()
        doc["ended_at"] = self.ended_at.isoformat() if self.ended_at else None
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> CallMeta:
        m = dict(doc)
        m["started_at"] = dt.datetime.fromisoformat(m["started_at"])
        m["ended_at"] = dt.datetime.fromisoformat(m["ended_at"]) if m.get("ended_at") else None
        return cls(**m)


@frozen_value
class ResponseSummary(SafeRepr):
    """One response's lifecycle (§5.9–§5.14); times are ms since the session was accepted."""

    response_id: str
    status: str | None  # completed|cancelled|incomplete|failed|None (never finished)
    reason: str | None  # status_details.reason
    created_ms: float | None
    first_audio_ms: float | None
    done_ms: float | None
    input_tokens: int | None
    output_tokens: int | None
    total_tokens: int | None
    audio_ms_received: float
    audio_ms_heard: float  # per the playout model + cut
    latency_ms: float | None  # preceding speech_stopped arrival -> first audio delta arrival
    cut_ms: float | None  # master-clock ms where its audio was cut (barge-in), if any
    audio_ms_unplayed: float = 0.0
    cut_trigger: CutTrigger | None = None
    audio_done_ms: float | None = None
    item_ids: tuple[str, ...] = ()


@frozen_value
class ToolCallSummary(SafeRepr):
    """One tool call round trip (§9); arguments and output are PII, never shown in reprs."""

    call_id: str
    name: str | None
    arguments: str | None = secret_field()  # arguments.done (or concatenated deltas)
    output: str | None = secret_field()  # the client's function_call_output
    response_id: str | None = None
    requested_ms: float | None = None
    output_ms: float | None = None
    response_create_ms: float | None = None  # the client's response.create after the output
    timed_out: bool = False  # a tool_response_timeout error followed


@frozen_value
class ErrorSummary(SafeRepr):
    code: str | None
    type: str | None
    message: str | None = secret_field()  # may quote the offending frame (§14.5)
    param: str | None = None
    client_event_id: str | None = None
    at_ms: float = 0.0


@frozen_value
class SpeechTurn(SafeRepr):
    """A caller turn as the server's VAD saw it (§5.5, §5.6); ``status`` from item.done."""

    item_id: str | None
    started_ms: float
    stopped_ms: float | None
    audio_start_ms: int | None
    audio_end_ms: int | None
    status: str | None


@frozen_value
class CallSummary(SafeRepr):
    """The whole call as a snapshot; ms are since the session was accepted."""

    hydra_session_id: str | None
    voice: str | None
    instructions: str | None = secret_field()
    tools: tuple[str, ...] = ()  # tool names as configured/updated
    responses: tuple[ResponseSummary, ...] = ()  # in response.created order
    tool_calls: tuple[ToolCallSummary, ...] = ()
    errors: tuple[ErrorSummary, ...] = ()
    speech_turns: tuple[SpeechTurn, ...] = ()
    frames_c2s: int = 0
    frames_s2c: int = 0
    unparsed_frames: int = 0
    caller_audio_ms: float = 0.0
    agent_audio_ms_received: float = 0.0
    agent_audio_ms_heard: float = 0.0
    warnings: tuple[str, ...] = ()  # e.g. model_deprecated
    unparsed_audio_frames: int = 0
    unknown_frames: int = 0
    configured_ms: float | None = None
    caller_audio_ms_before_configured: float = 0.0
    agent_audio_ms_unplayed: float = 0.0
    input_tokens: int = 0  # sums over responses that reported usage
    output_tokens: int = 0
    total_tokens: int = 0
    cut_policy: str = ""
    requested_voice: str | None = None
    close_code: int | None = None
    close_reason: str | None = None
    closed_by: Direction | None = None
    closed_ms: float | None = None
