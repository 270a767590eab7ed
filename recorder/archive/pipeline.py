"""One path from a journal to its archive and rows: read → replay → finalize → delete.

A call's end (through the proxy's archiver process) and ``recorder recover`` both use
``archive_journal``; the journal is deleted only after the archive and its rows are committed,
so a failure anywhere before leaves it for the next attempt. Capture runs here, not on the
forwarding path: the journal holds raw frames and ``capture_records`` replays them through a
fresh ``CaptureSession``, as many times as finalization iterates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from recorder import logs
from recorder.archive.finalize import ArchiveResult, finalize_call
from recorder.archive.store import ArchiveStore
from recorder.call import CallMeta, CallSummary
from recorder.capture.records import AudioRecord, CloseRecord, FrameRecord
from recorder.capture.session import Captured, CaptureSettings
from recorder.crypto.age import Identity
from recorder.crypto.keys import KeyStore
from recorder.journal import (
    JournalReader,
    JournalScan,
    OwnerLock,
    claim,
    delete_journal,
    describe_owner,
    list_journals,
)
from recorder.db.engine import transaction
from recorder.db.write import write_call
from recorder.errors import RecorderError
from recorder.redact import redact_payload

__all__ = [
    "Recovery", "archive_journal", "call_facts", "capture_records", "claim_orphans", "recover_orphans",
    "store_rows",
]

log = logging.getLogger(__name__)

Records = Callable[[], Iterable[AudioRecord | FrameRecord | CloseRecord]]


def capture_records(
    reader: JournalReader, close: CloseRecord | None, *, gap_threshold_ms: float,
    pci_tools: tuple[str, ...] = (), audio_content: bool = True,
) -> Records:
    """A factory of capture's records, replayed from the journal's frames (each call: a fresh
    ``Captured``, iterated once; pass 1 takes the timeline from its session, no second replay).

    ``audio_content=False``: audio is validated, not decoded; each ``AudioRecord`` holds silence
    of its true length (enough for the plan, which needs lengths only)."""

    settings = CaptureSettings(gap_threshold_ms=gap_threshold_ms, pci_tools=tuple(pci_tools))

    def records() -> Captured:
        frames = ((f.direction, f.message, f.arrival_ns) for f in reader.frames())
        return Captured(frames, close, settings, audio_content=audio_content)

    return records


def call_facts(scan: JournalScan, ended: CallMeta | None = None) -> CallMeta:
    """The call's facts, and why its record is incomplete if it is.

    ``ended`` is what the live proxy knew when the call ended (it holds the true cause of a
    failure even when the journal could not record it, e.g. a full disk); without it (after a
    crash) the journal's own halves are all there is.
    """
    close = scan.close
    meta = ended or CallMeta.from_journal(
        scan.meta, scan.end_meta, session_id=scan.session_id,
        close_code=close.code if close else None, close_reason=close.reason if close else None,
    )
    reasons = [f"recording failed: {f.detail or f.reason}" for f in scan.failures]
    if not scan.complete:
        failed = any("recording failed" in r for r in [meta.reason or "", *reasons])
        if ended is None:
            why = "the proxy stopped before the call was finalized"
            if scan.truncated is not None and not failed:
                why += f"; journal ends at {scan.truncated}"
            reasons.append(f"recovered: {why}")
        elif not failed:
            reasons.append(f"journal incomplete: {scan.truncated or 'no end marker'}")
    return meta.incomplete(*reasons) if reasons else meta


def archive_journal(
    session_dir: Path,
    *,
    home: Path,
    keystore: KeyStore,
    engine: Engine,
    gap_threshold_ms: float,
    pci_tools: tuple[str, ...] = (),
    session_key: bytes | None = None,
    identities: Sequence[Identity] | None = None,
    ended: CallMeta | None = None,
    store: ArchiveStore | None = None,
) -> ArchiveResult:
    """Archive one journal into ``store`` (the directory under home by default), write its
    rows, then delete it (see the module docstring)."""
    reader = JournalReader(session_dir, identities=identities, session_key=session_key)
    scan = reader.scan()
    meta = call_facts(scan, ended)
    records = capture_records(reader, scan.close, gap_threshold_ms=gap_threshold_ms, pci_tools=pci_tools)
    lengths = capture_records(reader, scan.close, gap_threshold_ms=gap_threshold_ms, pci_tools=pci_tools,
                              audio_content=False)
    result = finalize_call(
        records,
        meta,
        plan_records=lengths,
        home=home,
        keystore=keystore,
        engine=engine,
        close=scan.close,
        state=meta.state,
        reason=meta.reason,
        gap_threshold_ms=gap_threshold_ms,
        pci_tools=pci_tools,
        redact_json=redact_payload,
        store=store,
    )
    delete_journal(session_dir)
    return result


def store_rows(engine: Engine, meta: CallMeta, summary: CallSummary) -> None:
    """A call that had no journal (policy ``continue``): keep at least its rows."""
    with transaction(engine) as session:
        write_call(session, meta, summary, redact_json=redact_payload)


@dataclass(slots=True)
class Recovery:
    """What ``recover_orphans`` did: archived, skipped (a live owner holds them), failed."""

    archived: list[ArchiveResult] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)


def claim_orphans(spool: Path) -> tuple[list[tuple[Path, OwnerLock]], list[tuple[Path, str]]]:
    """The journals whose owner is gone, claimed (their locks are now the caller's to release),
    and those a live owner holds, with who it is."""
    taken: list[tuple[Path, OwnerLock]] = []
    skipped: list[tuple[Path, str]] = []
    for session_dir in list_journals(spool):
        lock = claim(session_dir)
        if lock is not None:
            taken.append((session_dir, lock))
        elif session_dir.exists():  # (else it was archived and deleted meanwhile)
            owner = describe_owner(session_dir)
            with logs.call_id(session_dir.name):  # a journal is named by its call id
                log.info("journal %s belongs to %s, which is alive: skipped", session_dir, owner)
            skipped.append((session_dir, owner))
    return taken, skipped


def recover_orphans(
    spool: Path,
    *,
    home: Path,
    keystore: KeyStore,
    engine: Engine,
    gap_threshold_ms: float,
    identities: Sequence[Identity],
    pci_tools: tuple[str, ...] = (),
    store: ArchiveStore | None = None,
) -> Recovery:
    """Archive every journal whose owner is gone (incomplete, with the reason); leave live ones."""
    taken, skipped = claim_orphans(spool)
    out = Recovery(skipped=skipped)
    for session_dir, lock in taken:
        try:
            with logs.call_id(session_dir.name):  # a journal is named by its call id
                out.archived.append(archive_journal(
                    session_dir, home=home, keystore=keystore, engine=engine,
                    gap_threshold_ms=gap_threshold_ms, pci_tools=pci_tools, identities=identities,
                    store=store,
                ))
        except (RecorderError, OSError) as exc:
            log.error("cannot recover journal %s: %s", session_dir, exc)
            out.failed.append((session_dir, str(exc)))
        finally:
            lock.release()
    return out
