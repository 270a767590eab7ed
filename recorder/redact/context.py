"""Context cues: what the words just before a value (or the other party's last question) say
the value is, and how a candidate value is classified under that context.

A cue is a phrase ("routing number", "date of birth", "ending in") with a type and a strength.
Cues said together before a value form a group; the strongest cue of the group names the value
("the expiration date on that card" → CARD_EXPIRY beats CREDIT_CARD). A group no value used by
the end of a turn carries to the next turn: the agent asks, the caller answers with bare digits.
Suppressing cues (order, tracking, confirmation, flight, ...) mark look-alike numbers as not PII.
"""

from __future__ import annotations

from dataclasses import dataclass

from recorder.redact.detect import luhn_ok

SUPPRESS = "SUPPRESS"
PARTIAL = "PARTIAL"

_SPECIFIC, _SUPP, _CARDISH, _GENERIC = 3, 2, 1.5, 1

_CUES: list[tuple[str, str, float]] = []


def _add(kind: str, strength: float, phrases: str) -> None:
    _CUES.extend((p.strip(), kind, strength) for p in phrases.split("|"))


_add("CREDIT_CARD", _CARDISH, "card|cards|credit|debit")
_add("CREDIT_CARD", 2.5, "card number|credit card|debit card|long number|visa|mastercard|amex|"
     "american express|discover card|card on file|number on the card|cc")
_add("CVV", _SPECIFIC, "security code|cvv|cvc|cvv2|csc|card code|three digit|3 digit|four digit|"
     "three digits|3 digits|code on the back|digits on the back|back of the card|verification value")
_add("CARD_EXPIRY", _SPECIFIC, "expiration|expiry|expires|expire|expired|exp|valid thru|"
     "valid through|good thru|good through|expiration date")
_add("SSN", _SPECIFIC, "social|social security|ssn|ss number|social security number|tax id|tin")
_add("ROUTING_NUMBER", _SPECIFIC, "routing|routing number|aba|transit number|sort code")
_add("BANK_ACCOUNT", _CARDISH, "account|acct|checking|savings")
_add("BANK_ACCOUNT", 2.5, "account number|checking account|savings account|bank account|"
     "account no|acct number")
_add("DATE_OF_BIRTH", _SPECIFIC, "date of birth|dob|d o b|born|birthday|birth date|birthdate")
_add("ZIP", _SPECIFIC, "zip|zip code|zipcode|postal code|postcode|post code")
_add("PHONE", _SPECIFIC, "phone|phone number|cell|cellphone|cell phone|mobile|callback|"
     "call back|call me|reach me|telephone|area code|contact number|landline|home number|"
     "work number|text me|fax")
_add("PHONE", _GENERIC, "number|numbers")
_add("PASSPORT", _SPECIFIC, "passport|passport number")
_add("DRIVER_LICENSE", _SPECIFIC, "driver's license|drivers license|driver license|"
     "driver's licence|drivers licence|driving licence|driving license|license|licence|d l")
_add("IBAN", _SPECIFIC, "iban|international bank account")
_add("IBAN", _CARDISH, "wire|swift|bic")
_add("PERSON", _SPECIFIC, "name|names|first name|last name|full name|surname|spell|spelled|"
     "spelling|spells|cardholder|name on the card|as it appears|speaking with|speaking to|who am i|"
     "who's calling|who is calling")
_add("EMAIL", _SPECIFIC, "email|e-mail|email address|e mail")
_add(SUPPRESS, _SUPP, "order|orders|tracking|confirmation|reference|ref|ticket|transaction|"
     "invoice|case number|claim|flight|model|version|step|receipt|promo|coupon|discount|serial|sku|"
     "item|items|product|units|how many|quantity|room|gate|seat|booking|reservation|pnr|rma|"
     "shipment|package|parcel|delivery|consignment|waybill|extension|ext|page|chapter|episode|aisle|store number|part number|"
     "voucher|gift card|error|error code|"
     "confirmation code|promo code|access code|tracking code|reference code|discount code")
_add(PARTIAL, 0, "ending in|ends in|ending with|ends with|last four|last 4|last four digits|"
     "last 4 digits|last digits|last three|last 3|last two|ending")
_add("NUMBER", _SPECIFIC, "pin|pin number|passcode|password|security pin|access pin")
_add("CVV", _GENERIC, "code")  # a bare "code" is a CVV only once a card has come up

CUE_INDEX: dict[str, list[tuple[tuple[str, ...], str, float]]] = {}
for _phrase, _kind, _strength in _CUES:
    words = tuple(_phrase.split())
    CUE_INDEX.setdefault(words[0], []).append((words, _kind, _strength))
for _entries in CUE_INDEX.values():
    _entries.sort(key=lambda e: -len(e[0]))

# Words that say a short number is a quantity, money or a time, never an identifier.
QUANTITY_WORDS = frozenset(
    "dollars dollar bucks cents percent units unit items item minutes minute seconds second "
    "hours hour days day weeks week months month years year times people boxes cases pounds "
    "miles feet gb mb tb am pm o'clock grand k euros euro gallons inches kg lbs points".split()
)


@dataclass(frozen=True, slots=True)
class Cue:
    """A cue phrase at tokens [first, last]."""

    first: int
    last: int
    kind: str
    strength: float


@dataclass(slots=True)
class Group:
    """Cues said together before a value; `used` once a value has taken its type."""

    kinds: dict[str, float]
    partial: bool = False
    used: bool = False
    last: int = -1

    def best(self, card_seen: bool) -> str | None:
        """The strongest cue type of the group (a bare 'code' needs a card mentioned before)."""
        ranked = sorted(self.kinds.items(), key=lambda kv: -kv[1])
        for kind, strength in ranked:
            if kind == "CVV" and strength == _GENERIC and not card_seen and "CREDIT_CARD" not in self.kinds:
                continue
            return kind
        return None


_YEARS = ("19", "20")


_SPLITTABLE = frozenset("CREDIT_CARD SSN ROUTING_NUMBER BANK_ACCOUNT PHONE IBAN PASSPORT "
                       "DRIVER_LICENSE ZIP NUMBER CVV".split())


def classify_digits(
    digits: str, ctx: str | None, partial: bool, strong: bool, split: bool = False
) -> str | None:
    """The type of a digit run under context `ctx`, or None when it is not PII.

    `strong` says the context came from a specific cue (not the generic 'number'); `split`
    that a hesitation filler cut the run, so a short piece of a sensitive number is redacted.
    """
    n = len(digits)
    if split and ctx in _SPLITTABLE and (strong or ctx != "PHONE"):
        return ctx
    card_like = 13 <= n <= 19 and luhn_ok(digits)
    if ctx == SUPPRESS:
        return "CREDIT_CARD" if card_like and n in (15, 16) and digits[0] in "3456" else None
    if ctx is not None:
        fits = {
            "CREDIT_CARD": n >= 4,
            "CVV": 3 <= n <= 4 or (strong and n == 2),
            "CARD_EXPIRY": 3 <= n <= 6,
            "SSN": n >= 4,
            "ROUTING_NUMBER": n >= 4,
            "BANK_ACCOUNT": n >= 4,
            "PHONE": not card_like and n <= 15 and (n >= 7 or (partial and n >= 4) or (strong and n >= 3)),
            "ZIP": 3 <= n <= 9,
            "DATE_OF_BIRTH": 3 <= n <= 8,
            "PASSPORT": n >= 5,
            "DRIVER_LICENSE": n >= 4,
            "IBAN": n >= 8,
            "NUMBER": n >= 3,
        }.get(ctx, False)
        if fits:
            if ctx == "IBAN" and n < 15:
                return "BANK_ACCOUNT"
            return ctx
    if card_like:
        return "CREDIT_CARD"
    if n == 10 or (n == 11 and digits[0] == "1"):
        return "PHONE"
    if n >= 7 or (partial and n >= 3):
        return "NUMBER"
    return None


def is_year(digits: str) -> bool:
    return len(digits) == 4 and digits[:2] in _YEARS
