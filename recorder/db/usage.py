"""The per-call usage rollup (``call_usage``): one narrow row per call, so reports stay fast.

``record`` writes a call's row in the transaction that writes its other rows
(``recordings.record_archive``); ``backfill`` writes the rows of calls archived before the
rollup existed. The reconciliation flags are decided here, once per call:

* ``usage_missing``: a response has no usage (no ``response.done``, or one without ``usage``);
* ``tokens_implausible``: with at least 1 s of agent audio received, output tokens per second
  of it outside ``PLAUSIBLE_OUTPUT_TOKENS_PER_S``; with less, more than
  ``MAX_OUTPUT_TOKENS_WITHOUT_AUDIO`` output tokens (text replies and tool calls cost tokens
  without audio, hence a generous bound);
* ``recording_incomplete``: the call or its archive is marked incomplete.

Hydra reports input, output and total tokens per response only (no text/audio split), so that
is what is summed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from recorder.db.models import CallSession, CallUsage, Recording

PLAUSIBLE_OUTPUT_TOKENS_PER_S = (1.0, 300.0)
MAX_OUTPUT_TOKENS_WITHOUT_AUDIO = 2000
BACKFILL_BATCH = 2000


@dataclass(frozen=True, slots=True)
class ResponseUsage:
    status: str | None
    input_tokens: int | None
    output_tokens: int | None
    total_tokens: int | None


def tokens_implausible(output_tokens: int, agent_audio_ms_received: float) -> bool:
    seconds = agent_audio_ms_received / 1000
    if seconds < 1:
        return output_tokens > MAX_OUTPUT_TOKENS_WITHOUT_AUDIO
    low, high = PLAUSIBLE_OUTPUT_TOKENS_PER_S
    return not low <= output_tokens / seconds <= high


def usage_missing(responses: Sequence[ResponseUsage]) -> bool:
    return any(r.status is None
               or (r.input_tokens is None and r.output_tokens is None and r.total_tokens is None)
               for r in responses)


def _day(started_at: dt.datetime) -> dt.date:
    return (started_at if started_at.tzinfo is None else started_at.astimezone(dt.UTC)).date()


def build_row(call: CallSession, recording_state: str | None) -> CallUsage:
    """The rollup row of one call (responses and tool calls loaded)."""
    responses = [ResponseUsage(r.status, r.input_tokens, r.output_tokens, r.total_tokens)
                 for r in call.responses]
    output = sum(r.output_tokens or 0 for r in responses)
    return CallUsage(
        session_id=call.id, day=_day(call.started_at), tenant=call.tenant, agent=call.agent,
        model=call.model,
        caller_audio_ms=call.caller_audio_ms, agent_audio_ms_received=call.agent_audio_ms_received,
        agent_audio_ms_heard=call.agent_audio_ms_heard,
        responses=len(responses),
        completed=sum(r.status == "completed" for r in responses),
        cancelled=sum(r.status == "cancelled" for r in responses),
        failed=sum(r.status == "failed" for r in responses),
        input_tokens=sum(r.input_tokens or 0 for r in responses),
        output_tokens=output,
        total_tokens=sum(r.total_tokens or 0 for r in responses),
        tool_calls=len(call.tool_calls),
        flag_usage_missing=int(usage_missing(responses)),
        flag_tokens_implausible=int(tokens_implausible(output, call.agent_audio_ms_received)),
        flag_recording_incomplete=int("incomplete" in (call.state, recording_state)),
    )


def _load(session: Session, ids: Sequence[str]) -> list[tuple[CallSession, str | None]]:
    rows = session.execute(
        select(CallSession, Recording.state)
        .outerjoin(Recording, Recording.session_id == CallSession.id)
        .where(CallSession.id.in_(ids))
        .options(selectinload(CallSession.responses), selectinload(CallSession.tool_calls))
    ).all()
    return [(call, state) for call, state in rows]


def record(session: Session, call: CallSession, recording_state: str | None) -> None:
    """Write (or rewrite) the rollup row of a call this session has just written (flushed, not
    committed): built from its rows in memory, its responses and tool calls not read back."""
    session.merge(build_row(call, recording_state))
    session.flush()


def backfill(session: Session, *, batch: int = BACKFILL_BATCH) -> int:
    """Write the rollup rows of calls that have none; returns how many (flushed, not committed).

    Two counts first: when they agree (every call archived since the rollup exists has its
    row) nothing is searched."""
    calls = session.scalar(select(func.count()).select_from(CallSession))
    if calls == session.scalar(select(func.count()).select_from(CallUsage)):
        return 0
    missing = list(session.scalars(
        select(CallSession.id).outerjoin(CallUsage, CallUsage.session_id == CallSession.id)
        .where(CallUsage.session_id.is_(None))))
    for i in range(0, len(missing), batch):
        session.add_all(build_row(call, state) for call, state in _load(session, missing[i : i + batch]))
        session.flush()
        session.expunge_all()
    return len(missing)
