"""A seeded generator of call-transcript lines with gold PII spans, in two splits.

Lines look like what the nightly job stores: one speaker's turn, or an "agent: ... caller: ..."
exchange, either raw STT (lower case, no punctuation) or formatted text, with fillers, repeats
and self-corrections. Every entity has exact character offsets and a type (the 16 types the
engine knows). Lines without PII carry hard negatives: order and tracking numbers, money,
times, flight numbers, quantities, versions, model names.

The two splits share nothing but the grammar of English: `tune` and `held` each have their own
template families, their own names (held-back names come from other cultures, most of them not
in any lexicon the engine ships), streets, cities, e-mail domains and number renderings (only
digit-by-digit reading and a filler inside a number occur in both). Tune
the engine on `tune`'s aggregate figures; `held` measures what it does on wordings it has never
been fitted to. `generate(split, n, seed)` is deterministic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

SPLITS = ("tune", "held")

ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september",
          "october", "november", "december"]
ORDS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
        "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth",
        "seventeenth", "eighteenth", "nineteenth", "twentieth"]
NATO = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
        "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra",
        "tango", "uniform", "victor", "whiskey", "x-ray", "yankee", "zulu"]
FILLERS = ["uh", "um", "er", "hmm"]
HOMOPHONES = {"4": "for", "2": "to", "1": "won", "8": "ate"}


# ---------------------------------------------------------------- vocabulary, one per split
@dataclass(frozen=True)
class Vocab:
    given: list[str]
    surnames: list[str]
    streets: list[str]          # street names without a number
    cities: list[str]           # "city state" or "city"
    domains: list[str]          # mail domains, spoken ("gmail dot com")
    as_in: list[str]            # words used in "b as in ..."
    number_styles: list[str]    # renderings of digit strings, see `say_digits`


VOCAB: dict[str, Vocab] = {
    "tune": Vocab(
        given=("james mary robert linda michael susan david karen william nancy richard lisa "
               "thomas betty daniel sandra paul donna steven carol kevin sharon brian laura "
               "jason emily ryan ashley jose maria carlos rosa luis ana juan sofia").split(),
        surnames=("smith johnson brown miller davis garcia rodriguez wilson martinez anderson "
                  "taylor thomas moore jackson martin lee thompson harris clark lewis robinson "
                  "walker allen wright scott hill green adams baker nelson carter mitchell perez "
                  "roberts turner phillips campbell parker evans edwards collins stewart").split(),
        streets=["oak avenue", "maple street", "elm drive", "pine road", "cedar lane",
                 "washington boulevard", "lincoln way", "park place", "lake shore drive",
                 "sunset boulevard", "main street", "church street", "highland avenue",
                 "river road", "meadow court", "forest drive"],
        cities=["springfield illinois", "austin texas", "denver colorado", "columbus ohio",
                "portland oregon", "tampa florida", "madison wisconsin", "reno nevada",
                "albany new york", "raleigh north carolina"],
        domains=["gmail dot com", "yahoo dot com", "outlook dot com", "hotmail dot com",
                 "aol dot com", "comcast dot net"],
        as_in=["apple", "boy", "cat", "dog", "edward", "frank", "george", "henry", "igloo",
               "john", "king", "larry", "mary", "nancy", "ocean", "peter", "queen", "robert",
               "sam", "tom", "umbrella", "victor", "william", "xylophone", "yellow", "zebra"],
        number_styles=["single", "single_oh", "double", "pairs", "written_grouped", "written",
                       "hyphen_single", "filler_inside"],
    ),
    "held": Vocab(
        given=("oluwaseun adaeze chinonso tunde ngozi kwabena akosua siddharth anjali venkat "
               "meenakshi wojciech agnieszka malgorzata bartosz zdenek eero aino sigrid bjorn "
               "thanh huong phuong yevgenia goran milica kemal zeynep fatou mamadou aminata "
               "haruki yuna jae-won kateryna bohdan aroha tane leilani mark grace bill "
               "dawit selam tariq rukhsana").split(),
        surnames=("okonkwo adeyemi mensah asante krishnamurthy venkataraman iyer chaudhary "
                  "kowalczyk wisniewski nowakowski dvorak novotny virtanen korhonen lindqvist "
                  "phan huynh petrovic jovanovic yilmaz demir diallo traore ndiaye watanabe "
                  "nakamura kimura hohaia parata kahananui tesfaye haile mirza qureshi king "
                  "may bishop fitzgerald oyelaran").split(),
        streets=["rosebery lane", "kingsway close", "birchfield grove", "harbour view terrace",
                 "saint aldates", "mill race walk", "tannery mews", "quarry hill rise",
                 "copper beech crescent", "willowbrook crossing", "sandpiper bend",
                 "north cedar ridge road", "old mill run", "heron pass"],
        cities=["york", "leeds", "cardiff", "galway", "dunedin new zealand", "halifax",
                "boise idaho", "duluth minnesota", "bangor maine", "flagstaff arizona"],
        domains=["protonmail dot com", "icloud dot com", "fastmail dot fm", "web dot de",
                 "btinternet dot com", "mail dot ru", "zoho dot eu"],
        as_in=["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
               "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
               "sierra", "tango", "uniform", "victor", "whiskey", "x-ray", "yankee", "zulu"],
        number_styles=["single", "pairs_oh", "hundreds", "hyphen_pairs", "homophone",
                       "correction", "triple", "written_dashed", "filler_inside", "mixed"],
    ),
}


# ---------------------------------------------------------------- number renderings
def _pair(d2: str, zero: str) -> str:
    n = int(d2)
    if d2[0] == "0":
        return f"{zero} {ONES[n]}"
    if n < 10:
        return ONES[n]
    if n < 20:
        return TEENS[n - 10]
    return TENS[n // 10] + ("" if n % 10 == 0 else f" {ONES[n % 10]}")


def _singles(chunk: str, rng: random.Random, zero: str, repeats: bool, hyphen: bool = False) -> str:
    words: list[str] = []
    i = 0
    while i < len(chunk):
        d = chunk[i]
        word = zero if d == "0" and zero != "zero" else ONES[int(d)]
        if repeats and i + 2 < len(chunk) and chunk[i + 1] == d == chunk[i + 2] and rng.random() < 0.7:
            words.append(f"triple {word}")
            i += 3
        elif repeats and i + 1 < len(chunk) and chunk[i + 1] == d and rng.random() < 0.7:
            words.append(f"double {word}")
            i += 2
        else:
            words.append(word)
            i += 1
    return ("-" if hyphen else " ").join(words)


def _hundreds(chunk: str, zero: str) -> str:
    if len(chunk) == 3 and chunk[0] != "0":
        rest = chunk[1:]
        tail = "" if rest == "00" else " " + (_pair(rest, zero) if rest[0] != "0" else f"{zero} {ONES[int(rest[1])]}")
        return f"{ONES[int(chunk[0])]} hundred{tail}"
    return " ".join(_pair(chunk[i:i + 2], zero) if i + 1 < len(chunk) else ONES[int(chunk[i])]
                    for i in range(0, len(chunk), 2))


def _groups(digits: str, sizes: list[int]) -> list[str]:
    out, pos = [], 0
    for size in sizes:
        if pos >= len(digits):
            break
        out.append(digits[pos:pos + size])
        pos += size
    if pos < len(digits):
        out.append(digits[pos:])
    return out


def say_digits(digits: str, style: str, rng: random.Random, sizes: list[int] | None = None) -> str:
    """One rendering of a digit string as speech-to-text writes it."""
    sizes = sizes or [len(digits)]
    groups = _groups(digits, sizes)
    sep = rng.choice([" ", ", "])
    zero = rng.choice(["oh", "zero"])
    if style == "written":
        return digits
    if style == "written_grouped":
        return " ".join(groups)
    if style == "written_dashed":
        return "-".join(groups)
    if style == "single":
        return sep.join(" ".join(ONES[int(d)] for d in g) for g in groups)
    if style == "single_oh":
        return sep.join(_singles(g, rng, "oh", False) for g in groups)
    if style in ("double", "triple"):
        return sep.join(_singles(g, rng, zero, True) for g in groups)
    if style == "hyphen_single":
        return sep.join(_singles(g, rng, zero, False, hyphen=True) for g in groups)
    if style in ("pairs", "pairs_oh"):
        z = "oh" if style == "pairs_oh" else zero
        return sep.join(" ".join(_pair(g[i:i + 2], z) if i + 1 < len(g) else ONES[int(g[i])]
                                 for i in range(0, len(g), 2)) for g in groups)
    if style == "hyphen_pairs":
        parts = []
        for g in groups:
            words = []
            for i in range(0, len(g), 2):
                piece = g[i:i + 2]
                if len(piece) == 2 and piece[0] not in "01":
                    words.append(_pair(piece, zero).replace(" ", "-"))
                else:
                    words.append("-".join(ONES[int(c)] if c != "0" else zero for c in piece))
            parts.append(" ".join(words))
        return sep.join(parts)
    if style == "hundreds":
        return sep.join(_hundreds(g, zero) for g in groups)
    if style == "homophone":
        words = [HOMOPHONES[d] if d in HOMOPHONES and 0 < i < len(digits) - 1 and rng.random() < 0.4
                 else ONES[int(d)] for i, d in enumerate(digits)]
        return " ".join(words)
    if style == "filler_inside":
        said = [_singles(g, rng, zero, False) for g in groups]
        if len(said) > 1:
            k = rng.randrange(1, len(said))
            said.insert(k, rng.choice(FILLERS))
            return " ".join(said)
        words = said[0].split()
        if len(words) > 2:
            words.insert(rng.randrange(1, len(words) - 1), rng.choice(FILLERS))
        return " ".join(words)
    if style == "correction":
        said = [_singles(g, rng, zero, False) for g in groups]
        if len(said) > 1:
            k = rng.randrange(len(said))
            wrong = list(groups[k])
            wrong[-1] = str((int(wrong[-1]) + 1) % 10)
            fix = rng.choice(["sorry", "no wait", "i mean", "no sorry"])
            said[k] = f"{_singles(''.join(wrong), rng, zero, False)} {fix} {said[k]}"
        return sep.join(said)
    if style == "mixed":
        return sep.join(rng.choice([lambda g: _hundreds(g, zero),
                                    lambda g: _singles(g, rng, zero, True),
                                    lambda g: " ".join(_pair(g[i:i + 2], zero) if i + 1 < len(g) else ONES[int(g[i])]
                                                       for i in range(0, len(g), 2))])(g)
                        for g in groups)
    raise ValueError(f"unknown number style {style!r}")


def luhn_digit(body: str) -> str:
    for d in "0123456789":
        total = 0
        for i, ch in enumerate(reversed(body + d)):
            v = int(ch) * (2 if i % 2 else 1)
            total += v - 9 if v > 9 else v
        if total % 10 == 0:
            return d
    raise AssertionError("unreachable")


def aba_digit(body: str) -> str:
    for d in "0123456789":
        x = [int(c) for c in body + d]
        if (3 * (x[0] + x[3] + x[6]) + 7 * (x[1] + x[4] + x[7]) + x[2] + x[5] + x[8]) % 10 == 0:
            return d
    raise AssertionError("unreachable")


def iban(country: str, bban: str) -> str:
    rearranged = bban + country + "00"
    check = 98 - int("".join(str(int(c, 36)) for c in rearranged)) % 97
    return f"{country}{check:02d}{bban}"


# ---------------------------------------------------------------- values of each type
class Values:
    """Draws one rendered value of each type from a split's vocabulary."""

    def __init__(self, split: str, rng: random.Random) -> None:
        self.v = VOCAB[split]
        self.rng = rng
        self.split = split

    def _style(self) -> str:
        return self.rng.choice(self.v.number_styles)

    def say(self, digits: str, sizes: list[int] | None = None, written_ok: bool = True) -> str:
        style = self._style()
        while not written_ok and style.startswith("written"):
            style = self._style()
        return say_digits(digits, style, self.rng, sizes)

    def digits(self, n: int, first: str = "123456789") -> str:
        return self.rng.choice(first) + "".join(self.rng.choice("0123456789") for _ in range(n - 1))

    def PERSON(self) -> str:
        r = self.rng.random()
        given, last = self.rng.choice(self.v.given), self.rng.choice(self.v.surnames)
        if r < 0.45:
            return f"{given} {last}"
        return given if r < 0.75 else last

    def SPELLED(self) -> str:
        name = self.rng.choice(self.v.surnames).replace("-", "")[:7]
        style = self.rng.random()
        if style < 0.4:
            return " ".join(name)
        if style < 0.6:
            return ", ".join(name)
        if style < 0.8:
            return " ".join(f"{c} as in {self._as_in(c)}" if i % 2 == 0 else c for i, c in enumerate(name))
        return " ".join(NATO[ord(c) - 97] for c in name if c.isalpha())

    def _as_in(self, c: str) -> str:
        words = [w for w in self.v.as_in if w[0] == c]
        return self.rng.choice(words) if words else NATO[ord(c) - 97]

    def CREDIT_CARD(self) -> str:
        prefix = self.rng.choice(["4", "51", "55", "2221", "6011", "37"])
        n = 15 if prefix == "37" else 16
        body = prefix + "".join(self.rng.choice("0123456789") for _ in range(n - 1 - len(prefix)))
        number = body + luhn_digit(body)
        sizes = self.rng.choice([[4, 4, 4, 4], [4, 6, 5], [n]] if self.split == "tune" else
                                [[4, 4, 4, 4], [2, 2, 2, 2, 2, 2, 2, 2], [3, 3, 3, 3, 4]])
        return self.say(number, sizes)

    def CARD_LAST4(self) -> str:
        return self.say(self.digits(4, "0123456789"), [4])

    def CVV(self) -> str:
        code = self.digits(self.rng.choice([3, 3, 4]), "0123456789")
        if self.split == "held" and len(code) == 4 and self.rng.random() < 0.5:
            return f"{_pair(code[:2], 'oh')} {_pair(code[2:], 'oh')}"
        return self.say(code)

    def CARD_EXPIRY(self) -> str:
        month, year = self.rng.randint(1, 12), self.rng.randint(25, 34)
        forms = [f"{month:02d}/{year}", f"{month}/{year}",
                 f"{ONES[month] if month < 10 else TEENS[month - 10]} {_pair(str(year), 'oh')}"]
        if self.split == "tune":
            forms += [f"{MONTHS[month - 1]} twenty {_pair(str(year), 'oh')}",
                      f"{month:02d} {year}", f"oh {ONES[month]} {_pair(str(year), 'oh')}" if month < 10 else f"{month} {year}"]
        else:
            forms += [f"{ONES[month] if month < 10 else TEENS[month - 10]}/{_pair(str(year), 'oh').replace(' ', '-')}",
                      f"oh {ONES[month]}, {_pair(str(year), 'oh')}" if month < 10 else f"{TEENS[month - 10]}, {_pair(str(year), 'oh')}",
                      f"{MONTHS[month - 1]} of twenty {_pair(str(year), 'oh')}",
                      f"{month:02d} slash {year}"]
        return self.rng.choice(forms)

    def SSN(self) -> str:
        d = f"{self.rng.randint(1, 899):03d}{self.rng.randint(1, 99):02d}{self.rng.randint(1, 9999):04d}"
        r = self.rng.random()
        if r < 0.25:
            return f"{d[:3]}-{d[3:5]}-{d[5:]}"
        if r < 0.4 and self.split == "held":
            return " dash ".join(say_digits(g, "single", self.rng) for g in (d[:3], d[3:5], d[5:]))
        return self.say(d, [3, 2, 4])

    def SSN_LAST4(self) -> str:
        return self.say(self.digits(4, "0123456789"), [4], written_ok=self.rng.random() < 0.5)

    def ROUTING_NUMBER(self) -> str:
        body = self.rng.choice(["0", "1", "2", "3"]) + self.digits(7, "0123456789")
        return self.say(body + aba_digit(body), [9] if self.rng.random() < 0.5 else [3, 3, 3])

    def BANK_ACCOUNT(self) -> str:
        return self.say(self.digits(self.rng.randint(8, 12)), [4, 4, 4])

    def IBAN(self) -> str:
        country, bban = self.rng.choice([("DE", self.digits(18, "0123456789")),
                                         ("GB", "WEST" + self.digits(14, "0123456789")),
                                         ("NL", "ABNA" + self.digits(10, "0123456789")),
                                         ("FR", self.digits(23, "0123456789")),
                                         ("ES", self.digits(20, "0123456789"))])
        value = iban(country, bban)
        r = self.rng.random()
        if r < 0.35:
            return " ".join(value[i:i + 4] for i in range(0, len(value), 4))
        return self._spell_code(value)

    def _spell_code(self, value: str) -> str:
        """Letters and digits read out: letters as letters, NATO words or 'x as in ...'."""
        letters_style = self.rng.choice(["plain", "nato", "as_in"] if self.split == "held" else ["plain", "nato"])
        out: list[str] = []
        digits = ""
        for ch in value.lower():
            if ch.isdigit():
                digits += ch
                continue
            if digits:
                out.append(self.say(digits, [4], written_ok=False))
                digits = ""
            if letters_style == "plain":
                out.append(ch)
            elif letters_style == "nato":
                out.append(NATO[ord(ch) - 97])
            else:
                out.append(f"{ch} as in {self._as_in(ch)}")
        if digits:
            out.append(self.say(digits, [4], written_ok=False))
        return " ".join(out)

    def PASSPORT(self) -> str:
        value = self.rng.choice("abcdefghjklmnprstuvwxyz") + self.digits(8, "0123456789")
        if self.rng.random() < 0.3:
            return value.upper()
        return self._spell_code(value)

    def DRIVER_LICENSE(self) -> str:
        if self.rng.random() < 0.5:
            return self.say(self.digits(self.rng.randint(8, 9)), [4, 4])
        return self._spell_code(self.rng.choice("abcdefghkmnprstwy") + self.digits(7, "0123456789"))

    def PHONE(self) -> str:
        d = self.rng.choice("23456789") + self.digits(9, "0123456789")
        r = self.rng.random()
        if r < 0.25:
            return self.rng.choice([f"({d[:3]}) {d[3:6]}-{d[6:]}", f"{d[:3]}-{d[3:6]}-{d[6:]}", f"{d[:3]}.{d[3:6]}.{d[6:]}"])
        return self.say(d, [3, 3, 4])

    def PHONE_LAST4(self) -> str:
        return self.say(self.digits(4, "0123456789"), [4])

    def ZIP(self) -> str:
        if self.split == "held" and self.rng.random() < 0.4:
            return self.rng.choice(["y o one seven h d", "l s two seven b a", "c f ten one a a",
                                    "s w one a one a a", "e c two m seven p y", "b s one four t r"])
        return self.say(self.digits(5, "0123456789"), [5])

    def DATE_OF_BIRTH(self) -> str:
        y, m, d = self.rng.randint(1935, 2006), self.rng.randint(1, 12), self.rng.randint(1, 28)
        year_words = f"{TEENS[y // 100 - 10]} {_pair(str(y % 100).zfill(2), 'oh')}" if y < 2000 else f"two thousand {ONES[y % 10]}" if y % 100 < 10 else f"twenty {_pair(str(y % 100), 'oh')}"
        day_ord = ORDS[d - 1] if d <= 20 else f"twenty {ORDS[d - 21]}"
        forms = [f"{m}/{d}/{y}", f"{MONTHS[m - 1]} {day_ord} {year_words}", f"{MONTHS[m - 1].title()} {d}, {y}"]
        if self.split == "tune":
            forms += [f"{day_ord} of {MONTHS[m - 1]} {year_words}", f"{m:02d}/{d:02d}/{y % 100:02d}"]
        else:
            forms += [f"{day_ord} {MONTHS[m - 1]} {y}", f"{y}-{m:02d}-{d:02d}",
                      f"{_pair(str(m).zfill(2), 'oh')} {_pair(str(d).zfill(2), 'oh')} {_pair(str(y % 100).zfill(2), 'oh')}"]
        return self.rng.choice(forms)

    def ADDRESS(self) -> str:
        street = self.rng.choice(self.v.streets)
        number = str(self.rng.randint(1, 9999))
        house = number if self.rng.random() < 0.4 else self.say(number, [2, 2] if len(number) == 4 else None, written_ok=False)
        city = self.rng.choice(self.v.cities)
        if self.split == "tune":
            forms = [f"{house} {street}", f"{house} {street} {city}",
                     f"{house} {street} apartment {self.rng.randint(1, 40)} {city}",
                     f"{house} {street} suite {self.rng.randint(100, 900)}"]
        else:
            forms = [f"flat {self.rng.randint(1, 9)}{self.rng.choice('abc')}, {house} {street}, {city}",
                     f"p o box {self.say(self.digits(4), [4])}, {city}",
                     f"po box {self.rng.randint(10, 9999)} {city}",
                     f"{house} {street} unit {self.rng.randint(1, 30)}",
                     f"lot {self.rng.randint(1, 90)} {street} {city}",
                     f"{house} {street}, {city}"]
        return self.rng.choice(forms)

    def EMAIL(self) -> str:
        first = self.rng.choice(self.v.given).replace("-", "")
        last = self.rng.choice(self.v.surnames)
        domain = self.rng.choice(self.v.domains)
        if self.split == "tune":
            local = self.rng.choice([f"{first} dot {last}", f"{first}{last}", f"{first[0]}{last}",
                                     f"{first} {self.say(str(self.rng.randint(10, 99)), written_ok=False)}",
                                     f"{first} underscore {last}"])
            if self.rng.random() < 0.2:
                return f"{local.replace(' dot ', '.').replace(' underscore ', '_').replace(' ', '')}@{domain.replace(' dot ', '.')}"
        else:
            local = self.rng.choice([" ".join(first[:6]), f"{' dot '.join(first[:3])} dot {last}",
                                     f"{first} dash {last}", f"{last} {self.say(self.digits(2), written_ok=False)}",
                                     "me", f"{first[:2]} dot {last[:2]}"])
        at = self.rng.choice(["at", "at", "at sign"] if self.split == "held" else ["at"])
        return f"{local} {at} {domain}"

    def IP_ADDRESS(self) -> str:
        parts = [str(self.rng.randint(1, 254)) for _ in range(4)]
        if self.rng.random() < 0.5:
            return ".".join(parts)
        return " dot ".join(say_digits(p, "pairs" if self.split == "tune" else "hundreds", self.rng) for p in parts)


# ---------------------------------------------------------------- templates
# A template is a list of pieces: plain text, or "{TYPE}" (gold entity), or "{TYPE:DRAW}" where
# DRAW names the Values method (e.g. {CREDIT_CARD:CARD_LAST4}). "|" separates a caller's turn
# from the agent's question in exchange templates ("agent: ... | caller: ...").
TEMPLATES: dict[str, dict[str, list[str]]] = {
    "tune": {
        "PERSON": ["my name is {PERSON}", "hi this is {PERSON} calling about my bill",
                   "thanks {PERSON} i've pulled up your account", "yes this is {PERSON}",
                   "agent: can i have your full name please | caller: {PERSON}",
                   "i spoke to {PERSON} yesterday about it", "the account holder is {PERSON}",
                   "last name is {PERSON} spelled {PERSON:SPELLED}",
                   "agent: could you spell your last name | caller: {PERSON:SPELLED}"],
        "CREDIT_CARD": ["my card number is {CREDIT_CARD}", "the card is {CREDIT_CARD}",
                        "agent: what's the card number | caller: {CREDIT_CARD}",
                        "agent: go ahead with the long number on the card | caller: sure it's {CREDIT_CARD}",
                        "just to confirm the card ending in {CREDIT_CARD:CARD_LAST4}",
                        "put it on my visa {CREDIT_CARD}"],
        "CVV": ["the security code is {CVV}", "agent: and the three digits on the back | caller: {CVV}",
                "cvv {CVV}"],
        "CARD_EXPIRY": ["it expires {CARD_EXPIRY}", "expiration date {CARD_EXPIRY}",
                        "agent: and the expiry date | caller: {CARD_EXPIRY}"],
        "SSN": ["my social security number is {SSN}", "agent: can i get your social | caller: {SSN}",
                "the last four of my social are {SSN:SSN_LAST4}"],
        "ROUTING_NUMBER": ["the routing number is {ROUTING_NUMBER}",
                           "agent: what's the routing number | caller: {ROUTING_NUMBER}"],
        "BANK_ACCOUNT": ["my account number is {BANK_ACCOUNT}",
                         "agent: and the checking account number | caller: it's {BANK_ACCOUNT}"],
        "IBAN": ["my iban is {IBAN}", "please wire it to {IBAN}"],
        "PASSPORT": ["my passport number is {PASSPORT}", "agent: passport number please | caller: {PASSPORT}"],
        "DRIVER_LICENSE": ["my driver's license number is {DRIVER_LICENSE}",
                           "agent: and your license number | caller: {DRIVER_LICENSE}"],
        "PHONE": ["you can reach me at {PHONE}", "my cell is {PHONE}",
                  "agent: what's a good callback number | caller: {PHONE}",
                  "i'll text the link to the number ending in {PHONE:PHONE_LAST4}"],
        "ZIP": ["my zip code is {ZIP}", "agent: what's the zip code on the account | caller: {ZIP}"],
        "DATE_OF_BIRTH": ["my date of birth is {DATE_OF_BIRTH}", "i was born on {DATE_OF_BIRTH}",
                          "agent: can i get your date of birth | caller: {DATE_OF_BIRTH}"],
        "ADDRESS": ["i live at {ADDRESS}", "ship it to {ADDRESS} zip code {ZIP}",
                    "agent: what's the billing address | caller: {ADDRESS}"],
        "EMAIL": ["my email is {EMAIL}", "send it to {EMAIL}",
                  "agent: what email should we use | caller: {EMAIL}"],
        "IP_ADDRESS": ["my ip address is {IP_ADDRESS}"],
        "NONE": ["your order number is {N:order}", "the tracking number is {N:tracking}",
                 "that comes to {N:money}", "the package should arrive by {N:time}",
                 "i'm on flight {N:flight} tomorrow", "i ordered {N:qty} boxes and only got half",
                 "it should say version {N:version}", "it's the {N:model} model",
                 "agent: what's the order number | caller: {N:order}",
                 "your confirmation code is {N:code}", "i've been a customer since {N:year}",
                 "my card keeps getting declined at the store", "can you hold on a second",
                 "press {N:digit} for billing", "the total came to {N:money}",
                 "agent: how many units did you receive | caller: {N:qty}",
                 "i already called {N:brand} about this yesterday", "mark it as resolved please"],
    },
    "held": {
        "PERSON": ["it's {PERSON} here", "{PERSON} speaking how can i help",
                   "i'm calling on behalf of my mother {PERSON}",
                   "agent: who am i speaking with | caller: {PERSON}",
                   "okay {PERSON} let me check that for you", "can you put me through to {PERSON} please",
                   "the booking is under {PERSON}", "surname {PERSON:SPELLED}",
                   "agent: and the name on the account | caller: it's {PERSON}",
                   "{PERSON} said you would call me back"],
        "CREDIT_CARD": ["i'd like to pay with card {CREDIT_CARD}",
                        "agent: okay go ahead with the card | caller: yeah {CREDIT_CARD}",
                        "the number on the front is {CREDIT_CARD}",
                        "agent: which card would you like to use | caller: the one ending {CREDIT_CARD:CARD_LAST4}",
                        "charge the mastercard {CREDIT_CARD} please"],
        "CVV": ["the code on the back is {CVV}", "agent: and the cvc | caller: it's {CVV}",
                "agent: i'll need the security code too | caller: {CVV}"],
        "CARD_EXPIRY": ["valid thru {CARD_EXPIRY}", "agent: and when does it expire | caller: {CARD_EXPIRY}",
                        "exp {CARD_EXPIRY}"],
        "SSN": ["social is {SSN}", "agent: i need to verify your social security number | caller: okay {SSN}",
                "agent: last four of the social | caller: {SSN:SSN_LAST4}", "my ssn {SSN}"],
        "ROUTING_NUMBER": ["use routing {ROUTING_NUMBER}", "agent: and the aba number | caller: {ROUTING_NUMBER}"],
        "BANK_ACCOUNT": ["deposit it into account {BANK_ACCOUNT}",
                         "agent: what's the savings account number | caller: {BANK_ACCOUNT}"],
        "IBAN": ["the iban on my statement is {IBAN}", "agent: can you read me the iban | caller: {IBAN}"],
        "PASSPORT": ["passport {PASSPORT}", "agent: what's the passport number | caller: it's {PASSPORT}"],
        "DRIVER_LICENSE": ["licence number {DRIVER_LICENSE}", "agent: driver's license please | caller: {DRIVER_LICENSE}"],
        "PHONE": ["call me back on {PHONE}", "my mobile is {PHONE}",
                  "agent: what number can we reach you on | caller: {PHONE}",
                  "we'll text the one ending in {PHONE:PHONE_LAST4}"],
        "ZIP": ["postcode {ZIP}", "agent: and the postal code | caller: {ZIP}"],
        "DATE_OF_BIRTH": ["dob {DATE_OF_BIRTH}", "agent: and your birthday | caller: {DATE_OF_BIRTH}",
                          "i was born {DATE_OF_BIRTH}"],
        "ADDRESS": ["my address is {ADDRESS}", "agent: where should we send it | caller: {ADDRESS}",
                    "deliver to {ADDRESS} postcode {ZIP}", "i moved to {ADDRESS} last month"],
        "EMAIL": ["email me at {EMAIL}", "agent: and your email address | caller: {EMAIL}",
                  "it's {EMAIL}"],
        "IP_ADDRESS": ["the router shows {IP_ADDRESS}", "agent: what ip does it show | caller: {IP_ADDRESS}"],
        "NONE": ["reference {N:order} for your records", "your parcel {N:tracking} is out for delivery",
                 "it was {N:money} last month", "we open at {N:time}", "flight {N:flight} was cancelled",
                 "there were {N:qty} items missing", "the firmware is {N:version}",
                 "my {N:model} won't turn on", "agent: what's the ticket number | caller: {N:order}",
                 "extension {N:digit} please", "room {N:qty} on the second floor",
                 "it's been broken since {N:year}", "agent: anything else | caller: no that's everything thanks",
                 "i'll grace you with my presence", "may i bill this to my company",
                 "the king size bed was missing", "hold on let me find it",
                 "agent: what's the card number | caller: hold on let me grab my wallet"],
    },
}


def _negative(kind: str, split: str, v: Values) -> str:
    rng = v.rng
    if kind == "order":
        return v.say(v.digits(rng.randint(6, 10)))
    if kind == "tracking":
        return rng.choice(["1Z" + "".join(rng.choice("0123456789AB") for _ in range(16)),
                           " ".join(v.digits(4) for _ in range(5))])
    if kind == "money":
        return rng.choice([f"${rng.randint(2, 999)}.{rng.randint(10, 99)}", f"{rng.randint(2, 90)} dollars",
                           f"{_hundreds(str(rng.randint(100, 999)), 'oh')} dollars"])
    if kind == "time":
        return rng.choice([f"{rng.randint(1, 12)}:{rng.choice(['00', '15', '30', '45'])}", f"{ONES[rng.randint(1, 9)]} thirty",
                           f"{rng.randint(1, 12)} pm"])
    if kind == "flight":
        return rng.choice(["ua", "aa", "dl", "ba", "lh"]) + " " + str(rng.randint(100, 2999))
    if kind == "qty":
        return str(rng.randint(2, 40)) if rng.random() < 0.5 else ONES[rng.randint(2, 9)]
    if kind == "version":
        return ".".join(str(rng.randint(0, 20)) for _ in range(rng.randint(2, 4)))
    if kind == "model":
        return rng.choice(["xps 9530", "iphone 15", "roku ultra", "pixel 8", "galaxy s23", "thinkpad x1"])
    if kind == "code":
        return "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(6))
    if kind == "year":
        return str(rng.randint(1990, 2024))
    if kind == "digit":
        return str(rng.randint(1, 9))
    if kind == "brand":
        return rng.choice(["best buy", "home depot", "verizon", "comcast", "amazon"])
    raise ValueError(kind)


# ---------------------------------------------------------------- assembly and noise
_ACKS = ["", "", "", "um ", "uh ", "yeah ", "okay so ", "sure ", "yes "]
_TAILS = ["", "", "", " thanks", " is that right", " okay", " thank you"]


@dataclass(frozen=True)
class Line:
    id: str
    split: str
    channel: str
    text: str
    entities: tuple[tuple[int, int, str], ...]
    family: str

    def to_row(self) -> dict[str, object]:
        return {"id": self.id, "channel": self.channel, "text": self.text,
                "entities": [{"start": s, "end": e, "type": t} for s, e, t in self.entities]}


def _fill(template: str, v: Values) -> list[tuple[str, str | None]]:
    """Pieces (text, gold type or None) of one filled template."""
    pieces: list[tuple[str, str | None]] = []
    rest = template
    while "{" in rest:
        head, _, tail = rest.partition("{")
        slot, _, rest = tail.partition("}")
        pieces.append((head, None))
        kind, _, draw = slot.partition(":")
        if kind == "N":
            pieces.append((_negative(draw, v.split, v), None))
            continue
        value = getattr(v, draw or kind)()
        pieces.append((value, kind))
    pieces.append((rest, None))
    return pieces


def _noisy(text: str, rng: random.Random) -> str:
    """ASR noise on the words around values: a filler, a repeated word."""
    words = text.split(" ")
    if len(words) > 3 and rng.random() < 0.25:
        k = rng.randrange(1, len(words))
        words.insert(k, rng.choice(FILLERS))
    if len(words) > 3 and rng.random() < 0.1:
        k = rng.randrange(len(words))
        if words[k]:
            words.insert(k, words[k])
    return " ".join(words)


def _format(piece: str, formatted: bool, is_value: bool, kind: str | None) -> str:
    if not formatted:
        return piece.lower()
    if is_value and kind == "PERSON":
        return " ".join(w.capitalize() if len(w) > 1 else w for w in piece.split(" "))
    return piece


def _line(split: str, kind: str, template: str, index: int, v: Values) -> Line:
    rng = v.rng
    formatted = rng.random() < 0.3
    exchange = "|" in template
    pieces = _fill(template, v)
    text_parts: list[str] = []
    entities: list[tuple[int, int, str]] = []
    pos = 0
    if not exchange and rng.random() < 0.5:
        lead = rng.choice(_ACKS)
        text_parts.append(lead)
        pos += len(lead)
    for piece, gold in pieces:
        if exchange and "|" in piece:
            piece = piece.replace("| ", "").replace("|", "")
            if rng.random() < 0.4:
                piece = piece.replace("caller: ", "caller: " + rng.choice(_ACKS[3:]))
        if gold is None:
            piece = _noisy(piece, rng) if piece.strip() else piece
            piece = _format(piece, formatted, False, None)
        else:
            piece = _format(piece, formatted, True, gold)
        if gold is not None:
            entities.append((pos, pos + len(piece), gold))
        text_parts.append(piece)
        pos += len(piece)
    tail = rng.choice(_TAILS)
    text = "".join(text_parts) + tail
    if formatted:
        text = text[0].upper() + text[1:] if text and not text.startswith(("agent", "caller")) else text
        text += "." if not text.endswith((".", "?")) else ""
    channel = "caller" if exchange or not template.startswith(("thanks", "okay", "just", "i'll", "we'll", "your")) else "agent"
    return Line(f"{split}-{index:05d}", split, channel, text, tuple(entities), f"{split}:{kind}:{template[:24]}")


def generate(split: str, n: int = 3000, seed: int = 20261129) -> list[Line]:
    """`n` lines of `split` ('tune' or 'held'), the same for the same seed."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    rng = random.Random(f"{seed}:{split}")
    values = Values(split, rng)
    families = [(kind, t) for kind, ts in TEMPLATES[split].items() for t in ts]
    negatives = [f for f in families if f[0] == "NONE"]
    positives = [f for f in families if f[0] != "NONE"]
    out: list[Line] = []
    for i in range(n):
        kind, template = rng.choice(negatives if rng.random() < 0.3 else positives)
        out.append(_line(split, kind, template, i, values))
    return out


def rows(split: str, n: int = 3000, seed: int = 20261129) -> list[dict[str, object]]:
    return [line.to_row() for line in generate(split, n, seed)]

