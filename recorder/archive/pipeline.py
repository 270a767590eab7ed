"""One path from a journal to its archive and rows: read → replay → finalize → delete.

A call's end (through the proxy's archiver process) and ``recorder recover`` both use
``archive_journal``; the journal is deleted only after the archive and its rows are committed,
so a failure anywhere before leaves it for the next attempt. Capture runs here, not on the
forwarding path: the journal holds raw frames. Pass 1 replays them through a fresh
``CaptureSession`` (audio validated, not decoded), whose state is the plan; pass 2 reads the
frames again and decodes just the audio pass 1 found (``TwoPasses``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from recorder import logs
from recorder.archive.finalize import ArchiveResult, finalize_call
from recorder.archive.store import ArchiveStore
from recorder.call import CallMeta, CallSummary
from recorder.capture.records import AudioRecord, CloseRecord, FrameRecord
from recorder.archive.render import RenderError
from recorder.capture.session import Captured, CaptureSettings
from recorder.hydra.codec import b64decode, parse
from recorder.hydra.events import InputAudioAppend, OutputAudioDelta
from recorder.units import AGENT_RATE, CALLER_RATE
from recorder.values import Direction
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
    "Recovery", "TwoPasses", "archive_journal", "call_facts", "claim_orphans", "journal_audio", "recover_orphans",
    "store_rows",
]

log = logging.getLogger(__name__)

Frame = tuple[Direction, str | bytes, int]  # direction, message, arrival ns


def _frames(reader: JournalReader) -> Iterator[Frame]:
    return ((f.direction, f.message, f.arrival_ns) for f in reader.frames())


class TwoPasses:
    """The records of both passes over a journal, pass 2 without JSON or a capture session.

    ``plan_records`` is pass 1: capture's records with audio validated, not decoded, noting
    which frames are audio (``Captured.audio_index``). ``records`` is pass 2, which needs only
    each audio frame's PCM: it walks the same frames and decodes the base64 of just the frames
    pass 1 noted, cut straight out of the raw message where that is provably the value JSON
    would give (``_audio_text``), else parsed as before; PCI-silenced frames give silence.
    Its non-audio frames are one shared placeholder: the render counts them, never reads them.
    Before pass 1 is complete (or for a second plan) ``records`` is a full capture replay.
    """

    def __init__(self, frames: Callable[[], Iterable[Frame]], close: CloseRecord | None, *,
                 gap_threshold_ms: float, pci_tools: tuple[str, ...] = ()) -> None:
        self._frames = frames
        self._close = close
        self._settings = CaptureSettings(gap_threshold_ms=gap_threshold_ms, pci_tools=tuple(pci_tools))
        self._pass1: Captured | None = None

    def plan_records(self) -> Captured:
        self._pass1 = Captured(self._frames(), self._close, self._settings, audio_content=False,
                               index_audio=True)
        return self._pass1

    def records(self) -> Iterable[AudioRecord | FrameRecord | CloseRecord]:
        done = self._pass1
        if done is None or not done.done or done.audio_index is None:
            return Captured(self._frames(), self._close, self._settings)
        return journal_audio(self._frames(), done.audio_index)


_OTHER = FrameRecord(-1, Direction.C2S, 0)  # stands in for every non-audio frame in pass 2
_KEYS = {Direction.C2S: '"audio"', Direction.S2C: '"delta"'}
_COLON = re.compile(r'[ \t\n\r]*:[ \t\n\r]*"')


def _audio_text(direction: Direction, message: str) -> str | None:
    """The audio field's value cut out of the raw JSON, or None when that cannot be proved.

    Proved when the message has no backslash (no escapes anywhere: every quote delimits a
    string, and every string is its value verbatim) and holds the key exactly once: that one
    occurrence is then the top-level key the parser read (a valid audio frame has it)."""
    if "\\" in message:
        return None
    key = _KEYS[direction]
    at = message.find(key)
    if at < 0 or message.find(key, at + len(key)) >= 0:
        return None
    colon = _COLON.match(message, at + len(key))
    if colon is None:
        return None
    end = message.find('"', colon.end())
    return None if end < 0 else message[colon.end() : end]


def _pcm(direction: Direction, message: str | bytes) -> bytes:
    text = _audio_text(direction, message) if isinstance(message, str) else None
    if text is not None:
        return b64decode(text)  # what ``hydra.codec.decode_audio`` does with it
    event = parse(message, direction)
    if not isinstance(event, InputAudioAppend | OutputAudioDelta):
        raise RenderError(f"a journal frame capture read as audio is now {type(event).__name__}")
    return event.pcm


def journal_audio(
    frames: Iterable[Frame], audio_index: Sequence[int]
) -> Iterator[AudioRecord | FrameRecord]:
    """Pass 2's records (see ``TwoPasses``): frame ``i`` is an ``AudioRecord`` (PCM and
    direction only: the render reads nothing else) if ``audio_index`` names it, else a placeholder."""
    wanted = iter(audio_index)
    want = next(wanted, -1)
    for seq, (direction, message, arrival_ns) in enumerate(frames):
        if want >> 1 != seq:
            yield _OTHER
            continue
        pcm = _pcm(direction, message)
        if want & 1:
            pcm = bytes(len(pcm))  # PCI pause: capture journaled silence in its place
        rate = CALLER_RATE if direction is Direction.C2S else AGENT_RATE
        yield AudioRecord(seq, direction, arrival_ns, pcm, rate, 0, 0)
        want = next(wanted, -1)
    if want != -1:
        raise RenderError(f"journal frame {want >> 1} was audio in pass 1 and is missing in pass 2")


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
    passes = TwoPasses(lambda: _frames(reader), scan.close, gap_threshold_ms=gap_threshold_ms, pci_tools=pci_tools)
    result = finalize_call(
        passes.records,
        meta,
        plan_records=passes.plan_records,
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
