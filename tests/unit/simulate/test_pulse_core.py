"""The Pulse stand-in's decisions without sockets: auth, parameters, the rate window, seeded
faults, audio checks and the §6 response shapes (reference/pulse-stt.md)."""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.simulate.pulse_core import (
    MSG_NO_LANGUAGE,
    MSG_NO_MODEL,
    RESET_STATUS,
    Fault,
    PulseService,
    PulseSimConfig,
    Reply,
    Reset,
    SlidingWindow,
    SttParams,
    Ticket,
    draw_fault,
    parse_params,
    request_id,
)

QUERY = "model=pulse-pro&language=en&word_timestamps=true"
AUTH = {"authorization": "Bearer sk_test_abc", "content-type": "application/octet-stream"}


@dataclass(frozen=True)
class Word:
    text: str
    start_ms: float
    end_ms: float
    confidence: float = 0.9


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def two_words(pcm: np.ndarray, rate: int) -> list[Word]:
    assert rate == 16_000 and pcm.dtype == np.int16
    return [Word("card", 120.0, 480.0, 0.91234), Word("four", 2000.0, 2300.0)]


def wav(seconds: float = 1.0, rate: int = 16_000, channels: int = 1, fmt: str = "WAV") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.zeros((int(seconds * rate), channels), dtype=np.int16), rate, format=fmt)
    return buf.getvalue()


def service(config: PulseSimConfig | None = None, clock: FakeClock | None = None) -> PulseService:
    config = config or PulseSimConfig(rpm_limit=0)
    return PulseService(config, clock=clock or FakeClock(), decoder=two_words)


def begin(svc: PulseService, query: str = QUERY, headers: dict[str, str] | None = None,
          method: str = "POST", length: int = 100) -> Reply | Ticket:
    h = dict(AUTH if headers is None else headers)
    h.setdefault("content-length", str(length))
    return svc.begin(method, f"/waves/v1/stt/?{query}", h)


def reply_of(svc: PulseService, body: bytes, query: str = QUERY) -> Reply:
    ticket = begin(svc, query, length=len(body))
    assert isinstance(ticket, Ticket)
    action = svc.finish(ticket, body).action
    assert isinstance(action, Reply)
    return action


# -- parameters and auth ----------------------------------------------------------------------


@pytest.mark.parametrize(("query", "problem"), [
    ("language=en", MSG_NO_MODEL),
    ("model=&language=en", MSG_NO_MODEL),
    ("model=pulse-max&language=en", "model='pulse-max'"),
    ("model=pulse", MSG_NO_LANGUAGE),
    ("model=pulse&language=xx", "language='xx'"),
    ("model=pulse&language=en&word_timestamps=yes", "word_timestamps='yes'"),
    ("model=pulse-pro&language=en&webhook_url=https://x", "webhook_url"),
])
def test_bad_parameters_name_the_problem(query: str, problem: str) -> None:
    message = parse_params(query)
    assert isinstance(message, str) and problem in message


def test_parameters_parse_with_defaults() -> None:
    assert parse_params("model=pulse&language=multi-eu") == SttParams("pulse", "multi-eu", False)
    assert parse_params("model=pulse-pro&language=en&word_timestamps=TRUE&diarize=false") == (
        SttParams("pulse-pro", "en", True))


@pytest.mark.parametrize(("headers", "body"), [
    ({}, {"message": "Unauthorized: No tokens provided"}),
    ({"authorization": "Bearer "}, {"message": "Unauthorized: No tokens provided"}),
    ({"authorization": "Basic c2s6eA=="}, {"message": "Unauthorized: No tokens provided"}),
    ({"authorization": "Bearer sk_wrong"}, {"error": "unauthorized"}),
])
def test_missing_or_wrong_bearer_is_401_with_the_gateway_body(headers: dict[str, str],
                                                              body: dict[str, str]) -> None:
    svc = service(PulseSimConfig(api_keys=frozenset({"sk_test_abc"}), rpm_limit=0))
    reply = begin(svc, headers=headers)
    assert isinstance(reply, Reply) and reply.status == 401 and reply.body == body
    assert svc.request_log == [401]


def test_any_non_empty_bearer_is_accepted_without_a_key_list() -> None:
    assert isinstance(begin(service(), headers={"authorization": "bearer anything"}), Ticket)


def test_routes_methods_and_content_types() -> None:
    svc = service()
    assert isinstance(r := svc.begin("POST", "/waves/v1/pulse/get_text", AUTH), Reply)
    assert r.status == 404
    assert isinstance(r := begin(svc, method="GET"), Reply) and r.status == 405
    assert isinstance(begin(svc, headers={**AUTH, "content-type": "audio/wav"}), Ticket)
    assert isinstance(begin(svc, headers={"authorization": "Bearer k"}), Ticket)
    for ctype in ("application/json", "text/plain"):
        reply = begin(svc, headers={**AUTH, "content-type": ctype})
        assert isinstance(reply, Reply) and reply.status == 400


def test_declared_size_over_the_limit_is_413_before_the_body() -> None:
    svc = service(PulseSimConfig(rpm_limit=0, max_bytes=1000))
    assert isinstance(begin(svc, length=1000), Ticket)
    reply = begin(svc, length=1001)
    assert isinstance(reply, Reply) and reply.status == 413
    assert reply.body["error"] == "File size exceeds maximum limit of 0.000953674MB."
    assert service().too_large("r").body["error"] == "File size exceeds maximum limit of 250MB."


# -- the rate window --------------------------------------------------------------------------


def test_window_refuses_the_n_plus_first_and_says_when_to_retry() -> None:
    clock = FakeClock()
    svc = service(PulseSimConfig(rpm_limit=3), clock)
    for _ in range(3):
        assert isinstance(begin(svc), Ticket)
        clock.now += 10
    reply = begin(svc)
    assert isinstance(reply, Reply) and reply.status == 429
    assert dict(reply.headers) == {"Retry-After": "30"}
    clock.now += 30
    assert isinstance(begin(svc), Ticket)


def test_retry_after_can_be_turned_off() -> None:
    svc = service(PulseSimConfig(rpm_limit=1, retry_after=False))
    begin(svc)
    reply = begin(svc)
    assert isinstance(reply, Reply) and reply.status == 429 and reply.headers == ()


@settings(max_examples=60, deadline=None)
@given(limit=st.integers(1, 6), gaps=st.lists(st.floats(0, 40), min_size=1, max_size=60))
def test_window_never_admits_more_than_the_limit_in_any_minute(limit: int, gaps: list[float]
                                                               ) -> None:
    window, now, admitted = SlidingWindow(limit), 0.0, []
    for gap in gaps:
        now += gap
        wait = window.admit(now)
        if wait is None:
            admitted.append(now)
        else:
            assert 0 < wait <= 60
    for i, t in enumerate(admitted):
        assert sum(1 for u in admitted[i:] if u < t + 60) <= limit


# -- faults -----------------------------------------------------------------------------------


def test_faults_follow_the_rates_and_the_seed() -> None:
    config = PulseSimConfig(seed=7, rate_429=0.4, rate_503=0.2, rate_500=0.1, rate_reset=0.1)
    faults = [draw_fault(config, i) for i in range(2000)]
    counts = Counter(faults)
    for fault, rate in ((Fault.TOO_MANY, 0.4), (Fault.UNAVAILABLE, 0.2), (Fault.INTERNAL, 0.1),
                        (Fault.RESET, 0.1), (Fault.NONE, 0.2)):
        assert abs(counts[fault] / 2000 - rate) < 0.04
    assert faults == [draw_fault(config, i) for i in range(2000)]
    other = PulseSimConfig(seed=8, rate_429=0.4, rate_503=0.2, rate_500=0.1, rate_reset=0.1)
    assert faults != [draw_fault(other, i) for i in range(2000)]


def test_rates_must_be_probabilities() -> None:
    with pytest.raises(ValueError):
        PulseSimConfig(rate_429=0.8, rate_503=0.3)
    with pytest.raises(ValueError):
        PulseSimConfig(rate_500=-0.1)


def test_fault_answers_carry_status_retry_after_and_delay() -> None:
    svc = service(PulseSimConfig(rpm_limit=0, rate_429=1.0, slow_s=0.25, fault_retry_after_s=2))
    ticket = begin(svc)
    assert isinstance(ticket, Ticket)
    outcome = svc.finish(ticket, wav())
    assert isinstance(outcome.action, Reply) and outcome.action.status == 429
    assert dict(outcome.action.headers) == {"Retry-After": "2"} and outcome.delay_s == 0.25
    svc = service(PulseSimConfig(rpm_limit=0, rate_reset=1.0))
    ticket = begin(svc)
    assert isinstance(ticket, Ticket)
    assert isinstance(svc.finish(ticket, wav()).action, Reset)
    assert svc.request_log == [RESET_STATUS]


def test_request_ids_are_uuid4_and_seeded() -> None:
    ids = [request_id(1, i) for i in range(50)]
    assert len(set(ids)) == 50 and all(i[14] == "4" for i in ids)
    assert ids == [request_id(1, i) for i in range(50)] != [request_id(2, i) for i in range(50)]


# -- audio and the §6 body --------------------------------------------------------------------


def test_pulse_pro_body_has_words_in_seconds_and_request_id() -> None:
    svc = service()
    reply = reply_of(svc, body := wav(2.5))
    assert reply.status == 200
    assert reply.body["status"] == "success" and reply.body["transcription"] == "card four"
    assert reply.body["words"] == [
        {"word": "card", "start": 0.12, "end": 0.48, "confidence": 0.912},
        {"word": "four", "start": 2.0, "end": 2.3, "confidence": 0.9},
    ]
    assert reply.body["request_id"] == reply.request_id and reply.body["language"] == "en"
    assert reply.body["totalBytes"] == len(body) and reply.body["metadata"]["duration"] == 2.5
    assert "utterances" not in reply.body
    assert svc.accepted_times == [1000.0] and svc.request_log == [200]


def test_pulse_body_has_utterances_and_no_request_id() -> None:
    reply = reply_of(service(), body := wav(3.0, fmt="FLAC"), "model=pulse&language=en&word_timestamps=true")
    assert "request_id" not in reply.body and "language" not in reply.body
    assert reply.body["metadata"] == {"duration": 3.0, "fileSize": len(body)}
    assert [u["text"] for u in reply.body["utterances"]] == ["card", "four"]


def test_words_only_with_word_timestamps() -> None:
    for query in ("model=pulse-pro&language=en", "model=pulse&language=en&word_timestamps=false"):
        reply = reply_of(service(), wav(), query)
        assert reply.body["words"] == [] and reply.body["transcription"] == "card four"


def test_other_rates_are_resampled_to_16k_and_keep_their_duration() -> None:
    reply = reply_of(service(), wav(1.5, rate=44_100, fmt="FLAC"))
    assert reply.status == 200 and reply.body["metadata"]["duration"] == 1.5


@pytest.mark.parametrize(("body", "needle"), [
    (b"", "Empty request body"),
    (b"RIFF\x00\x00garbage" * 10, "Could not read the audio"),
    (wav(0.5, channels=2), "got 2 channels"),
])
def test_unusable_audio_is_400(body: bytes, needle: str) -> None:
    svc = service()
    ticket = begin(svc, length=len(body))
    assert isinstance(ticket, Ticket)
    reply = svc.finish(ticket, body).action
    assert isinstance(reply, Reply) and reply.status == 400 and needle in reply.body["error"]
    assert reply.body["request_id"] == reply.request_id


def test_reply_repr_shows_no_transcript() -> None:
    reply = reply_of(service(), wav())
    assert "card" not in repr(reply) and "200" in repr(reply)
    assert "sk_" not in repr(PulseSimConfig(api_keys=frozenset({"sk_secret_key"})))
