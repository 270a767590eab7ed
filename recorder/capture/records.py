"""What capture hands to its shell: per-frame records, timeline facts, and the call summary.

Records are what the journal persists (DESIGN.md "Journal"): one ``AudioRecord`` per audio frame
(decoded PCM plus where it landed on the archive timeline), one ``FrameRecord`` per other frame
(the verbatim message), ``TimelineRecord``s for gaps, drift and barge-in cuts, and a
``CloseRecord`` when the shell reports the end of the call. Replaying the audio and frame records
into a fresh ``CaptureSession`` rebuilds the same state (see ``session.replay``).

Positions are on the master clock: archive samples since the session was accepted
(DESIGN.md "Timeline"). Reprs never show PCM, verbatim frames, tool arguments or outputs.
"""

from __future__ import annotations

import enum

from recorder.hydra.events import (
    Direction,
    InputAudioAppend,
    OutputAudioDelta,
    SafeRepr,
    frozen_value,
    secret_field,
)
from recorder.units import BYTES_PER_SAMPLE

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


class CutTrigger(enum.StrEnum):
    """The event that made the modelled client stop playing a response (§10, §14.2)."""

    RESPONSE_CREATED = "response.created"
    RESPONSE_CANCELLED = "response.done.cancelled"
    SPEECH_STARTED = "input_audio_buffer.speech_started"
    CLOSE = "close"


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


# --- summaries --------------------------------------------------------------------------------


@frozen_value
class ResponseSummary(SafeRepr):
    """One response's lifecycle (§5.9–§5.14); times are ms since the session was accepted."""

    response_id: str
    status: str | None  # completed|cancelled|incomplete|failed|None (never finished)
    reason: str | None  # status_details.reason
    created_ms: float | None
    first_audio_ms: float | None
    done_ms: float | None
    input_tokens: int | None
    output_tokens: int | None
    total_tokens: int | None
    audio_ms_received: float
    audio_ms_heard: float  # per the playout model + cut
    latency_ms: float | None  # preceding speech_stopped arrival -> first audio delta arrival
    cut_ms: float | None  # master-clock ms where its audio was cut (barge-in), if any
    audio_ms_unplayed: float = 0.0
    cut_trigger: CutTrigger | None = None
    audio_done_ms: float | None = None
    item_ids: tuple[str, ...] = ()


@frozen_value
class ToolCallSummary(SafeRepr):
    """One tool call round trip (§9); arguments and output are PII, never shown in reprs."""

    call_id: str
    name: str | None
    arguments: str | None = secret_field()  # arguments.done (or concatenated deltas)
    output: str | None = secret_field()  # the client's function_call_output
    response_id: str | None = None
    requested_ms: float | None = None
    output_ms: float | None = None
    response_create_ms: float | None = None  # the client's response.create after the output
    timed_out: bool = False  # a tool_response_timeout error followed


@frozen_value
class ErrorSummary(SafeRepr):
    code: str | None
    type: str | None
    message: str | None = secret_field()  # may quote the offending frame (§14.5)
    param: str | None = None
    client_event_id: str | None = None
    at_ms: float = 0.0


@frozen_value
class SpeechTurn(SafeRepr):
    """A caller turn as the server's VAD saw it (§5.5, §5.6); ``status`` from item.done."""

    item_id: str | None
    started_ms: float
    stopped_ms: float | None
    audio_start_ms: int | None
    audio_end_ms: int | None
    status: str | None


@frozen_value
class CallSummary(SafeRepr):
    """The whole call as a snapshot; ms are since the session was accepted."""

    hydra_session_id: str | None
    voice: str | None
    instructions: str | None = secret_field()
    tools: tuple[str, ...] = ()  # tool names as configured/updated
    responses: tuple[ResponseSummary, ...] = ()  # in response.created order
    tool_calls: tuple[ToolCallSummary, ...] = ()
    errors: tuple[ErrorSummary, ...] = ()
    speech_turns: tuple[SpeechTurn, ...] = ()
    frames_c2s: int = 0
    frames_s2c: int = 0
    unparsed_frames: int = 0
    caller_audio_ms: float = 0.0
    agent_audio_ms_received: float = 0.0
    agent_audio_ms_heard: float = 0.0
    warnings: tuple[str, ...] = ()  # e.g. model_deprecated
    unparsed_audio_frames: int = 0
    unknown_frames: int = 0
    configured_ms: float | None = None
    caller_audio_ms_before_configured: float = 0.0
    agent_audio_ms_unplayed: float = 0.0
    input_tokens: int = 0  # sums over responses that reported usage
    output_tokens: int = 0
    total_tokens: int = 0
    cut_policy: str = ""
    requested_voice: str | None = None
    close_code: int | None = None
    close_reason: str | None = None
    closed_by: Direction | None = None
    closed_ms: float | None = None
