"""Size limits on both legs: oversized messages and deflate bombs end the call with 1009.

Each leg refuses a message over `--max-message-mb` (decompressed size, so a small
permessage-deflate frame cannot inflate without bound); the call is on record as closed by
the proxy with 1009 and the limit as the reason, and the proxy's memory does not balloon.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from recorder.simulate.hydra import HydraSimConfig, run_hydra_sim
from tests.conftest import TEST_API_KEY
from tests.integration.harness import (
    ScriptedUpstream,
    proxy_settings,
    proxy_url,
    running_proxy,
    scripted_upstream,
)
from tests.integration.test_proxy_records_call import _env, _free_port, _wait_port

PATH = f"/waves/v1/s2s?model=hydra-v1.1&api_key={TEST_API_KEY}"
MiB = 2**20


def _the_call(database_url: str) -> dict[str, Any]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT s.state, r.reason, s.close_code, s.close_reason, s.close_side "
                "FROM sessions s LEFT JOIN recordings r ON r.session_id = s.id")).mappings().all()
    finally:
        engine.dispose()
    assert len(rows) == 1, rows
    return dict(rows[0])


def test_an_oversized_client_message_ends_the_call_with_1009_on_record(
    home: Path, database_url: str
) -> None:
    async def main() -> tuple[int | None, str | None]:
        async with run_hydra_sim(HydraSimConfig(seed=2)) as hydra:
            settings = proxy_settings(home, database_url, hydra.url, max_message_mb=1)
            async with running_proxy(settings) as proxy:
                async with connect(proxy_url(proxy, PATH), max_size=None) as ws:
                    await ws.recv()  # session.created
                    await ws.send('{"type":"input_audio_buffer.append","audio":"' + "A" * (2 * MiB) + '"}')
                    await asyncio.wait_for(ws.wait_closed(), 10)
                    return ws.close_code, ws.close_reason

    code, reason = asyncio.run(main())
    assert code == 1009
    assert "exceeds limit of 1048576 bytes" in (reason or "")
    call = _the_call(database_url)
    assert (call["close_code"], call["close_side"]) == (1009, "proxy")
    assert call["close_reason"].startswith("client ") and "1048576" in call["close_reason"]
    assert "keeping up" not in str(call["reason"])


def test_an_oversized_hydra_message_ends_the_call_with_1009_on_record(
    home: Path, database_url: str
) -> None:
    async def huge(connection: ServerConnection, upstream: ScriptedUpstream) -> None:
        await connection.recv()
        try:
            await connection.send('{"type":"response.output_audio.delta","delta":"' + "A" * (2 * MiB) + '"}')
            await connection.wait_closed()
        except ConnectionClosed:
            pass

    async def main() -> tuple[int | None, int | None]:
        async with scripted_upstream(huge) as upstream:
            settings = proxy_settings(home, database_url, upstream.url, max_message_mb=1)
            async with running_proxy(settings) as proxy:
                async with connect(proxy_url(proxy, PATH), max_size=None) as ws:
                    await ws.send('{"type":"session.update","session":{}}')
                    await asyncio.wait_for(ws.wait_closed(), 10)
                await asyncio.wait_for(upstream.closed.wait(), 10)
                return ws.close_code, upstream.close_code

    client_code, upstream_code = asyncio.run(main())
    assert client_code == 1009
    assert upstream_code == 1009
    call = _the_call(database_url)
    assert (call["close_code"], call["close_side"]) == (1009, "proxy")
    assert call["close_reason"].startswith("Hydra ")


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def _client_frame(opcode: int, payload: bytes, *, fin: bool, rsv1: bool) -> bytes:
    """One client frame as raw bytes (masked with a zero key, so the payload reads as is)."""
    head = bytes([(0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 2**16:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    return head + b"\x00\x00\x00\x00" + payload


def _deflated(total: int) -> bytes:
    """A raw permessage-deflate payload that inflates to `total` bytes of 'a'."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b"a" * MiB
    out = [packer.compress(chunk) for _ in range(total // MiB)]
    out.append(packer.flush(zlib.Z_SYNC_FLUSH))
    data = b"".join(out)
    assert data.endswith(b"\x00\x00\xff\xff")
    return data[:-4]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to read peak RSS")
@pytest.mark.parametrize("fragments", [1, 32])
def test_a_deflate_bomb_is_refused_with_1009_and_memory_stays_flat(
    home: Path, tmp_path: Path, fragments: int
) -> None:
    """128 MiB of text in a 130 KiB compressed message, whole or in 32 fragments."""
    bomb = _deflated(128 * MiB)
    assert len(bomb) < 256 * 1024
    cut = [bomb[i * len(bomb) // fragments:(i + 1) * len(bomb) // fragments] for i in range(fragments)]
    frames = [_client_frame(0x1 if i == 0 else 0x0, part, fin=i == fragments - 1, rsv1=i == 0)
              for i, part in enumerate(cut)]
    port = _free_port()
    database_url = f"sqlite:///{tmp_path / 'recorder.db'}"

    async def main() -> tuple[int | None, float, float]:
        async with run_hydra_sim(HydraSimConfig(seed=4)) as hydra:
            proxy = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "recorder.cli.main", "proxy", "--listen", f"127.0.0.1:{port}",
                "--upstream", hydra.url, env=_env(home, database_url),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            try:
                await _wait_port(port, proxy)
                async with connect(f"ws://127.0.0.1:{port}{PATH}", compression="deflate") as ws:
                    await ws.recv()  # session.created: the call is up
                    before = _peak_rss_mib(proxy.pid)
                    for frame in frames:  # already compressed: straight onto the wire
                        ws.transport.write(frame)
                    try:
                        await asyncio.wait_for(ws.wait_closed(), 20)
                    except TimeoutError:
                        pass
                    after = _peak_rss_mib(proxy.pid)
                    return ws.close_code, before, after
            finally:
                proxy.terminate()
                await asyncio.wait_for(proxy.wait(), 30)

    code, before, after = asyncio.run(main())
    assert code == 1009
    # The default limit is 8 MiB: the proxy inflates at most that much, never the 128 MiB.
    assert after - before < 48, f"peak RSS grew from {before:.0f} to {after:.0f} MiB"
    assert os.path.exists(tmp_path / "recorder.db")
