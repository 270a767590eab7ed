"""A scripted Hydra caller: the client side of the demo, the benchmark and the proxy tests.

`run_call(url, script)` connects, configures, then plays the script's steps while streaming
20 ms `input_audio_buffer.append` frames of 16 kHz PCM16 (reference/hydra-protocol.md §3):
speech-like bursts for `Talk`, text in the audio word code (`wordcode.py`) for `Say`, line
noise for `Pause` and while it waits (`Await`), as a real client keeps streaming through silence. It answers tool calls by itself: after the
`response.done` of a response that made calls, one `function_call_output` per call, then one
`response.create` (§9). Everything sent and received is kept verbatim and in order.

`realtime=True` paces every frame at 20 ms. `realtime=False` sends `Talk`/`Pause` audio as fast
as possible (turn detection counts samples, so turns still end), but `Await` still streams
paced silence: waiting for the agent takes the agent's time.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from recorder.errors import UpstreamError, UpstreamRefused, UpstreamUnreachable
from recorder.scrub import scrub_text
from recorder.simulate.voice import caller_silence, caller_speech, caller_words
from recorder.units import BYTES_PER_SAMPLE, CALLER_RATE

log = logging.getLogger(__name__)

DEFAULT_API_KEY = "sk_sim_local_caller"


@dataclass(frozen=True, slots=True)
class Talk:
    """Speak for `ms` (speech-like audio)."""

    ms: int


@dataclass(frozen=True, slots=True)
class Say:
    """Speak `text` in the word code, then `silence_ms` of line noise so the turn ends (the
    stand-in's VAD hangover is 500 ms by default). The repr hides the text: it may be PII."""

    text: str = field(repr=False)
    silence_ms: int = 700

    def __repr__(self) -> str:
        return f"Say({len(self.text)} chars, silence_ms={self.silence_ms})"


@dataclass(frozen=True, slots=True)
class Pause:
    """Stay silent for `ms` (line noise; still streamed)."""

    ms: int


@dataclass(frozen=True, slots=True)
class Await:
    """Stream silence until a frame of `frame_type` arrives after the previous `Await`'s match."""

    frame_type: str
    timeout_s: float = 10.0


@dataclass(frozen=True, slots=True)
class Inject:
    """Send these messages verbatim (text or binary, valid or not): for transparency tests."""

    messages: tuple[str | bytes, ...]

    def __repr__(self) -> str:
        kinds = ", ".join(f"{'bytes' if isinstance(m, bytes) else 'str'}[{len(m)}]" for m in self.messages)
        return f"Inject({kinds})"


@dataclass(frozen=True, slots=True)
class UpdateTools:
    """Send `session.update` with this complete tool list."""

    tools: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True, slots=True)
class CancelResponse:
    """Send `response.cancel` (optionally for one response id)."""

    response_id: str | None = None


Step = Talk | Say | Pause | Await | Inject | UpdateTools | CancelResponse
# Told (seconds since the socket opened) of each step as it starts and each JSON object frame
# as it arrives: how the demo shows a call's progress.
Observer = Callable[[float, Step | dict[str, Any]], None]

LOOKUP_ORDER: Mapping[str, Any] = {
    "type": "function",
    "name": "lookup_order",
    "description": "Fetch status and delivery date for an order number.",
    "parameters": {
        "type": "object",
        "properties": {"order_number": {"type": "string"}},
        "required": ["order_number"],
    },
}

DEFAULT_STEPS: tuple[Step, ...] = (
    Await("response.output_audio.done"),  # the greeting
    Pause(300),
    Talk(1000), Pause(600),               # turn 1: the stand-in calls lookup_order; we answer
    Await("response.output_audio.done"),  # the spoken tool result
    Pause(200),
    Talk(800),                            # turn 2 ...
    Await("response.output_audio.delta"),  # ... its answer starts ...
    Talk(700), Pause(600),                # ... and we talk over it: barge-in, turn 3
    Await("response.output_audio.done"),  # turn 3's answer
    Pause(200),
)


@dataclass(frozen=True, slots=True)
class CallScript:
    """What the caller does. The defaults: configure with one tool and a greeting, hear it,
    two turns, one barge-in, one tool call answered, then close 1000 (≈ 6 s in real time
    against the stand-in's defaults)."""

    steps: tuple[Step, ...] = DEFAULT_STEPS
    configure: bool = True
    instructions: str | None = "You are Ava, a concise support agent. Use lookup_order for order numbers."
    voice: str | None = None
    tools: tuple[Mapping[str, Any], ...] = (LOOKUP_ORDER,)
    generate_initial_response: bool = True
    wait_configured: bool = True
    answer_tools: bool = True
    tool_output: str = field(default='{"status": "shipped", "eta": "2026-09-14"}', repr=False)
    tool_delay_ms: int = 100
    frame_ms: int = 20
    seed: int = 0
    event_ids: bool = True
    close_code: int = 1000
    close_reason: str = "caller hung up"
    open_timeout_s: float = 10.0


@dataclass
class CallTranscript:
    """Everything that crossed the wire as the client saw it, verbatim and in order.

    `sent_at`/`received_at` are seconds since the socket opened, parallel to `sent`/`received`.
    `close_code`/`close_reason` are those of the close frame received from the server."""

    sent: list[str | bytes] = field(default_factory=list)
    received: list[str | bytes] = field(default_factory=list)
    sent_at: list[float] = field(default_factory=list)
    received_at: list[float] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""
    closed_by_server: bool = False
    session_id: str | None = None
    duration_s: float = 0.0

    def __repr__(self) -> str:
        return (f"CallTranscript(sent={len(self.sent)}, received={len(self.received)}, "
                f"close={self.close_code}, session_id={self.session_id})")

    def frames(self, direction: str = "received") -> list[dict[str, Any]]:
        """The JSON-object frames of one direction, parsed; anything else skipped."""
        return list(_objects(self.received if direction == "received" else self.sent))

    def types(self, direction: str = "received") -> list[str]:
        return [str(f.get("type")) for f in self.frames(direction)]

    def of_type(self, kind: str, direction: str = "received") -> list[dict[str, Any]]:
        return [f for f in self.frames(direction) if f.get("type") == kind]

    def agent_audio_bytes(self) -> int:
        return sum(len(base64.b64decode(f["delta"])) for f in self.of_type("response.output_audio.delta"))

    def agent_audio(self) -> bytes:
        """Every audio delta received, in order, as one 48 kHz PCM16 stream (no gaps between
        responses: a response's own leading and trailing silence is all there is)."""
        return b"".join(base64.b64decode(f["delta"]) for f in self.of_type("response.output_audio.delta"))

    def caller_audio(self) -> bytes:
        """Every audio frame sent, in order, as one 16 kHz PCM16 stream."""
        appended = self.of_type("input_audio_buffer.append", "sent")
        return b"".join(base64.b64decode(f["audio"]) for f in appended if isinstance(f.get("audio"), str))


def _objects(messages: list[str | bytes]) -> Iterator[dict[str, Any]]:
    for message in messages:
        try:
            frame = json.loads(message)
        except ValueError:
            continue
        if isinstance(frame, dict):
            yield frame


class ScriptTimeout(UpstreamError):
    """The server did not send what the script waited for in time; `transcript` has the call
    so far (the script step that timed out is named in the message)."""

    def __init__(self, step: str, transcript: CallTranscript) -> None:
        self.step = step
        self.transcript = transcript
        super().__init__(f"scripted caller gave up waiting at {step}; check the server or the script")


class _ServerClosed(Exception):
    """The server closed the socket: the script stops, the transcript is returned."""


def _with_key(url: str, api_key: str | None) -> str:
    """`url` with `api_key` in its query, unless it has one already."""
    if not api_key or "api_key" in parse_qs(urlsplit(url).query):
        return url
    sep = "&" if urlsplit(url).query else ("" if url.endswith("?") else "?")
    return f"{url}{sep}api_key={quote(api_key, safe='')}"


async def run_call(
    url: str,
    script: CallScript = CallScript(),
    *,
    api_key: str | None = DEFAULT_API_KEY,
    headers: Mapping[str, str] | None = None,
    realtime: bool = True,
    observe: Observer | None = None,
) -> CallTranscript:
    """Place one scripted call to a Hydra endpoint (the stand-in, the proxy, or Hydra).

    Raises `UpstreamRefused(status)` when the handshake is refused (e.g. 401),
    `UpstreamUnreachable` when nothing answers, `ScriptTimeout` when an `Await` times out.
    A server close (idle, `server_full`) ends the script early and is not an error."""
    target = _with_key(url, api_key)
    try:
        ws = await connect(target, additional_headers=dict(headers or {}), max_size=None,
                           compression=None, open_timeout=script.open_timeout_s)
    except InvalidStatus as exc:
        raise UpstreamRefused(exc.response.status_code, bytes(exc.response.body or b"")) from exc
    except (OSError, InvalidHandshake, TimeoutError) as exc:
        raise UpstreamUnreachable(scrub_text(target), scrub_text(str(exc))) from exc
    caller = _Caller(ws, script, realtime, observe)
    failure: ScriptTimeout | None = None
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(caller.receive_loop())
        try:
            await caller.play()
        except ScriptTimeout as exc:
            failure = exc
        finally:
            await ws.close(script.close_code, script.close_reason)
    t = caller.transcript
    t.close_code, t.close_reason = ws.close_code, ws.close_reason or ""
    t.closed_by_server = bool(ws.protocol.close_rcvd_then_sent)
    t.duration_s = caller.elapsed()
    log.info("scripted call %s ended: %d sent, %d received, close %s", t.session_id,
             len(t.sent), len(t.received), t.close_code)
    if failure is not None:
        raise failure
    return t


class _Caller:
    """One call's state; `play` is the only sender, `receive_loop` the only receiver."""

    def __init__(self, ws: ClientConnection, script: CallScript, realtime: bool,
                 observe: Observer | None = None) -> None:
        self.ws = ws
        self.script = script
        self.realtime = realtime
        self._observe = observe
        self.transcript = CallTranscript()
        self._loop = asyncio.get_running_loop()
        self._t0 = self._loop.time()
        self._types: list[str | None] = []
        self._cursor = 0
        self._news = asyncio.Event()
        self._closed = asyncio.Event()
        self._calls: dict[str, list[str]] = {}
        self._tool_jobs: list[tuple[float, list[str]]] = []
        self._next_event = 0
        self._utterance = 0
        self._frame_bytes = CALLER_RATE * script.frame_ms // 1000 * BYTES_PER_SAMPLE
        self._silence = caller_silence(1000, seed=script.seed)
        self._silence_pos = 0
        self._next_frame_at = self._t0

    def elapsed(self) -> float:
        return self._loop.time() - self._t0

    # -- receiving -------------------------------------------------------------------------

    async def receive_loop(self) -> None:
        try:
            async for message in self.ws:
                self._on_message(message)
        except ConnectionClosed:
            pass
        finally:
            self._closed.set()
            self._news.set()

    def _on_message(self, message: str | bytes) -> None:
        t = self.transcript
        t.received.append(message)
        t.received_at.append(self.elapsed())
        frame = next(_objects([message]), None)
        kind = frame.get("type") if frame is not None else None
        self._types.append(kind if isinstance(kind, str) else None)
        if frame is not None:
            self._track(frame)
            if self._observe is not None:
                self._observe(t.received_at[-1], frame)
        self._news.set()

    def _track(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "session.created" and isinstance(frame.get("session_id"), str):
            self.transcript.session_id = frame["session_id"]
        elif kind == "response.function_call_arguments.done":
            self._calls.setdefault(str(frame.get("response_id")), []).append(str(frame.get("call_id")))
        elif kind == "response.done":
            response = frame.get("response") or {}
            calls = self._calls.pop(str(response.get("id")), None)
            if calls and self.script.answer_tools:
                self._tool_jobs.append((self._loop.time() + self.script.tool_delay_ms / 1000, calls))

    # -- sending ---------------------------------------------------------------------------

    async def play(self) -> None:
        try:
            await self._quiet_wait("session.created", self.script.open_timeout_s)
            if self.script.configure:
                await self._send_json({"type": "session.configure", "session": self._session_config()})
                if self.script.wait_configured:
                    await self._quiet_wait("session.configured", self.script.open_timeout_s)
            self._next_frame_at = self._loop.time()
            for step in self.script.steps:
                if self._observe is not None:
                    self._observe(self.elapsed(), step)
                await self._step(step)
        except (_ServerClosed, ConnectionClosed):
            return

    def _session_config(self) -> dict[str, Any]:
        s = self.script
        config: dict[str, Any] = {}
        if s.instructions is not None:
            config["instructions"] = s.instructions
        if s.voice is not None:
            config["voice"] = s.voice
        if s.tools:
            config["tools"] = [dict(tool) for tool in s.tools]
        if s.generate_initial_response:
            config["generate_initial_response"] = True
        return config

    async def _step(self, step: Step) -> None:
        if isinstance(step, Talk):
            self._utterance += 1
            await self._stream(caller_speech(step.ms, seed=self.script.seed, index=self._utterance))
        elif isinstance(step, Say):
            self._utterance += 1
            words = caller_words(step.text, seed=self.script.seed, index=self._utterance)
            tail = -(len(words) + CALLER_RATE * step.silence_ms // 1000 * BYTES_PER_SAMPLE) % self._frame_bytes
            silence_ms = step.silence_ms + tail * 1000 // (CALLER_RATE * BYTES_PER_SAMPLE)
            await self._stream(words + self._silence_for(silence_ms))  # whole frames only
        elif isinstance(step, Pause):
            await self._stream(self._silence_for(step.ms))
        elif isinstance(step, Await):
            await self._await(step)
        elif isinstance(step, Inject):
            for message in step.messages:
                await self._send(message)
        elif isinstance(step, UpdateTools):
            tools = [dict(tool) for tool in step.tools]
            await self._send_json({"type": "session.update", "session": {"tools": tools}})
        else:
            frame: dict[str, Any] = {"type": "response.cancel"}
            if step.response_id is not None:
                frame["response_id"] = step.response_id
            await self._send_json(frame)

    async def _stream(self, pcm: bytes) -> None:
        for off in range(0, len(pcm), self._frame_bytes):
            await self._frame(pcm[off : off + self._frame_bytes], paced=self.realtime)

    async def _await(self, step: Await) -> None:
        """Stream paced silence until the frame arrives; react to it at once, not at the next
        20 ms tick, so a `Talk` right after (a barge-in) starts without delay."""
        deadline = self._loop.time() + step.timeout_s
        while not self._match(step.frame_type):
            if self._closed.is_set():
                raise _ServerClosed
            now = self._loop.time()
            if now > deadline:
                raise ScriptTimeout(repr(step), self.transcript)
            if self._next_frame_at < now - 0.2:
                self._next_frame_at = now
            if self._next_frame_at > now:
                await self._news_until(self._next_frame_at)
                continue
            self._next_frame_at += self.script.frame_ms / 1000
            await self._answer_tools()
            await self._send_audio(self._silence_for(self.script.frame_ms))
        self._next_frame_at = min(self._next_frame_at, self._loop.time())

    async def _news_until(self, when: float) -> None:
        self._news.clear()
        try:
            async with asyncio.timeout_at(when):
                await self._news.wait()
        except TimeoutError:
            pass

    async def _quiet_wait(self, frame_type: str, timeout_s: float) -> None:
        """Wait without streaming audio (before the session is configured)."""
        deadline = self._loop.time() + timeout_s
        while not self._match(frame_type):
            if self._closed.is_set():
                raise _ServerClosed
            if self._loop.time() >= deadline:
                raise ScriptTimeout(f"waiting for {frame_type}", self.transcript)
            await self._news_until(deadline)

    def _match(self, frame_type: str) -> bool:
        for i in range(self._cursor, len(self._types)):
            if self._types[i] == frame_type:
                self._cursor = i + 1
                return True
        return False

    async def _frame(self, pcm: bytes, *, paced: bool) -> None:
        if paced:
            now = self._loop.time()
            if self._next_frame_at < now - 0.2:
                self._next_frame_at = now
            await asyncio.sleep(max(0.0, self._next_frame_at - now))
            self._next_frame_at += self.script.frame_ms / 1000
        else:
            await asyncio.sleep(0)
            self._next_frame_at = self._loop.time()
        await self._answer_tools()
        await self._send_audio(pcm)

    async def _send_audio(self, pcm: bytes) -> None:
        await self._send_json({"type": "input_audio_buffer.append",
                               "audio": base64.b64encode(pcm).decode("ascii")})

    async def _answer_tools(self) -> None:
        now = self._loop.time()
        due = [job for job in self._tool_jobs if job[0] <= now]
        self._tool_jobs = [job for job in self._tool_jobs if job[0] > now]
        for _, call_ids in due:
            for call_id in call_ids:
                await self._send_json({"type": "conversation.item.create", "item": {
                    "type": "function_call_output", "call_id": call_id, "output": self.script.tool_output}})
            await self._send_json({"type": "response.create"})

    def _silence_for(self, ms: int) -> bytes:
        n = CALLER_RATE * ms // 1000 * BYTES_PER_SAMPLE
        out = bytearray()
        while len(out) < n:
            take = min(n - len(out), len(self._silence) - self._silence_pos)
            out += self._silence[self._silence_pos : self._silence_pos + take]
            self._silence_pos = (self._silence_pos + take) % len(self._silence)
        return bytes(out)

    async def _send_json(self, frame: dict[str, Any]) -> None:
        if self.script.event_ids:
            self._next_event += 1
            frame = {"type": frame["type"], "event_id": f"evt_{self._next_event:06d}",
                     **{k: v for k, v in frame.items() if k != "type"}}
        await self._send(json.dumps(frame, separators=(",", ":")))

    async def _send(self, message: str | bytes) -> None:
        at = self.elapsed()
        await self.ws.send(message)
        self.transcript.sent.append(message)
        self.transcript.sent_at.append(at)
