"""Spoken shapes that span several tokens: emails, dates, street addresses, spelled letters.

"john dot smith at gmail dot com", "march third nineteen eighty five", "twenty nine sixty
washington avenue apartment 3 austin texas", "s as in sam, m, i, t, h". Each detector returns
token ranges; the caller maps them to characters and decides (with context) what is PII.
"""

from __future__ import annotations

from dataclasses import dataclass

from recorder.redact.lexicon import (
    ADDRESS_OPENERS,
    COMMON_WORDS,
    COUNTRIES,
    COUNTRY_PAIRS,
    DIGIT_WORDS,
    EMAIL_CONNECTORS,
    FILLERS,
    HOMOPHONES,
    MAIL_PROVIDERS,
    MONTHS,
    NATO,
    NUMBER_WORDS,
    ORDINALS,
    STATE_FIRST_WORDS,
    STATE_SECOND_WORDS,
    STREET_SUFFIXES,
    TLDS,
    UNIT_WORDS,
    US_STATES,
)
from recorder.redact.spoken import CODE, NUM, ORD, PUNCT, WORD, NumberRun, Token, run_at


@dataclass(frozen=True, slots=True)
class Shape:
    """Tokens [first, last] form one value of `kind`."""

    first: int
    last: int
    kind: str


def _free(tokens: list[Token], claimed: list[bool], i: int) -> bool:
    return 0 <= i < len(tokens) and not claimed[i]


_NOT_LOCAL = frozenset("is was are email e-mail address mail it's that's my".split())
_BEFORE_DIGITS_STOP = _NOT_LOCAL | frozenset("to at it and or the a an me".split())


def _spelled_piece(tok: Token) -> bool:
    return tok.kind == NUM or tok.low in NUMBER_WORDS or (tok.kind == WORD and len(tok.low) == 1) or tok.low in NATO


def _email_local(tokens: list[Token], claimed: list[bool], at: int) -> int | None:
    """First token of the local part said before 'at', or None.

    The word just before 'at' always belongs to it (even "me" or "be"), and so do letters and
    digits spelled out before it ("j o h n"); further words only when a connector ('dot',
    'underscore', 'dash') joins them, so "send it to john at ..." keeps "send it to".
    """
    j = at - 1
    first: int | None = None
    joined = False
    while _free(tokens, claimed, j):
        tok = tokens[j]
        inside = first is not None and _spelled_piece(tokens[first]) and j > 0 and _spelled_piece(tokens[j - 1])
        if inside and (tok.low in FILLERS or tok.low in ("-", ",") or tok.low in HOMOPHONES):
            j -= 1  # "forty-two", "j uh o h n", "four to six" between spelled pieces
            continue
        joins_more = j > 0 and tokens[j - 1].low in EMAIL_CONNECTORS
        if tok.kind not in (WORD, CODE, NUM) or (tok.low in FILLERS and first is not None and not joined
                                                 and not joins_more):
            break  # a filler said as part of the address ("ah at ...", "aa dot uh at") still counts
        if first is None and tok.low in _NOT_LOCAL and not joins_more:
            break
        if first is not None and not joined and not (_spelled_piece(tok) and _spelled_piece(tokens[first])):
            digits_after = tokens[first].kind == NUM or tokens[first].low in NUMBER_WORDS
            if not (digits_after and tok.kind == WORD and (joins_more or tok.low not in _BEFORE_DIGITS_STOP)):
                break
            # "okonkwo forty two at ...": a name, then digits; a connector may join more before it
        first, j, joined = j, j - 1, False
        if _free(tokens, claimed, j) and tokens[j].low in EMAIL_CONNECTORS and j > 0:
            j, joined = j - 1, True
    return first


def _tld_ok(label: str) -> bool:
    return label in TLDS or (len(label) == 2 and label.isalpha())


def spoken_emails(tokens: list[Token], claimed: list[bool]) -> list[Shape]:
    out: list[Shape] = []
    n = len(tokens)
    for at, tok in enumerate(tokens):
        if tok.low != "at" or claimed[at] or at + 1 >= n:
            continue
        j = at + 1
        if tokens[j].low in ("sign", "symbol"):
            j += 1
        if not _free(tokens, claimed, j) or tokens[j].kind not in (WORD, CODE):
            continue
        last, labels = j, [tokens[j].low]
        while j + 2 < n and tokens[j + 1].low in ("dot", "period", ".") and tokens[j + 2].kind in (WORD, CODE):
            j += 2
            last = j
            labels.append(tokens[j].low)
        if not ((len(labels) > 1 and _tld_ok(labels[-1])) or labels[0] in MAIL_PROVIDERS):
            continue
        first = _email_local(tokens, claimed, at)
        if first is not None:
            out.append(Shape(first, last, "EMAIL"))
    return out


def _day_at(tokens: list[Token], i: int) -> int | None:
    """Index after a day of the month said at tokens[i] ('25th', 'third', 'twenty third', '26')."""
    if i >= len(tokens):
        return None
    tok = tokens[i]
    if tok.kind == ORD:
        return i + 1
    if tok.kind == NUM and len(tok.low) <= 2 and 1 <= int(tok.low) <= 31:
        return i + 1
    if tok.low in ORDINALS:
        return i + 1
    if tok.low in ("twenty", "thirty"):
        nxt = tokens[i + 1].low if i + 1 < len(tokens) else ""
        if nxt in ORDINALS and ORDINALS[nxt] < 10:
            return i + 2
        if nxt in DIGIT_WORDS and nxt not in ("o", "oh", "zero"):
            return i + 2
        return i + 1
    if tok.kind == WORD and (tok.low in DIGIT_WORDS or tok.low in NUMBER_WORDS) and tok.low not in ("o", "oh"):
        return i + 1
    return None


def _year_at(tokens: list[Token], i: int, claimed: list[bool]) -> int | None:
    """Index after a year at tokens[i] ('1998', "'85", 'nineteen eighty five'), or None."""
    if i < len(tokens) and tokens[i].low == "'":
        i += 1
    if not _free(tokens, claimed, i):
        return None
    run = run_at(tokens, i, claimed)
    if run is None or len(run.digits) not in (2, 4):
        return None
    return run.last + 1


def month_dates(tokens: list[Token], claimed: list[bool]) -> list[Shape]:
    out: list[Shape] = []
    for m, tok in enumerate(tokens):
        if tok.low not in MONTHS or claimed[m] or tok.kind != WORD:
            continue
        first, last = m, m
        # day before the month: "the 3rd of march", "twenty fifth of december"
        k = m - 1
        if k >= 0 and tokens[k].low == "of":
            k -= 1
        if k >= 0 and tokens[k].kind in (ORD, NUM) or (k >= 0 and tokens[k].low in ORDINALS):
            first = k
            if k > 0 and tokens[k - 1].low in ("twenty", "thirty"):
                first = k - 1
        j = m + 1
        if j < len(tokens) and tokens[j].low in ("the", "of"):
            j += 1
        day_end = _day_at(tokens, j) if first == m and _free(tokens, claimed, j) else None
        if day_end is not None:
            last, j = day_end - 1, day_end
        if j < len(tokens) and tokens[j].kind == PUNCT and tokens[j].low == ",":
            j += 1
        year_end = _year_at(tokens, j, claimed)
        if year_end is not None:
            last = year_end - 1
        if first == last or (tok.low == "may" and last == m):
            continue
        if tok.low in ("may", "march") and first == m and day_end is None and year_end is None:
            continue
        out.append(Shape(first, last, "date"))
    return out


def _is_letter(tok: Token) -> bool:
    return tok.kind == WORD and len(tok.low) == 1


def spelled_letters(tokens: list[Token], claimed: list[bool]) -> list[Shape]:
    """Two or more letters spelled out: 's m i t h', 'o, k, a', 's as in sam', NATO words."""
    out: list[Shape] = []
    n = len(tokens)
    i = 0
    while i < n:
        if claimed[i] or not (_is_letter(tokens[i]) or tokens[i].low in NATO):
            i += 1
            continue
        first, last, count, j = i, i, 0, i
        while j < n and not claimed[j] and (_is_letter(tokens[j]) or tokens[j].low in NATO):
            last, count = j, count + 1
            j += 1
            if j + 2 < n and tokens[j].low == "as" and tokens[j + 1].low == "in" and tokens[j + 2].kind == WORD:
                last = j + 2
                j += 3
            if j < n and tokens[j].kind == PUNCT and tokens[j].low in ",.-" and j + 1 < n:
                nxt = tokens[j + 1]
                if _is_letter(nxt) or nxt.low in NATO:
                    j += 1
        followed_by_digits = j < n and (tokens[j].kind == NUM or tokens[j].low in DIGIT_WORDS)
        nato_only = all(tokens[k].low in NATO for k in range(first, last + 1) if tokens[k].kind == WORD and len(tokens[k].low) > 1)
        if count >= 2 and not followed_by_digits and (count >= 3 or not nato_only):
            long_ = count >= 4 or any(tokens[k].low == "as" for k in range(first, last + 1))
            out.append(Shape(first, last, "spelled_long" if long_ else "spelled"))
        i = max(j, i + 1)
    return out


def _state_end(tokens: list[Token], i: int) -> int | None:
    """Last index of a US state or a country name starting at tokens[i], or None."""
    tok = tokens[i]
    if i + 1 < len(tokens) and (tok.low, tokens[i + 1].low) in COUNTRY_PAIRS:
        return i + 1
    if tok.low in COUNTRIES:
        return i
    if tok.low in STATE_FIRST_WORDS and i + 1 < len(tokens) and tokens[i + 1].low in STATE_SECOND_WORDS:
        return i + 1
    if tok.low in US_STATES and (len(tok.low) > 2 or tokens[i].upper):
        return i
    return None


_STREET_FIRST = frozenset("saint st rue via calle avenida rua piazza plaza chemin strada".split())
_PARTICLES = frozenset("de des du la le les del di da do dos das della van von der".split())
_COMPOUND_SUFFIXES = ("strasse", "straße", "str", "weg", "gasse", "platz", "allee", "laan", "straat",
                      "gracht", "vej", "gatan", "gade", "damm", "ring", "steig")


def addresses(tokens: list[Token], claimed: list[bool], runs: list[NumberRun]) -> list[Shape]:
    """House number + street name + suffix ("27 rosebery lane"), street word first ("14 rue des
    lilas", "12 saint aldates"), or continental name + number ("hauptstrasse 12"); then unit,
    town and state or country when said."""
    by_last = {r.last: r for r in runs}
    by_first = {r.first: r for r in runs}
    out: list[Shape] = []
    n = len(tokens)
    for k, tok in enumerate(tokens):
        if claimed[k] or tok.kind != WORD:
            continue
        if tok.low in _STREET_FIRST and k + 1 < n and tokens[k + 1].kind == WORD:
            j = k - 1
            while j >= 0 and tokens[j].low in FILLERS:
                j -= 1
            run, end = by_last.get(j), _name_words(tokens, claimed, k + 1)
            if run is None or end is None or not 1 <= len(run.digits) <= 6:
                continue
            first, last = run.prefix_first if run.prefix else run.first, end
        elif tok.low in STREET_SUFFIXES:
            run, names = _house_number(tokens, claimed, k, by_last)
            if names == 0 or run is None or not 1 <= len(run.digits) <= 6:
                continue
            first, last = run.prefix_first if run.prefix else run.first, k
        elif tok.low.endswith(_COMPOUND_SUFFIXES) and len(tok.low) > 6 and k + 1 < n \
                and (k + 1) in by_first and len(by_first[k + 1].digits) <= 4:
            first, last = k, by_first[k + 1].last  # "hauptstrasse 12"
        else:
            continue
        out.append(Shape(_opener(tokens, claimed, first), _address_end(tokens, claimed, last), "ADDRESS"))
    out += _po_boxes(tokens, claimed, runs)
    return out


def _name_words(tokens: list[Token], claimed: list[bool], i: int) -> int | None:
    """Last token of a street name said after its street word ("des lilas", "aldates")."""
    last = None
    for j in range(i, min(len(tokens), i + 4)):
        tok = tokens[j]
        if claimed[j] or tok.kind != WORD or tok.low in FILLERS:
            break
        if tok.low in _PARTICLES:
            continue
        if tok.low in COMMON_WORDS or tok.low in UNIT_WORDS or tok.low in _AFTER_ADDRESS:
            break
        last = j
        if tok.low in STREET_SUFFIXES:
            break  # "saint giles road"
    return last


def _address_end(tokens: list[Token], claimed: list[bool], last: int) -> int:
    """Last token of an address whose street ends at `last`: a unit, then a town, state or country."""
    n = len(tokens)
    m = last + 1
    if m < n and tokens[m].low in (",", "."):
        m += 1
    if m + 1 < n and (tokens[m].low in UNIT_WORDS - {"number"}):
        unit = run_at(tokens, m + 1, claimed)
        if unit is not None:
            last, m = unit.last, unit.last + 1
        elif _is_letter(tokens[m + 1]) or tokens[m + 1].kind == CODE:
            last, m = m + 1, m + 2
    city = -1
    comma = m > 0 and tokens[m - 1].low == ","
    for s in range(m, min(n, m + 5)):
        end = _state_end(tokens, s)
        if end is not None:
            return end
        if tokens[s].low != "," and (tokens[s].kind != WORD or tokens[s].low in COMMON_WORDS
                                     or tokens[s].low in FILLERS or tokens[s].low in _AFTER_ADDRESS):
            break
        if tokens[s].low != ",":
            city = s
            if comma:
                last = s  # ", york": a town said after a comma belongs to the address
        else:
            comma = True
    # a town said last ("... wallaby way sydney", "... exeter thanks") belongs to the address too
    if city >= 0 and last < city and (city + 1 >= n or tokens[city + 1].kind in (PUNCT, NUM)
                                      or tokens[city + 1].low in _AFTER_TOWN):
        last = city
    return last


def _house_number(tokens: list[Token], claimed: list[bool], k: int, by_last: dict[int, NumberRun]) -> tuple[NumberRun | None, int]:
    """The house number said before the street word at tokens[k], and how many name words lie
    between them (up to four: "old mill run", "north cedar ridge road"; fillers skipped)."""
    j, names = k - 1, 0
    while j >= 0 and names <= 4 and not claimed[j]:
        low = tokens[j].low
        if names and j in by_last:
            return by_last[j], names
        if low in FILLERS:
            j -= 1
            continue
        if tokens[j].kind not in (WORD, ORD) or low in NUMBER_WORDS:
            break
        j, names = j - 1, names + 1
    return None, 0


_AFTER_ADDRESS = frozenset("postcode zip postal last next this please thanks".split())
_AFTER_TOWN = _AFTER_ADDRESS | FILLERS | frozenset("thank okay ok is and for right correct".split())


def _opener(tokens: list[Token], claimed: list[bool], first: int) -> int:
    """First token of "flat 3b, " or "lot 12 " said before the house number at `first`."""
    j = first - 1
    if j >= 0 and tokens[j].low == ",":
        j -= 1
    if j >= 1 and not claimed[j] and tokens[j].kind in (NUM, CODE) and tokens[j - 1].low in ADDRESS_OPENERS:
        return j - 1
    if j >= 2 and tokens[j - 1].low in ADDRESS_OPENERS and _is_letter(tokens[j]) and tokens[j - 2].kind != WORD:
        return j - 1
    if j >= 0 and tokens[j].low in ADDRESS_OPENERS:
        return j
    return first


def _po_boxes(tokens: list[Token], claimed: list[bool], runs: list[NumberRun]) -> list[Shape]:
    """'p o box 4412, york', 'po box 12', 'post office box ...': the box, then a town said after it."""
    by_first = {r.first: r for r in runs}
    out: list[Shape] = []
    n = len(tokens)
    for k, tok in enumerate(tokens):
        if tok.low != "box" or claimed[k] or k + 1 >= n:
            continue
        if k >= 1 and tokens[k - 1].low in ("po", "p.o"):
            first = k - 1
        elif k >= 2 and tokens[k - 2].low == "p" and tokens[k - 1].low in ("o", "."):
            first = k - 2
        elif k >= 2 and tokens[k - 2].low == "post" and tokens[k - 1].low == "office":
            first = k - 2
        else:
            continue
        run = by_first.get(k + 1)
        if run is None:
            continue
        last = run.last
        m = last + 1
        if m < n and tokens[m].low == ",":
            m += 1
        while m < n and m - last <= 3 and tokens[m].kind == WORD and tokens[m].low not in FILLERS:
            end = _state_end(tokens, m)
            if end is not None:
                last = end
                break
            if tokens[m].low in COMMON_WORDS:
                break
            last, m = m, m + 1
        out.append(Shape(first, last, "ADDRESS"))
    return out


def spoken_ips(tokens: list[Token], claimed: list[bool], runs: list[NumberRun]) -> list[Shape]:
    """'one ninety two dot one sixty eight dot one dot one': four runs 0-255 joined by 'dot'."""
    by_first = {r.first: r for r in runs}
    out: list[Shape] = []
    for run in runs:
        parts, cur = [run], run
        while len(parts) < 4:
            k = cur.last + 1
            if k + 1 >= len(tokens) or tokens[k].low not in ("dot", "point", "."):
                break
            nxt = by_first.get(k + 1)
            if nxt is None:
                break
            parts.append(nxt)
            cur = nxt
        if len(parts) == 4 and all(len(p.digits) <= 3 and int(p.digits) <= 255 for p in parts):
            if not any(claimed[k] for k in range(run.first, cur.last + 1)):
                out.append(Shape(run.first, cur.last, "IP_ADDRESS"))
    return out
