"""The usage report: calls, audio minutes, responses, tokens and tool calls per day, agent,
tenant or model, with a reconciliation count of flagged calls (``db.usage`` decides the flags).

Functions take a ``Session`` (the CLI and the web console share them) and read only the
``call_usage`` rollup: one row per call, so a report over 100,000 calls is one aggregate over
100,000 narrow rows (``ix_call_usage_day`` narrows it for ``since``/``until``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from recorder.db.models import CallUsage

GROUPS = ("day", "agent", "tenant", "model")
FLAGS = ("usage_missing", "tokens_implausible", "recording_incomplete")
MAX_FLAGGED = 1000


@dataclass(frozen=True, slots=True)
class UsageRow:
    key: str | None  # the day (ISO date), agent, tenant or model; None: not given by the client
    calls: int
    caller_minutes: float
    agent_minutes: float  # agent audio the caller heard, as recorded
    agent_minutes_received: float
    responses: int
    completed: int
    cancelled: int
    failed: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    tool_calls: int
    usage_missing: int  # calls flagged, per flag
    tokens_implausible: int
    recording_incomplete: int

    @property
    def reconciliation(self) -> str:
        """``ok``, or the flagged call counts, e.g. ``2 usage missing, 1 recording incomplete``."""
        parts = [f"{getattr(self, f)} {f.replace('_', ' ')}" for f in FLAGS if getattr(self, f)]
        return ", ".join(parts) or "ok"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "reconciliation": self.reconciliation}


@dataclass(frozen=True, slots=True)
class FlaggedCall:
    session_id: str
    day: str
    flags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UsageReport:
    by: str
    since: dt.date | None
    until: dt.date | None
    rows: tuple[UsageRow, ...]
    total: UsageRow
    flagged: tuple[FlaggedCall, ...]  # oldest first; only when asked for

    def to_json(self) -> dict[str, Any]:
        return {"by": self.by, "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None,
                "rows": [r.to_json() for r in self.rows], "total": self.total.to_json(),
                "flagged_calls": [{"session_id": f.session_id, "day": f.day, "flags": list(f.flags)}
                                  for f in self.flagged]}


def _aggregates() -> list[Any]:
    u = CallUsage
    return [
        func.count(), func.sum(u.caller_audio_ms), func.sum(u.agent_audio_ms_heard),
        func.sum(u.agent_audio_ms_received), func.sum(u.responses), func.sum(u.completed),
        func.sum(u.cancelled), func.sum(u.failed), func.sum(u.input_tokens), func.sum(u.output_tokens),
        func.sum(u.total_tokens), func.sum(u.tool_calls), func.sum(u.flag_usage_missing),
        func.sum(u.flag_tokens_implausible), func.sum(u.flag_recording_incomplete),
    ]


def _row(key: str | None, values: Any) -> UsageRow:
    (calls, caller, heard, received, responses, completed, cancelled, failed, inp, out, total,
     tools, missing, implausible, incomplete) = (v or 0 for v in values)
    return UsageRow(key, int(calls), round(float(caller) / 60000, 3), round(float(heard) / 60000, 3),
                    round(float(received) / 60000, 3), int(responses), int(completed), int(cancelled),
                    int(failed), int(inp), int(out), int(total), int(tools), int(missing),
                    int(implausible), int(incomplete))


def _key(value: object) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def usage_report(session: Session, *, by: str = "day", since: dt.date | None = None,
                 until: dt.date | None = None, flagged: int = 0) -> UsageReport:
    """Usage of the calls that started on days ``since`` .. ``until`` (both inclusive, UTC),
    with the first ``flagged`` (at most ``MAX_FLAGGED``) flagged calls listed, oldest first."""
    if by not in GROUPS:
        raise ValueError(f"by must be one of {GROUPS}, not {by!r}")
    u = CallUsage
    where = [c for c in (u.day >= since if since else None, u.day <= until if until else None) if c is not None]
    column = getattr(u, by)
    grouped = session.execute(select(column, *_aggregates()).where(*where).group_by(column)).all()
    rows = sorted((_row(_key(r[0]), r[1:]) for r in grouped), key=lambda r: (r.key is None, r.key or ""))
    # The total from the groups' raw sums (one scan fewer than asking the database again).
    total = _row(None, [sum(r[i] or 0 for r in grouped) for i in range(1, len(_aggregates()) + 1)])
    if not flagged:
        return UsageReport(by, since, until, tuple(rows), total, ())
    flagged_query = (
        select(u.session_id, u.day, u.flag_usage_missing, u.flag_tokens_implausible, u.flag_recording_incomplete)
        .where(*where, (u.flag_usage_missing + u.flag_tokens_implausible + u.flag_recording_incomplete) > 0)
        .order_by(u.day, u.session_id).limit(min(flagged, MAX_FLAGGED))
    )
    listed = tuple(
        FlaggedCall(sid, _key(day) or "", tuple(f for f, on in zip(FLAGS, flags, strict=True) if on))
        for sid, day, *flags in session.execute(flagged_query)
    )
    return UsageReport(by, since, until, tuple(rows), total, listed)
