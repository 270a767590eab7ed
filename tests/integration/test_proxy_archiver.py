"""The archiver process through the real proxy: who owns a journal, retries after a database or
disk failure at call end, and the true cause of an unusual end on record."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from recorder.archive.archiver import NICENESS
from recorder.proxy.recording import Recorder
from recorder.proxy.server import ProxyServer
from recorder.proxy.startup import prepare_recorder
from recorder.simulate.hydra import HydraSimConfig, run_hydra_sim
from tests.conftest import TEST_API_KEY
from tests.integration.archive_check import open_only_archive
from tests.integration.harness import proxy_settings, running_proxy, scripted_upstream
from tests.integration.test_proxy_records_call import _env

CONFIGURE = '{"type":"session.configure","session":{}}'
APPEND = '{"type":"input_audio_buffer.append","audio":"%s"}' % base64.b64encode(bytes(640)).decode()


def _url(port: int) -> str:
    return f"ws://127.0.0.1:{port}/waves/v1/s2s?model=hydra-v1.1&api_key={TEST_API_KEY}"


async def _until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s}s: {what}")
        await asyncio.sleep(0.05)


def _niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def _rows(database_url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


async def _call(port: int, frames: int, during: Callable[[], Awaitable[object]] | None = None) -> object:
    """A short call: configure, `frames` caller frames, `during()` half way, a clean close."""
    got = None
    async with connect(_url(port)) as client:
        await client.recv()
        await client.send(CONFIGURE)
        await client.recv()
        for i in range(frames):
            if during is not None and i == frames // 2:
                got = await during()
            await client.send(APPEND)
            await asyncio.sleep(0.01)
    return got


def test_recover_during_a_live_call_leaves_it_alone(home: Path, database_url: str) -> None:
    env = _env(home, database_url)

    async def recover() -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "recorder.cli.main", "recover"],
            env=env, capture_output=True, text=True, timeout=120,
        )

    async def main() -> subprocess.CompletedProcess[str]:
        async with run_hydra_sim(HydraSimConfig(seed=3)) as hydra:
            async with running_proxy(proxy_settings(home, database_url, hydra.url)) as proxy:
                return await _call(proxy.port, 40, recover)  # type: ignore[return-value]

    result = asyncio.run(main())
    assert result.returncode == 0, result.stderr
    assert "skipped, its call is live" in result.stdout and f"pid {os.getpid()}" in result.stdout
    assert "recovered 0 of 0 journals; skipped 1 live" in result.stdout
    archive = open_only_archive(home)
    assert archive.manifest["state"] == "complete", archive.manifest["reason"]
    caller = [e for e in archive.events if e.get("kind") == "audio" and e["channel"] == "caller"]
    assert len(caller) == 40  # nothing was taken away half way
    assert not list((home / "spool").iterdir())


@pytest.fixture
def own_postgres_database() -> Iterator[tuple[str, Callable[[bool], None]]]:
    """A database of its own (so that it can be closed to connections) and a switch for it."""
    url = os.environ.get("RECORDER_TEST_DATABASE_URL")
    if not url:
        pytest.skip("RECORDER_TEST_DATABASE_URL not set: the outage test needs PostgreSQL")
    name = f"rec_outage_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")

    def allow(yes: bool) -> None:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(yes).lower()}'))
            if not yes:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})

    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False), allow
    finally:
        allow(False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}"'))
        admin.dispose()


def test_a_database_outage_at_call_end_is_waited_out(
    home: Path, own_postgres_database: tuple[str, Callable[[bool], None]]
) -> None:
    database_url, allow = own_postgres_database

    async def main() -> tuple[int, str | None, list[str]]:
        async with run_hydra_sim(HydraSimConfig(seed=5)) as hydra:
            async with running_proxy(proxy_settings(home, database_url, hydra.url)) as proxy:
                await _call(proxy.port, 20)
                allow(False)  # the database goes away as the call ends
                await _call(proxy.port, 10)
                stats = proxy.archiver.stats
                await _until(lambda: stats.retries >= 4, 30, "the archiver retries")
                kept = sorted(p.name for p in (home / "spool").iterdir())
                assert stats.done <= 1 and proxy.archiver.pending >= 1
                allow(True)
                await _until(lambda: proxy.archiver.pending == 0, 90, "the calls are archived")
                return stats.failed, stats.last_cause, kept

    failed, cause, kept = asyncio.run(main())
    assert failed == 0
    assert cause is not None and "database" in cause
    assert kept, "the journal must stay while the database is away"
    assert not list((home / "spool").iterdir())
    rows = _rows(database_url, "SELECT id, state FROM sessions")
    assert len(rows) == 2 and {state for _, state in rows} == {"complete"}
    assert set(kept) <= {str(i) for i, _ in rows}
    recordings = _rows(database_url, "SELECT state FROM recordings")
    assert recordings == [("complete",), ("complete",)]


def _full_disk_after_first_segment(path: Path) -> int:
    if path.name.endswith("000001.rj"):
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.open("/dev/full", os.O_WRONLY)


def test_a_call_that_hit_a_full_disk_and_was_archived_later_says_disk_full(
    home: Path, database_url: str
) -> None:
    blocker = home / "archive"

    async def main() -> None:
        async with run_hydra_sim(HydraSimConfig(seed=8)) as hydra:
            settings = replace(proxy_settings(home, database_url, hydra.url), recording_failure="continue")
            base = await asyncio.to_thread(prepare_recorder, settings)
            recorder = Recorder(settings, base.keystore, journal_options={
                "open_segment": _full_disk_after_first_segment, "segment_max_bytes": 4096})
            server = ProxyServer(settings, recorder)
            await server.start()
            try:
                blocker.write_text("the archive cannot be written either, for now")
                await _call(server.port, 40)
                await _until(lambda: server.archiver.stats.retries >= 1, 30, "a failed finalization")
                assert list((home / "spool").iterdir())
                blocker.unlink()
                await _until(lambda: server.archiver.pending == 0, 60, "the call is archived")
            finally:
                await server.drain(timeout_s=2)

    asyncio.run(main())
    archive = open_only_archive(home)
    reason = archive.manifest["reason"]
    assert archive.manifest["state"] == "incomplete"
    assert "recording failed: disk full" in reason and "torn" not in reason and "recovered" not in reason


def test_a_client_frame_of_invalid_utf8_is_recorded_as_1007(home: Path, database_url: str) -> None:
    async def main() -> int | None:
        async with run_hydra_sim(HydraSimConfig(seed=9)) as hydra:
            async with running_proxy(proxy_settings(home, database_url, hydra.url)) as proxy:
                async with connect(_url(proxy.port)) as client:
                    await client.recv()
                    await client.send(CONFIGURE)
                    await client.recv()
                    await client.send(b"\xff\xfe not utf-8", text=True)
                    await client.wait_closed()
                    return client.close_code

    code = asyncio.run(main())
    assert code == 1007
    ((close_code, state, side),) = _rows(database_url, "SELECT close_code, state, close_side FROM sessions")
    assert (close_code, state, side) == (1007, "incomplete", "client")
    archive = open_only_archive(home)
    assert "could not be forwarded (close 1007" in archive.manifest["reason"]


def test_an_archiver_killed_mid_job_is_restarted_and_loses_nothing(home: Path, database_url: str) -> None:
    blocker = home / "archive"

    async def main() -> tuple[int, int | None, int | None]:
        async with run_hydra_sim(HydraSimConfig(seed=6)) as hydra:
            async with running_proxy(proxy_settings(home, database_url, hydra.url)) as proxy:
                blocker.write_text("not a directory: finalization fails until this goes")
                await _call(proxy.port, 30)
                archiver = proxy.archiver
                await _until(lambda: archiver.stats.retries >= 1, 30, "a failed finalization")
                first = archiver.pid
                assert first is not None
                niceness.append(_niceness(first))
                os.kill(first, signal.SIGKILL)
                await _until(lambda: archiver.stats.restarts == 1 and archiver.pid != first, 30,
                             "a new archiver")
                blocker.unlink()
                await _until(lambda: archiver.pending == 0, 60, "the call is archived")
                assert archiver.pid is not None
                niceness.append(_niceness(archiver.pid))
                return archiver.stats.done, first, archiver.pid

    niceness: list[int] = []
    done, first, second = asyncio.run(main())
    assert done == 1 and first != second
    # every archiver yields the cores to the forwarding loop, a restarted one too
    assert niceness == [min(19, os.getpriority(os.PRIO_PROCESS, 0) + NICENESS)] * 2
    archive = open_only_archive(home)
    assert archive.manifest["state"] == "complete", archive.manifest["reason"]
    caller = [e for e in archive.events if e.get("kind") == "audio" and e["channel"] == "caller"]
    assert len(caller) == 30
    assert not list((home / "spool").iterdir())


def test_the_journal_opens_while_hydra_answers(home: Path, database_url: str) -> None:
    """A far-away Hydra takes its time to accept; the call's journal (key, header, fsyncs) is
    ready by then rather than being opened after it, in front of the call's first frames."""
    spool = home / "spool"

    def journals() -> list[Path]:
        return [p for p in spool.iterdir() if not p.name.startswith(".")] if spool.exists() else []

    async def main() -> tuple[float, float | None, int]:
        async with scripted_upstream(answer_after_s=1.0) as upstream:
            async with running_proxy(proxy_settings(home, database_url, upstream.url)) as proxy:
                async def first_journal() -> float:
                    while not journals():
                        await asyncio.sleep(0.005)
                    return time.monotonic()

                seen = asyncio.create_task(first_journal())
                async with connect(_url(proxy.port)) as client:
                    await client.send(CONFIGURE)
                await _until(lambda: proxy.archiver.stats.done == 1, 30, "the call is archived")
                return await seen, upstream.answered_at, proxy.archiver.stats.done

    seen, answered, done = asyncio.run(main())
    assert answered is not None and seen < answered
    assert done == 1 and journals() == []


def test_a_call_hydra_refuses_leaves_no_journal(home: Path, database_url: str) -> None:
    async def main() -> tuple[int, int]:
        async with scripted_upstream(refuse=(401, b"bad key")) as upstream:
            async with running_proxy(proxy_settings(home, database_url, upstream.url)) as proxy:
                with pytest.raises(InvalidStatus) as refused:
                    async with connect(_url(proxy.port)):
                        pass
                return refused.value.response.status_code, proxy.archiver.stats.done

    assert asyncio.run(main()) == (401, 0)  # no call to archive
    assert list((home / "spool").iterdir()) == []  # the journal opened meanwhile is gone
