"""The proxy process as an operator sees it: JSON logs with call ids, and `/metrics`.

Two calls and one request that is not an upgrade go through the real `recorder proxy`; the
metrics must count exactly what the clients did, and every log line must be JSON without the
API key.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import signal
import sys
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from recorder.simulate.hydra import HydraSimConfig, run_hydra_sim
from tests.conftest import TEST_API_KEY
from tests.integration.test_proxy_records_call import _env, _free_port, _recorder, _wait_port

FRAME = base64.b64encode(bytes(640)).decode()
APPENDS = (5, 9)


async def _call(port: int, appends: int) -> None:
    url = f"ws://127.0.0.1:{port}/waves/v1/s2s?model=hydra-v1.1&api_key={TEST_API_KEY}"
    async with connect(url, additional_headers={"Authorization": f"Bearer {TEST_API_KEY}"}) as ws:
        await ws.recv()
        await ws.send('{"type":"session.configure","session":{}}')
        await ws.recv()
        for _ in range(appends):
            await ws.send('{"type":"input_audio_buffer.append","audio":"%s"}' % FRAME)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text) for s in family.samples
    }


async def _scrape_when_finalized(client: httpx.AsyncClient, url: str, calls: int) -> str:
    for _ in range(600):  # the archiver finishes in the background after the calls end
        text = (await client.get(url)).text
        if _samples(text).get(("recorder_finalize_seconds_count", ()), 0) >= calls:
            return text
        await asyncio.sleep(0.05)
    raise AssertionError("the calls were not finalized")


def test_metrics_count_the_calls_and_json_logs_carry_call_ids(
    home: Path, database_url: str, tmp_path: Path
) -> None:
    env = _env(home, database_url)
    port = _free_port()
    log_path = tmp_path / "proxy.log"

    async def main() -> tuple[str, int, int]:
        async with run_hydra_sim(HydraSimConfig(seed=5)) as hydra:
            with log_path.open("w") as log_file:
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "recorder.cli.main", "proxy", "--listen",
                    f"127.0.0.1:{port}", "--upstream", hydra.url, "--log-format", "json",
                    "--log-level", "DEBUG", env=env, stdout=log_file, stderr=log_file,
                )
                await _wait_port(port, process)
                for appends in APPENDS:
                    await _call(port, appends)
                async with httpx.AsyncClient() as client:
                    refused = await client.get(f"http://127.0.0.1:{port}/waves/v1/s2s")
                    text = await _scrape_when_finalized(client, f"http://127.0.0.1:{port}/metrics", 2)
                process.send_signal(signal.SIGTERM)
                code = await asyncio.wait_for(process.wait(), 30)
        return text, refused.status_code, code

    text, refused_status, code = asyncio.run(main())
    log_text = log_path.read_text()
    assert code == 0, log_text
    assert refused_status == 426

    samples = _samples(text)
    calls = {labels: v for (name, labels), v in samples.items() if name == "recorder_calls_total"}
    assert calls == {(("close_code", "1000"), ("outcome", "complete")): 2}
    # per call: session.configure + the appends, each forwarded once
    assert samples[("recorder_frames_total", (("direction", "c2s"),))] == sum(APPENDS) + 2
    assert samples[("recorder_forward_seconds_count", ())] == sum(
        v for (name, _), v in samples.items() if name == "recorder_frames_total")
    assert samples[("recorder_refusals_total", (("reason", "not_an_upgrade"),))] == 1
    assert samples[("recorder_refusals_total", (("reason", "server_full"),))] == 0
    assert samples[("recorder_active_calls", ())] == 0
    assert samples[("recorder_max_sessions", ())] == 100  # the default
    assert samples[("recorder_finalize_failures_total", ())] == 0
    assert not any(name.endswith("_total") and "session" in dict(labels) for name, labels in samples)

    listed = _recorder("sessions", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    sessions = json.loads(listed.stdout)
    shown = [json.loads(_recorder("show", s["id"], "--json", env=env).stdout) for s in sessions]
    for direction in ("c2s", "s2c"):  # what the database recorded per call, summed
        assert samples[("recorder_bytes_total", (("direction", direction),))] == sum(
            call["bytes"][direction] for call in shown)

    assert TEST_API_KEY not in log_text
    lines = [json.loads(line) for line in log_text.splitlines()]  # every line is JSON
    opened = [re.match(r"call (\S+) opened", e["message"]) for e in lines]
    ids = {m.group(1) for m in opened if m}
    assert ids == {s["id"] for s in sessions}
    for entry in lines:
        mentioned = [i for i in ids if i in entry["message"]]
        if mentioned:
            assert entry.get("call_id") == mentioned[0], entry
    for call_id in ids:
        assert sum(e.get("call_id") == call_id for e in lines) >= 2  # opened and closed at least
