"""The audio function changes the samples inside the padded spans and provably nothing else."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.errors import RedactionError
from recorder.redact import bleep_pcm, padded_sample_ranges


def _outside_mask(n: int, ranges: list[tuple[int, int]]) -> np.ndarray:
    mask = np.ones(n, dtype=bool)
    for lo, hi in ranges:
        mask[lo:hi] = False
    return mask


spans_st = st.lists(st.tuples(st.floats(0, 1200), st.floats(0, 300)).map(lambda t: (t[0], t[0] + t[1])),
                    max_size=5)


@settings(max_examples=100, deadline=None)
@given(spans_st, st.sampled_from([8000, 16000, 48000]), st.floats(0, 100),
       st.sampled_from(["tone", "silence"]), st.integers(0, 2**32 - 1))
def test_only_samples_inside_padded_spans_change(spans, rate, pad, mode, seed) -> None:
    rng = np.random.default_rng(seed)
    pcm = rng.integers(-32768, 32767, size=rate, dtype=np.int16)  # one second of noise
    original = pcm.copy()
    out = bleep_pcm(pcm, rate, spans, mode=mode, pad_ms=pad)
    assert np.array_equal(pcm, original), "input must not be modified"
    ranges = padded_sample_ranges(len(pcm), rate, spans, pad)
    outside = _outside_mask(len(pcm), ranges)
    assert np.array_equal(out[outside], original[outside])  # every other sample, compared
    for lo, hi in ranges:
        if mode == "silence":
            assert not out[lo:hi].any()
        else:
            assert np.abs(out[lo:hi]).max() <= int(0.25 * 32767) + 1
    for start, end in spans:  # each span, padded, lies inside the changed ranges
        lo = max(0, int((start - pad) * rate / 1000))
        hi = min(len(pcm), int((end + pad) * rate / 1000))
        assert not outside[lo:hi].any()


def test_tone_is_one_kilohertz_and_bytes_and_stereo_work() -> None:
    rate = 16000
    pcm = np.zeros(rate, dtype=np.int16)
    out = bleep_pcm(pcm, rate, [(250, 750)], "tone", pad_ms=0)
    seg = out[4000:12000].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(seg))
    assert np.argmax(spectrum) * rate / len(seg) == pytest.approx(1000, abs=2)
    assert not out[:4000].any() and not out[12000:].any()
    raw = bleep_pcm(pcm.tobytes(), rate, [(250, 750)], "tone", pad_ms=0)
    assert raw == out.tobytes()
    stereo = np.stack([pcm, pcm], axis=1)
    out2 = bleep_pcm(stereo, rate, [(250, 750)], "silence", pad_ms=10)
    assert out2.shape == stereo.shape


def test_bad_arguments_raise_redaction_error() -> None:
    pcm = np.zeros(10, dtype=np.int16)
    with pytest.raises(RedactionError):
        bleep_pcm(pcm, 16000, [(10, 5)])
    with pytest.raises(RedactionError):
        bleep_pcm(pcm, 16000, [], mode="beep")  # type: ignore[arg-type]
    with pytest.raises(RedactionError):
        bleep_pcm(pcm.astype(np.float32), 16000, [])  # type: ignore[arg-type]
