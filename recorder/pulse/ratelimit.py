"""Never more than N Pulse requests started in any 60 s window, for the whole process.

reference/pulse-stt.md §9: 25 pre-recorded requests per minute per model, 429 beyond. A sliding
window log (the start times of the last N requests) is exact where a token bucket is not: the
(N+1)-th start waits until the oldest of the last N is a full window old. Retries count like
any other request.

`RateLimiter` is pure (the clock is a parameter); `AsyncRateLimiter` is the thin asyncio shell
that sleeps until the pure core allows a start. It serves waiting tasks strictly in arrival
order (an `asyncio.Lock` queues its waiters first in, first out), so a burst of concurrent
requests cannot starve one of them.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

Clock = Callable[[], float]


class RateLimiter:
    """Sliding-window log of request starts; `acquire_delay` records a start or says how long
    to wait for one."""

    __slots__ = ("_clock", "_starts", "per_minute", "window_s")

    def __init__(self, per_minute: int, clock: Clock, *, window_s: float = 60.0) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be >= 1")
        if window_s <= 0:
            raise ValueError("window_s must be > 0")
        self.per_minute = per_minute
        self.window_s = window_s
        self._clock = clock
        self._starts: deque[float] = deque(maxlen=per_minute)

    def __repr__(self) -> str:
        return f"RateLimiter(per_minute={self.per_minute}, window_s={self.window_s})"

    def next_allowed(self) -> float:
        """Clock time from which one more start keeps every window at N or fewer."""
        if len(self._starts) < self.per_minute:
            return float("-inf")
        return self._starts[0] + self.window_s

    def acquire_delay(self) -> float:
        """0.0 after recording a start now; otherwise the seconds to wait (nothing recorded)."""
        now = self._clock()
        wait = self.next_allowed() - now
        if wait > 0:
            return wait
        self._starts.append(now)
        return 0.0

    @property
    def starts(self) -> tuple[float, ...]:
        """The last N recorded start times, oldest first."""
        return tuple(self._starts)


class AsyncRateLimiter:
    """Sleep until the shared `RateLimiter` allows a start; fair across concurrent tasks."""

    __slots__ = ("_lock", "limiter")

    def __init__(
        self, per_minute: int, *, window_s: float = 60.0, clock: Clock = time.monotonic
    ) -> None:
        # time.monotonic is the clock asyncio's own sleeps use, so the waits line up.
        self.limiter = RateLimiter(per_minute, clock, window_s=window_s)
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"AsyncRateLimiter({self.limiter!r})"

    async def acquire(self) -> float:
        """Wait for a slot and record it; returns the seconds spent waiting."""
        waited = 0.0
        async with self._lock:
            while (delay := self.limiter.acquire_delay()) > 0:
                await asyncio.sleep(delay)
                waited += delay
        return waited
