"""Units that keep sample-rate mistakes out of the timeline."""

from __future__ import annotations

from typing import NewType

Hz = NewType("Hz", int)
Samples = NewType("Samples", int)
Millis = NewType("Millis", float)
Nanos = NewType("Nanos", int)

CALLER_RATE = Hz(16_000)
AGENT_RATE = Hz(48_000)
BYTES_PER_SAMPLE = 2


def samples_at(ns: int, rate: int) -> Samples:
    """Position on a clock of `rate` Hz, `ns` nanoseconds after its origin (floored)."""
    return Samples(ns * rate // 1_000_000_000)


def ms_of_samples(samples: int, rate: int) -> Millis:
    return Millis(samples * 1000 / rate)


def ms_of_ns(ns: int) -> Millis:
    return Millis(ns / 1_000_000)
