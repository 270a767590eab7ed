"""The former in-memory renderer, kept verbatim as the oracle the streaming render must equal.

It builds every track whole in memory: obviously right, and too big for long calls, which is
why ``recorder.archive.render`` streams. Only tests import it.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import soundfile
import soxr

from recorder.capture.records import (
    AudioRecord,
    CallSummary,
    CloseRecord,
    Direction,
    FrameRecord,
    TimelineRecord,
)
from recorder.capture.session import CaptureSession, replay
from recorder.capture.timeline import CutPolicy, Segment, Timeline
from recorder.errors import RecorderError
from recorder.units import AGENT_RATE, CALLER_RATE

Int16Array = npt.NDArray[np.int16]
DEFAULT_ARCHIVE_RATE = 48000
RESAMPLER_QUALITY = "HQ"
ALIGNMENT_FORMAT = "recorder-alignment/1"


class RenderError(RecorderError):
    """The records contradict their own replay (a bug or a damaged journal); nothing was written."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(f"cannot render the recording: {problem}")


@dataclass(frozen=True, slots=True, repr=False)
class RenderedCall:
    """A rendered call in memory. The repr shows sizes only, never audio or frames."""

    archive_rate: int
    summary: CallSummary
    timeline: Timeline
    stereo: Int16Array  # shape (n, 2): left caller, right agent
    unplayed: Int16Array  # shape (m,)
    events: bytes  # JSON lines
    alignment: dict[str, Any]

    def __repr__(self) -> str:
        return (
            f"RenderedCall(archive_rate={self.archive_rate}, samples={len(self.stereo)}, "
            f"unplayed_samples={len(self.unplayed)}, events=<{len(self.events)} bytes>)"
        )

    @property
    def duration_ms(self) -> float:
        return len(self.stereo) * 1000 / self.archive_rate


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the same value always gives the same bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _pcm(record: AudioRecord) -> npt.NDArray[np.int16]:
    return np.frombuffer(record.pcm, dtype="<i2", count=record.samples).astype(np.int16)


def _to_int16(samples: npt.NDArray[np.float32], length: int) -> Int16Array:
    """Round and clip to int16, padded with silence or trimmed to exactly ``length``."""
    out = np.zeros(length, dtype=np.int16)
    n = min(length, len(samples))
    out[:n] = np.clip(np.rint(samples[:n]), -32768, 32767).astype(np.int16)
    return out


def _resample(pcm: npt.NDArray[np.int16], src_rate: int, rate: int, length: int) -> Int16Array:
    """One stream through soxr, fitted to the ``length`` the timeline gave it."""
    if src_rate == rate and len(pcm) == length:
        return pcm.astype(np.int16, copy=True)
    if len(pcm) == 0:
        return np.zeros(length, dtype=np.int16)
    out = soxr.resample(pcm.astype(np.float32), src_rate, rate, quality=RESAMPLER_QUALITY)
    return _to_int16(np.asarray(out, dtype=np.float32), length)


def _runs(segments: Sequence[Segment]) -> list[list[Segment]]:
    """Group segments laid end to end: each group is heard as one uninterrupted stream."""
    runs: list[list[Segment]] = []
    for seg in segments:
        if runs and runs[-1][-1].end == seg.start:
            runs[-1].append(seg)
        else:
            runs.append([seg])
    return runs


class _Source:
    """The PCM of replayed audio frames, by replay sequence number."""

    def __init__(self, frames: Sequence[AudioRecord | FrameRecord]) -> None:
        self.frames = frames

    def audio(self, seq: int, direction: Direction) -> AudioRecord:
        record = self.frames[seq] if 0 <= seq < len(self.frames) else None
        if not isinstance(record, AudioRecord) or record.direction is not direction:
            raise RenderError(f"timeline names frame {seq} as {direction} audio, but it is not")
        return record

    def caller_pcm(self, seg: Segment) -> npt.NDArray[np.int16]:
        parts = [
            _pcm(r)
            for r in self.frames[seg.first_seq : seg.last_seq + 1]
            if isinstance(r, AudioRecord) and r.direction is Direction.C2S
        ]
        pcm = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
        if len(pcm) != seg.src_samples:
            raise RenderError(
                f"caller frames {seg.first_seq}..{seg.last_seq} hold {len(pcm)} samples, "
                f"the timeline laid {seg.src_samples}"
            )
        return pcm

    def agent_pcm(self, seq: int, offset: int, count: int) -> npt.NDArray[np.int16]:
        pcm = _pcm(self.audio(seq, Direction.S2C))[offset : offset + count]
        if len(pcm) != count:
            raise RenderError(f"agent frame {seq} lacks samples {offset}..{offset + count}")
        return pcm


def _place(track: Int16Array, start: int, samples: Int16Array) -> None:
    if start < 0 or start + len(samples) > len(track):
        raise RenderError(f"audio at {start}+{len(samples)} falls outside the recording")
    track[start : start + len(samples)] = samples


def _render_caller(src: _Source, timeline: Timeline, left: Int16Array) -> list[dict[str, Any]]:
    rate = timeline.archive_rate
    runs: list[dict[str, Any]] = []
    for run in _runs(timeline.caller):
        pcm = np.concatenate([src.caller_pcm(s) for s in run])
        length = run[-1].end - run[0].start
        _place(left, run[0].start, _resample(pcm, CALLER_RATE, rate, length))
        runs.append(
            {"start": run[0].start, "length": length, "src_samples": len(pcm),
             "first_seq": run[0].first_seq, "last_seq": run[-1].last_seq}
        )
    return runs


def _render_agent(src: _Source, timeline: Timeline, right: Int16Array) -> None:
    rate = timeline.archive_rate
    if rate == AGENT_RATE:  # bit-exact: every heard sample copied to its scheduled position
        for s in timeline.agent:
            if s.length != s.src_samples:
                raise RenderError(f"agent frame {s.first_seq} laid {s.length} of {s.src_samples} samples")
            _place(right, s.start, src.agent_pcm(s.first_seq, s.src_offset, s.src_samples))
        return
    for run in _runs(timeline.agent):
        pcm = np.concatenate([src.agent_pcm(s.first_seq, s.src_offset, s.src_samples) for s in run])
        _place(right, run[0].start, _resample(pcm, AGENT_RATE, rate, run[-1].end - run[0].start))


def _render_unplayed(src: _Source, timeline: Timeline) -> tuple[Int16Array, list[dict[str, Any]]]:
    track = np.zeros(timeline.unplayed_length, dtype=np.int16)
    index: list[dict[str, Any]] = []
    for u in timeline.unplayed:
        pcm = src.agent_pcm(u.seq, u.src_offset, u.src_samples)
        _place(track, u.track_offset, _resample(pcm, AGENT_RATE, timeline.archive_rate, u.length))
        index.append(
            {"seq": u.seq, "response_id": u.response_id, "cut_position": u.cut_position,
             "trigger": None if u.trigger is None else str(u.trigger),
             "scheduled_start": u.scheduled_start, "offset": u.track_offset, "length": u.length,
             "src_offset": u.src_offset, "src_samples": u.src_samples}
        )
    return track, index


def _ms(ns: int) -> float:
    return ns / 1_000_000


def _event_line(seq: int, r: AudioRecord | FrameRecord) -> dict[str, Any]:
    line: dict[str, Any] = {"seq": seq, "dir": str(r.direction), "arrival_ms": _ms(r.arrival_ns)}
    if isinstance(r, AudioRecord):
        line.update(
            kind="audio", channel=str(r.channel), bytes=len(r.pcm), samples=r.samples,
            sample_rate=r.sample_rate, start=r.start, length=r.length, event_id=r.event_id,
            response_id=r.response_id, item_id=r.item_id, discarded=r.discarded,
            before_configured=r.before_configured,
        )
        return line
    line.update(kind="frame", type=r.type, unparsed=r.unparsed, unknown=r.unknown)
    if isinstance(r.message, bytes):
        line["binary_b64"] = base64.b64encode(r.message).decode("ascii")
    else:
        line["text"] = r.message
    return line


def event_log(frames: Sequence[AudioRecord | FrameRecord], close: CloseRecord | None) -> bytes:
    """One JSON line per frame (verbatim unless audio), then one for the close, if any."""
    lines = [canonical_json(_event_line(seq, r)) for seq, r in enumerate(frames)]
    if close is not None:
        lines.append(canonical_json(_close_json(close)))
    return b"".join(line + b"\n" for line in lines)


def _close_json(close: CloseRecord) -> dict[str, Any]:
    return {
        "kind": "close", "arrival_ms": _ms(close.arrival_ns), "code": close.code,
        "reason": close.reason, "closed_by": None if close.closed_by is None else str(close.closed_by),
    }


def _fact(e: TimelineRecord) -> dict[str, Any]:
    return {
        "kind": str(e.kind), "channel": str(e.channel), "seq": e.seq, "arrival_ms": _ms(e.arrival_ns),
        "position": e.position, "length": e.length, "response_id": e.response_id,
        "trigger": None if e.trigger is None else str(e.trigger),
    }


def _alignment(
    timeline: Timeline, runs: list[dict[str, Any]], unplayed: list[dict[str, Any]],
    close: CloseRecord | None,
) -> dict[str, Any]:
    rate = timeline.archive_rate
    return {
        "format": ALIGNMENT_FORMAT,
        "archive_rate": rate,
        "caller_rate": CALLER_RATE,
        "agent_rate": AGENT_RATE,
        "agent_bit_exact": rate == AGENT_RATE,
        "resampler": f"soxr {soxr.__version__} {RESAMPLER_QUALITY}",
        "cut_policy": timeline.cut_policy,
        "gap_threshold_samples": timeline.gap_threshold,
        "duration_samples": timeline.end,
        "duration_ms": timeline.end * 1000 / rate,
        "caller_max_drift_samples": timeline.caller_max_drift,
        "gaps": [_fact(e) for e in timeline.gaps],
        "drifts": [_fact(e) for e in timeline.drifts],
        "cuts": [_fact(e) for e in timeline.cuts],
        "pauses": [_fact(e) for e in timeline.pauses],  # PCI pauses (none without pci_tools)
        "caller_runs": runs,
        "agent_segments": len(timeline.agent),
        "unplayed_samples": timeline.unplayed_length,
        "unplayed": unplayed,
        "close": None if close is None else _close_json(close),
    }


def render(
    records: Iterable[object],
    *,
    close: CloseRecord | None = None,
    archive_rate: int = DEFAULT_ARCHIVE_RATE,
    gap_threshold_ms: float = 250.0,
    cut_policy: CutPolicy = CutPolicy(),
) -> RenderedCall:
    """Replay ``records`` (audio and frame records in arrival order) and render the call.

    A ``CloseRecord`` among ``records`` is used when ``close`` is not given; timeline records
    are ignored (the replay derives them again).
    """
    frames: list[AudioRecord | FrameRecord] = []
    for r in records:
        if isinstance(r, (AudioRecord, FrameRecord)):
            frames.append(r)
        elif isinstance(r, CloseRecord) and close is None:
            close = r
    session: CaptureSession = replay(
        [*frames, *([close] if close is not None else [])],
        archive_rate=archive_rate, gap_threshold_ms=gap_threshold_ms, cut_policy=cut_policy,
    )
    timeline = session.timeline()
    src = _Source(frames)
    stereo = np.zeros((timeline.end, 2), dtype=np.int16)
    left = np.zeros(timeline.end, dtype=np.int16)
    right = np.zeros(timeline.end, dtype=np.int16)
    runs = _render_caller(src, timeline, left)
    _render_agent(src, timeline, right)
    stereo[:, 0], stereo[:, 1] = left, right
    unplayed, index = _render_unplayed(src, timeline)
    return RenderedCall(
        archive_rate=archive_rate,
        summary=session.summary(),
        timeline=timeline,
        stereo=stereo,
        unplayed=unplayed,
        events=event_log(frames, close),
        alignment=_alignment(timeline, runs, index, close),
    )


def encode_flac(samples: npt.NDArray[np.int16], rate: int) -> bytes:
    """16-bit FLAC in memory. libsndfile cannot write an empty FLAC, so an empty track holds
    one sample of silence (its true length is in the alignment manifest)."""
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    if len(samples) == 0:
        samples = np.zeros((1,) if channels == 1 else (1, channels), dtype=np.int16)
    buf = io.BytesIO()
    soundfile.write(buf, samples, rate, format="FLAC", subtype="PCM_16")
    return buf.getvalue()


def decode_flac(data: bytes) -> tuple[Int16Array, int]:
    """The int16 samples and rate of an in-memory FLAC (for export and tests)."""
    samples, rate = soundfile.read(io.BytesIO(data), dtype="int16", always_2d=False)
    return np.asarray(samples, dtype=np.int16), int(rate)
