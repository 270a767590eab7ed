"""The spoken-number grammar over every rendering the generator knows, and every digit-bearing
type redacted whole whichever way its digits are said (Hypothesis; the profile is the suite's)."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from recorder.redact import redact_text
from recorder.redact.spoken import number_runs, tokenize
from tests.unit.redact.corpus import pii_corpus

STYLES = sorted({s for v in pii_corpus.VOCAB.values() for s in v.number_styles})
SPOKEN = [s for s in STYLES if not s.startswith("written")]
# Renderings that say each digit on its own can be read back exactly; pairs and hundreds are
# ambiguous in speech ("forty three" for 4-0-3), corrections repeat digits by design.
EXACT = ["single", "single_oh", "double", "triple", "hyphen_single", "homophone", "filler_inside"]

digits = st.text("0123456789", min_size=3, max_size=19)
seeds = st.integers(0, 2**32 - 1)


def _runs(text: str) -> list[tuple[str, int, int]]:
    tokens = tokenize(text)
    return [(r.digits, r.start, r.end) for r in number_runs(tokens, [False] * len(tokens))]


@given(digits, st.sampled_from(EXACT), seeds)
def test_digit_by_digit_renderings_read_back_exactly(value: str, style: str, seed: int) -> None:
    said = pii_corpus.say_digits(value, style, random.Random(seed), [4, 4, 4, 4, 3])
    assert _runs(said) == [(value, 0, len(said))], said


@given(digits, st.sampled_from(SPOKEN), seeds)
def test_every_rendering_is_one_run_over_the_whole_value(value: str, style: str, seed: int) -> None:
    said = pii_corpus.say_digits(value, style, random.Random(seed), [3, 3, 4, 4, 4])
    runs = _runs(said)
    assert len(runs) == 1 and runs[0][1:] == (0, len(said)), said


def _assert_gone(prefix: str, value: str, suffix: str = "") -> None:
    text = prefix + value + suffix
    red = redact_text(text)
    for i in range(len(prefix), len(prefix) + len(value)):
        if text[i].isalnum():
            assert any(s.start <= i < s.end for s in red.spans), (text, red.text)


CUES = {
    "CREDIT_CARD": ["my card number is ", "agent: what's the long number on the card caller: "],
    "CVV": ["the security code is ", "agent: and the code on the back caller: it's "],
    "SSN": ["my social is ", "agent: can i have your social security number caller: "],
    "BANK_ACCOUNT": ["the account number is ", "agent: and your checking account caller: "],
    "ROUTING_NUMBER": ["routing number ", "agent: what's the routing number caller: "],
    "PHONE": ["call me back on ", "agent: what's the best number to reach you caller: "],
    "ZIP": ["my zip code is ", "agent: and the zip caller: "],
    "DRIVER_LICENSE": ["my driver's license is ", "agent: and your license number caller: "],
    "PASSPORT": ["passport number ", "agent: what's your passport number caller: "],
}
SIZES = {"CREDIT_CARD": 16, "CVV": 3, "SSN": 9, "BANK_ACCOUNT": 10, "ROUTING_NUMBER": 9, "PHONE": 10,
         "ZIP": 5, "DRIVER_LICENSE": 8, "PASSPORT": 9}
SUFFIXES = st.sampled_from(["", " thanks", " is that right", ", okay?", " thank you."])


@given(st.sampled_from(sorted(CUES)), st.data(), st.sampled_from(STYLES), seeds, SUFFIXES)
def test_digit_bearing_values_never_survive_any_rendering(kind: str, data: st.DataObject, style: str,
                                                         seed: int, suffix: str) -> None:
    rng = random.Random(seed)
    value = data.draw(st.text("0123456789", min_size=SIZES[kind], max_size=SIZES[kind]))
    if kind == "CREDIT_CARD":
        value = value[:15] + pii_corpus.luhn_digit(value[:15])
    if kind == "ROUTING_NUMBER":
        value = value[:8] + pii_corpus.aba_digit(value[:8])
    said = pii_corpus.say_digits(value, style, rng, [4, 4, 4, 4] if len(value) > 8 else None)
    if kind == "PASSPORT":
        said = rng.choice(["x ", "delta ", "k as in kilo ", "c "]) + said
    _assert_gone(data.draw(st.sampled_from(CUES[kind])), said, suffix)


@given(st.integers(1, 12), st.integers(25, 39), st.sampled_from(["it expires ", "expiration date ", "valid thru ",
                                                                  "agent: and when does it expire caller: "]),
       st.sampled_from(["{m}/{y}", "{mw}/{yw}", "oh {mw}, {yw}", "{mw} {yw}", "{m:02d} slash {y}",
                        "{month} of twenty {yw}", "{m:02d} {y}"]), SUFFIXES)
def test_card_expiry_never_survives(month: int, year: int, cue: str, form: str, suffix: str) -> None:
    words = pii_corpus.ONES + pii_corpus.TEENS
    yw = pii_corpus._pair(str(year), "oh").replace(" ", "-") if "/" in form else pii_corpus._pair(str(year), "oh")
    said = form.format(m=month, y=year, mw=words[month], yw=yw, month=pii_corpus.MONTHS[month - 1])
    _assert_gone(cue, said, suffix)


@given(st.integers(1, 254), st.integers(0, 255), st.integers(0, 255), st.integers(1, 254),
       st.sampled_from(["pairs", "hundreds", "single", "written"]), seeds)
def test_ip_addresses_never_survive(a: int, b: int, c: int, d: int, style: str, seed: int) -> None:
    rng = random.Random(seed)
    said = " dot ".join(pii_corpus.say_digits(str(x), style, rng) for x in (a, b, c, d))
    if style == "written":
        said = f"{a}.{b}.{c}.{d}"
    _assert_gone("my ip address is ", said)


@given(st.dates(), st.sampled_from(["my date of birth is ", "i was born on ", "agent: your date of birth? caller: "]), seeds)
def test_dates_of_birth_in_digits_never_survive(day: object, cue: str, seed: int) -> None:
    import datetime as dt

    assert isinstance(day, dt.date)
    rng = random.Random(seed)
    said = pii_corpus.say_digits(f"{day.month:02d}{day.day:02d}{day.year % 100:02d}",
                                 rng.choice(["single", "pairs_oh", "double"]), rng, [2, 2, 2])
    _assert_gone(cue, said)


@given(st.sampled_from(["DE", "FR", "ES", "NL", "GB"]), st.text("0123456789", min_size=14, max_size=22),
       st.sampled_from(SPOKEN), st.sampled_from(["plain", "nato", "as_in"]), seeds,
       st.sampled_from(["my iban is ", "please wire it to ", "agent: can you read me the iban caller: "]))
def test_ibans_never_survive_spelled_letters_and_any_rendering(country: str, bban: str, style: str, letters: str,
                                                               seed: int, cue: str) -> None:
    rng = random.Random(seed)
    value = pii_corpus.iban(country, bban)
    said_letters = {"plain": " ".join(country.lower()),
                    "nato": " ".join(pii_corpus.NATO[ord(c) - 65] for c in country),
                    "as_in": " ".join(f"{c.lower()} as in {pii_corpus.NATO[ord(c) - 65]}" for c in country)}[letters]
    said = said_letters + " " + pii_corpus.say_digits(value[2:], style, rng, [2, 4, 4, 4, 4, 4, 4])
    _assert_gone(cue, said)
