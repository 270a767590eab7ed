"""The Hydra codec: round trips, every kind of bad input, and reprs that hide payloads."""

from __future__ import annotations

import base64
import json
from dataclasses import fields
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.hydra import events as ev
from recorder.hydra.codec import b64decode, encode, parse
from recorder.hydra.events import Direction

C2S, S2C = Direction.C2S, Direction.S2C

# --- strategies ---------------------------------------------------------------------------------

texts = st.none() | st.text(max_size=12)
ints = st.none() | st.integers(-(2**53), 2**53)
bools = st.none() | st.booleans()
pcm = st.binary(max_size=64).map(lambda b: b[: len(b) // 2 * 2])
tools = st.none() | st.lists(st.builds(ev.Tool, texts, texts, texts), max_size=3).map(tuple)
items = st.builds(
    ev.ConversationItem, texts, texts, texts, texts, texts, texts, texts, texts,
    st.none() | st.lists(st.text(max_size=8), max_size=3).map(tuple),
)
usage = st.none() | st.builds(ev.Usage, ints, ints, ints)

_BY_ANNOTATION: dict[str, st.SearchStrategy[Any]] = {
    "str | None": texts,
    "int | None": ints,
    "bool | None": bools,
    "bytes": pcm,
    "tuple[Tool, ...] | None": tools,
    "ConversationItem | None": st.none() | items,
    "tuple[ConversationItem, ...] | None": st.none() | st.lists(items, max_size=3).map(tuple),
    "Usage | None": usage,
}


def events_of(cls: type[Any]) -> st.SearchStrategy[Any]:
    return st.builds(cls, **{f.name: _BY_ANNOTATION[str(f.type)] for f in fields(cls)})


ALL = [(cls, C2S) for cls in ev.CLIENT_EVENTS] + [(cls, S2C) for cls in ev.SERVER_EVENTS]


@pytest.mark.parametrize(("cls", "direction"), ALL, ids=lambda x: getattr(x, "TYPE", str(x)))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_parse_inverts_encode(cls: type[Any], direction: Direction, data: st.DataObject) -> None:
    event = data.draw(events_of(cls))
    text = encode(event)
    assert json.loads(text)["type"] == cls.TYPE
    assert parse(text, direction) == event


def test_every_documented_type_is_covered() -> None:
    documented_c2s = {
        "session.configure", "session.update", "input_audio_buffer.append",
        "conversation.item.create", "response.create", "response.cancel",
    }
    documented_s2c = {
        "warning", "session.created", "session.configured", "session.updated",
        "input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
        "conversation.item.added", "conversation.item.done", "response.created",
        "response.output_audio.delta", "response.output_audio.done",
        "response.function_call_arguments.delta", "response.function_call_arguments.done",
        "response.done", "error",
    }
    assert {c.TYPE for c in ev.CLIENT_EVENTS} == documented_c2s
    assert {c.TYPE for c in ev.SERVER_EVENTS} == documented_s2c


# --- reading real frames ------------------------------------------------------------------------


def test_reference_error_frame() -> None:
    text = ('{"type":"error","event_id":"sv_91c2","error":{"type":"invalid_request_error",'
            '"code":"invalid_audio","message":"audio frame too small (40 bytes, need 320)",'
            '"param":"audio","event_id":"evt_0655"}}')
    e = parse(text, S2C)
    assert e == ev.ServerError("sv_91c2", "invalid_request_error", "invalid_audio",
                               "audio frame too small (40 bytes, need 320)", "audio", "evt_0655")


def test_audio_is_decoded_to_pcm() -> None:
    raw = bytes(range(256)) * 5  # 1280 bytes = 40 ms at 16 kHz
    e = parse(json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(raw).decode()}), C2S)
    assert isinstance(e, ev.InputAudioAppend)
    assert e.pcm == raw and e.samples == 640


def test_response_done_reads_status_details_and_usage() -> None:
    text = json.dumps({"type": "response.done", "response": {
        "id": "r1", "status": "failed",
        "status_details": {"type": "x", "error": {"code": "boom", "type": "server_error"}},
        "usage": {"input_tokens": 3, "output_tokens": "many"}}})
    e = parse(text, S2C)
    assert isinstance(e, ev.ResponseDone)
    assert (e.response_id, e.status, e.status_type, e.error_code, e.error_type) == (
        "r1", "failed", "x", "boom", "server_error")
    assert e.usage == ev.Usage(3, None, None)  # a wrong-typed field reads as absent


@pytest.mark.parametrize("frame", [
    {"type": "warning", "code": "model_deprecated", "message": "use hydra-v1.0"},
    {"type": "warning", "warning": {"code": "model_deprecated", "message": "use hydra-v1.0"}},
    {"type": "warning", "error": {"code": "model_deprecated", "message": "use hydra-v1.0"}},
])
def test_warning_layouts(frame: dict[str, Any]) -> None:
    assert parse(json.dumps(frame), S2C) == ev.ServerWarning(None, "model_deprecated", "use hydra-v1.0")


def test_extra_and_wrongly_typed_fields_are_tolerated() -> None:
    text = json.dumps({"type": "input_audio_buffer.speech_started", "audio_start_ms": "3180",
                       "item_id": 7, "brand_new_field": {"x": 1}})
    assert parse(text, S2C) == ev.SpeechStarted(None, None, None)


# --- bad input: never raises ----------------------------------------------------------------------


@pytest.mark.parametrize(("message", "reason_part"), [
    ("", "malformed JSON"),
    ("{", "malformed JSON"),
    ('{"type": "session.created",}', "malformed JSON"),
    ("not json at all", "malformed JSON"),
    ("[1, 2]", "JSON list is not an object"),
    ('"session.created"', "JSON str is not an object"),
    ("42", "JSON int is not an object"),
    ("null", "JSON NoneType is not an object"),
    ("{}", "'type' is missing"),
    ('{"type": 5}', "'type' is a JSON int"),
    ('{"type": null, "event_id": "e1"}', "'type' is missing"),
    ("[" * 100_000 + "]" * 100_000, "JSON"),
    ('{"type": "x", "n": ' + "9" * 5000 + "}", "unreadable JSON"),
])
def test_bad_json_is_unparsed(message: str, reason_part: str) -> None:
    e = parse(message, C2S)
    assert isinstance(e, ev.Unparsed)
    assert e.raw_len == len(message)
    assert reason_part in e.reason


def test_missing_type_keeps_event_id() -> None:
    assert parse('{"event_id": "evt_1"}', C2S) == ev.Unparsed(21, "'type' is missing, not a string", None, "evt_1")


@pytest.mark.parametrize("message", [b"", b"\x00\xff", b'{"type": "session.created"}'])
def test_binary_frames_are_unparsed(message: bytes) -> None:
    e = parse(message, S2C)
    assert e == ev.Unparsed(len(message), "binary frame (Hydra uses JSON text frames only)")


@pytest.mark.parametrize(("direction", "frame", "reason_part"), [
    (C2S, {"type": "input_audio_buffer.append", "audio": "!!!!"}, "not valid base64"),
    (C2S, {"type": "input_audio_buffer.append", "audio": "AAA"}, "not valid base64"),
    (C2S, {"type": "input_audio_buffer.append", "audio": "AA AA"}, "not valid base64"),
    (C2S, {"type": "input_audio_buffer.append", "audio": "AAAA"}, "odd byte count 3"),
    (C2S, {"type": "input_audio_buffer.append"}, "audio is missing"),
    (C2S, {"type": "input_audio_buffer.append", "audio": 12}, "audio is a JSON int, not a string"),
    (S2C, {"type": "response.output_audio.delta", "response_id": "r", "delta": "@@@@"}, "delta is not valid base64"),
    (S2C, {"type": "response.output_audio.delta", "delta": ["AAAA"]}, "delta is a JSON list"),
])
def test_bad_audio_is_unparsed_with_a_clear_reason(
    direction: Direction, frame: dict[str, Any], reason_part: str
) -> None:
    text = json.dumps({**frame, "event_id": "evt_9"})
    e = parse(text, direction)
    assert isinstance(e, ev.Unparsed)
    assert e.type == frame["type"] and e.event_id == "evt_9" and e.raw_len == len(text)
    assert reason_part in e.reason
    assert frame["type"] in e.reason


@pytest.mark.parametrize(("direction", "kind"), [
    (S2C, "response.text.delta"),  # not a Hydra event
    (S2C, "input_audio_buffer.append"),  # a client event arriving from the server
    (C2S, "session.created"),  # a server event arriving from the client
])
def test_unknown_types(direction: Direction, kind: str) -> None:
    assert parse(json.dumps({"type": kind, "event_id": "e"}), direction) == ev.Unknown(kind, "e")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
known_types = st.sampled_from([c.TYPE for c in ev.CLIENT_EVENTS + ev.SERVER_EVENTS])
field_names = st.sampled_from([
    "event_id", "session", "audio", "delta", "item", "response", "error", "tools", "status",
    "response_id", "item_id", "call_id", "name", "arguments", "usage", "output", "code",
    "audio_start_ms", "session_id", "status_details", "content", "id",
])


@settings(max_examples=300, deadline=None)
@given(kind=known_types, body=st.dictionaries(field_names, json_values, max_size=6),
       direction=st.sampled_from(list(Direction)))
def test_any_object_of_a_known_type_parses_without_raising(
    kind: str, body: dict[str, Any], direction: Direction
) -> None:
    e = parse(json.dumps({**body, "type": kind}), direction)
    assert isinstance(e, ev.Unknown | ev.Unparsed) or type(e).TYPE == kind


@settings(max_examples=200, deadline=None)
@given(message=st.text() | st.binary(), direction=st.sampled_from(list(Direction)))
def test_arbitrary_messages_never_raise(message: str | bytes, direction: Direction) -> None:
    parse(message, direction)


# --- reprs ------------------------------------------------------------------------------------------


def test_reprs_never_show_payloads() -> None:
    secret = "SECRET_4111111111111111"
    raw = secret.encode() + b"!"  # 24 bytes
    b64 = base64.b64encode(raw).decode()
    frames = [
        (C2S, {"type": "input_audio_buffer.append", "audio": b64}),
        (S2C, {"type": "response.output_audio.delta", "delta": b64}),
        (S2C, {"type": "response.function_call_arguments.delta", "delta": secret}),
        (S2C, {"type": "response.function_call_arguments.done", "arguments": secret}),
        (C2S, {"type": "session.configure", "session": {"instructions": secret,
                                                        "tools": [{"name": "t", "description": secret}]}}),
        (S2C, {"type": "session.configured", "session": {"instructions": secret}}),
        (C2S, {"type": "conversation.item.create",
               "item": {"type": "function_call_output", "call_id": "c", "output": secret}}),
        (S2C, {"type": "conversation.item.done",
               "item": {"type": "function_call", "call_id": "c", "arguments": secret}}),
        (S2C, {"type": "error", "error": {"message": secret}}),
    ]
    for direction, frame in frames:
        text = repr(parse(json.dumps(frame), direction))
        assert secret not in text and b64 not in text and "SECRET" not in text, text
    delta = parse(json.dumps(frames[1][1]), S2C)
    assert "pcm=<24 bytes, 12 samples>" in repr(delta)
    bad = parse(json.dumps({"type": "input_audio_buffer.append", "audio": secret + "@"}), C2S)
    assert "SECRET" not in repr(bad)


def test_encode_refuses_values_that_are_not_events() -> None:
    with pytest.raises(TypeError):
        encode(ev.Unparsed(3, "x"))
    with pytest.raises(TypeError):
        encode(ev.Unknown("x"))


# --- audio validated, not decoded (``audio_content=False``) --------------------------------------

_B64_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# base64-looking text, often wrong: padding anywhere, odd lengths, characters just outside the
# alphabet (URL-safe, whitespace, non-ASCII), escapes the JSON decoder turns into alphabet
b64ish = (
    st.binary(max_size=48).map(lambda b: base64.b64encode(b).decode())
    | st.text(alphabet=_B64_CHARS + "=-_ \n\té\\", max_size=40)
    | st.builds(lambda b, cut, junk: base64.b64encode(b).decode()[:cut] + junk,
                st.binary(max_size=24), st.integers(0, 40), st.sampled_from(["", "=", "==", "===", "A=", " ", "é"]))
)


def _audio_frame(kind: str, value: object, escaped: bool) -> str:
    field = "audio" if kind == ev.InputAudioAppend.TYPE else "delta"
    text = json.dumps({"type": kind, "event_id": "e1", "response_id": "r1", field: value})
    return text.replace("A", "\\u0041") if escaped else text


@settings(max_examples=400, deadline=None)
@given(value=b64ish | st.none() | st.integers() | st.lists(st.integers(), max_size=2),
       kind=st.sampled_from([ev.InputAudioAppend.TYPE, ev.OutputAudioDelta.TYPE]), escaped=st.booleans())
def test_audio_validated_without_decoding_gives_the_same_event_with_silence_of_the_same_length(
    value: object, kind: str, escaped: bool
) -> None:
    direction = C2S if kind == ev.InputAudioAppend.TYPE else S2C
    message = _audio_frame(kind, value, escaped)
    decoded = parse(message, direction)
    checked = parse(message, direction, audio_content=False)
    if isinstance(decoded, (ev.InputAudioAppend, ev.OutputAudioDelta)):
        assert type(checked) is type(decoded)
        assert checked == type(decoded)(**{**{f.name: getattr(decoded, f.name) for f in fields(decoded)},
                                           "pcm": bytes(len(decoded.pcm))})
    else:
        assert checked == decoded  # the very same Unparsed reason


def test_audio_validated_without_decoding_rejects_what_decoding_rejects() -> None:
    for value, reason in [("QUI", "not valid base64"), ("QU=I", "not valid base64"), ("QUJD", "odd byte count 3"),
                          ("QUJD=", "odd byte count 3"), ("QUJ-", "not valid base64"), ("QUJDRA==", None), ("", None),
                          ("QUJDRA===", "not valid base64")]:
        checked = parse(_audio_frame(ev.InputAudioAppend.TYPE, value, False), C2S, audio_content=False)
        decoded = parse(_audio_frame(ev.InputAudioAppend.TYPE, value, False), C2S)
        if reason:
            assert isinstance(checked, ev.Unparsed) and reason in checked.reason
            assert checked == decoded
        else:
            assert isinstance(decoded, ev.InputAudioAppend)
            assert checked == ev.InputAudioAppend(bytes(len(decoded.pcm)), "e1")


def _stdlib_b64(value: str) -> bytes | str:
    try:
        return base64.b64decode(value, validate=True)
    except ValueError as exc:
        return f"{type(exc).__name__}: {exc}"


def _fast_b64(value: str) -> bytes | str:
    try:
        return b64decode(value)
    except ValueError as exc:
        return f"{type(exc).__name__}: {exc}"


@settings(max_examples=2000, deadline=None)
@given(value=b64ish | st.text(max_size=16) | st.binary(max_size=4096).map(lambda b: base64.b64encode(b).decode()))
def test_the_fast_base64_decoder_is_the_standard_librarys(value: str) -> None:
    """Same bytes for what the standard library accepts, the same error for what it refuses:
    surplus padding, a padding-only tail, characters off the alphabet, non-ASCII."""
    assert _fast_b64(value) == _stdlib_b64(value)


@pytest.mark.parametrize("value", ["QUJDRA=", "QUJDRA===", "QUJDRA=====", "=", "==", "====", "QQ=", "Q", "QUJDRA==QQ==",
                                   "QU\nJD", "QUJDé", "", "AAAA" * 5000,
                                   "eo82tNoXEYut="])  # surplus padding: pybase64 refuses, the standard library decodes
def test_the_fast_base64_decoder_agrees_on_the_edge_cases(value: str) -> None:
    assert _fast_b64(value) == _stdlib_b64(value)
