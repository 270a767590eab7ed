"""Person names: after introduction cues, as the answer to a question, and without any cue.

Cues: "my name is ...", "this is ... calling", "thanks, Emily", "the holder is ...", "through to
...". Without a cue, the word lists decide (vocabulary.py): a census name that is no ordinary
English word ("garcia", "nguyen") or a word in neither list ("adaeze") is a name where it
stands; an ambiguous one ("grace", "mark", "baker") needs context: a vocative, "this is", a
neighbouring name. Company names ("this is Best Buy") fail because their words are ordinary.
"""

from __future__ import annotations

from recorder.redact.lexicon import (
    COMMON_WORDS,
    FILLERS,
    MONTHS,
    NUMBER_WORDS,
    US_STATES,
)
from recorder.redact.shapes import Shape
from recorder.redact.spoken import WORD, Token
from recorder.redact.vocabulary import AMBIGUOUS, ORDINARY, STRONG, UNKNOWN, given_names, name_class

_STRONG = [("my", "name", "is"), ("name", "is"), ("my", "name's"), ("name's",), ("names",),
           ("call", "me"), ("speaking", "with"), ("talking", "to"), ("talking", "with"),
           ("mr",), ("mrs",), ("ms",), ("mister",), ("miss",)]
_THIS_IS = [("this", "is"), ("it", "is", "me"), ("this", "be"), ("holder", "is"), ("under",),
            ("behalf", "of"), ("through", "to"), ("transfer", "me", "to"), ("mother",), ("father",),
            ("wife",), ("husband",), ("son",), ("daughter",), ("brother",), ("sister",), ("partner",)]
_WEAK = [("it's",), ("i'm",), ("i", "am"), ("thanks",), ("thank", "you"), ("hi",), ("hello",),
         ("hey",), ("okay",), ("ok",), ("alright",), ("sorry",), ("bye",), ("goodbye",),
         ("welcome",), ("dear",), ("talked", "to"), ("talked", "with"), ("spoke", "to"),
         ("spoke", "with"), ("speak", "to"), ("speak", "with"), ("ask", "for"), ("asked", "for"), ("great",), ("perfect",), ("morning",), ("afternoon",)]
_BY_FIRST: dict[str, list[tuple[tuple[str, ...], str]]] = {}
for _level, _phrases in (("strong", _STRONG), ("this", _THIS_IS), ("weak", _WEAK)):
    for _p in _phrases:
        _BY_FIRST.setdefault(_p[0], []).append((_p, _level))
_NAME_ENDS = frozenset("okay ok thanks thank is here speaking calling yesterday said please i've i'm "
                       "and , . ? !".split())
_INTRO_FOLLOWERS = frozenset("calling speaking from here with and at".split())
_NOT_NAMES = COMMON_WORDS | FILLERS | NUMBER_WORDS | frozenset(MONTHS) | US_STATES
_ORG_WORDS = frozenset("support service services team inc corp company airlines bank center "
                       "department store group insurance".split())
_ANSWER_SKIP = frozenset("yes yeah yep sure it's its it is my name the okay ok so that's that "
                         "'s , . : um uh er it'll be this well".split())


def _skip_noise(tokens: list[Token], j: int) -> int:
    """Index of the first token from j on that is no filler and no repeat of the one before."""
    while j < len(tokens) and (tokens[j].low in FILLERS or (j > 0 and tokens[j].low == tokens[j - 1].low)):
        j += 1
    return j


def _match(tokens: list[Token], i: int, phrase: tuple[str, ...]) -> int | None:
    """Index after `phrase` said at tokens[i] (fillers and repeated words skipped), or None."""
    j = i
    for k, w in enumerate(phrase):
        if k:
            j = _skip_noise(tokens, j)
        if j >= len(tokens) or tokens[j].low != w:
            return None
        j += 1
    return _skip_noise(tokens, j)


def _is_wordlike(tok: Token) -> bool:
    return tok.kind == WORD and tok.low.replace("-", "").replace("'", "").isalpha() and len(tok.low) > 1


def _listed(low: str) -> bool:
    """A lexicon name that is no ordinary word, a word in neither list, or a given name that is
    an ordinary word but not one of the engine's function words ("grace" yes, "will" no)."""
    c = name_class(low)
    return c in (STRONG, UNKNOWN) or (c == AMBIGUOUS and low in given_names() and low not in COMMON_WORDS)


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
        if low in _NOT_NAMES and low not in given_names():
            return False
        return tok.upper or _listed(low) or not cased or low in given_names()
    if low in _NOT_NAMES:
        return False
    if _listed(low):
        return True
    nxt = tokens[i + 1].low if i + 1 < len(tokens) else ""
    if level == "this":
        if name_class(low) == AMBIGUOUS and (nxt in _NAME_ENDS or nxt == ""):
            return True  # "this is baker", "the holder is miller, ..."
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
            end = _match(tokens, i, phrase)
            if end is not None:
                hit = (end, level)
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
    if low in _NOT_NAMES and low not in given_names():
        return None
    last = j
    for k in range(j + 1, min(j + 3, len(tokens))):
        tok = tokens[k]
        if claimed[k] or not _is_wordlike(tok) or tok.low in _NOT_NAMES:
            break
        last = k
    return Shape(j, last, "PERSON")


_NOT_BEFORE = frozenset("the a an my your our their this that these those his her its some any in near "
                        "on at by per".split())
_NOT_AFTER = frozenset("model models app tv router box device plan account card store brand phone laptop "
                       "order number version update series edition pro max ultra plus mini dollars".split())
_VOCATIVE_CUES = frozenset("thanks thank okay ok hi hello hey sorry alright great perfect yes "
                           "morning afternoon evening".split())
_AFTER_VOCATIVE = frozenset("let i i'm i've i'll we we'll we're you your you're can could just so please "
                            "how what one hold give bear that's this is".split())
_NAME_BEFORE = frozenset("is it's was to for with from under and or by thanks thank okay ok hi hello hey dear "
                         "mr mrs ms dr sorry yes yeah um uh er called call me ask tell told mother "
                         "father wife husband son daughter brother sister partner friend colleague "
                         "manager named surname name".split())
_NAME_AFTER = frozenset("speaking here calling said says told asked called mentioned is was will "
                        "please".split()) | frozenset(",.?!")
_SELF_NAMING = frozenset("speaking here calling".split())
# the subject of a verb of saying at the start of an utterance is a person ("bill said ...")
_SPEECH_VERBS = frozenset("said says told asked mentioned promised explained".split())


def _cls(tokens: list[Token], k: int) -> str:
    tok = tokens[k]
    if tok.kind != WORD or not _is_wordlike(tok):
        return ORDINARY
    c = name_class(tok.low)
    return ORDINARY if c == UNKNOWN and len(tok.low) < 3 else c


def lexicon_names(tokens: list[Token], claimed: list[bool]) -> list[Shape]:
    """Names with no introduction cue: up to three name-like tokens in a row, at least one a
    lexicon name that is no ordinary word or a word in neither list; ambiguous words ("grace",
    "mark") only next to such a token, as a vocative ("okay grace, let me ...") or before
    "speaking"/"here"."""
    out: list[Shape] = []
    n = len(tokens)
    i = 0
    while i < n:
        if claimed[i] or _cls(tokens, i) == ORDINARY:
            i += 1
            continue
        j = i
        classes: list[str] = []
        while j < n and len(classes) < 3 and not claimed[j]:
            c = _cls(tokens, j)
            if c == ORDINARY or (j > i and tokens[j].low in _SPEECH_VERBS):
                break  # "king said ...": "said" is a surname too, but not after a name
            classes.append(c)
            j += 1
        last = j - 1
        prev = tokens[i - 1].low if i > 0 else ""
        nxt = tokens[last + 1].low if last + 1 < n else ""
        sure = any(c in (STRONG, UNKNOWN) for c in classes)
        if not sure and tokens[i].low not in COMMON_WORDS:
            given = tokens[i].low in given_names()
            at_start = prev in ("", "it's", "is", "um", "uh", "yes", "hi", "so", "well", "and", ",", ".")
            sure = (prev in _VOCATIVE_CUES and (nxt in _AFTER_VOCATIVE or (given and (nxt in ",.!?" or nxt == "")))) \
                or (nxt in _SELF_NAMING and at_start) or (nxt in _SPEECH_VERBS and at_start)
        if sure and len(classes) == 1 and classes[0] == UNKNOWN and i > 0 and tokens[i - 1].kind == WORD:
            # one word in neither list ("json", "adaeze") is a name only where names stand
            sure = prev in _NAME_BEFORE or nxt in _NAME_AFTER or nxt == ""
        if sure and prev not in _NOT_BEFORE and nxt not in _NOT_AFTER:
            out.append(Shape(i, last, "PERSON"))
        i = last + 1
    return out
