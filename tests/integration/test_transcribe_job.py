"""The transcription job against the real Pulse stand-in over loopback, on both engines."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, MetaData, select

from recorder.archive.render import decode_flac
from recorder.archive.store import ArchiveStore
from recorder.crypto import age
from recorder.crypto.keys import KeyStore
from recorder.db.engine import transaction
from recorder.db.models import Job, LedgerEntry, Transcript
from recorder.db.transcripts import read_transcript
from recorder.pulse import Backoff, PulseClient
from recorder.simulate import wordcode
from recorder.simulate.pulse import PulseSimConfig, run_pulse_sim
from recorder.transcribe import worker
from recorder.transcribe.job import REDACTED_RECORDING, TRANSCRIPT, Context, build_record, load, store, to_stt
from tests.conftest import TEST_API_KEY
from tests.integration.transcribe_calls import CARD, CARD_CALL, archive, build

CARD_NEEDLES = (CARD, CARD[-4:] + " ", "four one one one", "one one one one")


def dump_database(engine: Engine) -> str:
    """Every value of every table, as one text (to prove what is not stored)."""
    meta = MetaData()
    meta.reflect(engine)
    parts: list[str] = []
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(select(table)):
                parts.append(" | ".join(str(v) for v in row))
    return "\n".join(parts)


def run(ctx: Context, url: str, options: worker.RunOptions = worker.RunOptions(), **client: object) -> worker.RunSummary:
    async def main() -> worker.RunSummary:
        async with PulseClient(url, TEST_API_KEY, rng=random.Random(3), **client) as pulse:  # type: ignore[arg-type]
            return await worker.run(ctx, pulse, options)
    return asyncio.run(main())


def decoded_words(pcm: np.ndarray, rate: int) -> list[str]:
    return [w.text for w in wordcode.decode(to_stt(pcm, rate), 16_000)]


def test_card_call_is_transcribed_redacted_and_published_once(
    home: Path, engine: Engine, keystore: KeyStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    call = build(CARD_CALL)
    archive(call, "sess_card", home=home, keystore=keystore, engine=engine)
    ctx = Context(home, keystore, engine, worker.worker_id())

    async def main() -> tuple[worker.RunSummary, worker.RunSummary, int]:
        async with run_pulse_sim(PulseSimConfig(api_keys=frozenset({TEST_API_KEY}))) as sim:
            async with PulseClient(sim.url, TEST_API_KEY, rng=random.Random(1)) as pulse:
                first = await worker.run(ctx, pulse)
                again = await worker.run(ctx, pulse)
            return first, again, sim.requests

    first, again, requests = asyncio.run(main())
    assert (first.transcribed, first.failed, first.pulse_requests) == (1, 0, 2)
    assert (again.transcribed, again.skipped, again.pulse_requests) == (0, 0, 0) and requests == 2

    with transaction(engine) as session:
        record = read_transcript(session, "sess_card")
        assert session.get(Job, "sess_card").state == "done"  # type: ignore[union-attr]
        assert len(session.scalars(select(LedgerEntry).where(LedgerEntry.session_id == "sess_card")).all()) == 2
    assert record is not None and record.redaction == "strict"  # the default for stored transcripts
    turns = [(t.speaker, t.text) for t in record.turns]
    assert turns == [("agent", "what is the card number please"), ("caller", "it is [CREDIT_CARD]"),
                     ("agent", "thank you the card ending in [CREDIT_CARD] is saved")]
    for stored, (speaker, _, start, end) in zip(record.turns, call.turns):
        assert stored.speaker == speaker
        assert abs(stored.start_ms - start) <= 20 and abs(stored.end_ms - end) <= 20
    assert [(s.channel, s.type) for s in record.spans] == [("caller", "CREDIT_CARD"), ("agent", "CREDIT_CARD")]
    card_word = next(w for w in record.words if w.redacted and w.channel == "caller")
    first_digit = call.turns[1][2] + wordcode.word_ms("it") + wordcode.word_ms("is") + 2 * wordcode.WORD_GAP_MS
    assert abs(card_word.start_ms - first_digit) <= 20

    everything = dump_database(engine).lower()
    assert not any(needle in everything for needle in CARD_NEEDLES)
    assert TEST_API_KEY not in everything

    store_ = ArchiveStore(home)
    archive_dir = store_.get("sess_card")
    original, rate = decode_flac(age.decrypt(store_.read(archive_dir, "recording.flac.age"),
                                             keystore.identities("archive")))
    redacted, rate2 = decode_flac(age.decrypt(store_.read(archive_dir, REDACTED_RECORDING),
                                              keystore.identities("auditor")))
    assert rate == rate2 and redacted.shape == original.shape
    with pytest.raises(age.AgeError):
        age.decrypt(store_.read(archive_dir, REDACTED_RECORDING), keystore.identities("archive"))
    heard_original = " ".join(decoded_words(original[:, 0], rate) + decoded_words(original[:, 1], rate))
    heard_redacted = " ".join(decoded_words(redacted[:, 0], rate) + decoded_words(redacted[:, 1], rate))
    assert "four one one one" in heard_original and "ending in one one one one" in heard_original
    assert not any(n in heard_redacted for n in ("four", "one"))
    assert "card number please" in heard_redacted and "is saved" in heard_redacted
    transcript_json = age.decrypt(store_.read(archive_dir, TRANSCRIPT), keystore.identities("auditor")).decode()
    assert "[CREDIT_CARD]" in transcript_json and "one one" not in transcript_json

    assert TEST_API_KEY not in caplog.text
    for path in home.rglob("*"):
        if path.is_file():
            assert TEST_API_KEY.encode() not in path.read_bytes(), path


def test_a_run_killed_after_storing_publishes_without_asking_pulse_again(
    home: Path, engine: Engine, keystore: KeyStore
) -> None:
    call = build(CARD_CALL[:2])
    archive(call, "sess_resume", home=home, keystore=keystore, engine=engine)
    ctx = Context(home, keystore, engine, "dead-worker")
    now = dt.datetime.now(dt.UTC)
    with transaction(engine) as session:
        from recorder.transcribe import jobs
        jobs.enqueue(session, now=now)
        jobs.claim(session, "dead-worker", now=now - dt.timedelta(seconds=100), lease_s=10)
    loaded = load(ctx, "sess_resume")
    assert loaded.stereo is not None
    words = {ch: [w for w in wordcode.decode(to_stt(loaded.stereo[:, i], loaded.rate), 16_000)]
             for i, ch in enumerate(("caller", "agent"))}
    record = build_record("sess_resume", words["caller"], words["agent"], model="pulse-pro", language="en",
                          request_ids=["r1"], pulse_requests=1, audio_seconds=3.0)
    assert store(ctx, record)  # ...and the worker dies here, before publishing

    async def main() -> tuple[worker.RunSummary, int]:
        async with run_pulse_sim(PulseSimConfig()) as sim:
            async with PulseClient(sim.url, TEST_API_KEY) as pulse:
                summary = await worker.run(Context(home, keystore, engine, "new"), pulse,
                                           worker.RunOptions(lease_s=10))
            return summary, sim.requests

    summary, requests = asyncio.run(main())
    assert requests == 0 and summary.skipped == 1 and summary.failed == 0
    with transaction(engine) as session:
        assert session.get(Job, "sess_resume").state == "done"  # type: ignore[union-attr]
        assert session.get(Transcript, "sess_resume").pulse_request_ids == ["r1"]  # type: ignore[union-attr]
    assert ArchiveStore(home).manifest_versions(ArchiveStore(home).get("sess_resume")) == [1, 2]


def test_fifty_recordings_through_429_and_503_storms_finish_once_within_the_rate(
    home: Path, engine: Engine, keystore: KeyStore
) -> None:
    texts = [("caller", "my order number is seven"), ("agent", "thanks")]
    call = build(texts, lead_ms=100)
    base = dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC)
    ids = [f"batch_{i:02d}" for i in range(50)]
    for i, sid in enumerate(ids):
        archive(call, sid, home=home, keystore=keystore, engine=engine, started=base + dt.timedelta(seconds=i))
    per_window, window_s = 25, 1.0  # the client's limit, scaled down from 25/min so the test is quick
    config = PulseSimConfig(rpm_limit=0, rate_429=0.6, rate_503=0.1, seed=5, fault_retry_after_s=1)
    ctx = Context(home, keystore, engine, worker.worker_id())

    async def main() -> tuple[worker.RunSummary, list[float], list[int]]:
        async with run_pulse_sim(config) as sim:
            async with PulseClient(sim.url, TEST_API_KEY, rng=random.Random(2), per_minute=per_window,
                                   rate_window_s=window_s, max_attempts=8,
                                   backoff=Backoff(base_s=0.05, cap_s=0.5, rng=random.Random(4))) as pulse:
                summary = await worker.run(ctx, pulse, worker.RunOptions(concurrency=10, max_attempts=10))
            return summary, sim.accepted_times, sim.request_log

    summary, accepted, log = asyncio.run(main())
    assert summary.failed == 0 and summary.transcribed == 50, summary
    assert summary.pulse_requests == len(log) and log.count(429) > len(log) // 3
    with transaction(engine) as session:
        assert session.scalars(select(Job.state).distinct()).all() == ["done"]
        assert len(session.scalars(select(Transcript.session_id)).all()) == 50
        ledger = session.scalars(select(LedgerEntry.session_id)).all()
    assert sorted(ledger) == sorted(ids * 2)  # one derivative version each, no duplicates
    times = sorted(accepted)
    assert len(times) >= 100  # a recording whose other channel failed is sent again whole
    for i, t in enumerate(times):  # every request started under the limiter: accepted ones too
        assert sum(1 for u in times[i:] if u - t < window_s) <= per_window
