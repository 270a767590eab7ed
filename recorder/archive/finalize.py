"""Turn one call's records into a durable, signed, encrypted archive plus its database rows.

Order (the journal is deleted only after this returns):

1. pass 1 over the records (``render.plan``): replay, summary, timeline; the event log is
   encrypted as it is made;
2. pass 2 (``render.render_audio``): the stereo recording and the unplayed track are rendered
   block by block into FLAC encoders that write through streaming age encryptors (64 KiB
   chunks) into the archive's staging directory: no plaintext audio on disk, and memory
   bounded whatever the call's length (see ``render``);
3. the small files (alignment, call.json) are encrypted whole; each file's SHA-256 is read
   back from its staged bytes and ``manifest-0001.json`` built and signed;
4. the staging directory is published atomically (``ArchiveStaging.commit``);
5. one database transaction: call rows, recordings row, ledger entry (``record_archive``).

``records`` is a factory: each call returns a fresh iterator over the same records. A new
archive takes two passes (two calls), three if one channel runs far ahead of the other (see
``render``); an archive already in place takes one (its summary). Pass 1 needs only the
length of each frame's audio, so it may read ``plan_records`` instead: the same records whose
PCM is a stand-in of the same length (the journal's pipeline then skips decoding base64).

Idempotent: an archive already in place with a valid signed manifest and matching files is
reused (nothing is re-rendered or overwritten; a damaged one raises ``IntegrityError`` and is
left for the auditor), and rows already present are not written twice. So a crash anywhere in
between is repaired by running it again on the same records (``recorder recover``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from recorder.archive import calljson
from recorder.archive.catalogue import (
    ALIGNMENT,
    ARCHIVE_TIER,
    CALL,
    EVENTS,
    RECORDING,
    UNPLAYED,
    check_archive,
)
from recorder.archive.ledger_head import HeadCheckpoint
from recorder.archive.manifest import FileEntry, Manifest, sha256_hex, sign_manifest
from recorder.archive.render import (
    DEFAULT_ARCHIVE_RATE,
    CallPlan,
    RenderError,
    flac_writer,
    plan,
    render_audio,
)
from recorder.archive.store import ArchiveExists, ArchiveStaging, ArchiveStore
from recorder.capture.records import CallSummary, CloseRecord
from recorder.capture.timeline import CutPolicy
from recorder.crypto import age
from recorder.crypto.age import Rng
from recorder.crypto.keys import KeyStore
from recorder.db.recordings import RecordingInfo, record_archive
from recorder.db.write import CallMeta

logger = logging.getLogger(__name__)

Records = Callable[[], Iterable[object]]


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


def manifest_summary(call: CallPlan) -> dict[str, Any]:
    """Durations and counts for the plaintext manifest; never content."""
    s, t = call.summary, call.timeline
    return {
        "archive_rate": call.archive_rate,
        "duration_ms": call.duration_ms,
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


def _stage_files(
    staging: ArchiveStaging,
    records: Records,
    plan_records: Records,
    meta: CallMeta,
    recipients: list[age.Recipient],
    rng: Rng,
    settings: dict[str, Any],
) -> tuple[CallPlan, tuple[FileEntry, ...]]:
    """Render and encrypt every file of the archive into ``staging``; their manifest entries."""
    with staging.create(EVENTS) as f, age.AgeWriter(f, recipients, rng=rng) as events:
        call = plan(plan_records(), events=events.write, **settings)
    rate = call.archive_rate
    with contextlib.ExitStack() as stack:

        def flac(name: str, channels: int) -> Callable[[Any], None]:
            sealed = stack.enter_context(age.AgeWriter(stack.enter_context(staging.create(name)), recipients, rng=rng))
            return stack.enter_context(flac_writer(sealed, rate, channels))

        recording = flac(RECORDING, 2)
        unplayed = flac(UNPLAYED, 1) if call.timeline.unplayed_length else _nothing_cut
        render_audio(records, call, recording, unplayed)
    with staging.create(ALIGNMENT) as f, age.AgeWriter(f, recipients, rng=rng) as alignment:
        call.write_alignment(alignment.write)
    staging.write(CALL, age.encrypt(calljson.dump(meta, call.summary), recipients, rng=rng))
    key_ids = age.recipient_key_ids(recipients)
    names = [RECORDING, EVENTS, ALIGNMENT, CALL, *([UNPLAYED] if call.timeline.unplayed_length else [])]
    entries = [FileEntry(name, *staging.digest(name), ARCHIVE_TIER, key_ids) for name in names]
    return call, tuple(sorted(entries, key=lambda e: e.name))


def _nothing_cut(piece: Any) -> None:
    raise RenderError("the render produced unplayed audio that its plan does not have")


def _resolve_state(meta: CallMeta, state: str, reason: str | None) -> tuple[CallMeta, str]:
    """An archive is incomplete if either the caller or the proxy's facts say so."""
    if state not in ("complete", "incomplete"):
        raise ValueError(f"state must be complete or incomplete, not {state!r}")
    final = "incomplete" if "incomplete" in (state, meta.state) else "complete"
    return dataclasses.replace(meta, state=final), final


def finalize_call(
    records: Records,
    meta: CallMeta,
    *,
    plan_records: Records | None = None,
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
    store: ArchiveStore | None = None,
    rng: Rng = os.urandom,
) -> ArchiveResult:
    """Archive one call from its records (audio and frame records in arrival order).

    ``records()`` returns a fresh iterator over them each time; it is called twice for a new
    archive (plan, then audio; three times if one channel runs far ahead of the other) and
    once when the archive is already in place. ``plan_records`` (default ``records``) serves
    pass 1 and the summary of an archive in place: it may hold stand-in PCM of the true lengths.

    ``close`` (or a ``CloseRecord`` among ``records``) is the end of the call; without it (a
    crash) audio scheduled after the last frame stays as scheduled. ``state``/``reason`` mark
    an incomplete archive (e.g. recovered from an orphaned journal).
    """
    t0 = time.perf_counter()
    if reason is None:
        reason = getattr(meta, "reason", None)  # CallMeta may carry why the call is incomplete
    meta, state = _resolve_state(meta, state, reason)
    store = store or ArchiveStore(home)
    plans: Records = plan_records or records
    dest = store.path_for(meta.id, meta.started_at)
    settings: dict[str, Any] = dict(
        close=close, archive_rate=archive_rate, gap_threshold_ms=gap_threshold_ms, cut_policy=cut_policy,
        pci_tools=pci_tools,
    )
    summary: CallSummary
    reused = store.exists(dest)
    if not reused:
        try:
            with store.stage(meta.id, meta.started_at) as staging:
                recipients = keystore.recipients(ARCHIVE_TIER)
                call, entries = _stage_files(staging, records, plans, meta, recipients, rng, settings)
                summary = call.summary
                signing_key = keystore.signing_key()
                manifest = Manifest(
                    session_id=meta.id, version=1, created_at=clock().astimezone(dt.UTC).isoformat(),
                    state=state, reason=reason, files=entries, signing_key_id=signing_key.key_id,
                    summary=manifest_summary(call),
                )
                data = manifest.to_bytes()
                staging.commit(data, sign_manifest(data, signing_key))
        except ArchiveExists:
            reused = True  # another finalizer won the race: use its archive
    if reused:
        summary = plan(plans(), **settings).summary
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
    rows = record_archive(engine, meta, summary, info, now=clock(), redact_json=redact_json,
                          head=HeadCheckpoint(home, keystore))
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

