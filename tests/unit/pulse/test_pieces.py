"""WAV encoding and cutting long audio at its pauses."""

from __future__ import annotations

import io
import itertools
import wave

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.pulse.pieces import (
    as_mono_int16,
    encode_wav,
    halve,
    plan_pieces,
    quietest_cut,
)

RATE = 16_000


def speech_with_pauses(
    seconds: float, pauses: list[tuple[float, float]], seed: int = 0
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pcm = (rng.standard_normal(int(seconds * RATE)) * 3000).astype(np.int16)
    for a, b in pauses:
        pcm[int(a * RATE) : int(b * RATE)] = 0
    return pcm


def test_encode_wav_is_16k_mono_pcm16() -> None:
    pcm = np.arange(-100, 100, dtype=np.int16)
    data = encode_wav(pcm, RATE)
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE" and len(data) == 44 + 400
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, RATE)
        assert np.array_equal(np.frombuffer(w.readframes(200), "<i2"), pcm)


def test_mono_only() -> None:
    with pytest.raises(ValueError):
        as_mono_int16(np.zeros((10, 2), np.int16))
    with pytest.raises(ValueError):
        as_mono_int16(np.zeros(10, np.float32))
    assert as_mono_int16(np.zeros((10, 1), np.int16)).shape == (10,)


def test_quietest_cut_lands_in_the_pause() -> None:
    pcm = speech_with_pauses(10, [(6.2, 6.8)])
    cut = quietest_cut(pcm, RATE, 5 * RATE, 9 * RATE)
    assert abs(cut / RATE - 6.5) <= 0.03  # the middle of the pause, away from both words


def test_quietest_cut_prefers_the_middle_among_equal_pauses() -> None:
    pcm = speech_with_pauses(10, [(1.0, 1.5), (4.8, 5.3), (8.5, 9.0)])
    cut = quietest_cut(pcm, RATE, 0, len(pcm))
    assert 4.8 * RATE < cut < 5.3 * RATE


def test_plan_pieces_cuts_in_pauses_and_covers_everything() -> None:
    pcm = speech_with_pauses(25, [(7.0, 7.5), (15.5, 16.0), (21.0, 21.4)])
    plan = plan_pieces(pcm, RATE, 10 * RATE)
    assert plan[0][0] == 0 and plan[-1][1] == len(pcm)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(plan))
    assert all(end - start <= 10 * RATE for start, end in plan)
    cuts = [end / RATE for _, end in plan[:-1]]
    assert len(cuts) == 2
    assert 7.0 < cuts[0] < 7.5 and 15.5 < cuts[1] < 16.0


def test_halve_cuts_in_the_middle_half() -> None:
    pcm = speech_with_pauses(8, [(3.5, 3.9)])
    (a, cut), (cut2, b) = halve(pcm, RATE, 0, len(pcm))
    assert (a, b) == (0, len(pcm)) and cut == cut2
    assert 3.5 * RATE < cut < 3.9 * RATE


@settings(max_examples=60, deadline=None)
@given(
    seconds=st.floats(0.01, 40),
    max_s=st.floats(0.05, 12),
    seed=st.integers(0, 1000),
)
def test_plan_pieces_law(seconds: float, max_s: float, seed: int) -> None:
    """Pieces tile the audio in order, none longer than the maximum, none empty."""
    pcm = speech_with_pauses(seconds, [], seed)
    max_samples = max(2, int(max_s * RATE))
    plan = plan_pieces(pcm, RATE, max_samples)
    assert plan[0][0] == 0 and plan[-1][1] == len(pcm)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(plan))
    assert all(0 < end - start <= max_samples for start, end in plan) or len(pcm) == 0
