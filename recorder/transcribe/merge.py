"""Place Pulse words on the recording timeline and merge both channels into one conversation.

Pure. Mapping (reference/pulse-stt.md §12.2)::

    abs_ms = channel_origin_ms + piece_offset_ms + trim_offset_ms + word.start_ms

The client already adds ``piece_offset_ms`` when it split a channel (``transcribe_pcm``), and
the job uploads each channel whole from the archive's sample 0 (no trimming), so for this
recorder both the origin and the trim are 0; they stay parameters so the law is explicit.
Resampling to 16 kHz does not move words: Pulse times are seconds.

Both channels are merged by start time (ties: earlier end first, then caller before agent,
then the channel's own order), and consecutive words of one speaker form a turn, exactly as
``recorder.redact.redact_words`` groups them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from recorder.redact import Word

CALLER, AGENT = "caller", "agent"
SPEAKERS = (CALLER, AGENT)  # stereo order in the archive: left caller, right agent


class TimedText(Protocol):
    """What merge needs from an STT word (``recorder.pulse.wire.PulseWord`` fits)."""

    @property
    def text(self) -> str: ...
    @property
    def start_ms(self) -> float: ...
    @property
    def end_ms(self) -> float: ...


@dataclass(frozen=True, slots=True)
class TurnText:
    """Consecutive words of one speaker: times and the (redacted) text, words first..last."""

    speaker: str
    start_ms: float
    end_ms: float
    text: str
    first_word: int
    last_word: int

    def __repr__(self) -> str:
        return (f"TurnText({self.speaker}, {self.start_ms}-{self.end_ms} ms, len={len(self.text)}, "
                f"words {self.first_word}..{self.last_word})")


def to_timeline(
    words: Iterable[TimedText],
    channel: str,
    *,
    channel_origin_ms: float = 0.0,
    piece_offset_ms: float = 0.0,
    trim_offset_ms: float = 0.0,
) -> list[Word]:
    """One channel's STT words as ``Word`` values on the recording's master clock."""
    if channel not in SPEAKERS:
        raise ValueError(f"channel must be one of {SPEAKERS}, not {channel!r}")
    shift = channel_origin_ms + piece_offset_ms + trim_offset_ms
    out: list[Word] = []
    for w in words:
        text = w.text.strip()
        if not text:
            continue
        start = shift + float(w.start_ms)
        end = max(start, shift + float(w.end_ms))
        out.append(Word(text, start, end, channel))
    return out


def merge_channels(*channels: Sequence[Word]) -> list[Word]:
    """Every word of every channel, ordered by time; stable within a channel."""
    keyed = [
        (w.start_ms, w.end_ms, SPEAKERS.index(w.channel) if w.channel in SPEAKERS else len(SPEAKERS), i, k, w)
        for k, words in enumerate(channels)
        for i, w in enumerate(words)
    ]
    keyed.sort(key=lambda t: t[:5])
    return [t[5] for t in keyed]


def group_turns(words: Sequence[Word]) -> list[TurnText]:
    """Runs of consecutive words of one speaker, in conversation order."""
    turns: list[TurnText] = []
    start = 0
    for i in range(1, len(words) + 1):
        if i == len(words) or words[i].channel != words[start].channel:
            run = words[start:i]
            turns.append(TurnText(
                speaker=run[0].channel, start_ms=run[0].start_ms,
                end_ms=max(w.end_ms for w in run), text=" ".join(w.text for w in run),
                first_word=start, last_word=i - 1,
            ))
            start = i
    return turns


def conversation_text(turns: Sequence[TurnText]) -> str:
    """The transcript as one text: one ``speaker: text`` line per turn."""
    return "\n".join(f"{t.speaker}: {t.text}" for t in turns)
