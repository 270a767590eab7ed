"""Real servers on loopback for the proxy tests: a scriptable upstream and the proxy itself."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from recorder.config import Settings
from recorder.proxy.server import ProxyServer
from recorder.proxy.startup import prepare_recorder


@dataclass
class SeenRequest:
    path: str
    headers: list[tuple[str, str]]


@dataclass
class ScriptedUpstream:
    """A WebSocket server whose behaviour each test writes; it remembers what it saw."""

    url: str = ""
    requests: list[SeenRequest] = field(default_factory=list)
    received: list[str | bytes] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str | None = None
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    answered_at: float | None = None  # time.monotonic() when it answered the last handshake


Behaviour = Callable[[ServerConnection, ScriptedUpstream], Awaitable[None]]


async def receive_all(connection: ServerConnection, upstream: ScriptedUpstream) -> None:
    async for message in connection:
        upstream.received.append(message)


@asynccontextmanager
async def scripted_upstream(
    behaviour: Behaviour = receive_all,
    refuse: tuple[int, bytes] | None = None,
    ssl_context: object = None,
    answer_after_s: float = 0.0,
) -> AsyncIterator[ScriptedUpstream]:
    state = ScriptedUpstream()

    async def process_request(connection: ServerConnection, request: Request) -> Response | None:
        state.requests.append(SeenRequest(request.path, list(request.headers.raw_items())))
        await asyncio.sleep(answer_after_s)  # a far-away Hydra
        state.answered_at = time.monotonic()
        if refuse is not None:
            return connection.respond(refuse[0], refuse[1].decode())
        return None

    async def handler(connection: ServerConnection) -> None:
        try:
            await behaviour(connection, state)
        finally:
            await connection.wait_closed()
            state.close_code = connection.close_code
            state.close_reason = connection.close_reason
            state.closed.set()

    async with serve(
        handler, "127.0.0.1", 0, process_request=process_request, max_size=None,
        ping_interval=None, ssl=ssl_context,  # type: ignore[arg-type]
    ) as server:
        port = server.sockets[0].getsockname()[1]
        scheme = "wss" if ssl_context is not None else "ws"
        state.url = f"{scheme}://localhost:{port}/waves/v1/s2s"
        yield state


def proxy_settings(home: Path, database_url: str, upstream_url: str, **extra: object) -> Settings:
    return replace(
        Settings(),
        home=home,
        database_url=database_url,
        upstream_url=upstream_url,
        listen="127.0.0.1:0",
        **extra,  # type: ignore[arg-type]
    )


@asynccontextmanager
async def running_proxy(settings: Settings) -> AsyncIterator[ProxyServer]:
    recorder = await asyncio.to_thread(prepare_recorder, settings)
    server = ProxyServer(settings, recorder)
    await server.start()
    try:
        yield server
    finally:
        await server.drain(timeout_s=2)


def proxy_url(server: ProxyServer, path_and_query: str = "/waves/v1/s2s?model=hydra-v1.1") -> str:
    scheme = "wss" if server.settings.certfile else "ws"
    return f"{scheme}://localhost:{server.port}{path_and_query}"
