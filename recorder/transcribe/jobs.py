"""The jobs table: which recordings still need a transcript, and who is working on which.

Invariants :

* every finalized recording gets exactly one job row (``enqueue``; insert-if-absent, so
  concurrent enqueuers never collide);
* a job is worked on only by the owner of an unexpired lease. ``claim`` takes ``queued`` jobs
  and ``running`` jobs whose lease has passed (their worker died), with a compare-and-set
  ``UPDATE`` so two claimers can never both win; on PostgreSQL the candidates are read with
  ``FOR UPDATE SKIP LOCKED`` so many workers on many hosts claim disjoint batches without
  waiting on each other. SQLite allows one worker at a time (``acquire_worker_lock``);
* every claim counts an attempt; a job that fails (or whose worker dies) ``max_attempts``
  times ends ``failed`` with the reason; ``retry_failed`` puts failed jobs back in the queue;
* ``finish``/``fail``/``renew`` only touch a job the caller still holds (``lease_owner``), so a
  worker that lost its lease cannot overwrite the work of the one that took over.

Functions take a ``Session`` and never commit; the shell (``transcribe.worker``) does. Times are
parameters (UTC, aware).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from recorder.db.models import CallSession, Job, Recording, WorkerLock

logger = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
WORKER_LOCK = "transcribe"
DEFAULT_LEASE_S = 300.0
DEFAULT_MAX_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Selection:
    """Which recordings a run is about: all, those started since a date, or one session."""

    since: dt.datetime | None = None
    session_id: str | None = None

    def where(self) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if self.since is not None:
            clauses.append(CallSession.started_at >= self.since)
        if self.session_id is not None:
            clauses.append(or_(CallSession.id == self.session_id,
                               CallSession.hydra_session_id == self.session_id))
        return clauses


@dataclass(frozen=True, slots=True)
class Claim:
    """A job this worker now holds until ``lease_until``; ``attempt`` counts this one."""

    session_id: str
    attempt: int
    lease_until: dt.datetime


def _insert(session: Session):  # type: ignore[no-untyped-def]
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def enqueue(session: Session, *, now: dt.datetime, selection: Selection = Selection()) -> int:
    """Add a queued job for every selected recording that has none; returns how many were added."""
    query = (
        select(Recording.session_id)
        .join(CallSession, CallSession.id == Recording.session_id)
        .outerjoin(Job, Job.session_id == Recording.session_id)
        .where(Job.session_id.is_(None), Recording.state != "erased", *selection.where())
        .order_by(CallSession.started_at, Recording.session_id)
    )
    ids = list(session.scalars(query))
    if not ids:
        return 0
    rows = [{"session_id": sid, "state": QUEUED, "attempts": 0, "created_at": now, "updated_at": now}
            for sid in ids]
    stmt = (_insert(session)(Job).values(rows).on_conflict_do_nothing(index_elements=["session_id"])
            .returning(Job.session_id))
    added = len(session.execute(stmt).all())
    logger.debug("enqueued %d recordings", added)
    return added


def _claimable(now: dt.datetime) -> ColumnElement[bool]:
    return or_(Job.state == QUEUED, and_(Job.state == RUNNING, Job.lease_until < now))


def claim(
    session: Session,
    owner: str,
    *,
    now: dt.datetime,
    lease_s: float = DEFAULT_LEASE_S,
    limit: int = 1,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    selection: Selection = Selection(),
    exclude: Collection[str] = (),
) -> list[Claim]:
    """Take up to ``limit`` jobs under a lease of ``lease_s`` seconds (oldest recordings first).

    An expired job that has already used ``max_attempts`` ends ``failed`` instead.
    """
    query = (
        select(Job.session_id, Job.state, Job.attempts)
        .join(CallSession, CallSession.id == Job.session_id)
        .where(_claimable(now), *selection.where())
        .order_by(CallSession.started_at, Job.session_id)
        .limit(limit + len(exclude))
    )
    if exclude:
        query = query.where(Job.session_id.not_in(list(exclude)))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Job)
    until = now + dt.timedelta(seconds=lease_s)
    claims: list[Claim] = []
    for sid, state, attempts in session.execute(query).all():
        if len(claims) >= limit:
            break
        guard = and_(Job.session_id == sid, _claimable(now))
        if state == RUNNING and attempts >= max_attempts:
            session.execute(update(Job).where(guard).values(
                state=FAILED, lease_owner=None, lease_until=None, updated_at=now,
                last_error=f"worker lost {attempts} times (lease expired); not retried"))
            logger.warning("job %s failed: its worker was lost %d times", sid, attempts)
            continue
        result = session.execute(update(Job).where(guard).values(
            state=RUNNING, lease_owner=owner, lease_until=until, attempts=Job.attempts + 1,
            updated_at=now))
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claims.append(Claim(sid, attempts + 1, until))
    return claims


def _held(session_id: str, owner: str) -> ColumnElement[bool]:
    return and_(Job.session_id == session_id, Job.state == RUNNING, Job.lease_owner == owner)


def holds(session: Session, session_id: str, owner: str, *, lock: bool = False) -> bool:
    """Whether ``owner`` still holds the job (``lock``: and keep the row locked till commit)."""
    query = select(Job.session_id).where(_held(session_id, owner))
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.execute(query).first() is not None


def renew(
    session: Session, owner: str, session_ids: Collection[str], *, now: dt.datetime,
    lease_s: float = DEFAULT_LEASE_S,
) -> set[str]:
    """Extend the leases ``owner`` still holds among ``session_ids``; returns those it holds."""
    if not session_ids:
        return set()
    until = now + dt.timedelta(seconds=lease_s)
    session.execute(update(Job).where(
        Job.session_id.in_(list(session_ids)), Job.state == RUNNING, Job.lease_owner == owner,
    ).values(lease_until=until, updated_at=now))
    held = session.scalars(select(Job.session_id).where(
        Job.session_id.in_(list(session_ids)), Job.state == RUNNING, Job.lease_owner == owner))
    return set(held)


def finish(session: Session, session_id: str, owner: str, *, now: dt.datetime) -> bool:
    """Mark the job done; False if ``owner`` no longer held it."""
    result = session.execute(update(Job).where(_held(session_id, owner)).values(
        state=DONE, lease_owner=None, lease_until=None, last_error=None, updated_at=now))
    return result.rowcount == 1  # type: ignore[attr-defined]


def fail(
    session: Session, session_id: str, owner: str, reason: str, *, now: dt.datetime,
    permanent: bool, max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> str | None:
    """Record a failed attempt: back to ``queued``, or ``failed`` when permanent or out of
    attempts. Returns the new state (None if ``owner`` no longer held the job)."""
    row = session.execute(select(Job.attempts).where(_held(session_id, owner))).first()
    if row is None:
        return None
    state = FAILED if permanent or row.attempts >= max_attempts else QUEUED
    session.execute(update(Job).where(_held(session_id, owner)).values(
        state=state, lease_owner=None, lease_until=None, last_error=reason[:2000], updated_at=now))
    return state


def release(session: Session, session_id: str, owner: str, *, now: dt.datetime) -> bool:
    """Give a job back untouched (the run stops, e.g. on an auth error): the attempt is not counted."""
    result = session.execute(update(Job).where(_held(session_id, owner)).values(
        state=QUEUED, lease_owner=None, lease_until=None, attempts=Job.attempts - 1, updated_at=now))
    return result.rowcount == 1  # type: ignore[attr-defined]


def retry_failed(session: Session, *, now: dt.datetime, selection: Selection = Selection()) -> int:
    """Put failed jobs back in the queue with a fresh attempt count."""
    ids = list(session.scalars(
        select(Job.session_id).join(CallSession, CallSession.id == Job.session_id)
        .where(Job.state == FAILED, *selection.where())))
    if not ids:
        return 0
    session.execute(update(Job).where(Job.session_id.in_(ids), Job.state == FAILED).values(
        state=QUEUED, attempts=0, updated_at=now))
    return len(ids)


def counts(session: Session) -> dict[str, int]:
    """Jobs per state."""
    rows = session.execute(select(Job.state, func.count()).group_by(Job.state)).all()
    return {state: int(n) for state, n in rows}


def get(session: Session, session_id: str) -> Job | None:
    return session.get(Job, session_id)


# --- one worker at a time (SQLite) ------------------------------------------------------------


def acquire_worker_lock(
    session: Session, owner: str, *, now: dt.datetime, lease_s: float = DEFAULT_LEASE_S,
    name: str = WORKER_LOCK,
) -> bool:
    """Take (or renew) the named exclusive lease; False while another owner's lease runs."""
    until = now + dt.timedelta(seconds=lease_s)
    session.execute(_insert(session)(WorkerLock).values(name=name, owner=owner, lease_until=until)
                    .on_conflict_do_nothing(index_elements=["name"]))
    result = session.execute(update(WorkerLock).where(
        WorkerLock.name == name, or_(WorkerLock.owner == owner, WorkerLock.lease_until < now),
    ).values(owner=owner, lease_until=until))
    return result.rowcount == 1  # type: ignore[attr-defined]


def release_worker_lock(session: Session, owner: str, *, name: str = WORKER_LOCK) -> None:
    session.execute(delete(WorkerLock).where(WorkerLock.name == name, WorkerLock.owner == owner))


__all__ = [
    "Claim", "DONE", "FAILED", "QUEUED", "RUNNING", "Selection", "acquire_worker_lock", "claim",
    "counts", "enqueue", "fail", "finish", "get", "holds", "release", "release_worker_lock",
    "renew", "retry_failed",
]
