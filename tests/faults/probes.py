"""Raw-socket probes shared by the fault tests: what an attacker or a broken client sends."""

from __future__ import annotations

import asyncio
import json
from typing import Any

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
