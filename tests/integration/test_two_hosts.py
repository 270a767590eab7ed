"""Two proxy processes and two `transcribe` workers sharing one PostgreSQL database and one
bucket (moto's S3 server): 40 calls, 40 records, one ledger chain, each recording transcribed
once. The two proxies have homes of their own (journals are local), with the same keys."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from recorder.crypto.keys import KeyStore
from recorder.db.engine import make_engine, transaction
from recorder.db.ledger import check_chain, read_chain
from recorder.db.models import Job, Transcript
from recorder.simulate.hydra import HydraSimConfig, run_hydra_sim
from recorder.simulate.pulse import PulseSimConfig
from tests.conftest import TEST_API_KEY
from tests.integration.test_proxy_records_call import _free_port, _wait_port
from tests.integration.test_proxy_workers import _short_call
from tests.integration.test_s3_archive import PREFIX, URL, _keys, s3  # noqa: F401  (s3 is a fixture)
from tests.integration.test_transcribe_cli import env, pulse_sim

CALLS = 40


@pytest.mark.slow
def test_two_proxies_and_two_workers_share_one_database_and_bucket(
    s3: Any, database_url: str, tmp_path: Path  # noqa: F811
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several hosts share a PostgreSQL database")
    homes = [tmp_path / "host-a", tmp_path / "host-b"]
    for home in homes:
        home.mkdir()
    KeyStore(homes[0] / "keys").init()
    shutil.copytree(homes[0] / "keys", homes[1] / "keys")
    envs = [{**env(home, database_url), "RECORDER_ARCHIVE_URL": URL} for home in homes]
    ports = [_free_port(), _free_port()]

    async def calls() -> tuple[list[str], list[int]]:
        async with run_hydra_sim(HydraSimConfig(seed=11)) as hydra:
            logs = [(tmp_path / f"proxy-{i}.log").open("w") for i in range(2)]
            proxies = [
                await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "recorder.cli.main", "proxy", "--listen", f"127.0.0.1:{port}",
                    "--upstream", hydra.url, env=e, stdout=log, stderr=log)
                for port, e, log in zip(ports, envs, logs)
            ]
            for port, process in zip(ports, proxies):
                await _wait_port(port, process)
            ids: list[str] = []
            for start in range(0, CALLS, 8):  # eight at a time, alternating between the hosts
                ids += await asyncio.gather(*(_short_call(ports[i % 2]) for i in range(start, start + 8)))
            for process in proxies:
                process.send_signal(signal.SIGTERM)
            codes = [await asyncio.wait_for(p.wait(), 90) for p in proxies]
            for log in logs:
                log.close()
        return ids, codes

    ids, codes = asyncio.run(calls())
    assert codes == [0, 0], [(tmp_path / f"proxy-{i}.log").read_text()[-2000:] for i in range(2)]
    assert len(set(ids)) == CALLS
    manifests = [k for k in _keys(s3) if k.endswith("/manifest-0001.json")]
    assert len(manifests) == CALLS and all(k.startswith(f"{PREFIX}/archive/") for k in manifests)

    with pulse_sim(PulseSimConfig(api_keys=frozenset({TEST_API_KEY}), rpm_limit=0)) as sim:
        workers = [
            subprocess.Popen([sys.executable, "-m", "recorder.cli.main", "transcribe", "--pulse-url", sim.url,
                              "--rpm", "10000", "--json"], env=e, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for e in envs
        ]
        outputs = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [err[-2000:] for _, err in outputs]
    done = [json.loads(out) for out, _ in outputs]
    assert sum(d["transcribed"] for d in done) == CALLS and sum(d["failed"] for d in done) == 0

    engine = make_engine(database_url)
    try:
        with transaction(engine) as session:
            entries = read_chain(session)
            transcripts = session.scalar(select(func.count()).select_from(Transcript))
            jobs = session.execute(select(Job.state, func.count()).group_by(Job.state)).all()
    finally:
        engine.dispose()
    assert check_chain(entries) == []  # one chain, whichever host appended
    assert len(entries) == 2 * CALLS  # each archive, then its transcript's version
    assert transcripts == CALLS
    assert dict(jobs) == {"done": CALLS}
    assert sum(k.endswith("/manifest-0002.json") for k in _keys(s3)) == CALLS
