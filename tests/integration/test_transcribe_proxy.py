"""Transcription end to end, offline: a call through the proxy in which the caller says a card number
and the agent repeats its last four digits, transcribed through the Pulse stand-in."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from sqlalchemy import Engine

from recorder.archive.render import decode_flac
from recorder.archive.store import ArchiveStore
from recorder.crypto import age
from recorder.crypto.keys import KeyStore
from recorder.db.engine import transaction
from recorder.db.transcripts import read_transcript
from recorder.pulse import PulseClient
from recorder.simulate.caller import Await, CallScript, Pause, Say, run_call
from recorder.simulate.hydra import HydraSimConfig, run_hydra_sim
from recorder.simulate.pulse import PulseSimConfig, run_pulse_sim
from recorder.transcribe import worker
from recorder.transcribe.job import REDACTED_RECORDING, Context
from tests.conftest import TEST_API_KEY
from tests.integration.harness import proxy_settings, running_proxy
from tests.integration.test_transcribe_job import CARD_NEEDLES, decoded_words, dump_database
from tests.integration.transcribe_calls import CARD_WORDS

REPLIES = ("what is the card number please", "thank you the card ending in one one one one is saved")


def test_card_through_the_proxy_is_redacted_in_the_database_and_the_audio(
    home: Path, database_url: str, engine: Engine, keystore: KeyStore
) -> None:
    # The stand-in sends faster than real time, as Hydra does: paced at exactly 1x, a delta
    # a few ms late is an underrun the playout model (rightly) records as a gap, which can
    # cut a coded word. The caller waits for the rest of each reply to play before speaking.
    script = CallScript(tools=(), steps=(
        Await("response.output_audio.done"), Pause(2500), Say(f"it is {CARD_WORDS}"),
        Await("response.output_audio.done"), Pause(2500)))

    async def main() -> worker.RunSummary:
        config = HydraSimConfig(seed=3, speech="wordcode", replies=REPLIES, speed=1.5)
        async with run_hydra_sim(config) as hydra:
            async with running_proxy(proxy_settings(home, database_url, hydra.url)) as proxy:
                await run_call(f"ws://127.0.0.1:{proxy.port}/waves/v1/s2s?model=hydra-v1.1&api_key={TEST_API_KEY}",
                               script, api_key=TEST_API_KEY)
        async with run_pulse_sim(PulseSimConfig()) as sim:
            async with PulseClient(sim.url, TEST_API_KEY, rng=random.Random(1)) as pulse:
                return await worker.run(Context(home, keystore, engine, "w"), pulse)

    summary = asyncio.run(main())
    assert (summary.transcribed, summary.failed) == (1, 0)
    (archive_dir,) = ArchiveStore(home).list()
    with transaction(engine) as session:
        record = read_transcript(session, archive_dir.name)
    assert record is not None
    turns = [(t.speaker, t.text) for t in record.turns]
    assert turns[-3] == ("agent", "what is the card number please")
    assert turns[-2:] == [("caller", "it is [CREDIT_CARD]"),
                          ("agent", "thank you the card ending in [CREDIT_CARD] is saved")]
    agent_ask, caller_card, agent_repeat = record.turns[-3:]
    assert agent_ask.end_ms < caller_card.start_ms < caller_card.end_ms < agent_repeat.start_ms
    assert [(s.channel, s.type) for s in record.spans] == [("caller", "CREDIT_CARD"), ("agent", "CREDIT_CARD")]
    assert not any(n in dump_database(engine).lower() for n in CARD_NEEDLES)

    store = ArchiveStore(home)
    original, rate = decode_flac(age.decrypt(store.read(archive_dir, "recording.flac.age"),
                                             keystore.identities("archive")))
    redacted, _ = decode_flac(age.decrypt(store.read(archive_dir, REDACTED_RECORDING),
                                          keystore.identities("auditor")))
    heard = " ".join(decoded_words(original[:, 0], rate) + decoded_words(original[:, 1], rate))
    heard_redacted = " ".join(decoded_words(redacted[:, 0], rate) + decoded_words(redacted[:, 1], rate))
    assert "four one one one" in heard and "ending in one one one one" in heard
    assert "four" not in heard_redacted.split() and "one" not in heard_redacted.split()
    assert "card number please" in heard_redacted and "ending in is saved" in heard_redacted
