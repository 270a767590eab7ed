"""`recorder transcribe` when things go wrong, and what its selection flags select.

The README's promises, each run through the CLI (a subprocess) against the Pulse stand-in on
loopback: a permanent 4xx or an archive that fails its hash ends the recording `failed` with
the reason (exit 1); transient faults are retried until `--max-attempts`; `--retry-failed`
queues failed recordings again; a refused key stops the run without spending attempts (exit
3); `--limit`, `--since` and `--session` select what they say; SQLite runs one worker at a time.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from recorder.archive.finalize import RECORDING
from recorder.archive.store import ArchiveStore
from recorder.crypto.keys import KeyStore
from recorder.db.engine import transaction
from recorder.db.models import Job, Transcript
from recorder.simulate.pulse import PulseSimConfig
from tests.conftest import TEST_API_KEY
from tests.integration.test_transcribe_cli import cli, env, pulse_sim
from tests.integration.transcribe_calls import archive, build

CALL = [("caller", "hello there"), ("agent", "hi")]
DAY = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
FAST = ("--rpm", "1000")  # no client-side rate wait: these tests are about outcomes
CLIENT_TRIES = 6  # PulseClient's default attempts per request (429/5xx/resets)


def jobs_by_id(engine: Engine) -> dict[str, tuple[str, int, str | None]]:
    with transaction(engine) as s:
        return {j.session_id: (j.state, j.attempts, j.last_error) for j in s.scalars(select(Job))}


def transcribed(engine: Engine) -> set[str]:
    with transaction(engine) as s:
        return set(s.scalars(select(Transcript.session_id)))


def summary(done: subprocess.CompletedProcess[str]) -> dict[str, object]:
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_a_permanent_400_fails_the_recording_at_once_with_pulses_reason(
    home: Path, engine: Engine, keystore: KeyStore, database_url: str
) -> None:
    archive(build(CALL), "perm_400", home=home, keystore=keystore, engine=engine)
    with pulse_sim(PulseSimConfig(rpm_limit=0)) as sim:
        # Pulse refuses an undocumented language code with 400: not worth retrying
        done = cli(env(home, database_url), "transcribe", "--json", "--language", "xx", *FAST,
                   "--pulse-url", sim.url)
        log = sim.request_log
    assert done.returncode == 1, done.stderr
    assert summary(done)["failed"] == 1 and summary(done)["transcribed"] == 0
    state, attempts, reason = jobs_by_id(engine)["perm_400"]
    assert (state, attempts) == ("failed", 1)  # permanent: not retried although 3 attempts are allowed
    assert reason is not None and "400" in reason and "language" in reason
    assert "failed perm_400:" in done.stderr and "language" in done.stderr
    assert set(log) == {400} and len(log) <= 2  # one request per channel at most, none repeated
    assert transcribed(engine) == set()


def test_an_archive_that_fails_its_hash_is_failed_without_asking_pulse(
    home: Path, engine: Engine, keystore: KeyStore, database_url: str
) -> None:
    archive(build(CALL), "bad_hash", home=home, keystore=keystore, engine=engine)
    archive(build(CALL), "good", home=home, keystore=keystore, engine=engine,
            started=DAY + dt.timedelta(days=30))
    path = ArchiveStore(home).get("bad_hash") / RECORDING
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pulse_sim(PulseSimConfig(rpm_limit=0)) as sim:
        done = cli(env(home, database_url), "transcribe", "--json", *FAST, "--pulse-url", sim.url)
        requests = sim.requests
    assert done.returncode == 1, done.stderr
    jobs = jobs_by_id(engine)
    state, attempts, reason = jobs["bad_hash"]
    assert (state, attempts) == ("failed", 1)
    assert reason is not None and RECORDING in reason and "does not match its manifest" in reason
    assert jobs["good"][0] == "done" and transcribed(engine) == {"good"}  # the batch went on
    assert requests == 2  # the good recording's two channels; nothing of the damaged one was sent
    assert (summary(done)["failed"], summary(done)["transcribed"]) == (1, 1)


@pytest.mark.parametrize("max_attempts", [2])
def test_transient_faults_are_retried_up_to_max_attempts_then_retry_failed_queues_again(
    home: Path, engine: Engine, keystore: KeyStore, database_url: str, max_attempts: int
) -> None:
    archive(build(CALL), "storm", home=home, keystore=keystore, engine=engine)
    e = env(home, database_url)
    # every request answered 429 with Retry-After: 0, so the client's retries cost no time
    storm = PulseSimConfig(rpm_limit=0, rate_429=1.0, fault_retry_after_s=0)
    with pulse_sim(storm) as sim:
        done = cli(e, "transcribe", "--json", "--max-attempts", str(max_attempts), *FAST,
                   "--pulse-url", sim.url)
        log = sim.request_log
    assert done.returncode == 1, done.stderr
    state, attempts, reason = jobs_by_id(engine)["storm"]
    assert (state, attempts) == ("failed", max_attempts)
    assert reason is not None and "429" in reason
    # each attempt: one channel exhausts the client's tries; the other is cancelled by then
    # (a request cancelled mid-upload may reach the stand-in as an empty body: 400, unread)
    assert 200 not in log and log.count(429) >= CLIENT_TRIES * max_attempts
    assert len(log) <= 2 * CLIENT_TRIES * max_attempts

    with pulse_sim(PulseSimConfig(rpm_limit=0)) as sim:
        again = cli(e, "transcribe", "--json", *FAST, "--pulse-url", sim.url)
        assert again.returncode == 0 and sim.requests == 0  # failed stays failed...
        assert jobs_by_id(engine)["storm"][0] == "failed"
        retried = cli(e, "transcribe", "--json", "--retry-failed", *FAST, "--pulse-url", sim.url)
        requests = sim.requests
    assert retried.returncode == 0, retried.stderr  # ...until --retry-failed queues it again
    assert summary(retried)["transcribed"] == 1 and requests == 2
    assert jobs_by_id(engine)["storm"][:2] == ("done", 1)  # a fresh attempt count
    assert transcribed(engine) == {"storm"}


def test_a_refused_key_stops_the_run_and_spends_no_attempt(
    home: Path, engine: Engine, keystore: KeyStore, database_url: str
) -> None:
    ids = [f"key_{i}" for i in range(3)]
    for i, sid in enumerate(ids):
        archive(build(CALL), sid, home=home, keystore=keystore, engine=engine, started=DAY + dt.timedelta(hours=i))
    wrong = env(home, database_url, key="sk_wrong_key_0987654321")
    with pulse_sim(PulseSimConfig(api_keys=frozenset({TEST_API_KEY}), rpm_limit=0)) as sim:
        for _ in range(2):
            done = cli(wrong, "transcribe", "--concurrency", "1", *FAST, "--pulse-url", sim.url)
            assert done.returncode == 3, done.stderr
            assert "API key" in done.stderr and "sk_wrong_key" not in done.stdout + done.stderr
        log = sim.request_log
    assert set(log) == {401} and len(log) <= 4  # each run stopped at its first recording
    assert jobs_by_id(engine) == {sid: ("queued", 0, None) for sid in ids}
    assert transcribed(engine) == set()


def test_limit_since_and_session_select_what_they_say(
    home: Path, engine: Engine, keystore: KeyStore, database_url: str
) -> None:
    call = build(CALL)
    days = {f"day_{d}": DAY + dt.timedelta(days=d) for d in range(1, 5)}  # 2026-11-02 .. 11-05
    for sid, started in days.items():
        archive(call, sid, home=home, keystore=keystore, engine=engine, started=started)
    e = env(home, database_url)
    with pulse_sim(PulseSimConfig(rpm_limit=0)) as sim:
        def run(*args: str) -> dict[str, object]:
            before = sim.requests
            done = cli(e, "transcribe", "--json", *FAST, "--pulse-url", sim.url, *args)
            assert done.returncode == 0, done.stderr
            out = summary(done)
            assert sim.requests - before == 2 * int(out["transcribed"])  # type: ignore[call-overload]
            return out

        run("--session", "day_3")
        assert transcribed(engine) == {"day_3"}
        assert set(jobs_by_id(engine)) == {"day_3"}  # nothing else was even queued

        first = run("--since", "2026-11-03", "--limit", "1")
        assert first["transcribed"] == 1 and first["queued_left"] == 1
        assert transcribed(engine) == {"day_2", "day_3"}  # the oldest selected one
        run("--since", "2026-11-03T00:00:00+00:00")
        assert transcribed(engine) == {"day_2", "day_3", "day_4"}  # day_1 began before the date

        bad = cli(e, "transcribe", "--since", "last tuesday", "--pulse-url", sim.url)
        assert bad.returncode == 2 and "--since" in bad.stderr and "2026-11-27" in bad.stderr
        run()
        assert transcribed(engine) == set(days)


def test_a_second_worker_on_sqlite_is_refused_while_the_first_runs(
    home: Path, engine: Engine, keystore: KeyStore, database_url: str
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL workers share a batch (test_transcribe_two_workers.py)")
    archive(build(CALL), "busy", home=home, keystore=keystore, engine=engine)
    e = env(home, database_url)
    with pulse_sim(PulseSimConfig(rpm_limit=0, slow_s=60)) as sim:  # the first worker hangs on Pulse
        first = subprocess.Popen([sys.executable, "-m", "recorder.cli.main", "transcribe", *FAST,
                                  "--pulse-url", sim.url], env=e,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while sim.requests < 2 and time.monotonic() < deadline:  # both channels are in flight
                time.sleep(0.05)
            assert sim.requests == 2, "the first worker never reached Pulse"
            with transaction(engine) as s:
                holder = s.get(Job, "busy")
                assert holder is not None and holder.state == "running"
                owner = holder.lease_owner
            second = cli(e, "transcribe", *FAST, "--pulse-url", sim.url)
            requests = sim.requests
        finally:
            first.kill()
            first.wait()
    assert second.returncode == 0, second.stderr
    assert "another transcription worker is running" in second.stderr and "nothing done" in second.stderr
    assert requests == 2  # the second sent nothing
    with transaction(engine) as s:
        job = s.get(Job, "busy")
        assert job is not None and (job.state, job.lease_owner, job.attempts) == ("running", owner, 1)
