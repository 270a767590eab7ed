"""PCI pause through the proxy: with `pci_tools = ["lookup_order"]`, the caller channel is
silence from the moment the proxy saw the stand-in call that tool until the client's output
for it arrived, and the agent channel is untouched. The pause is in the alignment manifest with
its cause and the transcript shows [PAUSED]. SQLite always; PostgreSQL when configured.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from recorder.crypto.keys import KeyStore
from recorder.simulate.caller import CallScript, run_call
from recorder.simulate.hydra import HydraSimConfig, run_hydra_sim
from tests.conftest import TEST_API_KEY
from tests.integration.archive_check import open_only_archive, pcm_of
from tests.integration.harness import proxy_settings, running_proxy
from tests.integration.lifecycle_calls import run_cli, session_ids, transcribe_all

pytestmark = pytest.mark.timeout(600)


def test_pci_tool_in_flight_leaves_caller_silence_and_agent_untouched(
    home: Path, database_url: str, engine: Engine, keystore: KeyStore
) -> None:
    async def main():  # type: ignore[no-untyped-def]
        async with run_hydra_sim(HydraSimConfig(seed=11, speed=2.0, response_ms=1600)) as hydra:
            settings = proxy_settings(home, database_url, hydra.url, pci_tools=("lookup_order",))
            async with running_proxy(settings) as proxy:
                return await run_call(f"ws://127.0.0.1:{proxy.port}/waves/v1/s2s?model=hydra-v1.1",
                                      CallScript(tool_delay_ms=1500), api_key=TEST_API_KEY)

    transcript = asyncio.run(main())
    archive = open_only_archive(home)
    left, right = archive.stereo[:, 0], archive.stereo[:, 1]

    # The recorder's own wire log says which caller frames came while the tool was in flight.
    frames = {e["seq"]: e for e in archive.events if e.get("kind") == "frame"}
    called = next(s for s, e in frames.items() if e["type"] == "response.function_call_arguments.done")
    answered = next(s for s, e in frames.items() if e["type"] == "conversation.item.create"
                    and json.loads(e["text"])["item"]["type"] == "function_call_output")
    caller = [e for e in archive.events if e.get("kind") == "audio" and e["channel"] == "caller"]
    paused = [e for e in caller if called < e["seq"] < answered]
    assert paused, "the caller kept streaming while the tool ran"
    (pause,) = archive.alignment["pauses"]
    assert (pause["channel"], pause["cause"]) == ("caller", "tool:lookup_order")
    assert pause["position"] == paused[0]["start"]
    assert pause["length"] == paused[-1]["start"] + paused[-1]["length"] - paused[0]["start"]
    assert archive.manifest["summary"]["pauses"] == 1

    # At least every frame the client sent between hearing the call and answering it is silenced.
    sent_after_call = min(t for m, t in zip(transcript.received, transcript.received_at, strict=True)
                          if isinstance(m, str) and '"response.function_call_arguments.done"' in m)
    answer_sent = next(t for m, t in zip(transcript.sent, transcript.sent_at, strict=True)
                       if isinstance(m, str) and '"function_call_output"' in m)
    inside = sum(1 for m, t in zip(transcript.sent, transcript.sent_at, strict=True)
                 if isinstance(m, str) and '"input_audio_buffer.append"' in m and sent_after_call < t < answer_sent)
    assert inside >= 1 and len(paused) >= inside

    # Silence of exactly the pause on the caller channel; the line noise around it is kept.
    start, end = pause["position"], pause["position"] + pause["length"]
    assert not left[start:end].any()
    assert left[:start].any() and left[end:].any()
    assert all(left[e["start"] : e["start"] + e["length"]].any() for e in caller if e not in paused)

    # The agent channel is bit-exact: every delta the client heard, at its playout position.
    deltas = pcm_of(transcript.received, "response.output_audio.delta", "delta")
    agent = [e for e in archive.events if e.get("kind") == "audio" and e["channel"] == "agent"]
    cuts = {c["response_id"]: c["position"] for c in archive.alignment["cuts"]}
    expected = np.zeros_like(right)
    for line, pcm in zip(agent, deltas, strict=True):
        samples = np.frombuffer(pcm, dtype="<i2")
        cut = cuts.get(line["response_id"])
        keep = 0 if line["discarded"] else len(samples) if cut is None else int(np.clip(cut - line["start"], 0, len(samples)))
        expected[line["start"] : line["start"] + keep] = samples[:keep]
    assert np.array_equal(right, expected)

    # The transcript says why the caller is silent there.
    assert transcribe_all(home, engine, keystore).transcribed == 1
    (sid,) = session_ids(engine)
    shown = json.loads(run_cli(home, database_url, "show", sid, "--json").stdout)
    turns = [t for t in shown["transcript"]["turns"] if "[PAUSED]" in t["text"]]
    assert [t["speaker"] for t in turns] == ["caller"]
    rate = archive.alignment["archive_rate"]
    assert turns[0]["start_ms"] <= start * 1000 / rate and turns[0]["end_ms"] >= end * 1000 / rate
    assert run_cli(home, database_url, "verify").returncode == 0
