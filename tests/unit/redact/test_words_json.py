"""Word-timed and JSON interfaces."""

from __future__ import annotations

import json

import pytest

from recorder.errors import RedactionError
from recorder.redact import Word, redact_json, redact_words


def _words(channel: str, text: str, t0: int) -> list[Word]:
    return [Word(w, t0 + 400 * i, t0 + 400 * i + 300, channel) for i, w in enumerate(text.split())]


def test_redact_words_gives_placeholders_and_ms_spans_per_channel() -> None:
    words = _words("agent", "what's the card number", 0) + _words(
        "caller", "it's four one one one one one one one one one one one one one one one thanks", 2000)
    out = redact_words(words)
    assert [w.text for w in out.words][-3:] == ["it's", "[CREDIT_CARD]", "thanks"]
    (span,) = out.spans
    assert (span.channel, span.type) == ("caller", "CREDIT_CARD")
    assert span.start_ms == 2400 and span.end_ms == 2000 + 400 * 16 + 300
    assert "one" not in repr(out) and "four" not in repr(out.words[0])


def test_redact_words_keeps_clean_words() -> None:
    words = _words("caller", "my order arrived broken", 0)
    assert redact_words(words).words == tuple(words)


def test_redact_json_by_key_and_value_stays_valid() -> None:
    doc = json.dumps({"card_number": "4111111111111111", "cardholderName": "Ann Lee",
                      "notes": "call me at 415 555 0134", "amount": 12.5, "ok": True,
                      "qty": 3, "items": [{"sku": "A1"}], "address": {"line1": "1 Main St"}})
    out = redact_json(doc)
    back = json.loads(out.value)
    assert back["card_number"] == "[CREDIT_CARD]" and back["cardholderName"] == "[PERSON]"
    assert back["notes"] == "call me at [PHONE]" and back["amount"] == 12.5 and back["ok"] is True
    assert back["qty"] == 3 and back["items"] == [{"sku": "A1"}]
    assert back["address"] == {"line1": "[ADDRESS]"}
    assert ("/card_number", "CREDIT_CARD") in out.paths and "4111" not in repr(out)


def test_redact_json_parsed_value_and_invalid_json() -> None:
    assert redact_json({"ssn": 123456789}).value == {"ssn": "[SSN]"}
    with pytest.raises(RedactionError):
        redact_json("{not json")


def test_iso_dates_in_tool_payloads_are_dates_not_numbers() -> None:
    from recorder.redact import redact_payload

    out = json.loads(redact_payload('{"status": "shipped", "eta": "2026-09-14", "dob": "1985-03-12"}'))
    assert out == {"status": "shipped", "eta": "2026-09-14", "dob": "[DATE_OF_BIRTH]"}
    assert redact_payload("not json: card 4111 1111 1111 1111") == "not json: card [CREDIT_CARD]"


def test_crosstalk_does_not_split_a_card_number() -> None:
    """The agent's 'mhm' in the middle of the caller's digits must not leave any digit behind."""
    digits = "four one one one one one one one one one one one one one one one".split()
    words = [Word(d, 1000 + 400 * i, 1300 + 400 * i, "caller") for i, d in enumerate(digits)]
    words.insert(6, Word("mhm", 3300, 3500, "agent"))
    words.insert(13, Word("okay", 6100, 6300, "agent"))
    words.sort(key=lambda w: w.start_ms)
    out = redact_words([Word("what", 0, 200, "agent"), Word("is", 220, 400, "agent"),
                        Word("the", 420, 600, "agent"), Word("card", 620, 800, "agent"),
                        Word("number", 820, 990, "agent"), *words])
    caller = [w.text for w in out.words if w.channel == "caller"]
    assert caller == ["[CREDIT_CARD]"]
    assert [w.text for w in out.words if w.channel == "agent"][-2:] == ["mhm", "okay"]
    (span,) = [s for s in out.spans if s.channel == "caller"]
    assert (span.start_ms, span.end_ms) == (1000, 1300 + 400 * 15)
