"""The whole state of one call, fed frame by frame (the core returns what to do; the shell does it).

``CaptureSession.observe(direction, message, arrival_ns)`` parses one frame as it crossed the
proxy and returns the records the journal must keep; ``summary()`` and ``timeline()`` are pure
snapshots that can be taken at any time. No sockets, no clock, no disk: the shell passes the
arrival time (monotonic ns since the session was accepted) and persists the records.

What is tracked (reference/hydra-protocol.md §14.8): Hydra session id and effective
configuration, each response's lifecycle, usage, audio received and heard (playout model and
barge-in cuts, see ``timeline.py``), tool calls, errors, caller turns, and frames that did not
parse. A frame never makes ``observe`` raise.
"""

from __future__ import annotations

import logging
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import cast

from recorder.capture.records import (
    AudioRecord,
    CallSummary,
    Channel,
    CloseRecord,
    CutTrigger,
    Direction,
    ErrorSummary,
    FrameRecord,
    Record,
    TimelineKind,
    TimelineRecord,
)
from recorder.capture.state import (
    ResponseState,
    ToolCallState,
    TurnState,
    agent_ms,
    ms,
    response_summary,
    tool_call_summary,
    turn_summary,
)
from recorder.capture.timeline import AgentTrack, CallerTrack, CutPolicy, Timeline
from recorder.errors import ConfigError
from recorder.hydra.codec import parse
from recorder.hydra.events import (
    ConversationItem,
    ConversationItemAdded,
    ConversationItemCreate,
    ConversationItemDone,
    Event,
    FunctionCallArgumentsDelta,
    FunctionCallArgumentsDone,
    InputAudioAppend,
    OutputAudioDelta,
    OutputAudioDone,
    ResponseCreate,
    ResponseCreated,
    ResponseDone,
    ServerError,
    ServerWarning,
    SessionConfigure,
    SessionConfigured,
    SessionCreated,
    SessionUpdated,
    SpeechStarted,
    SpeechStopped,
    Unknown,
    Unparsed,
)
from recorder.units import AGENT_RATE, CALLER_RATE, samples_at

logger = logging.getLogger(__name__)

_AUDIO_TYPES = frozenset({InputAudioAppend.TYPE, OutputAudioDelta.TYPE})


class CaptureSession:
    """One call's capture state. Not thread-safe: the shell feeds it from one place, in order."""

    def __init__(
        self,
        *,
        gap_threshold_ms: float = 250.0,
        archive_rate: int = 48000,
        cut_policy: CutPolicy = CutPolicy(),
        pci_tools: Iterable[str] = (),
        audio_content: bool = True,
    ) -> None:
        """``audio_content=False``: audio is validated but not decoded, and audio records carry
        silence of the true length (``hydra.codec.parse``): for a replay that needs lengths only."""
        if not isinstance(archive_rate, int) or archive_rate <= 0:
            raise ConfigError("archive_rate", "CaptureSession", "must be a positive integer (Hz)")
        if not gap_threshold_ms >= 0:
            raise ConfigError("gap_threshold_ms", "CaptureSession", "must be zero or more")
        self.archive_rate = archive_rate
        self.cut_policy = cut_policy
        gap = int(gap_threshold_ms * archive_rate // 1000)
        self._caller = CallerTrack(archive_rate, gap)
        self._agent = AgentTrack(archive_rate)
        self._seq = 0
        self._frames = {Direction.C2S: 0, Direction.S2C: 0}
        self._unparsed = 0
        self._unparsed_audio = 0
        self._unknown = 0
        self._session_id: str | None = None
        self._voice: str | None = None
        self._requested_voice: str | None = None
        self._instructions: str | None = None
        self._tools: tuple[str, ...] = ()
        self._configured_ns: int | None = None
        self._caller_before_configured = 0
        self._warnings: list[str] = []
        self._responses: dict[str | None, ResponseState] = {}
        self._calls: dict[str | None, ToolCallState] = {}
        self._errors: list[ErrorSummary] = []
        self._turns: list[TurnState] = []
        self._turn_by_item: dict[str, TurnState] = {}
        self._pending_stop: tuple[int, str | None] | None = None
        self._close: CloseRecord | None = None
        self._events: list[TimelineRecord] = []  # gaps, drift, cuts and pauses, in observation order
        self._pci_tools = frozenset(pci_tools)
        self._pause: _Pause | None = None
        self._audio_content = audio_content

    # --- feeding ---------------------------------------------------------------------------------

    @property
    def pci_paused(self) -> bool:
        """A tool named in ``pci_tools`` is in flight: caller audio is being recorded as silence."""
        return self._pause is not None

    def observe(self, direction: Direction, message: str | bytes, arrival_ns: int) -> list[Record]:
        """Take one frame exactly as forwarded; returns the records to persist for it."""
        direction = Direction(direction)
        event = parse(message, direction, audio_content=self._audio_content)
        return self._handle(direction, event, message, arrival_ns)

    def close(
        self,
        arrival_ns: int,
        *,
        code: int | None = None,
        reason: str | None = None,
        closed_by: Direction | None = None,
    ) -> list[Record]:
        """The call ended: audio still scheduled after this point was not heard (policy ``on_close``)."""
        if self._close is not None:
            return []
        arrival_ns = max(0, int(arrival_ns))
        self._close = CloseRecord(arrival_ns, code, reason, closed_by)
        out: list[Record] = [self._close, *self._end_pause(-1, arrival_ns)]
        self._events.extend(r for r in out if isinstance(r, TimelineRecord))
        if self.cut_policy.on_close:
            position = samples_at(arrival_ns, self.archive_rate)
            facts = self._agent.cut(-1, arrival_ns, position, lambda _rid: True, CutTrigger.CLOSE)
            self._note_cuts(facts)
            self._events.extend(facts)
            out.extend(facts)
        return out

    def _handle(
        self, direction: Direction, event: Event, message: str | bytes, arrival_ns: int
    ) -> list[Record]:
        out = self._dispatch(direction, event, message, arrival_ns)
        self._events.extend(r for r in out if isinstance(r, TimelineRecord))
        return out

    def _dispatch(
        self, direction: Direction, event: Event, message: str | bytes, arrival_ns: int
    ) -> list[Record]:
        arrival_ns = max(0, int(arrival_ns))
        seq = self._seq
        self._seq += 1
        self._frames[direction] += 1
        if isinstance(event, InputAudioAppend) and direction is Direction.C2S:
            return self._caller_audio(seq, event, arrival_ns)
        if isinstance(event, OutputAudioDelta) and direction is Direction.S2C:
            return self._agent_audio(seq, event, arrival_ns)
        kind: str | None = None
        unparsed: str | None = None
        if isinstance(event, Unparsed):
            self._unparsed += 1
            self._unparsed_audio += event.type in _AUDIO_TYPES
            kind, unparsed = event.type, event.reason
        elif isinstance(event, Unknown):
            self._unknown += 1
            kind = event.type
        else:
            kind = type(event).TYPE
        out: list[Record] = [
            FrameRecord(seq, direction, arrival_ns, message, kind, unparsed, isinstance(event, Unknown))
        ]
        out.extend(self._apply(seq, event, arrival_ns))
        return out

    def _caller_audio(self, seq: int, e: InputAudioAppend, arrival_ns: int) -> list[Record]:
        before = self._configured_ns is None
        if before:
            self._caller_before_configured += e.samples
        position = samples_at(arrival_ns, self.archive_rate)
        start, length, facts = self._caller.place(seq, arrival_ns, position, e.samples, before)
        pcm = e.pcm
        if self._pause is not None:  # PCI pause: the caller's words never reach the journal
            pcm = bytes(len(pcm))
            self._pause.extend(start, length)
        record = AudioRecord(
            seq, Direction.C2S, arrival_ns, pcm, CALLER_RATE, start, length,
            event_id=e.event_id, before_configured=before,
        )
        return [record, *facts]

    def _agent_audio(self, seq: int, e: OutputAudioDelta, arrival_ns: int) -> list[Record]:
        r = self._response(e.response_id)
        if e.item_id is not None and e.item_id not in r.item_ids:
            r.item_ids.append(e.item_id)
        if r.first_audio_ns is None and e.samples:
            r.first_audio_ns = arrival_ns
            pending = self._pending_stop
            if r.anchor_ns is not None and pending is not None and pending[0] == r.anchor_ns:
                r.latency_ns = arrival_ns - r.anchor_ns
                self._pending_stop = None
        position = samples_at(arrival_ns, self.archive_rate)
        start, length, discarded, facts = self._agent.place(
            seq, arrival_ns, position, e.response_id, e.samples
        )
        record = AudioRecord(
            seq, Direction.S2C, arrival_ns, e.pcm, AGENT_RATE, start, length,
            event_id=e.event_id, response_id=e.response_id, item_id=e.item_id,
            output_index=e.output_index, content_index=e.content_index, discarded=discarded,
        )
        return [record, *facts]

    # --- non-audio events ------------------------------------------------------------------------

    def _apply(self, seq: int, event: Event, ns: int) -> list[TimelineRecord]:  # noqa: C901
        match event:
            case SessionCreated(session_id=sid):
                self._session_id = self._session_id if sid is None else sid
            case ServerWarning(code=code):
                self._warnings.append(code or "warning")
            case SessionConfigure(voice=voice):
                self._requested_voice = voice
            case SessionConfigured():
                if self._configured_ns is None:
                    self._configured_ns = ns
                self._voice = event.voice
                self._instructions = event.instructions
                self._tools = tuple(t.name for t in event.tools or () if t.name is not None)
            case SessionUpdated(tools=tools) if tools is not None:
                self._tools = tuple(t.name for t in tools if t.name is not None)
            case SpeechStarted():
                return self._speech_started(seq, event, ns)
            case SpeechStopped():
                self._speech_stopped(event, ns)
            case ConversationItemAdded(item=item) | ConversationItemDone(item=item) if item:
                self._server_item(item)
            case ConversationItemCreate(item=item) if item and item.type == "function_call_output":
                call = self._call(item.call_id)
                call.output, call.output_ns = item.output, ns
                if self._pause is not None:
                    self._pause.calls.discard(item.call_id)
                    if not self._pause.calls:
                        return self._end_pause(seq, ns)
            case ResponseCreate():
                for call in self._calls.values():
                    if call.output_ns is not None and call.response_create_ns is None:
                        call.response_create_ns = ns
            case ResponseCreated():
                return [*self._end_pause(seq, ns), *self._response_created(seq, event, ns)]
            case OutputAudioDone(response_id=rid):
                self._response(rid).audio_done_ns = ns
            case FunctionCallArgumentsDelta():
                call = self._call(event.call_id)
                call.name = call.name or event.name
                call.response_id = call.response_id or event.response_id
                call.parts.append(event.delta or "")
                self._start_pause(event.call_id, call.name)
            case FunctionCallArgumentsDone():
                call = self._call(event.call_id)
                call.name = event.name or call.name
                call.response_id = call.response_id or event.response_id
                call.arguments = event.arguments if event.arguments is not None else call.arguments
                call.requested_ns = ns
                self._start_pause(event.call_id, call.name)
            case ResponseDone():
                return self._response_done(seq, event, ns)
            case ServerError():
                self._server_error(event, ns)
        return []

    def _speech_started(self, seq: int, e: SpeechStarted, ns: int) -> list[TimelineRecord]:
        turn = self._turn_by_item.get(e.item_id) if e.item_id is not None else None
        if turn is None:
            turn = TurnState(e.item_id, ns)
            self._turns.append(turn)
            if e.item_id is not None:
                self._turn_by_item[e.item_id] = turn
        turn.audio_start_ms = e.audio_start_ms
        if not self.cut_policy.on_speech_started:
            return []
        position = samples_at(ns, self.archive_rate)
        facts = self._agent.cut(seq, ns, position, lambda _rid: True, CutTrigger.SPEECH_STARTED)
        self._note_cuts(facts)
        return facts

    def _speech_stopped(self, e: SpeechStopped, ns: int) -> None:
        turn = self._turn_by_item.get(e.item_id) if e.item_id is not None else None
        if turn is None:
            open_turns = [t for t in self._turns if t.stopped_ns is None]
            turn = open_turns[-1] if open_turns and e.item_id is None else None
        if turn is None:
            turn = TurnState(e.item_id, ns)
            self._turns.append(turn)
            if e.item_id is not None:
                self._turn_by_item[e.item_id] = turn
        turn.stopped_ns = ns
        turn.audio_end_ms = e.audio_end_ms
        self._pending_stop = (ns, e.item_id)

    def _start_pause(self, call_id: str | None, name: str | None) -> None:
        """A tool named in ``pci_tools`` is in flight: record the caller as silence until its
        output arrives or the next agent response starts."""
        if name is None or name not in self._pci_tools or call_id is None:
            return
        if self._pause is None:
            self._pause = _Pause(f"tool:{name}")
        self._pause.calls.add(call_id)

    def _end_pause(self, seq: int, ns: int) -> list[TimelineRecord]:
        pause, self._pause = self._pause, None
        if pause is None or pause.start is None:
            return []  # no caller audio arrived while it lasted
        return [TimelineRecord(TimelineKind.PAUSE, Channel.CALLER, seq, ns, pause.start,
                               pause.end - pause.start, cause=pause.cause)]

    def _server_item(self, item: ConversationItem) -> None:
        if item.type == "message" and item.role == "user" and item.id in self._turn_by_item:
            self._turn_by_item[item.id].status = item.status
            pending = self._pending_stop
            if item.status == "incomplete" and pending is not None and pending[1] == item.id:
                self._pending_stop = None  # a rejected turn (§5.6) gets no reply
        elif item.type == "function_call" and item.call_id is not None:
            call = self._call(item.call_id)
            call.name = call.name or item.name
            if call.arguments is None and not call.parts:
                call.arguments = item.arguments or None

    def _response_created(self, seq: int, e: ResponseCreated, ns: int) -> list[TimelineRecord]:
        r = self._response(e.response_id)
        if r.created_ns is None:
            r.created_ns = ns
            r.anchor_ns = self._pending_stop[0] if self._pending_stop else None
        if not self.cut_policy.on_response_created:
            return []
        new = e.response_id
        position = samples_at(ns, self.archive_rate)
        facts = self._agent.cut(seq, ns, position, lambda rid: rid != new, CutTrigger.RESPONSE_CREATED)
        self._note_cuts(facts)
        return facts

    def _response_done(self, seq: int, e: ResponseDone, ns: int) -> list[TimelineRecord]:
        rid = e.response_id
        if rid is None:  # no id: it can only be the latest response still open
            open_ids = [k for k, r in self._responses.items() if r.status is None]
            rid = open_ids[-1] if open_ids else None
        r = self._response(rid)
        r.done_ns, r.status, r.reason = ns, e.status, e.reason
        if e.usage is not None:
            r.usage = (e.usage.input_tokens, e.usage.output_tokens, e.usage.total_tokens)
        for item in e.output or ():
            if item.type == "function_call" and item.call_id is not None:
                self._server_item(item)
                self._call(item.call_id).response_id = self._call(item.call_id).response_id or rid
        if e.status != "cancelled" or not self.cut_policy.on_cancelled_done:
            return []
        position = samples_at(ns, self.archive_rate)
        facts = self._agent.cut(seq, ns, position, lambda x: x == rid, CutTrigger.RESPONSE_CANCELLED)
        self._agent.mark_cut(rid)
        self._note_cuts(facts)
        return facts

    def _server_error(self, e: ServerError, ns: int) -> None:
        self._errors.append(
            ErrorSummary(e.code, e.type, e.message, e.param, e.client_event_id, ns / 1_000_000)
        )
        if e.code == "tool_response_timeout":
            waiting = [c for c in self._calls.values() if c.response_create_ns is None]
            if waiting:
                waiting[-1].timed_out = True

    def _note_cuts(self, facts: Iterable[TimelineRecord]) -> None:
        for fact in facts:
            if fact.kind is TimelineKind.CUT:
                r = self._response(fact.response_id)
                if r.cut_position is None:
                    r.cut_position, r.cut_trigger = fact.position, fact.trigger

    def _response(self, response_id: str | None) -> ResponseState:
        r = self._responses.get(response_id)
        if r is None:
            r = self._responses[response_id] = ResponseState(response_id)
        return r

    def _call(self, call_id: str | None) -> ToolCallState:
        c = self._calls.get(call_id)
        if c is None:
            c = self._calls[call_id] = ToolCallState(call_id)
        return c

    # --- snapshots -------------------------------------------------------------------------------

    def summary(self) -> CallSummary:
        """The call so far, as an immutable value."""
        responses = tuple(
            response_summary(r, self._agent, self.archive_rate) for r in self._responses.values()
        )
        received = sum(self._agent.received.values())
        unplayed = sum(self._agent.unplayed.values())
        close = self._close
        return CallSummary(
            hydra_session_id=self._session_id,
            voice=self._voice,
            instructions=self._instructions,
            tools=self._tools,
            responses=responses,
            tool_calls=tuple(tool_call_summary(c) for c in self._calls.values()),
            errors=tuple(self._errors),
            speech_turns=tuple(turn_summary(t) for t in self._turns),
            frames_c2s=self._frames[Direction.C2S],
            frames_s2c=self._frames[Direction.S2C],
            unparsed_frames=self._unparsed,
            caller_audio_ms=self._caller.samples * 1000 / CALLER_RATE,
            agent_audio_ms_received=agent_ms(received),
            agent_audio_ms_heard=agent_ms(received - unplayed),
            warnings=tuple(self._warnings),
            unparsed_audio_frames=self._unparsed_audio,
            unknown_frames=self._unknown,
            configured_ms=ms(self._configured_ns),
            caller_audio_ms_before_configured=self._caller_before_configured * 1000 / CALLER_RATE,
            agent_audio_ms_unplayed=agent_ms(unplayed),
            input_tokens=sum(r.input_tokens or 0 for r in responses),
            output_tokens=sum(r.output_tokens or 0 for r in responses),
            total_tokens=sum(r.total_tokens or 0 for r in responses),
            cut_policy=self.cut_policy.describe(),
            requested_voice=self._requested_voice,
            close_code=close.code if close else None,
            close_reason=close.reason if close else None,
            closed_by=close.closed_by if close else None,
            closed_ms=ms(close.arrival_ns) if close else None,
        )

    def timeline(self) -> Timeline:
        """Where every audio sample landed so far, plus gaps, drift and cuts in arrival order."""
        return Timeline(
            archive_rate=self.archive_rate,
            gap_threshold=self._caller.gap_threshold,
            cut_policy=self.cut_policy.describe(),
            caller=self._caller.segments(),
            agent=self._agent.segments(),
            unplayed=self._agent.unplayed_segments(),
            events=tuple(self._events),
            caller_max_drift=self._caller.max_drift,
        )


class _Pause:
    """A PCI pause in progress: why, the tool calls it waits for, and the span of caller audio
    silenced so far (archive samples)."""

    __slots__ = ("cause", "calls", "start", "end")

    def __init__(self, cause: str) -> None:
        self.cause = cause
        self.calls: set[str | None] = set()
        self.start: int | None = None
        self.end = 0

    def extend(self, start: int, length: int) -> None:
        if self.start is None:
            self.start = start
        self.end = max(self.end, start + length)


def replay(records: Iterable[Record], **settings: object) -> CaptureSession:
    """Rebuild a session from journaled records (audio and frame records, plus the close).

    Timeline records are derived facts and are skipped; feeding the same records in ``seq``
    order reproduces the same summary and timeline, so the archive renders from the journal.
    """
    session = CaptureSession(**settings)  # type: ignore[arg-type]
    for record in records:
        if isinstance(record, AudioRecord):
            session._handle(record.direction, record.to_event(), b"", record.arrival_ns)
        elif isinstance(record, FrameRecord):
            session.observe(record.direction, record.message, record.arrival_ns)
        elif isinstance(record, CloseRecord):
            session.close(
                record.arrival_ns, code=record.code, reason=record.reason, closed_by=record.closed_by
            )
    return session


@dataclass(frozen=True, slots=True)
class CaptureSettings:
    """The settings a ``CaptureSession`` is made with (what decides its records and timeline)."""

    gap_threshold_ms: float = 250.0
    archive_rate: int = 48000
    cut_policy: CutPolicy = CutPolicy()
    pci_tools: tuple[str, ...] = ()


class Captured:
    """The audio and frame records a fresh ``CaptureSession`` makes of raw frames, then ``close``.

    Iterate once; afterwards ``session`` is the session that made them, in the very state a
    ``replay`` of the same records (before its close) rebuilds: every frame gives exactly one
    audio or frame record and both number them in order, so pass 1 of a render can take the
    timeline and summary from it instead of replaying the records through a second session.
    """

    def __init__(
        self,
        frames: Iterable[tuple[Direction, str | bytes, int]],
        close: CloseRecord | None,
        settings: CaptureSettings,
        *,
        audio_content: bool = True,
        index_audio: bool = False,
    ) -> None:
        """``index_audio``: note in ``audio_index`` every audio record's seq (= the frame's index
        among ``frames``) times two, plus one if a PCI pause silenced it: all a later pass needs
        to find the audio again in the same frames, at 8 bytes a frame (``done`` once iterated)."""
        self.settings = settings
        self.audio_index: array[int] | None = array("q") if index_audio else None
        self.done = False
        self.close = close
        self.session = CaptureSession(
            gap_threshold_ms=settings.gap_threshold_ms, archive_rate=settings.archive_rate,
            cut_policy=settings.cut_policy, pci_tools=settings.pci_tools, audio_content=audio_content,
        )
        self._frames = frames
        self._started = False

    def __iter__(self) -> Iterator[AudioRecord | FrameRecord | CloseRecord]:
        if self._started:
            raise RuntimeError("Captured records are iterated once: make a new Captured")
        self._started = True
        return self._records()

    def _records(self) -> Iterator[AudioRecord | FrameRecord | CloseRecord]:
        session, index = self.session, self.audio_index
        for direction, message, arrival_ns in self._frames:
            # the frame's own record comes first, then any timeline facts it caused
            record = cast(AudioRecord | FrameRecord, session.observe(direction, message, arrival_ns)[0])
            if index is not None and type(record) is AudioRecord:
                silenced = record.direction is Direction.C2S and session.pci_paused  # (an audio frame never ends a pause)
                index.append(record.seq * 2 + silenced)
            yield record
        self.done = True
        if self.close is not None:
            yield self.close
