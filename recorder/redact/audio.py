"""Bleeping or silencing PCM over redacted spans, and nothing else.

Spans come in milliseconds (from `redact_words`); each is padded by `pad_ms` on both sides,
because STT word timings are approximate, then converted to sample ranges. Samples outside the
padded ranges are copied untouched: the derivative must stay aligned with the original.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, overload

import numpy as np
import numpy.typing as npt

from recorder.errors import RedactionError

TONE_HZ = 1000.0
TONE_LEVEL = 0.25  # of full scale: clearly audible, never clipping
DEFAULT_PAD_MS = 60.0


def padded_sample_ranges(
    n_samples: int, rate: int, spans_ms: Sequence[tuple[float, float]], pad_ms: float
) -> list[tuple[int, int]]:
    """Merged half-open sample ranges covering each span widened by `pad_ms`, clipped to the PCM."""
    if rate <= 0:
        raise RedactionError(f"sample rate must be positive, got {rate}")
    if pad_ms < 0:
        raise RedactionError(f"pad_ms must not be negative, got {pad_ms}")
    ranges: list[tuple[int, int]] = []
    for start_ms, end_ms in spans_ms:
        if end_ms < start_ms:
            raise RedactionError(f"span ends ({end_ms} ms) before it starts ({start_ms} ms)")
        lo = max(0, math.floor((start_ms - pad_ms) * rate / 1000))
        hi = min(n_samples, math.ceil((end_ms + pad_ms) * rate / 1000))
        if lo < hi:
            ranges.append((lo, hi))
    ranges.sort()
    merged: list[tuple[int, int]] = []
    for lo, hi in ranges:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


@overload
def bleep_pcm(pcm: bytes, rate: int, spans_ms: Sequence[tuple[float, float]],
              mode: Literal["tone", "silence"] = ..., pad_ms: float = ...) -> bytes: ...
@overload
def bleep_pcm(pcm: npt.NDArray[np.int16], rate: int, spans_ms: Sequence[tuple[float, float]],
              mode: Literal["tone", "silence"] = ..., pad_ms: float = ...) -> npt.NDArray[np.int16]: ...


def bleep_pcm(
    pcm: bytes | npt.NDArray[np.int16],
    rate: int,
    spans_ms: Sequence[tuple[float, float]],
    mode: Literal["tone", "silence"] = "tone",
    pad_ms: float = DEFAULT_PAD_MS,
) -> bytes | npt.NDArray[np.int16]:
    """A copy of int16 PCM (1-D, or samples × channels; or little-endian mono bytes) with a
    1 kHz tone or silence over the padded spans. The input is never modified."""
    if mode not in ("tone", "silence"):
        raise RedactionError(f"mode must be 'tone' or 'silence', got {mode!r}")
    as_bytes = isinstance(pcm, (bytes, bytearray, memoryview))
    if as_bytes:
        if len(pcm) % 2:
            raise RedactionError("16-bit PCM must have an even number of bytes")
        samples = np.frombuffer(bytes(pcm), dtype="<i2").astype(np.int16)
    else:
        assert isinstance(pcm, np.ndarray)
        if pcm.dtype != np.int16 or pcm.ndim not in (1, 2):
            raise RedactionError(f"expected int16 PCM of 1 or 2 dimensions, got {pcm.dtype} {pcm.shape}")
        samples = pcm.copy()
    for lo, hi in padded_sample_ranges(samples.shape[0], rate, spans_ms, pad_ms):
        if mode == "silence":
            samples[lo:hi] = 0
            continue
        t = np.arange(lo, hi, dtype=np.float64) / rate
        tone = np.round(np.sin(2 * np.pi * TONE_HZ * t) * TONE_LEVEL * 32767).astype(np.int16)
        samples[lo:hi] = tone if samples.ndim == 1 else tone[:, None]
    if as_bytes:
        return samples.astype("<i2").tobytes()
    return samples
