"""A console over a database filled by real calls: two calls through the real proxy to the
Hydra stand-in (in one the caller says a card number and the agent repeats its last digits;
the other has a tool call and a barge-in), transcribed through the Pulse stand-in, then `recorder console` started as its own
process, with users added through `recorder users add`."""

from __future__ import annotations

import asyncio
import os
import random
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from recorder.crypto.keys import KeyStore
from recorder.db.engine import make_engine, transaction, upgrade
from recorder.db.models import CallSession
from recorder.pulse import PulseClient
from recorder.simulate.caller import Await, CallScript, Pause, Say, run_call
from recorder.simulate.hydra import HydraSimConfig, run_hydra_sim
from recorder.simulate.pulse import PulseSimConfig, run_pulse_sim
from recorder.transcribe import worker
from recorder.transcribe.job import Context
from tests.conftest import TEST_API_KEY
from tests.integration.harness import proxy_settings, running_proxy
from tests.integration.transcribe_calls import CARD_WORDS

REPLIES = ("what is the card number please", "thank you the card ending in one one one one is saved")
PASSWORDS = {"alice": "alice-audits-calls-42", "sam": "sam-supervises-7-days"}
ROLES = {"alice": "auditor", "sam": "supervisor"}


@dataclass(frozen=True)
class Site:
    url: str
    home: Path
    database_url: str
    card_call: str
    plain_call: str


def _env(home: Path, database_url: str) -> dict[str, str]:
    return {**os.environ, "RECORDER_HOME": str(home), "RECORDER_DATABASE_URL": database_url}


def cli(home: Path, database_url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "recorder.cli.main", *args], input=stdin, text=True,
                          capture_output=True, env=_env(home, database_url), timeout=60, check=False)


def record_calls(home: Path, database_url: str) -> None:
    """The two calls through the proxy, then one transcription run."""
    card = CallScript(tools=(), steps=(
        Await("response.output_audio.done"), Pause(2500), Say(f"it is {CARD_WORDS}"),
        Await("response.output_audio.done"), Pause(2500)))
    plain = CallScript()  # a tool call and a barge-in (the caller talks over an answer)
    upgrade(database_url)
    engine = make_engine(database_url)
    keystore = KeyStore(home / "keys")
    keystore.init()

    async def main() -> worker.RunSummary:
        config = HydraSimConfig(seed=3, speech="wordcode", replies=REPLIES, speed=1.5)
        async with run_hydra_sim(config) as hydra:
            async with running_proxy(proxy_settings(home, database_url, hydra.url)) as proxy:
                url = f"ws://127.0.0.1:{proxy.port}/waves/v1/s2s?model=hydra-v1.1&api_key={TEST_API_KEY}"
                await run_call(url, card, api_key=TEST_API_KEY,
                               headers={"X-Recorder-Agent-Id": "billing-bot", "X-Recorder-Tenant": "acme"})
                await run_call(url, plain, api_key=TEST_API_KEY,
                               headers={"X-Recorder-Agent-Id": "greeter", "X-Recorder-Tenant": "globex"})
        async with run_pulse_sim(PulseSimConfig()) as sim:
            async with PulseClient(sim.url, TEST_API_KEY, rng=random.Random(1)) as pulse:
                return await worker.run(Context(home, keystore, engine, "w"), pulse)

    try:
        summary = asyncio.run(main())
        assert (summary.transcribed, summary.failed) == (2, 0), summary
    finally:
        engine.dispose()


def call_ids(engine: Engine) -> dict[str, str]:
    """Tenant → call id."""
    with transaction(engine) as session:
        return {c.call_metadata["tenant"]: c.id for c in session.query(CallSession)}


@contextmanager
def running_console(home: Path, database_url: str, *extra: str) -> Iterator[str]:
    """`recorder console --listen 127.0.0.1:0 [extra...]` as a process; yields its base URL."""
    with tempfile.TemporaryFile("w+") as errors, subprocess.Popen(
        [sys.executable, "-m", "recorder.cli.main", "console", "--listen", "127.0.0.1:0", "--log-level", "WARNING",
         *extra],
        env=_env(home, database_url), stdout=subprocess.PIPE, stderr=errors, text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            found = re.search(r"listening on (https?://\S+)", line)
            if found is None:
                proc.wait(timeout=30)
                errors.seek(0)
                raise AssertionError(f"console did not start: {line!r} {errors.read()}")
            yield found[1]
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextmanager
def console_site(home: Path, database_url: str) -> Iterator[Site]:
    record_calls(home, database_url)
    for name, password in PASSWORDS.items():
        done = cli(home, database_url, "users", "add", name, "--role", ROLES[name], stdin=password + "\n")
        assert done.returncode == 0, done.stderr
    engine = make_engine(database_url)
    try:
        ids = call_ids(engine)
    finally:
        engine.dispose()
    with running_console(home, database_url) as url:
        yield Site(url, home, database_url, ids["acme"], ids["globex"])
