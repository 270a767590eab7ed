"""Redaction of JSON values (tool-call arguments and outputs), keeping the JSON valid.

A value under a sensitive key (`card_number`, `ssn`, `dob`, ...) is replaced whole by its
`[TYPE]` placeholder, whatever it looks like. Every other string (and integer) is redacted as
text, read with its key as context ("routing: 021000021"), so PII under innocent keys
(`notes`, `query`) is caught too. Keys, structure, booleans, nulls and floats are kept.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from recorder.errors import RedactionError
from recorder.redact.engine import redact_text

_KEYS: dict[str, str] = {}
for _type, _names in {
    "CREDIT_CARD": "card cardnumber creditcard creditcardnumber ccnumber cc pan cardno debitcard "
                   "cardnum paymentcard",
    "CVV": "cvv cvc cvv2 securitycode csc cardcode cardverificationvalue",
    "CARD_EXPIRY": "expiry expiration expirationdate exp expdate expirydate cardexpiry expmonth "
                   "expyear expirationmonth expirationyear",
    "SSN": "ssn socialsecurity socialsecuritynumber sin taxid ssnlast4 ssnlastfour",
    "DATE_OF_BIRTH": "dob dateofbirth birthdate birthday",
    "ROUTING_NUMBER": "routingnumber routing aba abanumber routingno",
    "BANK_ACCOUNT": "accountnumber bankaccount bankaccountnumber accountno acct acctnumber",
    "IBAN": "iban",
    "PASSPORT": "passport passportnumber passportno",
    "DRIVER_LICENSE": "driverslicense driverlicense dl licensenumber dlnumber driverslicensenumber",
    "EMAIL": "email emailaddress mail",
    "PHONE": "phone phonenumber mobile cell telephone tel callback callbacknumber mobilenumber",
    "ADDRESS": "address streetaddress address1 address2 street addressline1 addressline2 "
               "billingaddress shippingaddress homeaddress",
    "ZIP": "zip zipcode postalcode postcode",
    "PERSON": "name firstname lastname fullname givenname surname familyname customername "
              "cardholder cardholdername nameoncard middlename",
    "IP_ADDRESS": "ip ipaddress clientip",
}.items():
    for _name in _names.split():
        _KEYS[_name] = _type


def _key_type(key: str) -> str | None:
    return _KEYS.get(re.sub(r"[^a-z0-9]", "", key.lower()))


def _key_words(key: str) -> str:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", key)
    return re.sub(r"[^A-Za-z0-9]+", " ", spaced).strip().lower()


@dataclass(frozen=True, slots=True)
class JsonRedaction:
    """The redacted JSON (a str if a str came in) and the JSON pointers that were redacted."""

    value: Any
    paths: tuple[tuple[str, str], ...]

    def __repr__(self) -> str:
        return f"JsonRedaction(paths={len(self.paths)})"


def _scalar(value: Any, key: str, path: str, found: list[tuple[str, str]]) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    text = str(value)
    prefix = f"{_key_words(key)} is " if key else ""
    red = redact_text(prefix + text)
    spans = [s for s in red.spans if s.end > len(prefix)]
    if not spans:
        return value
    found.extend((path, s.type) for s in spans)
    if isinstance(value, int):
        return f"[{spans[0].type}]"
    parts, pos = [], 0
    for s in spans:
        start = max(0, s.start - len(prefix))
        parts.append(text[pos:start] + f"[{s.type}]")
        pos = s.end - len(prefix)
    return "".join(parts) + text[pos:]


def _walk(value: Any, key: str, path: str, forced: str | None, found: list[tuple[str, str]]) -> Any:
    if isinstance(value, dict):
        return {k: _walk(v, str(k), f"{path}/{k}", forced or _key_type(str(k)), found)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, key, f"{path}/{i}", forced, found) for i, v in enumerate(value)]
    if forced is not None and value is not None and not isinstance(value, bool) and str(value) != "":
        found.append((path, forced))
        return f"[{forced}]"
    return _scalar(value, key, path, found)


def redact_json(value: str | Any) -> JsonRedaction:
    """Redact a JSON document (str in → str out) or an already parsed value."""
    found: list[tuple[str, str]] = []
    if isinstance(value, (str, bytes)):
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            raise RedactionError(f"not valid JSON ({exc.__class__.__name__} at {getattr(exc, 'pos', '?')})") from exc
        out = _walk(parsed, "", "", None, found)
        return JsonRedaction(json.dumps(out, ensure_ascii=False), tuple(found))
    return JsonRedaction(_walk(value, "", "", None, found), tuple(found))


def redact_payload(text: str) -> str:
    """A tool-call argument or output as it may be stored: JSON stays valid JSON; anything
    else (models and clients do send malformed or plain-text payloads) is redacted as text."""
    try:
        return str(redact_json(text).value)
    except RedactionError:
        return redact_text(text).text
