"""The name lexicon and the ordinary-English allowlist, read once from `data/`.

`data/given_names.txt` and `data/surnames.txt` are the US Census Bureau's 1990 frequent names
(public domain); `data/english_words.txt` is frequent English from `wordfreq` (CC BY-SA 4.0)
checked against Webster's Second (public domain). `scripts/build_redact_lexicon.py` rebuilds
them and says how. A word in both is ambiguous ("grace", "mark", "bill", "may") and is a name
only in context; a word in neither is unknown, and in a name's position taken for one.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from recorder.redact.lexicon import (
    COMMON_WORDS,
    FILLERS,
    MAIL_PROVIDERS,
    MONTHS,
    NATO,
    NUMBER_WORDS,
    STREET_SUFFIXES,
    TLDS,
    UNIT_WORDS,
    US_STATES,
)

STRONG, AMBIGUOUS, UNKNOWN, ORDINARY = "strong", "ambiguous", "unknown", "ordinary"


def _read(name: str) -> frozenset[str]:
    text = resources.files("recorder.redact").joinpath("data", name).read_text(encoding="utf-8")
    return frozenset(text.split())


@cache
def names() -> frozenset[str]:
    return _read("given_names.txt") | _read("surnames.txt")


@cache
def given_names() -> frozenset[str]:
    return _read("given_names.txt")


@cache
def ordinary() -> frozenset[str]:
    """Ordinary words: frequent English plus the engine's own vocabulary (never a name)."""
    own = (COMMON_WORDS | FILLERS | NUMBER_WORDS | frozenset(MONTHS) | frozenset(NATO) | US_STATES
           | STREET_SUFFIXES | UNIT_WORDS | TLDS | MAIL_PROVIDERS)
    return _read("english_words.txt") | own


def name_class(low: str) -> str:
    """STRONG (a lexicon name, not an ordinary word), AMBIGUOUS (both), UNKNOWN (neither) or
    ORDINARY (an ordinary word only)."""
    if low.endswith("'s"):
        low = low[:-2]
    word = low.replace("-", "").replace("'", "")
    if len(word) < 2 or not word.isalpha():
        return ORDINARY
    is_name = low in names()
    is_ordinary = low in ordinary()
    if is_name:
        return AMBIGUOUS if is_ordinary else STRONG
    if is_ordinary or not _pronounceable(word) or _inflected(low):
        return ORDINARY
    return UNKNOWN


_SUFFIXES = ("s", "es", "ed", "d", "ing", "ly", "er", "ers", "est", "ies", "ied")


def _inflected(low: str) -> bool:
    """An inflection of an ordinary word ("departs", "rebooted"): the dictionary lists stems."""
    words = ordinary()
    for suffix in _SUFFIXES:
        if low.endswith(suffix) and len(low) - len(suffix) >= 3:
            stem = low[: -len(suffix)]
            if stem in words or stem + "e" in words or (suffix in ("ies", "ied") and stem + "y" in words) \
                    or (len(stem) > 3 and stem[-1] == stem[-2] and stem[:-1] in words):
                return True
    return False


def _pronounceable(word: str) -> bool:
    """Codes ("fvvjcg", "xps") are no names: a name has a vowel and no five consonants in a row."""
    run = 0
    vowel = False
    for ch in word:
        if ch in "aeiouy":
            vowel, run = True, 0
        else:
            run += 1
            if run >= 5:
                return False
    return vowel
