"""Value extents: how far a detected value reaches, and the answer to a sensitive question.

Two rules, both on token indices of one speaker segment:

- `extend`: a code-like value (card, account, passport, expiry, ...) reaches over the value-like
  words next to it: digits, spelled letters and NATO words, fillers and self-corrections
  between them, "slash"/"dash". A value said in a way no detector reads whole ("echo forty six
  seventy", "oh three, thirty") is still redacted whole once part of it was found.
- `answer_extent`: under the strict policy, once the agent has asked for a sensitive value, the
  caller's answer is that value from its first content word to its last, however it is worded,
  unless it says nothing value-like ("hold on, let me grab my wallet").
"""

from __future__ import annotations

from recorder.redact.lexicon import (
    CORRECTIONS,
    FILLERS,
    HOMOPHONES,
    MONTHS,
    NUMBER_WORDS,
    ORDINALS,
)
from recorder.redact.spoken import CODE, NUM, ORD, PUNCT, WORD, Token, letter_at
from recorder.redact.vocabulary import ORDINARY, name_class

CODE_TYPES = frozenset("CREDIT_CARD CVV SSN BANK_ACCOUNT ROUTING_NUMBER IBAN PASSPORT DRIVER_LICENSE "
                       "PHONE ZIP CARD_EXPIRY DATE_OF_BIRTH NUMBER".split())
SLOT_TYPES = CODE_TYPES - {"NUMBER"} | {"PERSON", "EMAIL", "ADDRESS"}
_DATE_TYPES = frozenset(("CARD_EXPIRY", "DATE_OF_BIRTH"))
_JOINERS = frozenset("slash dash hyphen".split())
_LEAD = frozenset("yes yeah yep yup sure okay ok so um uh er hmm well alright right fine it's its it "
                  "is my that's that the number code it'll be oh , . : - and".split())
_TAIL = frozenset("thanks thank you is that right correct okay ok please cheers bye , . ? !".split())
_DEFER = frozenset("hold hang let just wait sorry can could what why hmm i i'm i've i'll i'd don't "
                   "no nope not never where which how who".split())
_DEFER_ONE = frozenset("sec second moment minute".split())


def _valueish(tokens: list[Token], k: int, kind: str, claimed: list[bool]) -> bool:
    tok = tokens[k]
    if tok.kind in (NUM, CODE, ORD):
        return True
    if tok.kind != WORD:
        return False
    if tok.low in NUMBER_WORDS:
        return True
    if kind in _DATE_TYPES and (tok.low in MONTHS or tok.low in ORDINALS or tok.low == "of"):
        return True
    if tok.low in ("a", "i"):
        # a letter only among letters and digits ("c f ten one a a"), never "a month"
        nxt = tokens[k + 1] if k + 1 < len(tokens) else None
        prev = tokens[k - 1] if k > 0 else None
        if prev is not None and prev.kind == WORD and len(prev.low) == 1:
            return True
        return nxt is None or nxt.kind in (PUNCT, NUM) or len(nxt.low) == 1 or nxt.low in NUMBER_WORDS
    return letter_at(tokens, k, claimed) is not None


def _glue(tokens: list[Token], k: int) -> bool:
    tok = tokens[k]
    return (tok.low in FILLERS or tok.low in CORRECTIONS or tok.low in _JOINERS or tok.low in HOMOPHONES
            or (tok.kind == PUNCT and tok.low in ",-/"))


def extend(tokens: list[Token], first: int, last: int, kind: str, claimed: list[bool], taken: list[bool]) -> tuple[int, int]:
    """[first, last] widened over value-like neighbours (and glue between value-like words)."""
    if kind not in CODE_TYPES:
        return first, last
    n = len(tokens)

    def free(k: int) -> bool:
        return 0 <= k < n and not taken[k]

    j = last + 1
    while free(j):
        g = j
        while free(g) and _glue(tokens, g) and g - j < 3:
            g += 1
        if free(g) and _valueish(tokens, g, kind, claimed):
            end = g + 1
            if tokens[g].kind == WORD and tokens[g].low not in NUMBER_WORDS and g + 2 < n \
                    and tokens[g + 1].low == "as" and tokens[g + 2].low == "in":
                end = min(n, g + 4)
            last, j = end - 1, end
            continue
        break
    j = first - 1
    while free(j):
        g = j
        while free(g) and _glue(tokens, g) and j - g < 3:
            g -= 1
        if free(g) and _valueish(tokens, g, kind, claimed) and tokens[g].low not in HOMOPHONES:
            first, j = g, g - 1
            continue
        if g >= 2 and free(g - 2) and tokens[g - 1].low == "in" and tokens[g - 2].low == "as":
            first, j = g - 3, g - 4  # "... b as in boy" before the value
            if first < 0 or not free(first):
                first = g - 2
                break
            continue
        break
    return first, last


def answer_extent(tokens: list[Token], kind: str, stops: set[int]) -> tuple[int, int] | None:
    """Tokens [first, last] of the answer to a question for `kind`, or None if it holds no value.

    The answer starts after lead-ins ("yeah sure it's") and ends before a courtesy tail
    ("thanks", "is that right") or at the first cue of another question (`stops`).
    """
    n = len(tokens)
    first = 0
    while first < n and tokens[first].low in _LEAD:
        first += 1
    if first >= n:
        return None
    low = tokens[first].low
    if low in _DEFER or (low == "one" and first + 1 < n and tokens[first + 1].low in _DEFER_ONE):
        return None
    last = first
    for k in range(first, n):
        if k in stops and k > first:
            break
        if tokens[k].kind == PUNCT and tokens[k].low in "?.!" and k > first:
            break
        last = k
    while last > first and (tokens[last].low in _TAIL or tokens[last].low in FILLERS):
        last -= 1
    if last > first and tokens[last].low == "you" and tokens[last - 1].low == "thank":
        last -= 2
    if kind in CODE_TYPES:
        ok = any(tokens[k].kind in (NUM, CODE) or tokens[k].low in NUMBER_WORDS for k in range(first, last + 1))
    else:
        ok = any(tokens[k].kind in (NUM, CODE) or tokens[k].low in NUMBER_WORDS
                 or (tokens[k].kind == WORD and name_class(tokens[k].low) != ORDINARY) for k in range(first, last + 1))
    return (first, last) if ok else None
