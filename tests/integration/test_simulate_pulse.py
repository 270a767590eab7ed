"""The Pulse STT stand-in over real loopback HTTP, driven by httpx (reference/pulse-stt.md)."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
import time
from dataclasses import replace
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import httpx
import numpy as np
import pytest
import soundfile as sf

from recorder.simulate.pulse import (
    RESET_STATUS,
    PulseSimConfig,
    PulseSimulator,
    run_pulse_sim,
)

KEY = "sk_test_pulse_sim_42"
AUTH = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/octet-stream"}
PRO = {"model": "pulse-pro", "language": "en", "word_timestamps": "true"}
OPEN = PulseSimConfig(rpm_limit=0)
T = TypeVar("T")


def run(config: PulseSimConfig, body: Callable[[PulseSimulator, httpx.AsyncClient], Awaitable[T]]
        ) -> T:
    async def main() -> T:
        async with run_pulse_sim(config) as sim, httpx.AsyncClient(timeout=20) as client:
            return await asyncio.wait_for(body(sim, client), 60)

    return asyncio.run(main())


def wav(pcm: np.ndarray | None = None, rate: int = 16_000, fmt: str = "WAV") -> bytes:
    data = np.zeros(1600, dtype=np.int16) if pcm is None else pcm
    buf = io.BytesIO()
    sf.write(buf, data, rate, format=fmt, subtype="PCM_16")
    return buf.getvalue()


async def post(client: httpx.AsyncClient, sim: PulseSimulator, body: Any = None,
               params: dict[str, str] | None = None, headers: dict[str, str] | None = None
               ) -> httpx.Response:
    return await client.post(sim.url, params=PRO if params is None else params,
                             headers=AUTH if headers is None else headers,
                             content=wav() if body is None else body)


# -- refusals ---------------------------------------------------------------------------------


def test_missing_or_wrong_bearer_is_401() -> None:
    async def body(sim: PulseSimulator, client: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await post(client, sim, headers={"Content-Type": "application/octet-stream"}),
            await post(client, sim, headers={**AUTH, "Authorization": "Bearer sk_wrong"}),
            await post(client, sim),
        ]

    missing, wrong, right = run(PulseSimConfig(api_keys=frozenset({KEY}), rpm_limit=0), body)
    assert (missing.status_code, missing.json()) == (401, {"message": "Unauthorized: No tokens provided"})
    assert (wrong.status_code, wrong.json()) == (401, {"error": "unauthorized"})
    assert right.status_code == 200
    assert all(r.headers["x-request-id"] for r in (missing, wrong, right))


@pytest.mark.parametrize(("params", "body", "needle"), [
    ({"language": "en"}, None, "Missing required query param: model"),
    ({"model": "whisper", "language": "en"}, None, "Supported values: pulse | pulse-pro"),
    ({"model": "pulse-pro"}, None, "Missing required query param: language"),
    (PRO, wav(np.zeros((1600, 2), dtype=np.int16)), "mono"),
    (PRO, b"\x00\x01garbage, not audio" * 50, "Could not read the audio"),
])
def test_bad_requests_are_400_with_a_message(params: dict[str, str], body: bytes | None,
                                             needle: str) -> None:
    async def run_one(sim: PulseSimulator, client: httpx.AsyncClient) -> httpx.Response:
        return await post(client, sim, body, params)

    response = run(OPEN, run_one)
    assert response.status_code == 400
    assert needle in response.json()["error"]
    assert response.json()["request_id"] == response.headers["x-request-id"]


def test_body_over_max_bytes_is_413_and_the_connection_stays_usable() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"\x00" * 500

    async def body(sim: PulseSimulator, client: httpx.AsyncClient) -> list[httpx.Response]:
        return [await post(client, sim, b"\x00" * 5000), await post(client, sim, chunks()),
                await post(client, sim)]

    declared, chunked, after = run(PulseSimConfig(rpm_limit=0, max_bytes=4000), body)
    assert declared.status_code == chunked.status_code == 413
    assert "File size exceeds maximum limit" in declared.json()["error"]
    assert after.status_code == 200


def test_chunked_upload_is_transcribed() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        data = wav()
        for off in range(0, len(data), 700):
            yield data[off : off + 700]

    response = run(OPEN, lambda sim, client: post(client, sim, chunks()))
    assert response.status_code == 200 and response.json()["metadata"]["duration"] == 0.1


def test_rpm_limit_answers_429_with_retry_after() -> None:
    async def body(sim: PulseSimulator, client: httpx.AsyncClient) -> list[httpx.Response]:
        return [await post(client, sim) for _ in range(5)]

    responses = run(PulseSimConfig(rpm_limit=3), body)
    assert [r.status_code for r in responses] == [200, 200, 200, 429, 429]
    assert 55 <= int(responses[3].headers["Retry-After"]) <= 60
    assert responses[3].json()["error"].startswith("Rate limit exceeded")
    no_header = run(PulseSimConfig(rpm_limit=1, retry_after=False), body)
    assert "Retry-After" not in no_header[1].headers and no_header[1].status_code == 429


def test_concurrent_requests_share_one_window() -> None:
    async def body(sim: PulseSimulator, client: httpx.AsyncClient) -> list[int]:
        responses = await asyncio.gather(*(post(client, sim) for _ in range(12)))
        assert len(sim.accepted_times) == 5
        return sorted(r.status_code for r in responses)

    assert run(PulseSimConfig(rpm_limit=5), body) == [200] * 5 + [429] * 7


# -- faults -----------------------------------------------------------------------------------

FAULTY = PulseSimConfig(rpm_limit=0, seed=5, rate_429=0.3, rate_503=0.2, rate_500=0.1)


def within_binomial(count: int, n: int, p: float, z: float = 5.0) -> bool:
    """`count` successes in `n` draws is within `z` standard deviations of rate `p`."""
    return abs(count - n * p) <= z * (n * p * (1 - p)) ** 0.5 + 1


def test_fault_rates_are_honoured_and_the_same_for_a_seed() -> None:
    n = 300

    async def body(sim: PulseSimulator, client: httpx.AsyncClient) -> list[int]:
        statuses = [(await post(client, sim)).status_code for _ in range(n)]
        assert sim.request_log == statuses and sim.requests == n
        assert len(sim.accepted_times) == statuses.count(200)
        return statuses

    first, second = run(FAULTY, body), run(FAULTY, body)
    assert first == second  # the seed alone decides the n-th request's fault
    assert set(first) == {200, 429, 503, 500}
    for status, rate in ((429, 0.3), (503, 0.2), (500, 0.1), (200, 0.4)):
        assert within_binomial(first.count(status), n, rate), (status, first.count(status))
    # another seed, same rates: another sequence (identical 300 draws would be a broken seed)
    other = run(replace(FAULTY, seed=FAULTY.seed + 1), body)
    assert other != first and within_binomial(other.count(200), n, 0.4)


def test_reset_closes_the_connection_without_an_answer() -> None:
    async def body(sim: PulseSimulator, client: httpx.AsyncClient) -> list[int]:
        with pytest.raises(httpx.TransportError):
            await post(client, sim)
        return sim.request_log

    assert run(PulseSimConfig(rpm_limit=0, rate_reset=1.0), body) == [RESET_STATUS]


def test_slow_answers_take_at_least_slow_s() -> None:
    async def body(sim: PulseSimulator, client: httpx.AsyncClient) -> tuple[float, int]:
        started = time.monotonic()
        response = await post(client, sim)
        return time.monotonic() - started, response.status_code

    elapsed, status = run(PulseSimConfig(rpm_limit=0, slow_s=0.6), body)
    assert status == 200 and elapsed >= 0.6


def test_stopping_ends_slow_answers_and_open_connections_promptly() -> None:
    async def main() -> tuple[float, BaseException | None]:
        async with httpx.AsyncClient(timeout=20) as client:
            async with run_pulse_sim(PulseSimConfig(rpm_limit=0, slow_s=30)) as sim:
                idle = await client.get(sim.url)  # leaves a kept-alive connection open
                assert idle.status_code == 405 and idle.headers["Allow"] == "POST"
                pending = asyncio.ensure_future(post(client, sim))
                await asyncio.sleep(0.3)
                started = time.monotonic()
            stopped = time.monotonic() - started
            results = await asyncio.gather(pending, return_exceptions=True)
        outcome = results[0]
        return stopped, outcome if isinstance(outcome, BaseException) else None

    stopped, error = asyncio.run(main())
    assert stopped < 3 and isinstance(error, httpx.TransportError)


# -- words ------------------------------------------------------------------------------------


def speech(rate: int) -> tuple[np.ndarray, list[tuple[str, float, float]]]:
    """Word-code speech with silence around and between phrases, and where each word is."""
    from recorder.simulate import wordcode

    parts, spans, at_ms = [], [], 0.0
    for lead_ms, text in ((400, "my card is"), (1000, "four one one one")):
        parts.append(wordcode.silence(lead_ms, rate))
        at_ms += lead_ms
        rendered = wordcode.render(text, rate)
        parts.append(rendered.pcm)
        spans += [(w.text, at_ms + w.start_ms, at_ms + w.end_ms) for w in rendered.words]
        at_ms += rendered.duration_ms
    parts.append(wordcode.silence(300, rate))
    return np.concatenate(parts), spans


@pytest.mark.parametrize(("rate", "fmt"), [(16_000, "WAV"), (48_000, "FLAC")])
def test_word_code_speech_comes_back_as_timed_words(rate: int, fmt: str) -> None:
    pcm, spans = speech(rate)
    audio = wav(pcm, rate, fmt)

    async def body(sim: PulseSimulator, client: httpx.AsyncClient) -> list[dict[str, Any]]:
        pro = await post(client, sim, audio)
        plain = await post(client, sim, audio, {**PRO, "model": "pulse"})
        bare = await post(client, sim, audio, {**PRO, "word_timestamps": "false"})
        return [pro.json(), plain.json(), bare.json(), dict(pro.headers)]

    pro, plain, bare, headers = run(OPEN, body)
    assert pro["transcription"] == "my card is four one one one" == plain["transcription"]
    assert [w["word"] for w in pro["words"]] == [s[0] for s in spans]
    for word, (_, start_ms, end_ms) in zip(pro["words"], spans, strict=True):
        assert abs(word["start"] * 1000 - start_ms) <= 20 and abs(word["end"] * 1000 - end_ms) <= 20
        assert 0 < word["confidence"] <= 1
    assert abs(pro["metadata"]["duration"] - len(pcm) / rate) < 0.002
    assert pro["request_id"] == headers["x-request-id"] and "request_id" not in plain
    assert plain["words"] == pro["words"] and len(plain["utterances"]) == 2
    assert bare["words"] == [] and bare["transcription"] == pro["transcription"]


def test_silence_and_noise_give_no_words() -> None:
    noise = (np.random.default_rng(3).normal(0, 2000, 16_000)).astype(np.int16)

    async def body(sim: PulseSimulator, client: httpx.AsyncClient) -> list[dict[str, Any]]:
        return [(await post(client, sim, wav(pcm))).json()
                for pcm in (np.zeros(16_000, dtype=np.int16), noise)]

    for result in run(OPEN, body):
        assert result["status"] == "success" and result["words"] == []
        assert result["transcription"] == ""


# -- CLI --------------------------------------------------------------------------------------


def test_cli_serves_until_sigterm() -> None:
    async def main() -> tuple[int, int]:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "recorder.cli.main", "simulate", "pulse", "--listen",
            "127.0.0.1:0", "--api-key", KEY, "--rpm", "5", "--seed", "1",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
        )
        assert process.stdout is not None and process.stderr is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        url = line.split("listening on ", 1)[1].split()[0]
        async with httpx.AsyncClient() as client:
            response = await client.post(url, params=PRO, headers=AUTH, content=wav())
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 20)
        assert KEY not in (await process.stderr.read()).decode()
        return response.status_code, code

    assert asyncio.run(main()) == (200, 0)
