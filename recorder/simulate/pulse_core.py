"""The Pulse STT stand-in's decisions, without sockets: who is refused, with what, and why.

`PulseService.begin(method, target, headers)` runs the checks that need no body (route, §2
bearer auth, §9 per-minute limit, §3 query parameters, §4 content type, §5 declared size) and
returns either a `Reply` to send at once or a `Ticket` telling the shell to read the body.
`PulseService.finish(ticket, body)` draws the seeded fault, reads the audio (§5: WAV/FLAC…,
mono only), decodes the word code and returns an `Outcome`: a `Reply` or a `Reset`, after
`delay_s`. The shell (`recorder.simulate.pulse`) only moves bytes and sleeps.

Choices where reference/pulse-stt.md says **unconfirmed** (marked * below):
- order: route, auth (401), rate window (429), params (400), content type (400), size (413),
  then after the body: empty (400), fault draw, audio (400), words (200). Every request past
  auth that the window admits counts against it, whatever its answer*.
- 401 bodies are the legacy gateway's (§8.2)*: no token → `{"message": "Unauthorized: No
  tokens provided"}`, wrong token → `{"error": "unauthorized"}`. Other errors use
  `SttErrorResponse` (§8.1) `{"error", "request_id"}`.
- `Retry-After` (whole seconds*) on every 429 when `retry_after` is on: the time until the
  window frees a slot, or `fault_retry_after_s` for a seeded 429.
- `language` is required (400 when missing)* and must be a documented code; `webhook_url` and
  URL bodies are refused with 400 (the stand-in is synchronous and offline).
- word times in seconds with millisecond resolution*; words carry no punctuation (the word code
  has none); `utterances` on `pulse` split where words are more than `UTTERANCE_GAP_MS` apart*.
- Audio is resampled to 16 kHz before decoding; times are in seconds, so unaffected.
"""

from __future__ import annotations

import io
import math
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qs, urlsplit

import numpy as np
import soundfile as sf
import soxr

from recorder.simulate import wordcode

__all__ = [
    "DECODE_RATE", "LANGUAGES", "MODELS", "PATHS", "RESET_STATUS", "Decoder", "Fault", "Outcome",
    "PulseService", "PulseSimConfig", "Reply", "Reset", "SlidingWindow", "SttParams", "Ticket",
    "draw_fault", "parse_params", "request_id",
]

PATHS = frozenset({"/waves/v1/stt/", "/waves/v1/stt"})
MODELS = ("pulse", "pulse-pro")
LANGUAGES = frozenset({
    "en", "hi", "de", "es", "ru", "it", "fr", "nl", "pt", "uk", "pl", "cs", "sk", "lv", "et",
    "ro", "fi", "sv", "bg", "hu", "da", "lt", "mt", "zh", "ja", "ko",
    "multi-eu", "multi-asian", "multi-indic",
})
BOOLEAN_PARAMS = ("word_timestamps", "diarize", "redact_pii", "redact_pci",
                  "emotion_detection", "gender_detection")
DECODE_RATE = 16_000
RESET_STATUS = 0
WINDOW_S = 60.0
UTTERANCE_GAP_MS = 800

MSG_NO_MODEL = "Missing required query param: model. Supported values: pulse | pulse-pro."
MSG_BAD_MODEL = "Invalid query param: model={!r}. Supported values: pulse | pulse-pro."
MSG_NO_LANGUAGE = "Missing required query param: language."
MSG_BAD_LANGUAGE = "Invalid query param: language={!r}. See the supported language codes."
MSG_BAD_BOOLEAN = "Invalid query param: {}={!r}. Expected true or false."
MSG_WEBHOOK = "webhook_url is not supported by this stand-in (synchronous only)."
MSG_URL_BODY = "Audio by URL is not supported by this stand-in; send the raw audio bytes."
MSG_CONTENT_TYPE = "Invalid file format. Supported formats: audio/*, application/octet-stream."
MSG_EMPTY = "Empty request body: send the audio file as the raw body."
MSG_UNREADABLE = "Could not read the audio: unsupported or corrupt file (send WAV or FLAC)."
MSG_STEREO = "Only single channel (mono) audio is supported; got {} channels."
MSG_TOO_LARGE = "File size exceeds maximum limit of {}MB."
MSG_RATE = "Rate limit exceeded. Please retry after a short backoff."
MSG_503 = "Service temporarily unavailable. Please retry."
MSG_500 = "Internal server error"


@dataclass(frozen=True, slots=True)
class PulseSimConfig:
    """How the stand-in behaves.

    `api_keys` None accepts any non-empty bearer. `rpm_limit` 0 turns the per-minute limit off.
    Fault rates are probabilities per request that reaches the fault draw, taken in the order
    reset, 429, 503, 500 from one seeded uniform number, so their sum must be at most 1.
    `slow_s` delays every answer given after the body is read.
    """

    api_keys: frozenset[str] | None = field(default=None, repr=False)
    rpm_limit: int = 25
    max_bytes: int = 250 * 2**20
    seed: int = 0
    rate_429: float = 0.0
    rate_503: float = 0.0
    rate_500: float = 0.0
    slow_s: float = 0.0
    rate_reset: float = 0.0
    retry_after: bool = True
    fault_retry_after_s: int = 1

    def __post_init__(self) -> None:
        rates = (self.rate_reset, self.rate_429, self.rate_503, self.rate_500)
        if any(not 0.0 <= r <= 1.0 for r in rates) or sum(rates) > 1.0 + 1e-9:
            raise ValueError("fault rates must each be in [0, 1] and sum to at most 1")
        if self.rpm_limit < 0 or self.max_bytes <= 0 or self.slow_s < 0:
            raise ValueError("rpm_limit >= 0, max_bytes > 0 and slow_s >= 0 are required")


class DecodedWordLike(Protocol):
    """What `recorder.simulate.wordcode.decode` returns per word."""

    @property
    def text(self) -> str: ...
    @property
    def start_ms(self) -> float: ...
    @property
    def end_ms(self) -> float: ...
    @property
    def confidence(self) -> float: ...


Decoder = Callable[[np.ndarray, int], Sequence[DecodedWordLike]]


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer: status, JSON body and extra headers (besides `x-request-id`)."""

    status: int
    body: Mapping[str, Any]
    request_id: str
    headers: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:
        return f"Reply({self.status}, keys={sorted(self.body)}, request_id={self.request_id})"


@dataclass(frozen=True, slots=True)
class Reset:
    """Close the connection without answering (a reset mid-request)."""

    request_id: str


@dataclass(frozen=True, slots=True)
class Outcome:
    action: Reply | Reset
    delay_s: float = 0.0


@dataclass(frozen=True, slots=True)
class SttParams:
    model: str
    language: str
    word_timestamps: bool


@dataclass(frozen=True, slots=True)
class Ticket:
    """A request admitted up to its body: read `content_length` bytes (None: chunked)."""

    index: int
    request_id: str
    params: SttParams
    content_length: int | None
    admitted_at: float


class Fault(Enum):
    NONE = "none"
    RESET = "reset"
    TOO_MANY = "429"
    UNAVAILABLE = "503"
    INTERNAL = "500"


_Action = TypeVar("_Action", Reply, Reset)


def draw_fault(config: PulseSimConfig, index: int) -> Fault:
    """The fault for the `index`-th drawn request: a function of the seed and the index only."""
    u = random.Random(f"pulse-fault:{config.seed}:{index}").random()
    for fault, rate in ((Fault.RESET, config.rate_reset), (Fault.TOO_MANY, config.rate_429),
                        (Fault.UNAVAILABLE, config.rate_503), (Fault.INTERNAL, config.rate_500)):
        if u < rate:
            return fault
        u -= rate
    return Fault.NONE


def request_id(seed: int, index: int) -> str:
    """A UUID4-shaped id that the same seed gives the same `index`-th request every run."""
    bits = random.Random(f"pulse-rid:{seed}:{index}").getrandbits(128)
    return str(uuid.UUID(int=bits, version=4))


class SlidingWindow:
    """At most `limit` admissions in any `window_s`; not thread-safe (the service locks)."""

    def __init__(self, limit: int, window_s: float = WINDOW_S) -> None:
        self.limit = limit
        self.window_s = window_s
        self._times: deque[float] = deque()

    def admit(self, now: float) -> float | None:
        """None if admitted (and counted); else seconds until a slot frees."""
        if self.limit <= 0:
            return None
        while self._times and self._times[0] <= now - self.window_s:
            self._times.popleft()
        if len(self._times) < self.limit:
            self._times.append(now)
            return None
        return self.window_s - (now - self._times[0])


def _bool(values: dict[str, list[str]], name: str) -> bool | str:
    raw = values.get(name, ["false"])[0]
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    return MSG_BAD_BOOLEAN.format(name, raw)


def parse_params(query: str) -> SttParams | str:
    """§3 query parameters, or the 400 message explaining the first problem."""
    values = parse_qs(query, keep_blank_values=True)
    model = values.get("model", [""])[0]
    if not model:
        return MSG_NO_MODEL
    if model not in MODELS:
        return MSG_BAD_MODEL.format(model)
    language = values.get("language", [""])[0]
    if not language:
        return MSG_NO_LANGUAGE
    if language not in LANGUAGES:
        return MSG_BAD_LANGUAGE.format(language)
    flags = {name: _bool(values, name) for name in BOOLEAN_PARAMS}
    for flag in flags.values():
        if isinstance(flag, str):
            return flag
    if values.get("webhook_url", [""])[0]:
        return MSG_WEBHOOK
    return SttParams(model, language, bool(flags["word_timestamps"]))


def _content_type_problem(content_type: str) -> str | None:
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime in ("", "application/octet-stream") or mime.startswith("audio/"):
        return None
    return MSG_URL_BODY if mime == "application/json" else MSG_CONTENT_TYPE


def _bearer(header: str | None) -> str | None:
    scheme, _, token = (header or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _read_mono(body: bytes) -> tuple[np.ndarray, int] | str:
    """int16 samples and rate, or the 400 message. Any container libsndfile reads is accepted."""
    try:
        with sf.SoundFile(io.BytesIO(body)) as audio:
            if audio.channels != 1:
                return MSG_STEREO.format(audio.channels)
            rate = int(audio.samplerate)
            pcm = audio.read(dtype="int16")
    except (sf.SoundFileError, RuntimeError, ValueError, EOFError):
        return MSG_UNREADABLE
    return np.ascontiguousarray(pcm, dtype=np.int16), rate


def _words_json(words: Sequence[DecodedWordLike]) -> list[dict[str, Any]]:
    return [
        {"word": w.text, "start": round(w.start_ms / 1000, 3), "end": round(w.end_ms / 1000, 3),
         "confidence": round(float(w.confidence), 3)}
        for w in words
    ]


def _utterances(words: Sequence[DecodedWordLike]) -> list[dict[str, Any]]:
    groups: list[list[DecodedWordLike]] = []
    for word in words:
        if groups and word.start_ms - groups[-1][-1].end_ms <= UTTERANCE_GAP_MS:
            groups[-1].append(word)
        else:
            groups.append([word])
    return [
        {"text": " ".join(w.text for w in g), "start": round(g[0].start_ms / 1000, 3),
         "end": round(g[-1].end_ms / 1000, 3)}
        for g in groups
    ]


class PulseService:
    """The stand-in's state: counters, the rate window and the log of answers. Thread-safe.

    `clock` is any monotonic clock in seconds; `decoder` defaults to the word code's `decode`.
    """

    def __init__(self, config: PulseSimConfig, *, clock: Callable[[], float] = time.monotonic,
                 decoder: Decoder | None = None) -> None:
        self.config = config
        self._clock = clock
        self._decoder = decoder
        self._lock = threading.Lock()
        self._window = SlidingWindow(config.rpm_limit)
        self._next_index = 0
        self._next_draw = 0
        self.request_log: list[int] = []
        self.accepted_times: list[float] = []

    @property
    def requests(self) -> int:
        with self._lock:
            return self._next_index

    # -- stage 1: headers -------------------------------------------------------------------

    def begin(self, method: str, target: str, headers: Mapping[str, str]) -> Reply | Ticket:
        """Decide everything the headers allow. `headers` keys are lower-case."""
        with self._lock:
            index = self._next_index
            self._next_index += 1
        rid = request_id(self.config.seed, index)
        parts = urlsplit(target)
        if parts.path not in PATHS:
            return self._log(Reply(404, {"error": "Not found"}, rid))
        if method != "POST":
            return self._log(Reply(405, {"error": "Method not allowed"}, rid, (("Allow", "POST"),)))
        refused = self._check_auth(headers.get("authorization"), rid)
        if refused is not None:
            return self._log(refused)
        now = self._clock()
        with self._lock:
            wait = self._window.admit(now)
        if wait is not None:
            return self._log(self._too_many(rid, wait))
        params = parse_params(parts.query)
        if isinstance(params, str):
            return self._log(self._error(400, params, rid))
        problem = _content_type_problem(headers.get("content-type", ""))
        if problem is not None:
            return self._log(self._error(400, problem, rid))
        length = _content_length(headers)
        if isinstance(length, str):
            return self._log(self._error(400, length, rid))
        if length is not None and length > self.config.max_bytes:
            return self.too_large(rid)
        return Ticket(index, rid, params, length, now)

    def too_large(self, rid: str) -> Reply:
        """413 (§5); also for a chunked body found over the limit while reading."""
        mb = self.config.max_bytes / 2**20
        limit = f"{mb:g}"
        return self._log(self._error(413, MSG_TOO_LARGE.format(limit), rid))

    # -- stage 2: body ----------------------------------------------------------------------

    def finish(self, ticket: Ticket, body: bytes) -> Outcome:
        """Fault, audio and words for an admitted request whose body has been read."""
        delay = self.config.slow_s
        rid = ticket.request_id
        if not body:
            return Outcome(self._log(self._error(400, MSG_EMPTY, rid)), delay)
        with self._lock:
            draw = self._next_draw
            self._next_draw += 1
        fault = draw_fault(self.config, draw)
        if fault is Fault.RESET:
            return Outcome(self._log(Reset(rid)), delay)
        if fault is Fault.TOO_MANY:
            return Outcome(self._log(self._too_many(rid, self.config.fault_retry_after_s)), delay)
        if fault is Fault.UNAVAILABLE:
            return Outcome(self._log(self._error(503, MSG_503, rid)), delay)
        if fault is Fault.INTERNAL:
            return Outcome(self._log(self._error(500, MSG_500, rid)), delay)
        audio = _read_mono(body)
        if isinstance(audio, str):
            return Outcome(self._log(self._error(400, audio, rid)), delay)
        reply = self._transcribe(ticket, audio[0], audio[1], len(body))
        return Outcome(self._log(reply, ticket.admitted_at), delay)

    def _transcribe(self, ticket: Ticket, pcm: np.ndarray, rate: int, size: int) -> Reply:
        started = self._clock()
        duration = pcm.shape[0] / rate if rate else 0.0
        if rate != DECODE_RATE and pcm.size:
            pcm = soxr.resample(pcm, rate, DECODE_RATE)
        decoder = self._decoder or wordcode.decode
        words = list(decoder(pcm, DECODE_RATE)) if pcm.size else []
        elapsed = max(self._clock() - started, 1e-6)
        params = ticket.params
        timed = _words_json(words) if params.word_timestamps else []
        body: dict[str, Any] = {
            "status": "success",
            "transcription": " ".join(w.text for w in words),
            "words": timed,
        }
        if params.model == "pulse-pro":
            body["language"] = params.language
            body["metadata"] = {
                "duration": round(duration, 3), "processing_time_ms": round(elapsed * 1000, 1),
                "rtfx": round(duration / elapsed, 1), "num_chunks": 1,
            }
            body["totalBytes"] = size
            body["request_id"] = ticket.request_id
        else:
            body["utterances"] = _utterances(words) if params.word_timestamps else []
            body["metadata"] = {"duration": round(duration, 3), "fileSize": size}
        return Reply(200, body, ticket.request_id)

    # -- helpers ----------------------------------------------------------------------------

    def _check_auth(self, header: str | None, rid: str) -> Reply | None:
        token = _bearer(header)
        if token is None:
            return Reply(401, {"message": "Unauthorized: No tokens provided"}, rid)
        keys = self.config.api_keys
        if keys is not None and token not in keys:
            return Reply(401, {"error": "unauthorized"}, rid)
        return None

    def _too_many(self, rid: str, wait_s: float) -> Reply:
        headers: tuple[tuple[str, str], ...] = ()
        if self.config.retry_after:
            headers = (("Retry-After", str(max(0, math.ceil(wait_s)))),)
        return Reply(429, {"error": MSG_RATE, "request_id": rid}, rid, headers)

    @staticmethod
    def _error(status: int, message: str, rid: str) -> Reply:
        return Reply(status, {"error": message, "request_id": rid}, rid)

    def _log(self, action: _Action, admitted_at: float | None = None) -> _Action:
        status = action.status if isinstance(action, Reply) else RESET_STATUS
        with self._lock:
            self.request_log.append(status)
            if status == 200 and admitted_at is not None:
                self.accepted_times.append(admitted_at)
        return action


def _content_length(headers: Mapping[str, str]) -> int | None | str:
    """Declared body length; None for chunked; a 400 message when neither is usable."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return None
    raw = headers.get("content-length")
    if raw is None:
        return 0
    if not raw.strip().isdigit():
        return "Invalid Content-Length header."
    return int(raw)
