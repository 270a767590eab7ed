"""Narrow adapter to Smallest AI's Pulse speech-to-text (reference/pulse-stt.md).

Pure parts: `wire` (requests and responses), `backoff`, `ratelimit`, `pieces` (WAV encoding
and cuts at pauses). The shell: `client.PulseClient`, the only module that imports httpx.
"""

from recorder.pulse.backoff import Backoff
from recorder.pulse.client import PulseClient
from recorder.pulse.errors import (
    PulseAuthError,
    PulseError,
    PulsePayloadTooLarge,
    PulseRateLimited,
    PulseRejected,
    PulseRetriesExhausted,
    PulseRetryable,
    PulseUnavailable,
)
from recorder.pulse.ratelimit import AsyncRateLimiter, RateLimiter
from recorder.pulse.wire import (
    PulseOptions,
    PulseWord,
    Transcription,
    build_request,
    parse_response,
)

__all__ = [
    "AsyncRateLimiter",
    "Backoff",
    "PulseAuthError",
    "PulseClient",
    "PulseError",
    "PulseOptions",
    "PulsePayloadTooLarge",
    "PulseRateLimited",
    "PulseRejected",
    "PulseRetriesExhausted",
    "PulseRetryable",
    "PulseUnavailable",
    "PulseWord",
    "RateLimiter",
    "Transcription",
    "build_request",
    "parse_response",
]
