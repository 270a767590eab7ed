"""Archives in an S3 bucket: moto's S3 server on loopback, the real proxy, the real CLI.

A call is archived to a bucket with Object Lock, verified, exported and transcribed from it;
an upload the bucket refuses is retried by the proxy's archiver until it goes through; an
upload that fails half-way publishes nothing and the next attempt publishes it; an object
changed in the bucket is caught by `verify`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import signal
import sys
import urllib.request
import wave
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError
from moto.server import ThreadedMotoServer
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from recorder.archive.archiver import ArchiveJob
from recorder.archive.pipeline import archive_journal
from recorder.archive.s3store import S3ArchiveStore
from recorder.archive.store import ArchiveExists, ArchiveStoreError
from recorder.audit.verify import verify
from recorder.crypto.keys import KeyStore
from recorder.db.engine import make_engine, upgrade
from recorder.errors import IntegrityError
from recorder.simulate.caller import CallScript, run_call
from recorder.simulate.hydra import HydraSimConfig, run_hydra_sim
from recorder.simulate.pulse import PulseSimConfig
from tests.conftest import TEST_API_KEY
from tests.integration.harness import proxy_settings, running_proxy
from tests.integration.test_proxy_archiver import _until
from tests.integration.test_proxy_records_call import _free_port, _wait_port
from tests.integration.test_transcribe_cli import cli, env, pulse_sim

BUCKET = "recordings"
PREFIX = "eu/calls"
URL = f"s3://{BUCKET}/{PREFIX}"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto's S3 server on a free loopback port; the AWS environment points boto3 at it."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    # moto keeps its buckets in the process, whatever the server: start from none
    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/moto-api/reset",
                                                  method="POST"), timeout=10).close()
    for name, value in {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    try:
        yield client
    finally:
        server.stop()


def _keys(client: Any) -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def _metrics(path: Path) -> dict[str, float]:
    return {s.name: s.value for f in text_string_to_metric_families(path.read_text()) for s in f.samples}


# SQLite only: the bucket is what this test is about; test_two_hosts runs the bucket with
# PostgreSQL (two proxies and two workers), and the PostgreSQL paths of verify, export and
# transcribe have their own tests
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_call_archived_to_the_bucket_is_verified_exported_transcribed_and_tamper_caught(
    s3: Any, home: Path, database_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "recorder.toml"
    config.write_text('[recorder]\narchive_lock_mode = "COMPLIANCE"\narchive_retain_days = 7\n')
    e = {**env(home, database_url), "RECORDER_ARCHIVE_URL": URL, "RECORDER_CONFIG": str(config)}
    port = _free_port()

    async def call() -> int:
        async with run_hydra_sim(HydraSimConfig(seed=4)) as hydra:
            with (tmp_path / "proxy.log").open("w") as log:
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "recorder.cli.main", "proxy", "--listen", f"127.0.0.1:{port}",
                    "--upstream", hydra.url, env=e, stdout=log, stderr=log)
                await _wait_port(port, process)
                await run_call(f"ws://127.0.0.1:{port}/waves/v1/s2s?model=hydra-v1.1&api_key={TEST_API_KEY}",
                               CallScript(), api_key=TEST_API_KEY)
                process.send_signal(signal.SIGTERM)
                return await asyncio.wait_for(process.wait(), 60)

    before = dt.datetime.now(dt.UTC)
    assert asyncio.run(call()) == 0, (tmp_path / "proxy.log").read_text()
    keys = _keys(s3)
    (manifest_key,) = [k for k in keys if k.endswith("/manifest-0001.json")]
    archive_prefix = manifest_key.rsplit("/", 1)[0]
    session_id = archive_prefix.rsplit("/", 1)[1]
    assert archive_prefix.startswith(f"{PREFIX}/archive/")
    assert f"{archive_prefix}/recording.flac.age" in keys
    assert not list((home / "archive").glob("[0-9]*"))  # nothing archived on local disk
    assert not list((home / "spool").iterdir())  # the journal went once the archive was up
    head = s3.head_object(Bucket=BUCKET, Key=f"{archive_prefix}/recording.flac.age")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    retain = head["ObjectLockRetainUntilDate"]
    assert before + dt.timedelta(days=7) <= retain <= dt.datetime.now(dt.UTC) + dt.timedelta(days=7, seconds=5)

    verified = cli(e, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "1 archives" in verified.stdout
    local = {k: v for k, v in e.items() if k != "RECORDER_ARCHIVE_URL"}
    flagged = cli(local, "verify", "--archive-url", URL)  # the flag instead of the environment
    assert flagged.returncode == 0 and "1 archives" in flagged.stdout, flagged.stdout + flagged.stderr
    assert cli(local, "verify").returncode == 1  # the row points at an archive not on local disk

    exported = cli(e, "export", session_id, "--out", str(tmp_path / "out"), "--original",
                   "--reason", "dispute 42", "--actor", "auditor-1")
    assert exported.returncode == 0, exported.stderr
    with wave.open(str(tmp_path / "out" / "recording.wav")) as wav:
        assert wav.getnchannels() == 2 and wav.getnframes() > 0

    metrics_file = tmp_path / "textfile" / "transcribe.prom"
    metrics_file.parent.mkdir()
    with pulse_sim(PulseSimConfig(api_keys=frozenset({TEST_API_KEY}))) as sim:
        done = cli(e, "transcribe", "--pulse-url", sim.url, "--json", "--metrics-file", str(metrics_file))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["transcribed"], summary["failed"]) == (1, 0)
    figures = _metrics(metrics_file)
    assert figures["recorder_transcribe_last_run_recordings"] == 1
    assert figures["recorder_transcribe_last_run_failures"] == 0
    assert figures["recorder_transcribe_last_run_pulse_requests"] == summary["pulse_requests"] > 0
    assert figures["recorder_transcribe_last_run_pulse_429"] == 0
    assert f"{archive_prefix}/manifest-0002.json" in _keys(s3)  # the derivatives went to the bucket
    assert cli(e, "verify").returncode == 0

    redacted = cli(e, "export", session_id, "--out", str(tmp_path / "redacted"), "--actor", "auditor-1")
    assert redacted.returncode == 0, redacted.stderr

    assert cli(e, "keys", "rotate", "archive").returncode == 0
    rewrapped = cli(e, "keys", "rewrap")
    assert rewrapped.returncode == 0, rewrapped.stderr
    assert "1 rewrapped" in rewrapped.stderr
    assert f"{archive_prefix}/manifest-0003.json" in _keys(s3)
    assert cli(e, "verify").returncode == 0

    # An object lock keeps old versions; a new version still becomes what readers get.
    s3.put_object(Bucket=BUCKET, Key=f"{archive_prefix}/events.jsonl.age", Body=b"age-encryption.org/v1\nforged")
    tampered = cli(e, "verify")
    assert tampered.returncode == 1
    assert f"{archive_prefix.removeprefix(PREFIX + '/')}/events.jsonl.age" in tampered.stdout


def _failing_client(fail_name: str) -> tuple[Any, list[str]]:
    """A client on the same server whose uploads of ``fail_name`` fail like a dropped
    connection, once retries are spent (one attempt, so the test does not wait on backoff)."""
    client = boto3.client("s3", config=Config(retries={"total_max_attempts": 1}))
    failed: list[str] = []

    def drop(request: Any, **_: Any) -> None:
        if request.method == "PUT" and request.url.split("?")[0].endswith("/" + fail_name):
            failed.append(request.url)
            raise EndpointConnectionError(endpoint_url=request.url)

    client.meta.events.register("before-send.s3.PutObject", drop)
    return client, failed


def _store_errors_of(operation: str) -> float:
    return REGISTRY.get_sample_value("recorder_archive_store_errors_total", {"operation": operation}) or 0.0


@pytest.mark.parametrize("fail_name", ["events.jsonl.age", "manifest-0001.json"])
def test_failed_uploads_publish_nothing_and_are_retried(
    s3: Any, home: Path, database_url: str, tmp_path: Path, fail_name: str
) -> None:
    """The proxy's archiver retries a call the bucket refuses until it goes through; a copy
    of the same journal, archived through a client whose upload of ``fail_name`` drops,
    publishes nothing (the journal stays) and is published by the next attempt."""
    later = "s3://later/eu/calls"  # a bucket that does not exist yet

    async def main() -> tuple[Any, list[str]]:
        async with run_hydra_sim(HydraSimConfig(seed=6)) as hydra:
            settings = replace(proxy_settings(home, database_url, hydra.url), archive_url=later)
            async with running_proxy(settings) as server:
                await run_call(f"ws://127.0.0.1:{server.port}/waves/v1/s2s?model=hydra-v1.1&api_key={TEST_API_KEY}",
                               CallScript(), api_key=TEST_API_KEY)
                archiver = server.archiver
                await _until(lambda: archiver.stats.retries >= 1, 30, "a refused upload")
                ((job, _lock),) = archiver._outstanding.values()
                assert isinstance(job, ArchiveJob)
                assert Path(job.session_dir).is_dir()  # kept while the bucket refuses
                shutil.copytree(job.session_dir, tmp_path / "spool" / Path(job.session_dir).name)
                s3.create_bucket(Bucket="later")
                await _until(lambda: archiver.pending == 0, 60, "the call is archived")
                return job, [archiver.stats.last_cause or ""]

    listed_before = _store_errors_of("list")
    job, causes = asyncio.run(main())
    assert "later" in causes[0]
    assert _store_errors_of("list") > listed_before  # the archiver's reply reached the proxy's metrics
    assert not list((home / "spool").iterdir())
    engine = make_engine(database_url)
    try:
        report = verify(home, engine, KeyStore(home / "keys").verify_keys(), store=S3ArchiveStore(home, later))
    finally:
        engine.dispose()
    assert report.ok, report.lines()
    assert (report.archives, report.recordings) == (1, 1)

    # The copy: another home and database, the bucket of the other tests, an upload that drops.
    other = tmp_path / "other"
    shutil.copytree(home / "keys", other / "keys")
    other_url = f"sqlite:///{other / 'recorder.db'}"
    upgrade(other_url)
    other_engine = make_engine(other_url)
    keystore = KeyStore(other / "keys")
    copy = tmp_path / "spool" / Path(job.session_dir).name
    common: dict[str, Any] = dict(home=other, keystore=keystore, engine=other_engine, gap_threshold_ms=250.0,
                                  session_key=job.session_key, ended=job.ended)
    try:
        client, failed = _failing_client(fail_name)
        uploads_before = _store_errors_of("upload")
        with pytest.raises(ArchiveStoreError):
            archive_journal(copy, store=S3ArchiveStore(other, URL, client=client), **common)
        assert failed
        assert _store_errors_of("upload") == uploads_before + 1
        uploaded = _keys(s3)
        assert any(k.endswith("/call.json.age") for k in uploaded)  # it did fail half-way (files go in name order)
        assert not any(k.endswith(".json") and "manifest-" in k for k in uploaded)
        store = S3ArchiveStore(other, URL)
        assert store.list() == []
        assert copy.is_dir()  # kept for the next attempt

        result = archive_journal(copy, store=store, **common)
        assert store.list() == [other / result.relative_path]
        assert not copy.exists()
        report = verify(other, other_engine, keystore.verify_keys(), store=store)
    finally:
        other_engine.dispose()
    assert report.ok, report.lines()
    assert (report.archives, report.recordings) == (1, 1)


def test_second_writer_of_a_version_gets_archive_exists_and_the_first_stands(s3: Any, home: Path) -> None:
    store = S3ArchiveStore(home, URL)
    started = dt.datetime(2026, 11, 29, tzinfo=dt.UTC)
    with store.stage("sess_2", started) as late:
        late.write("call.json.age", b"late")
        other_host = S3ArchiveStore(home, URL)  # publishes first, while this one is staging
        other_host._publish(store.path_for("sess_2", started), 1, b'{"v": 1}', b"sig-1")
        with pytest.raises(ArchiveExists):
            late.commit(b'{"v": 2}', b"sig-2")
    archive_dir = store.path_for("sess_2", started)
    assert store.read_manifest(archive_dir) == (1, b'{"v": 1}', b"sig-1")
    with pytest.raises(ArchiveExists):  # the manifest itself is create-only, even for a
        store._publish(archive_dir, 1, b'{"v": 3}', b"sig-3")  # writer past the check
    assert store.read_manifest(archive_dir) == (1, b'{"v": 1}', b"sig-1")


@pytest.mark.parametrize("value", [b"archive/2026/11/29/sess_3/../../x/sess_3", b"archive/2026/11/29/other",
                                   b"archive/2026/11/29/sess_3" + b"x" * 500])
def test_a_forged_session_index_is_refused(s3: Any, home: Path, value: bytes) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/sessions/sess_3", Body=value)
    with pytest.raises(IntegrityError, match="sessions/sess_3"):
        S3ArchiveStore(home, URL).find("sess_3")


def test_lock_mode_on_a_bucket_without_object_lock_is_a_clear_error(s3: Any, home: Path) -> None:
    s3.create_bucket(Bucket="plain")
    store = S3ArchiveStore(home, "s3://plain/x", lock_mode="GOVERNANCE", retain_days=1)
    with pytest.raises(ArchiveStoreError, match="Object Lock"):
        with store.stage("sess_1", dt.datetime(2026, 11, 29, tzinfo=dt.UTC)) as staging:
            staging.write("recording.flac.age", b"x")
            staging.commit(b"{}", b"sig")
    assert _keys_of(s3, "plain") == []


def _keys_of(client: Any, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", []))
