"""The audio word code: what the stand-ins say must come back through the archive's audio path,
with word times within 20 ms, and nothing else may ever be heard as a word."""

from __future__ import annotations

import io
import time
from typing import Literal

import numpy as np
import numpy.typing as npt
import pytest
import soundfile
import soxr
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.redact.audio import bleep_pcm
from recorder.simulate import wordcode
from recorder.simulate.voice import agent_speech, caller_silence, caller_speech
from recorder.simulate.wordcode import (
    ALPHABET,
    DecodedWord,
    RenderedSpeech,
    WordCodeError,
    decode,
    normalize,
    render,
    silence,
)

SENTENCE = "my card number is 4111 four one one one and my birthday is june 3rd don't tell"
TOLERANCE_MS = 20.0


def resample(pcm: npt.NDArray[np.int16], src: int, dst: int) -> npt.NDArray[np.int16]:
    """As recorder/archive/render.py does it: soxr HQ on float32, rounded and clipped."""
    out = soxr.resample(pcm.astype(np.float32), src, dst, quality="HQ")
    return np.clip(np.rint(out), -32768, 32767).astype(np.int16)


def flac_round_trip(pcm: npt.NDArray[np.int16], rate: int) -> npt.NDArray[np.int16]:
    buf = io.BytesIO()
    soundfile.write(buf, pcm, rate, format="FLAC", subtype="PCM_16")
    samples, back_rate = soundfile.read(io.BytesIO(buf.getvalue()), dtype="int16")
    assert back_rate == rate
    return np.asarray(samples, dtype=np.int16)


def assert_same_words(speech: RenderedSpeech, heard: list[DecodedWord], offset_ms: float = 0.0) -> None:
    assert [w.text for w in heard] == [w.text for w in speech.words]
    for said, got in zip(speech.words, heard):
        assert abs(got.start_ms - (said.start_ms + offset_ms)) <= TOLERANCE_MS
        assert abs(got.end_ms - (said.end_ms + offset_ms)) <= TOLERANCE_MS
        assert 0.6 <= got.confidence <= 1.0


def pcm16(data: bytes) -> npt.NDArray[np.int16]:
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


def test_normalize_keeps_the_alphabet_and_splits_on_whitespace() -> None:
    assert normalize("  Hello, World!\tIt's 4111-1111\n") == ["hello", "world", "it's", "41111111"]
    assert normalize("?? -- !!") == []
    assert render("", 16000).words == ()
    assert len(render("", 16000).pcm) == 0


@pytest.mark.parametrize("rate", [16000, 48000])
def test_round_trip_at_the_line_rates(rate: int) -> None:
    speech = render(SENTENCE, rate)
    assert speech.rate == rate and speech.pcm.dtype == np.int16
    assert speech.words[0].start_ms == 0.0 and speech.words[-1].end_ms == speech.duration_ms
    assert_same_words(speech, decode(speech.pcm, rate))


def test_render_is_deterministic_and_its_repr_shows_no_audio() -> None:
    a, b = render("hello there", 16000), render("hello there", 16000)
    assert np.array_equal(a.pcm, b.pcm) and a.words == b.words
    assert repr(a) == "RenderedSpeech(rate=16000, samples=9280, words=2)"
    assert a.to_bytes() == a.pcm.astype("<i2").tobytes()
    assert len(silence(20, 16000)) == 320 and not silence(20, 16000).any()


def test_caller_path_16k_to_48k_flac_and_back_to_16k() -> None:
    speech = render(SENTENCE, 16000)
    line = np.concatenate([silence(730, 16000), speech.pcm, silence(500, 16000)])
    line = line + pcm16(caller_silence(len(line) * 1000 // 16000, seed=3))[: len(line)]
    archived = flac_round_trip(resample(line, 16000, 48000), 48000)
    assert_same_words(speech, decode(resample(archived, 48000, 16000), 16000), offset_ms=730.0)


def test_agent_path_48k_flac_to_16k() -> None:
    speech = render(SENTENCE, 48000)
    line = np.concatenate([silence(1210, 48000), speech.pcm, silence(300, 48000)])
    assert_same_words(speech, decode(resample(flac_round_trip(line, 48000), 48000, 16000), 16000), 1210.0)


def test_both_channels_of_a_stereo_recording_decode_separately() -> None:
    caller = resample(render("four one one one", 16000).pcm, 16000, 48000)
    agent = render("ending in one one one", 48000).pcm
    stereo = np.zeros((max(len(caller), len(agent)) + 4800, 2), dtype=np.int16)
    stereo[: len(caller), 0] = caller
    stereo[4800 : 4800 + len(agent), 1] = agent
    archived = flac_round_trip(stereo, 48000)
    assert [w.text for w in decode(resample(archived[:, 0].copy(), 48000, 16000), 16000)] == \
        ["four", "one", "one", "one"]
    heard = decode(resample(archived[:, 1].copy(), 48000, 16000), 16000)
    assert [w.text for w in heard] == ["ending", "in", "one", "one", "one"]
    assert abs(heard[0].start_ms - 100.0) <= TOLERANCE_MS
    with pytest.raises(WordCodeError):
        decode(stereo, 48000)


def test_audio_that_is_not_in_the_code_gives_no_words() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(32000) / 16000
    others: list[tuple[npt.NDArray[np.int16], int]] = [
        (pcm16(agent_speech(4000, seed=1, index=2)), 48000),
        (pcm16(caller_speech(4000, seed=2)), 16000),
        (pcm16(caller_silence(4000, seed=3)), 16000),
        (silence(2000, 16000), 16000),
        (np.clip(rng.normal(0, 6000, 64000), -32768, 32767).astype(np.int16), 16000),
        (bleep_pcm(silence(2000, 16000), 16000, [(200.0, 1600.0)]), 16000),
        (np.rint(8000 * np.sin(2 * np.pi * 1200 * t)).astype(np.int16), 16000),  # a code tone, held
        (np.zeros(0, dtype=np.int16), 16000),
    ]
    for pcm, rate in others:
        assert decode(pcm, rate) == []


def test_a_word_cut_short_at_any_symbol_is_no_word() -> None:
    pcm = render("abcdef", 16000).pcm
    symbol = 16000 * wordcode.SYMBOL_MS // 1000
    for k in range(1, len(pcm) // symbol):
        assert decode(pcm[: k * symbol], 16000) == []
        assert decode(pcm[k * symbol :], 16000) == []


@pytest.mark.parametrize("mode", ["tone", "silence"])
def test_bleeping_a_span_removes_exactly_the_covered_words(mode: Literal["tone", "silence"]) -> None:
    speech = render("my card is four one one one thanks", 16000)
    digits = speech.words[3:7]
    spans = [(digits[0].start_ms, digits[-1].end_ms)]
    bleeped = bleep_pcm(speech.pcm, 16000, spans, mode=mode)
    heard = decode(bleeped, 16000)
    assert [w.text for w in heard] == ["my", "card", "is", "thanks"]
    kept = [w for i, w in enumerate(speech.words) if not 3 <= i < 7]
    assert all(abs(h.start_ms - k.start_ms) <= TOLERANCE_MS for h, k in zip(heard, kept))
    card = speech.words[1]
    one_word = bleep_pcm(speech.pcm, 16000, [(card.start_ms, card.end_ms)], mode=mode)
    assert [w.text for w in decode(one_word, 16000)] == ["my", "is", "four", "one", "one", "one", "thanks"]


def test_numbers_as_digits_and_as_words() -> None:
    speech = render("card 4111111111111111 or four one one one, 07/04/1990", 16000)
    heard = [w.text for w in decode(speech.pcm, 16000)]
    assert heard == ["card", "4111111111111111", "or", "four", "one", "one", "one", "07041990"]


def test_the_longest_word_decodes_and_longer_ones_are_refused() -> None:
    longest = ("4111" * 16)[:wordcode.MAX_WORD_CHARS]
    assert [w.text for w in decode(render(f"a {longest} b", 16000).pcm, 16000)] == ["a", longest, "b"]
    with pytest.raises(WordCodeError):
        render(longest + "1", 16000)
    with pytest.raises(WordCodeError):
        render("ok", 4000)
    with pytest.raises(WordCodeError):
        decode(np.zeros(10, dtype=np.int16), 0)


def test_float_input_in_unit_range_is_accepted() -> None:
    speech = render("float input", 16000)
    assert [w.text for w in decode(speech.pcm.astype(np.float32) / 32768, 16000)] == ["float", "input"]


def test_ten_minutes_decode_in_a_few_seconds() -> None:
    call = np.concatenate([render(SENTENCE, 16000).pcm, pcm16(caller_speech(3000, seed=1)), silence(700, 16000)])
    audio = np.tile(call, 16000 * 600 // len(call) + 1)[: 16000 * 600]
    t0 = time.perf_counter()
    words = decode(audio, 16000)
    assert time.perf_counter() - t0 < 8.0
    assert len(words) >= 100


_WORD = st.text(alphabet=ALPHABET, min_size=1, max_size=12)


@settings(max_examples=500, deadline=None)
@given(st.lists(_WORD, min_size=1, max_size=6), st.sampled_from([16000, 48000]), st.integers(0, 400))
def test_any_words_survive_the_archive_path(words: list[str], rate: int, lead_ms: int) -> None:
    speech = render(" ".join(words), rate)
    line = np.concatenate([silence(lead_ms, rate), speech.pcm, silence(100, rate)])
    if rate == 16000:
        line = resample(line, 16000, 48000)
    archived = resample(flac_round_trip(line, 48000), 48000, 16000)
    heard = decode(archived, 16000)
    assert_same_words(speech, heard, offset_ms=float(lead_ms))
