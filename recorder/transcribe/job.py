"""Transcribe one recording: decrypt, Pulse per channel, merge, redact, store, publish.

Steps :

1. ``load``: if the transcript rows exist (an earlier run stored them and died), use them and
   make no Pulse request; else decrypt ``recording.flac.age`` with the archive identities.
2. ``transcribe``: each channel (left caller, right agent) resampled to 16 kHz mono with soxr
   and sent whole from the archive's sample 0 (reference/pulse-stt.md §12.1), so the word times
   Pulse returns are already on the recording's clock (§12.2, ``merge.to_timeline``). A channel
   of pure digital silence is not sent.
3. ``store``: merge by time, ``redact_words`` over the conversation, and in ONE transaction —
   only while this worker still holds the job's lease — the transcript, words (redacted
   text), turns, redaction spans (type and times only), Pulse request ids and billed seconds.
4. ``publish``: unless the latest signed manifest already lists them, the redacted stereo audio
   (tone or silence over every span, in both channels) as ``recording.redacted.flac.age`` and
   the redacted ``transcript.json.age``, encrypted to the AUDITOR recipients, under a new
   manifest version with its ledger entry (``publish_version``).

A worker killed anywhere leaves either no transcript or a whole one (one transaction), and
either the old manifest or the new one (atomic archive versions); the next run redoes only what
is missing. Plaintext audio and words stay in memory.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt
import soxr
from sqlalchemy import Engine

from recorder.archive.catalogue import (
    ALIGNMENT,
    DERIVATIVE_TIER,
    DERIVATIVES,
    RECORDING,
    REDACTED_RECORDING,
    TRANSCRIPT,
    check_archive,
    read_plain,
)
from recorder.archive.ledger_head import HeadCheckpoint
from recorder.archive.manifest import sha256_hex
from recorder.archive.render import canonical_json, decode_flac, encode_flac
from recorder.archive.store import ArchiveStore
from recorder.archive.versions import SealedFile, publish_version
from recorder.crypto import age
from recorder.crypto.keys import KeyStore
from recorder.db.engine import transaction
from recorder.db.recordings import RecordingInfo, get_recording, record_version
from recorder.db.transcripts import (
    StoredSpan,
    StoredTurn,
    StoredWord,
    TranscriptRecord,
    read_transcript,
    write_transcript,
)
from recorder.errors import IntegrityError, RecorderError
from recorder.redact import STRICT, Word, bleep_pcm, redact_words
from recorder.redact.audio import DEFAULT_PAD_MS
from recorder.transcribe import jobs
from recorder.transcribe.merge import (
    AGENT,
    CALLER,
    conversation_text,
    group_turns,
    merge_channels,
    to_timeline,
)

logger = logging.getLogger(__name__)

PAUSED = "[PAUSED]"  # the caller word that stands for a PCI pause
TRANSCRIPT_FORMAT = "recorder-transcript/1"
STT_RATE = 16_000
Int16Array = npt.NDArray[np.int16]


class LeaseLost(RecorderError):
    """Another worker took this job over (our lease expired); nothing of ours was stored."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        super().__init__(f"lost the lease on {session_id}; another worker owns it now")


class Transcriber(Protocol):
    """What the job needs from Pulse (``recorder.pulse.PulseClient`` fits)."""

    async def transcribe_pcm(self, pcm16k: np.ndarray, rate: int = ..., *, offset_ms: float = ...) -> object: ...


@dataclass(frozen=True, slots=True)
class JobSettings:
    model: str = "pulse-pro"
    language: str = "en"
    bleep: Literal["tone", "silence"] = "tone"
    pad_ms: float = DEFAULT_PAD_MS
    redaction: str = STRICT  # the redaction policy, recorded with each transcript


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """What one run of the job did. ``transcribed``: Pulse was asked now; ``published``: a new
    manifest version was written now. Both False: everything was already done."""

    session_id: str
    transcribed: bool
    published: bool
    audio_seconds: float
    pulse_requests: int
    spans: int
    manifest_version: int


@dataclass(frozen=True, slots=True)
class _Loaded:
    record: TranscriptRecord | None
    stereo: Int16Array | None = field(default=None, repr=False)
    rate: int = 0
    pauses: tuple[tuple[float, float], ...] = ()  # PCI pauses of the caller channel, ms


@dataclass(frozen=True, slots=True)
class Context:
    """Where the job reads and writes; the shell builds it once per run."""

    home: Path
    keystore: KeyStore
    engine: Engine
    owner: str
    settings: JobSettings = JobSettings()
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    archive_store: ArchiveStore | None = None  # None: the directory under home

    @property
    def archives(self) -> ArchiveStore:
        return self.archive_store or ArchiveStore(self.home)


# --- pure helpers -------------------------------------------------------------------------------


def to_stt(channel: npt.NDArray[np.int16], rate: int) -> Int16Array:
    """One archive channel as 16 kHz mono int16 for Pulse (soxr HQ)."""
    if rate == STT_RATE:
        return np.ascontiguousarray(channel, dtype=np.int16)
    out = soxr.resample(channel.astype(np.float32), rate, STT_RATE, quality="HQ")
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)


def build_record(
    session_id: str, caller: Sequence[object], agent: Sequence[object], *, model: str, language: str,
    request_ids: Sequence[str], pulse_requests: int, audio_seconds: float,
    pauses: Sequence[tuple[float, float]] = (), redaction: str = STRICT,
) -> TranscriptRecord:
    """Merge both channels' words, redact the conversation, and shape what the database keeps.

    Each PCI pause (caller silenced on purpose, from the alignment manifest) is a ``[PAUSED]``
    word of the caller spanning it, so the transcript says why the caller is silent there."""
    paused = [Word(PAUSED, start, end, CALLER) for start, end in pauses]
    merged = merge_channels(to_timeline(caller, CALLER), paused,  # type: ignore[arg-type]
                            to_timeline(agent, AGENT))  # type: ignore[arg-type]
    red = redact_words(merged, redaction)
    placeholders = {(s.channel, s.start_ms, f"[{s.type}]") for s in red.spans}
    words = tuple(
        StoredWord(i, w.channel, w.start_ms, w.end_ms, w.text, (w.channel, w.start_ms, w.text) in placeholders)
        for i, w in enumerate(red.words)
    )
    turns = group_turns(red.words)
    return TranscriptRecord(
        session_id=session_id, text=conversation_text(turns), language=language, model=model,
        redaction=redaction, pulse_request_ids=tuple(request_ids), pulse_requests=pulse_requests,
        audio_seconds_billed=round(audio_seconds, 3), words=words,
        turns=tuple(StoredTurn(i, t.speaker, t.start_ms, t.end_ms, t.text) for i, t in enumerate(turns)),
        spans=tuple(StoredSpan(i, s.channel, s.type, s.start_ms, s.end_ms) for i, s in enumerate(red.spans)),
    )


def transcript_document(record: TranscriptRecord) -> dict[str, object]:
    """``transcript.json``: the redacted transcript as the database holds it."""
    return {
        "format": TRANSCRIPT_FORMAT,
        "session_id": record.session_id,
        "language": record.language,
        "model": record.model,
        "redaction": record.redaction,
        "pulse_request_ids": list(record.pulse_request_ids),
        "audio_seconds_billed": record.audio_seconds_billed,
        "turns": [{"seq": t.seq, "speaker": t.speaker, "start_ms": t.start_ms, "end_ms": t.end_ms,
                   "text": t.text} for t in record.turns],
        "words": [{"seq": w.seq, "channel": w.channel, "start_ms": w.start_ms, "end_ms": w.end_ms,
                   "text": w.text, "redacted": w.redacted} for w in record.words],
        "redaction_spans": [{"seq": s.seq, "channel": s.channel, "type": s.type, "start_ms": s.start_ms,
                             "end_ms": s.end_ms} for s in record.spans],
    }


def redact_audio(stereo: Int16Array, rate: int, spans: Sequence[StoredSpan], settings: JobSettings) -> Int16Array:
    """The stereo recording with every span bleeped (or silenced) in both channels."""
    return bleep_pcm(stereo, rate, [(s.start_ms, s.end_ms) for s in spans], settings.bleep, settings.pad_ms)


# --- the steps (synchronous; the shell runs them on threads) -----------------------------------


def _decrypt_recording(ctx: Context, session_id: str) -> tuple[Int16Array, int]:
    store = ctx.archives
    archive_dir = store.get(session_id)
    check_archive(store, archive_dir, ctx.keystore.verify_keys())
    stereo, rate = decode_flac(read_plain(store, archive_dir, RECORDING, ctx.keystore.identities("archive")))
    if stereo.ndim != 2 or stereo.shape[1] != 2:
        raise IntegrityError(f"{store.relative(archive_dir)}/{RECORDING}", "is not a stereo recording")
    return stereo, rate


def _pauses(ctx: Context, session_id: str) -> tuple[tuple[float, float], ...]:
    """The PCI pauses the alignment manifest records, as caller-channel (start, end) ms."""
    store = ctx.archives
    archive_dir = store.get(session_id)
    plain = age.decrypt(store.read(archive_dir, ALIGNMENT), ctx.keystore.identities("archive"),
                        name=f"{store.relative(archive_dir)}/{ALIGNMENT}")
    doc = json.loads(plain)
    rate = float(doc["archive_rate"])
    return tuple((p["position"] * 1000 / rate, (p["position"] + p["length"]) * 1000 / rate)
                 for p in doc.get("pauses", ()))


def load(ctx: Context, session_id: str) -> _Loaded:
    with transaction(ctx.engine) as session:
        record = read_transcript(session, session_id)
    if record is not None:
        return _Loaded(record)
    stereo, rate = _decrypt_recording(ctx, session_id)
    return _Loaded(None, stereo, rate, _pauses(ctx, session_id))


def store(ctx: Context, record: TranscriptRecord) -> bool:
    """Write the transcript in one transaction while the lease holds; False if one was there."""
    with transaction(ctx.engine) as session:
        if not jobs.holds(session, record.session_id, ctx.owner, lock=True):
            raise LeaseLost(record.session_id)
        return write_transcript(session, record, now=ctx.clock())


def _sync_row(ctx: Context, store_: ArchiveStore, archive_dir: Path, session_id: str) -> int:
    """Bring the recordings row and ledger up to the archive's latest manifest (a run killed
    between writing the manifest and committing its row left them one version behind)."""
    manifest, data = check_archive(store_, archive_dir, ctx.keystore.verify_keys())
    with transaction(ctx.engine) as session:
        row = get_recording(session, session_id)
        behind = row is None or row.manifest_version < manifest.version
        created = row.created_at if row is not None else ctx.clock()
    if behind:
        record_version(ctx.engine, RecordingInfo(
            session_id=session_id, archive_path=store_.relative(archive_dir), state=manifest.state,
            reason=manifest.reason, manifest_version=manifest.version,
            manifest_sha256=sha256_hex(data), key_ids=manifest.key_ids, created_at=created,
        ), now=ctx.clock(), head=HeadCheckpoint(ctx.home, ctx.keystore))
    return manifest.version


def publish(ctx: Context, record: TranscriptRecord, stereo: Int16Array | None, rate: int) -> tuple[bool, int]:
    """Add the redacted audio and transcript to the archive unless its manifest lists them.

    Returns (published now, manifest version)."""
    store_ = ctx.archives
    archive_dir = store_.get(record.session_id)
    latest, _ = check_archive(store_, archive_dir, ctx.keystore.verify_keys())
    if all(latest.file(name) is not None for name in DERIVATIVES):
        return False, _sync_row(ctx, store_, archive_dir, record.session_id)
    if stereo is None:
        stereo, rate = _decrypt_recording(ctx, record.session_id)
    recipients = ctx.keystore.recipients("auditor")
    key_ids = age.recipient_key_ids(recipients)
    audio = encode_flac(redact_audio(stereo, rate, record.spans, ctx.settings), rate)
    doc = canonical_json(transcript_document(record))
    files = {
        REDACTED_RECORDING: SealedFile(age.encrypt(audio, recipients), DERIVATIVE_TIER, key_ids),
        TRANSCRIPT: SealedFile(age.encrypt(doc, recipients), DERIVATIVE_TIER, key_ids),
    }
    with transaction(ctx.engine) as session:
        if not jobs.holds(session, record.session_id, ctx.owner):
            raise LeaseLost(record.session_id)
    manifest = publish_version(ctx.home, ctx.keystore, ctx.engine, record.session_id, files, clock=ctx.clock,
                               store=store_)
    return True, manifest.version


# --- the whole job ------------------------------------------------------------------------------


async def _channel(pulse: Transcriber, pcm: Int16Array, rate: int) -> object | None:
    mono = await asyncio.to_thread(to_stt, pcm, rate)
    if not mono.any():
        return None  # pure digital silence: nothing to bill
    return await pulse.transcribe_pcm(mono, STT_RATE)


async def run_job(ctx: Context, pulse: Transcriber, session_id: str) -> JobOutcome:
    """Do whatever is still missing for one recording (see the module doc)."""
    loaded = await asyncio.to_thread(load, ctx, session_id)
    record, transcribed, requests_made = loaded.record, False, 0
    stereo, rate = loaded.stereo, loaded.rate
    if record is None:
        assert stereo is not None
        try:
            async with asyncio.TaskGroup() as tg:
                left = tg.create_task(_channel(pulse, np.ascontiguousarray(stereo[:, 0]), rate))
                right = tg.create_task(_channel(pulse, np.ascontiguousarray(stereo[:, 1]), rate))
        except ExceptionGroup as group:  # one channel failed: report its error, not the group
            raise group.exceptions[0] from None
        results = [r for r in (left.result(), right.result()) if r is not None]
        ids = [i for r in results for i in (getattr(r, "request_ids", ()) or ())]
        requests_made = sum(max(1, len(getattr(r, "request_ids", ()) or ())) for r in results)
        seconds = sum(float(getattr(r, "duration_s", None) or 0.0) for r in results)
        if not seconds:
            seconds = len(stereo) / rate * len(results)
        record = build_record(
            session_id, getattr(left.result(), "words", ()), getattr(right.result(), "words", ()),
            model=ctx.settings.model, language=ctx.settings.language, request_ids=ids,
            pulse_requests=requests_made, audio_seconds=seconds, pauses=loaded.pauses,
            redaction=ctx.settings.redaction,
        )
        transcribed = await asyncio.to_thread(store, ctx, record)
        if not transcribed:  # another worker stored it first: use exactly what is stored
            with transaction(ctx.engine) as session:
                record = read_transcript(session, session_id) or record
    published, version = await asyncio.to_thread(publish, ctx, record, stereo, rate)
    return JobOutcome(
        session_id=session_id, transcribed=transcribed, published=published,
        audio_seconds=record.audio_seconds_billed if transcribed else 0.0,
        pulse_requests=requests_made, spans=len(record.spans), manifest_version=version,
    )


__all__ = [
    "DERIVATIVES", "Context", "JobOutcome", "JobSettings", "LeaseLost", "REDACTED_RECORDING",
    "TRANSCRIPT", "Transcriber", "build_record", "load", "publish", "redact_audio", "run_job",
    "store", "to_stt", "transcript_document",
]
