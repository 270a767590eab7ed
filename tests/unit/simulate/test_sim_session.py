"""The Hydra stand-in's pure session: frames and time in, frames out. No sockets, no loop."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.errors import ConfigError
from recorder.simulate.hydra_session import (
    GREETING,
    SMALL_TALK,
    TOOL_RESULT,
    Action,
    Close,
    HydraSession,
    HydraSimConfig,
    Send,
)
from recorder.simulate.voice import caller_silence, caller_speech, caller_words
from recorder.simulate.wordcode import decode, normalize, word_ms

TOOL = {"type": "function", "name": "lookup_order",
        "parameters": {"type": "object", "properties": {"order_number": {"type": "string"}}}}


class Driver:
    """Feeds a session and keeps the frames it produced, parsed."""

    def __init__(self, config: HydraSimConfig = HydraSimConfig(), model: str = "hydra-v1.1", index: int = 0) -> None:
        self.now = 0.0
        self.session = HydraSession(config, model=model, session_index=index, now=0.0,
                                    session_id=f"sess-test-{index}")
        self.out: list[dict[str, Any]] = []
        self.closes: list[Close] = []
        self._take(self.session.open(0.0))

    def _take(self, actions: list[Action]) -> list[dict[str, Any]]:
        frames = []
        for action in actions:
            if isinstance(action, Send):
                frames.append(json.loads(action.text))
            else:
                self.closes.append(action)
        self.out += frames
        return frames

    def send(self, frame: dict[str, Any] | str | bytes, dt: float = 0.0) -> list[dict[str, Any]]:
        self.now += dt
        message = frame if isinstance(frame, (str, bytes)) else json.dumps(frame)
        return self._take(self.session.receive(message, self.now))

    def wait(self, seconds: float) -> list[dict[str, Any]]:
        self.now += seconds
        return self._take(self.session.advance(self.now))

    def configure(self, **session: Any) -> list[dict[str, Any]]:
        return self.send({"type": "session.configure", "session": session})

    def audio(self, pcm: bytes, realtime: bool = True) -> list[dict[str, Any]]:
        frames = []
        for off in range(0, len(pcm), 640):
            frames += self.send({"type": "input_audio_buffer.append",
                                 "audio": base64.b64encode(pcm[off : off + 640]).decode()},
                                0.02 if realtime else 0.0)
        return frames

    def turn(self, talk_ms: int = 800, after_ms: int = 700, index: int = 0) -> list[dict[str, Any]]:
        return self.audio(caller_speech(talk_ms, seed=0, index=index) + caller_silence(after_ms, seed=0))


def types(frames: list[dict[str, Any]]) -> list[str]:
    return [f["type"] for f in frames]


def test_first_frame_is_session_created_with_the_id_the_shell_gave() -> None:
    d = Driver()
    assert types(d.out) == ["session.created"]
    assert d.out[0]["session_id"] == "sess-test-0"


def test_deprecated_model_warns_before_session_created() -> None:
    d = Driver(model="hydra")
    assert types(d.out) == ["warning", "session.created"]
    assert d.out[0]["code"] == "model_deprecated"


def test_configure_echoes_defaults_and_is_one_shot() -> None:
    d = Driver()
    configured = d.configure(tools=[TOOL], instuctions="typo is ignored")
    assert types(configured) == ["session.configured"]
    session = configured[0]["session"]
    assert session["voice"] == "sterling"
    assert session["tools"] == [TOOL]
    assert session["generate_initial_response"] is False
    assert d.configure(voice="zoe") == []


@pytest.mark.parametrize(("model", "voice", "ok"), [
    ("hydra-v1.1", "aria", True), ("hydra-v1.1", "vaughn", False),
    ("hydra-v1.0", "vaughn", True), ("hydra-v1.0", "aria", False),
    ("hydra-v1.1", "sterling", True), ("hydra", "cole", True), ("hydra", "wren", False),
])
def test_voice_rosters_per_model_tag(model: str, voice: str, ok: bool) -> None:
    d = Driver(model=model)
    reply = d.configure(voice=voice)
    if ok:
        assert types(reply) == ["session.configured"] and reply[0]["session"]["voice"] == voice
    else:
        assert types(reply) == ["error"]
        assert reply[0]["error"]["code"] == "invalid_request_error"
        assert reply[0]["error"]["param"] == "session.configure.session.voice"
        assert types(d.configure(voice="sterling")) == ["session.configured"]


@pytest.mark.parametrize(("message", "code"), [
    ("{not json", "invalid_frame"),
    ("[1, 2]", "invalid_frame"),
    (b"\x00\x01", "invalid_frame"),
    ('{"type": "session.explode"}', "invalid_frame"),
    ('{"event_id": "evt_1"}', "invalid_request_error"),
    ('{"type": "session.update", "event_id": "e", "session": {"voice": "aria"}}', "invalid_frame"),
    ('{"type": "session.update", "session": {"tools": []}, "extra": 1}', "invalid_frame"),
])
def test_schema_failures_are_errors_and_the_session_continues(message: str | bytes, code: str) -> None:
    d = Driver()
    d.configure()
    reply = d.send(message)
    assert types(reply) == ["error"] and reply[0]["error"]["code"] == code
    assert d.closes == []
    assert types(d.send({"type": "session.update", "session": {"tools": [TOOL]}})) == ["session.updated"]


def test_error_echoes_the_client_event_id() -> None:
    d = Driver()
    d.configure()
    reply = d.send({"type": "input_audio_buffer.append", "event_id": "evt_0655",
                    "audio": base64.b64encode(b"\0" * 40).decode()})
    assert reply[0]["error"] == {"type": "invalid_request_error", "code": "invalid_audio",
                                 "message": "audio frame too small (40 bytes, need 320)",
                                 "param": "audio", "event_id": "evt_0655"}
    bad = d.send({"type": "input_audio_buffer.append", "audio": "@@not base64@@"})
    assert bad[0]["error"]["code"] == "invalid_audio"


def test_session_update_replies_only_with_applied_changes() -> None:
    d = Driver()
    d.configure(tools=[TOOL])
    assert d.send({"type": "session.update", "session": {"tools": [TOOL]}}) == []
    other = dict(TOOL, name="transfer_to_human")
    reply = d.send({"type": "session.update", "session": {"tools": [TOOL, other]}})
    assert reply == [{"type": "session.updated", "event_id": reply[0]["event_id"],
                      "session": {"tools": [TOOL, other]}}]


def test_audio_before_configured_is_discarded_silently() -> None:
    d = Driver()
    assert d.turn() == []
    assert d.send({"type": "input_audio_buffer.append", "audio": "%%%"}) == []
    d.configure()
    frames = d.audio(caller_silence(300, seed=0)) + d.turn()
    started = [f for f in frames if f["type"] == "input_audio_buffer.speech_started"]
    assert started[0]["audio_start_ms"] in range(300, 320)


def test_caller_turn_then_spoken_response_in_documented_order() -> None:
    cfg = HydraSimConfig(response_ms=1000, chunk_ms=200, speed=5.0, response_delay_ms=50)
    d = Driver(cfg)
    d.configure()
    frames = d.audio(caller_silence(200, seed=0)) + d.turn(talk_ms=800, after_ms=600)
    frames += d.wait(1.0)
    assert types(frames) == [
        "input_audio_buffer.speech_started", "conversation.item.added",
        "input_audio_buffer.speech_stopped", "conversation.item.done",
        "response.created", "conversation.item.added",
        *["response.output_audio.delta"] * 5,
        "response.output_audio.done", "conversation.item.done", "response.done",
    ]
    start, stop = frames[0], frames[2]
    assert start["item_id"] == stop["item_id"] == frames[1]["item"]["id"]
    assert 200 <= start["audio_start_ms"] <= 220 and 900 <= stop["audio_end_ms"] <= 1000
    deltas = [f for f in frames if f["type"] == "response.output_audio.delta"]
    assert all(len(base64.b64decode(f["delta"])) == 19200 for f in deltas)
    assert {f["response_id"] for f in deltas} == {frames[4]["response"]["id"]}
    done = frames[-1]["response"]
    assert done["status"] == "completed"
    assert done["usage"]["total_tokens"] == done["usage"]["input_tokens"] + done["usage"]["output_tokens"] > 0
    assert frames[5]["previous_item_id"] == start["item_id"]


def test_agent_audio_is_paced_faster_than_real_time() -> None:
    d = Driver(HydraSimConfig(response_ms=1200, chunk_ms=200, speed=4.0, response_delay_ms=0))
    d.configure(generate_initial_response=True)
    assert types(d.wait(0.0)) == ["response.created", "conversation.item.added", "response.output_audio.delta"]
    assert d.session.next_deadline() == pytest.approx(0.05)
    assert types(d.wait(0.049)) == []
    assert types(d.wait(0.002)) == ["response.output_audio.delta"]
    late = d.wait(1.0)
    assert types(late)[:4] == ["response.output_audio.delta"] * 4
    assert types(late)[-1] == "response.done"


def test_barge_in_cancels_the_response_in_flight() -> None:
    d = Driver(HydraSimConfig(response_ms=4000, speed=1.0))
    d.configure(generate_initial_response=True)
    d.wait(0.3)
    frames = d.audio(caller_speech(400, seed=0))
    assert types(frames)[:4] == ["input_audio_buffer.speech_started", "conversation.item.done",
                                 "response.done", "conversation.item.added"]
    assert frames[1]["item"]["status"] == "incomplete"
    done = frames[2]["response"]
    assert (done["status"], done["status_details"]["reason"]) == ("cancelled", "interrupted")
    assert done["usage"]["output_tokens"] > 0
    assert "response.output_audio.delta" not in types(frames[2:])
    after = d.audio(caller_silence(700, seed=0)) + d.wait(5.0)
    assert types(after).count("response.created") == 1
    assert after[-1]["response"]["status"] == "completed"


def test_response_cancel_is_client_cancelled_or_a_no_op() -> None:
    d = Driver()
    d.configure()
    assert d.send({"type": "response.cancel"}) == []
    d.send({"type": "response.create"})
    d.wait(0.1)
    assert d.send({"type": "response.cancel", "response_id": "resp_other"}) == []
    reply = d.send({"type": "response.cancel"})
    assert types(reply) == ["conversation.item.done", "response.done"]
    assert reply[1]["response"]["status_details"]["reason"] == "client_cancelled"
    assert "usage" in reply[1]["response"]


def test_tool_call_round_trip() -> None:
    d = Driver(HydraSimConfig(tool_call_every=2))
    d.configure(tools=[TOOL])
    frames = d.turn() + d.wait(0.2)
    kinds = types(frames)
    assert kinds[4:] == ["response.created", "conversation.item.added", *["response.function_call_arguments.delta"] * 3,
                         "response.function_call_arguments.done", "conversation.item.done", "response.done"]
    deltas = [f for f in frames if f["type"] == "response.function_call_arguments.delta"]
    done = frames[9]
    assert deltas[0]["name"] == "lookup_order" and all("name" not in f for f in deltas[1:])
    assert "".join(f["delta"] for f in deltas) == done["arguments"]
    assert set(json.loads(done["arguments"])) == {"order_number"}
    echo = d.send({"type": "conversation.item.create", "item": {
        "type": "function_call_output", "call_id": done["call_id"], "output": '{"ok": true}'}}, 0.5)
    assert types(echo) == ["conversation.item.added"]
    assert echo[0]["item"]["call_id"] == done["call_id"] and echo[0]["previous_item_id"] == frames[5]["item"]["id"]
    d.send({"type": "response.create"})
    spoken = d.wait(2.0)
    assert "response.output_audio.delta" in types(spoken) and spoken[-1]["response"]["status"] == "completed"
    # tool_call_every=2: the next turn is spoken, the one after calls the tool again
    assert "response.function_call_arguments.done" not in types(d.turn(index=1) + d.wait(2.0))
    assert "response.function_call_arguments.done" in types(d.turn(index=2) + d.wait(2.0))


def test_tool_response_timeout_abandons_the_turn() -> None:
    d = Driver(HydraSimConfig(tool_response_timeout_s=2.0, idle_timeout_s=100))
    d.configure(tools=[TOOL])
    d.turn()
    d.wait(0.1)
    assert types(d.wait(1.5)) == []
    late = d.wait(1.0)
    assert types(late) == ["error"] and late[0]["error"]["code"] == "tool_response_timeout"
    assert types(d.wait(10.0)) == []


def test_idle_close_after_no_frames_either_way() -> None:
    d = Driver(HydraSimConfig(idle_timeout_s=5.0))
    d.configure()
    d.wait(4.0)
    d.send({"type": "input_audio_buffer.append", "audio": base64.b64encode(caller_silence(20, seed=0)).decode()})
    d.wait(4.9)
    assert d.closes == []
    d.wait(0.2)
    assert d.closes == [Close(1000, "idle timeout")]
    assert d.session.next_deadline() is None and d.session.closed


def test_same_seed_same_frames() -> None:
    def run(seed: int) -> list[dict[str, Any]]:
        d = Driver(HydraSimConfig(seed=seed), index=4)
        d.configure(tools=[TOOL], generate_initial_response=True)
        d.wait(1.0)
        d.turn()
        d.wait(1.0)
        return d.out

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_config_rejects_nonsense_and_hides_keys() -> None:
    with pytest.raises(ConfigError):
        HydraSimConfig(speed=0)
    assert "sk_secret" not in repr(HydraSimConfig(api_keys=frozenset({"sk_secret"})))


def test_a_greeting_configured_over_a_response_in_flight_cancels_it_first() -> None:
    d = Driver(HydraSimConfig(idle_timeout_s=1000))
    d.send({"type": "response.create"})
    d.wait(0.25)
    frames = d.configure(generate_initial_response=True)
    assert types(frames) == ["session.configured", "conversation.item.done", "response.done"]
    assert frames[2]["response"]["status_details"]["reason"] == "interrupted"
    assert types(d.wait(0.1))[0] == "response.created"


# -- the word code voice --------------------------------------------------------------------


def spoken(frames: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The words each response said, by response id, decoded from its audio deltas."""
    audio: dict[str, bytes] = {}
    for f in frames:
        if f["type"] == "response.output_audio.delta":
            audio[f["response_id"]] = audio.get(f["response_id"], b"") + base64.b64decode(f["delta"])
    return {rid: [w.text for w in decode(np.frombuffer(pcm, dtype="<i2"), 48000)] for rid, pcm in audio.items()}


WORDS = HydraSimConfig(speech="wordcode", response_ms=1000, chunk_ms=200, speed=10.0, response_delay_ms=0,
                       idle_timeout_s=1000, replies=("your card ends in one one one one", "goodbye"))


def test_wordcode_responses_say_the_replies_in_order_then_the_script() -> None:
    d = Driver(WORDS)
    d.configure(generate_initial_response=True)
    d.wait(5.0)
    for i in range(3):
        d.audio(caller_words("one more thing", seed=0, index=i) + caller_silence(700, seed=0))
        d.wait(5.0)
    said = list(spoken(d.out).values())
    assert said == [["your", "card", "ends", "in", "one", "one", "one", "one"], ["goodbye"],
                    SMALL_TALK[0].split(), SMALL_TALK[1].split()]
    done = [f["response"] for f in d.out if f["type"] == "response.done"]
    assert [x["status"] for x in done] == ["completed"] * 4


def _coded_ms(text: str) -> int:
    """100 ms lead-in, the words with 100 ms between them, 100 ms after."""
    words = normalize(text)
    return 100 + sum(word_ms(w) for w in words) + 100 * (len(words) - 1) + 100


def test_wordcode_response_lasts_as_long_as_its_words_and_at_least_response_ms() -> None:
    d = Driver(WORDS)
    d.configure(generate_initial_response=True)
    frames = d.wait(5.0)
    deltas = [base64.b64decode(f["delta"]) for f in frames if f["type"] == "response.output_audio.delta"]
    assert {len(x) for x in deltas} == {19200}
    assert _coded_ms(WORDS.replies[0]) == 2400
    assert len(deltas) == 12  # 2.4 s of words and silence: 12 whole 200 ms chunks
    short = Driver(HydraSimConfig(speech="wordcode", response_ms=3000, speed=10.0, replies=("hi",)))
    short.configure(generate_initial_response=True)
    chunks = [f for f in short.wait(5.0) if f["type"] == "response.output_audio.delta"]
    assert len(chunks) == 15


def test_wordcode_response_done_comes_at_the_end_of_its_audio_at_the_response_pace() -> None:
    d = Driver(WORDS)
    d.configure(generate_initial_response=True)
    d.wait(0.0)
    d.wait(0.235)  # 12 chunks, 2.4 s of audio at 10x: the last chunk is due at 0.22 s, the end at 0.24 s
    assert types(d.out).count("response.output_audio.delta") == 12
    assert "response.done" not in types(d.out)
    d.wait(0.01)
    assert types(d.out)[-1] == "response.done"


def test_wordcode_greeting_and_tool_result_come_from_the_script() -> None:
    d = Driver(HydraSimConfig(speech="wordcode", speed=10.0, response_delay_ms=0, idle_timeout_s=1000))
    d.configure(tools=[TOOL], generate_initial_response=True)
    d.wait(5.0)
    frames = d.turn()
    frames += d.wait(0.1)
    call = next(f for f in frames if f["type"] == "response.function_call_arguments.done")
    d.send({"type": "conversation.item.create", "item": {
        "type": "function_call_output", "call_id": call["call_id"], "output": '{"status": "shipped"}'}})
    d.send({"type": "response.create"})
    d.wait(5.0)
    d.send({"type": "response.create"})
    d.wait(5.0)
    assert list(spoken(d.out).values()) == [GREETING.split(), TOOL_RESULT.split(), SMALL_TALK[0].split()]


def test_synthetic_stays_the_default_and_speech_is_checked() -> None:
    assert HydraSimConfig().speech == "synthetic"
    with pytest.raises(ConfigError):
        HydraSimConfig(speech="opera")
    assert "4111" not in repr(HydraSimConfig(replies=("card 4111",)))
    d = Driver(HydraSimConfig(response_delay_ms=0))
    d.configure(generate_initial_response=True)
    assert spoken(d.wait(5.0)) != {} and all(words == [] for words in spoken(d.out).values())


_client_frames = st.sampled_from([
    {"type": "session.configure", "session": {"tools": [TOOL], "generate_initial_response": True}},
    {"type": "session.update", "session": {"tools": []}},
    {"type": "session.update", "session": {"tools": [TOOL]}},
    {"type": "response.create"},
    {"type": "response.cancel"},
    {"type": "conversation.item.create", "item": {"type": "function_call_output", "call_id": "c", "output": "x"}},
    "speech", "silence", "{bad", b"\x01",
])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_client_frames, st.floats(min_value=0, max_value=3)), max_size=25))
def test_every_response_created_ends_in_exactly_one_response_done_with_usage(
    script: list[tuple[object, float]],
) -> None:
    d = Driver(HydraSimConfig(idle_timeout_s=1000, tool_call_every=1))
    for frame, dt in script:
        d.wait(dt)
        if frame == "speech":
            d.audio(caller_speech(300, seed=0), realtime=False)
        elif frame == "silence":
            d.audio(caller_silence(600, seed=0), realtime=False)
        else:
            assert isinstance(frame, (dict, str, bytes))
            d.send(frame)
    d.audio(caller_silence(600, seed=0), realtime=False)
    d.wait(30.0)
    open_responses: set[str] = set()
    for f in d.out:
        if f["type"] == "response.created":
            assert not open_responses, "a new response started before the previous one ended"
            open_responses.add(f["response"]["id"])
        elif f["type"] == "response.done":
            open_responses.remove(f["response"]["id"])
            assert set(f["response"]["usage"]) == {"input_tokens", "output_tokens", "total_tokens"}
        elif f["type"] == "response.output_audio.delta":
            assert f["response_id"] in open_responses
    assert not open_responses
