"""Spoken-form normalisation: tokens with character offsets, and digit runs read out loud.

Speech-to-text writes "five two two four, one six eight eight", "double seven oh eight",
"nineteen eighty five" or "4111 1111 1111 1111". `number_runs` turns each maximal run of
such tokens into one `NumberRun`: its digit string plus the character range it covers in the
original text, so a detection on the normalised digits maps straight back to the input.
A hesitation filler ("uh", "um") ends a run: the gold convention counts the two halves as two
entities, and context (not the run) carries the type across the filler.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from recorder.redact.lexicon import (
    DIGIT_WORDS,
    FILLERS,
    HOMOPHONES,
    ORDINAL_SUFFIXES,
    REPEATS,
    SCALES,
    TEENS,
    TENS,
)

WORD, NUM, CODE, ORD, PUNCT = "w", "n", "c", "o", "p"

_TOKEN = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)*(?:-[A-Za-z0-9]+)*|[^\sA-Za-z0-9]")
_ORDINAL = re.compile(r"\d{1,2}(?:st|nd|rd|th)", re.IGNORECASE)
_RUN_SEPARATORS = frozenset(",-")


@dataclass(frozen=True, slots=True)
class Token:
    """One token of the input: its lower-cased text, kind and half-open character range."""

    low: str
    kind: str
    start: int
    end: int
    upper: bool  # starts with a capital letter in the input


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    for m in _TOKEN.finditer(text):
        raw = m.group()
        low = raw.lower().replace("’", "'")
        if raw.isalpha() or (not any(c.isdigit() for c in raw) and raw[0].isalpha()):
            kind = WORD
        elif raw.replace("-", "").isdigit():
            kind = NUM
        elif _ORDINAL.fullmatch(raw):
            kind = ORD
        elif raw[0].isalnum():
            kind = CODE
        else:
            kind = PUNCT
        tokens.append(Token(low, kind, m.start(), m.end(), raw[0].isupper()))
    return tokens


@dataclass(frozen=True, slots=True)
class NumberRun:
    """Digits read as one run: tokens [first, last], characters [start, end)."""

    first: int
    last: int
    start: int
    end: int
    digits: str
    prefix: str  # single letters said right before the digits ("d e one six ..." → "de")
    prefix_start: int
    prefix_first: int
    words: int  # how many tokens were number words (0 for a written number)

    def __repr__(self) -> str:
        return f"NumberRun(chars=[{self.start},{self.end}), n_digits={len(self.digits)})"


def _is_digit_word(tok: Token) -> bool:
    return tok.kind == WORD and tok.low in DIGIT_WORDS


def _small_number(tokens: list[Token], i: int, n: int) -> tuple[int, int] | None:
    """A number below 100 spelled at tokens[i] ("forty five", "twelve", "seven"): (value, next)."""
    low = tokens[i].low
    if low in TEENS:
        return TEENS[low], i + 1
    if low in TENS:
        if i + 1 < n and tokens[i + 1].low in DIGIT_WORDS and DIGIT_WORDS[tokens[i + 1].low] != "0":
            return TENS[low] + int(DIGIT_WORDS[tokens[i + 1].low]), i + 2
        return TENS[low], i + 1
    if low in DIGIT_WORDS and low not in ("o", "oh"):
        return int(DIGIT_WORDS[low]), i + 1
    return None


def _scaled(tokens: list[Token], i: int, n: int, claimed: list[bool]) -> tuple[str, int] | None:
    """'twelve hundred', 'one hundred forty seven', 'two thousand three' at tokens[i]."""
    head = _small_number(tokens, i, n)
    if head is None or head[1] >= n or tokens[head[1]].low not in SCALES:
        return None
    value, j = head
    scale = SCALES[tokens[j].low]
    value *= scale
    j += 1
    if j < n and tokens[j].low == "and":
        j += 1
    if j < n and not claimed[j]:
        if scale == 1000:
            inner = _scaled(tokens, j, n, claimed)
            if inner is not None:
                return str(value + int(inner[0])), inner[1]
        tail = _small_number(tokens, j, n)
        if tail is not None:
            return str(value + tail[0]), tail[1]
    if tokens[j - 1].low == "and":
        j -= 1
    return str(value), j


def _item(tokens: list[Token], i: int, n: int, claimed: list[bool], have: bool) -> tuple[str, int, bool] | None:
    """The digits spoken or written at tokens[i]: (digits, next index, was a word) or None."""
    tok = tokens[i]
    if tok.kind == NUM:
        return tok.low.replace("-", ""), i + 1, False
    if tok.kind != WORD:
        return None
    low = tok.low
    nxt = tokens[i + 1] if i + 1 < n and not claimed[i + 1] else None
    if low in REPEATS and nxt is not None and nxt.low in DIGIT_WORDS:
        return DIGIT_WORDS[nxt.low] * REPEATS[low], i + 2, True
    if low in TEENS or low in TENS or (low in DIGIT_WORDS and low not in ("o", "oh")):
        scaled = _scaled(tokens, i, n, claimed)
        if scaled is not None:
            return scaled[0], scaled[1], True
        small = _small_number(tokens, i, n)
        assert small is not None
        return str(small[0]), small[1], True
    if low in ("o", "oh"):
        # "oh" is a zero only next to other digits, never as an interjection on its own.
        if have or (nxt is not None and (nxt.kind == NUM or nxt.low in DIGIT_WORDS or nxt.low in REPEATS
                                         or nxt.low in TEENS or nxt.low in TENS)):
            return "0", i + 1, True
        return None
    if low in HOMOPHONES and have and nxt is not None and _is_digit_word(nxt):
        return HOMOPHONES[low], i + 1, True
    return None


def _letter_prefix(tokens: list[Token], first: int, claimed: list[bool]) -> tuple[str, int]:
    """Single spelled letters said right before a run: ("de", index of the first letter)."""
    j = first
    letters: list[str] = []
    while j > 0 and len(letters) < 4:
        tok = tokens[j - 1]
        if claimed[j - 1] or tok.kind != WORD or len(tok.low) != 1 or tok.low in DIGIT_WORDS:
            break
        if tok.end + 1 < tokens[j].start:
            break
        letters.append(tok.low)
        j -= 1
    if len(letters) == 1 and letters[0] in ("a", "i"):
        return "", first
    return "".join(reversed(letters)), j


def run_at(tokens: list[Token], i: int, claimed: list[bool]) -> NumberRun | None:
    """The maximal digit run starting at tokens[i], or None if no digit is said there."""
    n = len(tokens)
    if claimed[i]:
        return None
    item = _item(tokens, i, n, claimed, False)
    if item is None:
        return None
    parts = [item[0]]
    words = int(item[2])
    j = item[1]
    last = j - 1
    while j < n and not claimed[j]:
        k = j
        if tokens[k].kind == PUNCT and tokens[k].low in _RUN_SEPARATORS:
            k += 1
        if k >= n or claimed[k]:
            break
        nxt = _item(tokens, k, n, claimed, True)
        if nxt is None:
            break
        parts.append(nxt[0])
        words += int(nxt[2])
        last = nxt[1] - 1
        j = nxt[1]
    prefix, pfirst = _letter_prefix(tokens, i, claimed)
    return NumberRun(
        i, last, tokens[i].start, tokens[last].end, "".join(parts), prefix,
        tokens[pfirst].start, pfirst, words,
    )


def number_runs(tokens: list[Token], claimed: list[bool]) -> list[NumberRun]:
    """Every maximal run of digits, spoken or written, outside claimed tokens."""
    runs: list[NumberRun] = []
    i = 0
    while i < len(tokens):
        run = run_at(tokens, i, claimed)
        if run is None:
            i += 1
            continue
        runs.append(run)
        i = run.last + 1
    return runs


def is_filler(tok: Token) -> bool:
    return tok.low in FILLERS


def is_ordinal_suffix(tok: Token) -> bool:
    return tok.low in ORDINAL_SUFFIXES
