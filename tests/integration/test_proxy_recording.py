"""Recording through the real proxy: what the caller heard, encrypted, crash-safe, verifiable."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soxr
from sqlalchemy import create_engine, text
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from recorder.audit.verify import verify
from recorder.crypto.keys import KeyStore
from recorder.db.engine import make_engine
from recorder.proxy.recording import Recorder
from recorder.proxy.server import ProxyServer
from recorder.proxy.startup import prepare_recorder
from recorder.simulate.caller import CallScript, run_call
from recorder.simulate.hydra import HydraSimConfig, run_hydra_sim
from tests.conftest import TEST_API_KEY
from tests.integration.archive_check import open_only_archive, pcm_of, snr_db
from tests.integration.harness import (
    ScriptedUpstream,
    proxy_settings,
    receive_all,
    running_proxy,
    scripted_upstream,
)
from tests.integration.test_proxy_records_call import _env, _free_port, _wait_port


def _url(port: int) -> str:
    return f"ws://127.0.0.1:{port}/waves/v1/s2s?model=hydra-v1.1&api_key={TEST_API_KEY}"


def test_archive_holds_exactly_what_the_caller_heard(home: Path, database_url: str) -> None:
    async def main():  # type: ignore[no-untyped-def]
        async with run_hydra_sim(HydraSimConfig(seed=11, speed=2.0, response_ms=1600)) as hydra:
            settings = proxy_settings(home, database_url, hydra.url)
            async with running_proxy(settings) as proxy:
                return await run_call(_url(proxy.port), CallScript(), api_key=TEST_API_KEY)

    transcript = asyncio.run(main())
    frames = [json.loads(m) for m in transcript.received if isinstance(m, str)]
    assert any(f.get("type") == "response.done" and f["response"]["status"] == "cancelled" for f in frames)
    assert not list((home / "spool").iterdir())  # journal deleted once archived

    archive = open_only_archive(home)
    assert archive.manifest["state"] == "complete"
    right, left = archive.stereo[:, 1], archive.stereo[:, 0]

    deltas = pcm_of(transcript.received, "response.output_audio.delta", "delta")
    agent_lines = [e for e in archive.events if e.get("kind") == "audio" and e["channel"] == "agent"]
    assert [line["bytes"] for line in agent_lines] == [len(d) for d in deltas]
    cuts = {c["response_id"]: c["position"] for c in archive.alignment["cuts"]}
    assert cuts, "the barge-in must cut the interrupted response"
    expected = np.zeros_like(right)
    tails = []
    for line, pcm in zip(agent_lines, deltas, strict=True):
        samples = np.frombuffer(pcm, dtype="<i2")
        cut = cuts.get(line["response_id"])
        keep = len(samples) if cut is None else int(np.clip(cut - line["start"], 0, len(samples)))
        if line["discarded"]:
            keep = 0
        expected[line["start"] : line["start"] + keep] = samples[:keep]
        tails.append(samples[keep:])
    assert np.array_equal(right, expected)  # bit-exact at the playout positions
    assert archive.unplayed is not None
    assert np.array_equal(archive.unplayed, np.concatenate(tails))

    sent = np.concatenate([np.frombuffer(p, dtype="<i2") for p in
                           pcm_of(transcript.sent, "input_audio_buffer.append", "audio")])
    caller_lines = [e for e in archive.events if e.get("kind") == "audio" and e["channel"] == "caller"]
    placed = np.concatenate([left[e["start"] : e["start"] + e["length"]] for e in caller_lines])
    back = soxr.resample(placed.astype(np.float32), 48_000, 16_000).astype(np.float64)
    n = min(len(back), len(sent))
    assert abs(len(back) - len(sent)) <= 2
    assert snr_db(sent[:n], back[:n]) > 40

    engine = make_engine(database_url)
    try:
        report = verify(home, engine, KeyStore(home / "keys").verify_keys())
    finally:
        engine.dispose()
    assert report.ok, report.lines()


def test_no_plaintext_audio_on_disk_during_or_after_a_call(home: Path, database_url: str) -> None:
    pattern = bytes(np.random.default_rng(5).integers(-20000, 20000, 320, dtype=np.int16).astype("<i2").tobytes())
    encoded = base64.b64encode(pattern * 2).decode()
    needles = [pattern[:48], encoded[:48].encode(), base64.b64encode(pattern)[:48]]

    def scan() -> int:
        found = 0
        files = [p for p in home.rglob("*") if p.is_file()]
        for path in files:
            data = path.read_bytes()
            found += sum(needle in data for needle in needles)
        return found

    async def main() -> tuple[int, int]:
        async with run_hydra_sim(HydraSimConfig(seed=2)) as hydra:
            settings = proxy_settings(home, database_url, hydra.url)
            async with running_proxy(settings) as proxy:
                async with connect(_url(proxy.port)) as client:
                    await client.recv()
                    await client.send('{"type":"session.configure","session":{}}')
                    await client.recv()
                    for _ in range(40):
                        await client.send(
                            '{"type":"input_audio_buffer.append","audio":"%s"}' % encoded)
                        await asyncio.sleep(0.01)
                    await asyncio.sleep(0.5)  # more than a flush interval
                    assert any((home / "spool").rglob("seg-*"))
                    during = scan()
            return during, scan()

    during, after = asyncio.run(main())
    assert (during, after) == (0, 0)
    assert open_only_archive(home).stereo.shape[0] > 0


def test_sigkill_mid_call_then_recover_keeps_all_but_the_last_flush(
    home: Path, database_url: str, tmp_path: Path
) -> None:
    env = _env(home, database_url)
    port = _free_port()
    frame = base64.b64encode(np.full(320, 1000, dtype="<i2").tobytes()).decode()

    async def main() -> tuple[list[float], float]:
        async with run_hydra_sim(HydraSimConfig(seed=4)) as hydra:
            with (tmp_path / "proxy.log").open("w") as log:
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "recorder.cli.main", "proxy", "--listen",
                    f"127.0.0.1:{port}", "--upstream", hydra.url, env=env, stdout=log, stderr=log)
                await _wait_port(port, process)
                sent_at: list[float] = []
                killed_at = 0.0
                async with connect(_url(port)) as client:
                    await client.recv()
                    await client.send('{"type":"session.configure","session":{}}')
                    await client.recv()
                    start = time.monotonic()
                    try:
                        while True:
                            if not killed_at and time.monotonic() - start > 1.5:
                                process.send_signal(signal.SIGKILL)
                                killed_at = time.monotonic()
                            if killed_at and time.monotonic() - killed_at > 0.3:
                                break
                            await client.send('{"type":"input_audio_buffer.append","audio":"%s"}' % frame)
                            sent_at.append(time.monotonic())
                            await asyncio.sleep(0.02)
                    except ConnectionClosed:
                        pass
                await process.wait()
        return [t - killed_at for t in sent_at], killed_at

    sent, _ = asyncio.run(main())
    assert list((home / "spool").iterdir()), "the killed proxy must leave its journal"
    result = subprocess.run([sys.executable, "-m", "recorder.cli.main", "recover"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "recovered 1 of 1" in result.stdout
    assert not list((home / "spool").iterdir())

    archive = open_only_archive(home)
    assert archive.manifest["state"] == "incomplete"
    assert "recovered" in archive.manifest["reason"]
    caller = [e for e in archive.events if e.get("kind") == "audio" and e["channel"] == "caller"]
    must_have = sum(1 for t in sent if t < -(0.2 + 0.02 + 0.03))  # last flush + one frame + slack
    assert len(caller) >= must_have > 40
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            state = conn.execute(text("SELECT state FROM sessions")).scalar_one()
    finally:
        engine.dispose()
    assert state == "incomplete"


def _failing_after_first_segment(path: Path) -> int:
    if path.name.endswith("000001.rj"):
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.open("/dev/full", os.O_WRONLY)


async def _greet_then_receive(connection: ServerConnection, upstream: ScriptedUpstream) -> None:
    await connection.send('{"type":"session.created","event_id":"e0","session":{"id":"s1"}}')
    await receive_all(connection, upstream)


@pytest.mark.parametrize("policy", ["close", "continue"])
def test_journal_failure_follows_the_policy(home: Path, database_url: str, policy: str) -> None:
    settings = replace(proxy_settings(home, database_url, ""), recording_failure=policy)
    tone = (8000 * np.sin(2 * np.pi * 440 * np.arange(320) / 16_000)).astype("<i2").tobytes()
    frames = ['{"type":"input_audio_buffer.append","event_id":"a%d","audio":"%s"}'
              % (i, base64.b64encode(tone).decode()) for i in range(100)]

    async def main() -> tuple[list[str], int | None, int, list[str | bytes]]:
        async with scripted_upstream(_greet_then_receive) as upstream:
            live = replace(settings, upstream_url=upstream.url)
            base = await asyncio.to_thread(prepare_recorder, live)
            recorder = Recorder(live, base.keystore, journal_options={
                "open_segment": _failing_after_first_segment, "segment_max_bytes": 4096})
            server = ProxyServer(live, recorder)
            await server.start()
            received: list[str] = []
            sent = 0
            try:
                async with connect(_url(server.port)) as client:
                    received.append(str(await client.recv()))
                    await client.send('{"type":"session.configure","session":{}}')
                    try:
                        for frame in frames:
                            await client.send(frame)
                            sent += 1
                            await asyncio.sleep(0.005)
                        await client.close()
                    except ConnectionClosed:
                        pass
                    try:
                        while True:  # what arrived before the close is still buffered
                            received.append(str(await client.recv()))
                    except ConnectionClosed:
                        pass
                    code = client.close_code
                await asyncio.wait_for(upstream.closed.wait(), 5)
            finally:
                await server.drain(timeout_s=2)
            return received, code, sent, upstream.received

    received, code, sent, at_hydra = asyncio.run(main())
    archive = open_only_archive(home)
    assert archive.manifest["state"] == "incomplete"
    assert "recording failed" in archive.manifest["reason"]
    recorded_ms = int(np.count_nonzero(np.abs(archive.stereo[:, 0].astype(np.int32)) > 1000)) / 48
    assert 0 < recorded_ms < 1000  # the journal failed early: most of the 2 s sent is not recorded
    if policy == "close":
        assert code == 1011
        assert any('"recording_failed"' in m for m in received)
        assert sent < 100
        assert at_hydra == ['{"type":"session.configure","session":{}}', *frames[: len(at_hydra) - 1]]
    else:
        assert code == 1000
        assert sent == 100
        # every frame sent after the recording failed still reached Hydra, unchanged and in order
        assert at_hydra == ['{"type":"session.configure","session":{}}', *frames]


def test_low_disk_refuses_new_calls_with_server_full(home: Path, database_url: str) -> None:
    async def main() -> tuple[dict[str, object], int | None]:
        async with run_hydra_sim() as hydra:
            settings = replace(proxy_settings(home, database_url, hydra.url), min_free_disk_mb=10**9)
            async with running_proxy(settings) as proxy:
                async with connect(_url(proxy.port)) as client:
                    frame = json.loads(await client.recv())
                    await client.wait_closed()
                    return frame, client.close_code

    frame, code = asyncio.run(main())
    assert frame["error"]["code"] == "server_full"  # type: ignore[index]
    assert code == 1013
