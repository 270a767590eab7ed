"""Mono PCM16 as WAV bytes, and where to cut long audio so no word is cut in half.

reference/pulse-stt.md §5 and §12.1: Pulse wants 16 kHz mono 16-bit WAV, refuses bodies over
its size limit with 413, and long requests are best kept under 10 minutes. The cut goes at the
quietest stretch (lowest energy over ~100 ms) in the allowed range, which in a call channel is
a pause between utterances. Pure numpy and the stdlib `wave` module.
"""

from __future__ import annotations

import io
import wave

import numpy as np

FRAME_MS = 20
_SMOOTH_FRAMES = 5  # energy averaged over 100 ms, so a cut lands inside a pause, not a gap


def encode_wav(pcm: np.ndarray, rate: int) -> bytes:
    """A complete RIFF/WAVE file (44-byte header) of mono PCM16 LE."""
    samples = as_mono_int16(pcm)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2", copy=False).tobytes())
    return out.getvalue()


def as_mono_int16(pcm: np.ndarray) -> np.ndarray:
    """The samples as a 1-D int16 array; a single-column 2-D array is accepted."""
    array = np.asarray(pcm)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"Pulse takes mono audio only; got an array of shape {array.shape}")
    if array.dtype != np.int16:
        raise ValueError(f"expected int16 PCM, got {array.dtype}")
    return array


def quietest_cut(pcm: np.ndarray, rate: int, lo: int, hi: int) -> int:
    """A sample index in [lo, hi] at the centre of the quietest stretch (energy over ~100 ms);
    among equally quiet stretches, the one nearest the middle of the range."""
    lo = max(0, lo)
    hi = min(len(pcm), hi)
    if hi <= lo:
        return lo
    frame = max(1, rate * FRAME_MS // 1000)
    first = -(-lo // frame)  # first whole frame starting at or after lo
    last = hi // frame  # frames whose start is <= hi
    if last - first < 1:
        return (lo + hi) // 2
    region = pcm[first * frame : last * frame].astype(np.float64)
    energy = (region.reshape(-1, frame) ** 2).mean(axis=1)
    shift = 0
    if len(energy) >= _SMOOTH_FRAMES:
        kernel = np.ones(_SMOOTH_FRAMES) / _SMOOTH_FRAMES
        energy = np.convolve(energy, kernel, mode="valid")
        shift = _SMOOTH_FRAMES // 2  # window i covers frames i..i+4; its centre is i+2
    quiet = energy <= energy.min() * (1 + 1e-9) + 1e-9
    # Runs of equally quiet windows are pauses; cut at the centre of the run nearest the
    # middle of the range, as far from the speech on either side as possible.
    edges = np.flatnonzero(np.diff(np.concatenate(([0], quiet.view(np.int8), [0]))))
    run_starts, run_ends = edges[0::2], edges[1::2]  # [start, end) window indices
    centres = (first + shift + (run_starts + run_ends - 1) / 2) * frame + frame // 2
    middle = (lo + hi) / 2
    best = int(centres[np.argmin(np.abs(centres - middle))])
    return min(max(best, lo), hi)


def plan_pieces(pcm: np.ndarray, rate: int, max_samples: int) -> list[tuple[int, int]]:
    """[start, end) sample ranges covering `pcm` in order, each at most `max_samples` long,
    cut at quiet places in the second half of each allowed span."""
    if max_samples < 2:
        raise ValueError("max_samples must be >= 2")
    total = len(pcm)
    pieces: list[tuple[int, int]] = []
    start = 0
    while total - start > max_samples:
        cut = quietest_cut(pcm, rate, start + max_samples // 2, start + max_samples)
        cut = min(max(cut, start + 1), start + max_samples)
        pieces.append((start, cut))
        start = cut
    pieces.append((start, total))
    return pieces


Span = tuple[int, int]


def halve(pcm: np.ndarray, rate: int, start: int, end: int) -> tuple[Span, Span]:
    """Two pieces of [start, end) cut at its quietest place in the middle half."""
    length = end - start
    cut = quietest_cut(pcm, rate, start + length // 4, start + (3 * length) // 4)
    cut = min(max(cut, start + 1), end - 1)
    return (start, cut), (cut, end)
