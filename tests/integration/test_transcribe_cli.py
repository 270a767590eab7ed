"""`recorder transcribe`, `search`, `show` and redacted `export` as an operator runs them.

The Pulse stand-in runs in this process on a free port; the CLI runs as a subprocess.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import soundfile
from sqlalchemy import Engine, func, select

from recorder.archive.store import ArchiveStore
from recorder.crypto.keys import KeyStore
from recorder.db import access_log
from recorder.db.engine import transaction
from recorder.db.models import Job, LedgerEntry, Transcript
from recorder.simulate.pulse import PulseSimConfig, PulseSimulator
from tests.conftest import TEST_API_KEY
from tests.integration.test_transcribe_job import CARD_NEEDLES, dump_database
from tests.integration.transcribe_calls import CARD_CALL, archive, build


@contextmanager
def pulse_sim(config: PulseSimConfig) -> Iterator[PulseSimulator]:
    sim = PulseSimulator(config)
    sim.start("127.0.0.1", 0)
    try:
        yield sim
    finally:
        sim.stop()


def env(home: Path, database_url: str, key: str | None = TEST_API_KEY) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("RECORDER_", "SMALLEST_"))}
    out = {**base, "RECORDER_HOME": str(home), "RECORDER_DATABASE_URL": database_url,
           "USER": "auditor-os", "LOGNAME": "auditor-os"}
    if key is not None:
        out["SMALLEST_API_KEY"] = key
    return out


def cli(e: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "recorder.cli.main", *args], env=e, capture_output=True,
                          text=True, timeout=90)


def test_transcribe_then_show_search_and_export_redacted(
    home: Path, engine: Engine, keystore: KeyStore, database_url: str, tmp_path: Path
) -> None:
    archive(build(CARD_CALL), "sess_cli", home=home, keystore=keystore, engine=engine)
    e = env(home, database_url)
    refused = cli(e, "export", "sess_cli", "--out", str(tmp_path / "early"))
    assert refused.returncode == 2 and "recorder transcribe" in refused.stderr
    with pulse_sim(PulseSimConfig(api_keys=frozenset({TEST_API_KEY}))) as sim:
        missing = cli(env(home, database_url, key=None), "transcribe", "--pulse-url", sim.url)
        assert missing.returncode == 2 and "SMALLEST_API_KEY" in missing.stderr
        wrong = cli(env(home, database_url, key="sk_wrong_key_123"), "transcribe", "--pulse-url", sim.url)
        assert wrong.returncode == 3 and "API key" in wrong.stderr, wrong.stderr
        assert "sk_wrong_key_123" not in wrong.stderr + wrong.stdout
        with transaction(engine) as s:
            job = s.get(Job, "sess_cli")
            assert job is not None and (job.state, job.attempts) == ("queued", 0)  # given back untouched
        bad_policy = cli(e, "transcribe", "--pulse-url", sim.url, "--redaction", "lenient")
        assert bad_policy.returncode == 2 and "strict" in bad_policy.stderr
        done = cli(e, "transcribe", "--pulse-url", sim.url, "--log-level", "DEBUG", "--redaction", "balanced")
    assert done.returncode == 0, done.stderr
    assert "transcribed 1, skipped 0, failed 0" in done.stdout and "Pulse requests 2" in done.stdout
    assert "recording sess_cli transcribed" in done.stderr  # one log line per recording off a tty
    assert TEST_API_KEY not in done.stdout + done.stderr

    shown = cli(e, "show", "sess_cli", "--json")
    transcript = json.loads(shown.stdout)["transcript"]
    assert [t["speaker"] for t in transcript["turns"]] == ["agent", "caller", "agent"]
    assert transcript["turns"][1]["text"] == "it is [CREDIT_CARD]"
    assert transcript["redaction"] == "balanced"  # the policy the run was told, kept per transcript
    text = cli(e, "show", "sess_cli").stdout
    assert "caller: it is [CREDIT_CARD]" in text and "CREDIT_CARD" in text

    found = json.loads(cli(e, "search", "card ending", "--json").stdout)
    assert [(c["id"], [t["speaker"] for t in c["turns"]]) for c in found] == [("sess_cli", ["agent"])]
    assert "no transcript matches" in cli(e, "search", "zebra").stdout

    out = tmp_path / "redacted"
    exported = cli(e, "export", "sess_cli", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    audio, rate = soundfile.read(out / "recording.wav", dtype="int16")
    assert audio.shape[1] == 2 and rate == 48_000
    doc = json.loads((out / "transcript.json").read_text())
    assert doc["redaction"] == "balanced"
    assert doc["turns"][2]["text"] == "thank you the card ending in [CREDIT_CARD] is saved"
    with transaction(engine) as s:
        actions = [(r.action, r.session_id) for r in access_log.read(s)]
    assert ("search", None) in actions and ("show", "sess_cli") in actions and ("export", "sess_cli") in actions
    assert not any(n in dump_database(engine).lower() for n in CARD_NEEDLES)


def test_sigkill_mid_batch_then_rerun_transcribes_each_recording_once(
    home: Path, engine: Engine, keystore: KeyStore, database_url: str
) -> None:
    call = build([("caller", "hello there"), ("agent", "hi")], lead_ms=100)
    ids = [f"kill_{i:02d}" for i in range(10)]
    for sid in ids:
        archive(call, sid, home=home, keystore=keystore, engine=engine)
    e = env(home, database_url)
    args = ("transcribe", "--concurrency", "2", "--lease-seconds", "2", "--rpm", "1000")
    with pulse_sim(PulseSimConfig(rpm_limit=0, slow_s=0.25)) as sim:
        process = subprocess.Popen([sys.executable, "-m", "recorder.cli.main", *args, "--pulse-url", sim.url],
                                   env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with transaction(engine) as s:
                n = s.scalar(select(func.count()).select_from(Transcript)) or 0
                busy = s.scalars(select(Job.session_id).where(Job.state == "running")).all()
            if n >= 3 and busy:
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
        with transaction(engine) as s:
            killed_at = s.scalar(select(func.count()).select_from(Transcript)) or 0
            running = s.scalars(select(Job.session_id).where(Job.state == "running")).all()
        assert 3 <= killed_at < len(ids) and running, "the kill must land mid-batch"
        time.sleep(2.2)  # the dead worker's leases (and SQLite lock) expire
        rerun = cli(e, *args, "--pulse-url", sim.url)
    assert rerun.returncode == 0, rerun.stderr
    with transaction(engine) as s:
        assert s.scalars(select(Job.state).distinct()).all() == ["done"]
        assert sorted(s.scalars(select(Transcript.session_id)).all()) == ids
        ledger = s.scalars(select(LedgerEntry.session_id)).all()
    assert sorted(ledger) == sorted(ids * 2)
    store = ArchiveStore(home)
    assert all(store.manifest_versions(store.get(sid)) == [1, 2] for sid in ids)
