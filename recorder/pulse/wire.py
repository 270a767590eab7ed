"""Pulse STT requests and responses as plain values: no sockets, no clock, no event loop.

reference/pulse-stt.md §2 (bearer auth), §3 (query), §4 (raw body), §6 (200 body), §8 (errors,
including the §8.3 parsing rule), §9 (Retry-After and friends), §12.1 (the recommended request).
Word times arrive in seconds from the first sample of the submitted audio; they are kept here
in milliseconds.
"""

from __future__ import annotations

import email.utils
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from recorder.pulse.errors import (
    PulseAuthError,
    PulsePayloadTooLarge,
    PulseRateLimited,
    PulseRejected,
    PulseUnavailable,
)
from recorder.scrub import scrub_text

DEFAULT_URL = "https://api.smallest.ai/waves/v1/stt/"
STT_PATH = "/waves/v1/stt/"
_MESSAGE_MAX = 300
# X-RateLimit-Reset values below this are a number of seconds, above it a Unix time (derived).
_EPOCH_THRESHOLD = 1_000_000_000


@dataclass(frozen=True, slots=True)
class PulseOptions:
    """The query of §12.1; `expire_content` adds the Enterprise `x-expire-content` header (§3)."""

    model: str = "pulse-pro"
    language: str = "en"
    word_timestamps: bool = True
    expire_content: bool = False


@dataclass(frozen=True, slots=True)
class PulseWord:
    """One word; times in ms from the start of the submitted audio (or of the recording, once
    shifted). The text is PII and stays out of the repr."""

    text: str = field(repr=False)
    start_ms: float
    end_ms: float
    confidence: float | None = None
    speaker: int | str | None = None

    def shifted(self, offset_ms: float) -> PulseWord:
        if not offset_ms:
            return self
        return replace(
            self,
            start_ms=round(self.start_ms + offset_ms, 3),
            end_ms=round(self.end_ms + offset_ms, 3),
        )


@dataclass(frozen=True, slots=True, repr=False)
class Transcription:
    """A successful answer. `request_ids` lists every request that contributed (one per piece
    when the audio was split); `request_id` is the first of them."""

    text: str
    words: tuple[PulseWord, ...]
    request_id: str | None
    duration_s: float | None
    model: str
    language: str | None = None
    request_ids: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (
            f"Transcription(model={self.model!r}, words={len(self.words)}, "
            f"text_len={len(self.text)}, duration_s={self.duration_s}, "
            f"request_ids={self.request_ids!r})"
        )

    def shifted(self, offset_ms: float) -> Transcription:
        """The same transcription with every word moved `offset_ms` later (§12.2)."""
        if not offset_ms:
            return self
        return replace(self, words=tuple(w.shifted(offset_ms) for w in self.words))


def merge_transcriptions(parts: Sequence[Transcription], *, model: str) -> Transcription:
    """Pieces of one audio, already shifted onto its timeline, as one transcription."""
    words = tuple(sorted((w for p in parts for w in p.words), key=lambda w: (w.start_ms, w.end_ms)))
    ids = tuple(i for p in parts for i in p.request_ids)
    durations = [p.duration_s for p in parts]
    return Transcription(
        text=" ".join(p.text.strip() for p in parts if p.text.strip()),
        words=words,
        request_id=ids[0] if ids else None,
        duration_s=None if any(d is None for d in durations) else sum(d for d in durations if d),
        model=model,
        language=next((p.language for p in parts if p.language), None),
        request_ids=ids,
    )


def build_request(options: PulseOptions, *, api_key: str) -> tuple[dict[str, str], dict[str, str]]:
    """Query parameters and headers of one raw-bytes request (§2, §3, §4, §12.1)."""
    params = {
        "model": options.model,
        "language": options.language,
        "word_timestamps": "true" if options.word_timestamps else "false",
    }
    headers = {
        "Authorization": f"Bearer {api_key}",
        "Content-Type": "application/octet-stream",
        "Accept": "application/json",
    }
    if options.expire_content:
        headers["x-expire-content"] = "true"
    return params, headers


def retry_after_s(headers: Mapping[str, str], *, now_epoch_s: float) -> float | None:
    """Seconds the server asked us to wait, from the first present of `retry-after-ms`,
    `Retry-After` (seconds or HTTP date) and `X-RateLimit-Reset` (seconds or Unix time) (§9)."""
    lower = {k.lower(): v.strip() for k, v in headers.items()}
    ms = _number(lower.get("retry-after-ms"))
    if ms is not None:
        return max(ms / 1000.0, 0.0)
    raw = lower.get("retry-after")
    if raw:
        seconds = _number(raw)
        if seconds is not None:
            return max(seconds, 0.0)
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            when = None
        if when is not None and when.tzinfo is not None:
            return max(when.timestamp() - now_epoch_s, 0.0)
    reset = _number(lower.get("x-ratelimit-reset"))
    if reset is not None:
        return max(reset - now_epoch_s, 0.0) if reset >= _EPOCH_THRESHOLD else max(reset, 0.0)
    return None


def error_message(body: bytes, *, secrets: Iterable[str] = ()) -> str:
    """§8.3: the first present of `error`, `errors`, `message`, `error_code`; otherwise the start
    of the raw body. Scrubbed and shortened so it can go into logs and exceptions."""
    doc = _json(body)
    text = ""
    if isinstance(doc, dict):
        for key in ("error", "errors", "message", "error_code"):
            value = doc.get(key)
            if value not in (None, "", [], {}):
                text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
                break
    elif body:
        text = body[:_MESSAGE_MAX].decode("utf-8", "replace")
    text = " ".join(text.split())
    text = scrub_text(text, extra_secrets=tuple(secrets))
    return text[:_MESSAGE_MAX]


def parse_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    model: str = "pulse-pro",
    now_epoch_s: float = 0.0,
    secrets: Iterable[str] = (),
) -> Transcription:
    """A 200 `success` body as a Transcription; anything else raised as the matching PulseError.

    `now_epoch_s` is only needed to read HTTP-date `Retry-After` and Unix-time
    `X-RateLimit-Reset` values; `secrets` are removed from any server text kept in errors.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    doc = _json(body)
    request_id = _request_id(doc, lower)
    if status == 200:
        return _success(doc, request_id, model, secrets)
    message = error_message(body, secrets=secrets)
    if status == 429:
        raise PulseRateLimited(
            retry_after_s(lower, now_epoch_s=now_epoch_s), message, request_id=request_id
        )
    if status in (401, 403):
        raise PulseAuthError(status, message, request_id=request_id)
    if status == 413 or (status == 400 and "too large" in message.lower()):
        raise PulsePayloadTooLarge(status, message, request_id=request_id)
    if status == 408 or status >= 500:
        raise PulseUnavailable(status, message, request_id=request_id)
    raise PulseRejected(status, message, request_id=request_id)


def _success(
    doc: object, request_id: str | None, model: str, secrets: Iterable[str]
) -> Transcription:
    if not isinstance(doc, dict):
        # A 200 that is not JSON comes from something in between (a gateway, a proxy); the
        # service itself never sends it, so it is treated as a transient fault.
        raise PulseUnavailable(200, "response body is not a JSON object", request_id=request_id)
    state = doc.get("status", "success")
    if state == "processing":
        raise PulseRejected(
            200, "asynchronous 'processing' answer to a request without webhook_url", request_id
        )
    if state != "success":
        raise PulseUnavailable(
            200, f"status {error_message(json.dumps(state).encode(), secrets=secrets)}", request_id
        )
    text = doc.get("transcription", doc.get("transcript", ""))
    raw_metadata = doc.get("metadata")
    metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
    duration = _number(metadata.get("duration"))
    if duration is None:
        duration = _number(doc.get("audio_length"))
    language = doc.get("language")
    return Transcription(
        text=text if isinstance(text, str) else "",
        words=tuple(_words(doc.get("words"))),
        request_id=request_id,
        duration_s=duration,
        model=model,
        language=language if isinstance(language, str) else None,
        request_ids=(request_id,) if request_id else (),
    )


def _words(raw: object) -> Iterable[PulseWord]:
    """Word entries parsed defensively (§6.1): entries without usable times are skipped."""
    if not isinstance(raw, list):
        return
    for item in raw:
        if not isinstance(item, dict):
            continue
        text = item.get("word", item.get("text"))
        start = _number(item.get("start"))
        end = _number(item.get("end"))
        if not isinstance(text, str) or start is None or end is None:
            continue
        speaker = item.get("speaker")
        if isinstance(speaker, bool) or not isinstance(speaker, (int, str)):
            speaker = None
        yield PulseWord(
            text=text,
            start_ms=round(start * 1000.0, 3),
            end_ms=round(max(end, start) * 1000.0, 3),
            confidence=_number(item.get("confidence")),
            speaker=speaker,
        )


def _request_id(doc: object, lower_headers: Mapping[str, str]) -> str | None:
    if isinstance(doc, dict):
        value = doc.get("request_id")
        if isinstance(value, str) and value:
            return value[:100]
    header = lower_headers.get("x-request-id")
    return header[:100] if header else None


def _json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None
