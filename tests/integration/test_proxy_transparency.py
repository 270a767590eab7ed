"""The transparency contract: real sockets through the real proxy."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import TEST_API_KEY
from tests.integration.harness import (
    ScriptedUpstream,
    proxy_settings,
    proxy_url,
    running_proxy,
    scripted_upstream,
)


def _messages(side: str, count: int) -> list[str | bytes]:
    """A varied stream: audio events, other JSON, a binary frame, malformed JSON, odd text."""
    out: list[str | bytes] = []
    for i in range(count):
        kind = i % 10
        if kind == 3:
            out.append(bytes([i % 256]) * (i + 1))
        elif kind == 5:
            out.append('{"type": "input_audio_buffer.append", "audio": ' + str(i))  # broken JSON
        elif kind == 7:
            out.append(f"plain text {side} {i} \u00e9\u6f22 \U0001f600")
        elif side == "client":
            pcm = (i.to_bytes(2, "little")) * 320
            out.append(json.dumps({"type": "input_audio_buffer.append", "event_id": f"evt_{i}",
                                   "audio": base64.b64encode(pcm).decode()}))
        else:
            pcm = (i.to_bytes(2, "little")) * 960
            out.append(json.dumps({"type": "response.output_audio.delta", "response_id": "resp_1",
                                   "delta": base64.b64encode(pcm).decode()}, separators=(",", ":")))
    return out


def test_every_message_is_forwarded_unchanged_and_in_order(home: Path, database_url: str) -> None:
    from_upstream = _messages("upstream", 300)
    from_client = _messages("client", 300)

    async def behaviour(connection: ServerConnection, upstream: ScriptedUpstream) -> None:
        async def send_all() -> None:
            for message in from_upstream:
                await connection.send(message)

        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(send_all())
            async for message in connection:
                upstream.received.append(message)

    async def main() -> tuple[list[str | bytes], list[str | bytes]]:
        async with scripted_upstream(behaviour) as upstream:
            settings = proxy_settings(home, database_url, upstream.url)
            async with running_proxy(settings) as proxy:
                url = proxy_url(proxy, f"/waves/v1/s2s?model=hydra-v1.1&api_key={TEST_API_KEY}")
                got: list[str | bytes] = []
                async with connect(url, max_size=None) as client:
                    async def reader() -> None:
                        while len(got) < len(from_upstream):
                            got.append(await client.recv())

                    async with asyncio.TaskGroup() as tasks:
                        tasks.create_task(reader())
                        for message in from_client:
                            await client.send(message)
                    # give the last client frames time to cross before closing
                    for _ in range(100):
                        if len(upstream.received) == len(from_client):
                            break
                        await asyncio.sleep(0.02)
            return got, upstream.received

    got, received = asyncio.run(main())
    assert received == from_client
    assert [type(m) for m in received] == [type(m) for m in from_client]
    assert got == from_upstream
    assert [type(m) for m in got] == [type(m) for m in from_upstream]


@pytest.mark.parametrize("status", [401, 403, 429, 500, 503])
def test_upstream_refusal_reaches_client_as_same_status(
    home: Path, database_url: str, status: int
) -> None:
    body = b"Websocket initialized with invalid credentials." if status == 401 else b"nope"

    async def main() -> InvalidStatus:
        async with scripted_upstream(refuse=(status, body)) as upstream:
            async with running_proxy(proxy_settings(home, database_url, upstream.url)) as proxy:
                with pytest.raises(InvalidStatus) as caught:
                    async with connect(proxy_url(proxy)):
                        pass
                return caught.value

    refused = asyncio.run(main())
    assert refused.response.status_code == status
    assert refused.response.body == body


def test_unreachable_upstream_answers_502(home: Path, database_url: str) -> None:
    async def main() -> int:
        settings = proxy_settings(home, database_url, "ws://127.0.0.1:9/waves/v1/s2s")
        async with running_proxy(settings) as proxy:
            with pytest.raises(InvalidStatus) as caught:
                async with connect(proxy_url(proxy)):
                    pass
            return caught.value.response.status_code

    assert asyncio.run(main()) == 502


def test_query_string_and_headers_forwarded_metadata_headers_stripped(
    home: Path, database_url: str
) -> None:
    query = f"model=hydra-v1.0&api_key={TEST_API_KEY}&x=%20a%2Bb"

    async def main() -> ScriptedUpstream:
        async with scripted_upstream() as upstream:
            async with running_proxy(proxy_settings(home, database_url, upstream.url)) as proxy:
                headers = {
                    "Authorization": f"Bearer {TEST_API_KEY}",
                    "X-Fern-SDK-Name": "smallestai",
                    "X-Recorder-Agent-Id": "agent-7",
                    "X-Recorder-Tenant": "acme",
                }
                async with connect(
                    proxy_url(proxy, f"/any/path/the/client/used?{query}"),
                    additional_headers=headers,
                    user_agent_header="my-agent/1.0",
                ):
                    pass
            return upstream

    upstream = asyncio.run(main())
    seen = upstream.requests[0]
    assert seen.path == f"/waves/v1/s2s?{query}"
    names = {k.lower(): v for k, v in seen.headers}
    assert names["authorization"] == f"Bearer {TEST_API_KEY}"
    assert names["x-fern-sdk-name"] == "smallestai"
    assert names["user-agent"] == "my-agent/1.0"
    assert not any(k.startswith("x-recorder-") for k in names)


def test_close_codes_and_reasons_propagate_both_ways(home: Path, database_url: str) -> None:
    async def upstream_closes(connection: ServerConnection, upstream: ScriptedUpstream) -> None:
        await connection.send('{"type":"error","error":{"code":"server_full"}}')
        await connection.close(1013, "try again later")

    async def main() -> tuple[int | None, str | None, int | None, str | None]:
        async with scripted_upstream(upstream_closes) as upstream:
            async with running_proxy(proxy_settings(home, database_url, upstream.url)) as proxy:
                async with connect(proxy_url(proxy)) as client:
                    first = await client.recv()
                    assert "server_full" in str(first)
                    await client.wait_closed()
                    down = (client.close_code, client.close_reason)
        async with scripted_upstream() as upstream:
            async with running_proxy(proxy_settings(home, database_url, upstream.url)) as proxy:
                async with connect(proxy_url(proxy)) as client:
                    await client.close(4001, "caller hung up")
                await asyncio.wait_for(upstream.closed.wait(), 5)
        return (*down, upstream.close_code, upstream.close_reason)

    assert asyncio.run(main()) == (1013, "try again later", 4001, "caller hung up")


def test_vanished_client_closes_upstream_with_1001(home: Path, database_url: str) -> None:
    async def main() -> int | None:
        async with scripted_upstream() as upstream:
            async with running_proxy(proxy_settings(home, database_url, upstream.url)) as proxy:
                client = await connect(proxy_url(proxy))
                await client.send('{"type":"session.configure","session":{}}')
                client.transport.abort()
                await asyncio.wait_for(upstream.closed.wait(), 5)
        return upstream.close_code

    assert asyncio.run(main()) == 1001


def test_vanished_upstream_closes_client_with_1011(home: Path, database_url: str) -> None:
    async def vanish(connection: ServerConnection, upstream: ScriptedUpstream) -> None:
        await connection.send('{"type":"session.created","session_id":"s1"}')
        await asyncio.sleep(0.1)
        connection.transport.abort()

    async def main() -> int | None:
        async with scripted_upstream(vanish) as upstream:
            async with running_proxy(proxy_settings(home, database_url, upstream.url)) as proxy:
                async with connect(proxy_url(proxy)) as client:
                    with pytest.raises(ConnectionClosed):
                        while True:
                            await client.recv()
                return client.close_code

    assert asyncio.run(main()) == 1011


def test_over_capacity_answers_server_full_then_1013(home: Path, database_url: str) -> None:
    async def main() -> tuple[dict[str, object], int | None]:
        async with scripted_upstream() as upstream:
            settings = proxy_settings(home, database_url, upstream.url, max_sessions=1)
            async with running_proxy(settings) as proxy:
                async with connect(proxy_url(proxy)):
                    async with connect(proxy_url(proxy)) as second:
                        frame = json.loads(await second.recv())
                        await second.wait_closed()
                        return frame, second.close_code

    frame, code = asyncio.run(main())
    assert frame["type"] == "error"
    assert frame["error"]["code"] == "server_full"  # type: ignore[index]
    assert code == 1013


def test_drain_refuses_new_calls_and_closes_stragglers_with_1001(
    home: Path, database_url: str
) -> None:
    async def main() -> tuple[int, int | None, int | None]:
        async with scripted_upstream() as upstream:
            settings = proxy_settings(home, database_url, upstream.url)
            async with running_proxy(settings) as proxy:
                client = await connect(proxy_url(proxy))
                drain = asyncio.create_task(proxy.drain(timeout_s=0.5))
                await asyncio.sleep(0.1)
                with pytest.raises(InvalidStatus) as caught:
                    async with connect(proxy_url(proxy), open_timeout=2):
                        pass
                status = caught.value.response.status_code
                await drain
                await client.wait_closed()
                await asyncio.wait_for(upstream.closed.wait(), 5)
                with pytest.raises(OSError):  # after the drain nothing listens any more
                    async with connect(proxy_url(proxy), open_timeout=2):
                        pass
                return status, client.close_code, upstream.close_code

    status, client_code, upstream_code = asyncio.run(main())
    assert status == 503  # the README's promise: a new call during the drain is refused with 503
    assert client_code == 1001
    assert upstream_code == 1001
