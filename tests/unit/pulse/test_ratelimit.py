"""The per-minute limiter: never N+1 starts in any 60 s window, and no needless waiting."""

from __future__ import annotations

import asyncio
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.pulse.ratelimit import AsyncRateLimiter, RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def serve(arrivals: list[float], per_minute: int, window: float = 60.0) -> list[float]:
    """Requests arriving at the given times, served first come first served the way the asyncio
    wrapper does it: ask, sleep the delay, ask again. Returns the start times."""
    clock = FakeClock()
    limiter = RateLimiter(per_minute, clock, window_s=window)
    starts: list[float] = []
    for arrival in sorted(arrivals):
        clock.now = max(clock.now, arrival)
        while (delay := limiter.acquire_delay()) > 0:
            clock.now += delay
        starts.append(clock.now)
    return starts


def max_in_any_window(starts: list[float], window: float) -> int:
    """Largest number of starts in a half-open window [t, t + window) over all t."""
    best = 0
    for i, t in enumerate(starts):
        best = max(best, sum(1 for s in starts[i:] if s < t + window))
    return best


@settings(max_examples=300, deadline=None)
@given(
    per_minute=st.integers(1, 30),
    gaps=st.lists(st.floats(0, 40, allow_nan=False), min_size=1, max_size=120),
)
def test_never_more_than_n_starts_in_any_window(per_minute: int, gaps: list[float]) -> None:
    arrivals = []
    t = 0.0
    for gap in gaps:
        t += gap
        arrivals.append(t)
    starts = serve(arrivals, per_minute)
    assert max_in_any_window(starts, 60.0) <= per_minute
    # ...and nobody waits longer than necessary: each start is the earliest the rule allows
    for k, (arrival, start) in enumerate(zip(sorted(arrivals), starts)):
        earliest = max(arrival, starts[k - 1] if k else arrival)
        if k >= per_minute:
            earliest = max(earliest, starts[k - per_minute] + 60.0)
        assert start == pytest.approx(earliest)


def test_burst_of_25_then_wait_a_minute() -> None:
    starts = serve([0.0] * 60, 25)
    assert starts[:25] == [0.0] * 25
    assert starts[25:50] == [60.0] * 25
    assert starts[50:] == [120.0] * 10


def test_acquire_delay_records_only_granted_starts() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, clock)
    assert limiter.acquire_delay() == 0.0
    clock.now = 10.0
    assert limiter.acquire_delay() == 0.0
    clock.now = 30.0
    assert limiter.acquire_delay() == pytest.approx(30.0)
    assert limiter.acquire_delay() == pytest.approx(30.0)  # asking again books nothing
    assert limiter.starts == (0.0, 10.0)
    clock.now = 60.0
    assert limiter.acquire_delay() == 0.0
    assert limiter.starts == (10.0, 60.0)


def test_invalid_limits() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0, time.monotonic)
    with pytest.raises(ValueError):
        RateLimiter(5, time.monotonic, window_s=0)


def test_async_limiter_is_fair_and_holds_the_limit() -> None:
    """Twelve concurrent tasks at 4 per 0.3 s window: starts come in arrival order, in three
    waves, and no window holds more than four."""

    async def main() -> list[tuple[int, float]]:
        limiter = AsyncRateLimiter(4, window_s=0.3)
        order: list[tuple[int, float]] = []

        async def task(i: int) -> None:
            await limiter.acquire()
            order.append((i, time.monotonic()))

        async with asyncio.TaskGroup() as tg:
            for i in range(12):
                tg.create_task(task(i))
                await asyncio.sleep(0)  # arrival order 0, 1, 2, ...
        return order

    order = asyncio.run(main())
    assert [i for i, _ in order] == list(range(12))
    times = [t for _, t in order]
    assert max_in_any_window(times, 0.3) <= 4
    assert times[-1] - times[0] >= 0.6 - 1e-3
    assert times[-1] - times[0] < 1.5
