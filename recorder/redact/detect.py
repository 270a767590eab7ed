"""Checksums and detectors of written forms (what a formatted transcript or a tool output holds).

Written detections run first on the raw text; the tokens they cover are then claimed so that the
spoken-form detectors do not read them a second time. Some written forms are claimed only to be
ignored: money ("$1,345"), clock times ("6:30") and version strings ("4.18.3.5904") look like
digit runs but are never PII.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

import phonenumbers

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_SSN = re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d]|-\d)")
_NANP = re.compile(
    r"(?<![\d\w-])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?!\d|[\s.-]\d)"
)
_INTL = re.compile(r"(?<![\w+])\+\d[\d\s().-]{6,18}\d(?!\d)")
_IBAN = re.compile(r"\b[A-Za-z]{2}\d{2}(?:[ ]?[A-Za-z0-9]{4}){2,7}(?:[ ]?[A-Za-z0-9]{1,3})?\b")
_MONEY = re.compile(
    r"[$€£]\s?\d[\d,]*(?:\.\d+)?(?:\s?[kKmM]\b)?"
    r"|\b\d[\d,]*(?:\.\d+)?\s?(?:dollars?|bucks|cents|usd|eur|euros?|pounds?)\b",
    re.IGNORECASE,
)
_TIME = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?(?:\s?[ap]\.?m\.?)?", re.IGNORECASE)
_VERSION = re.compile(r"\b[vV]?\d+(?:\.\d+)+\b")
_SLASH_DATE = re.compile(
    r"(?<![\d/.])\d{1,2}/\d{1,2}(?:/\d{2,4})?(?![\d/])|(?<![\d.])\d{1,2}\.\d{1,2}\.\d{2,4}(?![\d.])"
    r"|(?<![\d-])(?:19|20)\d{2}-(?:0?[1-9]|1[0-2])-(?:0?[1-9]|[12]\d|3[01])(?![\d-])"  # ISO 8601
)
_VERSION_CUE = re.compile(r"(?i)\b(?:version|firmware|build|release|update|v)\b\W*(?:\w+\W+){0,2}$")
_DOT_DATE = re.compile(r"\d{1,2}\.\d{1,2}\.\d{2,4}")


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check every payment card number passes."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def aba_ok(digits: str) -> bool:
    """The ABA routing number check: 3-7-1 weighted digit sum divisible by 10."""
    if len(digits) != 9 or not digits.isdigit():
        return False
    d = [int(c) for c in digits]
    return (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + d[2] + d[5] + d[8]) % 10 == 0


def iban_ok(value: str) -> bool:
    """ISO 13616 IBAN check: country letters, check digits, and mod-97 of the rearrangement."""
    s = value.replace(" ", "").upper()
    if not 15 <= len(s) <= 34 or not s[:2].isalpha() or not s[2:4].isdigit() or not s.isalnum():
        return False
    rearranged = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


@dataclass(frozen=True, slots=True)
class Found:
    """A written detection: characters [start, end) and a type, or None for 'claim, not PII'."""

    start: int
    end: int
    type: str | None


def _ip_ok(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _intl_phone_ok(text: str) -> bool:
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_possible_number(number)


def _iban_match(m: re.Match[str]) -> Found | None:
    """Longest prefix of the match (by whole groups) that passes mod-97."""
    text = m.group()
    pieces = text.split(" ")
    for k in range(len(pieces), 1, -1):
        candidate = " ".join(pieces[:k])
        if iban_ok(candidate):
            return Found(m.start(), m.start() + len(candidate), "IBAN")
    return None


def written(text: str) -> list[Found]:
    """Written PII and written non-PII look-alikes, without overlaps, in text order."""
    found: list[Found] = []
    taken: list[tuple[int, int]] = []

    def add(start: int, end: int, kind: str | None) -> None:
        if any(start < e and s < end for s, e in taken):
            return
        taken.append((start, end))
        found.append(Found(start, end, kind))

    has_at = "@" in text
    has_digit = any(c.isdigit() for c in text)
    if has_at:
        for m in _EMAIL.finditer(text):
            add(m.start(), m.end(), "EMAIL")
    if not has_digit and ":" not in text:
        return found
    if "." in text:
        for m in _IPV4.finditer(text):
            if _ip_ok(m.group()) and not _VERSION_CUE.search(text, max(0, m.start() - 24), m.start()):
                add(m.start(), m.end(), "IP_ADDRESS")
    if text.count(":") >= 2:
        for m in _IPV6.finditer(text):
            if m.group().count(":") >= 2 and _ip_ok(m.group()):
                add(m.start(), m.end(), "IP_ADDRESS")
    if not has_digit:
        return found
    for m in _SSN.finditer(text):
        add(m.start(), m.end(), "SSN")
    for m in _NANP.finditer(text):
        add(m.start(), m.end(), "PHONE")
    if "+" in text:
        for m in _INTL.finditer(text):
            if _intl_phone_ok(m.group()):
                add(m.start(), m.end(), "PHONE")
    for m in _IBAN.finditer(text):
        hit = _iban_match(m)
        if hit is not None:
            add(hit.start, hit.end, hit.type)
    for pattern in (_MONEY, _TIME, _VERSION):
        for m in pattern.finditer(text):
            if pattern is _VERSION and _DOT_DATE.fullmatch(m.group()):
                continue
            add(m.start(), m.end(), None)
    found.sort(key=lambda f: f.start)
    return found


def slash_dates(text: str) -> list[tuple[int, int]]:
    """'12/10/45', '4/27', '2026-09-14': dates or expiry dates, PII only when context says so."""
    if "/" not in text and "." not in text and "-" not in text:
        return []
    return [(m.start(), m.end()) for m in _SLASH_DATE.finditer(text)]
