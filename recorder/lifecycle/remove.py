"""Delete some or all of a call's data under a signed manifest version that says so.

Shared by erasure (everything, state ``erased``: the call's signed tombstone) and retention
(the kinds that expired). Order, so that a crash anywhere leaves something ``verify`` explains
and a rerun finishes:

1. the call is resolved (recorder id or Hydra session id) and refused if a legal hold covers it;
2. the archive is checked (signature, every file's SHA-256): a tampered archive is refused;
3. the next manifest version is written and signed: the files that stay, and a ``removal``
   object naming cause, reason, actor, time and the SHA-256 of every file it drops;
4. one transaction: the recordings row moves to it, its ledger entry is appended, transcript
   rows are deleted (erasure: tool-call payloads too), and the access log records the deletion;
5. only then are the files unlinked.

Steps 4 and 5 are driven by the signed manifest alone, so the next removal of the same call (or
``erase`` run again) completes one a crash interrupted after step 3.

A hand deletion has no signed version behind it, so ``verify`` still reports every file the
latest manifest lists and is not on disk.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Collection
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import Engine, delete, update
from sqlalchemy.orm import Session

from recorder.archive.catalogue import check_archive
from recorder.archive.ledger_head import HeadCheckpoint
from recorder.archive.manifest import Manifest, sha256_hex, sign_manifest
from recorder.archive.store import ArchiveStore
from recorder.audit.queries import find_session
from recorder.crypto.keys import KeyStore
from recorder.db import access_log, holds
from recorder.db.engine import retrying_transaction, transaction
from recorder.db.models import (
    Job,
    RedactionSpan,
    ToolCall,
    Transcript,
    TranscriptTurn,
    TranscriptWord,
)
from recorder.db.recordings import RecordingInfo, ensure_ledger_entry, get_recording, write_recording
from recorder.durable import fsync_dir
from recorder.errors import RecorderError
from recorder.retention_policy import KINDS, TRANSCRIPTS, kind_of

logger = logging.getLogger(__name__)

ERASE = "erase"
RETENTION = "retention"
ERASED = "erased"


class RemovalRefused(RecorderError):
    """Nothing was deleted: the call cannot have its data removed as asked."""


@dataclass(frozen=True, slots=True)
class Removed:
    """What one removal did. ``manifest_version`` is None when there was nothing to remove."""

    session_id: str
    kinds: tuple[str, ...]
    files: tuple[str, ...]
    transcript_rows: bool
    manifest_version: int | None
    access_seq: int | None

    def to_json(self) -> dict[str, object]:
        return {"session_id": self.session_id, "kinds": list(self.kinds), "files": list(self.files),
                "transcript_rows": self.transcript_rows, "manifest_version": self.manifest_version,
                "access_log_seq": self.access_seq}


@dataclass(frozen=True, slots=True)
class _Call:
    session_id: str
    archive_path: str | None
    row_version: int  # the manifest version the recordings row pins
    has_transcript: bool


def _resolve(session: Session, key: str) -> _Call:
    call = find_session(session, key)
    holds.check_not_held(session, call.id, call.tenant)
    rec = get_recording(session, call.id)
    return _Call(call.id, None if rec is None else rec.archive_path,
                 0 if rec is None else rec.manifest_version, session.get(Transcript, call.id) is not None)


def _delete_transcript_rows(session: Session, session_id: str) -> None:
    for model in (TranscriptWord, TranscriptTurn, RedactionSpan, Transcript):
        session.execute(delete(model).where(model.session_id == session_id))


def _unlink(archive_dir: Path, names: Collection[str]) -> None:
    for name in names:
        try:
            os.unlink(archive_dir / name)
        except FileNotFoundError:
            continue
    fsync_dir(archive_dir)


def _commit(engine: Engine, manifest: Manifest, data: bytes, archive_path: str, now: dt.datetime,
            head: HeadCheckpoint) -> int:
    """The database half of a removal, from its signed manifest: recordings row, rows deleted,
    ledger entry, access-log entry, in one transaction. Returns the access-log seq."""
    removal = manifest.removal or {}
    sid, erase = manifest.session_id, manifest.state == ERASED
    info = RecordingInfo(
        session_id=sid, archive_path=archive_path, state=manifest.state, reason=manifest.reason,
        manifest_version=manifest.version, manifest_sha256=sha256_hex(data), key_ids=manifest.key_ids,
        created_at=now,
    )

    def work(session: Session) -> int:
        write_recording(session, info)
        if removal.get("transcript_rows"):
            _delete_transcript_rows(session, sid)
        if erase:
            session.execute(update(ToolCall).where(ToolCall.session_id == sid)
                            .values(arguments=None, output=None))
            session.execute(delete(Job).where(Job.session_id == sid))
        ensure_ledger_entry(session, info, now=now, head=head)  # the two chain heads last, held the shortest
        return access_log.append(
            session, actor=str(removal.get("actor")), action=str(removal.get("cause")),
            reason=str(removal.get("reason")), session_id=sid, now=now,
            detail={"kinds": list(removal.get("kinds", ())), "files": sorted(removal.get("files", {})),
                    "transcript_rows": bool(removal.get("transcript_rows")),
                    "manifest_version": manifest.version, "manifest_sha256": info.manifest_sha256},
        ).seq

    return retrying_transaction(engine, work, what=f"{removal.get('cause')} of {sid}")


def _finish(engine: Engine, archive_dir: Path, manifest: Manifest, data: bytes, archive_path: str,
            row_version: int, now: dt.datetime, head: HeadCheckpoint) -> int | None:
    """Complete a removal whose signed manifest is written: its database half unless the
    recordings row already pins it (an earlier run crashed in between), then the unlinks."""
    seq = _commit(engine, manifest, data, archive_path, now, head) if row_version < manifest.version else None
    _unlink(archive_dir, list((manifest.removal or {}).get("files", {})))
    return seq


def remove_data(
    home: Path,
    keystore: KeyStore,
    engine: Engine,
    key: str,
    *,
    kinds: Collection[str],
    cause: str,
    reason: str,
    actor: str,
    now: dt.datetime,
) -> Removed:
    """Remove ``kinds`` of call ``key``'s data (all of ``KINDS`` with cause ``erase``: the
    tombstone); see the module doc for the order. Raises ``CallHeld`` under a hold.

    A removal an earlier run left half-done (its manifest written, the database or the unlinks
    not) is completed first."""
    erase = cause == ERASE
    reason, actor = reason.strip(), actor.strip()
    if not reason or not actor:
        raise RemovalRefused("a deletion needs a reason and an actor (both go on the access log)")
    with transaction(engine) as session:
        call = _resolve(session, key)
    sid = call.session_id
    wanted = set(KINDS) if erase else set(kinds)
    archive_path = call.archive_path
    if archive_path is None:
        raise RemovalRefused(f"call {sid} has no archive yet (still recording, or left for "
                             "`recorder recover`); nothing was deleted")
    store = ArchiveStore(home)
    archive_dir = home / archive_path
    latest, latest_bytes = check_archive(store, archive_dir, keystore.verify_keys())
    if latest.removal is not None:
        _finish(engine, archive_dir, latest, latest_bytes, archive_path, call.row_version, now,
                HeadCheckpoint(home, keystore))
        with transaction(engine) as session:
            call = _resolve(session, sid)
    if latest.state == ERASED:
        raise RemovalRefused(f"call {sid} was already erased (manifest {latest.version})")
    drop = [f for f in latest.files if kind_of(f.name, f.tier) in wanted]
    rows = call.has_transcript and TRANSCRIPTS in wanted
    if not drop and not rows and not erase:
        return Removed(sid, (), (), False, None, None)
    at = now.astimezone(dt.UTC).isoformat()
    removal = {"cause": cause, "reason": reason, "actor": actor, "at": at, "kinds": sorted(wanted),
               "transcript_rows": rows, "files": {f.name: f.sha256 for f in drop}}
    signing_key = keystore.signing_key()
    manifest: Manifest = replace(
        latest, version=latest.version + 1, created_at=at,
        files=tuple(f for f in latest.files if f not in drop),
        state=ERASED if erase else latest.state, reason=reason if erase else latest.reason,
        signing_key_id=signing_key.key_id, previous_sha256=sha256_hex(latest_bytes), removal=removal,
    )
    data = manifest.to_bytes()
    store.add_version(archive_dir, manifest.version, data, sign_manifest(data, signing_key))
    seq = _finish(engine, archive_dir, manifest, data, archive_path, call.row_version, now,
                HeadCheckpoint(home, keystore))
    logger.info("%s %s: %d files, transcript rows %s, manifest %d, access %s", cause, sid, len(drop),
                "deleted" if rows else "untouched", manifest.version, seq)
    return Removed(sid, tuple(sorted(wanted)), tuple(f.name for f in drop), rows, manifest.version, seq)
