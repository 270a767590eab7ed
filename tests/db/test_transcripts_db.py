"""Jobs (enqueue, leases, attempts, two workers) and transcripts (write once, search) on both engines."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from recorder.db.engine import transaction
from recorder.db.models import CallSession, Job, Recording, TranscriptTurn
from recorder.db.transcripts import (
    StoredSpan,
    StoredTurn,
    StoredWord,
    TranscriptRecord,
    read_transcript,
    search_turns,
    write_transcript,
)
from recorder.transcribe import jobs

T0 = dt.datetime(2026, 11, 27, 2, 0, tzinfo=dt.UTC)


def add_recording(session: Session, sid: str, started: dt.datetime = T0) -> None:
    session.add(CallSession(
        id=sid, hydra_session_id=f"hyd_{sid}", started_at=started, state="complete", call_metadata={},
        tools=[], warnings=[], frames_c2s=0, frames_s2c=0, unparsed_frames=0, bytes_c2s=0, bytes_s2c=0,
        caller_audio_ms=0.0, agent_audio_ms_received=0.0, agent_audio_ms_heard=0.0,
    ))
    session.add(Recording(session_id=sid, archive_path=f"archive/x/{sid}", state="complete", reason=None,
                          manifest_version=1, manifest_sha256="0" * 64, key_ids=[], created_at=started))
    session.flush()


def seed(engine: Engine, n: int) -> list[str]:
    ids = [f"s{i:03d}" for i in range(n)]
    with transaction(engine) as session:
        for i, sid in enumerate(ids):
            add_recording(session, sid, T0 + dt.timedelta(minutes=i))
    return ids


def test_enqueue_adds_each_recording_once(engine: Engine) -> None:
    seed(engine, 3)
    with transaction(engine) as s:
        assert jobs.enqueue(s, now=T0) == 3
    with transaction(engine) as s:
        assert jobs.enqueue(s, now=T0) == 0
        assert jobs.counts(s) == {"queued": 3}


def test_enqueue_and_claim_respect_the_selection(engine: Engine) -> None:
    seed(engine, 4)
    with transaction(engine) as s:
        assert jobs.enqueue(s, now=T0, selection=jobs.Selection(since=T0 + dt.timedelta(minutes=2))) == 2
    with transaction(engine) as s:
        jobs.enqueue(s, now=T0)
        got = jobs.claim(s, "w1", now=T0, limit=10, selection=jobs.Selection(session_id="hyd_s001"))
    assert [c.session_id for c in got] == ["s001"]


def test_claim_takes_oldest_first_and_never_twice(engine: Engine) -> None:
    seed(engine, 5)
    with transaction(engine) as s:
        jobs.enqueue(s, now=T0)
        first = jobs.claim(s, "w1", now=T0, limit=2)
    with transaction(engine) as s:
        second = jobs.claim(s, "w2", now=T0, limit=10)
    assert [c.session_id for c in first] == ["s000", "s001"]
    assert [c.session_id for c in second] == ["s002", "s003", "s004"]
    assert all(c.attempt == 1 for c in first + second)


def test_an_expired_lease_is_claimed_again_and_the_loser_cannot_finish(engine: Engine) -> None:
    seed(engine, 1)
    with transaction(engine) as s:
        jobs.enqueue(s, now=T0)
        (claim,) = jobs.claim(s, "dead", now=T0, lease_s=30)
    with transaction(engine) as s:
        assert jobs.claim(s, "w2", now=T0 + dt.timedelta(seconds=29), lease_s=30) == []
    later = T0 + dt.timedelta(seconds=31)
    with transaction(engine) as s:
        (again,) = jobs.claim(s, "w2", now=later, lease_s=30)
    assert again.session_id == claim.session_id and again.attempt == 2
    with transaction(engine) as s:
        assert not jobs.finish(s, "s000", "dead", now=later)
        assert jobs.renew(s, "dead", ["s000"], now=later) == set()
        assert jobs.renew(s, "w2", ["s000"], now=later) == {"s000"}
        assert jobs.finish(s, "s000", "w2", now=later)
        assert jobs.counts(s) == {"done": 1}


def test_failures_retry_until_max_attempts_then_fail_with_the_reason(engine: Engine) -> None:
    seed(engine, 1)
    with transaction(engine) as s:
        jobs.enqueue(s, now=T0)
    for attempt in (1, 2, 3):
        with transaction(engine) as s:
            (c,) = jobs.claim(s, "w", now=T0, max_attempts=3)
            assert c.attempt == attempt
            state = jobs.fail(s, "s000", "w", f"pulse 503 #{attempt}", now=T0, permanent=False, max_attempts=3)
        assert state == ("failed" if attempt == 3 else "queued")
    with transaction(engine) as s:
        job = s.get(Job, "s000")
        assert job is not None and (job.state, job.last_error) == ("failed", "pulse 503 #3")
        assert jobs.claim(s, "w", now=T0) == []
        assert jobs.retry_failed(s, now=T0) == 1
        (c,) = jobs.claim(s, "w", now=T0)
        assert c.attempt == 1


def test_a_job_whose_worker_keeps_dying_ends_failed(engine: Engine) -> None:
    seed(engine, 1)
    with transaction(engine) as s:
        jobs.enqueue(s, now=T0)
    now = T0
    for _ in range(2):
        with transaction(engine) as s:
            assert jobs.claim(s, "w", now=now, lease_s=10, max_attempts=2)
        now += dt.timedelta(seconds=11)
    with transaction(engine) as s:
        assert jobs.claim(s, "w", now=now, lease_s=10, max_attempts=2) == []
        job = s.get(Job, "s000")
        assert job is not None and job.state == "failed" and "lease expired" in (job.last_error or "")


def test_release_gives_the_attempt_back(engine: Engine) -> None:
    seed(engine, 1)
    with transaction(engine) as s:
        jobs.enqueue(s, now=T0)
        jobs.claim(s, "w", now=T0)
        assert jobs.release(s, "s000", "w", now=T0)
        job = s.get(Job, "s000")
        assert job is not None and (job.state, job.attempts) == ("queued", 0)


def test_worker_lock_is_exclusive_until_it_expires(engine: Engine) -> None:
    with transaction(engine) as s:
        assert jobs.acquire_worker_lock(s, "a", now=T0, lease_s=10)
    with transaction(engine) as s:
        assert not jobs.acquire_worker_lock(s, "b", now=T0 + dt.timedelta(seconds=5), lease_s=10)
        assert jobs.acquire_worker_lock(s, "a", now=T0 + dt.timedelta(seconds=5), lease_s=10)
    with transaction(engine) as s:
        assert jobs.acquire_worker_lock(s, "b", now=T0 + dt.timedelta(seconds=16), lease_s=10)
        jobs.release_worker_lock(s, "b")
    with transaction(engine) as s:
        assert jobs.acquire_worker_lock(s, "a", now=T0 + dt.timedelta(seconds=16), lease_s=10)


def test_two_workers_on_postgresql_never_claim_the_same_job(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("concurrent claimers are a PostgreSQL feature (SQLite: one worker at a time)")
    ids = seed(engine, 60)
    with transaction(engine) as s:
        jobs.enqueue(s, now=T0)
    claimed: dict[str, list[str]] = {"a": [], "b": [], "c": []}
    barrier = threading.Barrier(len(claimed))

    def worker(name: str) -> None:
        barrier.wait()
        while True:
            with transaction(engine) as s:
                got = jobs.claim(s, name, now=T0, limit=3)
            if not got:
                return
            claimed[name] += [c.session_id for c in got]

    threads = [threading.Thread(target=worker, args=(n,)) for n in claimed]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [sid for got in claimed.values() for sid in got]
    assert sorted(everything) == ids  # each exactly once
    assert sum(1 for got in claimed.values() if got) >= 2


def _record(sid: str, turns: list[tuple[str, str]]) -> TranscriptRecord:
    stored_turns = tuple(StoredTurn(i, spk, i * 1000.0, i * 1000.0 + 900, txt) for i, (spk, txt) in enumerate(turns))
    words = tuple(StoredWord(i, "caller", i * 100.0, i * 100.0 + 80, w, w.startswith("["))
                  for i, w in enumerate(" ".join(t for _, t in turns).split()))
    return TranscriptRecord(
        session_id=sid, text="\n".join(f"{s}: {t}" for s, t in turns), language="en", model="pulse-pro",
        redaction="balanced", pulse_request_ids=("req-1", "req-2"), pulse_requests=2, audio_seconds_billed=8.5,
        words=words, turns=stored_turns, spans=(StoredSpan(0, "caller", "CREDIT_CARD", 1000.0, 1900.0),),
    )


def test_transcript_is_written_once_and_read_back(engine: Engine) -> None:
    seed(engine, 1)
    record = _record("s000", [("agent", "what is your card number"), ("caller", "it is [CREDIT_CARD]")])
    with transaction(engine) as s:
        assert write_transcript(s, record, now=T0)
    with transaction(engine) as s:
        assert not write_transcript(s, record, now=T0)
        back = read_transcript(s, "s000")
        assert s.scalars(select(TranscriptTurn.seq)).all() == [0, 1]
    assert back is not None
    assert back.turns == record.turns and back.words == record.words and back.spans == record.spans
    assert back.pulse_request_ids == ("req-1", "req-2") and back.audio_seconds_billed == 8.5
    assert back.redaction == "balanced"  # the policy is recorded per transcript
    assert "card" not in repr(back)


def test_search_finds_calls_by_words_on_each_engine(engine: Engine) -> None:
    seed(engine, 3)
    with transaction(engine) as s:
        write_transcript(s, _record("s000", [("caller", "I want to cancel my order"),
                                             ("agent", "sure, your order is cancelled")]), now=T0)
        write_transcript(s, _record("s001", [("caller", "my card is [CREDIT_CARD] thanks")]), now=T0)
        write_transcript(s, _record("s002", [("caller", "Order status please")]), now=T0)
    with transaction(engine) as s:
        hits = search_turns(s, "ORDER")
        assert {(h.session_id, h.seq) for h in hits} == {("s000", 0), ("s000", 1), ("s002", 0)}
        assert hits[0].session_id == "s002"  # most recent call first
        assert [(h.session_id, h.speaker) for h in search_turns(s, "cancel order")] == [("s000", "caller")]
        assert [h.session_id for h in search_turns(s, "credit_card")] == ["s001"]
        assert search_turns(s, '" OR * NEAR(') == []
        assert search_turns(s, "nothing-like-this") == []


def test_deleting_a_call_removes_its_transcript_from_search(engine: Engine) -> None:
    seed(engine, 1)
    with transaction(engine) as s:
        write_transcript(s, _record("s000", [("caller", "refund please")]), now=T0)
    with transaction(engine) as s:
        s.delete(s.get(CallSession, "s000"))
    with transaction(engine) as s:
        assert search_turns(s, "refund") == []
