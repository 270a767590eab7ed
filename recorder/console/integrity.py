"""The integrity panel of a call: its manifest versions and ``recorder verify`` for that call.

Reads the archive with public keys only (``recorder.audit.verify``); nothing is decrypted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from recorder.archive.manifest import ManifestError, parse_manifest, sha256_hex
from recorder.archive.store import ArchiveStore
from recorder.audit.verify import verify
from recorder.crypto.keys import KeyStore


def integrity_status(home: Path, engine: Engine, keystore: KeyStore, session_id: str) -> dict[str, Any]:
    """``{"ok", "problems", "manifests": [{version, created_at, signing_key_id, signed, sha256,
    files}]}``."""
    report = verify(home, engine, keystore.verify_keys(), session=session_id)
    store = ArchiveStore(home)
    archive_dir = store.find(session_id)
    manifests: list[dict[str, Any]] = []
    for version in [] if archive_dir is None else store.manifest_versions(archive_dir):
        assert archive_dir is not None
        _, data, signature = store.read_manifest(archive_dir, version)
        entry: dict[str, Any] = {"version": version, "sha256": sha256_hex(data), "signed": signature is not None}
        try:
            m = parse_manifest(data)
            entry.update(created_at=m.created_at, signing_key_id=m.signing_key_id, state=m.state,
                         files=[f.name for f in m.files])
        except ManifestError as exc:
            entry.update(error=exc.reason)
        manifests.append(entry)
    return {"ok": report.ok, "problems": report.lines(), "manifests": manifests,
            "checked": {"files": report.files, "manifests": report.manifests,
                        "ledger_entries": report.ledger_entries}}
