"""Synthetic speech-like audio and an energy VAD for the Hydra stand-in and the scripted caller.

Nothing here is speech. The synthetic voice only has to look like speech to a level meter and a
human ear: a voiced harmonic tone under a syllable-shaped amplitude envelope. The coded voice
(`agent_words`, `caller_words`) speaks text in the audio word code of `wordcode.py`, so that the
Pulse stand-in can transcribe it back. Agent audio is 48 kHz PCM16,
caller audio 16 kHz PCM16 (reference/hydra-protocol.md §3). Every generator is a pure function
of its arguments (seeded `numpy.random.Generator`), so a seed reproduces the same bytes.

The VAD measures RMS over 10 ms blocks of 16 kHz PCM16 and counts positions in samples since
the first block it was fed, which is how the stand-in reports `audio_start_ms`/`audio_end_ms`
(§5.5: "since session start" read as "since the first accepted append").
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from recorder.simulate import wordcode
from recorder.units import AGENT_RATE, BYTES_PER_SAMPLE, CALLER_RATE

_FloatArray = npt.NDArray[np.float64]

CALLER_PEAK = 7000.0
AGENT_PEAK = 9000.0
NOISE_RMS = 20.0


def _syllable_envelope(n: int, rate: int, rng: np.random.Generator) -> _FloatArray:
    """Gain per sample: voiced syllables of 150–280 ms with 20 ms raised-cosine edges, separated
    by 40–90 ms dips to 5 %. Starts voiced so speech begins where the caller starts talking."""
    env = np.full(n, 0.05)
    pos = 0
    edge = max(1, rate * 20 // 1000)
    while pos < n:
        length = int(rate * rng.uniform(0.15, 0.28))
        end = min(n, pos + length)
        seg = np.ones(end - pos)
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, min(edge, len(seg))))
        seg[: len(ramp)] = np.maximum(ramp, 0.3)
        seg[len(seg) - len(ramp) :] = np.minimum(seg[len(seg) - len(ramp) :], ramp[::-1] + 0.05)
        env[pos:end] = seg * rng.uniform(0.7, 1.0)
        pos = end + int(rate * rng.uniform(0.04, 0.09))
    return env


def _voiced(n: int, rate: int, f0: float, rng: np.random.Generator) -> _FloatArray:
    """A harmonic tone (five partials, 1/k amplitudes) with slow pitch drift, peak about 1."""
    t = np.arange(n) / rate
    drift = 1.0 + 0.04 * np.sin(2 * np.pi * rng.uniform(0.5, 1.5) * t + rng.uniform(0, np.pi))
    phase = 2 * np.pi * f0 * np.cumsum(drift) / rate
    wave = sum((np.sin(k * phase) / k for k in range(1, 6)), np.zeros(n))
    return wave / 2.3


def _to_pcm16(samples: _FloatArray) -> bytes:
    return np.clip(np.round(samples), -32768, 32767).astype("<i2").tobytes()


@functools.lru_cache(maxsize=64)
def agent_speech(ms: int, *, seed: int, index: int) -> bytes:
    """`ms` of 48 kHz PCM16 agent 'speech' for response number `index` of a seeded stand-in."""
    rng = np.random.default_rng([seed, index, 48])
    n = AGENT_RATE * ms // 1000
    f0 = 100.0 + 120.0 * rng.random()
    return _to_pcm16(AGENT_PEAK * _voiced(n, AGENT_RATE, f0, rng) * _syllable_envelope(n, AGENT_RATE, rng))


@functools.lru_cache(maxsize=64)
def caller_speech(ms: int, *, seed: int, index: int = 0) -> bytes:
    """`ms` of 16 kHz PCM16 caller 'speech' (utterance number `index`), well above the VAD
    threshold on every voiced 10 ms block."""
    rng = np.random.default_rng([seed, index, 16])
    n = CALLER_RATE * ms // 1000
    f0 = 160.0 + 60.0 * rng.random()
    voice = CALLER_PEAK * _voiced(n, CALLER_RATE, f0, rng) * _syllable_envelope(n, CALLER_RATE, rng)
    return _to_pcm16(voice + rng.normal(0.0, NOISE_RMS, n))


@functools.lru_cache(maxsize=64)
def caller_silence(ms: int, *, seed: int, index: int = 0) -> bytes:
    """`ms` of 16 kHz PCM16 line noise (RMS about 20), far below the VAD threshold."""
    rng = np.random.default_rng([seed, index, 0])
    return _to_pcm16(rng.normal(0.0, NOISE_RMS, CALLER_RATE * ms // 1000))


AGENT_WORDS_AMPLITUDE = AGENT_PEAK / 32767
CALLER_WORDS_AMPLITUDE = CALLER_PEAK / 32767
WORDS_LEAD_MS = 100
WORDS_TAIL_MS = 100


@functools.lru_cache(maxsize=64)
def agent_words(text: str, *, min_ms: int, step_ms: int) -> bytes:
    """48 kHz PCM16 of `text` in the word code: `WORDS_LEAD_MS` of silence, the words, at least
    `WORDS_TAIL_MS` after them, padded to at least `min_ms` and to a whole number of `step_ms`
    (so two responses heard back to back never run their words together)."""
    speech = wordcode.render(text, AGENT_RATE, amplitude=AGENT_WORDS_AMPLITUDE).pcm
    step = max(1, AGENT_RATE * step_ms // 1000)
    lead = AGENT_RATE * WORDS_LEAD_MS // 1000
    n = max(AGENT_RATE * min_ms // 1000, lead + len(speech) + AGENT_RATE * WORDS_TAIL_MS // 1000)
    n = -(-n // step) * step
    out = np.zeros(n, dtype="<i2")
    out[lead : lead + len(speech)] = speech
    return out.tobytes()


@functools.lru_cache(maxsize=64)
def caller_words(text: str, *, seed: int, index: int = 0) -> bytes:
    """16 kHz PCM16 of `text` in the word code over the caller's line noise, no silence around."""
    speech = wordcode.render(text, CALLER_RATE, amplitude=CALLER_WORDS_AMPLITUDE).pcm
    rng = np.random.default_rng([seed, index, 1])
    return _to_pcm16(speech.astype(np.float64) + rng.normal(0.0, NOISE_RMS, len(speech)))


def rms(pcm: bytes) -> float:
    """Root mean square of PCM16 LE samples, in int16 units (0 for empty input)."""
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    start_ms: int


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    end_ms: int
    voiced_ms: int


VadEvent = SpeechStarted | SpeechStopped

_BLOCK_MS = 10
_BLOCK_BYTES = CALLER_RATE * _BLOCK_MS // 1000 * BYTES_PER_SAMPLE


class EnergyVad:
    """Turn detection by energy on 16 kHz PCM16, in 10 ms blocks.

    Invariants: a turn starts after `onset_ms` of consecutive voiced blocks and its
    `start_ms` is the start of that run; it stops after `hangover_ms` of consecutive unvoiced
    blocks and its `end_ms` is the end of the last voiced block. Positions are sample counts of
    everything fed so far, so the result does not depend on how audio is split into frames or
    how fast it arrives.
    """

    def __init__(self, *, threshold: float, onset_ms: int = 40, hangover_ms: int = 500) -> None:
        self.threshold = threshold
        self._energy_threshold = threshold * threshold * (_BLOCK_BYTES // BYTES_PER_SAMPLE)
        self._onset_blocks = max(1, onset_ms // _BLOCK_MS)
        self._hangover_blocks = max(1, hangover_ms // _BLOCK_MS)
        self._pending = b""
        self._blocks = 0
        self._run = 0
        self._silent_run = 0
        self._voiced_blocks = 0
        self._last_voiced_end = 0
        self.in_speech = False
        self._bytes = 0

    @property
    def samples(self) -> int:
        """Whole samples fed so far."""
        return self._bytes // BYTES_PER_SAMPLE

    def feed(self, pcm: bytes) -> list[VadEvent]:
        self._bytes += len(pcm)
        data = self._pending + pcm
        whole = len(data) - len(data) % _BLOCK_BYTES
        self._pending = data[whole:]
        if not whole:
            return []
        blocks = np.frombuffer(data[:whole], dtype="<i2").astype(np.float64).reshape(-1, _BLOCK_BYTES // 2)
        voiced = np.square(blocks).sum(axis=1) >= self._energy_threshold
        events: list[VadEvent] = []
        for flag in voiced.tolist():
            event = self._block(bool(flag))
            if event is not None:
                events.append(event)
        return events

    def _block(self, voiced: bool) -> VadEvent | None:
        self._blocks += 1
        end_ms = self._blocks * _BLOCK_MS
        if not self.in_speech:
            self._run = self._run + 1 if voiced else 0
            if self._run < self._onset_blocks:
                return None
            self.in_speech = True
            self._voiced_blocks = self._run
            self._silent_run = 0
            self._last_voiced_end = end_ms
            return SpeechStarted(start_ms=end_ms - self._run * _BLOCK_MS)
        if voiced:
            self._voiced_blocks += 1
            self._silent_run = 0
            self._last_voiced_end = end_ms
            return None
        self._silent_run += 1
        if self._silent_run < self._hangover_blocks:
            return None
        self.in_speech = False
        self._run = 0
        return SpeechStopped(end_ms=self._last_voiced_end, voiced_ms=self._voiced_blocks * _BLOCK_MS)
