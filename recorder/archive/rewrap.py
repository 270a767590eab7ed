"""Move archives to the current keys after a rotation, without re-encrypting audio.

Rotation re-wraps the file key (a header rewrite). For
each ``.age`` file of a tier whose manifest entry is not wrapped to exactly the tier's active
recipients, the header is rebuilt with ``age.rewrap`` (unwrapped with any available identity,
active or retired) and the payload bytes are kept verbatim; the changed files are published
under the next signed manifest version with its ledger entry (``versions.publish_version``).

Idempotent: a file already wrapped to exactly the active key ids is skipped, and an archive
with nothing to change gets no new version. Once every archive is rewrapped, deleting a retired
identity (``recorder keys delete``) leaves no file it can open and none that only it could.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from recorder.archive.catalogue import check_archive
from recorder.archive.store import ArchiveStore
from recorder.archive.versions import SealedFile, publish_version
from recorder.crypto import age
from recorder.crypto.age import Identity, Recipient, Rng
from recorder.crypto.keys import AgeTier, KeyStore
from recorder.errors import DatabaseError, IntegrityError, NotFound

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RewrapResult:
    """What happened to one archive. ``manifest_version`` is the new version, or None if unchanged;
    ``error`` is why it could not be rewrapped (the archive is then left as it was)."""

    session_id: str
    rewrapped: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    manifest_version: int | None = None
    error: str | None = None

    @property
    def changed(self) -> bool:
        return self.manifest_version is not None


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def rewrap_blob(
    blob: bytes, identities: list[Identity], recipients: list[Recipient], *, rng: Rng, name: str
) -> bytes:
    """``blob`` with a new header wrapping the same file key to ``recipients``; payload untouched."""
    header = age.rewrap(blob, identities, recipients, rng=rng, name=name)
    return header + blob[age.read_header(blob, name=name).payload_offset :]


def rewrap_archive(
    home: Path,
    keystore: KeyStore,
    engine: Engine,
    session_id: str,
    *,
    tier: AgeTier = "archive",
    rng: Rng = os.urandom,
    clock: Callable[[], dt.datetime] = _utc_now,
    store: ArchiveStore | None = None,
) -> RewrapResult:
    """Rewrap one archive's ``tier`` files to the tier's active recipients (see module doc).

    The archive must verify first (``check_archive``): a tampered archive is refused with the
    ``IntegrityError`` naming the file, and nothing is written.
    """
    store = store or ArchiveStore(home)
    archive_dir = store.get(session_id)
    manifest, _ = check_archive(store, archive_dir, keystore.verify_keys())
    recipients = keystore.recipients(tier)
    target = age.recipient_key_ids(recipients)
    todo = [f for f in manifest.files if f.tier == tier and f.name.endswith(".age")]
    stale = [f for f in todo if set(f.key_ids) != set(target)]
    skipped = tuple(f.name for f in todo if f not in stale)
    if not stale:
        return RewrapResult(session_id, skipped=skipped)
    identities = keystore.identities(tier)
    sealed: dict[str, SealedFile] = {}
    for f in stale:
        name = f"{store.relative(archive_dir)}/{f.name}"
        blob = store.read(archive_dir, f.name)
        sealed[f.name] = SealedFile(rewrap_blob(blob, identities, recipients, rng=rng, name=name), tier, target)
    new = publish_version(home, keystore, engine, session_id, sealed, clock=clock, store=store)
    logger.info("archive %s: %d %s files rewrapped to %s (manifest %d)",
                session_id, len(sealed), tier, ",".join(target), new.version)
    return RewrapResult(session_id, tuple(sorted(sealed)), skipped, new.version)


def rewrap_all(
    home: Path,
    keystore: KeyStore,
    engine: Engine,
    *,
    tier: AgeTier = "archive",
    sessions: Iterable[str] | None = None,
    on_result: Callable[[RewrapResult], None] | None = None,
    rng: Rng = os.urandom,
    clock: Callable[[], dt.datetime] = _utc_now,
    store: ArchiveStore | None = None,
) -> list[RewrapResult]:
    """Rewrap every archive on disk (or ``sessions``), one result per archive.

    An archive that is damaged, cannot be opened with the identities here, or whose rows cannot
    be written is reported in its result and the others go on; a missing key store or identities
    (a configuration problem, the same for all) raise at once.
    """
    store = store or ArchiveStore(home)
    ids = list(sessions) if sessions is not None else [p.name for p in store.list()]
    results: list[RewrapResult] = []
    for session_id in ids:
        try:
            result = rewrap_archive(home, keystore, engine, session_id, tier=tier, rng=rng, clock=clock,
                                    store=store)
        except (IntegrityError, NotFound, DatabaseError) as exc:
            logger.warning("archive %s not rewrapped: %s", session_id, exc)
            result = RewrapResult(session_id, error=str(exc))
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results
