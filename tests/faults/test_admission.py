"""Admission that holds: hostile requests and bursts through the real proxy and Hydra stand-in.

A request that is not a WebSocket upgrade gets an HTTP answer and touches neither Hydra nor the
journal; capacity slots are taken before an upstream connection opens and are released on
every path; /healthz counts the same slots.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sqlalchemy import create_engine, text
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from recorder.simulate.hydra import HydraSimConfig, run_hydra_sim
from tests.conftest import TEST_API_KEY
from tests.faults.probes import UPGRADE, healthz, raw_exchange, status_of, wait_for_active
from tests.integration.harness import proxy_settings, proxy_url, running_proxy

PATH = f"/waves/v1/s2s?model=hydra-v1.1&api_key={TEST_API_KEY}"


def _sessions_rows(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM sessions")).scalar_one())
    finally:
        engine.dispose()


async def _first_type(ws: ClientConnection) -> str:
    frame = json.loads(await asyncio.wait_for(ws.recv(), 20))
    return str(frame["error"]["code"] if frame["type"] == "error" else frame["type"])


def test_requests_that_are_not_upgrades_are_answered_and_cost_no_slot(
    home: Path, database_url: str
) -> None:
    probes = {
        "GET without Upgrade": (f"GET {PATH} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode(), 426),
        "POST": (f"POST {PATH} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n".encode(), 405),
        # websockets refuses any request body before the proxy sees the request: 400
        "POST with a body": (
            f"POST {PATH} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nhi".encode(), 400),
        "upgrade without a key": (UPGRADE.format(path=PATH).replace(
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "").encode(), 400),
        "raw TCP garbage": (b"\x16\x03\x01\x02\x00garbage that is not HTTP\r\n\r\n", 400),
    }

    async def main() -> tuple[dict[str, list[int | None]], int, list[str], int]:
        async with run_hydra_sim(HydraSimConfig(seed=3)) as hydra:
            settings = proxy_settings(home, database_url, hydra.url, max_sessions=2)
            async with running_proxy(settings) as proxy:
                seen: dict[str, list[int | None]] = {}
                for name, (data, _) in probes.items():
                    answers = await asyncio.gather(*(raw_exchange(proxy.port, data) for _ in range(5)))
                    seen[name] = [status_of(a) for a in answers]
                active = int((await healthz(proxy.port))["active_calls"])
                touched = hydra.sessions_started + hydra.sessions_refused
                url = proxy_url(proxy, PATH)
                async with connect(url) as one, connect(url) as two:  # both slots still free
                    firsts = [await _first_type(one), await _first_type(two)]
                return seen, active, firsts, touched

    seen, active, firsts, touched = asyncio.run(main())
    for name, (_, status) in probes.items():
        assert seen[name] == [status] * 5, f"{name}: {seen[name]}"
    assert touched == 0, "a request that is not an upgrade must not open a Hydra session"
    assert active == 0
    assert firsts == ["session.created", "session.created"]
    assert not list((home / "spool").glob("*/*")), "no journal for requests that are not calls"
    assert _sessions_rows(database_url) == 2, "only the two real calls are on record"


def test_a_burst_of_300_handshakes_against_a_limit_of_50_admits_at_most_50(
    home: Path, database_url: str
) -> None:
    async def main() -> tuple[list[str], int, int, int, str]:
        async with run_hydra_sim(HydraSimConfig(seed=5, capacity=400)) as hydra:
            settings = proxy_settings(home, database_url, hydra.url, max_sessions=50)
            async with running_proxy(settings) as proxy:
                url = proxy_url(proxy, PATH)
                held: list[ClientConnection] = []

                async def one() -> str:
                    try:
                        ws = await connect(url, open_timeout=60)
                    except (OSError, TimeoutError) as exc:
                        return f"error {type(exc).__name__}"
                    held.append(ws)
                    try:
                        return await _first_type(ws)
                    except Exception as exc:  # noqa: BLE001 - counted, not hidden
                        return f"error {type(exc).__name__}"

                answers = await asyncio.gather(*(one() for _ in range(300)))
                during = int((await healthz(proxy.port))["active_calls"])
                started = hydra.sessions_started
                await asyncio.gather(*(ws.close() for ws in held))
                after = await wait_for_active(proxy.port, 0, timeout=30)
                async with connect(url) as again:
                    last = await _first_type(again)
                return answers, during, started, after, last

    answers, during, started, after, last = asyncio.run(main())
    accepted = answers.count("session.created")
    assert accepted <= 50, f"{accepted} calls admitted against a limit of 50"
    refused = answers.count("server_full")
    gave_up = sum(a.startswith("error") for a in answers)  # only a handshake slower than its timeout
    assert accepted >= 1 and refused >= 1 and accepted + refused + gave_up == 300, sorted(set(answers))
    assert started <= 50, f"{started} Hydra sessions opened for a limit of 50"
    assert during <= 50
    assert after == 0, "every slot comes back once the calls end"
    assert last == "session.created"


def test_a_client_that_vanishes_during_the_handshake_gives_its_slot_back(
    home: Path, database_url: str
) -> None:
    """The proxy is still waiting for Hydra when the client goes: slot and upstream are freed."""
    arrived = asyncio.Event()
    go_on = asyncio.Event()
    upstream_closed: list[int | None] = []

    async def slow_process_request(connection: ServerConnection, request: Request) -> Response | None:
        if not arrived.is_set():
            arrived.set()
            await go_on.wait()
        return None

    async def handler(connection: ServerConnection) -> None:
        await connection.send('{"type":"session.created","session":{"id":"s"}}')
        try:
            async for _ in connection:
                pass
        finally:
            upstream_closed.append(connection.close_code)

    async def main() -> tuple[int, int, str]:
        async with serve(handler, "127.0.0.1", 0, process_request=slow_process_request,
                         ping_interval=None) as upstream:
            port = upstream.sockets[0].getsockname()[1]
            settings = proxy_settings(home, database_url, f"ws://127.0.0.1:{port}/waves/v1/s2s",
                                      max_sessions=1)
            async with running_proxy(settings) as proxy:
                reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
                writer.write(UPGRADE.format(path=PATH).encode())
                await writer.drain()
                await asyncio.wait_for(arrived.wait(), 10)
                during = int((await healthz(proxy.port))["active_calls"])
                writer.close()  # the client gives up while Hydra is still answering
                await writer.wait_closed()
                await asyncio.sleep(0.1)
                go_on.set()
                after = await wait_for_active(proxy.port, 0)
                async with connect(proxy_url(proxy, PATH)) as ws:  # the only slot is free again
                    first = await _first_type(ws)
                return during, after, first

    during, after, first = asyncio.run(main())
    assert during == 1, "a call being set up holds its slot"
    assert after == 0
    assert first == "session.created"
    assert not list((home / "spool").glob("*/*"))


def test_the_per_client_limit_refuses_a_second_call_from_one_address(
    home: Path, database_url: str
) -> None:
    async def main() -> tuple[str, str, str]:
        async with run_hydra_sim(HydraSimConfig(seed=8)) as hydra:
            settings = proxy_settings(home, database_url, hydra.url, max_sessions_per_client=1)
            async with running_proxy(settings) as proxy:
                url = proxy_url(proxy, PATH)
                async with connect(url) as first:
                    one = await _first_type(first)
                    async with connect(url) as second:
                        two = await _first_type(second)
                await wait_for_active(proxy.port, 0)
                async with connect(url) as third:
                    return one, two, await _first_type(third)

    assert asyncio.run(main()) == ("session.created", "server_full", "session.created")


def test_a_call_task_that_crashes_gives_back_its_slot_and_closes_hydra(
    home: Path, database_url: str
) -> None:
    """An unexpected error while the call starts (here: the journal cannot open a segment)."""
    from recorder.proxy.recording import Recorder
    from recorder.proxy.server import ProxyServer
    from recorder.proxy.startup import prepare_recorder

    def crash(path: Path) -> int:
        raise RuntimeError("a bug, not a refusal")

    async def main() -> tuple[list[int | None], int, int]:
        async with run_hydra_sim(HydraSimConfig(seed=12)) as hydra:
            settings = proxy_settings(home, database_url, hydra.url, max_sessions=1)
            base = await asyncio.to_thread(prepare_recorder, settings)
            server = ProxyServer(settings, Recorder(settings, base.keystore,
                                                    journal_options={"open_segment": crash}))
            await server.start()
            codes: list[int | None] = []
            try:
                for _ in range(3):  # with one slot: each call must find it free again
                    async with connect(proxy_url(server, PATH)) as ws:
                        try:
                            while True:
                                await asyncio.wait_for(ws.recv(), 10)
                        except ConnectionClosed:
                            codes.append(ws.close_code)
                active = await wait_for_active(server.port, 0)
                for _ in range(100):  # Hydra sees its side closed (bounded)
                    if hydra.active_sessions == 0:
                        break
                    await asyncio.sleep(0.05)
                return codes, active, hydra.active_sessions
            finally:
                await server.drain(timeout_s=2)

    codes, active, hydra_left = asyncio.run(main())
    assert codes == [1011, 1011, 1011]
    assert active == 0
    assert hydra_left == 0
