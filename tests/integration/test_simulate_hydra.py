"""The Hydra stand-in over real loopback WebSockets, driven by the `websockets` client and by
the scripted caller."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
import soxr
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from recorder.errors import UpstreamRefused
from recorder.simulate.caller import (
    Await,
    CallScript,
    Inject,
    Pause,
    Say,
    ScriptTimeout,
    Talk,
    run_call,
)
from recorder.simulate.hydra import INVALID_CREDENTIALS, HydraSimConfig, HydraSimulator, run_hydra_sim
from recorder.simulate.voice import caller_silence, caller_speech
from recorder.simulate.wordcode import decode, render
from tests.integration.archive_check import open_only_archive
from tests.integration.harness import proxy_settings, running_proxy

KEY = "sk_test_sim_key_1234"
FAST = HydraSimConfig(speed=20.0, response_ms=600, response_delay_ms=10, hangover_ms=300)
T = TypeVar("T")


def run(config: HydraSimConfig, body: Callable[[HydraSimulator], Awaitable[T]]) -> T:
    async def main() -> T:
        async with run_hydra_sim(config) as sim:
            return await asyncio.wait_for(body(sim), 60)

    return asyncio.run(main())


async def recv_json(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    assert isinstance(frame, dict)
    return frame


async def until(ws: ClientConnection, kind: str, timeout: float = 5.0) -> list[dict[str, Any]]:
    """Frames received up to and including the first of type `kind`."""
    frames: list[dict[str, Any]] = []
    while not frames or frames[-1]["type"] != kind:
        frames.append(await recv_json(ws, timeout))
    return frames


def open_ws(sim: HydraSimulator, query: str = "", **kwargs: Any) -> Any:
    return connect(f"{sim.url}?api_key={KEY}{query}", max_size=None, **kwargs)


def append(pcm: bytes) -> str:
    return json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()})


async def stream(ws: ClientConnection, pcm: bytes) -> None:
    for off in range(0, len(pcm), 640):
        await ws.send(append(pcm[off : off + 640]))


# -- handshake ------------------------------------------------------------------------------


@pytest.mark.parametrize("api_keys", [None, frozenset({KEY})])
def test_missing_or_rejected_key_is_http_401_at_the_handshake(api_keys: frozenset[str] | None) -> None:
    async def body(sim: HydraSimulator) -> list[InvalidStatus]:
        refused = []
        for url in (sim.url, f"{sim.url}?model=hydra-v1.1&api_key=", f"{sim.url}?api_key=sk_wrong"):
            if url.endswith("sk_wrong") and api_keys is None:
                continue
            with pytest.raises(InvalidStatus) as info:
                async with connect(url):
                    pass
            refused.append(info.value)
        return refused

    for exc in run(HydraSimConfig(api_keys=api_keys), body):
        assert exc.response.status_code == 401
        assert exc.response.body == INVALID_CREDENTIALS.encode()


def test_bearer_header_is_accepted_and_any_path_works() -> None:
    async def body(sim: HydraSimulator) -> dict[str, Any]:
        url = sim.url.replace("/waves/v1/s2s", "/some/other/path") + "?model=hydra-v1.0"
        async with connect(url, additional_headers={"Authorization": f"Bearer {KEY}"}) as ws:
            return await recv_json(ws)

    assert run(HydraSimConfig(api_keys=frozenset({KEY})), body)["type"] == "session.created"


def test_run_call_reports_a_refusal_as_upstream_refused() -> None:
    async def body(sim: HydraSimulator) -> None:
        await run_call(sim.url, api_key="sk_wrong")

    with pytest.raises(UpstreamRefused) as info:
        run(HydraSimConfig(api_keys=frozenset({KEY})), body)
    assert info.value.status == 401


# -- session set-up ---------------------------------------------------------------------------


def test_deprecated_model_gets_a_warning_before_session_created() -> None:
    async def body(sim: HydraSimulator) -> list[dict[str, Any]]:
        async with open_ws(sim, "&model=hydra") as ws:
            return [await recv_json(ws), await recv_json(ws)]

    warning, created = run(FAST, body)
    assert (warning["type"], warning["code"]) == ("warning", "model_deprecated")
    assert created["type"] == "session.created"


def test_configure_voices_and_unknown_voice() -> None:
    async def body(sim: HydraSimulator) -> list[dict[str, Any]]:
        replies = []
        for query, voice in (("", None), ("&model=hydra-v1.1", "aria"), ("&model=hydra-v1.0", "aria")):
            async with open_ws(sim, query) as ws:
                await recv_json(ws)
                session = {} if voice is None else {"voice": voice}
                await ws.send(json.dumps({"type": "session.configure", "event_id": "evt_1", "session": session}))
                replies.append(await recv_json(ws))
        return replies

    default, aria, unknown = run(FAST, body)
    assert default["type"] == "session.configured" and default["session"]["voice"] == "sterling"
    assert aria["session"]["voice"] == "aria"
    assert unknown["type"] == "error"
    assert unknown["error"]["code"] == "invalid_request_error"
    assert unknown["error"]["param"] == "session.configure.session.voice"
    assert unknown["error"]["event_id"] == "evt_1"


def test_invalid_frames_and_invalid_audio_get_errors_and_the_session_lives_on() -> None:
    async def body(sim: HydraSimulator) -> list[dict[str, Any]]:
        async with open_ws(sim) as ws:
            await recv_json(ws)
            await ws.send('{"type": "session.configure", "session": {}}')
            await recv_json(ws)
            for message in ("{oops", b"\x00\xff", '{"type": "no.such.event"}',
                            '{"type": "session.update", "session": {"instructions": "x"}}',
                            append(b"\x00" * 40),
                            '{"type": "input_audio_buffer.append", "audio": "not base64!"}'):
                await ws.send(message)
            errors = [await recv_json(ws) for _ in range(6)]
            await ws.send('{"type": "session.update", "session": {"tools": [{"type": "function", "name": "f"}]}}')
            errors.append(await recv_json(ws))
            return errors

    frames = run(FAST, body)
    assert [f["error"]["code"] for f in frames[:6]] == ["invalid_frame"] * 4 + ["invalid_audio"] * 2
    assert frames[4]["error"]["message"] == "audio frame too small (40 bytes, need 320)"
    assert frames[6]["type"] == "session.updated"


# -- turns and responses ----------------------------------------------------------------------


def test_turn_detection_and_a_spoken_response_faster_than_real_time() -> None:
    config = HydraSimConfig(speed=4.0, response_ms=1200, chunk_ms=200, response_delay_ms=10, hangover_ms=300)

    async def body(sim: HydraSimulator) -> tuple[list[dict[str, Any]], float]:
        async with open_ws(sim) as ws:
            await recv_json(ws)
            await ws.send('{"type": "session.configure", "session": {}}')
            await recv_json(ws)
            await stream(ws, caller_silence(400, seed=0) + caller_speech(900, seed=0) + caller_silence(400, seed=0))
            frames = await until(ws, "response.created")
            t0 = time.monotonic()
            frames += await until(ws, "response.done")
            return frames, time.monotonic() - t0

    frames, streaming_s = run(config, body)
    kinds = [f["type"] for f in frames]
    assert kinds[:5] == ["input_audio_buffer.speech_started", "conversation.item.added",
                         "input_audio_buffer.speech_stopped", "conversation.item.done", "response.created"]
    assert 400 <= frames[0]["audio_start_ms"] <= 420
    assert 1200 <= frames[2]["audio_end_ms"] <= 1300
    deltas = [f for f in frames if f["type"] == "response.output_audio.delta"]
    assert [len(base64.b64decode(f["delta"])) for f in deltas] == [19200] * 6  # 6 x 200 ms at 48 kHz
    # 1200 ms of audio at 4x takes about 300 ms on the wire: well under real time, not instant
    assert 0.2 < streaming_s < 0.9
    assert kinds[-3:] == ["response.output_audio.done", "conversation.item.done", "response.done"]


def test_barge_in_cancels_the_response_in_flight_and_the_next_turn_proceeds() -> None:
    config = HydraSimConfig(speed=1.0, response_ms=3000, response_delay_ms=10, hangover_ms=300)

    async def body(sim: HydraSimulator) -> list[dict[str, Any]]:
        async with open_ws(sim) as ws:
            await recv_json(ws)
            await ws.send('{"type": "session.configure", "session": {"generate_initial_response": true}}')
            frames = await until(ws, "response.output_audio.delta")
            await stream(ws, caller_speech(500, seed=0) + caller_silence(400, seed=0))
            frames += await until(ws, "response.created")
            await ws.send('{"type": "response.cancel"}')
            frames += await until(ws, "response.done")
            return frames

    frames = run(config, body)
    done = [f["response"] for f in frames if f["type"] == "response.done"]
    assert [(d["status"], d["status_details"]["reason"]) for d in done] == [
        ("cancelled", "interrupted"), ("cancelled", "client_cancelled")]
    assert all(d["usage"]["total_tokens"] > 0 for d in done)
    kinds = [f["type"] for f in frames]
    barge = kinds.index("input_audio_buffer.speech_started")
    assert kinds[barge + 1 : barge + 4] == ["conversation.item.done", "response.done", "conversation.item.added"]
    assert "input_audio_buffer.speech_stopped" in kinds[barge:]


def test_tool_call_round_trip_over_the_wire() -> None:
    tool = {"type": "function", "name": "lookup_order",
            "parameters": {"type": "object", "properties": {"order_number": {"type": "string"}}}}

    async def body(sim: HydraSimulator) -> list[dict[str, Any]]:
        async with open_ws(sim) as ws:
            await recv_json(ws)
            await ws.send(json.dumps({"type": "session.configure", "session": {"tools": [tool]}}))
            await recv_json(ws)
            await stream(ws, caller_speech(600, seed=0) + caller_silence(400, seed=0))
            frames = await until(ws, "response.done")
            call = next(f for f in frames if f["type"] == "response.function_call_arguments.done")
            await ws.send(json.dumps({"type": "conversation.item.create", "item": {
                "type": "function_call_output", "call_id": call["call_id"], "output": '{"status": "shipped"}'}}))
            frames += await until(ws, "conversation.item.added")
            await ws.send('{"type": "response.create"}')
            return frames + await until(ws, "response.done")

    frames = run(FAST, body)
    kinds = [f["type"] for f in frames]
    assert "response.function_call_arguments.delta" in kinds
    echo = frames[kinds.index("response.done") + 1]
    assert echo["type"] == "conversation.item.added"
    assert echo["item"]["type"] == "function_call_output" and echo["item"]["output"] == '{"status": "shipped"}'
    assert kinds.count("response.output_audio.delta") > 0
    assert frames[-1]["response"]["status"] == "completed"


def test_tool_response_timeout() -> None:
    config = HydraSimConfig(speed=20.0, tool_response_timeout_s=0.3, hangover_ms=300)
    script = CallScript(answer_tools=False, generate_initial_response=False,
                        steps=(Talk(600), Pause(400), Await("error", timeout_s=5)))

    async def body(sim: HydraSimulator) -> list[str]:
        transcript = await run_call(sim.url, script, realtime=False)
        return [f["error"]["code"] for f in transcript.of_type("error")]

    assert run(config, body) == ["tool_response_timeout"]


# -- capacity and idle ------------------------------------------------------------------------


def test_over_capacity_gets_server_full_then_close_1013() -> None:
    async def body(sim: HydraSimulator) -> tuple[dict[str, Any], int | None, str | None, int]:
        async with open_ws(sim) as first, open_ws(sim) as second:
            await recv_json(first)
            await recv_json(second)
            assert sim.active_sessions == 2
            async with open_ws(sim) as third:
                frame = await recv_json(third)
                with pytest.raises(ConnectionClosed):
                    await third.recv()
                return frame, third.close_code, third.close_reason, sim.active_sessions

    frame, code, reason, active = run(HydraSimConfig(capacity=2), body)
    assert frame["type"] == "error" and frame["error"]["code"] == "server_full"
    assert (code, reason) == (1013, "server full")
    assert active == 2


def test_idle_close_1000_after_no_frames_either_way() -> None:
    async def body(sim: HydraSimulator) -> tuple[float, int | None]:
        async with open_ws(sim) as ws:
            await recv_json(ws)
            await asyncio.sleep(0.2)
            await ws.send('{"type": "session.configure", "session": {}}')
            t0 = time.monotonic()
            await recv_json(ws)
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            return time.monotonic() - t0, ws.close_code

    elapsed, code = run(HydraSimConfig(idle_timeout_s=0.5), body)
    assert code == 1000
    assert 0.4 < elapsed < 1.5


# -- determinism and the scripted caller ------------------------------------------------------

_NO_BARGE = CallScript(steps=(Await("response.output_audio.done"), Talk(600), Pause(500),
                              Await("response.output_audio.done"), Talk(600), Pause(500),
                              Await("response.output_audio.done")))


def test_same_seed_same_conversation_but_never_the_same_session_id() -> None:
    """Event ids, audio, tool arguments and usage repeat for a seed; the session id does not:
    two runs with one seed (two `recorder demo` runs, say) are two calls, as with Hydra.
    `audio_start_ms`/`audio_end_ms` are left out: they count the caller's samples, and how much
    silence the caller streams while it waits depends on timing."""
    varying = ("audio_start_ms", "audio_end_ms", "session_id")

    async def call(seed: int) -> tuple[str | None, list[dict[str, Any]]]:
        async with run_hydra_sim(HydraSimConfig(seed=seed, speed=20.0, hangover_ms=300)) as sim:
            transcript = await run_call(sim.url, _NO_BARGE, realtime=False)
        frames = [{k: v for k, v in f.items() if k not in varying} for f in transcript.frames()]
        return transcript.session_id, frames

    async def main() -> tuple[tuple[str | None, list[dict[str, Any]]], ...]:
        return await call(11), await call(11), await call(12)

    (id_a, a), (id_b, b), (_, c) = asyncio.run(main())
    assert len(a) > 30 and "response.function_call_arguments.done" in [f["type"] for f in a]
    assert a == b
    assert a != c
    assert id_a is not None and id_b is not None and id_a != id_b
    assert uuid.UUID(id_a).version == uuid.UUID(id_b).version == 4


def test_default_script_end_to_end_in_real_time() -> None:
    async def body(sim: HydraSimulator) -> tuple[Any, float]:
        t0 = time.monotonic()
        transcript = await run_call(sim.url, CallScript())
        return transcript, time.monotonic() - t0

    transcript, elapsed = run(HydraSimConfig(), body)
    assert elapsed < 10.0
    assert transcript.close_code == 1000 and not transcript.closed_by_server
    assert transcript.session_id is not None
    done = [f["response"] for f in transcript.of_type("response.done")]
    statuses = [(d["status"], (d.get("status_details") or {}).get("reason")) for d in done]
    assert statuses.count(("cancelled", "interrupted")) == 1
    assert statuses.count(("completed", None)) == len(done) - 1 >= 4
    assert len(transcript.of_type("response.function_call_arguments.done")) == 1
    sent = transcript.types("sent")
    assert sent[0] == "session.configure"
    assert sent.count("conversation.item.create") == 1 and sent.count("response.create") == 1
    assert sent.index("conversation.item.create") < sent.index("response.create")
    assert len(transcript.sent) == len(transcript.sent_at) and len(transcript.received) == len(transcript.received_at)
    # real-time pacing: about one 20 ms append per 20 ms of call
    appends = sent.count("input_audio_buffer.append")
    assert 0.7 * elapsed / 0.02 < appends < 1.1 * elapsed / 0.02
    assert transcript.agent_audio_bytes() > 0


def test_injected_raw_messages_go_out_verbatim_and_in_order() -> None:
    raw: tuple[str | bytes, ...] = ('{"type": "nonsense", "event_id": "evt_x"}', "{broken json", b"\x00binary\xff")
    script = CallScript(generate_initial_response=False, steps=(Pause(100), Inject(raw), Await("error"),
                                                                Await("error"), Await("error")))

    async def body(sim: HydraSimulator) -> Any:
        return await run_call(sim.url, script, realtime=False)

    transcript = run(FAST, body)
    start = transcript.sent.index(raw[0])
    assert tuple(transcript.sent[start : start + 3]) == raw
    assert isinstance(transcript.sent[start + 2], bytes)
    assert [f["error"]["code"] for f in transcript.of_type("error")] == ["invalid_frame"] * 3
    assert transcript.of_type("error")[0]["error"]["event_id"] == "evt_x"


def test_script_timeout_carries_the_partial_transcript() -> None:
    script = CallScript(generate_initial_response=False, steps=(Await("never.sent", timeout_s=0.2),))

    async def body(sim: HydraSimulator) -> None:
        await run_call(sim.url, script, realtime=False)

    with pytest.raises(ScriptTimeout) as info:
        run(FAST, body)
    assert info.value.transcript.types()[:2] == ["session.created", "session.configured"]


# -- the command line -------------------------------------------------------------------------


def test_cli_serves_until_sigterm() -> None:
    async def main() -> tuple[str, int]:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "recorder.cli.main", "simulate", "hydra", "--listen", "127.0.0.1:0",
            "--seed", "3", "--api-key", KEY, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        url = line.split()[line.split().index("on") + 1]
        async with connect(f"{url}?api_key={KEY}") as ws:
            created = json.loads(await ws.recv())
        process.send_signal(signal.SIGTERM)
        return created["type"], await asyncio.wait_for(process.wait(), 20)

    kind, code = asyncio.run(main())
    assert kind == "session.created"
    assert code == 0


def test_run_call_over_capacity_returns_the_server_full_transcript() -> None:
    async def body(sim: HydraSimulator) -> Any:
        async with open_ws(sim) as first:
            await recv_json(first)
            return await run_call(sim.url, realtime=False)

    transcript = run(HydraSimConfig(capacity=1), body)
    assert (transcript.close_code, transcript.close_reason) == (1013, "server full")
    assert transcript.closed_by_server
    assert transcript.types() == ["error"] and transcript.sent == []


# -- the word code over the wire -----------------------------------------------------------------


def test_caller_says_a_sentence_and_the_agent_answers_in_the_word_code() -> None:
    """What the caller sent and what it heard both read back as words, at the times the
    stand-in's own turn detection saw them."""
    config = HydraSimConfig(speech="wordcode", speed=10.0, response_delay_ms=10, hangover_ms=300,
                            replies=("hello how can i help", "the card ending in one one one one is blocked"))
    sentence = "please block my card four one one one one one one one one one one one one one one one"
    script = CallScript(tools=(), steps=(
        Await("response.output_audio.done"), Pause(200), Say(sentence, silence_ms=500),
        Await("response.output_audio.done"), Pause(100)))

    async def body(sim: HydraSimulator) -> Any:
        return await run_call(sim.url, script, realtime=False)

    transcript = run(config, body)
    caller = decode(np.frombuffer(transcript.caller_audio(), dtype="<i2"), 16000)
    assert " ".join(w.text for w in caller) == sentence
    (started,) = transcript.of_type("input_audio_buffer.speech_started")
    (stopped,) = transcript.of_type("input_audio_buffer.speech_stopped")
    assert abs(caller[0].start_ms - started["audio_start_ms"]) <= 20
    assert abs(caller[-1].end_ms - stopped["audio_end_ms"]) <= 20
    rendered = render(sentence, 16000).words
    assert all(abs((w.start_ms - caller[0].start_ms) - r.start_ms) <= 20 for w, r in zip(caller, rendered))
    agent = decode(np.frombuffer(transcript.agent_audio(), dtype="<i2"), 48000)
    assert " ".join(w.text for w in agent) == " ".join(config.replies)
    assert agent[0].start_ms == pytest.approx(100.0, abs=20)


def test_word_code_survives_the_recorder_archive_in_both_channels(tmp_path: Path) -> None:
    """Through the real proxy: the archived stereo FLAC, decrypted and brought to 16 kHz as the
    transcription job will, still says what the caller said and what the caller heard."""
    home = tmp_path / "home"
    home.mkdir()
    config = HydraSimConfig(speech="wordcode", speed=4.0, hangover_ms=300,
                            replies=("hello how can i help", "the card ending in one one one one is blocked"))
    sentence = "please block my card four one one one"
    script = CallScript(tools=(), steps=(Await("response.output_audio.done"), Pause(300), Say(sentence),
                                         Await("response.output_audio.done"), Pause(3000)))
    # the stand-in sends audio at 4x; the pause lets the reply play out before hanging up

    async def main() -> Any:
        async with run_hydra_sim(config) as hydra:
            settings = proxy_settings(home, f"sqlite:///{tmp_path / 'recorder.db'}", hydra.url)
            async with running_proxy(settings) as proxy:
                url = f"ws://127.0.0.1:{proxy.port}/waves/v1/s2s?api_key={KEY}"
                return await run_call(url, script, api_key=KEY)

    asyncio.run(main())
    stereo = open_only_archive(home).stereo
    caller, agent = (decode(_to_16k(stereo[:, ch]), 16000) for ch in (0, 1))
    assert " ".join(w.text for w in caller) == sentence
    assert " ".join(w.text for w in agent) == " ".join(config.replies)
    assert agent[5].text == "the" and agent[5].start_ms > caller[-1].end_ms  # the reply follows the turn


def _to_16k(pcm: np.ndarray) -> np.ndarray:
    out = soxr.resample(pcm.astype(np.float32), 48000, 16000, quality="HQ")
    return np.clip(np.rint(out), -32768, 32767).astype(np.int16)
