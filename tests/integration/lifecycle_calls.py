"""Calls for the record's-life tests: placed through the real proxy to the Hydra stand-in (word
code speech, so they can be transcribed), then transcribed through the Pulse stand-in, so each
call has its original archive, its redacted recording, its transcript file and its rows."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Engine, select

from recorder.crypto.keys import KeyStore
from recorder.db.engine import transaction
from recorder.db.models import CallSession
from recorder.pulse import PulseClient
from recorder.simulate.caller import Await, CallScript, CallTranscript, Pause, Say, run_call
from recorder.simulate.hydra import HydraSimConfig, run_hydra_sim
from recorder.simulate.pulse import PulseSimConfig, run_pulse_sim
from recorder.transcribe import worker
from recorder.transcribe.job import Context
from tests.conftest import TEST_API_KEY
from tests.integration.harness import proxy_settings, running_proxy

REPLIES = ("what is your order number", "thank you the order is on its way")
SCRIPT = CallScript(tools=(), steps=(
    Await("response.output_audio.done"), Pause(1500), Say("it is seven two nine"),
    Await("response.output_audio.done"), Pause(1500)))


def place_calls(home: Path, database_url: str, tenants: Sequence[str | None], *,
                script: CallScript = SCRIPT, scripts: Sequence[CallScript] | None = None,
                agents: Sequence[str] | None = None, **settings: object) -> list[CallTranscript]:
    """One call per tenant (None: no tenant header), in order, through one proxy; ``scripts``
    and ``agents`` (X-Recorder-Agent-Id), when given, one per call too."""

    async def main() -> list[CallTranscript]:
        config = HydraSimConfig(seed=3, speech="wordcode", replies=REPLIES, speed=1.5)
        done: list[CallTranscript] = []
        async with run_hydra_sim(config) as hydra:
            async with running_proxy(proxy_settings(home, database_url, hydra.url, **settings)) as proxy:
                for k, tenant in enumerate(tenants):
                    headers = {"X-Recorder-Tenant": tenant} if tenant else {}
                    if agents:
                        headers["X-Recorder-Agent-Id"] = agents[k]
                    done.append(await run_call(
                        f"ws://127.0.0.1:{proxy.port}/waves/v1/s2s?model=hydra-v1.1&api_key={TEST_API_KEY}",
                        scripts[k] if scripts else script, api_key=TEST_API_KEY, headers=headers))
        return done

    return asyncio.run(main())


def transcribe_all(home: Path, engine: Engine, keystore: KeyStore) -> worker.RunSummary:
    async def main() -> worker.RunSummary:
        async with run_pulse_sim(PulseSimConfig()) as sim:
            async with PulseClient(sim.url, TEST_API_KEY, rng=random.Random(1)) as pulse:
                return await worker.run(Context(home, keystore, engine, "w"), pulse)

    return asyncio.run(main())


def session_ids(engine: Engine) -> list[str]:
    """The recorder ids of the calls, in the order they were placed."""
    with transaction(engine) as s:
        return list(s.scalars(select(CallSession.id).order_by(CallSession.started_at)))


def run_cli(home: Path, database_url: str, *args: str, config: Path | None = None,
            user: str = "auditor-os") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RECORDER_HOME": str(home), "RECORDER_DATABASE_URL": database_url,
           "USER": user, "LOGNAME": user}
    env.pop("RECORDER_CONFIG", None)
    if config is not None:
        env["RECORDER_CONFIG"] = str(config)
    return subprocess.run([sys.executable, "-m", "recorder.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=120)
