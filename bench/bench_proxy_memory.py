"""Peak memory of the recording proxy for large, oversized and deflate-bomb messages.

Run: `python bench/bench_proxy_memory.py`

Each scenario starts a fresh `recorder proxy` process (default SQLite database, full recording,
default `--max-message-mb 8`) in front of an upstream in this process, opens one call, reads
the proxy's peak RSS (VmHWM), sends one message, waits for the call to settle and reads it
again. The baseline is the simplest process doing the same forwarding job: a bare websockets
relay (same message limit, no recording), measured the same way in the same run.

Scenarios: an agent audio delta of 1, 4 and 7 MiB from upstream (allowed: the growth is what
recording a large frame costs), a 64 MiB client message (refused with 1009 at 8 MiB) and a
permessage-deflate message of 130 KiB that inflates to 128 MiB (refused with 1009).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

MiB = 2**20
API_KEY = "sk_bench_memory"

BARE_RELAY = """
import asyncio, sys
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
LIMIT = 8 * 2**20
async def pump(src, dst):
    try:
        async for m in src:
            await dst.send(m)
    finally:
        await dst.close()
async def handle(client):
    async with connect(sys.argv[2], max_size=LIMIT, ping_interval=None) as up:
        await asyncio.gather(pump(client, up), pump(up, client), return_exceptions=True)
async def main():
    async with serve(handle, "127.0.0.1", int(sys.argv[1]), max_size=LIMIT, ping_interval=None,
                     compression="deflate"):
        await asyncio.Future()
asyncio.run(main())
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def agent_delta(size: int) -> str:
    return ('{"type":"response.output_audio.delta","response_id":"r1","item_id":"i1",'
            '"output_index":0,"content_index":0,"delta":"' + "A" * size + '"}')


def bomb(total: int) -> bytes:
    """A raw client frame: permessage-deflate text inflating to `total` bytes, zero mask key."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = b"".join(packer.compress(b"a" * MiB) for _ in range(total // MiB))
    data = (data + packer.flush(zlib.Z_SYNC_FLUSH))[:-4]
    return bytes([0xC1, 0x80 | 127]) + len(data).to_bytes(8, "big") + b"\0\0\0\0" + data


async def upstream_handler(ws: ServerConnection) -> None:
    """Answers a client message 'big N' with an N-byte agent delta; otherwise just reads."""
    try:
        async for message in ws:
            if isinstance(message, str) and message.startswith("big "):
                await ws.send(agent_delta(int(message[4:])))
    except ConnectionClosed:
        pass


async def scenario(kind: str, name: str, upstream_url: str) -> tuple[float, float, int | None]:
    port = free_port()
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RECORDER_")}
        env["RECORDER_HOME"] = home
        if kind == "proxy":
            args = [sys.executable, "-m", "recorder.cli.main", "proxy", "--listen", f"127.0.0.1:{port}",
                    "--upstream", upstream_url, "--log-level", "WARNING"]
        else:
            args = [sys.executable, "-c", BARE_RELAY, str(port), upstream_url]
        proc = await asyncio.create_subprocess_exec(*args, env=env, stdout=subprocess.DEVNULL,
                                                    stderr=subprocess.DEVNULL)
        try:
            for _ in range(600):
                try:
                    _, w = await asyncio.open_connection("127.0.0.1", port)
                    w.close()
                    break
                except OSError:
                    await asyncio.sleep(0.05)
            url = f"ws://127.0.0.1:{port}/waves/v1/s2s?api_key={API_KEY}"
            async with connect(url, max_size=None, compression="deflate", open_timeout=30) as ws:
                await ws.send("hello")
                await asyncio.sleep(0.5)
                before = peak_rss_mib(proc.pid)
                if name.startswith("agent"):
                    await ws.send(f"big {int(name.split()[1]) * MiB}")
                    await asyncio.wait_for(ws.recv(), 60)
                elif name.startswith("client"):
                    await ws.send("A" * (64 * MiB))
                else:
                    ws.transport.write(bomb(128 * MiB))
                try:
                    await asyncio.wait_for(ws.wait_closed(), 5)
                except TimeoutError:
                    pass
                code = ws.close_code
            await asyncio.sleep(3)  # let the proxy archive the call
            return before, peak_rss_mib(proc.pid), code
        finally:
            proc.terminate()
            await proc.wait()


async def main() -> None:
    names = ["agent 1 MiB", "agent 4 MiB", "agent 7 MiB", "client 64 MiB", "deflate bomb 128 MiB"]
    async with serve(upstream_handler, "127.0.0.1", 0, max_size=None, ping_interval=None,
                     compression=None) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/waves/v1/s2s"
        print("| message | bare relay: peak RSS growth | proxy: peak RSS growth | proxy close code |")
        print("|---|---|---|---|")
        for name in names:
            b0, b1, _ = await scenario("bare", name, url)
            p0, p1, code = await scenario("proxy", name, url)
            shown = "none (forwarded)" if code is None else str(code)
            print(f"| {name} | {b1 - b0:.0f} MiB | {p1 - p0:.0f} MiB | {shown} |", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
