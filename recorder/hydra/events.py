"""Typed values for every Hydra event (reference/hydra-protocol.md §4, §5, §6).

Every server field is optional on the wire (§0), so every field here except the decoded audio
may be ``None``. Events are frozen, slotted dataclasses; their repr never shows a payload: audio
prints its byte and sample count, and confidential text (instructions, tool arguments, tool
output, error messages, tool descriptions) prints its length only (§14.5).

A frame that is not a JSON object with a string ``type`` becomes ``Unparsed(raw_len, reason)``;
a well-formed frame whose type is not one Hydra documents for that direction becomes
``Unknown(type)``. Neither is an exception: the proxy forwards such frames unchanged.
"""

from __future__ import annotations

from typing import Any, ClassVar

from recorder.units import AGENT_RATE, BYTES_PER_SAMPLE, CALLER_RATE, Hz
from recorder.values import (  # noqa: F401 - shared shapes, re-exported here
    Direction,
    SafeRepr,
    frozen_value,
    secret_field,
)






# --- shared shapes (§4.1 Tool, §5.14 usage, §6 ConversationItem) ---------------------------


@frozen_value
class Tool(SafeRepr):
    name: str | None = None
    type: str | None = None
    description: str | None = secret_field()


@frozen_value
class Usage(SafeRepr):
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None


@frozen_value
class ConversationItem(SafeRepr):
    """§6. ``content_types`` keeps only the part types: Hydra never sends text for audio parts."""

    id: str | None = None
    type: str | None = None
    role: str | None = None
    status: str | None = None
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = secret_field()
    output: str | None = secret_field()
    content_types: tuple[str, ...] | None = None


# --- client -> server (§4) -------------------------------------------------------------------


@frozen_value
class SessionConfigure(SafeRepr):
    TYPE: ClassVar[str] = "session.configure"
    event_id: str | None = None
    instructions: str | None = secret_field()
    voice: str | None = None
    tools: tuple[Tool, ...] | None = None
    generate_initial_response: bool | None = None


@frozen_value
class SessionUpdate(SafeRepr):
    TYPE: ClassVar[str] = "session.update"
    event_id: str | None = None
    tools: tuple[Tool, ...] | None = None


@frozen_value
class InputAudioAppend(SafeRepr):
    """§4.3: caller audio, decoded from base64 to PCM16 LE mono at 16 kHz."""

    TYPE: ClassVar[str] = "input_audio_buffer.append"
    SAMPLE_RATE: ClassVar[Hz] = CALLER_RATE
    pcm: bytes = b""
    event_id: str | None = None

    @property
    def samples(self) -> int:
        return len(self.pcm) // BYTES_PER_SAMPLE


@frozen_value
class ConversationItemCreate(SafeRepr):
    TYPE: ClassVar[str] = "conversation.item.create"
    event_id: str | None = None
    item: ConversationItem | None = None


@frozen_value
class ResponseCreate(SafeRepr):
    TYPE: ClassVar[str] = "response.create"
    event_id: str | None = None


@frozen_value
class ResponseCancel(SafeRepr):
    TYPE: ClassVar[str] = "response.cancel"
    event_id: str | None = None
    response_id: str | None = None


# --- server -> client (§5) -------------------------------------------------------------------


@frozen_value
class ServerWarning(SafeRepr):
    """§5.1: sent before session.created on the deprecated tag; its layout is unconfirmed."""

    TYPE: ClassVar[str] = "warning"
    event_id: str | None = None
    code: str | None = None
    message: str | None = secret_field()


@frozen_value
class SessionCreated(SafeRepr):
    TYPE: ClassVar[str] = "session.created"
    event_id: str | None = None
    session_id: str | None = None


@frozen_value
class SessionConfigured(SafeRepr):
    TYPE: ClassVar[str] = "session.configured"
    event_id: str | None = None
    instructions: str | None = secret_field()
    voice: str | None = None
    tools: tuple[Tool, ...] | None = None
    generate_initial_response: bool | None = None


@frozen_value
class SessionUpdated(SafeRepr):
    TYPE: ClassVar[str] = "session.updated"
    event_id: str | None = None
    tools: tuple[Tool, ...] | None = None


@frozen_value
class SpeechStarted(SafeRepr):
    TYPE: ClassVar[str] = "input_audio_buffer.speech_started"
    event_id: str | None = None
    audio_start_ms: int | None = None
    item_id: str | None = None


@frozen_value
class SpeechStopped(SafeRepr):
    TYPE: ClassVar[str] = "input_audio_buffer.speech_stopped"
    event_id: str | None = None
    audio_end_ms: int | None = None
    item_id: str | None = None


@frozen_value
class ConversationItemAdded(SafeRepr):
    TYPE: ClassVar[str] = "conversation.item.added"
    event_id: str | None = None
    previous_item_id: str | None = None
    item: ConversationItem | None = None


@frozen_value
class ConversationItemDone(SafeRepr):
    TYPE: ClassVar[str] = "conversation.item.done"
    event_id: str | None = None
    previous_item_id: str | None = None
    item: ConversationItem | None = None


@frozen_value
class ResponseCreated(SafeRepr):
    TYPE: ClassVar[str] = "response.created"
    event_id: str | None = None
    response_id: str | None = None


@frozen_value
class OutputAudioDelta(SafeRepr):
    """§5.10: agent audio, decoded from base64 to PCM16 LE mono at 48 kHz."""

    TYPE: ClassVar[str] = "response.output_audio.delta"
    SAMPLE_RATE: ClassVar[Hz] = AGENT_RATE
    pcm: bytes = b""
    event_id: str | None = None
    response_id: str | None = None
    item_id: str | None = None
    output_index: int | None = None
    content_index: int | None = None

    @property
    def samples(self) -> int:
        return len(self.pcm) // BYTES_PER_SAMPLE


@frozen_value
class OutputAudioDone(SafeRepr):
    TYPE: ClassVar[str] = "response.output_audio.done"
    event_id: str | None = None
    response_id: str | None = None
    item_id: str | None = None
    output_index: int | None = None
    content_index: int | None = None


@frozen_value
class FunctionCallArgumentsDelta(SafeRepr):
    TYPE: ClassVar[str] = "response.function_call_arguments.delta"
    event_id: str | None = None
    response_id: str | None = None
    call_id: str | None = None
    name: str | None = None
    delta: str | None = secret_field()


@frozen_value
class FunctionCallArgumentsDone(SafeRepr):
    TYPE: ClassVar[str] = "response.function_call_arguments.done"
    event_id: str | None = None
    response_id: str | None = None
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = secret_field()


@frozen_value
class ResponseDone(SafeRepr):
    """§5.14. ``reason`` is ``status_details.reason``; ``error_*`` come from ``status_details.error``."""

    TYPE: ClassVar[str] = "response.done"
    event_id: str | None = None
    response_id: str | None = None
    status: str | None = None
    reason: str | None = None
    status_type: str | None = None
    error_code: str | None = None
    error_type: str | None = None
    output: tuple[ConversationItem, ...] | None = None
    usage: Usage | None = None


@frozen_value
class ServerError(SafeRepr):
    """§5.15. ``client_event_id`` is ``error.event_id``: the client frame that caused it."""

    TYPE: ClassVar[str] = "error"
    event_id: str | None = None
    type: str | None = None
    code: str | None = None
    message: str | None = secret_field()
    param: str | None = None
    client_event_id: str | None = None


# --- frames that are not (known) Hydra events --------------------------------------------------


@frozen_value
class Unparsed(SafeRepr):
    """A frame that could not be read as a Hydra event; ``reason`` never quotes the payload.

    ``raw_len`` is the length as received: characters for a text frame, bytes for a binary one.
    ``type`` and ``event_id`` are kept when the frame got far enough to show them (for example
    an ``input_audio_buffer.append`` whose audio is not base64).
    """

    raw_len: int
    reason: str
    type: str | None = None
    event_id: str | None = None


@frozen_value
class Unknown(SafeRepr):
    """A JSON object with a ``type`` Hydra does not document for this direction."""

    type: str
    event_id: str | None = None


ClientEvent = (
    SessionConfigure
    | SessionUpdate
    | InputAudioAppend
    | ConversationItemCreate
    | ResponseCreate
    | ResponseCancel
)
ServerEvent = (
    ServerWarning
    | SessionCreated
    | SessionConfigured
    | SessionUpdated
    | SpeechStarted
    | SpeechStopped
    | ConversationItemAdded
    | ConversationItemDone
    | ResponseCreated
    | OutputAudioDelta
    | OutputAudioDone
    | FunctionCallArgumentsDelta
    | FunctionCallArgumentsDone
    | ResponseDone
    | ServerError
)
Event = ClientEvent | ServerEvent | Unparsed | Unknown

CLIENT_EVENTS: tuple[type[Any], ...] = (
    SessionConfigure,
    SessionUpdate,
    InputAudioAppend,
    ConversationItemCreate,
    ResponseCreate,
    ResponseCancel,
)
SERVER_EVENTS: tuple[type[Any], ...] = (
    ServerWarning,
    SessionCreated,
    SessionConfigured,
    SessionUpdated,
    SpeechStarted,
    SpeechStopped,
    ConversationItemAdded,
    ConversationItemDone,
    ResponseCreated,
    OutputAudioDelta,
    OutputAudioDone,
    FunctionCallArgumentsDelta,
    FunctionCallArgumentsDone,
    ResponseDone,
    ServerError,
)
