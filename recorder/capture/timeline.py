"""Where each audio frame lands on the archive timeline (reference §14.2).

Invariants (checked by tests/unit/capture/test_laws.py):

* Positions are archive samples on the master clock (time since the session was accepted).
* Caller channel: every caller sample lands exactly once; spans never overlap and only move
  forward. A frame is laid right after the previous one unless it arrives more than the gap
  threshold later, then it is laid at its arrival position and the silence is a GAP. The first
  frame is laid at its arrival position (the call's leading silence is not a gap). A client
  that runs ahead of real time stays contiguous; its lead is reported as DRIFT each time it
  grows by another gap threshold.
* Agent channel (playout model): a response's first delta starts at max(play cursor, arrival);
  its next deltas follow contiguously; a delta arriving after the cursor passed (underrun) is
  laid at its arrival and the silence is a GAP. Heard spans never overlap and only move forward.
* Barge-in: a cut at position c moves every heard source sample of the cut response whose
  archive start is at or after c to the unplayed track, resets the cursor to c, and drops the
  response's later deltas straight onto the unplayed track (the client flushed it). Heard samples + unplayed samples = every agent
  sample received, per delta and per response.
* Rates that do not divide evenly are handled by placing runs of source samples, so spans tile
  exactly (no rounding drift, no sample lost); the archive renderer resamples each run.
"""

from __future__ import annotations

from collections.abc import Callable

from recorder.capture.records import (
    Channel,
    CutTrigger,
    TimelineKind,
    TimelineRecord,
)
from recorder.values import SafeRepr, frozen_value
from recorder.units import AGENT_RATE, CALLER_RATE


@frozen_value
class CutPolicy(SafeRepr):
    """Which events make the modelled client stop playing a response (§10 lists the options).

    The default follows the vendor rule (flush on every ``response.created``) plus the cancelling
    ``response.done`` (the earlier, better estimate), plus hang-up. ``speech_started`` is off:
    the protocol does not say that clients stop there.
    """

    on_response_created: bool = True
    on_cancelled_done: bool = True
    on_speech_started: bool = False
    on_close: bool = True

    def describe(self) -> str:
        """A stable text recorded with each recording so the model is reproducible."""
        names = [
            name
            for name, on in (
                ("response.created", self.on_response_created),
                ("response.done.cancelled", self.on_cancelled_done),
                ("speech_started", self.on_speech_started),
                ("close", self.on_close),
            )
            if on
        ]
        return "cut-on:" + (",".join(names) if names else "none")


@frozen_value
class Segment(SafeRepr):
    """A span of heard audio: ``length`` archive samples at ``start``, made of ``src_samples``
    source samples beginning ``src_offset`` samples into frame ``first_seq``. Caller segments
    may span the contiguous frames ``first_seq..last_seq``; agent segments are one delta each."""

    channel: Channel
    start: int
    length: int
    src_samples: int
    first_seq: int
    last_seq: int
    src_offset: int = 0
    response_id: str | None = None
    before_configured: bool = False

    @property
    def end(self) -> int:
        return self.start + self.length


@frozen_value
class UnplayedSegment(SafeRepr):
    """Agent audio the caller never heard: source samples ``[src_offset, src_offset+src_samples)``
    of delta ``seq``, which had been scheduled at ``scheduled_start``. ``track_offset`` is its
    place on the concatenated unplayed track (archive samples, in order of being cut)."""

    seq: int
    response_id: str | None
    scheduled_start: int
    length: int
    src_offset: int
    src_samples: int
    track_offset: int
    cut_position: int
    trigger: CutTrigger | None


@frozen_value
class Timeline(SafeRepr):
    """Snapshot of both channels, the unplayed track, and every gap, drift and cut."""

    archive_rate: int
    gap_threshold: int  # archive samples
    cut_policy: str
    caller: tuple[Segment, ...]
    agent: tuple[Segment, ...]
    unplayed: tuple[UnplayedSegment, ...]
    events: tuple[TimelineRecord, ...]
    caller_max_drift: int  # archive samples the caller ran ahead of real time, at most

    def _kind(self, kind: TimelineKind) -> tuple[TimelineRecord, ...]:
        return tuple(e for e in self.events if e.kind is kind)

    @property
    def gaps(self) -> tuple[TimelineRecord, ...]:
        return self._kind(TimelineKind.GAP)

    @property
    def drifts(self) -> tuple[TimelineRecord, ...]:
        return self._kind(TimelineKind.DRIFT)

    @property
    def cuts(self) -> tuple[TimelineRecord, ...]:
        return self._kind(TimelineKind.CUT)

    @property
    def pauses(self) -> tuple[TimelineRecord, ...]:
        return self._kind(TimelineKind.PAUSE)

    @property
    def end(self) -> int:
        """The length of the stereo recording in archive samples."""
        ends = [s.end for s in self.caller[-1:] + self.agent[-1:]]
        return max(ends, default=0)

    @property
    def unplayed_length(self) -> int:
        return sum(u.length for u in self.unplayed)


class _Run:
    """A contiguous run of source samples laid from ``origin``; exact for any pair of rates."""

    __slots__ = ("origin", "index", "src_rate", "rate")

    def __init__(self, origin: int, src_rate: int, rate: int) -> None:
        self.origin = origin
        self.index = 0
        self.src_rate = src_rate
        self.rate = rate

    def pos(self, index: int) -> int:
        return self.origin + index * self.rate // self.src_rate

    @property
    def cursor(self) -> int:
        return self.pos(self.index)

    def take(self, n: int) -> tuple[int, int, int]:
        """Lay ``n`` more source samples: (start, length, run index of the first)."""
        first = self.index
        start = self.pos(first)
        self.index += n
        return start, self.pos(self.index) - start, first


class CallerTrack:
    """Placement of caller frames (left channel)."""

    def __init__(self, rate: int, gap_threshold: int) -> None:
        self.rate = rate
        self.gap_threshold = gap_threshold
        self._run: _Run | None = None
        self._segments: list[list[int]] = []  # [start, length, src, first_seq, last_seq, before]
        self._drift_level = 0
        self.max_drift = 0
        self.samples = 0

    def place(
        self, seq: int, arrival_ns: int, arrival: int, n: int, before_configured: bool
    ) -> tuple[int, int, list[TimelineRecord]]:
        """Lay ``n`` caller samples that arrived at position ``arrival``: (start, length, facts)."""
        facts: list[TimelineRecord] = []
        run = self._run
        if run is None:
            run = self._run = _Run(arrival, CALLER_RATE, self.rate)
        elif arrival - run.cursor > self.gap_threshold:
            gap = TimelineRecord(
                TimelineKind.GAP, Channel.CALLER, seq, arrival_ns, run.cursor, arrival - run.cursor
            )
            facts.append(gap)
            run = self._run = _Run(arrival, CALLER_RATE, self.rate)
            self._drift_level = 0
        start, length, _ = run.take(n)
        self.samples += n
        facts.extend(self._drift(seq, arrival_ns, start, start - arrival))
        self._extend(seq, start, length, n, before_configured)
        return start, length, facts

    def _drift(self, seq: int, arrival_ns: int, start: int, lead: int) -> list[TimelineRecord]:
        """A DRIFT fact (at the frame's position, length = lead) each time the lead gains a step."""
        self.max_drift = max(self.max_drift, lead)
        if lead <= 0:
            self._drift_level = 0  # hysteresis: report again only after the lead has gone
            return []
        level = lead // max(self.gap_threshold, 1)
        if level <= self._drift_level:
            return []
        self._drift_level = level
        return [TimelineRecord(TimelineKind.DRIFT, Channel.CALLER, seq, arrival_ns, start, lead)]

    def _extend(self, seq: int, start: int, length: int, n: int, before: bool) -> None:
        if n == 0:
            return
        last = self._segments[-1] if self._segments else None
        if last is not None and last[0] + last[1] == start and bool(last[5]) == before:
            last[1] += length
            last[2] += n
            last[4] = seq
        else:
            self._segments.append([start, length, n, seq, seq, int(before)])

    def segments(self) -> tuple[Segment, ...]:
        return tuple(
            Segment(Channel.CALLER, s, ln, src, first, last, before_configured=bool(b))
            for s, ln, src, first, last, b in self._segments
        )


class _Delta:
    """Mutable bookkeeping for one scheduled agent delta."""

    __slots__ = ("seq", "response_id", "start", "length", "src", "origin", "index", "heard_src", "heard_len")

    def __init__(self, seq: int, response_id: str | None, start: int, length: int, src: int, run: _Run, index: int) -> None:
        self.seq = seq
        self.response_id = response_id
        self.start = start
        self.length = length
        self.src = src
        self.origin = run.origin
        self.index = index
        self.heard_src = src
        self.heard_len = length

    @property
    def key(self) -> int:
        """Non-decreasing along the schedule: heard end, or start once fully cut."""
        return self.start + self.heard_len


class AgentTrack:
    """The playout model of the agent channel (right) and its unplayed track."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.cursor = 0
        self._run: _Run | None = None
        self._run_response: str | None = None
        self._deltas: list[_Delta] = []
        self._unplayed: list[UnplayedSegment] = []
        self._unplayed_cursor = 0
        self.cut_responses: set[str | None] = set()
        self.received: dict[str | None, int] = {}  # source samples per response
        self.unplayed: dict[str | None, int] = {}

    def _samples(self, n: int) -> int:
        return n * self.rate // AGENT_RATE

    def place(
        self, seq: int, arrival_ns: int, arrival: int, response_id: str | None, n: int
    ) -> tuple[int, int, bool, list[TimelineRecord]]:
        """Schedule one delta: (start, length, discarded, facts)."""
        self.received[response_id] = self.received.get(response_id, 0) + n
        if response_id in self.cut_responses:
            length = self._samples(n)
            self._add_unplayed(seq, response_id, arrival, length, 0, n, arrival, None)
            return arrival, length, True, []
        facts: list[TimelineRecord] = []
        run = self._run
        if run is None or self._run_response != response_id:
            run = self._run = _Run(max(self.cursor, arrival), AGENT_RATE, self.rate)
            self._run_response = response_id
        elif arrival > run.cursor:
            facts.append(
                TimelineRecord(
                    TimelineKind.GAP, Channel.AGENT, seq, arrival_ns, run.cursor,
                    arrival - run.cursor, response_id,
                )
            )
            run = self._run = _Run(arrival, AGENT_RATE, self.rate)
        start, length, index = run.take(n)
        if n:
            self._deltas.append(_Delta(seq, response_id, start, length, n, run, index))
        self.cursor = max(self.cursor, start + length)
        return start, length, False, facts

    def cut(
        self,
        seq: int,
        arrival_ns: int,
        position: int,
        keep: Callable[[str | None], bool],
        trigger: CutTrigger,
    ) -> list[TimelineRecord]:
        """Cut every response selected by ``keep`` at ``position``; one CUT fact per response.

        A heard source sample is cut when its archive start is at or after ``position``. Keys
        only grow along the schedule, so scanning back while ``key >= position`` finds every
        delta that can hold such a sample (a zero-length span can end exactly at the cut).
        """
        hit: list[tuple[_Delta, int]] = []
        for d in reversed(self._deltas):
            if d.key < position:
                break
            if d.heard_src and keep(d.response_id):
                k = self._heard_prefix(d, position)
                if k < d.heard_src:
                    hit.append((d, k))
        if not hit:
            return []
        cut_len: dict[str | None, int] = {}
        for d, k in reversed(hit):  # schedule order, so the unplayed track follows it
            new_len = d.origin + (d.index + k) * self.rate // AGENT_RATE - d.start
            # only the part still heard moves: a delta may be cut again at an earlier position
            self._add_unplayed(
                d.seq, d.response_id, d.start + new_len, d.heard_len - new_len, k, d.heard_src - k,
                position, trigger,
            )
            cut_len[d.response_id] = cut_len.get(d.response_id, 0) + d.heard_len - new_len
            d.heard_src, d.heard_len = k, new_len
        self.cut_responses.update(cut_len)
        if self._run_response in cut_len:
            self._run = None
        self.cursor = position
        for d in reversed(self._deltas):
            if d.key < position:
                break
            if d.heard_src:
                self.cursor = max(self.cursor, d.key)
        return [
            TimelineRecord(TimelineKind.CUT, Channel.AGENT, seq, arrival_ns, position, length, rid, trigger)
            for rid, length in cut_len.items()
        ]

    def _heard_prefix(self, d: _Delta, position: int) -> int:
        """How many of the delta's source samples start before ``position``."""
        # sample i of the run starts at origin + floor(i*rate/48000) < position
        #   <=>  i < ceil((position - origin) * 48000 / rate)
        limit = -((d.origin - position) * AGENT_RATE // self.rate)
        return min(max(limit - d.index, 0), d.heard_src)

    def _add_unplayed(
        self, seq: int, response_id: str | None, scheduled: int, length: int,
        src_offset: int, src: int, cut_position: int, trigger: CutTrigger | None,
    ) -> None:
        if src <= 0:
            return
        self._unplayed.append(
            UnplayedSegment(
                seq, response_id, scheduled, length, src_offset, src,
                self._unplayed_cursor, cut_position, trigger,
            )
        )
        self._unplayed_cursor += length
        self.unplayed[response_id] = self.unplayed.get(response_id, 0) + src

    def mark_cut(self, response_id: str | None) -> None:
        """Drop any later delta of this response (the client discarded it: it was cancelled)."""
        self.cut_responses.add(response_id)
        if self._run_response == response_id:
            self._run = None

    def segments(self) -> tuple[Segment, ...]:
        return tuple(
            Segment(Channel.AGENT, d.start, d.heard_len, d.heard_src, d.seq, d.seq, 0, d.response_id)
            for d in self._deltas
            if d.heard_src
        )

    def unplayed_segments(self) -> tuple[UnplayedSegment, ...]:
        return tuple(self._unplayed)
