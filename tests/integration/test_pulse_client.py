"""PulseClient against real HTTP servers over loopback.

Most tests use a tiny scripted server (stdlib `ThreadingHTTPServer` on a thread) that answers
with queued statuses, bodies and headers, can be slow or reset the connection, and remembers
what it received. The last tests use the project's Pulse stand-in (recorder/simulate/pulse.py).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import random
import socket
import ssl
import struct
import threading
import time
import wave
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from recorder.pulse import (
    Backoff,
    PulseAuthError,
    PulseClient,
    PulsePayloadTooLarge,
    PulseRejected,
    PulseRetriesExhausted,
    Transcription,
)
from recorder.pulse.errors import PulseError
from tests.integration.certs import make_localhost_cert

KEY = "sk_live_Hq4mZ8cV2nB6xK9w"
RATE = 16_000
T = TypeVar("T")


# -- the scripted server --------------------------------------------------------------------------


@dataclass
class Step:
    status: int = 200
    body: Any = None  # dict/list → JSON, bytes as-is, None → a small success body
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    reset: bool = False


@dataclass
class Seen:
    at: float
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


Responder = Callable[[Seen], Step]


def success(
    words: Sequence[tuple[str, float, float]] = (), rid: str = "rid-1", text: str = ""
) -> dict[str, Any]:
    return {
        "status": "success",
        "transcription": text or " ".join(w for w, _, _ in words),
        "words": [{"word": w, "start": s, "end": e, "confidence": 0.9} for w, s, e in words],
        "language": "en",
        "metadata": {"duration": 1.0},
        "request_id": rid,
    }


class ScriptedPulse:
    """Answers each request with the next queued Step, then with `respond` (default: 200)."""

    def __init__(self, steps: list[Step] | None = None, respond: Responder | None = None,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.steps = list(steps or [])
        self.respond = respond
        self.seen: list[Seen] = []
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.ssl_context = ssl_context
        self.url = ""

    def next_step(self, seen: Seen) -> Step:
        with self.lock:
            self.seen.append(seen)
            if self.steps:
                return self.steps.pop(0)
        return self.respond(seen) if self.respond else Step(body=success())


def make_handler(script: ScriptedPulse) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            parts = urlsplit(self.path)
            seen = Seen(time.monotonic(), parts.path, parse_qs(parts.query),
                        {k.lower(): v for k, v in self.headers.items()}, body)
            step = script.next_step(seen)
            if step.delay_s and script.stopping.wait(step.delay_s):
                return
            try:
                if step.reset:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
                    self.close_connection = True
                    self.connection.close()
                    return
                payload = step.body if step.body is not None else success()
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(step.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in step.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (timeout test): nothing to tell it
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def scripted(steps: list[Step] | None = None, respond: Responder | None = None,
             ssl_context: ssl.SSLContext | None = None) -> Iterator[ScriptedPulse]:
    script = ScriptedPulse(steps, respond, ssl_context)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(script))
    server.daemon_threads = True
    scheme = "http"
    if ssl_context is not None:
        server.socket = ssl_context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    script.url = f"{scheme}://127.0.0.1:{server.server_address[1]}/waves/v1/stt/"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield script
    finally:
        script.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()


def client(url: str, **kwargs: Any) -> PulseClient:
    kwargs.setdefault("backoff", Backoff(base_s=0.05, cap_s=0.2, rng=random.Random(1)))
    return PulseClient(url, KEY, **kwargs)


def run(pulse: PulseClient, body: Callable[[PulseClient], Awaitable[T]]) -> T:
    async def main() -> T:
        async with pulse:
            return await body(pulse)

    return asyncio.run(main())


def wav(seconds: float = 0.5) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(b"\x00\x00" * int(seconds * RATE))
    return out.getvalue()


# -- audio with known "words": tone bursts, and a server that finds them --------------------------


def bursts_audio(total_s: float, starts_s: list[float], length_s: float = 0.3) -> np.ndarray:
    pcm = np.zeros(int(total_s * RATE), dtype=np.int16)
    t = np.arange(int(length_s * RATE)) / RATE
    tone = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    for s in starts_s:
        i = int(s * RATE)
        pcm[i : i + len(tone)] = tone
    return pcm


def find_bursts(pcm: np.ndarray, rate: int) -> list[tuple[float, float]]:
    """(start_s, end_s) of every run of 10 ms frames with energy, relative to this audio."""
    frame = rate // 100
    n = len(pcm) // frame
    loud = np.abs(pcm[: n * frame].astype(np.int32)).reshape(n, frame).max(axis=1) > 1000
    spans: list[tuple[float, float]] = []
    i = 0
    while i < n:
        if loud[i]:
            j = i
            while j < n and loud[j]:
                j += 1
            spans.append((i * frame / rate, j * frame / rate))
            i = j
        else:
            i += 1
    return spans


def read_wav(body: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(body)) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), "<i2")


def burst_responder(max_bytes: int) -> Responder:
    counter = iter(range(1000))

    def respond(seen: Seen) -> Step:
        if len(seen.body) > max_bytes:
            return Step(413, {"error": "File size exceeds maximum limit of 250MB."})
        spans = find_bursts(read_wav(seen.body), RATE)
        words = [(f"w{round(s, 2)}", s, e) for s, e in spans]
        return Step(body=success(words, rid=f"piece-{next(counter)}"))

    return respond


# -- request shape --------------------------------------------------------------------------------


def test_request_is_the_recommended_one() -> None:
    audio = wav()
    with scripted([Step(body=success([("Hi,", 0.32, 0.58)], rid="r-1"))]) as server:
        result = run(client(server.url), lambda p: p.transcribe(audio, offset_ms=1000))
    (seen,) = server.seen
    assert seen.path == "/waves/v1/stt/"
    assert seen.query == {"model": ["pulse-pro"], "language": ["en"], "word_timestamps": ["true"]}
    assert seen.headers["authorization"] == f"Bearer {KEY}"
    assert seen.headers["content-type"] == "application/octet-stream"
    assert seen.body == audio
    assert result.request_id == "r-1"
    assert [(w.text, w.start_ms, w.end_ms) for w in result.words] == [("Hi,", 1320.0, 1580.0)]


def test_options_are_configurable() -> None:
    with scripted() as server:
        run(client(server.url, model="pulse", language="de", word_timestamps=False,
                   expire_content=True), lambda p: p.transcribe(wav()))
    (seen,) = server.seen
    assert seen.query == {"model": ["pulse"], "language": ["de"], "word_timestamps": ["false"]}
    assert seen.headers["x-expire-content"] == "true"


# -- transient faults are retried -----------------------------------------------------------------


def test_429_retry_after_is_honoured() -> None:
    steps = [Step(429, {"error": "Rate limit exceeded."}, {"Retry-After": "1"}), Step()]
    with scripted(steps) as server:
        pulse = client(server.url)
        result = run(pulse, lambda p: p.transcribe(wav()))
    assert isinstance(result, Transcription)
    waited = server.seen[1].at - server.seen[0].at
    assert 1.0 <= waited < 1.0 + 0.1 + 0.5
    assert (pulse.requests_made, pulse.retries) == (2, 1)


def test_429_retry_after_ms_is_honoured() -> None:
    steps = [Step(429, headers={"retry-after-ms": "400"}), Step()]
    with scripted(steps) as server:
        run(client(server.url), lambda p: p.transcribe(wav()))
    assert server.seen[1].at - server.seen[0].at >= 0.4


def test_503_then_success() -> None:
    steps = [Step(503, {"error": "Service temporarily unavailable."}), Step()]
    with scripted(steps) as server:
        pulse = client(server.url)
        result = run(pulse, lambda p: p.transcribe(wav()))
    assert result.request_id == "rid-1"
    assert (pulse.requests_made, pulse.retries, len(server.seen)) == (2, 1, 2)


def test_reset_then_success() -> None:
    with scripted([Step(reset=True), Step()]) as server:
        pulse = client(server.url)
        run(pulse, lambda p: p.transcribe(wav()))
    assert (pulse.requests_made, pulse.retries, len(server.seen)) == (2, 1, 2)


def test_timeout_then_success() -> None:
    with scripted([Step(delay_s=2.0), Step()]) as server:
        pulse = client(server.url, timeout_s=0.4)
        started = time.monotonic()
        run(pulse, lambda p: p.transcribe(wav()))
        elapsed = time.monotonic() - started
    assert (pulse.requests_made, pulse.retries) == (2, 1)
    assert elapsed < 1.5  # gave up on the slow answer after the read timeout


def test_attempts_exhausted_names_the_last_status() -> None:
    steps = [Step(503), Step(reset=True), Step(503, {"error": "still down"})]
    with scripted(steps) as server:
        pulse = client(server.url, max_attempts=3)
        with pytest.raises(PulseRetriesExhausted) as err:
            run(pulse, lambda p: p.transcribe(wav()))
    assert err.value.status == 503 and err.value.attempts == 3
    assert "after 3 attempts" in str(err.value) and "HTTP 503" in str(err.value)
    assert "still down" in str(err.value)
    assert len(server.seen) == 3 and pulse.retries == 2


# -- permanent errors are not retried -------------------------------------------------------------


def test_400_is_permanent() -> None:
    body = {"error": "Missing required query param: model.", "request_id": "bad-1"}
    with scripted([Step(400, body), Step()]) as server:
        pulse = client(server.url)
        with pytest.raises(PulseRejected) as err:
            run(pulse, lambda p: p.transcribe(wav()))
    assert err.value.status == 400 and err.value.request_id == "bad-1"
    assert "Missing required query param: model." in str(err.value)
    assert len(server.seen) == 1 and pulse.retries == 0


@pytest.mark.parametrize("status", [401, 403])
def test_auth_errors_stop_at_once(status: int) -> None:
    steps = [Step(status, {"error": "unauthorized"}), Step()]
    with scripted(steps) as server, pytest.raises(PulseAuthError) as err:
        run(client(server.url), lambda p: p.transcribe(wav()))
    assert err.value.status == status and len(server.seen) == 1


def test_413_on_a_file_is_reported() -> None:
    steps = [Step(413, {"error": "File size exceeds maximum limit of 250MB."})]
    with scripted(steps) as server, pytest.raises(PulsePayloadTooLarge):
        run(client(server.url), lambda p: p.transcribe(wav()))
    assert len(server.seen) == 1


# -- splitting ------------------------------------------------------------------------------------


BURSTS = [0.5, 1.7, 2.9, 4.1, 5.3, 6.5, 7.7, 8.9, 10.1, 11.3]


def check_merged(result: Transcription, offset_ms: float = 0.0) -> None:
    starts = [w.start_ms for w in result.words]
    ends = [w.end_ms for w in result.words]
    assert len(result.words) == len(BURSTS)
    for got, want in zip(starts, BURSTS):
        assert abs(got - (want * 1000 + offset_ms)) <= 10.0
    for got, want in zip(ends, BURSTS):
        assert abs(got - ((want + 0.3) * 1000 + offset_ms)) <= 10.0


def test_413_splits_at_silences_and_offsets_word_times() -> None:
    pcm = bursts_audio(12.0, BURSTS)  # 384 KB as WAV; the server takes at most ~3.8 s
    with scripted(respond=burst_responder(max_bytes=125_000)) as server:
        pulse = client(server.url)
        result = run(pulse, lambda p: p.transcribe_pcm(pcm, offset_ms=250.0))
    check_merged(result, offset_ms=250.0)
    statuses_413 = [s for s in server.seen if len(s.body) > 125_000]
    accepted = [s for s in server.seen if len(s.body) <= 125_000]
    assert len(statuses_413) == 3 and len(accepted) == 4  # 12 s → 2 × 6 s → 4 × 3 s
    assert pulse.requests_made == 7 and pulse.retries == 0
    assert len(result.request_ids) == 4 and len(set(result.request_ids)) == 4
    # the pieces tile the audio and every cut fell in silence: no burst touches a piece's edge
    pieces = [read_wav(s.body) for s in accepted]
    assert sum(len(p) for p in pieces) == len(pcm)
    for piece in pieces:
        spans = find_bursts(piece, RATE)
        assert spans and spans[0][0] > 0.05 and spans[-1][1] < len(piece) / RATE - 0.05


def test_empty_audio_sends_nothing() -> None:
    with scripted() as server:
        pulse = client(server.url)
        result = run(pulse, lambda p: p.transcribe_pcm(np.zeros(0, np.int16)))
    assert result.words == () and result.text == "" and result.duration_s == 0.0
    assert server.seen == [] and pulse.requests_made == 0


def test_long_audio_is_split_proactively() -> None:
    pcm = bursts_audio(12.0, BURSTS)
    with scripted(respond=burst_responder(max_bytes=10**9)) as server:
        pulse = client(server.url, max_piece_s=5.0)
        result = run(pulse, lambda p: p.transcribe_pcm(pcm))
    check_merged(result)
    lengths = [len(read_wav(s.body)) / RATE for s in server.seen]
    assert len(lengths) == 3 and max(lengths) <= 5.0 and sum(lengths) == 12.0


# -- secrets --------------------------------------------------------------------------------------


def test_api_key_never_in_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    echo = {"error": f"invalid key {KEY}", "request_id": "auth-1"}
    errors: list[PulseError] = []

    async def body(pulse: PulseClient) -> None:
        await pulse.transcribe(wav())  # 503, reset, then 200
        for _ in range(2):
            try:
                await pulse.transcribe(wav())
            except PulseError as exc:
                errors.append(exc)

    steps = [Step(503, {"error": f"upstream said {KEY}"}), Step(reset=True), Step(),
             Step(401, echo), Step(400, {"message": f"Authorization: Bearer {KEY}"})]
    with scripted(steps) as server:
        run(client(server.url), body)
    assert [type(e) for e in errors] == [PulseAuthError, PulseRejected]
    for exc in errors:
        assert KEY not in str(exc) and KEY not in repr(exc) and KEY not in str(exc.args)
    assert caplog.records
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert KEY not in (record.exc_text or "")
    lines = [r.getMessage() for r in caplog.records if r.name == "recorder.pulse.client"
             and "pulse POST" in r.getMessage()]
    assert len(lines) == len(server.seen) == 5
    assert "status=503" in lines[0] and "status=-" in lines[1] and "request_id=auth-1" in lines[3]
    assert all("?" not in line for line in lines)  # never the query string


# -- TLS ------------------------------------------------------------------------------------------


def test_tls_is_verified_by_default(tmp_path: Path) -> None:
    certs = make_localhost_cert(tmp_path / "tls")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs.cert, certs.key)
    with scripted(ssl_context=context) as server:
        with pytest.raises(PulseRetriesExhausted) as err:
            run(client(server.url, max_attempts=1), lambda p: p.transcribe(wav()))
        assert "CERTIFICATE_VERIFY_FAILED" in str(err.value)
        result = run(client(server.url, verify=str(certs.ca)), lambda p: p.transcribe(wav()))
    assert result.request_id == "rid-1"


# -- the per-minute limit across concurrent tasks -------------------------------------------------


def test_concurrent_requests_respect_the_window() -> None:
    """Seven concurrent transcriptions at 3 per window: the server, counting arrivals, never
    sees a fourth within 0.5 s. A short window
    stands in for the minute; the client's 0.1 s margin plays WINDOW_MARGIN_S's part."""
    with scripted() as server:
        pulse = client(server.url, per_minute=3, rate_window_s=0.6)

        async def body(p: PulseClient) -> list[Transcription]:
            return list(await asyncio.gather(*(p.transcribe(wav(0.1)) for _ in range(7))))

        results = run(pulse, body)
    assert len(results) == 7 and pulse.requests_made == 7
    arrivals = sorted(s.at for s in server.seen)
    assert max_in_window(arrivals, 0.5) <= 3
    assert arrivals[-1] - arrivals[0] >= 1.2 - 0.1  # three waves


def max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    return max(sum(1 for u in times[i:] if u < t + window) for i, t in enumerate(times))


# -- the project's Pulse stand-in -----------------------------------------------------------------


@dataclass(frozen=True)
class BurstWord:
    text: str
    start_ms: float
    end_ms: float
    confidence: float = 0.9


def burst_decoder(pcm: np.ndarray, rate: int) -> list[BurstWord]:
    spans = find_bursts(pcm, rate)
    return [BurstWord(f"b{i}", s * 1000, e * 1000) for i, (s, e) in enumerate(spans)]


def test_batch_against_the_stand_in_with_429_and_503_faults() -> None:
    from recorder.simulate.pulse import run_pulse_sim
    from recorder.simulate.pulse_core import PulseSimConfig

    per_minute = 12
    config = PulseSimConfig(api_keys=frozenset({KEY}), rpm_limit=per_minute, seed=0,
                            rate_429=0.3, rate_503=0.2, fault_retry_after_s=1)
    audio = bursts_audio(3.0, [0.5, 1.7])

    async def main() -> tuple[list[Transcription], PulseClient, list[int], int]:
        async with run_pulse_sim(config, decoder=burst_decoder) as sim:
            async with client(sim.url, per_minute=per_minute, max_attempts=8) as pulse:
                results = await asyncio.gather(*(pulse.transcribe_pcm(audio) for _ in range(5)))
            return list(results), pulse, sim.request_log, sim.requests

    results, pulse, log, requests = asyncio.run(main())
    assert len(results) == 5
    for result in results:
        assert [w.text for w in result.words] == ["b0", "b1"]
        assert abs(result.words[1].start_ms - 1700) <= 10
        assert result.request_id  # pulse-pro answers carry one
    assert pulse.retries > 0, "this seed must draw faults for the test to mean anything"
    assert set(log) <= {200, 429, 503}  # only the faults configured, each retried until success
    assert log.count(200) == 5 and requests == pulse.requests_made == len(log)
    assert pulse.requests_made <= per_minute  # so no 60 s window could hold more
    assert pulse.retries == pulse.requests_made - 5


def test_stand_in_refuses_a_wrong_key() -> None:
    from recorder.simulate.pulse import run_pulse_sim
    from recorder.simulate.pulse_core import PulseSimConfig

    async def main() -> None:
        config = PulseSimConfig(api_keys=frozenset({"sk_other_key_123456"}))
        async with run_pulse_sim(config) as sim, client(sim.url) as pulse:
            await pulse.transcribe(wav())

    with pytest.raises(PulseAuthError) as err:
        asyncio.run(main())
    assert err.value.status == 401 and KEY not in str(err.value)
