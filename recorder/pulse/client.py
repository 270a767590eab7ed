"""`PulseClient`: the one place that talks HTTP to Pulse STT (and the only importer of httpx).

reference/pulse-stt.md §12: one raw-bytes POST per mono piece, bearer auth, explicit timeouts
(connect 10 s, read `timeout_s`), TLS verified by default. Every request start passes through
the process's rate limiter (§9); transient faults (429, 5xx, 408, timeouts, resets) are retried
a bounded number of times with full-jitter back-off that honours Retry-After (§12.3); other 4xx
are permanent. `transcribe_pcm` splits long audio at pauses (§12.1's 10-minute advice) and,
on 413, halves pieces at their quietest point until they fit; word times come back on the
timeline of the audio it was given (§12.2).

Logging: one DEBUG line per request (status, duration, bytes, request id); never the key,
never the query string. httpx's own logger is held at WARNING by recorder/logs.py.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit, urlunsplit

import httpx
import numpy as np

from recorder.errors import ConfigError
from recorder.pulse import pieces
from recorder.pulse.backoff import Backoff
from recorder.pulse.errors import (
    PulsePayloadTooLarge,
    PulseRateLimited,
    PulseRetriesExhausted,
    PulseRetryable,
    PulseUnavailable,
)
from recorder.pulse.ratelimit import AsyncRateLimiter
from recorder.pulse.wire import (
    DEFAULT_URL,
    STT_PATH,
    PulseOptions,
    Transcription,
    build_request,
    merge_transcriptions,
    parse_response,
)
from recorder.scrub import scrub_text

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
# A piece shorter than this is not split further on 413: something else is wrong.
MIN_PIECE_S = 1.0
# Headroom on the 60 s window: the server counts arrivals, we count send times, and the two
# differ by network jitter.
WINDOW_MARGIN_S = 0.5


class PulseClient:
    """Async adapter to `POST /waves/v1/stt/`; use as `async with PulseClient(...) as pulse:`.

    One client (or one `limiter`) should be shared by every concurrent task of a process, so
    that the per-minute limit holds for all of them. `requests_made` counts HTTP requests sent
    (retries included), `retries` the repeats among them, `rate_limited` the 429s.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        model: str = "pulse-pro",
        language: str = "en",
        word_timestamps: bool = True,
        timeout_s: float = 120.0,
        per_minute: int = 25,
        max_attempts: int = 6,
        rng: random.Random | None = None,
        verify: bool | str | ssl.SSLContext = True,
        max_piece_s: float = 600.0,
        expire_content: bool = False,
        backoff: Backoff | None = None,
        limiter: AsyncRateLimiter | None = None,
        rate_window_s: float = 60.0 + WINDOW_MARGIN_S,
    ) -> None:
        if not api_key:
            raise ConfigError("pulse.api_key", "PulseClient", "the Smallest API key is empty")
        if max_attempts < 1:
            raise ConfigError("pulse.max_attempts", "PulseClient", "must be at least 1")
        if max_piece_s < 2 * MIN_PIECE_S:
            raise ConfigError("pulse.max_piece_s", "PulseClient", f"must be >= {2 * MIN_PIECE_S}")
        self.url = _endpoint(base_url or DEFAULT_URL)
        self.options = PulseOptions(
            model=model,
            language=language,
            word_timestamps=word_timestamps,
            expire_content=expire_content,
        )
        self.max_attempts = max_attempts
        self.max_piece_s = max_piece_s
        self.backoff = backoff or Backoff(rng=rng or random.Random())
        self.limiter = limiter or AsyncRateLimiter(per_minute, window_s=rate_window_s)
        self.requests_made = 0
        self.retries = 0
        self.rate_limited = 0  # 429 answers
        self._key = api_key
        self._params, self._headers = build_request(self.options, api_key=api_key)
        if isinstance(verify, str):  # a CA bundle path (httpx wants a context for that now)
            verify = ssl.create_default_context(cafile=verify)
        self._http = httpx.AsyncClient(
            verify=verify,
            timeout=httpx.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S),
            follow_redirects=False,
            trust_env=False,
        )

    def __repr__(self) -> str:
        return f"PulseClient(url={self._safe_url!r}, model={self.options.model!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- whole files ------------------------------------------------------------------------

    async def transcribe(self, wav_bytes: bytes, *, offset_ms: float = 0.0) -> Transcription:
        """Transcribe one audio file (WAV/FLAC/...), retrying transient faults; word times are
        moved `offset_ms` later. Raises PulsePayloadTooLarge, PulseRejected, PulseAuthError,
        or PulseRetriesExhausted."""
        last: PulseRetryable | None = None
        for attempt in range(self.max_attempts):
            if attempt:
                assert last is not None
                wait = self.backoff.delay(
                    attempt - 1, getattr(last, "retry_after_s", None)
                )
                log.debug(
                    "pulse retry %d/%d in %.2f s after %s",
                    attempt, self.max_attempts - 1, wait, _status_text(last.status),
                )
                self.retries += 1
                await asyncio.sleep(wait)
            try:
                result = await self._request_once(wav_bytes)
            except PulseRetryable as exc:
                last = exc
                self.rate_limited += isinstance(exc, PulseRateLimited)
                continue
            return result.shifted(offset_ms)
        assert last is not None
        raise PulseRetriesExhausted(self.max_attempts, last) from last

    async def _request_once(self, body: bytes) -> Transcription:
        await self.limiter.acquire()
        self.requests_made += 1
        started = time.monotonic()
        try:
            response = await self._http.post(
                self.url, params=self._params, headers=self._headers, content=body
            )
        except httpx.TimeoutException as exc:
            self._log(None, started, len(body), None, "timeout")
            raise PulseUnavailable(None, f"timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            reason = scrub_text(f"{type(exc).__name__}: {exc}", extra_secrets=(self._key,))
            self._log(None, started, len(body), None, reason)
            raise PulseUnavailable(None, reason[:200]) from exc
        request_id = response.headers.get("x-request-id")
        try:
            result = parse_response(
                response.status_code,
                response.headers,
                response.content,
                model=self.options.model,
                now_epoch_s=time.time(),
                secrets=(self._key,),
            )
        except Exception as exc:
            rid = getattr(exc, "request_id", None) or request_id
            self._log(response.status_code, started, len(body), rid, "")
            raise
        self._log(response.status_code, started, len(body), result.request_id or request_id, "")
        return result

    def _log(
        self, status: int | None, started: float, size: int, request_id: str | None, note: str
    ) -> None:
        log.debug(
            "pulse POST %s model=%s status=%s %.0f ms bytes=%d request_id=%s%s",
            self._safe_url,
            self.options.model,
            status if status is not None else "-",
            (time.monotonic() - started) * 1000,
            size,
            request_id or "-",
            f" ({note})" if note else "",
        )

    @property
    def _safe_url(self) -> str:
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, "", ""))

    # -- PCM with splitting -----------------------------------------------------------------

    async def transcribe_pcm(
        self, pcm16k: np.ndarray, rate: int = 16_000, *, offset_ms: float = 0.0
    ) -> Transcription:
        """Transcribe mono int16 PCM sent as WAV, in pieces of at most `max_piece_s` cut at
        pauses, halving a piece at its quietest point whenever Pulse answers 413. Word times are
        on the timeline of `pcm16k`, moved `offset_ms` later."""
        samples = pieces.as_mono_int16(pcm16k)
        if rate <= 0:
            raise ValueError("rate must be positive")
        if samples.size == 0:  # nothing to hear: no request, no bill
            return Transcription("", (), None, 0.0, self.options.model)
        max_samples = max(2, int(self.max_piece_s * rate))
        parts: list[Transcription] = []
        for start, end in pieces.plan_pieces(samples, rate, max_samples):
            parts.extend(await self._transcribe_range(samples, rate, start, end))
        if len(parts) == 1:
            return parts[0].shifted(offset_ms)
        return merge_transcriptions(parts, model=self.options.model).shifted(offset_ms)

    async def _transcribe_range(
        self, samples: np.ndarray, rate: int, start: int, end: int
    ) -> list[Transcription]:
        offset_ms = start * 1000.0 / rate
        try:
            wav = pieces.encode_wav(samples[start:end], rate)
            return [await self.transcribe(wav, offset_ms=offset_ms)]
        except PulsePayloadTooLarge:
            if end - start < 2 * MIN_PIECE_S * rate:
                raise
        first, second = pieces.halve(samples, rate, start, end)
        log.debug(
            "pulse: %d-byte piece too large; split at %.2f s",
            (end - start) * 2, first[1] / rate,
        )
        return [
            *await self._transcribe_range(samples, rate, *first),
            *await self._transcribe_range(samples, rate, *second),
        ]


def _endpoint(base_url: str) -> str:
    """The STT endpoint from a base URL; a bare origin gets the documented path (§1)."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("pulse.url", "PulseClient", "must be an http(s) URL with a host")
    if parts.query or parts.username or parts.password:
        raise ConfigError(
            "pulse.url", "PulseClient", "must not carry credentials or a query string"
        )
    path = parts.path if parts.path not in ("", "/") else STT_PATH
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _status_text(status: int | None) -> str:
    return f"HTTP {status}" if status is not None else "no response"
