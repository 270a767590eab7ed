"""Pulse request building and response parsing against the shapes of reference/pulse-stt.md."""

from __future__ import annotations

import json

import pytest

from recorder.errors import RecorderError, UpstreamError
from recorder.pulse.errors import (
    PulseAuthError,
    PulsePayloadTooLarge,
    PulseRateLimited,
    PulseRejected,
    PulseRetryable,
    PulseUnavailable,
)
from recorder.pulse.wire import (
    PulseOptions,
    PulseWord,
    Transcription,
    build_request,
    error_message,
    merge_transcriptions,
    parse_response,
    retry_after_s,
)

KEY = "sk_live_Pq9rT5vW1xY3zA7b"

# §6.2, Pulse Pro with word_timestamps=true
PRO = {
    "status": "success",
    "transcription": "Hi, can you check my order?",
    "words": [
        {"word": "Hi,", "start": 0.32, "end": 0.58, "confidence": 0.993},
        {"word": "can", "start": 0.66, "end": 0.8, "confidence": 0.981},
        {"word": "you", "start": 0.8, "end": 0.9, "confidence": 0.99},
        {"word": "check", "start": 0.9, "end": 1.16, "confidence": 0.987},
        {"word": "my", "start": 1.16, "end": 1.28, "confidence": 0.975},
        {"word": "order?", "start": 1.28, "end": 1.7, "confidence": 0.962},
    ],
    "language": "en",
    "metadata": {"duration": 2.1, "processing_time_ms": 41.7, "rtfx": 50.4, "num_chunks": 1},
    "totalBytes": 67244,
    "request_id": "0b8f3c52-94d4-4a51-8e0e-2f6f0c1d7a39",
}
# §6.2, Pulse without flags
PULSE_PLAIN = {
    "status": "success",
    "transcription": "Hi, can you check my order?",
    "words": [],
    "utterances": [],
    "metadata": {"duration": 2.1, "fileSize": 67244},
}
# §6.2, Pulse with diarize
PULSE_DIARIZED = {
    "status": "success",
    "transcription": "Hi, can you check my order?",
    "words": [
        {"word": "Hi,", "start": 0.32, "end": 0.58, "confidence": 0.99, "speaker": 0,
         "speaker_confidence": 1.0},
        {"word": "can", "start": 0.66, "end": 0.8, "confidence": 0.97, "speaker": "speaker_0"},
    ],
    "utterances": [
        {"text": "Hi, can you check my order?", "start": 0.32, "end": 1.7, "speaker": 0}
    ],
    "metadata": {"duration": 2.1, "fileSize": 67244},
}


def body(doc: object) -> bytes:
    return json.dumps(doc).encode()


def test_build_request_is_the_recommended_request() -> None:
    params, headers = build_request(PulseOptions(), api_key=KEY)
    assert params == {"model": "pulse-pro", "language": "en", "word_timestamps": "true"}
    assert headers["Authorization"] == f"Bearer {KEY}"
    assert headers["Content-Type"] == "application/octet-stream"
    assert "x-expire-content" not in headers


def test_build_request_options() -> None:
    options = PulseOptions(model="pulse", language="hi", word_timestamps=False, expire_content=True)
    params, headers = build_request(options, api_key=KEY)
    assert params == {"model": "pulse", "language": "hi", "word_timestamps": "false"}
    assert headers["x-expire-content"] == "true"


def test_pulse_pro_response_words_in_ms() -> None:
    t = parse_response(200, {}, body(PRO), model="pulse-pro")
    assert t.text == "Hi, can you check my order?"
    assert [w.text for w in t.words] == ["Hi,", "can", "you", "check", "my", "order?"]
    assert (t.words[0].start_ms, t.words[0].end_ms) == (320.0, 580.0)
    assert (t.words[-1].start_ms, t.words[-1].end_ms) == (1280.0, 1700.0)
    assert t.words[0].confidence == pytest.approx(0.993)
    assert t.request_id == PRO["request_id"]
    assert t.request_ids == (PRO["request_id"],)
    assert t.duration_s == pytest.approx(2.1)
    assert t.language == "en"
    assert t.model == "pulse-pro"


def test_seconds_to_ms_has_no_float_noise() -> None:
    doc = {"status": "success", "transcription": "x",
           "words": [{"word": "Hi,", "start": 3.3, "end": 4.12, "confidence": 1}]}
    (word,) = parse_response(200, {}, body(doc)).words
    assert (word.start_ms, word.end_ms) == (3300.0, 4120.0)


def test_pulse_without_word_timestamps() -> None:
    t = parse_response(200, {}, body(PULSE_PLAIN), model="pulse")
    assert t.words == ()
    assert t.request_id is None and t.request_ids == ()
    assert t.duration_s == pytest.approx(2.1)


def test_pulse_diarized_speaker_int_or_string() -> None:
    t = parse_response(200, {}, body(PULSE_DIARIZED), model="pulse")
    assert [w.speaker for w in t.words] == [0, "speaker_0"]


def test_defensive_parsing_of_odd_words() -> None:
    doc = {
        "transcription": "",
        "words": [
            {"word": "ok", "start": "1.5", "end": 2},
            {"word": "no-times"},
            "junk",
            {"start": 1, "end": 2},
            {"word": "back", "start": 3, "end": 2.5},
        ],
        "audio_length": 4.0,
    }
    t = parse_response(200, {"X-Request-Id": "hdr-1"}, body(doc))
    assert [(w.text, w.start_ms, w.end_ms) for w in t.words] == [
        ("ok", 1500.0, 2000.0), ("back", 3000.0, 3000.0)]
    assert t.words[0].confidence is None
    assert t.duration_s == 4.0
    assert t.request_id == "hdr-1"  # falls back to the x-request-id header


def test_missing_words_and_metadata_is_fine() -> None:
    t = parse_response(200, {}, body({"status": "success", "transcription": ""}))
    assert t.text == "" and t.words == () and t.duration_s is None


def test_repr_never_shows_words() -> None:
    t = parse_response(200, {}, body(PRO))
    assert "order" not in repr(t) and "Hi," not in repr(t)
    assert "check" not in repr(t.words[3])
    assert "words=6" in repr(t)


def test_non_json_200_is_transient() -> None:
    with pytest.raises(PulseUnavailable) as err:
        parse_response(200, {}, b"<html>gateway</html>")
    assert err.value.status == 200


def test_processing_without_webhook_is_rejected() -> None:
    with pytest.raises(PulseRejected):
        parse_response(200, {}, body({"status": "processing", "request_id": "r"}))


# -- errors: §8.1 (unified endpoint) ---------------------------------------------------------


def test_400_unified_body() -> None:
    doc = {"error": "Missing required query param: model. Supported values: pulse | pulse-pro.",
           "request_id": "req-400", "details": [{"field": "model"}]}
    with pytest.raises(PulseRejected) as err:
        parse_response(400, {}, body(doc))
    assert type(err.value) is PulseRejected
    assert err.value.status == 400
    assert err.value.message.startswith("Missing required query param: model")
    assert err.value.request_id == "req-400"
    assert not isinstance(err.value, UpstreamError)


def test_413_unified_body() -> None:
    with pytest.raises(PulsePayloadTooLarge) as err:
        parse_response(413, {}, body({"error": "File size exceeds maximum limit of 250MB."}))
    assert err.value.status == 413
    assert "250MB" in str(err.value)


def test_429_with_retry_after() -> None:
    doc = {"error": "Rate limit exceeded. Please retry after a short backoff."}
    with pytest.raises(PulseRateLimited) as err:
        parse_response(429, {"Retry-After": "7"}, body(doc))
    assert err.value.retry_after_s == 7.0
    assert isinstance(err.value, PulseRetryable) and isinstance(err.value, UpstreamError)


def test_429_without_retry_after() -> None:
    with pytest.raises(PulseRateLimited) as err:
        parse_response(429, {}, b"")
    assert err.value.retry_after_s is None


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_transient_statuses(status: int) -> None:
    with pytest.raises(PulseUnavailable) as err:
        parse_response(status, {"x-request-id": "abc"}, body({"error": "Internal server error"}))
    assert err.value.status == status
    assert err.value.request_id == "abc"
    assert "Internal server error" in str(err.value)


@pytest.mark.parametrize("status", [401, 403])
def test_auth_statuses(status: int) -> None:
    with pytest.raises(PulseAuthError) as err:
        parse_response(status, {}, body({"error": "unauthorized"}))
    assert err.value.status == status
    assert not isinstance(err.value, (PulseRetryable, PulseRejected))
    assert isinstance(err.value, RecorderError)


@pytest.mark.parametrize("status", [404, 405, 409, 415, 422, 302])
def test_other_statuses_are_permanent(status: int) -> None:
    with pytest.raises(PulseRejected) as err:
        parse_response(status, {}, b"")
    assert type(err.value) is PulseRejected


# -- errors: §8.2 (legacy endpoint and gateway shapes) ----------------------------------------


def test_legacy_400_validation_reads_errors_first() -> None:
    doc = {"errors": "Invalid file format. Supported formats: audio/*", "status": "error",
           "message": "Error handling audio data"}
    with pytest.raises(PulseRejected) as err:
        parse_response(400, {}, body(doc))
    assert err.value.message == "Invalid file format. Supported formats: audio/*"


def test_legacy_400_oversize_is_payload_too_large() -> None:
    doc = {"errors": "Audio data too large", "status": "error",
           "message": "Error handling audio data"}
    with pytest.raises(PulsePayloadTooLarge):
        parse_response(400, {}, body(doc))


def test_legacy_400_region() -> None:
    doc = {"status": "error", "error_code": "LANGUAGE_NOT_ENABLED_IN_REGION",
           "message": "Language not enabled", "language": "ta", "region": "us"}
    with pytest.raises(PulseRejected) as err:
        parse_response(400, {}, body(doc))
    assert err.value.message == "Language not enabled"  # message comes before error_code


def test_legacy_401_shapes() -> None:
    with pytest.raises(PulseAuthError) as err:
        parse_response(401, {}, body({"message": "Unauthorized: No tokens provided"}))
    assert "No tokens provided" in str(err.value)
    with pytest.raises(PulseAuthError) as err2:
        parse_response(401, {}, body({"error": "unauthorized"}))
    assert "unauthorized" in str(err2.value)


def test_legacy_500() -> None:
    with pytest.raises(PulseUnavailable) as err:
        parse_response(500, {}, body({"error": "Internal server error"}))
    assert err.value.reason == "Internal server error"


def test_error_code_alone_and_structured_values() -> None:
    assert error_message(body({"error_code": "QUOTA"})) == "QUOTA"
    assert error_message(body({"error": {"code": 7}})) == '{"code": 7}'
    assert error_message(b"plain text\nfailure") == "plain text failure"
    assert error_message(b"") == ""


def test_error_text_is_scrubbed_and_bounded() -> None:
    echo = {"error": f"bad key {KEY} in Authorization: Bearer {KEY}" + "x" * 1000}
    with pytest.raises(PulseAuthError) as err:
        parse_response(401, {}, body(echo), secrets=(KEY,))
    assert KEY not in str(err.value) and KEY not in repr(err.value)
    assert len(err.value.message) <= 300


# -- Retry-After family (§9) ------------------------------------------------------------------


def test_retry_after_precedence() -> None:
    now = 1_800_000_000.0
    all_three = {"retry-after-ms": "1500", "Retry-After": "9", "X-RateLimit-Reset": str(now + 20)}
    assert retry_after_s(all_three, now_epoch_s=now) == 1.5
    assert retry_after_s({"Retry-After": "9", "X-RateLimit-Reset": "20"}, now_epoch_s=now) == 9.0
    assert retry_after_s({"X-RateLimit-Reset": str(now + 20)}, now_epoch_s=now) == 20.0
    assert retry_after_s({"X-RateLimit-Reset": "12"}, now_epoch_s=now) == 12.0
    assert retry_after_s({}, now_epoch_s=now) is None


def test_retry_after_http_date_and_garbage() -> None:
    now = 1_800_000_000.0
    date = "Fri, 15 Jan 2027 08:00:30 GMT"  # 1_800_000_030
    assert retry_after_s({"Retry-After": date}, now_epoch_s=now) == 30.0
    assert retry_after_s({"Retry-After": "soon"}, now_epoch_s=now) is None
    assert retry_after_s({"Retry-After": "-5"}, now_epoch_s=now) == 0.0
    assert retry_after_s({"retry-after-ms": "nan", "Retry-After": "2"}, now_epoch_s=now) == 2.0


# -- merging pieces (§12.2) --------------------------------------------------------------------


def test_merge_shifts_and_orders_pieces() -> None:
    a = Transcription("one two", (PulseWord("one", 100, 200), PulseWord("two", 300, 400)),
                      "r1", 5.0, "pulse-pro", "en", ("r1",))
    b = Transcription("three", (PulseWord("three", 860, 1000),), "r2", 4.0, "pulse-pro", "en",
                      ("r2",))
    merged = merge_transcriptions([a, b.shifted(9000)], model="pulse-pro").shifted(1000)
    assert merged.text == "one two three"
    assert [(w.text, w.start_ms) for w in merged.words] == [
        ("one", 1100), ("two", 1300), ("three", 10860)]
    assert merged.request_ids == ("r1", "r2") and merged.request_id == "r1"
    assert merged.duration_s == 9.0
