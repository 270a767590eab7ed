"""Person names said after an introduction cue, and names given as the answer to a question.

Only cues find names: "my name is ...", "this is ... calling", "thanks, Emily", "Okay Miguel,".
A token is taken for a given name when it is capitalised in a cased transcript, or when it is in
a general list of common given names, or (lower-case STT after a strong cue) when it is not a
frequent English word. Surnames extend a given name by up to two such tokens. Company names
("this is Best Buy") fail because their words are frequent words.
"""

from __future__ import annotations

from recorder.redact.lexicon import (
    AMBIGUOUS_NAMES,
    COMMON_WORDS,
    FILLERS,
    FIRST_NAMES,
    MONTHS,
    NUMBER_WORDS,
    US_STATES,
)
from recorder.redact.shapes import Shape
from recorder.redact.spoken import WORD, Token

_STRONG = [("my", "name", "is"), ("name", "is"), ("my", "name's"), ("name's",), ("names",),
           ("call", "me"), ("speaking", "with"), ("talking", "to"), ("talking", "with"),
           ("mr",), ("mrs",), ("ms",), ("mister",), ("miss",)]
_THIS_IS = [("this", "is"), ("it", "is", "me"), ("this", "be")]
_WEAK = [("it's",), ("i'm",), ("i", "am"), ("thanks",), ("thank", "you"), ("hi",), ("hello",),
         ("hey",), ("okay",), ("ok",), ("alright",), ("sorry",), ("bye",), ("goodbye",),
         ("welcome",), ("dear",), ("talked", "to"), ("talked", "with"), ("spoke", "to"),
         ("spoke", "with"), ("speak", "to"), ("speak", "with"), ("ask", "for"), ("asked", "for"), ("great",), ("perfect",), ("morning",), ("afternoon",)]
_BY_FIRST: dict[str, list[tuple[tuple[str, ...], str]]] = {}
for _level, _phrases in (("strong", _STRONG), ("this", _THIS_IS), ("weak", _WEAK)):
    for _p in _phrases:
        _BY_FIRST.setdefault(_p[0], []).append((_p, _level))
_INTRO_FOLLOWERS = frozenset("calling speaking from here with and at".split())
_NOT_NAMES = COMMON_WORDS | FILLERS | NUMBER_WORDS | frozenset(MONTHS) | US_STATES
_ORG_WORDS = frozenset("support service services team inc corp company airlines bank center "
                       "department store group insurance".split())
_ANSWER_SKIP = frozenset("yes yeah yep sure it's its it is my name the okay ok so that's that "
                         "'s , . : um uh er it'll be this well".split())


def _match(tokens: list[Token], i: int, phrase: tuple[str, ...]) -> bool:
    if i + len(phrase) > len(tokens):
        return False
    return all(tokens[i + k].low == w for k, w in enumerate(phrase))


def _is_wordlike(tok: Token) -> bool:
    return tok.kind == WORD and tok.low.replace("-", "").replace("'", "").isalpha() and len(tok.low) > 1


def _listed(low: str) -> bool:
    return low in FIRST_NAMES and low not in AMBIGUOUS_NAMES


def _surname_end(tokens: list[Token], claimed: list[bool], i: int, cased: bool) -> int:
    """Last index of the name whose given name is tokens[i]."""
    last = i
    for j in range(i + 1, min(i + 3, len(tokens))):
        tok = tokens[j]
        if claimed[j] or not _is_wordlike(tok) or tok.low in _NOT_NAMES or tok.low in _INTRO_FOLLOWERS:
            break
        if cased and not tok.upper:
            break
        last = j
    if any(tokens[k].low in _ORG_WORDS for k in range(last + 1, min(last + 3, len(tokens)))):
        return -1
    return last


def _given(tokens: list[Token], i: int, level: str, cased: bool) -> bool:
    """Is tokens[i] a given name after a cue of `level` ('strong', 'this', 'weak')?"""
    tok = tokens[i]
    if not _is_wordlike(tok):
        return False
    low = tok.low
    if level == "strong":
        if low in _NOT_NAMES and low not in FIRST_NAMES:
            return False
        return tok.upper or _listed(low) or not cased or low in FIRST_NAMES
    if low in _NOT_NAMES:
        return False
    if _listed(low):
        return True
    if level == "this":
        nxt = tokens[i + 1].low if i + 1 < len(tokens) else ""
        return (cased and tok.upper) or nxt in _INTRO_FOLLOWERS
    nxt_tok = tokens[i + 1] if i + 1 < len(tokens) else None
    return cased and tok.upper and (nxt_tok is None or nxt_tok.low in (",", ".", "!", "?"))


def find_names(tokens: list[Token], claimed: list[bool], cased: bool) -> list[Shape]:
    out: list[Shape] = []
    i = 0
    n = len(tokens)
    while i < n:
        hit: tuple[int, str] | None = None
        for phrase, level in _BY_FIRST.get(tokens[i].low, ()):
            if _match(tokens, i, phrase):
                hit = (i + len(phrase), level)
                break
        if hit is None:
            i += 1
            continue
        j, level = hit
        if j < n and tokens[j].low == "," and level == "weak":
            j += 1
        if j < n and not claimed[j] and _given(tokens, j, level, cased):
            last = _surname_end(tokens, claimed, j, cased)
            if last >= 0:
                out.append(Shape(j, last, "PERSON"))
                i = last + 1
                continue
        i += 1
    return out


def answer_name(tokens: list[Token], claimed: list[bool], start: int, limit: int) -> Shape | None:
    """A name given as the whole answer to 'your name as it appears on the card?'."""
    j = start
    while j < min(limit, len(tokens)) and tokens[j].low in _ANSWER_SKIP:
        j += 1
    if j >= len(tokens) or claimed[j] or not _is_wordlike(tokens[j]):
        return None
    low = tokens[j].low
    if low in _NOT_NAMES and low not in FIRST_NAMES:
        return None
    last = j
    for k in range(j + 1, min(j + 3, len(tokens))):
        tok = tokens[k]
        if claimed[k] or not _is_wordlike(tok) or tok.low in _NOT_NAMES:
            break
        last = k
    return Shape(j, last, "PERSON")
