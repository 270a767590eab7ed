"""A client that stops reading slows Hydra down through the proxy; the proxy's memory stays flat."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from tests.conftest import TEST_API_KEY
from tests.faults.probes import UPGRADE
from tests.faults.test_limits import _client_frame, _peak_rss_mib
from tests.integration.harness import ScriptedUpstream, scripted_upstream
from tests.integration.test_proxy_records_call import _env, _free_port, _wait_port

COUNT = 2048
FRAME = '{"type":"response.output_text.delta","delta":"%s"}'


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to read peak RSS")
def test_a_slow_reader_gets_backpressure_and_memory_stays_flat(home: Path, tmp_path: Path) -> None:
    sent: list[int] = []
    payload = "x" * (32 * 1024)

    async def flood(connection: ServerConnection, upstream: ScriptedUpstream) -> None:
        await connection.recv()
        try:
            for i in range(COUNT):  # 64 MiB: more than every buffer on the way together
                await connection.send(FRAME % f"{i:06d}{payload}")
                sent.append(i)
            await connection.wait_closed()
        except ConnectionClosed:
            pass

    port = _free_port()
    database_url = f"sqlite:///{tmp_path / 'recorder.db'}"

    async def main() -> tuple[int, int, float, float]:
        async with scripted_upstream(flood) as upstream:
            proxy = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "recorder.cli.main", "proxy", "--listen", f"127.0.0.1:{port}",
                "--upstream", upstream.url, env=_env(home, database_url),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            try:
                await _wait_port(port, proxy)
                sock = socket.socket()
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)  # no autotuning
                sock.setblocking(False)
                await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
                reader, writer = await asyncio.open_connection(sock=sock)  # pauses at 128 KiB unread
                writer.write(UPGRADE.format(path=f"/waves/v1/s2s?api_key={TEST_API_KEY}").encode())
                assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
                before = _peak_rss_mib(proxy.pid)
                writer.write(_client_frame(0x1, b'{"type":"session.update","session":{}}', fin=True, rsv1=False))
                previous = -1
                while len(sent) != previous:  # until Hydra is held back (bounded by COUNT)
                    previous = len(sent)
                    await asyncio.sleep(0.5)
                stalled = len(sent)
                during = _peak_rss_mib(proxy.pid)
                in_order = True
                for i in range(COUNT):  # now read it all: every message, in order
                    head = await asyncio.wait_for(reader.readexactly(2), 30)
                    size = head[1] & 0x7F
                    if size >= 126:
                        size = int.from_bytes(await reader.readexactly(2 if size == 126 else 8), "big")
                    body = await reader.readexactly(size)
                    in_order = in_order and body[46:52] == f"{i:06d}".encode()
                writer.close()
                return stalled, int(in_order), before, during
            finally:
                proxy.terminate()
                await asyncio.wait_for(proxy.wait(), 30)

    stalled, in_order, before, during = asyncio.run(main())
    assert stalled < COUNT, "Hydra could send everything although the client read nothing"
    assert in_order, "every message arrives, in order, once the client reads"
    assert during - before < 24, f"peak RSS grew from {before:.0f} to {during:.0f} MiB for a {COUNT * 32 // 1024} MiB flood"
