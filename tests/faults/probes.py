"""Raw-socket probes shared by the fault tests: what an attacker or a broken client sends."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from recorder.simulate.hydra import HydraSimConfig, run_hydra_sim
from tests.conftest import TEST_API_KEY
from tests.integration.harness import proxy_settings, proxy_url, running_proxy

UPGRADE = (
    "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


async def raw_exchange(port: int, data: bytes, *, timeout: float = 10.0) -> bytes:
    """Send `data` on a fresh TCP connection and read until the server closes it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()


def status_of(answer: bytes) -> int | None:
    """The HTTP status of a response, or None when the server answered nothing."""
    line = answer.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) >= 2 and line[0].startswith(b"HTTP/1.") else None


async def healthz(port: int) -> dict[str, Any]:
    answer = await raw_exchange(port, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert status_of(answer) == 200, answer[:200]
    return dict(json.loads(answer.split(b"\r\n\r\n", 1)[1]))


async def wait_for_active(port: int, expected: int, *, timeout: float = 10.0) -> int:
    """Poll /healthz until `active_calls` is `expected` (bounded); return the last value seen."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        active = int((await healthz(port))["active_calls"])
        if active == expected or loop.time() > deadline:
            return active
        await asyncio.sleep(0.05)


async def short_call(url: str, frames: int = 10) -> None:
    """A caller that says 0.2 s of quiet audio and hangs up normally."""
    audio = base64.b64encode(b"\x10\x00" * 320).decode()  # 20 ms at 16 kHz
    async with connect(url, max_size=None) as ws:
        await asyncio.wait_for(ws.recv(), 10)  # session.created
        for _ in range(frames):
            await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": audio}))
        await ws.close(1000, "caller hung up")


def record_calls(home: Path, database_url: str, count: int) -> None:
    """`count` short calls through the real proxy and the Hydra stand-in, archived one by one."""
    async def main() -> None:
        async with run_hydra_sim(HydraSimConfig(seed=9)) as hydra:
            async with running_proxy(proxy_settings(home, database_url, hydra.url)) as proxy:
                for _ in range(count):
                    await short_call(proxy_url(proxy, f"/waves/v1/s2s?model=hydra-v1.1&api_key={TEST_API_KEY}"))

    asyncio.run(main())
