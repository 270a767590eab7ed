"""The spoken-number grammar: tokens with character offsets, and digit runs read out loud.

Speech-to-text writes a digit string in many ways; `number_runs` reads each maximal run into one
`NumberRun`: its digits plus the character range it covers, so a detection on the digits maps
straight back to the text. The grammar, item by item:

- single digits and numerals: "five two two four", "4111 1111", "zero"/"oh"/"o" for 0;
- pairs and teens: "forty two seventeen" → 4217, "oh eight" → 08;
- hundreds and thousands: "four hundred twelve", "twelve hundred", "two thousand three";
- repeats: "double seven", "triple oh";
- hyphens: "three-nine-one", "sixty-one" (a hyphenated token is split into its words);
- homophones STT writes for digits, only between digit words: "four won to ate" → 4128;
- inside a run: separators ("," "-"), hesitation fillers ("uh", "um") and self-corrections
  ("sorry", "i mean", "no wait") when more digits follow; they belong to the run's range;
- letters in codes: single letters, NATO words ("delta echo") and "b as in boy" said right
  before the digits (`prefix`) or between digits (`inner`), for passports, IBANs, licences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from recorder.redact.lexicon import (
    CORRECTIONS,
    DIGIT_WORDS,
    FILLERS,
    HOMOPHONES,
    NATO,
    REPEATS,
    SCALES,
    TEENS,
    TENS,
)

WORD, NUM, CODE, ORD, PUNCT = "w", "n", "c", "o", "p"

_TOKEN = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)*(?:-[A-Za-z0-9]+)*|[^\sA-Za-z0-9]")
_ORDINAL = re.compile(r"\d{1,2}(?:st|nd|rd|th)", re.IGNORECASE)
_RUN_SEPARATORS = frozenset(",-/")
_SPOKEN_SEPARATORS = frozenset(("dash", "hyphen", "slash"))


@dataclass(frozen=True, slots=True)
class Token:
    """One token of the input: its lower-cased text, kind and half-open character range."""

    low: str
    kind: str
    start: int
    end: int
    upper: bool  # starts with a capital letter in the input


_SPLIT_WORDS = frozenset(DIGIT_WORDS) | frozenset(TEENS) | frozenset(TENS) | frozenset(REPEATS)
_SPLIT_WORDS |= frozenset(SCALES) | frozenset(NATO) | frozenset(HOMOPHONES)


def _pieces(m: re.Match[str]) -> list[tuple[str, int]]:
    """A hyphenated token made of number words or letters ("three-nine-one", "sixty-one",
    "s-m-i-t-h") is said as separate words: its pieces with their offsets, '-' included."""
    raw = m.group()
    if "-" not in raw or raw.lower() in NATO:
        return [(raw, m.start())]
    parts = raw.split("-")
    if not all(p.lower() in _SPLIT_WORDS or len(p) == 1 or p.isdigit() for p in parts):
        return [(raw, m.start())]
    out: list[tuple[str, int]] = []
    pos = m.start()
    for k, part in enumerate(parts):
        if k:
            out.append(("-", pos))
            pos += 1
        if part:
            out.append((part, pos))
        pos += len(part)
    return out


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    for m in _TOKEN.finditer(text):
        for raw, start in _pieces(m):
            tokens.append(_token(raw, start))
    return tokens


def _token(raw: str, start: int) -> Token:
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
    return Token(low, kind, start, start + len(raw), raw[0].isupper())


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
    code: str  # prefix, digits and the letters said between them, in order ("de89370400...")

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
        k = i + 2 if i + 2 < n and tokens[i + 1].low == "-" and tokens[i + 1].end == tokens[i + 2].start else i + 1
        if k < n and tokens[k].low in DIGIT_WORDS and DIGIT_WORDS[tokens[k].low] != "0":
            return TENS[low] + int(DIGIT_WORDS[tokens[k].low]), k + 1
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
        if scale == 100 and tokens[j].low in ("oh", "o", "zero") and j + 1 < n and tokens[j + 1].low in DIGIT_WORDS:
            return str(value + int(DIGIT_WORDS[tokens[j + 1].low])), j + 2  # "eight hundred oh six"
        tail = _small_number(tokens, j, n)
        if tail is not None and not (tail[1] < n and tokens[tail[1]].low in SCALES):
            return str(value + tail[0]), tail[1]  # not "one hundred | one hundred"
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
        k = _glue(tokens, i + 1, claimed)
        if k < n and tokens[k].low == "-":
            k += 1
        if k != i + 1:
            nxt = tokens[k] if k < n and not claimed[k] else None
        if have or (nxt is not None and (nxt.kind == NUM or nxt.low in DIGIT_WORDS or nxt.low in REPEATS
                                         or nxt.low in TEENS or nxt.low in TENS)):
            return "0", i + 1, True
        return None
    if low in HOMOPHONES and have and nxt is not None and (_is_digit_word(nxt) or nxt.low in HOMOPHONES):
        return HOMOPHONES[low], i + 1, True
    return None


def letter_at(tokens: list[Token], i: int, claimed: list[bool]) -> tuple[str, int] | None:
    """A letter said at tokens[i]: 'b', 'bravo', 'b as in boy'; (letter, next index) or None."""
    n = len(tokens)
    if i >= n or claimed[i] or tokens[i].kind != WORD:
        return None
    low = tokens[i].low
    if low in NATO:
        return NATO[low], i + 1
    if len(low) != 1 or not low.isalpha():
        return None
    if i + 2 < n and tokens[i + 1].low == "as" and tokens[i + 2].low == "in" and i + 3 < n \
            and tokens[i + 3].kind == WORD:
        return low, i + 4
    return low, i + 1


def _letters(tokens: list[Token], i: int, claimed: list[bool], limit: int = 4) -> tuple[str, int]:
    """Letters said from tokens[i] on (separators allowed between them): (letters, next index).
    A lone 'a' or 'i' is a word, not a letter, unless digits follow it."""
    out, j = "", i
    while len(out) < limit:
        k = j
        if out and k < len(tokens) and tokens[k].kind == PUNCT and tokens[k].low in _RUN_SEPARATORS:
            k += 1
        got = letter_at(tokens, k, claimed)
        if got is None:
            break
        out += got[0]
        j = got[1]
    if len(out) == 1 and tokens[i].low in ("a", "i") and not _digit_next(tokens, j, claimed):
        return "", i
    return out, j


def _digit_next(tokens: list[Token], k: int, claimed: list[bool]) -> bool:
    if k < len(tokens) and tokens[k].kind == PUNCT and tokens[k].low in _RUN_SEPARATORS:
        k += 1
    return k < len(tokens) and not claimed[k] and _item(tokens, k, len(tokens), claimed, False) is not None


def _letter_prefix(tokens: list[Token], first: int, claimed: list[bool]) -> tuple[str, int]:
    """Letters said right before a run ("d e one six", "delta echo one six", "d as in dog"):
    (letters, index of the first letter), at most four of them."""
    best: tuple[str, int] = ("", first)
    lo = first
    while lo > 0 and first - lo < 16 and tokens[lo - 1].kind in (WORD, PUNCT) and (
            len(tokens[lo - 1].low) == 1 or tokens[lo - 1].low in NATO or tokens[lo - 1].low in ("as", "in")
            or (lo >= 2 and tokens[lo - 2].low == "in")):
        lo -= 1
    for start in range(lo, first):
        if claimed[start]:
            continue
        letters, end = _letters(tokens, start, claimed)
        if letters and end == first and len(letters) > len(best[0]):
            best = (letters, start)
    if best[0] in ("a", "i"):
        return "", first
    return best


def _glue(tokens: list[Token], k: int, claimed: list[bool]) -> int:
    """Index after hesitation fillers and self-corrections at tokens[k] ("uh", "sorry i mean")."""
    n, j = len(tokens), k
    while j < n and not claimed[j] and j - k < 4:
        low = tokens[j].low
        if low in FILLERS or low in CORRECTIONS or low in _SPOKEN_SEPARATORS \
                or (low == "i" and j + 1 < n and tokens[j + 1].low == "mean"):
            j += 2 if low == "i" else 1
            continue
        if tokens[j].kind == PUNCT and tokens[j].low in ",.":
            j += 1
            continue
        break
    return j


def run_at(tokens: list[Token], i: int, claimed: list[bool]) -> NumberRun | None:
    """The maximal digit run starting at tokens[i], or None if no digit is said there."""
    n = len(tokens)
    if claimed[i]:
        return None
    item = _item(tokens, i, n, claimed, False)
    if item is None:
        return None
    parts = [item[0]]
    code = [item[0]]
    words = int(item[2])
    j = item[1]
    last = j - 1
    while j < n and not claimed[j]:
        k = j
        if tokens[k].kind == PUNCT and tokens[k].low in _RUN_SEPARATORS:
            k += 1
        glued = _glue(tokens, k, claimed)
        letters, after = _letters(tokens, glued, claimed, limit=8)
        if letters and after < n and _digit_next(tokens, after, claimed):
            k = after + (1 if tokens[after].kind == PUNCT else 0)
        else:
            letters, k = "", glued
        if k >= n or claimed[k]:
            break
        nxt = _item(tokens, k, n, claimed, True)
        if nxt is None:
            break
        parts.append(nxt[0])
        code.append(letters + nxt[0])
        words += int(nxt[2])
        last = nxt[1] - 1
        j = nxt[1]
    prefix, pfirst = _letter_prefix(tokens, i, claimed)
    return NumberRun(
        i, last, tokens[i].start, tokens[last].end, "".join(parts), prefix,
        tokens[pfirst].start, pfirst, words, prefix + "".join(code),
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
