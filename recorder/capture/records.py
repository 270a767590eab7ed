"""What capture hands to its shell: per-frame records, timeline facts, and the call summary.

Records are what finalization renders from (the journal keeps the raw frames and capture
replays them; the journal keeps ``CloseRecord`` too): one ``AudioRecord`` per audio frame
(decoded PCM plus where it landed on the archive timeline), one ``FrameRecord`` per other frame
(the verbatim message), ``TimelineRecord``s for gaps, drift and barge-in cuts, and a
``CloseRecord`` when the shell reports the end of the call. Replaying the audio and frame records
into a fresh ``CaptureSession`` rebuilds the same state (see ``session.replay``). The call
summary's types live in ``recorder.call``, below the database, and are re-exported here.

Positions are on the master clock: archive samples since the session was accepted
. Reprs never show PCM, verbatim frames, tool arguments or outputs.
"""

from __future__ import annotations

import enum

from recorder.call import (
    CallSummary,
    CutTrigger,
    ErrorSummary,
    ResponseSummary,
    SpeechTurn,
    ToolCallSummary,
)
from recorder.hydra.events import InputAudioAppend, OutputAudioDelta
from recorder.units import BYTES_PER_SAMPLE
from recorder.values import Direction, SafeRepr, frozen_value, secret_field

__all__ = [
    "AudioRecord",
    "CallSummary",
    "Channel",
    "CloseRecord",
    "CutTrigger",
    "Direction",
    "ErrorSummary",
    "FrameRecord",
    "Record",
    "ResponseSummary",
    "SpeechTurn",
    "TimelineKind",
    "TimelineRecord",
    "ToolCallSummary",
]



class Channel(enum.StrEnum):
    CALLER = "caller"  # left: input_audio_buffer.append, 16 kHz
    AGENT = "agent"  # right: response.output_audio.delta, 48 kHz


class TimelineKind(enum.StrEnum):
    GAP = "gap"  # silence inserted: caller stall, or agent underrun
    DRIFT = "drift"  # caller sample clock ran ahead of the arrival clock
    CUT = "cut"  # barge-in: agent audio scheduled past this point was never heard
    PAUSE = "pause"  # caller audio recorded as silence on purpose (``cause``: e.g. a PCI tool)


@frozen_value
class AudioRecord(SafeRepr):
    """One audio frame: its PCM and the span it was scheduled on (``start``, ``length``).

    For agent audio the span is the *scheduled* playout; a later ``TimelineRecord`` of kind CUT
    may move its tail to the unplayed track. ``discarded`` marks a delta of a response that was
    already cut: it goes straight to the unplayed track. ``before_configured`` marks caller audio
    that Hydra discarded because it preceded ``session.configured`` (§2 rule 5).
    """

    seq: int
    direction: Direction
    arrival_ns: int
    pcm: bytes
    sample_rate: int
    start: int
    length: int
    event_id: str | None = None
    response_id: str | None = None
    item_id: str | None = None
    output_index: int | None = None
    content_index: int | None = None
    before_configured: bool = False
    discarded: bool = False

    @property
    def channel(self) -> Channel:
        return Channel.CALLER if self.direction is Direction.C2S else Channel.AGENT

    @property
    def samples(self) -> int:
        return len(self.pcm) // BYTES_PER_SAMPLE

    def to_event(self) -> InputAudioAppend | OutputAudioDelta:
        """The event this record came from, for replaying a journal into a fresh session."""
        if self.direction is Direction.C2S:
            return InputAudioAppend(pcm=self.pcm, event_id=self.event_id)
        return OutputAudioDelta(
            pcm=self.pcm,
            event_id=self.event_id,
            response_id=self.response_id,
            item_id=self.item_id,
            output_index=self.output_index,
            content_index=self.content_index,
        )


@frozen_value
class FrameRecord(SafeRepr):
    """Any non-audio frame, verbatim, plus why it did not parse (``unparsed``) if it did not.

    ``type`` is the frame's ``type`` string when it had one. Invalid audio frames are recorded
    here too, with ``unparsed`` set, so nothing that crossed the wire is lost.
    """

    seq: int
    direction: Direction
    arrival_ns: int
    message: str | bytes = secret_field(b"")
    type: str | None = None
    unparsed: str | None = None
    unknown: bool = False


@frozen_value
class TimelineRecord(SafeRepr):
    """A fact about the timeline, for the alignment manifest.

    GAP: silence of ``length`` archive samples inserted at ``position`` on ``channel``.
    DRIFT: the caller's contiguous position ran ``length`` samples ahead of the arrival clock.
    CUT: ``response_id``'s audio from ``position`` on was not heard; ``length`` samples went to
    the unplayed track; ``trigger`` says which event decided it.
    PAUSE: the caller's audio from ``position`` for ``length`` samples was replaced by silence
    before it was journaled; ``cause`` says why (``tool:<name>``).
    ``seq`` is the frame that caused the fact (-1 for a close).
    """

    kind: TimelineKind
    channel: Channel
    seq: int
    arrival_ns: int
    position: int
    length: int
    response_id: str | None = None
    trigger: CutTrigger | None = None
    cause: str | None = None


@frozen_value
class CloseRecord(SafeRepr):
    """The call ended (reported by the shell through ``CaptureSession.close``)."""

    arrival_ns: int
    code: int | None = None
    reason: str | None = None
    closed_by: Direction | None = None


Record = AudioRecord | FrameRecord | TimelineRecord | CloseRecord
