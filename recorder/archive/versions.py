"""New manifest versions: derivatives (redacted audio, transcripts) and key rewraps.

A manifest is never edited: ``publish_version`` writes
``manifest-000N.json`` = the latest manifest with some files added or replaced, the SHA-256 of
the previous manifest, a new signature; then, in one transaction, moves the recordings row to
it and appends its ledger entry. Files given here are already encrypted (``SealedFile``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import Engine

from recorder.archive.catalogue import check_archive
from recorder.archive.ledger_head import HeadCheckpoint
from recorder.archive.manifest import FileEntry, Manifest, sha256_hex, sign_manifest
from recorder.archive.store import ArchiveStore
from recorder.crypto.keys import KeyStore
from recorder.db.recordings import RecordingInfo, record_version
from recorder.errors import IntegrityError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SealedFile:
    """An encrypted archive file and what it is wrapped to. The repr never shows the bytes."""

    data: bytes = field(repr=False)
    tier: str
    key_ids: tuple[str, ...]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def publish_version(
    home: Path,
    keystore: KeyStore,
    engine: Engine,
    session_id: str,
    files: Mapping[str, SealedFile],
    *,
    clock: Callable[[], dt.datetime] = _utc_now,
    store: ArchiveStore | None = None,
) -> Manifest:
    """Add or replace ``files`` in a session's archive under the next signed manifest version.

    The archive must verify first (signature and every file), so a new version never blesses
    tampered files. Returns the new manifest.
    """
    store = store or ArchiveStore(home)
    archive_dir = store.get(session_id)
    latest, latest_bytes = check_archive(store, archive_dir, keystore.verify_keys())
    if latest.state == "erased":
        raise IntegrityError(f"{store.relative(archive_dir)}/{latest.name}",
                             "the call was erased; nothing is added to its archive")
    entries = {f.name: f for f in latest.files}
    for name, sealed in files.items():
        entries[name] = FileEntry(name, sha256_hex(sealed.data), len(sealed.data), sealed.tier, sealed.key_ids)
    signing_key = keystore.signing_key()
    now = clock()
    manifest = replace(
        latest,
        version=latest.version + 1,
        created_at=now.astimezone(dt.UTC).isoformat(),
        files=tuple(sorted(entries.values(), key=lambda e: e.name)),
        signing_key_id=signing_key.key_id,
        previous_sha256=sha256_hex(latest_bytes),
        removal=None,
    )
    data = manifest.to_bytes()
    store.add_version(
        archive_dir, manifest.version, data, sign_manifest(data, signing_key),
        {name: sealed.data for name, sealed in files.items()},
    )
    info = RecordingInfo(
        session_id=session_id, archive_path=store.relative(archive_dir), state=manifest.state,
        reason=manifest.reason, manifest_version=manifest.version, manifest_sha256=sha256_hex(data),
        key_ids=manifest.key_ids, created_at=dt.datetime.fromisoformat(latest.created_at),
    )
    record_version(engine, info, now=now, head=HeadCheckpoint(home, keystore))
    logger.info("archive %s: manifest %d published (%d files)", info.archive_path, manifest.version, len(files))
    return manifest
