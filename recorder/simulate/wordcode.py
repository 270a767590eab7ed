"""An audio word code: text the stand-ins can speak and read back, offline and deterministically.

The Pulse stand-in has to transcribe what the Hydra stand-in and the scripted caller said, after
the archive's whole path (caller 16 kHz → soxr 48 kHz → FLAC → soxr 16 kHz; agent 48 kHz → 16 kHz),
with word times accurate to 20 ms, and must hear nothing in audio that is not in the code. So a
word is a run of pure tones, one per symbol, and every one of them is checked on the way back.

Format (a contract between `render` and `decode`; change both or neither):

- alphabet ``a-z 0-9 '`` (indices 0..36); text is split on whitespace, lower-cased, and every
  other character dropped, so "4111" is the word "4111" and "Card," is "card".
- a word is ``START, c1 … cn, CHECK, END``: one symbol of ``SYMBOL_MS`` (30 ms) each, a sine at
  ``1200 + 50·index`` Hz (START = 37, END = 38; CHECK is the character index of
  ``(7·n + Σ i·ci) mod 37``), with ``RAMP_MS`` raised-cosine edges. Every tone sits in 1200–3100 Hz:
  inside the telephone band, clear of the 1 kHz redaction bleep and of the synthetic voices'
  partials (all below 1150 Hz). Words are separated by ``WORD_GAP_MS`` (100 ms) of silence, more
  than the bleep's 60 ms padding, so bleeping one word never touches its neighbours.
- 50 Hz spacing makes the tones orthogonal over the 20 ms analysis window at the centre of each
  symbol, so a clean symbol puts nearly all its energy into one frequency.

Decoding (at 16 kHz; other rates are resampled with soxr first): 1 ms RMS envelope → regions
above ``ENERGY_FLOOR`` (gaps under 8 ms bridged) → read symbols from the region's onset (or,
failing that, back from its end): each symbol's strongest code frequency must hold at least
``MIN_CONCENTRATION`` of the window's energy, the word must start with START, end with END and
pass the check symbol. Anything else (speech, noise, a bleep, a cut-off word) is no word.
Word times are the onset and onset + symbols · 30 ms, in ms of the input.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import soxr

from recorder.errors import RecorderError

__all__ = [
    "ALPHABET", "MAX_WORD_CHARS", "DecodedWord", "RenderedSpeech", "WordCodeError", "WordSpan",
    "decode", "normalize", "render", "silence", "word_ms",
]

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789'"
START = len(ALPHABET)
END = START + 1
BASE_HZ = 1200.0
STEP_HZ = 50.0
SYMBOL_MS = 30
RAMP_MS = 3
WORD_GAP_MS = 100
ANALYSIS_RATE = 16_000
WINDOW_MS = 20
ENERGY_FLOOR = 150.0  # RMS in int16 units over 1 ms: above line noise, below amplitude 0.02
MIN_CONCENTRATION = 0.6
MAX_SYMBOLS = 64
MAX_WORD_CHARS = MAX_SYMBOLS - 3

_INDEX = {c: i for i, c in enumerate(ALPHABET)}
_ENV_MS = 1
_BRIDGE_MS = 8
_TOLERANCE_MS = 6
_PAD = ANALYSIS_RATE * SYMBOL_MS // 1000  # zeros around the input, so edge words read whole

Int16Array = npt.NDArray[np.int16]
_FloatArray = npt.NDArray[np.float64]


class WordCodeError(RecorderError, ValueError):
    """Arguments the word code cannot render or decode (a bad rate, stereo input, a word
    longer than `MAX_WORD_CHARS`): a bug in the calling test or script, not in the audio."""


@dataclass(frozen=True, slots=True)
class WordSpan:
    """Where `render` put a word, in ms from the start of its PCM."""

    text: str
    start_ms: float
    end_ms: float


@dataclass(frozen=True, slots=True)
class DecodedWord:
    """A word `decode` read back; `confidence` is its weakest symbol's spectral concentration."""

    text: str
    start_ms: float
    end_ms: float
    confidence: float


@dataclass(frozen=True, slots=True, repr=False)
class RenderedSpeech:
    """Rendered text: int16 mono PCM at `rate` and the span of every word. Repr shows no audio."""

    pcm: Int16Array
    rate: int
    words: tuple[WordSpan, ...]

    def __repr__(self) -> str:
        return f"RenderedSpeech(rate={self.rate}, samples={len(self.pcm)}, words={len(self.words)})"

    @property
    def duration_ms(self) -> float:
        return len(self.pcm) * 1000 / self.rate

    def to_bytes(self) -> bytes:
        """Little-endian PCM16, as Hydra frames carry it."""
        return self.pcm.astype("<i2").tobytes()


def normalize(text: str) -> list[str]:
    """The words `render` speaks for `text`: lower-cased, alphabet only, empty words dropped."""
    words = ("".join(c for c in raw.lower() if c in _INDEX) for raw in text.split())
    return [w for w in words if w]


def _check(indices: list[int]) -> int:
    return (7 * len(indices) + sum((i + 1) * c for i, c in enumerate(indices))) % len(ALPHABET)


def _symbols(word: str) -> list[int]:
    chars = [_INDEX[c] for c in word]
    return [START, *chars, _check(chars), END]


def word_ms(word: str) -> int:
    """How long one (normalized) word lasts when spoken."""
    return (len(word) + 3) * SYMBOL_MS


def _frequencies() -> _FloatArray:
    return BASE_HZ + STEP_HZ * np.arange(END + 1, dtype=np.float64)


@functools.lru_cache(maxsize=16)
def _tones(rate: int) -> tuple[npt.NDArray[np.float32], ...]:
    """One ramped unit-amplitude symbol per code frequency at `rate`."""
    n = rate * SYMBOL_MS // 1000
    ramp_n = max(1, rate * RAMP_MS // 1000)
    window = np.ones(n)
    edge = 0.5 - 0.5 * np.cos(np.pi * (np.arange(ramp_n) + 0.5) / ramp_n)
    window[:ramp_n] = edge
    window[n - ramp_n :] = edge[::-1]
    t = np.arange(n) / rate
    return tuple((np.sin(2 * np.pi * f * t) * window).astype(np.float32) for f in _frequencies())


def silence(ms: float, rate: int) -> Int16Array:
    """`ms` of digital silence at `rate`."""
    return np.zeros(round(ms * rate / 1000), dtype=np.int16)


def render(text: str, rate: int, *, amplitude: float = 0.3) -> RenderedSpeech:
    """Speak `text` at `rate` Hz: words back to back with `WORD_GAP_MS` between them, no
    leading or trailing silence. `amplitude` is the tone peak as a fraction of full scale."""
    if rate < 8000:
        raise WordCodeError(f"rate must be at least 8000 Hz to carry the code, got {rate}")
    if not 0.0 < amplitude <= 1.0:
        raise WordCodeError(f"amplitude must be in (0, 1], got {amplitude}")
    words = normalize(text)
    if any(len(w) > MAX_WORD_CHARS for w in words):
        raise WordCodeError(f"words of more than {MAX_WORD_CHARS} characters cannot be decoded; split them")
    tones = _tones(rate)
    scale = amplitude * 32767.0
    gap = np.zeros(rate * WORD_GAP_MS // 1000, dtype=np.float32)
    parts: list[npt.NDArray[np.float32]] = []
    spans: list[WordSpan] = []
    pos = 0
    for word in words:
        if parts:
            parts.append(gap)
            pos += len(gap)
        symbols = np.concatenate([tones[s] for s in _symbols(word)])
        spans.append(WordSpan(word, pos * 1000 / rate, (pos + len(symbols)) * 1000 / rate))
        parts.append(symbols)
        pos += len(symbols)
    samples = np.concatenate(parts) * scale if parts else np.zeros(0, dtype=np.float32)
    pcm = np.clip(np.rint(samples), -32768, 32767).astype(np.int16)
    return RenderedSpeech(pcm=pcm, rate=rate, words=tuple(spans))


# -- decoding ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _basis() -> npt.NDArray[np.float64]:
    """Cosine and sine of every code frequency over one analysis window, as columns."""
    n = ANALYSIS_RATE * WINDOW_MS // 1000
    t = np.arange(n)[:, None] / ANALYSIS_RATE
    f = _frequencies()[None, :]
    return np.concatenate([np.cos(2 * np.pi * f * t), np.sin(2 * np.pi * f * t)], axis=1)


def _as_analysis(pcm: npt.NDArray[np.generic], rate: int) -> _FloatArray:
    samples = np.asarray(pcm)
    if samples.ndim != 1:
        raise WordCodeError(f"decode takes mono PCM (one channel at a time), got shape {samples.shape}")
    if rate <= 0:
        raise WordCodeError(f"rate must be positive, got {rate}")
    x = samples.astype(np.float64)
    if np.issubdtype(samples.dtype, np.floating) and x.size and np.max(np.abs(x)) <= 1.0:
        x = x * 32767.0
    if rate != ANALYSIS_RATE and x.size:
        x = np.asarray(soxr.resample(x, rate, ANALYSIS_RATE, quality="HQ"), dtype=np.float64)
    pad = np.zeros(_PAD, dtype=np.float64)
    return np.concatenate([pad, x, pad])


def _regions(x: _FloatArray) -> list[tuple[int, int]]:
    """Half-open sample ranges whose 1 ms RMS is above the floor, short dips bridged."""
    block = ANALYSIS_RATE * _ENV_MS // 1000
    nblocks = len(x) // block
    if nblocks == 0:
        return []
    energy = np.square(x[: nblocks * block]).reshape(nblocks, block).mean(axis=1)
    loud = np.concatenate([[False], energy >= ENERGY_FLOOR**2, [False]])
    edges = np.flatnonzero(np.diff(loud.astype(np.int8)))
    starts, ends = edges[0::2], edges[1::2]
    regions: list[tuple[int, int]] = []
    for s, e in zip(starts.tolist(), ends.tolist()):
        if regions and s - regions[-1][1] <= _BRIDGE_MS // _ENV_MS:
            regions[-1] = (regions[-1][0], e)
        else:
            regions.append((s, e))
    return [(s * block, e * block) for s, e in regions]


def _onset(x: _FloatArray, lo: int) -> int:
    """The first sample at or after `lo` (within 1 ms) whose magnitude clears the floor."""
    seg = np.abs(x[lo : lo + ANALYSIS_RATE * 2 * _ENV_MS // 1000])
    hits = np.flatnonzero(seg >= ENERGY_FLOOR)
    return lo + int(hits[0]) if hits.size else lo


def _offset(x: _FloatArray, hi: int) -> int:
    """One past the last sample before `hi` whose magnitude clears the floor."""
    lo = max(0, hi - ANALYSIS_RATE * 2 * _ENV_MS // 1000)
    hits = np.flatnonzero(np.abs(x[lo:hi]) >= ENERGY_FLOOR)
    return lo + int(hits[-1]) + 1 if hits.size else hi


def _classify(x: _FloatArray, starts: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], _FloatArray]:
    """Best code symbol and its share of the window's energy, for symbols starting at `starts`."""
    n = ANALYSIS_RATE * WINDOW_MS // 1000
    guard = (ANALYSIS_RATE * SYMBOL_MS // 1000 - n) // 2
    frames = x[(starts + guard)[:, None] + np.arange(n)[None, :]]
    proj = frames @ _basis()
    k = END + 1
    power = np.square(proj[:, :k]) + np.square(proj[:, k:])
    energy = np.maximum(np.square(frames).sum(axis=1), 1e-9)
    best = power.argmax(axis=1)
    share = power[np.arange(len(best)), best] * 2.0 / (n * energy)
    return best, share


def _word(x: _FloatArray, starts: npt.NDArray[np.int64]) -> DecodedWord | None:
    """The word whose symbols start at `starts`, if every check passes."""
    best, share = _classify(x, starts)
    symbols = best.tolist()
    if symbols[0] != START or symbols[-1] != END or float(share.min()) < MIN_CONCENTRATION:
        return None
    chars = symbols[1:-2]
    if any(c >= START for c in chars) or _check(chars) != symbols[-2]:
        return None
    sym = ANALYSIS_RATE * SYMBOL_MS // 1000
    return DecodedWord(
        text="".join(ALPHABET[c] for c in chars),
        start_ms=(int(starts[0]) - _PAD) * 1000 / ANALYSIS_RATE,
        end_ms=(int(starts[-1]) + sym - _PAD) * 1000 / ANALYSIS_RATE,
        confidence=round(min(1.0, float(share.min())), 3),
    )


def _word_in(x: _FloatArray, lo: int, hi: int) -> DecodedWord | None:
    """Read the region forward from its onset up to the first END; failing that, backward from
    its end to the last START (a word with something else loud right before or after it)."""
    sym = ANALYSIS_RATE * SYMBOL_MS // 1000
    tolerance = ANALYSIS_RATE * _TOLERANCE_MS // 1000
    first, last = _onset(x, lo), _offset(x, hi)
    count = min(MAX_SYMBOLS, (last - first + tolerance) // sym, (len(x) - first) // sym, last // sym)
    if count < 4:
        return None
    forward = first + sym * np.arange(count, dtype=np.int64)
    best, share = _classify(x, forward)
    ends = np.flatnonzero((best[3:] == END) & (share[3:] >= MIN_CONCENTRATION))
    if ends.size:
        word = _word(x, forward[: int(ends[0]) + 4])
        if word is not None or abs(last - first - count * sym) <= tolerance:
            return word
    backward = (last - sym * np.arange(count, 0, -1)).astype(np.int64)
    best, share = _classify(x, backward)
    begins = np.flatnonzero((best[:-3] == START) & (share[:-3] >= MIN_CONCENTRATION))
    return _word(x, backward[int(begins[-1]) :]) if begins.size else None


def decode(pcm: npt.NDArray[np.generic], rate: int) -> list[DecodedWord]:
    """Every word of the code in mono `pcm` (int16, or float in [-1, 1]) at `rate` Hz, in order,
    with times in ms from the start of `pcm`. Audio that is not in the code gives no words."""
    x = _as_analysis(pcm, rate)
    words: list[DecodedWord] = []
    for lo, hi in _regions(x):
        word = _word_in(x, lo, hi)
        if word is not None:
            words.append(word)
    return words
