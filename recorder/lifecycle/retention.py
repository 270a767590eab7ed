"""``recorder retention status|apply``: what each call's policy lets expire, and deleting it.

What is present is read from where it lives: each archive's latest manifest (plaintext, no key
needed) for the files, the database for transcript rows. Deletion goes through
``remove.remove_data`` one call at a time, which checks the hold again under its own
transaction, so a hold placed while ``apply`` runs still wins.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select

from recorder.archive.manifest import parse_manifest
from recorder.archive.store import ArchiveStore
from recorder.crypto.keys import KeyStore
from recorder.db import holds
from recorder.db.engine import transaction
from recorder.db.models import CallSession, Recording, Transcript
from recorder.errors import RecorderError
from recorder.retention_policy import (
    TRANSCRIPTS,
    CallData,
    Expiry,
    RetentionPolicies,
    expiries,
    kind_of,
)
from recorder.lifecycle.remove import ERASED, RETENTION, Removed, remove_data

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One call's share of an ``apply``: what was due, and what was removed or why not."""

    session_id: str
    kinds: tuple[str, ...]
    removed: Removed | None
    error: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"session_id": self.session_id, "kinds": list(self.kinds),
                "removed": None if self.removed is None else self.removed.to_json(), "error": self.error}


def present(home: Path, engine: Engine) -> list[CallData]:
    """Every archived, not erased call with the kinds of data it still has."""
    store = ArchiveStore(home)
    with transaction(engine) as session:
        rows = session.execute(
            select(CallSession, Recording.archive_path, Transcript.session_id)
            .join(Recording, Recording.session_id == CallSession.id)
            .outerjoin(Transcript, Transcript.session_id == CallSession.id)
            .where(Recording.state != ERASED)
            .order_by(CallSession.started_at, CallSession.id)
        ).all()
        held_ids, held_tenants = holds.held_ids(session)
        facts = [(c.id, c.tenant, c.started_at, path, transcript is not None) for c, path, transcript in rows]
    calls: list[CallData] = []
    for sid, tenant, started, path, has_rows in facts:
        archive_dir = home / path
        try:
            _, data, _ = store.read_manifest(archive_dir)
            manifest = parse_manifest(data, name=f"{path}/manifest")
        except (OSError, RecorderError) as exc:
            logger.warning("retention skips %s: %s (run `recorder verify`)", sid, exc)
            continue
        kinds = {kind_of(f.name, f.tier) for f in manifest.files}
        if has_rows:
            kinds.add(TRANSCRIPTS)
        calls.append(CallData(sid, tenant, started, frozenset(kinds),
                              sid in held_ids or (tenant is not None and tenant in held_tenants)))
    return calls


def status(home: Path, engine: Engine, policies: RetentionPolicies, now: dt.datetime) -> list[Expiry]:
    return expiries(present(home, engine), policies, now)


def apply(
    home: Path,
    keystore: KeyStore,
    engine: Engine,
    policies: RetentionPolicies,
    now: dt.datetime,
    *,
    actor: str,
    dry_run: bool = False,
) -> list[Outcome]:
    """Delete every expired, unheld kind of data, one call at a time; ``dry_run`` deletes nothing.

    A call that cannot be done (held since the plan was made, tampered, gone) is reported in its
    outcome and the others go on.
    """
    due: dict[str, list[Expiry]] = defaultdict(list)
    for e in status(home, engine, policies, now):
        if e.due:
            due[e.session_id].append(e)
    outcomes: list[Outcome] = []
    for sid, items in due.items():
        kinds = tuple(sorted({e.kind for e in items}))
        if dry_run:
            outcomes.append(Outcome(sid, kinds, None))
            continue
        tenant = items[0].tenant
        reason = f"retention policy of {'tenant ' + tenant if tenant else 'the default'}: " + ", ".join(
            f"{e.kind} expired {e.expires_at.date().isoformat()}" for e in items)
        try:
            removed = remove_data(home, keystore, engine, sid, kinds=kinds, cause=RETENTION,
                                  reason=reason, actor=actor, now=now)
        except RecorderError as exc:
            logger.warning("retention: %s not deleted: %s", sid, exc)
            outcomes.append(Outcome(sid, kinds, None, str(exc)))
            continue
        outcomes.append(Outcome(sid, kinds, removed))
    return outcomes
