"""Write one finished call's rows in a single transaction.

Input is the call's facts (`recorder.call`: the proxy's `CallMeta` and capture's
`CallSummary`); nothing here touches sockets. Called from a worker thread after the call, never on the forwarding path.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from recorder.call import CallMeta, CallSummary
from recorder.db.models import CallError, CallSession, Response, ToolCall


def write_call(
    session: Session,
    meta: CallMeta,
    summary: CallSummary,
    redact_json: Any = None,
) -> CallSession:
    """Add the call and its children; `redact_json` (str -> str) cleans tool-call payloads."""
    clean = redact_json or (lambda text: text)
    row = CallSession(
        id=meta.id,
        hydra_session_id=summary.hydra_session_id,
        started_at=meta.started_at,
        ended_at=meta.ended_at,
        duration_ms=meta.duration_ms,
        state=meta.state,
        close_code=meta.close_code,
        close_reason=meta.close_reason,
        close_side=meta.close_side,
        upstream_status=meta.upstream_status,
        model=meta.model,
        path=meta.path,
        query=meta.query,
        call_metadata=dict(meta.metadata),
        voice=summary.voice,
        tools=list(summary.tools),
        warnings=list(summary.warnings),
        frames_c2s=summary.frames_c2s,
        frames_s2c=summary.frames_s2c,
        unparsed_frames=summary.unparsed_frames,
        bytes_c2s=meta.bytes_c2s,
        bytes_s2c=meta.bytes_s2c,
        caller_audio_ms=summary.caller_audio_ms,
        agent_audio_ms_received=summary.agent_audio_ms_received,
        agent_audio_ms_heard=summary.agent_audio_ms_heard,
    )
    row.responses = [
        Response(
            seq=seq,
            response_id=r.response_id,
            status=r.status,
            reason=r.reason,
            created_ms=r.created_ms,
            first_audio_ms=r.first_audio_ms,
            done_ms=r.done_ms,
            input_tokens=r.input_tokens,
            output_tokens=r.output_tokens,
            total_tokens=r.total_tokens,
            audio_ms_received=r.audio_ms_received,
            audio_ms_heard=r.audio_ms_heard,
            latency_ms=r.latency_ms,
            cut_ms=r.cut_ms,
        )
        for seq, r in enumerate(summary.responses)
    ]
    row.tool_calls = [
        ToolCall(
            seq=seq,
            call_id=t.call_id,
            name=t.name,
            response_id=t.response_id,
            arguments=None if t.arguments is None else clean(t.arguments),
            output=None if t.output is None else clean(t.output),
            requested_ms=t.requested_ms,
            output_ms=t.output_ms,
        )
        for seq, t in enumerate(summary.tool_calls)
    ]
    row.errors = [
        CallError(
            seq=seq,
            code=e.code,
            type=e.type,
            message=e.message,
            param=e.param,
            client_event_id=e.client_event_id,
            at_ms=e.at_ms,
        )
        for seq, e in enumerate(summary.errors)
    ]
    session.add(row)
    return row
