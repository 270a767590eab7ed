"""Laws of the engine: a generated value said or written in many ways never survives redaction.

'Survives' is checked strictly: every letter and digit of the rendering must lie inside a span,
and the rendering must not appear in the redacted text.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.redact import redact_text
from recorder.redact.detect import luhn_ok

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december"]
ORD = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
       "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth",
       "seventeenth", "eighteenth", "nineteenth", "twentieth"]
TENS = {2: "twenty", 3: "thirty", 4: "forty", 5: "fifty", 6: "sixty", 7: "seventy", 8: "eighty",
        9: "ninety"}
TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen"]

PREFIXES = st.sampled_from(["", "so ", "okay um ", "yeah sure ", "let me see, ", "Alright. ",
                            "hold on, yeah "])
SUFFIXES = st.sampled_from(["", " thanks", " is that right", ", and that's it.", " okay?",
                            " did you get that"])


def _spoken_digit(d: str, zero: str) -> str:
    return zero if d == "0" else WORDS[int(d)]


@st.composite
def spoken(draw: st.DrawFn, digits: str, groups: list[int]) -> str:
    """Digits read out loud: 'oh'/'zero', doubles, pairs like 'forty five', commas between groups."""
    out: list[str] = []
    pos = 0
    sep = draw(st.sampled_from([" ", ", "]))
    for size in groups:
        chunk = digits[pos:pos + size]
        pos += size
        words: list[str] = []
        i = 0
        while i < len(chunk):
            d = chunk[i]
            zero = draw(st.sampled_from(["oh", "zero"]))
            if i + 1 < len(chunk) and chunk[i + 1] == d and draw(st.booleans()):
                words.append(f"double {_spoken_digit(d, zero)}")
                i += 2
            elif i + 1 < len(chunk) and d in "23456789" and chunk[i + 1] != "0" and draw(st.booleans()):
                words.append(f"{TENS[int(d)]} {WORDS[int(chunk[i + 1])]}")
                i += 2
            else:
                words.append(_spoken_digit(d, zero))
                i += 1
        out.append(" ".join(words))
    return sep.join(out)


def written(digits: str, groups: list[int], sep: str) -> str:
    parts, pos = [], 0
    for size in groups:
        parts.append(digits[pos:pos + size])
        pos += size
    return sep.join(parts)


def assert_gone(prefix: str, value: str, suffix: str) -> None:
    text = prefix + value + suffix
    red = redact_text(text)
    lo = len(prefix)
    for i in range(lo, lo + len(value)):
        if text[i].isalnum():
            assert any(s.start <= i < s.end for s in red.spans), (text, red.text)
    assert value not in red.text


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    body = draw(st.sampled_from(["4", "51", "52", "55", "2221", "6011"]))
    body += "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=15 - len(body), max_size=15 - len(body))))
    check = next(d for d in "0123456789" if luhn_ok(body + d))
    return body + check


@settings(max_examples=150, deadline=None)
@given(st.data(), card_numbers(), PREFIXES, SUFFIXES,
       st.sampled_from(["", "my card is ", "the number is ", "it's "]))
def test_card_numbers_never_survive(data: st.DataObject, card: str, pre: str, suf: str, cue: str) -> None:
    assert luhn_ok(card)
    style = data.draw(st.sampled_from(["plain", "spaced", "dashed", "spoken", "spoken4"]))
    value = {
        "plain": card,
        "spaced": written(card, [4, 4, 4, 4], " "),
        "dashed": written(card, [4, 4, 4, 4], "-"),
        "spoken": data.draw(spoken(card, [16])),
        "spoken4": data.draw(spoken(card, [4, 4, 4, 4])),
    }[style]
    assert_gone(pre + cue, value, suf)


@settings(max_examples=150, deadline=None)
@given(st.data(), st.integers(2, 9), st.text("0123456789", min_size=9, max_size=9), PREFIXES,
       SUFFIXES, st.sampled_from(["", "call me at ", "my cell is ", "you can reach me on "]))
def test_phone_numbers_never_survive(data: st.DataObject, first: int, rest: str, pre: str, suf: str, cue: str) -> None:
    digits = f"{first}{rest}"
    style = data.draw(st.sampled_from(["paren", "dash", "dots", "plain", "spoken", "spoken_flat"]))
    value = {
        "paren": f"({digits[:3]}) {digits[3:6]}-{digits[6:]}",
        "dash": written(digits, [3, 3, 4], "-"),
        "dots": written(digits, [3, 3, 4], "."),
        "plain": digits,
        "spoken": data.draw(spoken(digits, [3, 3, 4])),
        "spoken_flat": data.draw(spoken(digits, [10])),
    }[style]
    assert_gone(pre + cue, value, suf)


@settings(max_examples=150, deadline=None)
@given(st.data(), st.integers(1, 899).filter(lambda a: a != 666), st.integers(1, 99),
       st.integers(1, 9999), PREFIXES, SUFFIXES)
def test_ssns_never_survive(data: st.DataObject, area: int, group: int, serial: int, pre: str, suf: str) -> None:
    digits = f"{area:03d}{group:02d}{serial:04d}"
    style = data.draw(st.sampled_from(["dashed", "spaced", "plain", "spoken"]))
    cue = "" if style == "dashed" else data.draw(st.sampled_from(["my social is ", "ssn ", "social security number "]))
    value = {
        "dashed": f"{digits[:3]}-{digits[3:5]}-{digits[5:]}",
        "spaced": written(digits, [3, 2, 4], " "),
        "plain": digits,
        "spoken": data.draw(spoken(digits, [3, 2, 4])),
    }[style]
    assert_gone(pre + cue, value, suf)


@settings(max_examples=150, deadline=None)
@given(st.data(), st.from_regex(r"[a-z]{2,10}", fullmatch=True), st.from_regex(r"[a-z]{2,8}", fullmatch=True),
       st.integers(0, 99), PREFIXES, SUFFIXES,
       st.sampled_from(["", "my email is ", "send it to ", "it's "]))
def test_emails_never_survive(data: st.DataObject, user: str, last: str, num: int, pre: str, suf: str, cue: str) -> None:
    domain = data.draw(st.sampled_from(["gmail", "yahoo", "outlook", "example", "acme-mail", "fastmail"]))
    tld = data.draw(st.sampled_from(["com", "net", "org", "co dot uk", "io"]))
    joiner = data.draw(st.sampled_from(["dot", "underscore", None]))
    with_num = data.draw(st.booleans())
    if data.draw(st.booleans()):
        sep = {"dot": ".", "underscore": "_", None: ""}[joiner]
        local = user + (sep + last if joiner else "") + (str(num) if with_num else "")
        value = f"{local}@{domain}.{tld.replace(' dot ', '.')}"
    else:
        local = user + (f" {joiner} {last}" if joiner else "")
        if with_num:
            local += " " + data.draw(spoken(f"{num:02d}", [2]))
        value = f"{local} at {domain} dot {tld}"
    assert_gone(pre + cue, value, suf)


def _year_words(year: int) -> str:
    hi, lo = divmod(year, 100)
    head = TEENS[hi - 10] if hi < 20 else "two thousand"
    if hi == 20:
        return f"two thousand {WORDS[lo]}" if 0 < lo < 10 else f"twenty {_pair(lo)}"
    return f"{head} {_pair(lo)}"


def _pair(n: int) -> str:
    if n < 10:
        return f"oh {WORDS[n]}"
    if n < 20:
        return TEENS[n - 10]
    tens, unit = divmod(n, 10)
    return TENS[tens] + (f" {WORDS[unit]}" if unit else "")


@settings(max_examples=150, deadline=None)
@given(st.data(), st.dates(dt.date(1930, 1, 1), dt.date(2010, 12, 31)), PREFIXES, SUFFIXES,
       st.sampled_from(["my date of birth is ", "i was born on ", "dob ", "date of birth: ",
                        "my birthday is "]))
def test_dates_of_birth_never_survive(data: st.DataObject, day: dt.date, pre: str, suf: str, cue: str) -> None:
    month = MONTHS[day.month - 1]
    ordinal = ORD[day.day - 1] if day.day <= 20 else (
        "thirtieth" if day.day == 30 else ("twentieth" if day.day == 20 else
                                           f"{TENS[day.day // 10]} {ORD[day.day % 10 - 1]}"))
    style = data.draw(st.sampled_from(["slash", "slash2", "long", "spoken", "of", "digits", "dashed"]))
    value = {
        "slash": f"{day.month:02d}/{day.day:02d}/{day.year}",
        "slash2": f"{day.month}/{day.day}/{day.year % 100:02d}",
        "long": f"{month.title()} {day.day}, {day.year}",
        "spoken": f"{month} {ordinal} {_year_words(day.year)}",
        "of": f"{ordinal} of {month} {_year_words(day.year)}",
        "digits": data.draw(spoken(f"{day.month:02d}{day.day:02d}{day.year % 100:02d}", [2, 2, 2])),
        "dashed": f"{day.month:02d}-{day.day:02d}-{day.year}",
    }[style]
    assert_gone(pre + cue, value, suf)
