"""Legal holds: place, release, list, and the one check every deleting command makes.

A held call cannot be deleted or erased by any command (``check_not_held`` raises ``CallHeld``
naming the hold). Placing and releasing a hold append to the hash-chained access log in the same
transaction, so the log proves when a call was, and stopped being, protected. Functions take a
``Session``; only shells commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from recorder.db import access_log
from recorder.db.models import HeldSession, LegalHold
from recorder.errors import RecorderError

HOLD_ADD = "hold_add"
HOLD_RELEASE = "hold_release"
SCOPES = ("session", "tenant", "query")
MAX_REASON = 2000


class HoldError(RecorderError):
    """A hold request that cannot be carried out as asked (nothing was changed)."""


class CallHeld(RecorderError):
    """The call is under a legal hold: nothing of it may be deleted or erased."""

    def __init__(self, session_id: str, holds: Sequence[HoldInfo]) -> None:
        self.session_id = session_id
        self.holds = tuple(holds)
        named = "; ".join(f"hold {h.id} ({h.scope}{': ' + h.tenant if h.tenant else ''}) placed by "
                          f"{h.actor} on {h.created_at[:10]}: {h.reason}" for h in self.holds)
        super().__init__(
            f"call {session_id} is under legal hold: {named}; nothing was deleted "
            f"(`recorder hold release ID --reason TEXT` lifts a hold)"
        )


@dataclass(frozen=True, slots=True)
class HoldInfo:
    id: int
    scope: str
    tenant: str | None
    query: str | None
    reason: str
    actor: str
    created_at: str
    released_at: str | None
    released_by: str | None
    release_reason: str | None
    session_ids: tuple[str, ...]

    @property
    def active(self) -> bool:
        return self.released_at is None

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "scope": self.scope, "tenant": self.tenant, "query": self.query,
                "reason": self.reason, "actor": self.actor, "created_at": self.created_at,
                "active": self.active, "released_at": self.released_at, "released_by": self.released_by,
                "release_reason": self.release_reason, "session_ids": list(self.session_ids)}


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    return value.isoformat()


def _info(session: Session, hold: LegalHold) -> HoldInfo:
    ids = session.scalars(select(HeldSession.session_id).where(HeldSession.hold_id == hold.id)
                          .order_by(HeldSession.session_id))
    return HoldInfo(hold.id, hold.scope, hold.tenant, hold.query, hold.reason, hold.actor,
                    _iso(hold.created_at) or "", _iso(hold.released_at), hold.released_by,
                    hold.release_reason, tuple(ids))


def _text(value: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise HoldError(f"a hold needs a non-empty {what}")
    if len(value) > MAX_REASON:
        raise HoldError(f"the {what} is {len(value)} characters; at most {MAX_REASON}")
    return value


def place(
    session: Session,
    *,
    scope: str,
    reason: str,
    actor: str,
    now: dt.datetime,
    session_ids: Sequence[str] = (),
    tenant: str | None = None,
    query: str | None = None,
) -> HoldInfo:
    """Add a hold (flushed) and its access-log entry. ``session``/``query`` holds cover
    ``session_ids`` (at least one); a ``tenant`` hold covers every call of ``tenant``."""
    if scope not in SCOPES:
        raise HoldError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    if scope == "tenant" and not (tenant or "").strip():
        raise HoldError("a tenant hold needs a tenant")
    if scope != "tenant" and not session_ids:
        raise HoldError("the hold covers no call" + (f": nothing matches {query!r}" if query else ""))
    hold = LegalHold(scope=scope, tenant=tenant.strip() if tenant else None, query=query,
                     reason=_text(reason, "reason"), actor=_text(actor, "actor"), created_at=now)
    session.add(hold)
    session.flush()
    session.add_all(HeldSession(hold_id=hold.id, session_id=sid) for sid in sorted(set(session_ids)))
    session.flush()
    info = _info(session, hold)
    access_log.append(session, actor=info.actor, action=HOLD_ADD, reason=info.reason,
                      session_id=info.session_ids[0] if len(info.session_ids) == 1 else None,
                      detail={"hold_id": info.id, "scope": scope, "tenant": info.tenant,
                              "session_ids": list(info.session_ids)}, now=now)
    return info


def release(session: Session, hold_id: int, *, reason: str, actor: str, now: dt.datetime) -> HoldInfo:
    """Release an active hold (flushed) and log it; an unknown or released hold is a ``HoldError``."""
    hold = session.get(LegalHold, hold_id)
    if hold is None:
        raise HoldError(f"no hold {hold_id}; list them with `recorder hold list`")
    if hold.released_at is not None:
        raise HoldError(f"hold {hold_id} was already released on {_iso(hold.released_at)} "
                        f"by {hold.released_by}")
    hold.released_at, hold.released_by = now, _text(actor, "actor")
    hold.release_reason = _text(reason, "reason")
    session.flush()
    info = _info(session, hold)
    access_log.append(session, actor=hold.released_by, action=HOLD_RELEASE, reason=hold.release_reason,
                      session_id=info.session_ids[0] if len(info.session_ids) == 1 else None,
                      detail={"hold_id": hold_id, "scope": hold.scope, "tenant": hold.tenant,
                              "session_ids": list(info.session_ids)}, now=now)
    return info


def list_holds(session: Session, *, include_released: bool = False) -> list[HoldInfo]:
    query = select(LegalHold).order_by(LegalHold.id)
    if not include_released:
        query = query.where(LegalHold.released_at.is_(None))
    return [_info(session, h) for h in session.scalars(query)]


def covering(session: Session, session_id: str, tenant: str | None) -> list[HoldInfo]:
    """The active holds that cover one call."""
    listed = select(HeldSession.hold_id).where(HeldSession.session_id == session_id)
    match: list[ColumnElement[bool]] = [LegalHold.id.in_(listed)]
    if tenant:
        match.append((LegalHold.scope == "tenant") & (LegalHold.tenant == tenant))
    query = select(LegalHold).where(LegalHold.released_at.is_(None), or_(*match)).order_by(LegalHold.id)
    return [_info(session, h) for h in session.scalars(query)]


def held_ids(session: Session) -> tuple[set[str], set[str]]:
    """(session ids listed by active holds, tenants under an active tenant hold): for bulk checks."""
    ids = set(session.scalars(select(HeldSession.session_id).join(LegalHold)
                              .where(LegalHold.released_at.is_(None))))
    tenants = set(session.scalars(select(LegalHold.tenant).where(
        LegalHold.released_at.is_(None), LegalHold.scope == "tenant")))
    return ids, {t for t in tenants if t}


def check_not_held(session: Session, session_id: str, tenant: str | None) -> None:
    """Raise ``CallHeld`` if any active hold covers the call."""
    holds = covering(session, session_id, tenant)
    if holds:
        raise CallHeld(session_id, holds)
