"""Redaction of STT words with timings: redacted words, and spans in milliseconds per channel.

The transcription job hands over the words of both channels merged into one conversation in
time order. A turn is one channel's words until that channel pauses for `TURN_GAP_MS`: the
other side's interjections ("mhm" while the caller reads a card number) do not split it, as
they would if turns changed with every change of speaker. Turns are redacted as a
conversation, in order of their first word, so that the agent's question types the caller's
bare answer. Every run of words a span touches
becomes one placeholder word ("[CREDIT_CARD]") from the first word's start to the last word's
end, and one `TimedSpan` that the audio step bleeps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from recorder.redact.engine import Turn, redact_conversation
from recorder.redact.policy import STRICT


@dataclass(frozen=True, slots=True)
class Word:
    """One STT word; `channel` names the speaker ('caller', 'agent')."""

    text: str
    start_ms: float
    end_ms: float
    channel: str

    def __repr__(self) -> str:
        return f"Word(len={len(self.text)}, {self.start_ms}-{self.end_ms} ms, {self.channel})"


@dataclass(frozen=True, slots=True)
class TimedSpan:
    """A redacted stretch of one channel in milliseconds, with the entity type (never the value)."""

    start_ms: float
    end_ms: float
    channel: str
    type: str


@dataclass(frozen=True, slots=True)
class WordRedaction:
    words: tuple[Word, ...]
    spans: tuple[TimedSpan, ...]

    def __repr__(self) -> str:
        return f"WordRedaction(words={len(self.words)}, spans={len(self.spans)})"


TURN_GAP_MS = 2500.0


def _turns(words: Sequence[Word]) -> list[list[Word]]:
    turns: list[list[Word]] = []
    open_turns: dict[str, list[Word]] = {}
    for word in words:
        current = open_turns.get(word.channel)
        if current is not None and word.start_ms - current[-1].end_ms <= TURN_GAP_MS:
            current.append(word)
        else:
            current = open_turns[word.channel] = [word]
            turns.append(current)
    return turns


def redact_words(words: Sequence[Word], policy: str = STRICT) -> WordRedaction:
    """Redact words given in conversation order (both channels merged by time); `policy` is
    'strict' (an answer to a sensitive question is redacted whole) or 'balanced'."""
    turns = _turns(words)
    texts: list[str] = []
    offsets: list[list[tuple[int, int]]] = []
    for turn in turns:
        pos, spans = 0, []
        for word in turn:
            spans.append((pos, pos + len(word.text)))
            pos += len(word.text) + 1
        offsets.append(spans)
        texts.append(" ".join(w.text for w in turn))
    redactions = redact_conversation([Turn(t[0].channel, text) for t, text in zip(turns, texts)], policy)
    out_words: list[Word] = []
    out_spans: list[TimedSpan] = []
    for turn, offs, red in zip(turns, offsets, redactions):
        current: int | None = None
        for word, (start, end) in zip(turn, offs):
            hit = next((k for k, s in enumerate(red.spans) if s.start < end and start < s.end), None)
            if hit is None:
                out_words.append(word)
                current = None
                continue
            span = red.spans[hit]
            if hit == current:
                prev = out_words[-1]
                out_words[-1] = Word(prev.text, prev.start_ms, word.end_ms, word.channel)
                last = out_spans[-1]
                out_spans[-1] = TimedSpan(last.start_ms, word.end_ms, last.channel, last.type)
            else:
                out_words.append(Word(f"[{span.type}]", word.start_ms, word.end_ms, word.channel))
                out_spans.append(TimedSpan(word.start_ms, word.end_ms, word.channel, span.type))
            current = hit
    return WordRedaction(tuple(out_words), tuple(out_spans))
