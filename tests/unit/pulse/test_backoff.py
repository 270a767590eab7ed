"""Full-jitter exponential back-off and Retry-After precedence, with a seeded rng."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recorder.pulse.backoff import Backoff


def test_ceiling_doubles_from_half_a_second_and_caps_at_30() -> None:
    b = Backoff(rng=random.Random(1))
    assert [b.ceiling(a) for a in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert b.ceiling(10_000) == 30


@given(attempt=st.integers(0, 200), seed=st.integers(0, 2**32))
def test_delay_within_zero_and_ceiling(attempt: int, seed: int) -> None:
    b = Backoff(rng=random.Random(seed))
    assert 0.0 <= b.delay(attempt) <= b.ceiling(attempt) <= 30.0


def test_jitter_is_spread_over_the_whole_range() -> None:
    """Full jitter: draws fill [0, ceiling], not a band near the top."""
    b = Backoff(rng=random.Random(42))
    draws = [b.delay(4) for _ in range(2000)]  # ceiling 8 s
    assert min(draws) < 0.5 and max(draws) > 7.5
    assert 3.6 < sum(draws) / len(draws) < 4.4


def test_same_seed_same_delays() -> None:
    one = Backoff(rng=random.Random(7))
    two = Backoff(rng=random.Random(7))
    assert [one.delay(a) for a in range(10)] == [two.delay(a) for a in range(10)]


@given(attempt=st.integers(0, 50), retry_after=st.floats(0, 300), seed=st.integers(0, 2**32))
def test_retry_after_wins_over_the_exponential_delay(
    attempt: int, retry_after: float, seed: int
) -> None:
    b = Backoff(rng=random.Random(seed))
    delay = b.delay(attempt, retry_after)
    assert retry_after <= delay <= retry_after * 1.1
    # even above the 30 s cap: the server knows when it will take us back
    assert Backoff(rng=random.Random(seed)).delay(0, 120.0) >= 120.0


def test_retry_after_is_bounded_and_zero_means_now() -> None:
    b = Backoff(rng=random.Random(3), max_retry_after_s=60)
    assert 60 <= b.delay(0, 3600) <= 66
    assert b.delay(5, 0.0) == 0.0


def test_invalid_configuration() -> None:
    with pytest.raises(ValueError):
        Backoff(base_s=0, rng=random.Random())
    with pytest.raises(ValueError):
        Backoff(base_s=40, cap_s=30, rng=random.Random())
    with pytest.raises(ValueError):
        Backoff(rng=random.Random()).ceiling(-1)
