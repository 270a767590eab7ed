"""Two `recorder transcribe` processes on the same batch against PostgreSQL: none done twice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from recorder.archive.store import ArchiveStore
from recorder.crypto.keys import KeyStore
from recorder.db.engine import transaction
from recorder.db.models import Job, LedgerEntry, Transcript
from recorder.simulate.pulse import PulseSimConfig
from tests.integration.test_transcribe_cli import env, pulse_sim
from tests.integration.transcribe_calls import archive, build


def test_two_workers_share_a_batch_without_doing_any_recording_twice(
    home: Path, engine: Engine, keystore: KeyStore, database_url: str
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one worker at a time (tests/db/test_transcripts_db.py)")
    call = build([("caller", "hello there"), ("agent", "hi how can i help")], lead_ms=100)
    ids = [f"pair_{i:02d}" for i in range(16)]
    for sid in ids:
        archive(call, sid, home=home, keystore=keystore, engine=engine)
    e = env(home, database_url)
    with pulse_sim(PulseSimConfig(rpm_limit=0, slow_s=0.3)) as sim:
        # each may take half the batch, so both take a share however their start-ups interleave
        args = [sys.executable, "-m", "recorder.cli.main", "transcribe", "--json", "--limit",
                str(len(ids) // 2), "--concurrency", "2", "--rpm", "1000", "--pulse-url", sim.url]
        workers = [subprocess.Popen(args, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True) for _ in range(2)]
        outputs = [w.communicate(timeout=120) for w in workers]
        log = sim.request_log
    assert [w.returncode for w in workers] == [0, 0], [err for _, err in outputs]
    summaries = [json.loads(out) for out, _ in outputs]
    assert [(s["transcribed"], s["failed"], s["skipped"]) for s in summaries] == [(len(ids) // 2, 0, 0)] * 2
    # one request per channel, every one answered: no recording was sent twice, by either worker
    assert log == [200] * (2 * len(ids))
    assert [s["pulse_requests"] for s in summaries] == [len(ids)] * 2
    with transaction(engine) as s:
        assert s.scalars(select(Job.state).distinct()).all() == ["done"]
        assert sorted(s.scalars(select(Transcript.session_id)).all()) == ids
        assert sorted(s.scalars(select(LedgerEntry.session_id)).all()) == sorted(ids * 2)
    store = ArchiveStore(home)
    assert all(store.manifest_versions(store.get(sid)) == [1, 2] for sid in ids)
