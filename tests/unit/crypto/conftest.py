"""Fixtures for crypto tests: deterministic randomness, so vectors are reproducible."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest


class FixedRng:
    """Deterministic stand-in for ``os.urandom``: SHA-256 blocks of (seed, call number)."""

    def __init__(self, seed: bytes) -> None:
        self.seed = seed
        self.calls: list[int] = []

    def __call__(self, n: int) -> bytes:
        call = len(self.calls)
        self.calls.append(n)
        out = b""
        block = 0
        while len(out) < n:
            out += hashlib.sha256(self.seed + call.to_bytes(4, "big") + block.to_bytes(4, "big")).digest()
            block += 1
        return out[:n]


@pytest.fixture
def fixed_rng() -> Callable[[bytes], FixedRng]:
    return FixedRng
