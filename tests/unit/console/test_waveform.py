"""Waveform peaks: each lane's loudest sample per slice, scaled to 0..1."""

from __future__ import annotations

import numpy as np
import pytest

from recorder.console.waveform import peaks


def test_each_lane_peaks_where_it_is_loud() -> None:
    stereo = np.zeros((48_000, 2), dtype=np.int16)
    stereo[0:4800, 0] = 16384  # caller loud in the first tenth
    stereo[43200:48000, 1] = -32768  # agent at full scale in the last tenth
    p = peaks(stereo, 48_000, buckets=10)
    assert p["duration_ms"] == 1000 and p["buckets"] == 10
    assert p["caller"] == [0.5] + [0.0] * 9
    assert p["agent"] == [0.0] * 9 + [1.0]


def test_a_short_or_empty_recording_gives_no_more_buckets_than_samples() -> None:
    p = peaks(np.array([[100, -200], [0, 0], [300, 0]], dtype=np.int16), 16_000, buckets=1000)
    assert p["buckets"] == 3 and len(p["caller"]) == 3
    empty = peaks(np.zeros((0, 2), dtype=np.int16), 48_000)
    assert empty["duration_ms"] == 0 and empty["caller"] == [0.0]


@pytest.mark.parametrize("buckets", [0, 5000])
def test_bucket_count_is_bounded(buckets: int) -> None:
    with pytest.raises(ValueError, match="buckets"):
        peaks(np.zeros((10, 2), dtype=np.int16), 48_000, buckets=buckets)
