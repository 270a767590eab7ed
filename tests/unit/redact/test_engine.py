"""Unit tests of the engine: spoken forms, checksums, each detector, traps and context."""

from __future__ import annotations

import pytest

from recorder.redact import Turn, redact_conversation, redact_text
from recorder.redact.detect import aba_ok, iban_ok, luhn_ok
from recorder.redact.spoken import number_runs, tokenize


def _digits(text: str) -> list[str]:
    toks = tokenize(text)
    return [r.digits for r in number_runs(toks, [False] * len(toks))]


@pytest.mark.parametrize("text, digits", [
    ("five two two four, one six eight eight", ["52241688"]),
    ("double seven oh eight", ["7708"]),
    ("triple seven", ["777"]),
    ("nineteen eighty five", ["1985"]),
    ("carlosb eighty one", ["81"]),
    ("twelve hundred", ["1200"]),
    ("one hundred forty seven", ["147"]),
    ("5239-0621-7051-7991", ["5239062170517991"]),
    ("four one uh five nine", ["4159"]),  # a filler inside a number belongs to it
    ("four one five sorry i mean four one six", ["415416"]),  # so does a self-correction
    ("three-nine-one, five-oh", ["39150"]),
    ("forty two seventeen, sixty-one oh eight", ["42176108"]),
    ("four hundred twelve", ["412"]),
    ("four won to ate six", ["41286"]),  # STT homophones between digit words
    ("press one for billing", ["1"]),  # ... but not next to an ordinary word
    ("oh I see", []),  # a lone 'oh' is not a zero
])
def test_spoken_digit_runs(text: str, digits: list[str]) -> None:
    assert _digits(text) == digits


def test_checksums_known_vectors() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert aba_ok("021000021") and aba_ok("011000015") and not aba_ok("021000022")
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and iban_ok("DE89370400440532013000")
    assert not iban_ok("GB82 WEST 1234 5698 7654 33")


def _types(text: str) -> list[tuple[str, str]]:
    red = redact_text(text)
    return [(text[s.start:s.end], s.type) for s in red.spans]


@pytest.mark.parametrize("text, expected", [
    ("my visa is four four one two, three three four five, six six seven eight, nine nine one two",
     [("four four one two, three three four five, six six seven eight, nine nine one two", "CREDIT_CARD")]),
    ("you can call me back on four one five, five five five, oh one three four",
     [("four one five, five five five, oh one three four", "PHONE")]),
    ("call me at +44 20 7946 0958", [("+44 20 7946 0958", "PHONE")]),
    ("it's mary dot jones at company dot org", [("mary dot jones at company dot org", "EMAIL")]),
    ("I was born on the fourth of july nineteen seventy six",
     [("fourth of july nineteen seventy six", "DATE_OF_BIRTH")]),
    ("routing is zero two one zero zero zero zero two one and the account is 12345678",
     [("zero two one zero zero zero zero two one", "ROUTING_NUMBER"), ("12345678", "BANK_ACCOUNT")]),
    ("i live at 221 baker street apartment 4b springfield illinois 62704",
     [("221 baker street apartment 4b springfield illinois", "ADDRESS"), ("62704", "ZIP")]),
    ("passport number is x one two three four five six seven",
     [("x one two three four five six seven", "PASSPORT")]),
    ("The IBAN is GB82 WEST 1234 5698 7654 32.", [("GB82 WEST 1234 5698 7654 32", "IBAN")]),
    ("the ip is one ninety two dot one sixty eight dot one dot one",
     [("one ninety two dot one sixty eight dot one dot one", "IP_ADDRESS")]),
    ("hi this is kevin from accounting", [("kevin", "PERSON")]),
    ("last name is o'brien spelled o b r i e n", [("o'brien", "PERSON"), ("o b r i e n", "PERSON")]),
    ("the card is five five uh five five one two three four five six seven eight nine zero one",
     [("five five uh five five one two three four five six seven eight nine zero one", "CREDIT_CARD")]),
    ("the one ending in 4421", [("4421", "NUMBER")]),
])
def test_detects(text: str, expected: list[tuple[str, str]]) -> None:
    assert _types(text) == expected


@pytest.mark.parametrize("text", [
    "my order number is 1 2 3 4 5 6 7 8 9 0",
    "your confirmation number is two three four five six seven eight nine",
    "i called on march fifth about the 3 items",
    "we spent 4500 dollars on that in 2021",
    "flight 2245 departs at 7:45 pm from gate 22",
    "press 1 for billing or 2 for support",
    "the tracking number is 9400 1375 7732 9422 9406 89",
    "It should say 4.18.3.5904.",
    "this is ridiculous, i want a refund",
    "Hi, this is Best Buy customer service.",
    "the price is twelve ninety nine",
    "my card keeps getting declined",
])
def test_traps_are_left_alone(text: str) -> None:
    red = redact_text(text)
    assert red.spans == () and red.text == text


def test_context_carries_from_question_to_bare_answer() -> None:
    turns = [Turn("agent", "and the code on the back of the card?"), Turn("caller", "um three one four"),
             Turn("agent", "what's your date of birth"), Turn("caller", "june ninth eighty two"),
             Turn("agent", "how many did you order"), Turn("caller", "three hundred twelve")]
    out = [r.text for r in redact_conversation(turns)]
    assert out[1] == "um [CVV]" and out[3] == "[DATE_OF_BIRTH]" and out[5] == "three hundred twelve"
    # the same answer without the question is not PII
    assert redact_text("june ninth eighty two").spans == ()


def test_speaker_labels_inside_a_line_are_turns() -> None:
    red = redact_text("agent: what's the expiration date on that card? caller: 03/30")
    assert red.text == "agent: what's the expiration date on that card? caller: [CARD_EXPIRY]"


def test_spans_hold_no_value_and_repr_hides_text() -> None:
    red = redact_text("my ssn is 123-45-6789")
    assert red.spans[0].to_dict() == {"start": 10, "end": 21, "type": "SSN"}
    assert "6789" not in repr(red) and "6789" not in repr(red.spans)
