"""Render what the caller heard from capture records, in bounded memory.

Input is the journal's view of a call: ``AudioRecord``/``FrameRecord`` in arrival order (plus the
``CloseRecord`` if the call ended cleanly). They are replayed into a fresh ``CaptureSession``,
whose timeline says where every source sample lands; this module only turns that into audio:

* stereo int16 at the archive rate: left = caller (16 kHz), resampled with soxr one contiguous
  run at a time (a run is laid without gaps, so it is one stream: no edge artefacts at frame
  boundaries), right = agent as heard, bit-exact when the archive rate is 48 kHz (otherwise
  resampled per contiguous run like the caller);
* the ``unplayed`` track (mono): every cut tail, in the order cut, with an index;
* the event log: one JSON line per frame (audio frames as metadata only) and one for the close;
* the alignment manifest: rates, gaps, drift, cuts, the unplayed index, caller runs.

Two passes over the records, so a call of any length renders in bounded memory:

1. ``plan``: replay the records; keep the summary and the timeline (placements only, no PCM)
   and write the event log line by line as it goes.
2. ``render_audio``: the records again, in order (it takes a factory of fresh iterators).
   Each channel turns the frames the timeline placed into samples at their positions (soxr's streaming resampler gives the very samples
   of a one-shot resample of the run); the stereo recording is handed out block by block as
   far as both channels are final, the unplayed track piece by piece in the order cut.

What is held at once: one block, the audio one channel has laid ahead of the point where the
other is final (agent audio delivered ahead of playout: seconds), and unplayed pieces cut out of
arrival order. A channel more than ``MAX_LEAD`` samples ahead (a caller sending far faster
than real time) gets a pass of its own, so the lead never grows past that.

Replay sequence numbers are the index of each record among the audio and frame records given,
so the render is consistent with its own replay even if the journal lost a record.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

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
from recorder.capture.session import Captured, CaptureSettings, replay
from recorder.capture.timeline import CutPolicy, Segment, Timeline, UnplayedSegment
from recorder.errors import RecorderError
from recorder.units import AGENT_RATE, CALLER_RATE

Int16Array = npt.NDArray[np.int16]
DEFAULT_ARCHIVE_RATE = 48000
RESAMPLER_QUALITY = "HQ"
FLAC_COMPRESSION = 0.5  # libFLAC level 4: a fifth faster than libsndfile's default 5, <1 % larger
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


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the same value always gives the same bytes."""
    return _CANONICAL.encode(value).encode("utf-8")


def _pcm(record: AudioRecord) -> npt.NDArray[np.int16]:
    return np.frombuffer(record.pcm, dtype="<i2", count=record.samples).astype(np.int16, copy=False)


def _to_int16(samples: npt.NDArray[np.float32]) -> Int16Array:
    return np.clip(np.rint(samples), -32768, 32767).astype(np.int16)


def _fit(samples: Int16Array, length: int) -> Int16Array:
    """Padded with silence or trimmed to exactly ``length``."""
    out = np.zeros(length, dtype=np.int16)
    n = min(length, len(samples))
    out[:n] = samples[:n]
    return out


def _resample(pcm: npt.NDArray[np.int16], src_rate: int, rate: int, length: int) -> Int16Array:
    """One short stream through soxr at once (an unplayed piece), fitted to ``length``."""
    if src_rate == rate and len(pcm) == length:
        return pcm.astype(np.int16, copy=True)
    if len(pcm) == 0:
        return np.zeros(length, dtype=np.int16)
    out = soxr.resample(pcm.astype(np.float32), src_rate, rate, quality=RESAMPLER_QUALITY)
    return _fit(_to_int16(np.asarray(out, dtype=np.float32)), length)


def _runs(segments: Iterable[Segment]) -> Iterator[list[Segment]]:
    """Group segments laid end to end: each group is heard as one uninterrupted stream."""
    run: list[Segment] = []
    for seg in segments:
        if run and run[-1].end != seg.start:
            yield run
            run = []
        run.append(seg)
    if run:
        yield run


def _audio(seq: int, record: AudioRecord | FrameRecord, direction: Direction) -> AudioRecord:
    if not isinstance(record, AudioRecord) or record.direction is not direction:
        raise RenderError(f"timeline names frame {seq} as {direction} audio, but it is not")
    return record


# --- pass 1: the plan ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallPlan:
    """What the replay says about a call, without its audio: enough to write everything but PCM."""

    archive_rate: int
    summary: CallSummary
    timeline: Timeline
    close: CloseRecord | None
    frames: int  # audio and frame records replayed

    @property
    def duration_ms(self) -> float:
        return self.timeline.end * 1000 / self.archive_rate

    def alignment(self) -> dict[str, Any]:
        return _alignment(self.timeline, self.close)

    def write_alignment(self, write: Callable[[bytes], object]) -> None:
        """``canonical_json(self.alignment())`` in pieces: its long lists (a run per caller
        frame when the caller sends faster than real time) are never whole in memory."""
        _write_canonical(_alignment(self.timeline, self.close, listed=_Listed), write)


def plan(
    records: Iterable[object],
    *,
    close: CloseRecord | None = None,
    archive_rate: int = DEFAULT_ARCHIVE_RATE,
    gap_threshold_ms: float = 250.0,
    cut_policy: CutPolicy = CutPolicy(),
    pci_tools: tuple[str, ...] = (),
    events: Callable[[bytes], object] | None = None,
) -> CallPlan:
    """Pass 1: replay ``records``; each event log line goes to ``events`` as it is made.

    A ``CloseRecord`` among ``records`` is used when ``close`` is not given; timeline records
    are ignored (the replay derives them again). ``Captured`` records made with these very
    settings are not replayed: the session that made them already holds what a replay would.
    """
    found = close
    count = 0

    def frames_then_close() -> Iterator[AudioRecord | FrameRecord | CloseRecord]:
        nonlocal found, count
        for r in records:
            if isinstance(r, (AudioRecord, FrameRecord)):
                if events is not None:
                    events(_event_bytes(count, r))
                count += 1
                yield r
            elif isinstance(r, CloseRecord) and found is None:
                found = r
        if found is not None:
            yield found

    settings = CaptureSettings(gap_threshold_ms, archive_rate, cut_policy, tuple(pci_tools))
    if isinstance(records, Captured) and records.settings == settings:
        # the session that made the records is already where a replay of them would end up
        for _ in frames_then_close():
            pass
        session = records.session
        if found is not None:
            session.close(found.arrival_ns, code=found.code, reason=found.reason, closed_by=found.closed_by)
    else:
        session = replay(
            frames_then_close(),
            archive_rate=archive_rate, gap_threshold_ms=gap_threshold_ms, cut_policy=cut_policy,
            pci_tools=pci_tools,  # re-derives the PCI pauses (their audio is already silence)
        )
    if events is not None and found is not None:
        events(canonical_json(_close_json(found)) + b"\n")
    return CallPlan(archive_rate, session.summary(), session.timeline(), found, count)


# --- pass 2: the audio ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Run:
    """Source samples heard as one stream, laid on ``length`` samples from ``start``.

    ``pieces`` maps a frame to the (offset, count) of its samples the run takes; None means all
    samples of every ``direction`` audio frame in ``first_seq..last_seq`` (the caller)."""

    start: int
    length: int
    src_samples: int
    first_seq: int
    last_seq: int
    pieces: dict[int, tuple[int, int]] | None

    @property
    def end(self) -> int:
        return self.start + self.length


_BATCH = 8192  # source samples handed to the resampler at once


class _Channel:
    """One channel of the stereo recording, fed frames in arrival order, read in position order.

    Runs are laid in position order as their frames arrive; everything before ``final`` will
    not change, and ``take`` hands it out (silence where nothing was laid).
    """

    def __init__(self, runs: Iterable[_Run], direction: Direction, src_rate: int, rate: int, end: int) -> None:
        self.direction = direction
        self.src_rate = src_rate
        self.rate = rate
        self.end = end
        self._runs = iter(runs)  # made as needed: a long call's runs are not all held at once
        self._run = self._next_run()  # the run being laid
        self._fed = 0  # its source samples so far
        self._laid = 0  # its archive samples so far
        self._stream: soxr.ResampleStream | None = None
        self._batch: list[npt.NDArray[np.int16]] = []  # source samples not yet laid
        self._batched = 0
        self._laid_audio: deque[tuple[int, Int16Array]] = deque()  # (position, samples), in order
        self._cursor = 0  # samples handed out by ``take``
        self.held = 0  # samples in ``_laid_audio``

    def _next_run(self) -> _Run | None:
        run = next(self._runs, None)
        if run is not None and (run.start < 0 or run.end > self.end):
            raise RenderError(f"audio at {run.start}+{run.length} falls outside the recording")
        return run

    @property
    def final(self) -> int:
        """Every sample before this position is final."""
        return self.end if self._run is None else self._run.start + self._laid

    def feed(self, seq: int, record: AudioRecord | FrameRecord) -> None:
        run = self._run
        if run is not None and run.last_seq < seq:
            self._fail(run)
        if run is None or seq < run.first_seq:
            return
        if run.pieces is None:
            if not isinstance(record, AudioRecord) or record.direction is not self.direction:
                return
            pcm = _pcm(record)
        else:
            piece = run.pieces.get(seq)
            if piece is None:
                return
            offset, count = piece
            pcm = _pcm(_audio(seq, record, self.direction))[offset : offset + count]
            if len(pcm) != count:
                raise RenderError(f"agent frame {seq} lacks samples {offset}..{offset + count}")
        self._fed += len(pcm)
        if self._fed > run.src_samples:
            self._fail(run)
        self._batch.append(pcm)
        self._batched += len(pcm)
        if self._fed == run.src_samples:
            self._lay(run, last=True)
            self._run = self._next_run()
            self._fed = self._laid = 0
            self._stream = None
        elif self._batched >= _BATCH:
            self._lay(run, last=False)

    def _lay(self, run: _Run, *, last: bool) -> None:
        """Lay the batched source samples (the resampler's output does not depend on batching)."""
        pcm = self._batch[0] if len(self._batch) == 1 else np.concatenate(self._batch)
        self._batch.clear()
        self._batched = 0
        if self.src_rate == self.rate and run.length == run.src_samples:
            out = pcm  # bit-exact
        else:
            if self._stream is None:
                self._stream = soxr.ResampleStream(
                    self.src_rate, self.rate, 1, dtype="float32", quality=RESAMPLER_QUALITY
                )
            out = _to_int16(self._stream.resample_chunk(pcm.astype(np.float32), last=last))
        out = out[: run.length - self._laid]
        if len(out):
            self._laid_audio.append((run.start + self._laid, out))
            self._laid += len(out)
            self.held += len(out)

    def _fail(self, run: _Run) -> None:
        if run.pieces is None:
            raise RenderError(
                f"caller frames {run.first_seq}..{run.last_seq} hold {self._fed}+ samples, "
                f"the timeline laid {run.src_samples}"
            )
        missing = sorted(run.pieces)[-1] if self._fed else run.first_seq
        raise RenderError(f"timeline names frame {missing} as {self.direction} audio, but it is not")

    def finish(self) -> None:
        """All frames were fed: any run not complete means the records contradict the timeline."""
        if self._run is not None:
            self._fail(self._run)

    def take(self, n: int) -> Int16Array:
        """The next ``n`` final samples."""
        lo, hi = self._cursor, self._cursor + n
        block = np.zeros(n, dtype=np.int16)
        laid = self._laid_audio
        while laid and laid[0][0] < hi:
            pos, samples = laid.popleft()
            block[pos - lo : pos - lo + len(samples)] = samples[: hi - pos]
            self.held -= min(len(samples), hi - pos)
            if pos + len(samples) > hi:
                laid.appendleft((hi, samples[hi - pos :]))
                break
        self._cursor = hi
        return block


def _caller_runs(timeline: Timeline) -> Iterator[_Run]:
    for run in _runs(timeline.caller):
        yield _Run(run[0].start, run[-1].end - run[0].start, sum(s.src_samples for s in run),
                   run[0].first_seq, run[-1].last_seq, None)


def _agent_runs(timeline: Timeline) -> Iterator[_Run]:
    exact = timeline.archive_rate == AGENT_RATE  # bit-exact: every heard delta copied to its place
    for group in ([s] for s in timeline.agent) if exact else _runs(timeline.agent):
        for s in group:
            if exact and s.length != s.src_samples:
                raise RenderError(f"agent frame {s.first_seq} laid {s.length} of {s.src_samples} samples")
        yield _Run(group[0].start, group[-1].end - group[0].start, sum(s.src_samples for s in group),
                   group[0].first_seq, group[-1].last_seq,
                   {s.first_seq: (s.src_offset, s.src_samples) for s in group})


class _Unplayed:
    """The unplayed track: pieces come in arrival order and leave in the order they were cut."""

    def __init__(self, pieces: Sequence[UnplayedSegment], rate: int) -> None:
        self.pieces = pieces
        self.rate = rate
        self._by_seq: dict[int, list[int]] = {}
        for i, u in enumerate(pieces):
            self._by_seq.setdefault(u.seq, []).append(i)
        self._ready: dict[int, Int16Array] = {}
        self._next = 0

    def feed(self, seq: int, record: AudioRecord | FrameRecord) -> list[Int16Array]:
        for i in self._by_seq.get(seq, ()):
            u = self.pieces[i]
            pcm = _pcm(_audio(seq, record, Direction.S2C))[u.src_offset : u.src_offset + u.src_samples]
            if len(pcm) != u.src_samples:
                raise RenderError(f"agent frame {seq} lacks samples {u.src_offset}..{u.src_offset + u.src_samples}")
            self._ready[i] = _resample(pcm, AGENT_RATE, self.rate, u.length)
        out: list[Int16Array] = []
        while self._next in self._ready:
            out.append(self._ready.pop(self._next))
            self._next += 1
        return out

    def finish(self) -> None:
        if self._next < len(self.pieces):
            seq = self.pieces[self._next].seq
            raise RenderError(f"timeline names frame {seq} as {Direction.S2C} audio, but it is not")


class SeekableSink(Protocol):
    """Where an encoder writes: appends, and may seek back to patch what it wrote."""

    def write(self, data: bytes, /) -> int: ...

    def seek(self, offset: int, whence: int = ..., /) -> int: ...

    def tell(self) -> int: ...


BLOCK = 1 << 16  # samples per stereo block handed to the encoder (~1.4 s at 48 kHz)
MAX_LEAD = 1 << 22  # samples one channel may hold ahead of the other (~87 s, 8 MB at 48 kHz)


class _Frames:
    """One pass over the audio and frame records, numbered as the replay numbers them."""

    def __init__(self, records: Iterable[object], *, after: int = -1) -> None:
        self._it = iter(records)
        self.seq = -1  # the last one handed out
        self._after = after

    def next(self) -> tuple[int, AudioRecord | FrameRecord] | None:
        for r in self._it:
            if isinstance(r, (AudioRecord, FrameRecord)):
                self.seq += 1
                if self.seq > self._after:
                    return self.seq, r
        return None


def render_audio(
    records: Callable[[], Iterable[object]],
    call: CallPlan,
    recording: Callable[[Int16Array], object],
    unplayed: Callable[[Int16Array], object],
    *,
    block: int = BLOCK,
    max_lead: int = MAX_LEAD,
) -> None:
    """Pass 2 over ``records()``: stereo blocks (n, 2) go to ``recording`` in order, the unplayed
    track's pieces to ``unplayed`` in order. Raises ``RenderError`` if the records contradict
    the plan (a different iterator, or a damaged journal).

    One pass feeds both channels. Should one channel hold more than ``max_lead`` samples of
    audio ahead of the other (a caller sending far faster than real time), it gets a pass of
    its own from where it stands (``records()`` is called once more) and from then on each
    channel reads only as far as the block being written needs: memory stays bounded.
    """
    t = call.timeline
    rate = t.archive_rate
    left = _Channel(_caller_runs(t), Direction.C2S, CALLER_RATE, rate, t.end)
    right = _Channel(_agent_runs(t), Direction.S2C, AGENT_RATE, rate, t.end)
    cut = _Unplayed(t.unplayed, rate)
    shared = _Frames(records())
    own: dict[int, _Frames] = {}  # id of a channel that left the shared pass -> its own pass

    def feed_shared() -> bool:
        item = shared.next()
        if item is None:
            return False
        seq, r = item
        for ch in (left, right):
            if id(ch) not in own:
                ch.feed(seq, r)
                if ch.held > max_lead:
                    own[id(ch)] = _Frames(records(), after=seq)
        for piece in cut.feed(seq, r):
            unplayed(piece)
        return True

    def advance(ch: _Channel, target: int) -> None:
        while ch.final < target:
            mine = own.get(id(ch))
            if mine is None:
                if not feed_shared():
                    return
            else:
                item = mine.next()
                if item is None:
                    return
                ch.feed(*item)

    written = 0
    while written < t.end:
        target = min(written + block, t.end)
        advance(left, target)
        advance(right, target)
        if min(left.final, right.final) < target:
            break  # the records ran out: ``finish`` says what is missing
        caller = left.take(target - written)
        for pause in t.pauses:  # PCI pause: exact silence, no resampler ringing from its edges
            lo, hi = max(pause.position, written), min(pause.position + pause.length, target)
            if lo < hi:
                caller[lo - written : hi - written] = 0
        recording(np.column_stack((caller, right.take(target - written))))
        written = target
    while feed_shared():  # the rest: unplayed pieces, and checking nothing is left over
        pass
    for ch in (left, right):
        mine = own.get(id(ch))
        while mine is not None and (item := mine.next()) is not None:
            ch.feed(*item)
        ch.finish()
    cut.finish()


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


_json_str = json.encoder.encode_basestring  # what canonical_json writes a str with (ensure_ascii=False)
_json_int = int.__repr__  # ... an int, and a float: the encoder's own choices, even for subclasses
_json_float = float.__repr__


def _json_opt(value: str | None) -> str:
    return "null" if value is None else _json_str(value)


def _event_bytes(seq: int, r: AudioRecord | FrameRecord) -> bytes:
    """``canonical_json(_event_line(seq, r)) + b"\n"``, byte for byte; an audio frame's line (the
    most frequent by far) is written directly, keys in sorted order, without building a dict."""
    if not (isinstance(r, AudioRecord) and type(r.before_configured) is bool and type(r.discarded) is bool
            and type(r.start) is int and type(r.length) is int and type(r.sample_rate) is int):
        return canonical_json(_event_line(seq, r)) + b"\n"
    line = (
        f'{{"arrival_ms":{_json_float(_ms(r.arrival_ns))},'
        f'"before_configured":{"true" if r.before_configured else "false"},'
        f'"bytes":{_json_int(len(r.pcm))},"channel":{_json_str(str(r.channel))},'
        f'"dir":{_json_str(str(r.direction))},"discarded":{"true" if r.discarded else "false"},'
        f'"event_id":{_json_opt(r.event_id)},"item_id":{_json_opt(r.item_id)},"kind":"audio",'
        f'"length":{_json_int(r.length)},"response_id":{_json_opt(r.response_id)},'
        f'"sample_rate":{_json_int(r.sample_rate)},"samples":{_json_int(r.samples)},'
        f'"seq":{_json_int(seq)},"start":{_json_int(r.start)}}}\n'
    )
    return line.encode("utf-8")


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
        **({"cause": e.cause} if e.cause is not None else {}),
    }


class _Listed:
    """A list of an alignment document that ``_write_canonical`` writes item by item."""

    __slots__ = ("items",)

    def __init__(self, items: Iterable[Any]) -> None:
        self.items = items


def _write_canonical(doc: dict[str, Any], write: Callable[[bytes], object], batch: int = 512) -> None:
    """The bytes of ``canonical_json`` for ``doc`` with its ``_Listed`` values made as written."""
    write(b"{")
    for i, key in enumerate(sorted(doc)):
        write((b"," if i else b"") + canonical_json(key) + b":")
        value = doc[key]
        if not isinstance(value, _Listed):
            write(canonical_json(value))
            continue
        items, separator = iter(value.items), b""
        write(b"[")
        while chunk := [canonical_json(item) for item in itertools.islice(items, batch)]:
            write(separator + b",".join(chunk))
            separator = b","
        write(b"]")
    write(b"}")


def _alignment(
    timeline: Timeline, close: CloseRecord | None, listed: Callable[[Iterable[Any]], Any] = list
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
        "gaps": listed(_fact(e) for e in timeline.gaps),
        "drifts": listed(_fact(e) for e in timeline.drifts),
        "cuts": listed(_fact(e) for e in timeline.cuts),
        "pauses": listed(_fact(e) for e in timeline.pauses),  # PCI pauses: caller silenced on purpose
        "caller_runs": listed(
            {"start": r.start, "length": r.length, "src_samples": r.src_samples,
             "first_seq": r.first_seq, "last_seq": r.last_seq}
            for r in _caller_runs(timeline)
        ),
        "agent_segments": len(timeline.agent),
        "unplayed_samples": timeline.unplayed_length,
        "unplayed": listed(
            {"seq": u.seq, "response_id": u.response_id, "cut_position": u.cut_position,
             "trigger": None if u.trigger is None else str(u.trigger),
             "scheduled_start": u.scheduled_start, "offset": u.track_offset, "length": u.length,
             "src_offset": u.src_offset, "src_samples": u.src_samples}
            for u in timeline.unplayed
        ),
        "close": None if close is None else _close_json(close),
    }


def render(
    records: Iterable[object],
    *,
    close: CloseRecord | None = None,
    archive_rate: int = DEFAULT_ARCHIVE_RATE,
    gap_threshold_ms: float = 250.0,
    cut_policy: CutPolicy = CutPolicy(),
    pci_tools: tuple[str, ...] = (),
) -> RenderedCall:
    """Both passes into memory: for short calls and tests (the archive streams instead)."""
    items = list(records)
    events = io.BytesIO()
    call = plan(items, close=close, archive_rate=archive_rate, gap_threshold_ms=gap_threshold_ms,
                cut_policy=cut_policy, pci_tools=pci_tools, events=events.write)
    stereo: list[Int16Array] = [np.zeros((0, 2), dtype=np.int16)]
    unplayed: list[Int16Array] = [np.zeros(0, dtype=np.int16)]
    render_audio(lambda: items, call, stereo.append, unplayed.append)
    return RenderedCall(
        archive_rate=archive_rate,
        summary=call.summary,
        timeline=call.timeline,
        stereo=np.concatenate(stereo),
        unplayed=np.concatenate(unplayed),
        events=events.getvalue(),
        alignment=call.alignment(),
    )


@contextmanager
def flac_writer(dst: SeekableSink, rate: int, channels: int) -> Iterator[Callable[[Int16Array], None]]:
    """A 16-bit FLAC encoder writing to ``dst`` block by block (``dst`` must allow the encoder
    to rewrite its header at the end: a file, or ``age.AgeWriter``). libsndfile cannot write
    an empty FLAC, so an empty track holds one sample of silence (its true length is in the
    alignment manifest)."""
    written = 0

    def write(samples: Int16Array) -> None:
        nonlocal written
        f.write(samples)
        written += len(samples)

    with soundfile.SoundFile(
        dst, "w", rate, channels, "PCM_16", format="FLAC", compression_level=FLAC_COMPRESSION
    ) as f:
        yield write
        if written == 0:
            f.write(np.zeros((1,) if channels == 1 else (1, channels), dtype=np.int16))


def encode_flac(samples: npt.NDArray[np.int16], rate: int) -> bytes:
    """16-bit FLAC in memory (see ``flac_writer``)."""
    buf = io.BytesIO()
    with flac_writer(buf, rate, 1 if samples.ndim == 1 else samples.shape[1]) as write:
        write(samples)
    return buf.getvalue()


def decode_flac(data: bytes) -> tuple[Int16Array, int]:
    """The int16 samples and rate of an in-memory FLAC (for export and tests)."""
    samples, rate = soundfile.read(io.BytesIO(data), dtype="int16", always_2d=False)
    return np.asarray(samples, dtype=np.int16), int(rate)
