"""`recorder proxy --workers 2`: two processes share the port; every call is recorded once."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import subprocess
import sys
from pathlib import Path

from websockets.asyncio.client import connect

from recorder.simulate.hydra import HydraSimConfig, run_hydra_sim
from tests.conftest import TEST_API_KEY
from tests.integration.test_proxy_records_call import _env, _free_port, _wait_port

FRAME = base64.b64encode(bytes(640)).decode()


async def _short_call(port: int) -> str:
    url = f"ws://127.0.0.1:{port}/waves/v1/s2s?model=hydra-v1.1&api_key={TEST_API_KEY}"
    async with connect(url) as client:
        created = json.loads(await client.recv())
        await client.send('{"type":"session.configure","session":{}}')
        await client.recv()
        for _ in range(15):
            await client.send('{"type":"input_audio_buffer.append","audio":"%s"}' % FRAME)
            await asyncio.sleep(0.02)
    return str(created["session_id"])


def test_two_workers_record_every_call_once(home: Path, database_url: str, tmp_path: Path) -> None:
    env = _env(home, database_url)
    port = _free_port()

    async def main() -> tuple[list[str], int]:
        async with run_hydra_sim(HydraSimConfig(seed=9)) as hydra:
            with (tmp_path / "proxy.log").open("w") as log:
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "recorder.cli.main", "proxy", "--workers", "2",
                    "--listen", f"127.0.0.1:{port}", "--upstream", hydra.url,
                    env=env, stdout=log, stderr=log,
                )
                await _wait_port(port, process)
                await asyncio.sleep(1.0)  # let the second worker bind too
                ids = await asyncio.gather(*(_short_call(port) for _ in range(6)))
                process.send_signal(signal.SIGTERM)
                code = await asyncio.wait_for(process.wait(), 60)
        return list(ids), code

    ids, code = asyncio.run(main())
    log_text = (tmp_path / "proxy.log").read_text()
    assert code == 0, log_text
    assert "worker 0" in log_text and "worker 1" in log_text
    listed = subprocess.run([sys.executable, "-m", "recorder.cli.main", "sessions", "--json"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert sorted(s["hydra_session_id"] for s in json.loads(listed.stdout)) == sorted(ids)
    verified = subprocess.run([sys.executable, "-m", "recorder.cli.main", "verify"],
                              env=env, capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0, verified.stdout + verified.stderr
