"""What can go wrong talking to Pulse STT, split by what the caller can do about it.

reference/pulse-stt.md §8 and §12.3::

    RecorderError
    └── PulseError(status, request_id)           base of every Pulse failure
        ├── PulseRetryable  (also UpstreamError)  transient: retry with back-off
        │   ├── PulseRateLimited(retry_after_s)   429
        │   └── PulseUnavailable(status, reason)  5xx, 408, timeouts, resets (status None)
        │       └── PulseRetriesExhausted         bounded retries used up; carries the last fault
        ├── PulseRejected(status, message)        other 4xx: permanent, fix the request
        │   └── PulsePayloadTooLarge              413 (or the legacy 400): split and resubmit
        └── PulseAuthError(status)                401/403: permanent, stop the run

Messages never contain the API key or a URL with a query string; the server's error text is
scrubbed before it is stored here.
"""

from __future__ import annotations

from recorder.errors import RecorderError, UpstreamError


class PulseError(RecorderError):
    """Base of every Pulse failure; `status` is None when no HTTP answer came back."""

    def __init__(self, message: str, *, status: int | None, request_id: str | None = None) -> None:
        self.status = status
        self.request_id = request_id
        suffix = f" (request id {request_id})" if request_id else ""
        super().__init__(message + suffix)


class PulseRetryable(PulseError, UpstreamError):
    """A transient fault of the service or the network; the same request may succeed later."""


class PulseRateLimited(PulseRetryable):
    def __init__(
        self, retry_after_s: float | None, message: str = "", request_id: str | None = None
    ) -> None:
        self.retry_after_s = retry_after_s
        self.message = message
        hint = f"; it asked to retry after {retry_after_s:g} s" if retry_after_s is not None else ""
        super().__init__(
            f"Pulse rate limit exceeded (HTTP 429){hint}; lower the requests per minute",
            status=429,
            request_id=request_id,
        )


class PulseUnavailable(PulseRetryable):
    def __init__(
        self, status: int | None, reason: str = "", request_id: str | None = None
    ) -> None:
        self.reason = reason
        what = f"HTTP {status}" if status is not None else "no response"
        detail = f": {reason}" if reason else ""
        super().__init__(
            f"Pulse unavailable ({what}{detail}); retry later",
            status=status,
            request_id=request_id,
        )


class PulseRetriesExhausted(PulseUnavailable):
    """Every attempt failed with a transient fault; `last` is the final one."""

    def __init__(self, attempts: int, last: PulseRetryable) -> None:
        self.attempts = attempts
        self.last = last
        what = f"HTTP {last.status}" if last.status is not None else "no response"
        reason = getattr(last, "reason", "") or getattr(last, "message", "")
        PulseError.__init__(
            self,
            f"Pulse still failing after {attempts} attempts (last: {what}"
            + (f", {reason}" if reason else "")
            + "); the job can be retried later",
            status=last.status,
            request_id=last.request_id,
        )
        self.reason = reason


class PulseRejected(PulseError):
    """A permanent refusal (400, 404, 422, ...): resending the same request will not help."""

    def __init__(self, status: int, message: str = "", request_id: str | None = None) -> None:
        self.message = message
        detail = f": {message}" if message else ""
        super().__init__(
            f"Pulse rejected the request with HTTP {status}{detail}",
            status=status,
            request_id=request_id,
        )


class PulsePayloadTooLarge(PulseRejected):
    """The audio is over Pulse's size limit (§5: 250 MB); split it and submit the pieces."""


class PulseAuthError(PulseError):
    def __init__(self, status: int, message: str = "", request_id: str | None = None) -> None:
        self.message = message
        what = "API key missing or invalid" if status == 401 else "access to the model refused"
        detail = f": {message}" if message else ""
        super().__init__(
            f"Pulse refused the credentials with HTTP {status} ({what}{detail}); "
            "check the Smallest API key and plan",
            status=status,
            request_id=request_id,
        )
