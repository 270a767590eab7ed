"""The redaction engine: one pass per speaker segment, context carried from segment to segment.

Order of work inside a segment (each step claims its tokens so later steps skip them):
written forms → spoken emails → introduced names → cue phrases → a name answering a carried
name question → dates → digit runs → addresses → IPs → spelled letters → names from the word
lists → mixed codes. Then cues and candidate values are walked in text order and each value is
typed by the cue group before it (context.py); found values reach over their value-like
neighbours, and under the strict policy the answer to the other party's question is redacted
whole (slots.py). Nothing here touches I/O; everything is a pure function of text.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

from recorder.redact.context import (
    CUE_INDEX,
    PARTIAL,
    QUANTITY_WORDS,
    SUPPRESS,
    Cue,
    Group,
    classify_digits,
)
from recorder.redact.detect import iban_ok, slash_dates, written
from recorder.redact.lexicon import FILLERS
from recorder.redact.names import answer_name, find_names, lexicon_names
from recorder.redact.policy import STRICT, check_policy
from recorder.redact.slots import SLOT_TYPES, answer_extent, extend
from recorder.redact.shapes import (
    addresses,
    month_dates,
    spelled_letters,
    spoken_emails,
    spoken_ips,
)
from recorder.redact.spans import Redaction, Span, make_redaction
from recorder.redact.spoken import CODE, NumberRun, Token, number_runs, tokenize

_LABEL = re.compile(
    r"(?i)(?:^|(?<=[\s.?!,;]))(?:agent|caller|customer|representative|rep|operator|user|"
    r"assistant|client|speaker\s?\d+)\s*:"
)
_WINDOW = 9  # tokens between the last cue and a value it can still name
_FOLLOW = 3  # tokens after a typed value within which a split remainder keeps the type
_VALUE_TYPES_NEEDING_PREFIX = ("IBAN", "PASSPORT", "DRIVER_LICENSE", "ZIP")


@dataclass(frozen=True, slots=True)
class _Cand:
    first: int
    last: int
    start: int
    end: int
    kind: str  # fixed | run | date | slashdate | spelled | code
    type: str | None = None
    run: NumberRun | None = None


@dataclass(slots=True)
class _Conversation:
    """What carries from one segment to the next."""

    policy: str = STRICT
    carry: Group | None = None
    asker: str | None = None
    card_seen: bool = False
    spans: list[Span] = field(default_factory=list)


def _claim(claimed: list[bool], first: int, last: int) -> None:
    for k in range(first, last + 1):
        claimed[k] = True


def _tokens_in(tokens: list[Token], ends: list[int], start: int, end: int) -> tuple[int, int] | None:
    """First and last token overlapping characters [start, end), by bisection on token ends."""
    first = bisect_right(ends, start)
    last = first
    while last < len(tokens) and tokens[last].start < end:
        last += 1
    return (first, last - 1) if last > first else None


def _phrase_end(tokens: list[Token], claimed: list[bool], i: int, words: tuple[str, ...]) -> int | None:
    """Last token of `words` said from tokens[i] on, hesitations and repeated words skipped
    ("the code on um the the back"), or None."""
    j, n = i, len(tokens)
    for k, w in enumerate(words):
        while k and j < n and (tokens[j].low in FILLERS or tokens[j].low == tokens[j - 1].low):
            j += 1
        if j >= n or claimed[j] or tokens[j].low != w:
            return None
        j += 1
    return j - 1


def _cues(tokens: list[Token], claimed: list[bool]) -> list[Cue]:
    out: list[Cue] = []
    i, n = 0, len(tokens)
    while i < n:
        entries = CUE_INDEX.get(tokens[i].low) if not claimed[i] else None
        hit = None
        for words, kind, strength in entries or ():
            last = _phrase_end(tokens, claimed, i, words)
            if last is not None:
                hit = Cue(i, last, kind, strength)
                break
        if hit is None:
            i += 1
            continue
        out.append(hit)
        _claim(claimed, hit.first, hit.last)
        i = hit.last + 1
    return out


def _candidates(text: str, tokens: list[Token], claimed: list[bool], conv: _Conversation) -> tuple[list[_Cand], list[Cue]]:
    cands: list[_Cand] = []

    def fixed(first: int, last: int, kind: str, type_: str | None = None) -> None:
        _claim(claimed, first, last)
        cands.append(_Cand(first, last, tokens[first].start, tokens[last].end, kind, type_))

    ends = [t.end for t in tokens]
    for f in written(text):
        rng = _tokens_in(tokens, ends, f.start, f.end)
        if rng is None:
            continue
        _claim(claimed, *rng)
        if f.type is not None:
            cands.append(_Cand(rng[0], rng[1], f.start, f.end, "fixed", f.type))
    for start, end in slash_dates(text):
        rng = _tokens_in(tokens, ends, start, end)
        if rng is not None and not any(claimed[k] for k in range(rng[0], rng[1] + 1)):
            fixed(rng[0], rng[1], "slashdate")
    cased = any(c.isupper() for c in text) and any(c.islower() for c in text)
    for sh in spoken_emails(tokens, claimed):
        fixed(sh.first, sh.last, "fixed", "EMAIL")
    for sh in find_names(tokens, claimed, cased):
        fixed(sh.first, sh.last, "fixed", "PERSON")
    cues = _cues(tokens, claimed)
    if conv.carry is not None and conv.carry.best(conv.card_seen) == "PERSON":
        answer = answer_name(tokens, claimed, 0, 6)
        if answer is not None:
            fixed(answer.first, answer.last, "fixed", "PERSON")
    for sh in month_dates(tokens, claimed):
        fixed(sh.first, sh.last, "date")
    runs = number_runs(tokens, claimed)
    for sh in addresses(tokens, claimed, runs):
        fixed(sh.first, sh.last, "fixed", "ADDRESS")
        cues.append(Cue(sh.last, sh.last, "ZIP", 3))
    for sh in spoken_ips(tokens, claimed, runs):
        fixed(sh.first, sh.last, "fixed", "IP_ADDRESS")
    for run in runs:
        if claimed[run.first] or len(run.digits) < 2:
            continue
        nxt = tokens[run.last + 1].low if run.last + 1 < len(tokens) else ""
        if nxt in QUANTITY_WORDS and len(run.digits) <= 6:
            continue
        first = run.prefix_first if run.prefix else run.first
        _claim(claimed, first, run.last)
        cands.append(_Cand(run.first, run.last, run.start, run.end, "run", None, run))
    for sh in spelled_letters(tokens, claimed):
        fixed(sh.first, sh.last, "spelled", "long" if sh.kind == "spelled_long" else None)
    for sh in lexicon_names(tokens, claimed):
        fixed(sh.first, sh.last, "fixed", "PERSON")
    for k, tok in enumerate(tokens):
        if tok.kind == CODE and not claimed[k]:
            fixed(k, k, "code")
    return cands, cues


def _split(tokens: list[Token], run: NumberRun) -> bool:
    """Does a hesitation filler sit right before or after the run?"""
    before = tokens[run.first - 1].low if run.first > 0 else ""
    after = tokens[run.last + 1].low if run.last + 1 < len(tokens) else ""
    return before in FILLERS or after in FILLERS


def _classify(c: _Cand, group: Group | None, conv: _Conversation, tokens: list[Token]) -> tuple[str | None, int]:
    """(type or None, start character) of a candidate under the active cue group."""
    ctx = group.best(conv.card_seen) if group is not None else None
    partial = group.partial if group is not None else False
    strong = group is not None and ctx is not None and group.kinds.get(ctx, 0) >= 2.5
    if c.kind == "fixed":
        return c.type, c.start
    if c.kind in ("date", "slashdate"):
        return (ctx if ctx in ("DATE_OF_BIRTH", "CARD_EXPIRY") else None), c.start
    if c.kind == "spelled":
        if ctx in ("PERSON", "PASSPORT", "DRIVER_LICENSE", "EMAIL"):
            return ctx, c.start
        # Letters spelled out with "as in", or four and more of them, are almost always a name.
        return ("PERSON" if ctx is None and c.type == "long" else None), c.start
    if c.kind == "code":
        return (ctx if ctx in ("PASSPORT", "DRIVER_LICENSE", "IBAN", "BANK_ACCOUNT", "SSN", "ZIP") else None), c.start
    run = c.run
    assert run is not None
    if run.prefix and (ctx in _VALUE_TYPES_NEEDING_PREFIX or iban_ok(run.code)):
        if ctx == SUPPRESS:
            return None, c.start
        kind = ctx if ctx in _VALUE_TYPES_NEEDING_PREFIX else "IBAN"
        return kind, run.prefix_start
    return classify_digits(run.digits, ctx, partial, strong, _split(tokens, run)), c.start


def _segment(text: str, base: int, conv: _Conversation, speaker: str | None) -> None:
    tokens = tokenize(text)
    claimed = [False] * len(tokens)
    asked = conv.carry.best(conv.card_seen) if conv.carry is not None else None
    if conv.asker is not None and speaker == conv.asker:
        asked = None  # a question is answered by the other party
    cands, cues = _candidates(text, tokens, claimed, conv)
    events: list[tuple[float, Cue | _Cand]] = [(c.first + 0.5, c) for c in cues]
    events += [(c.first, c) for c in cands]
    events.sort(key=lambda e: e[0])
    starts = [t.start for t in tokens]
    found: list[tuple[int, int, str]] = []
    group = conv.carry
    for _, ev in events:
        if isinstance(ev, Cue):
            if group is None or group.used or ev.first - group.last > _WINDOW:
                group = Group({})
            if ev.kind == PARTIAL:
                group.partial = True
            else:
                group.kinds[ev.kind] = max(group.kinds.get(ev.kind, 0), ev.strength)
                conv.card_seen |= ev.kind == "CREDIT_CARD"
            group.last = ev.last
            continue
        active = group
        if group is not None:
            gap = ev.first - group.last
            if gap > (_FOLLOW if group.used else _WINDOW):
                active = None
        kind, start = _classify(ev, active, conv, tokens)
        if kind is not None:
            found.append((bisect_right(starts, start) - 1, ev.last, kind))
            conv.card_seen |= kind == "CREDIT_CARD"
        if active is not None:
            active.used = True
            active.last = ev.last
        elif kind is not None:
            group = Group({kind: 1}, used=True, last=ev.last)
    _emit(tokens, claimed, found, cues, asked, base, conv)
    conv.carry = group if group is not None and not group.used and group.kinds else None
    if conv.carry is not None:
        conv.carry.last = -1
        conv.asker = speaker


def _emit(tokens: list[Token], claimed: list[bool], found: list[tuple[int, int, str]], cues: list[Cue],
          asked: str | None, base: int, conv: _Conversation) -> None:
    """Widen the found values over their value-like neighbours, add the strict policy's answer
    extent, and append the character spans."""
    taken = [False] * len(tokens)
    for first, last, _ in found:
        for k in range(first, last + 1):
            taken[k] = True
    out: list[tuple[int, int, str]] = []
    for first, last, kind in found:
        for k in range(first, last + 1):
            taken[k] = False
        first, last = extend(tokens, first, last, kind, claimed, taken)
        for k in range(first, last + 1):
            taken[k] = True
        out.append((first, last, kind))
    if conv.policy == STRICT and asked in SLOT_TYPES and tokens:
        stops = {c.first for c in cues if c.kind != asked}
        extent = answer_extent(tokens, asked, stops)
        if extent is not None:  # the answer is the asked value, whatever a detector took it for
            out = [o for o in out if not extent[0] <= o[0] <= o[1] <= extent[1]]
            out.append((extent[0], extent[1], asked))
    for first, last, kind in out:
        conv.spans.append(Span(base + tokens[first].start, base + tokens[last].end, kind))


def _segments(text: str, speaker: str | None) -> list[tuple[int, int, str | None]]:
    """Character ranges and speakers of the segments of a text ('agent: ... caller: ...')."""
    bounds: list[tuple[int, int, str | None]] = []
    pos = 0
    for m in _LABEL.finditer(text):
        if m.start() > pos:
            bounds.append((pos, m.start(), speaker))
        pos = m.end()
        speaker = m.group().rstrip(": ").strip().lower()
    if pos < len(text):
        bounds.append((pos, len(text), speaker))
    return bounds


def _redact_into(text: str, conv: _Conversation, speaker: str | None = None) -> Redaction:
    conv.spans = []
    for start, end, who in _segments(text, speaker):
        _segment(text[start:end], start, conv, who)
    return make_redaction(text, conv.spans)


def redact_text(text: str, channel: str | None = None, policy: str = STRICT) -> Redaction:
    """Redact one text; speaker labels inside it ('agent: ... caller: ...') carry context."""
    del channel  # both parties say PII; the channel does not change what is detected
    return _redact_into(text, _Conversation(policy=check_policy(policy)))


@dataclass(frozen=True, slots=True)
class Turn:
    """One turn of a conversation: who spoke (channel) and what the transcript says."""

    speaker: str
    text: str

    @property
    def channel(self) -> str:
        return self.speaker

    def __repr__(self) -> str:
        return f"Turn(speaker={self.speaker!r}, text_len={len(self.text)})"


def redact_conversation(turns: Sequence[Turn], policy: str = STRICT) -> list[Redaction]:
    """Redact turns in order; a question in one turn types the bare answer in the next."""
    conv = _Conversation(policy=check_policy(policy))
    return [_redact_into(turn.text, conv, turn.speaker) for turn in turns]
