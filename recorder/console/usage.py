"""Usage for the console's usage page: tokens and audio minutes per day, per agent, per tenant.

One function, ``usage_report``, over the existing tables (``responses`` token counts from
``response.done``, ``sessions`` durations): the page and ``/api/usage`` only read its dict, so
a richer report can replace it without touching the views.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from recorder.audit.queries import metadata_value
from recorder.db.models import CallSession, Response


def usage_report(session: Session, *, since: dt.datetime | None = None,
                 until: dt.datetime | None = None) -> dict[str, Any]:
    """``{"days": [...], "agents": [...], "tenants": [...], "totals": {...}}``; each row has
    ``calls``, ``audio_minutes`` (recorded call time) and ``total_tokens``."""
    c = CallSession
    where = [w for w in (None if since is None else c.started_at >= since,
                         None if until is None else c.started_at < until) if w is not None]
    tokens = (select(Response.session_id, func.sum(Response.total_tokens).label("tokens"))
              .group_by(Response.session_id).subquery())
    groups = {"days": func.date(c.started_at), "agents": metadata_value(session, "agent_id"),
              "tenants": metadata_value(session, "tenant")}
    out: dict[str, Any] = {}
    for name, key in groups.items():
        stmt = (select(key.label("key"), func.count(), func.coalesce(func.sum(c.duration_ms), 0),
                       func.coalesce(func.sum(tokens.c.tokens), 0))
                .select_from(c).outerjoin(tokens, tokens.c.session_id == c.id)
                .where(*where).group_by(key).order_by(key))
        out[name] = [{"key": None if k is None else str(k), "calls": int(n),
                      "audio_minutes": round(float(ms) / 60_000, 2), "total_tokens": int(t)}
                     for k, n, ms, t in session.execute(stmt).all()]
    out["totals"] = {field: sum(r[field] for r in out["days"])
                     for field in ("calls", "audio_minutes", "total_tokens")}
    out["totals"]["audio_minutes"] = round(out["totals"]["audio_minutes"], 2)
    return out
