"""`recorder simulate hydra`: a real WebSocket server speaking Hydra (reference/hydra-protocol.md).

A thin asyncio shell around `HydraSession`: one handler task per connection (owned by the
websockets server) that waits for the next client frame or the session's next deadline,
whichever comes first, and performs the actions the session returns. Handshake checks (§1)
happen in `process_request`: a missing or rejected key gets HTTP 401 with the vendor's body
before any upgrade. An unknown `model` gets HTTP 400 (unconfirmed for Hydra; the STT
endpoints behave so). Over `capacity` concurrent sessions the upgrade succeeds, then
`error` `server_full` and close 1013 (§11).

Any path is accepted; compression is off (Hydra's is undocumented, and deflating base64 audio
only costs CPU in benchmarks); `max_size=None` as the vendor's clients use.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from recorder.simulate import hydra_frames as wire
from recorder.simulate.hydra_session import (
    DEFAULT_MODEL,
    VOICES,
    Action,
    Close,
    HydraSession,
    HydraSimConfig,
    Send,
)

__all__ = ["HydraSimConfig", "HydraSimulator", "run_hydra_sim", "INVALID_CREDENTIALS"]

log = logging.getLogger(__name__)

INVALID_CREDENTIALS = "Websocket initialized with invalid credentials."
PATH = "/waves/v1/s2s"


def _model_of(path: str) -> str:
    values = parse_qs(urlsplit(path).query).get("model")
    return values[0] if values and values[0] else DEFAULT_MODEL


def _api_key_of(path: str, headers: Headers) -> str | None:
    values = parse_qs(urlsplit(path).query).get("api_key")
    if values and values[0]:
        return values[0]
    auth = headers.get("Authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


class HydraSimulator:
    """The running stand-in: where it listens and how many sessions it is serving."""

    def __init__(self, config: HydraSimConfig) -> None:
        self.config = config
        self.port = 0
        self.host = "127.0.0.1"
        self.active_sessions = 0
        self.sessions_started = 0
        self.sessions_refused = 0
        self._index = itertools.count()
        self._server: Server | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}{PATH}"

    def __repr__(self) -> str:
        return f"HydraSimulator({self.url}, active={self.active_sessions})"

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        key = _api_key_of(request.path, request.headers)
        keys = self.config.api_keys
        if key is None or (keys is not None and key not in keys):
            return connection.respond(HTTPStatus.UNAUTHORIZED, INVALID_CREDENTIALS)
        model = _model_of(request.path)
        if model not in VOICES:
            return connection.respond(HTTPStatus.BAD_REQUEST, f"Unknown model {model!r}.")
        return None

    async def handle(self, ws: ServerConnection) -> None:
        if self.active_sessions >= self.config.capacity:
            self.sessions_refused += 1
            await self._refuse(ws)
            return
        self.active_sessions += 1
        self.sessions_started += 1
        loop = asyncio.get_running_loop()
        session = HydraSession(
            self.config, model=_model_of(ws.request.path if ws.request else ""),
            session_index=next(self._index), now=loop.time(), session_id=str(uuid.uuid4()),
        )
        log.info("hydra-sim session %s opened (model %s)", session.session_id, session.model)
        try:
            await self._run(ws, session, loop)
        except ConnectionClosed:
            pass
        finally:
            self.active_sessions -= 1
            log.info("hydra-sim session %s closed (code %s)", session.session_id, ws.close_code)

    async def _run(
        self, ws: ServerConnection, session: HydraSession, loop: asyncio.AbstractEventLoop
    ) -> None:
        await self._perform(ws, session.open(loop.time()))
        while not session.closed:
            try:
                async with asyncio.timeout_at(session.next_deadline()):
                    message = await ws.recv()
            except TimeoutError:
                actions = session.advance(loop.time())
            else:
                actions = session.receive(message, loop.time())
            await self._perform(ws, actions)

    @staticmethod
    async def _perform(ws: ServerConnection, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                await ws.send(action.text)
            elif isinstance(action, Close):
                await ws.close(action.code, action.reason)

    async def _refuse(self, ws: ServerConnection) -> None:
        message = "too many concurrent sessions; retry later with back-off"
        rejection = wire.Rejection("server_full", message, error_type="server_error")
        frame = wire.error(f"sv_{self.sessions_refused:016x}", rejection)
        try:
            await ws.send(wire.dumps(frame))
            await ws.close(1013, "server full")
        except ConnectionClosed:
            pass


@asynccontextmanager
async def run_hydra_sim(
    config: HydraSimConfig = HydraSimConfig(), host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[HydraSimulator]:
    """Serve the stand-in on `host:port` (0: a free port) for the duration of the block."""
    sim = HydraSimulator(config)
    async with serve(
        sim.handle, host, port, process_request=sim.process_request,
        max_size=None, compression=None,
    ) as server:
        sockname = next(iter(server.sockets)).getsockname()
        sim.host, sim.port = host, int(sockname[1])
        sim._server = server
        log.info("hydra-sim listening on %s", sim.url)
        yield sim
