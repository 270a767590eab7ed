"""Turn one call's records into a durable, signed, encrypted archive plus its database rows.

Order (issue 4, "Archive"; DESIGN.md "Journal": the journal is deleted only after this returns):

1. replay the records and render them in memory (``render``);
2. encrypt every file to the archive recipients (age v1);
3. build and sign ``manifest-0001.json`` (SHA-256, size, key ids of every file);
4. write the archive directory atomically (``ArchiveStore.write_new``);
5. one database transaction: call rows, recordings row, ledger entry (``record_archive``).

Idempotent: an archive already in place with a valid signed manifest and matching files is
reused (nothing is re-rendered or overwritten; a damaged one raises ``IntegrityError`` and is
left for the auditor), and rows already present are not written twice. So a crash anywhere in
between is repaired by running it again on the same records (``recorder recover``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from recorder.archive import calljson
from recorder.archive.manifest import (
    FileEntry,
    Manifest,
    sha256_hex,
    sign_manifest,
    verify_manifest,
)
from recorder.archive.render import (
    DEFAULT_ARCHIVE_RATE,
    RenderedCall,
    canonical_json,
    encode_flac,
    render,
)
from recorder.archive.store import ArchiveExists, ArchiveStore
from recorder.capture.records import AudioRecord, CallSummary, CloseRecord, FrameRecord
from recorder.capture.session import replay
from recorder.capture.timeline import CutPolicy
from recorder.crypto import age
from recorder.crypto.age import Rng
from recorder.crypto.keys import KeyStore
from recorder.crypto.signing import VerifyKey
from recorder.db.recordings import RecordingInfo, record_archive
from recorder.db.write import CallMeta
from recorder.errors import IntegrityError

logger = logging.getLogger(__name__)

TIER = "archive"
RECORDING = "recording.flac.age"
UNPLAYED = "unplayed.flac.age"
EVENTS = "events.jsonl.age"
ALIGNMENT = "alignment.json.age"
CALL = "call.json.age"


@dataclass(frozen=True, slots=True)
class ArchiveResult:
    """Where the call's archive is and what pins it; ``reused``: it was already in place."""

    session_id: str
    path: Path
    relative_path: str
    state: str
    reason: str | None
    manifest_version: int
    manifest_sha256: str
    key_ids: tuple[str, ...]
    reused: bool
    rows_written: bool
    duration_ms: float


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def plaintext_files(rendered: RenderedCall, meta: CallMeta) -> dict[str, bytes]:
    """The archive's files before encryption, by their archive name (``.age`` appended)."""
    files = {
        RECORDING: encode_flac(rendered.stereo, rendered.archive_rate),
        EVENTS: rendered.events,
        ALIGNMENT: canonical_json(rendered.alignment),
        CALL: calljson.dump(meta, rendered.summary),
    }
    if len(rendered.unplayed):
        files[UNPLAYED] = encode_flac(rendered.unplayed, rendered.archive_rate)
    return files


def manifest_summary(rendered: RenderedCall) -> dict[str, Any]:
    """Durations and counts for the plaintext manifest; never content."""
    s, t = rendered.summary, rendered.timeline
    return {
        "archive_rate": rendered.archive_rate,
        "duration_ms": rendered.duration_ms,
        "caller_audio_ms": s.caller_audio_ms,
        "agent_audio_ms_received": s.agent_audio_ms_received,
        "agent_audio_ms_heard": s.agent_audio_ms_heard,
        "agent_audio_ms_unplayed": s.agent_audio_ms_unplayed,
        "frames_c2s": s.frames_c2s,
        "frames_s2c": s.frames_s2c,
        "unparsed_frames": s.unparsed_frames,
        "responses": len(s.responses),
        "tool_calls": len(s.tool_calls),
        "errors": len(s.errors),
        "gaps": len(t.gaps),
        "cuts": len(t.cuts),
        "pauses": len(t.pauses),
        "cut_policy": t.cut_policy,
    }


def encrypt_files(
    files: Mapping[str, bytes], recipients: list[age.Recipient], *, rng: Rng = os.urandom
) -> tuple[dict[str, bytes], tuple[FileEntry, ...]]:
    """Each file age-encrypted to ``recipients``, and its manifest entry."""
    key_ids = age.recipient_key_ids(recipients)
    out: dict[str, bytes] = {}
    entries: list[FileEntry] = []
    for name, data in files.items():
        sealed = age.encrypt(data, recipients, rng=rng)
        out[name] = sealed
        entries.append(FileEntry(name, sha256_hex(sealed), len(sealed), TIER, key_ids))
    return out, tuple(sorted(entries, key=lambda e: e.name))


def check_archive(
    store: ArchiveStore, archive_dir: Path, verify_keys: Mapping[str, VerifyKey]
) -> tuple[Manifest, bytes]:
    """The latest manifest of an archive after checking its signature and every file's hash."""
    version, data, sig = store.read_manifest(archive_dir)
    name = f"{store.relative(archive_dir)}/manifest-{version:04d}.json"
    if sig is None:
        raise IntegrityError(name, "signature file is missing")
    manifest = verify_manifest(data, sig, verify_keys, name=name)
    for f in manifest.files:
        blob = store.read(archive_dir, f.name)
        if len(blob) != f.size or sha256_hex(blob) != f.sha256:
            raise IntegrityError(f"{store.relative(archive_dir)}/{f.name}", "does not match its manifest")
    return manifest, data


def _resolve_state(meta: CallMeta, state: str, reason: str | None) -> tuple[CallMeta, str]:
    """An archive is incomplete if either the caller or the proxy's facts say so."""
    if state not in ("complete", "incomplete"):
        raise ValueError(f"state must be complete or incomplete, not {state!r}")
    final = "incomplete" if "incomplete" in (state, meta.state) else "complete"
    return dataclasses.replace(meta, state=final), final


def finalize_call(
    records: Iterable[object],
    meta: CallMeta,
    *,
    home: Path,
    keystore: KeyStore,
    engine: Engine,
    close: CloseRecord | None = None,
    state: str = "complete",
    reason: str | None = None,
    archive_rate: int = DEFAULT_ARCHIVE_RATE,
    gap_threshold_ms: float = 250.0,
    cut_policy: CutPolicy = CutPolicy(),
    pci_tools: tuple[str, ...] = (),
    redact_json: Callable[[str], str] | None = None,
    clock: Callable[[], dt.datetime] = _utc_now,
    rng: Rng = os.urandom,
) -> ArchiveResult:
    """Archive one call from its records (audio and frame records in arrival order).

    ``close`` (or a ``CloseRecord`` among ``records``) is the end of the call; without it (a
    crash) audio scheduled after the last frame stays as scheduled. ``state``/``reason`` mark
    an incomplete archive (e.g. recovered from an orphaned journal).
    """
    t0 = time.perf_counter()
    items = [r for r in records if isinstance(r, (AudioRecord, FrameRecord, CloseRecord))]
    if reason is None:
        reason = getattr(meta, "reason", None)  # CallMeta may carry why the call is incomplete
    meta, state = _resolve_state(meta, state, reason)
    store = ArchiveStore(home)
    dest = store.path_for(meta.id, meta.started_at)
    settings: dict[str, Any] = dict(
        archive_rate=archive_rate, gap_threshold_ms=gap_threshold_ms, cut_policy=cut_policy,
        pci_tools=pci_tools,
    )
    summary: CallSummary
    reused = dest.exists()
    if not reused:
        rendered = render(items, close=close, **settings)
        summary = rendered.summary
        recipients = keystore.recipients("archive")
        sealed, entries = encrypt_files(plaintext_files(rendered, meta), recipients, rng=rng)
        signing_key = keystore.signing_key()
        manifest = Manifest(
            session_id=meta.id, version=1, created_at=clock().astimezone(dt.UTC).isoformat(),
            state=state, reason=reason, files=entries, signing_key_id=signing_key.key_id,
            summary=manifest_summary(rendered),
        )
        data = manifest.to_bytes()
        try:
            store.write_new(meta.id, meta.started_at, sealed, data, sign_manifest(data, signing_key))
        except ArchiveExists:
            reused = True  # another finalizer won the race: use its archive
    else:
        summary = _replay_summary(items, close, settings)
    manifest, data = check_archive(store, dest, keystore.verify_keys())
    info = RecordingInfo(
        session_id=meta.id,
        archive_path=store.relative(dest),
        state=manifest.state,
        reason=manifest.reason,
        manifest_version=manifest.version,
        manifest_sha256=sha256_hex(data),
        key_ids=manifest.key_ids,
        created_at=dt.datetime.fromisoformat(manifest.created_at),
    )
    meta = dataclasses.replace(meta, state=manifest.state)
    rows = record_archive(engine, meta, summary, info, now=clock(), redact_json=redact_json)
    elapsed = time.perf_counter() - t0
    logger.info(
        "call %s archived to %s (%s, manifest %d%s, rows %s) in %.2fs",
        meta.id, info.archive_path, manifest.state, manifest.version,
        ", reused" if reused else "", "written" if rows else "present", elapsed,
    )
    return ArchiveResult(
        session_id=meta.id, path=dest, relative_path=info.archive_path, state=manifest.state,
        reason=manifest.reason, manifest_version=manifest.version, manifest_sha256=info.manifest_sha256,
        key_ids=info.key_ids, reused=reused, rows_written=rows,
        duration_ms=float(manifest.summary.get("duration_ms", 0.0)),
    )


def _replay_summary(
    items: list[AudioRecord | FrameRecord | CloseRecord], close: CloseRecord | None, settings: dict[str, Any]
) -> CallSummary:
    frames: list[AudioRecord | FrameRecord | CloseRecord] = [
        r for r in items if not isinstance(r, CloseRecord)
    ]
    end = close or next((r for r in items if isinstance(r, CloseRecord)), None)
    return replay([*frames, *([end] if end else [])], **settings).summary()
