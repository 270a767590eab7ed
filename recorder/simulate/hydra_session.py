"""The Hydra stand-in's session: a pure state machine fed client frames and the time.

`HydraSession.receive(message, now)` and `.advance(now)` return the `Send`/`Close` actions the
shell must perform, and `.next_deadline()` tells the shell when to call `advance` next. No
sockets, no clock, no event loop: `now` is any monotonic time in seconds, supplied by the shell.

Behaviour (reference/hydra-protocol.md; choices where it says **unconfirmed** are marked *):

- §2: `warning` (code `model_deprecated`*, top level) before `session.created` on `?model=hydra`.
  One-shot lenient `session.configure`; a configure rejected with an `error` (unknown voice,
  wrong field type) does not use up the one shot*. Later configures are ignored silently.
  Audio before `session.configured` is discarded without validation.
- §13: voices per model tag; the default `sterling` is accepted on every tag*; the deprecated
  `hydra` tag accepts the `hydra-v1.0` roster*.
- §7/§5.5: turn detection by `EnergyVad`; `audio_start_ms`/`audio_end_ms` count samples since
  the first accepted append*. A turn with less than `min_turn_ms` of voiced audio ends with an
  `incomplete` user item and no response.
- §8: each response: `response.created`, assistant item added, audio deltas of `chunk_ms`
  (chunk k due at created + k·chunk_ms/speed), `response.output_audio.done`, item done,
  `response.done` at created + duration/speed. `usage` on every `response.done`.
  With `speech="synthetic"` (the default) a response is `response_ms` of speech-like audio. With
  `speech="wordcode"` it says a text in the audio word code (`wordcode.py`), lasting as long
  as the words take but at least `response_ms`: the config's `replies` in order, then a fixed
  script (`GREETING` for the initial response, `TOOL_RESULT` after a function call output,
  `SMALL_TALK` in turn otherwise). Hydra sends no transcript on the wire (§6), nor does this.
- §10: `speech_started` during a response in flight cancels it: `speech_started`, assistant item
  done `incomplete`, `response.done` cancelled/interrupted, then the user item added (as §14.7).
  No `response.output_audio.done` for a cancelled response*. `response.cancel` likewise with
  `client_cancelled`; a no-op when nothing is in flight.
- §9: with tools configured, the first completed caller turn after the tool list was set or
  changed answers with a function call; after that every `tool_call_every`-th completed turn
  (0: never again). Tools are used in list order. The call's `response.done` comes right after
  `arguments.done`*; then the server waits `tool_response_timeout_s` for `response.create`
  (outputs are echoed with `conversation.item.added`*) or sends `error` `tool_response_timeout`.
  A caller turn ending in the meantime abandons the wait silently.
- §11: idle close 1000 ("idle timeout"*) after `idle_timeout_s` without frames either way.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import random
from dataclasses import dataclass, field

from recorder.errors import ConfigError
from recorder.simulate import hydra_frames as wire
from recorder.simulate.hydra_frames import Json, Rejection
from recorder.simulate.voice import (
    EnergyVad,
    SpeechStarted,
    SpeechStopped,
    VadEvent,
    agent_speech,
    agent_words,
)
from recorder.units import AGENT_RATE, BYTES_PER_SAMPLE

log = logging.getLogger(__name__)

DEFAULT_MODEL = "hydra-v1.1"
DEFAULT_VOICE = "sterling"
DEFAULT_INSTRUCTIONS = "You are a helpful, concise voice assistant."
MIN_AUDIO_BYTES = 320
_V10 = ("vaughn", "brooks", "cole", "hayes", "pierce", "sterling", "ellis", "lane", "quinn",
        "arden", "rowan", "blair", "emery", "sawyer")
VOICES: dict[str, tuple[str, ...]] = {
    "hydra-v1.1": ("zoe", "maya", "elena", "ivy", "grace", "alex", "aria", "leo", "sam", "kai"),
    "hydra-v1.0": _V10,
    "hydra": _V10,
}
DEPRECATED_MODELS = frozenset({"hydra"})
SPEECH_KINDS = ("synthetic", "wordcode")
GREETING = "hello thanks for calling how can i help"
TOOL_RESULT = "your order has shipped"
SMALL_TALK = ("okay let me check that for you", "i see", "is there anything else i can help with")


@dataclass(frozen=True, slots=True)
class HydraSimConfig:
    """How the stand-in behaves. Durations in ms unless the name says `_s`.

    `vad_threshold` is an RMS level in int16 units (300 ≈ -41 dBFS): the scripted caller's
    speech sits near 2000, its silence near 20. `response_delay_ms` is the "thinking" time from
    the end of a turn (or `response.create`) to `response.created`. `speech` picks the agent's
    audio (see the module docstring); `replies` are the texts of the first spoken responses
    in `wordcode` mode, in order (hidden from the repr: tests put card numbers in them).
    """

    seed: int = 0
    api_keys: frozenset[str] | None = field(default=None, repr=False)
    capacity: int = 100
    speed: float = 4.0
    chunk_ms: int = 200
    response_ms: int = 1200
    idle_timeout_s: float = 30.0
    tool_response_timeout_s: float = 10.0
    vad_threshold: float = 300.0
    vad_onset_ms: int = 40
    hangover_ms: int = 500
    min_turn_ms: int = 120
    response_delay_ms: int = 50
    tool_call_every: int = 3
    speech: str = "synthetic"
    replies: tuple[str, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if self.speech not in SPEECH_KINDS:
            raise ConfigError("speech", "HydraSimConfig", f"must be one of {', '.join(SPEECH_KINDS)}")
        positive = {"capacity": self.capacity, "speed": self.speed, "chunk_ms": self.chunk_ms,
                    "response_ms": self.response_ms, "idle_timeout_s": self.idle_timeout_s,
                    "tool_response_timeout_s": self.tool_response_timeout_s}
        for key, value in positive.items():
            if not value > 0:
                raise ConfigError(key, "HydraSimConfig", f"must be positive, got {value}")
        if self.tool_call_every < 0 or self.response_delay_ms < 0:
            raise ConfigError("tool_call_every/response_delay_ms", "HydraSimConfig", "must not be negative")


@dataclass(frozen=True, slots=True)
class Send:
    """Send this text frame to the client."""

    text: str

    def __repr__(self) -> str:
        return f"Send({len(self.text)} chars)"


@dataclass(frozen=True, slots=True)
class Close:
    code: int
    reason: str


Action = Send | Close


@dataclass(slots=True)
class _Response:
    id: str
    due: float
    kind: str = "turn"
    index: int = 0
    duration_ms: int = 0
    item_id: str = ""
    created_at: float | None = None
    chunks: list[bytes] = field(default_factory=list)
    sent: int = 0
    sent_bytes: int = 0
    tool: Json | None = None

    def __repr__(self) -> str:
        return f"_Response({self.id}, sent={self.sent}/{len(self.chunks)})"


class HydraSession:
    """One Hydra session on one socket; see the module docstring for the behaviour."""

    def __init__(self, config: HydraSimConfig, *, model: str, session_index: int, now: float,
                 session_id: str) -> None:
        self.config = config
        self.model = model
        # The seed fixes what the session says, never who it is: like Hydra's, the session id is
        # unique per session (the shell draws it), so two runs with one seed are two calls.
        self._rng = random.Random(f"hydra-sim:{config.seed}:{session_index}")
        self.session_id = session_id
        self.closed = False
        self.configured = False
        self._activity = now
        self._vad = EnergyVad(threshold=config.vad_threshold, onset_ms=config.vad_onset_ms,
                              hangover_ms=config.hangover_ms)
        self._voice = DEFAULT_VOICE
        self._instructions = DEFAULT_INSTRUCTIONS
        self._tools: list[Json] = []
        self._tool_due = False
        self._turns_since_tool = 0
        self._tool_calls = 0
        self._tool_deadline: float | None = None
        self._response: _Response | None = None
        self._spoken = 0
        self._last_item: str | None = None
        self._log: dict[str, str | None] = {}
        self._user_item: str | None = None
        self._context_tokens = 0
        self._tool_output_seen = False
        self._small_talk = 0

    # -- public surface ------------------------------------------------------------------

    def open(self, now: float) -> list[Action]:
        out: list[Json] = []
        if self.model in DEPRECATED_MODELS:
            out.append({"type": "warning", "event_id": self._id("sv_", 64), "code": "model_deprecated",
                        "message": f"model {self.model!r} is deprecated; migrate to 'hydra-v1.0'"})
        out.append({"type": "session.created", "event_id": self._id("sv_", 64),
                    "session_id": self.session_id})
        return self._emit(out, now)

    def receive(self, message: str | bytes, now: float) -> list[Action]:
        actions = self.advance(now)
        if self.closed:
            return actions
        self._activity = now
        frame = wire.parse_client(message)
        out = self._reject(frame) if isinstance(frame, Rejection) else self._dispatch(frame, now)
        return actions + self._emit(out, now)

    def advance(self, now: float) -> list[Action]:
        actions: list[Action] = []
        while not self.closed:
            due = self.next_deadline()
            if due is None or due > now:
                break
            actions += self._fire(due, now)
        return actions

    def next_deadline(self) -> float | None:
        if self.closed:
            return None
        times = [self._activity + self.config.idle_timeout_s]
        if self._response is not None:
            times.append(self._response.due)
        if self._tool_deadline is not None:
            times.append(self._tool_deadline)
        return min(times)

    # -- timers ----------------------------------------------------------------------------

    def _fire(self, due: float, now: float) -> list[Action]:
        response = self._response
        if response is not None and response.due == due:
            return self._emit(self._step_response(response, due), now)
        if self._tool_deadline is not None and self._tool_deadline == due:
            self._tool_deadline = None
            return self._emit(self._reject(Rejection(
                "tool_response_timeout", "no function_call_output and response.create in time; turn abandoned"
            )), now)
        self.closed = True
        log.info("hydra-sim session %s idle for %.1f s, closing", self.session_id, self.config.idle_timeout_s)
        return [Close(1000, "idle timeout")]

    def _step_response(self, r: _Response, due: float) -> list[Json]:
        """One scheduled step, timed from its due time so a late shell catches up the pace."""
        if r.created_at is None:
            return self._create_response(r, due)
        if r.sent < len(r.chunks):
            chunk = r.chunks[r.sent]
            r.sent += 1
            r.sent_bytes += len(chunk)
            r.due = r.created_at + self._interval() * r.sent if r.sent < len(r.chunks) else (
                r.created_at + r.duration_ms / 1000 / self.config.speed)
            return [{"type": "response.output_audio.delta", "event_id": self._id("sv_", 64),
                     "response_id": r.id, "item_id": r.item_id, "output_index": 0, "content_index": 0,
                     "delta": base64.b64encode(chunk).decode("ascii")}]
        self._response = None
        item = wire.assistant_item(r.item_id, "completed")
        return [
            {"type": "response.output_audio.done", "event_id": self._id("sv_", 64), "response_id": r.id,
             "item_id": r.item_id, "output_index": 0, "content_index": 0},
            wire.item_event("conversation.item.done", self._id("sv_", 64), item, self._previous_of(r)),
            self._done(r, "completed", None, [item]),
        ]

    def _create_response(self, r: _Response, due: float) -> list[Json]:
        r.created_at = due
        r.due = due
        out: list[Json] = [{"type": "response.created", "event_id": self._id("sv_", 64),
                            "response": {"id": r.id}}]
        if r.tool is not None:
            return out + self._tool_call(r)
        r.item_id = self._id("item_", 48)
        r.index = self._spoken
        self._spoken += 1
        pcm = self._speech(r)
        r.duration_ms = len(pcm) * 1000 // (AGENT_RATE * BYTES_PER_SAMPLE)
        step = AGENT_RATE * self.config.chunk_ms // 1000 * BYTES_PER_SAMPLE
        r.chunks = [pcm[i : i + step] for i in range(0, len(pcm), step)]
        out.append(self._added(wire.assistant_item(r.item_id, "in_progress"), r.item_id))
        return out

    def _speech(self, r: _Response) -> bytes:
        cfg = self.config
        if cfg.speech == "synthetic":
            return agent_speech(cfg.response_ms, seed=cfg.seed, index=r.index)
        return agent_words(self._reply_text(r), min_ms=cfg.response_ms, step_ms=cfg.chunk_ms)

    def _reply_text(self, r: _Response) -> str:
        """What spoken response number `r.index` says (never logged: it may hold PII)."""
        if r.index < len(self.config.replies):
            return self.config.replies[r.index]
        if r.kind == "greeting":
            return GREETING
        if r.kind == "tool_result":
            return TOOL_RESULT
        self._small_talk += 1
        return SMALL_TALK[(self._small_talk - 1) % len(SMALL_TALK)]

    def _interval(self) -> float:
        return self.config.chunk_ms / 1000 / self.config.speed

    # -- client frames ---------------------------------------------------------------------

    def _dispatch(self, frame: Json, now: float) -> list[Json]:
        kind = frame["type"]
        if kind == "input_audio_buffer.append":
            return self._append(frame, now)
        if kind == "session.configure":
            return [] if self.configured else self._configure(frame, now)
        if kind == "session.update":
            return self._update(frame)
        if kind == "conversation.item.create":
            return self._item_create(frame)
        if kind == "response.create":
            return self._response_create(frame, now)
        return self._cancel(frame)

    def _configure(self, frame: Json, now: float) -> list[Json]:
        event_id = _event_id(frame)
        session = frame.get("session", {})
        param = "session.configure.session"
        if not isinstance(session, dict):
            return self._invalid("'session' must be an object", param, event_id)
        voice = session.get("voice", DEFAULT_VOICE)
        if voice is None:
            voice = DEFAULT_VOICE
        if not isinstance(voice, str) or (voice != DEFAULT_VOICE and voice not in VOICES.get(self.model, ())):
            roster = ", ".join(VOICES.get(self.model, ()))
            return self._invalid(f"unknown voice {voice!r} for model {self.model!r}; choose one of {roster}",
                                 f"{param}.voice", event_id)
        instructions = session.get("instructions", DEFAULT_INSTRUCTIONS)
        if not isinstance(instructions, str):
            return self._invalid("'instructions' must be a string", f"{param}.instructions", event_id)
        tools = wire.check_tools(session.get("tools", []), f"{param}.tools", event_id)
        if isinstance(tools, Rejection):
            return self._reject(tools)
        greet = session.get("generate_initial_response", False)
        if not isinstance(greet, bool):
            return self._invalid("'generate_initial_response' must be a boolean",
                                 f"{param}.generate_initial_response", event_id)
        self.configured = True
        self._voice, self._instructions = voice, instructions
        self._set_tools(tools)
        out: list[Json] = [{"type": "session.configured", "event_id": self._id("sv_", 64), "session": {
            "instructions": instructions, "voice": voice, "tools": tools,
            "generate_initial_response": greet}}]
        if greet:
            out += self._schedule(now, tool=None, kind="greeting")
        return out

    def _update(self, frame: Json) -> list[Json]:
        tools = wire.check_session_update(frame)
        if isinstance(tools, Rejection):
            return self._reject(tools)
        if not self.configured:
            return self._invalid("send session.configure first", "session.update", _event_id(frame))
        if tools == self._tools:
            return []
        self._set_tools(tools)
        return [{"type": "session.updated", "event_id": self._id("sv_", 64), "session": {"tools": tools}}]

    def _set_tools(self, tools: list[Json]) -> None:
        self._tools = tools
        self._tool_due = bool(tools)
        self._turns_since_tool = 0

    def _append(self, frame: Json, now: float) -> list[Json]:
        if not self.configured:
            return []
        event_id = _event_id(frame)
        audio = frame.get("audio")
        if not isinstance(audio, str):
            return self._invalid("'audio' must be a base64 string", "audio", event_id)
        try:
            pcm = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError):
            return self._reject(Rejection("invalid_audio", "audio is not valid base64", "audio", event_id))
        if len(pcm) < MIN_AUDIO_BYTES:
            message = f"audio frame too small ({len(pcm)} bytes, need {MIN_AUDIO_BYTES})"
            return self._reject(Rejection("invalid_audio", message, "audio", event_id))
        if len(pcm) % BYTES_PER_SAMPLE:
            message = "audio is not PCM16 (odd byte count)"
            return self._reject(Rejection("invalid_audio", message, "audio", event_id))
        out: list[Json] = []
        for event in self._vad.feed(pcm):
            out += self._on_vad(event, now)
        return out

    def _on_vad(self, event: VadEvent, now: float) -> list[Json]:
        if isinstance(event, SpeechStarted):
            item_id = self._user_item = self._id("item_", 48)
            out: list[Json] = [{"type": "input_audio_buffer.speech_started", "event_id": self._id("sv_", 64),
                                "audio_start_ms": event.start_ms, "item_id": item_id}]
            out += self._cancel_response("interrupted")
            out.append(self._added(wire.user_item(item_id, "in_progress"), item_id))
            return out
        assert isinstance(event, SpeechStopped)
        item_id = self._user_item or self._id("item_", 48)
        self._user_item = None
        out = [{"type": "input_audio_buffer.speech_stopped", "event_id": self._id("sv_", 64),
                "audio_end_ms": event.end_ms, "item_id": item_id}]
        status = "completed" if event.voiced_ms >= self.config.min_turn_ms else "incomplete"
        out.append(wire.item_event("conversation.item.done", self._id("sv_", 64),
                                   wire.user_item(item_id, status), self._previous(item_id)))
        if status == "completed":
            self._context_tokens += 4 + event.voiced_ms // 20
            self._tool_deadline = None
            out += self._schedule(now, tool=self._choose_tool(), kind="turn")
        return out

    def _choose_tool(self) -> Json | None:
        if not self._tools:
            return None
        if not self._tool_due:
            self._turns_since_tool += 1
            every = self.config.tool_call_every
            if every == 0 or self._turns_since_tool < every:
                return None
        self._tool_due = False
        self._turns_since_tool = 0
        tool = self._tools[self._tool_calls % len(self._tools)]
        self._tool_calls += 1
        return tool

    def _item_create(self, frame: Json) -> list[Json]:
        item = frame.get("item")
        if not isinstance(item, dict):
            return self._invalid("'item' must be an object", "item", _event_id(frame))
        item_id = self._id("item_", 48)
        echoed: Json = {"id": item_id, **{k: v for k, v in item.items() if k != "id"}}
        echoed.setdefault("status", "completed")
        output = item.get("output")
        if item.get("type") == "function_call_output":
            self._tool_output_seen = True
        if isinstance(output, str):
            self._context_tokens += 1 + len(output) // 4
        return [self._added(echoed, item_id)]

    def _response_create(self, frame: Json, now: float) -> list[Json]:
        if self._response is not None:
            return self._invalid("a response is already in progress", None, _event_id(frame))
        self._tool_deadline = None
        kind = "tool_result" if self._tool_output_seen else "create"
        self._tool_output_seen = False
        return self._schedule(now, tool=None, kind=kind)

    def _cancel(self, frame: Json) -> list[Json]:
        wanted = frame.get("response_id")
        r = self._response
        if r is None or (isinstance(wanted, str) and wanted != r.id):
            return []
        return self._cancel_response("client_cancelled")

    def _cancel_response(self, reason: str) -> list[Json]:
        r = self._response
        if r is None:
            return []
        self._response = None
        if r.created_at is None:
            return []
        item = wire.assistant_item(r.item_id, "incomplete")
        return [wire.item_event("conversation.item.done", self._id("sv_", 64), item, self._previous_of(r)),
                self._done(r, "cancelled", reason, [item])]

    # -- tool calls ------------------------------------------------------------------------

    def _tool_call(self, r: _Response) -> list[Json]:
        assert r.tool is not None
        name = str(r.tool["name"])
        call_id = self._id("call_", 48)
        r.item_id = self._id("item_", 48)
        digits = "".join(str(self._rng.randrange(10)) for _ in range(7))
        arguments = wire.example_arguments(r.tool.get("parameters"), digits)
        third = max(1, len(arguments) // 3)
        parts = [arguments[:third], arguments[third : 2 * third], arguments[2 * third :]]
        out = [self._added(wire.function_call_item(r.item_id, "in_progress", call_id, name, ""), r.item_id)]
        for i, part in enumerate(p for p in parts if p):
            delta: Json = {"type": "response.function_call_arguments.delta", "event_id": self._id("sv_", 64),
                           "response_id": r.id, "call_id": call_id}
            if i == 0:
                delta["name"] = name
            delta["delta"] = part
            out.append(delta)
        item = wire.function_call_item(r.item_id, "completed", call_id, name, arguments)
        out += [
            {"type": "response.function_call_arguments.done", "event_id": self._id("sv_", 64),
             "response_id": r.id, "call_id": call_id, "name": name, "arguments": arguments},
            wire.item_event("conversation.item.done", self._id("sv_", 64), item, self._previous_of(r)),
        ]
        r.sent_bytes = len(arguments) * 4
        self._response = None
        out.append(self._done(r, "completed", None, [item]))
        self._tool_deadline = r.created_at + self.config.tool_response_timeout_s if r.created_at else None
        return out

    # -- helpers ---------------------------------------------------------------------------

    def _schedule(self, now: float, *, tool: Json | None, kind: str) -> list[Json]:
        """Plan a response; one still in flight is cancelled first, and its end is sent (§10)."""
        cancelled = self._cancel_response("interrupted")
        due = now + self.config.response_delay_ms / 1000
        self._response = _Response(id=self._id("resp_", 48), due=due, kind=kind, tool=tool)
        return cancelled

    def _done(self, r: _Response, status: str, reason: str | None, output: list[Json]) -> Json:
        if r.tool is not None:
            out_tokens = 8 + r.sent_bytes // 16
        else:
            out_tokens = math.ceil(r.sent_bytes / (AGENT_RATE * BYTES_PER_SAMPLE / 1000) / 40)
        in_tokens = 100 + self._context_tokens
        self._context_tokens += out_tokens
        return wire.response_done(self._id("sv_", 64), r.id, status, reason, output, (in_tokens, out_tokens))

    def _added(self, item: Json, item_id: str) -> Json:
        return wire.item_event("conversation.item.added", self._id("sv_", 64), item, self._previous(item_id))

    def _previous(self, item_id: str) -> str | None:
        """The log predecessor of `item_id`, appending it to the log on first sight."""
        if item_id not in self._log:
            self._log[item_id] = self._last_item
            self._last_item = item_id
        return self._log[item_id]

    def _previous_of(self, r: _Response) -> str | None:
        return self._previous(r.item_id)

    def _invalid(self, message: str, param: str | None, event_id: str | None) -> list[Json]:
        return self._reject(Rejection("invalid_request_error", message, param, event_id))

    def _reject(self, rejection: Rejection) -> list[Json]:
        return [wire.error(self._id("sv_", 64), rejection)]

    def _emit(self, frames: list[Json], now: float) -> list[Action]:
        if frames:
            self._activity = now
        return [Send(wire.dumps(f)) for f in frames]

    def _id(self, prefix: str, bits: int) -> str:
        return f"{prefix}{self._rng.getrandbits(bits):0{bits // 4}x}"


def _event_id(frame: Json) -> str | None:
    value = frame.get("event_id")
    return value if isinstance(value, str) else None
