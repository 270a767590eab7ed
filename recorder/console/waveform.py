"""Waveform peaks for the call page, pure: per lane (caller left, agent right), the peak
absolute amplitude in each of ``buckets`` equal slices of the recording, scaled to 0..1."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

MAX_BUCKETS = 4000


def peaks(stereo: npt.NDArray[np.int16], rate: int, buckets: int = 1200) -> dict[str, Any]:
    """``{"rate", "duration_ms", "buckets", "caller": [...], "agent": [...]}`` (3 decimals)."""
    if not 1 <= buckets <= MAX_BUCKETS:
        raise ValueError(f"buckets must be 1..{MAX_BUCKETS}, not {buckets}")
    frames = len(stereo)
    lanes = stereo.reshape(frames, -1) if frames else np.zeros((0, 2), dtype=np.int16)
    n = max(1, min(buckets, frames))
    edges = np.linspace(0, frames, n + 1).astype(np.int64)
    out: dict[str, Any] = {"rate": rate, "duration_ms": frames * 1000 / rate if rate else 0.0, "buckets": n}
    for index, name in enumerate(("caller", "agent")):
        lane = np.abs(lanes[:, min(index, lanes.shape[1] - 1)].astype(np.int32)) if frames else np.zeros(0)
        values = [float(lane[a:b].max()) / 32768 if b > a else 0.0 for a, b in zip(edges[:-1], edges[1:])]
        out[name] = [round(v, 3) for v in values]
    return out
