"""Synthetic voices and the energy VAD, without sockets."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.simulate.voice import (
    EnergyVad,
    SpeechStarted,
    SpeechStopped,
    agent_speech,
    agent_words,
    caller_silence,
    caller_speech,
    caller_words,
    rms,
)
from recorder.simulate.wordcode import decode

THRESHOLD = 300.0


def _feed(vad: EnergyVad, pcm: bytes, sizes: list[int]) -> list[object]:
    events: list[object] = []
    pos, i = 0, 0
    while pos < len(pcm):
        size = sizes[i % len(sizes)] if sizes else 640
        events += vad.feed(pcm[pos : pos + size])
        pos += size
        i += 1
    return events


def test_agent_speech_is_48k_pcm16_deterministic_and_voiced() -> None:
    a = agent_speech(1200, seed=5, index=2)
    assert len(a) == 48_000 * 2 * 1200 // 1000
    assert a == agent_speech(1200, seed=5, index=2)
    assert a != agent_speech(1200, seed=5, index=3)
    assert a != agent_speech(1200, seed=6, index=2)
    assert 1000 < rms(a) < 8000


def test_caller_levels_sit_on_either_side_of_the_threshold() -> None:
    assert rms(caller_speech(1000, seed=1)) > 3 * THRESHOLD
    assert rms(caller_silence(1000, seed=1)) < THRESHOLD / 5
    assert len(caller_speech(20, seed=0)) == 640


def test_one_utterance_gives_one_turn_at_the_right_samples() -> None:
    vad = EnergyVad(threshold=THRESHOLD, onset_ms=40, hangover_ms=500)
    pcm = caller_silence(500, seed=1) + caller_speech(1000, seed=1) + caller_silence(800, seed=1)
    events = _feed(vad, pcm, [640])
    assert len(events) == 2
    start, stop = events
    assert isinstance(start, SpeechStarted) and isinstance(stop, SpeechStopped)
    assert 500 <= start.start_ms <= 520
    assert 1400 <= stop.end_ms <= 1500
    assert 600 <= stop.voiced_ms <= 1000
    assert vad.samples == len(pcm) // 2


def test_silence_and_short_clicks_produce_no_events() -> None:
    vad = EnergyVad(threshold=THRESHOLD, onset_ms=40, hangover_ms=500)
    click = caller_speech(20, seed=2)
    assert _feed(vad, caller_silence(2000, seed=3) + click + caller_silence(600, seed=3), [640]) == []


def test_pauses_shorter_than_the_hangover_do_not_end_the_turn() -> None:
    vad = EnergyVad(threshold=THRESHOLD, hangover_ms=500)
    pcm = caller_speech(600, seed=1) + caller_silence(300, seed=1) + caller_speech(600, seed=1, index=1)
    events = _feed(vad, pcm + caller_silence(700, seed=1), [640])
    assert [type(e) for e in events] == [SpeechStarted, SpeechStopped]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=3000), min_size=1, max_size=8))
def test_events_do_not_depend_on_how_audio_is_framed(sizes: list[int]) -> None:
    pcm = caller_silence(300, seed=4) + caller_speech(700, seed=4) + caller_silence(700, seed=4)
    reference = _feed(EnergyVad(threshold=THRESHOLD), pcm, [640])
    assert _feed(EnergyVad(threshold=THRESHOLD), pcm, sizes) == reference


def test_coded_agent_speech_is_framed_in_silence_and_decodes() -> None:
    pcm = agent_words("hello there", min_ms=200, step_ms=200)
    samples = np.frombuffer(pcm, dtype="<i2")
    assert len(samples) % (48_000 // 5) == 0 and len(samples) >= 48_000 * 780 // 1000
    assert not samples[: 48_000 // 10].any() and not samples[-48_000 // 10 :].any()
    heard = decode(samples, 48_000)
    assert [w.text for w in heard] == ["hello", "there"]
    assert abs(heard[0].start_ms - 100.0) <= 20.0
    assert len(agent_words("hi", min_ms=1000, step_ms=200)) == 48_000 * 2
    assert agent_words("", min_ms=0, step_ms=200) == bytes(48_000 * 2 // 5)


def test_coded_caller_speech_is_one_vad_turn_and_decodes() -> None:
    said = caller_words("my card number is four one one one", seed=1)
    assert rms(said) > 3 * THRESHOLD
    heard = decode(np.frombuffer(said, dtype="<i2"), 16_000)
    assert [w.text for w in heard] == ["my", "card", "number", "is", "four", "one", "one", "one"]
    vad = EnergyVad(threshold=THRESHOLD, onset_ms=40, hangover_ms=500)
    events = _feed(vad, caller_silence(300, seed=1) + said + caller_silence(700, seed=1), [640])
    assert [type(e) for e in events] == [SpeechStarted, SpeechStopped]
    start, stop = events
    assert isinstance(start, SpeechStarted) and isinstance(stop, SpeechStopped)
    assert start.start_ms == 300 and stop.end_ms == 300 + len(said) // 32
