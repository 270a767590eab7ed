"""The recordings row of an archive, and the one transaction that finishes a call in the database.

``record_archive`` writes, atomically and idempotently, what ``archive.finalize`` owes the
database once an archive is durable: the call rows (``write.write_call``), the recordings row
and the ledger entry of its manifest. Run twice, it adds nothing the second time, so
``recorder recover`` can simply run it again for archives whose rows are missing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from recorder.call import CallMeta, CallSummary
from recorder.db import ledger, usage
from recorder.db.engine import retrying_transaction
from recorder.db.models import CallSession, Recording
from recorder.db.write import write_call
from recorder.errors import IntegrityError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RecordingInfo:
    """What the database keeps about one archive (its latest manifest)."""

    session_id: str
    archive_path: str  # relative to the data dir
    state: str
    reason: str | None
    manifest_version: int
    manifest_sha256: str
    key_ids: tuple[str, ...]
    created_at: dt.datetime


def get_recording(session: Session, session_id: str) -> Recording | None:
    return session.get(Recording, session_id)


def list_recordings(session: Session) -> list[Recording]:
    return list(session.scalars(select(Recording).order_by(Recording.session_id)))


def write_recording(session: Session, info: RecordingInfo) -> Recording:
    """Insert the row, or move an existing one forward to a newer manifest version."""
    row = session.get(Recording, info.session_id)
    if row is None:
        row = Recording(
            session_id=info.session_id,
            archive_path=info.archive_path,
            state=info.state,
            reason=info.reason,
            manifest_version=info.manifest_version,
            manifest_sha256=info.manifest_sha256,
            key_ids=list(info.key_ids),
            created_at=info.created_at,
        )
        session.add(row)
    elif info.manifest_version > row.manifest_version:
        row.manifest_version = info.manifest_version
        row.manifest_sha256 = info.manifest_sha256
        row.key_ids = list(info.key_ids)
        row.state, row.reason = info.state, info.reason
    session.flush()
    return row


def ensure_ledger_entry(
    session: Session, info: RecordingInfo, *, now: dt.datetime, head: ledger.HeadSink
) -> None:
    """Append the manifest's ledger entry unless it is already there (then it must match).

    Either way ``head`` learns of the entry after the commit, so a run killed between an
    earlier commit and its checkpoint is made good by running it again.
    """
    entry = ledger.find_entry(session, info.session_id, info.manifest_version)
    if entry is None:
        ledger.append(session, info.session_id, info.manifest_version, info.manifest_sha256,
                      now=now, head=head)
        return
    ledger.pin_head(session, entry, head)
    if entry.manifest_sha256 != info.manifest_sha256:
        raise IntegrityError(
            info.archive_path,
            f"ledger entry {entry.seq} pins a different manifest {info.manifest_version}; "
            "run `recorder verify`",
        )


def record_archive(
    engine: Engine,
    meta: CallMeta,
    summary: CallSummary,
    info: RecordingInfo,
    *,
    now: dt.datetime,
    head: ledger.HeadSink,
    redact_json: Callable[[str], str] | None = None,
    attempts: int = 5,
) -> bool:
    """One transaction: call rows, recordings row, ledger entry, each only if absent.

    Returns True if the call rows were written now (False: they already existed).
    """

    def work(session: Session) -> bool:
        new_call = session.get(CallSession, meta.id) is None
        if new_call:
            call = write_call(session, meta, summary, redact_json=redact_json)
            session.flush()
        recording = write_recording(session, info)
        if new_call:
            usage.record(session, call, recording.state)
        ensure_ledger_entry(session, info, now=now, head=head)  # last: the chain head is held the shortest
        return new_call

    return retrying_transaction(engine, work, what=f"ledger append for {meta.id}", attempts=attempts)


def record_version(
    engine: Engine, info: RecordingInfo, *, now: dt.datetime, head: ledger.HeadSink, attempts: int = 5
) -> None:
    """Move the recordings row to a newer manifest and append its ledger entry, if absent."""

    def work(session: Session) -> None:
        write_recording(session, info)
        ensure_ledger_entry(session, info, now=now, head=head)

    retrying_transaction(engine, work, what=f"ledger append for {info.session_id}", attempts=attempts)
