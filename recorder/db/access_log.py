"""The access log: who opened which recording, when and why, hash-chained.

Every access to recorded content (``export_original``, later ``export`` and ``show``) appends one
entry, chained like the ledger (``recorder.db.ledger``)::

    entry_hash = sha256(canonical JSON of {seq, at (UTC ISO, microseconds), actor, action,
                                           session_id, reason, detail, prev_hash})
    prev_hash  = entry_hash of entry seq-1, or 64 zeros for seq 1

So an edited entry no longer matches its own hash and a deleted one breaks the next link.
Sequence numbers are last + 1, assigned here: two concurrent appenders collide on the primary
key and one retries (``record_access``) instead of forking the chain. Functions take a
``Session``; ``record_access`` is the one shell-facing helper that opens and commits its own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from recorder.db.engine import retrying_transaction
from recorder.db.ledger import GENESIS, ChainProblem, check_links
from recorder.db.models import AccessLogEntry

logger = logging.getLogger(__name__)

EXPORT_ORIGINAL = "export_original"
EXPORT = "export"
SHOW = "show"


def _utc(ts: dt.datetime) -> dt.datetime:
    """SQLite hands back naive UTC; PostgreSQL an aware time: one value for both."""
    return ts.replace(tzinfo=dt.UTC) if ts.tzinfo is None else ts.astimezone(dt.UTC)


def entry_hash(
    seq: int,
    at: dt.datetime,
    actor: str,
    action: str,
    session_id: str | None,
    reason: str | None,
    detail: Mapping[str, Any],
    prev_hash: str,
) -> str:
    doc = {
        "seq": seq,
        "at": _utc(at).isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "session_id": session_id,
        "reason": reason,
        "detail": dict(detail),
        "prev_hash": prev_hash,
    }
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _own_hash(e: AccessLogEntry) -> str:
    return entry_hash(e.seq, e.at, e.actor, e.action, e.session_id, e.reason, e.detail, e.prev_hash)


def last_entry(session: Session) -> AccessLogEntry | None:
    return session.scalars(select(AccessLogEntry).order_by(AccessLogEntry.seq.desc()).limit(1)).first()


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    reason: str | None,
    session_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
    now: dt.datetime,
) -> AccessLogEntry:
    """Add the next entry of the chain (flushed, not committed). ``detail`` must be JSON-able."""
    if not actor:
        raise ValueError("an access needs an actor")
    last = last_entry(session)
    seq = 1 if last is None else last.seq + 1
    prev = GENESIS if last is None else last.entry_hash
    at = _utc(now)
    # Round-trip through JSON so the hashed value is exactly what the JSON column gives back.
    doc: dict[str, Any] = json.loads(json.dumps(dict(detail or {})))
    entry = AccessLogEntry(
        seq=seq, at=at, actor=actor, action=action, session_id=session_id, reason=reason,
        detail=doc, prev_hash=prev,
        entry_hash=entry_hash(seq, at, actor, action, session_id, reason, doc, prev),
    )
    session.add(entry)
    session.flush()
    return entry


def read(session: Session, *, session_id: str | None = None) -> list[AccessLogEntry]:
    """Entries in chain order, all of them or those of one session."""
    query = select(AccessLogEntry).order_by(AccessLogEntry.seq)
    if session_id is not None:
        query = query.where(AccessLogEntry.session_id == session_id)
    return list(session.scalars(query))


def check_chain(entries: Sequence[AccessLogEntry]) -> list[ChainProblem]:
    """Every break in the whole chain (``read`` with no filter), in order; empty when it holds."""
    return check_links(entries, _own_hash, "access log", lambda e: f"{e.actor}, {e.action}")


def record_access(
    engine: Engine,
    *,
    actor: str,
    action: str,
    reason: str | None,
    session_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
    now: dt.datetime,
    attempts: int = 5,
) -> int:
    """Append and commit one entry, retrying when a concurrent appender took the same seq.

    Returns the entry's seq. Committed before the caller touches any plaintext, so an access
    that fails half-way is still on record.
    """
    seq = retrying_transaction(
        engine,
        lambda session: append(session, actor=actor, action=action, reason=reason,
                               session_id=session_id, detail=detail, now=now).seq,
        what="access log append",
        attempts=attempts,
    )
    logger.info("access %d: %s %s %s", seq, actor, action, session_id or "-")
    return seq
