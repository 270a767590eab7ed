"""Slot-aware redaction under both policies, names without cues, addresses, spelled e-mails."""

from __future__ import annotations

import pytest

from recorder.errors import RedactionError
from recorder.redact import Turn, Word, redact_conversation, redact_text, redact_words


def _kept(text: str, policy: str = "strict") -> str:
    return redact_text(text, policy=policy).text


def test_strict_redacts_a_whole_answer_balanced_only_the_values_in_it() -> None:
    text = "agent: what's your date of birth caller: the fourth after the holidays in eighty two thanks"
    assert _kept(text) == "agent: what's your date of birth caller: the [DATE_OF_BIRTH] thanks"
    assert _kept(text, "balanced") == text  # nothing a detector reads as a date


def test_an_answer_with_no_value_in_it_is_left_alone() -> None:
    text = "agent: what's the card number caller: hold on let me grab my wallet"
    assert _kept(text) == text


def test_the_question_must_come_from_the_other_party() -> None:
    turns = [Turn("agent", "what's the card number"), Turn("agent", "whenever you're ready uh take your time")]
    assert [r.text for r in redact_conversation(turns)][1] == "whenever you're ready uh take your time"


def test_redact_words_takes_the_policy_and_an_unknown_one_is_an_error() -> None:
    words = [Word(w, 400 * i, 400 * i + 300, "agent") for i, w in enumerate("what's your passport number".split())]
    words += [Word(w, 3000 + 400 * i, 3300 + 400 * i, "caller") for i, w in
              enumerate("it's echo forty six seventy fifteen".split())]
    strict = redact_words(words)
    assert [w.text for w in strict.words if w.channel == "caller"] == ["it's", "[PASSPORT]"]
    with pytest.raises(RedactionError, match="strict, balanced"):
        redact_words(words, policy="lenient")


@pytest.mark.parametrize("text, name", [
    ("okay grace let me check that for you", "grace"),           # ambiguous word as a vocative
    ("this is baker", "baker"),                                  # ambiguous surname after 'this is'
    ("i'm calling for my mother adaeze okonkwo", "adaeze okonkwo"),  # in no list at all
    ("can you put me through to kowalczyk please", "kowalczyk"),
    ("thanks nguyen i've pulled up your account", "nguyen"),      # a census surname, no cue needed
    ("king said you would call me back", "king"),                # subject of a verb of saying
])
def test_names_without_introduction(text: str, name: str) -> None:
    red = redact_text(text)
    assert [(text[s.start:s.end], s.type) for s in red.spans] == [(name, "PERSON")]


@pytest.mark.parametrize("text", [
    "mark it as resolved please", "may i ask what this is about", "the king size bed was missing",
    "i'll grace you with my presence", "it's the roku ultra model", "flight 2245 departs at noon",
    "not json: card declined", "i already called amazon about this", "the bill said twenty dollars",
    "i ordered a box of them",
])
def test_ordinary_words_that_are_also_names_stay(text: str) -> None:
    assert redact_text(text).spans == ()


@pytest.mark.parametrize("text, address", [
    ("my address is flat 3b, 27 primrose lane, exeter", "flat 3b, 27 primrose lane, exeter"),
    ("send it to p o box four four one two, truro thanks", "p o box four four one two, truro"),
    ("we're at nineteen oh four north cedar ridge road", "nineteen oh four north cedar ridge road"),
    ("it's 12 saint giles, oxford", "12 saint giles, oxford"),
    ("lot 14 old mill run", "lot 14 old mill run"),
    ("ship it to hauptstrasse 12, berlin", "hauptstrasse 12, berlin"),
    ("i live at 14 rue des lilas, paris", "14 rue des lilas, paris"),
    ("it's 9 saint giles unit 4 thanks", "9 saint giles unit 4"),
    ("lot 7 foxglove bend halifax thanks", "lot 7 foxglove bend halifax"),
])
def test_addresses_beyond_the_us_street_suffix(text: str, address: str) -> None:
    red = redact_text(text)
    assert [(text[s.start:s.end], s.type) for s in red.spans] == [(address, "ADDRESS")]


@pytest.mark.parametrize("text", [
    "my email is me at gmail dot com", "aa dot be at gmail dot com",  # the leak the properties found
    "j o h n at protonmail dot com", "it's okonkwo forty-two at mail dot ru",
    "a dot b dot kowalczyk at sign web dot de",
])
def test_spelled_and_short_emails(text: str) -> None:
    red = redact_text(text)
    assert red.spans and all(s.type == "EMAIL" for s in red.spans)
    assert not any(c.isalnum() for c in red.text.replace("[EMAIL]", "").replace("my email is", "")
                   .replace("it's", ""))


@pytest.mark.parametrize("text, kind", [
    ("valid thru four/twenty-nine", "CARD_EXPIRY"), ("exp oh three, thirty", "CARD_EXPIRY"),
    ("the security code is thirty one forty one", "CVV"),
    ("my social is one two three dash four five dash six seven eight nine", "SSN"),
    ("my iban is delta echo eight nine three seven oh four oh oh four four oh five three two oh one three oh "
     "oh oh", "IBAN"),
    ("postcode s w one a one a a", "ZIP"),
])
def test_forms_that_leaked(text: str, kind: str) -> None:
    red = redact_text(text)
    assert [s.type for s in red.spans] == [kind]
    assert red.spans[0].end == len(text)
