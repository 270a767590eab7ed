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

from recorder.archive.finalize import check_archive
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
from recorder.lifecycle.policy import KINDS, TRANSCRIPTS, kind_of

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
    tenant: str | None
    archive_path: str | None
    has_transcript: bool


def _resolve(session: Session, key: str) -> _Call:
    call = find_session(session, key)
    holds.check_not_held(session, call.id, call.tenant)
    rec = get_recording(session, call.id)
    return _Call(call.id, call.tenant, None if rec is None else rec.archive_path,
                 session.get(Transcript, call.id) is not None)


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
    tombstone); see the module doc for the order. Raises ``CallHeld`` under a hold."""
    erase = cause == ERASE
    reason, actor = reason.strip(), actor.strip()
    if not reason or not actor:
        raise RemovalRefused("a deletion needs a reason and an actor (both go on the access log)")
    with transaction(engine) as session:
        call = _resolve(session, key)
    sid = call.session_id
    wanted = set(KINDS) if erase else set(kinds)
    if call.archive_path is None:
        raise RemovalRefused(f"call {sid} has no archive yet (still recording, or left for "
                             "`recorder recover`); nothing was deleted")
    store = ArchiveStore(home)
    archive_dir = home / call.archive_path
    latest, latest_bytes = check_archive(store, archive_dir, keystore.verify_keys())
    if latest.state == ERASED:
        leftovers = [n for n in (latest.removal or {}).get("files", {}) if (archive_dir / n).exists()]
        if not leftovers:
            raise RemovalRefused(f"call {sid} was already erased (manifest {latest.version})")
        _unlink(archive_dir, leftovers)  # a crash after the tombstone, before the unlinks
        return Removed(sid, tuple(KINDS), tuple(leftovers), False, latest.version, None)
    drop = [f for f in latest.files if kind_of(f.name, f.tier) in wanted]
    rows = call.has_transcript and TRANSCRIPTS in wanted
    if not drop and not rows and not erase:
        return Removed(sid, (), (), False, None, None)
    at = now.astimezone(dt.UTC).isoformat()
    dropped = {f.name: f.sha256 for f in drop}
    removal = {"cause": cause, "reason": reason, "actor": actor, "at": at,
               "kinds": sorted(wanted), "transcript_rows": rows, "files": dropped}
    signing_key = keystore.signing_key()
    manifest: Manifest = replace(
        latest, version=latest.version + 1, created_at=at,
        files=tuple(f for f in latest.files if f not in drop),
        state=ERASED if erase else latest.state, reason=reason if erase else latest.reason,
        signing_key_id=signing_key.key_id, previous_sha256=sha256_hex(latest_bytes), removal=removal,
    )
    data = manifest.to_bytes()
    store.add_version(archive_dir, manifest.version, data, sign_manifest(data, signing_key))
    info = RecordingInfo(
        session_id=sid, archive_path=call.archive_path, state=manifest.state, reason=manifest.reason,
        manifest_version=manifest.version, manifest_sha256=sha256_hex(data), key_ids=manifest.key_ids,
        created_at=now,
    )

    def work(session: Session) -> int:
        write_recording(session, info)
        if rows:
            _delete_transcript_rows(session, sid)
        if erase:
            session.execute(update(ToolCall).where(ToolCall.session_id == sid)
                            .values(arguments=None, output=None))
            session.execute(delete(Job).where(Job.session_id == sid))
        ensure_ledger_entry(session, info, now=now)  # the two chain heads last, held the shortest
        return access_log.append(
            session, actor=actor, action=cause, reason=reason, session_id=sid, now=now,
            detail={"kinds": sorted(wanted), "files": sorted(dropped), "transcript_rows": rows,
                    "manifest_version": manifest.version, "manifest_sha256": info.manifest_sha256},
        ).seq

    seq = retrying_transaction(engine, work, what=f"{cause} of {sid}")
    _unlink(archive_dir, [f.name for f in drop])
    logger.info("%s %s: %d files, transcript rows %s, manifest %d, access %d", cause, sid, len(drop),
                "deleted" if rows else "untouched", manifest.version, seq)
    return Removed(sid, tuple(sorted(wanted)), tuple(f.name for f in drop), rows, manifest.version, seq)
