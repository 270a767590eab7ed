"""Read calls back as plain JSON-ready dicts. Functions take a `Session`; shells open it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, String, func, literal_column, or_, select
from sqlalchemy.orm import Session, selectinload

from recorder.db.models import METADATA_INDEXED, CallSession, Recording, Response, Transcript
from recorder.db.transcripts import read_transcript, search_turns, sessions_matching
from recorder.errors import AmbiguousId, NotFound

MAX_CANDIDATES = 20  # an ambiguous id lists at most this many of the calls it matches


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def session_row(call: CallSession) -> dict[str, Any]:
    return {
        "id": call.id,
        "hydra_session_id": call.hydra_session_id,
        "started_at": _iso(call.started_at),
        "ended_at": _iso(call.ended_at),
        "duration_ms": call.duration_ms,
        "state": call.state,
        "close_code": call.close_code,
        "close_reason": call.close_reason,
        "close_side": call.close_side,
        "model": call.model,
        "voice": call.voice,
        "metadata": dict(call.call_metadata),
    }


def list_sessions(session: Session, limit: int | None = None) -> list[dict[str, Any]]:
    query = select(CallSession).order_by(CallSession.started_at.desc(), CallSession.id)
    if limit:
        query = query.limit(limit)
    return [session_row(call) for call in session.scalars(query)]


def resolve_session(session: Session, key: str) -> str:
    """The recorder id of the one call whose recorder id or Hydra session id is `key`.

    Every command that takes a SESSION goes through here: an unknown key is `NotFound`, and a
    key that matches several calls is `AmbiguousId` listing them, never one picked silently.
    """
    rows = session.execute(
        select(CallSession.id, CallSession.hydra_session_id, CallSession.started_at)
        .where(or_(CallSession.id == key, CallSession.hydra_session_id == key))
        .order_by(CallSession.started_at.desc(), CallSession.id)
        .limit(MAX_CANDIDATES + 1)
    ).all()
    if not rows:
        raise NotFound("session", key)
    if len(rows) > 1:
        candidates = [f"{r.id}  started {_iso(r.started_at)}  Hydra session {r.hydra_session_id or '-'}"
                      for r in rows[:MAX_CANDIDATES]]
        if len(rows) > MAX_CANDIDATES:
            candidates.append(f"... and more (first {MAX_CANDIDATES} shown)")
        raise AmbiguousId(key, candidates)
    return str(rows[0].id)


def find_session(session: Session, key: str) -> CallSession:
    """The call whose recorder id or Hydra session id is `key` (see `resolve_session`)."""
    call = session.get(
        CallSession,
        resolve_session(session, key),
        options=[
            selectinload(CallSession.responses),
            selectinload(CallSession.tool_calls),
            selectinload(CallSession.errors),
        ],
    )
    assert call is not None
    return call


def show_session(session: Session, key: str) -> dict[str, Any]:
    call = find_session(session, key)
    usage_totals = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
    responses = []
    for r in call.responses:
        usage = {
            "input_tokens": r.input_tokens,
            "output_tokens": r.output_tokens,
            "total_tokens": r.total_tokens,
        }
        for name, value in usage.items():
            usage_totals[name] += value or 0
        responses.append(
            {
                "id": r.response_id,
                "status": r.status,
                "reason": r.reason,
                "usage": usage,
                "audio_ms_received": r.audio_ms_received,
                "audio_ms_heard": r.audio_ms_heard,
                "created_ms": r.created_ms,
                "first_audio_ms": r.first_audio_ms,
                "done_ms": r.done_ms,
                "latency_ms": r.latency_ms,
                "cut_ms": r.cut_ms,
            }
        )
    recording = session.get(Recording, call.id)
    return {
        **session_row(call),
        "transcript": transcript_json(session, call.id),
        "recording": None if recording is None else {
            "state": recording.state,
            "reason": recording.reason,
            "archive_path": recording.archive_path,
            "manifest_version": recording.manifest_version,
            "key_ids": list(recording.key_ids),
        },
        "upstream_status": call.upstream_status,
        "path": call.path,
        "query": call.query,
        "tools": list(call.tools),
        "warnings": list(call.warnings),
        "frames": {
            "c2s": call.frames_c2s,
            "s2c": call.frames_s2c,
            "unparsed": call.unparsed_frames,
        },
        "bytes": {"c2s": call.bytes_c2s, "s2c": call.bytes_s2c},
        "audio_ms": {
            "caller": call.caller_audio_ms,
            "agent_received": call.agent_audio_ms_received,
            "agent_heard": call.agent_audio_ms_heard,
        },
        "usage": usage_totals,
        "responses": responses,
        "tool_calls": [
            {
                "call_id": t.call_id,
                "name": t.name,
                "response_id": t.response_id,
                "arguments": t.arguments,
                "output": t.output,
                "requested_ms": t.requested_ms,
                "output_ms": t.output_ms,
            }
            for t in call.tool_calls
        ],
        "errors": [
            {
                "code": e.code,
                "type": e.type,
                "message": e.message,
                "param": e.param,
                "client_event_id": e.client_event_id,
                "at_ms": e.at_ms,
            }
            for e in call.errors
        ],
    }


def transcript_json(session: Session, session_id: str) -> dict[str, Any] | None:
    """The redacted transcript of a call (turns with speaker and times), or None if not yet made."""
    record = read_transcript(session, session_id)
    if record is None:
        return None
    return {
        "language": record.language,
        "model": record.model,
        "redaction": record.redaction,
        "created_at": _iso(record.created_at),
        "audio_seconds_billed": record.audio_seconds_billed,
        "pulse_request_ids": list(record.pulse_request_ids),
        "turns": [{"speaker": t.speaker, "start_ms": t.start_ms, "end_ms": t.end_ms, "text": t.text}
                  for t in record.turns],
        "redaction_spans": [{"channel": s.channel, "type": s.type, "start_ms": s.start_ms,
                             "end_ms": s.end_ms} for s in record.spans],
    }


def search(session: Session, query: str, limit: int = 100) -> list[dict[str, Any]]:
    """Calls whose redacted transcript has every word of ``query``: one entry per call with the
    matching turns, most recent call first."""
    calls: dict[str, dict[str, Any]] = {}
    for hit in search_turns(session, query, limit=limit):
        entry = calls.get(hit.session_id)
        if entry is None:
            call = session.get(CallSession, hit.session_id)
            entry = calls[hit.session_id] = {
                "id": hit.session_id,
                "hydra_session_id": call.hydra_session_id if call else None,
                "started_at": _iso(call.started_at) if call else None,
                "turns": [],
            }
        entry["turns"].append({"speaker": hit.speaker, "start_ms": hit.start_ms, "end_ms": hit.end_ms,
                               "text": hit.text})
    return list(calls.values())


@dataclass(frozen=True, slots=True)
class CallFilter:
    """What a call list is narrowed to; None or "" means no filter. Times are UTC, ``until``
    exclusive; durations in milliseconds; ``q`` every word in some turn of the transcript."""

    q: str = ""
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    agent: str = ""
    tenant: str = ""
    status: str = ""  # complete | incomplete
    min_duration_ms: float | None = None
    max_duration_ms: float | None = None


@dataclass(frozen=True, slots=True)
class CallPage:
    rows: list[dict[str, Any]]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def metadata_value(session: Session, key: str) -> ColumnElement[str]:
    """A call-metadata value as text. On PostgreSQL the key is written literally, as in the
    expression indexes ``ix_sessions_<key>`` (migration 0007), so the planner can use them."""
    if session.get_bind().dialect.name == "postgresql" and key in METADATA_INDEXED:
        return CallSession.call_metadata.op("->>", return_type=String)(literal_column(f"'{key}'"))
    return CallSession.call_metadata[key].as_string()


def _conditions(session: Session, f: CallFilter) -> list[ColumnElement[bool]]:
    c = CallSession
    out: list[ColumnElement[bool]] = []
    if f.since is not None:
        out.append(c.started_at >= f.since)
    if f.until is not None:
        out.append(c.started_at < f.until)
    if f.agent:
        out.append(metadata_value(session, "agent_id") == f.agent)
    if f.tenant:
        out.append(metadata_value(session, "tenant") == f.tenant)
    if f.status:
        out.append(c.state == f.status)
    if f.min_duration_ms is not None:
        out.append(c.duration_ms >= f.min_duration_ms)
    if f.max_duration_ms is not None:
        out.append(c.duration_ms <= f.max_duration_ms)
    matching = sessions_matching(session, f.q)
    if matching is not None:
        out.append(c.id.in_(matching))
    return out


def find_calls(session: Session, f: CallFilter, *, page: int = 1, per_page: int = 50) -> CallPage:
    """One page of the calls ``f`` selects, most recent first, with their token usage and
    whether they are transcribed; ``total`` counts every call selected."""
    where = _conditions(session, f)
    total = session.scalar(select(func.count()).select_from(CallSession).where(*where)) or 0
    calls = list(session.scalars(
        select(CallSession).where(*where).order_by(CallSession.started_at.desc(), CallSession.id)
        .offset((page - 1) * per_page).limit(per_page)))
    ids = [call.id for call in calls]
    tokens = dict(session.execute(
        select(Response.session_id, func.sum(Response.total_tokens))
        .where(Response.session_id.in_(ids)).group_by(Response.session_id)).tuples().all())
    transcribed = set(session.scalars(select(Transcript.session_id).where(Transcript.session_id.in_(ids))))
    rows = [{**session_row(call), "total_tokens": int(tokens.get(call.id) or 0),
             "transcribed": call.id in transcribed} for call in calls]
    return CallPage(rows, total, page, per_page)
