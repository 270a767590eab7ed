"""Exponential back-off with full jitter, honouring the server's Retry-After.

reference/pulse-stt.md §12.3: the vendor guide starts at 0.5 s, doubles, caps at 30 s. Full
jitter (a uniform draw between 0 and the exponential ceiling) spreads the retries of many
workers that failed together. When the server names a wait (Retry-After, retry-after-ms,
X-RateLimit-Reset, already read by `wire.retry_after_s`), it wins over the exponential delay:
we wait at least that long, plus up to 10 % so that workers told the same instant do not all
come back at once. Pure: the randomness is the `rng` parameter.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Backoff:
    base_s: float = 0.5
    cap_s: float = 30.0
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)
    # A server asking for longer than this is still waited for, but only this long: one bad
    # header must not park a nightly job for hours.
    max_retry_after_s: float = 300.0

    def __post_init__(self) -> None:
        if not (0 < self.base_s <= self.cap_s):
            raise ValueError("Backoff needs 0 < base_s <= cap_s")

    def ceiling(self, attempt: int) -> float:
        """Largest jitter-free delay before retry number `attempt` (0 for the first retry)."""
        if attempt < 0:
            raise ValueError("attempt must be >= 0")
        # 2**attempt overflows float long after the cap is reached; stop doubling there.
        exponent = min(attempt, 64)
        return min(self.cap_s, self.base_s * 2.0**exponent)

    def delay(self, attempt: int, retry_after_s: float | None = None) -> float:
        """Seconds to wait before retry number `attempt` (0-based)."""
        if retry_after_s is not None and retry_after_s >= 0:
            wanted = min(retry_after_s, self.max_retry_after_s)
            return wanted + self.rng.uniform(0.0, 0.1 * wanted)
        return self.rng.uniform(0.0, self.ceiling(attempt))
