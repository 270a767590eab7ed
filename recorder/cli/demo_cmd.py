"""`recorder demo`: the whole pipeline offline, end to end, on free local ports.

A scripted caller speaks (in the stand-ins' audio word code) a card number, a date of birth
and an email through the recording proxy to the Hydra stand-in; the call is archived; the
transcription job sends it to the Pulse stand-in, redacts, stores and publishes the redacted
derivatives; the record is shown with its redacted transcript.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from pathlib import Path
from typing import Any

import click

from recorder.archive.store import open_store
from recorder.cli.audit_cmd import render_call
from recorder.cli.options import build_settings, common_options
from recorder.config import Settings
from recorder.db.engine import make_engine, transaction

DEMO_API_KEY = "sk_demo_not_a_real_key"
SPEED = 1.5  # agent audio sent this many times faster than it plays
PLAYOUT_WAIT_MS = 3000
CARD = "four one one one one one one one one one one one one one one one"
REPLIES = (
    "hello this is ava what is the card number please",
    "thank you the card ending in one one one one is saved what is your date of birth and email",
    "thanks you are all set goodbye",
)
CALLER_LINES = (
    f"it is {CARD}",
    "march third nineteen eighty five and my email is john dot smith at gmail dot com",
)


def demo_script() -> object:
    from recorder.simulate.caller import Await, CallScript, Pause, Say

    return CallScript(
        tools=(),
        instructions="You are Ava, a concise payments agent.",
        steps=(
            # The stand-in sends faster than real time, like Hydra: after the last delta the
            # caller waits for the reply to finish playing before answering.
            Await("response.output_audio.done"),  # greeting: asks for the card
            Pause(PLAYOUT_WAIT_MS),
            Say(CALLER_LINES[0]),
            Await("response.output_audio.done"),  # repeats the last four, asks DOB and email
            Pause(PLAYOUT_WAIT_MS),
            Say(CALLER_LINES[1]),
            Await("response.output_audio.done"),
            Pause(PLAYOUT_WAIT_MS),
        ),
    )


class CallProgress:
    """Prints the call's turns as they happen (it runs in real time, about half a minute),
    redacted as the transcript will be: a terminal is no place for the card number either."""

    def __init__(self) -> None:
        self.replies = 0
        self.last_reply = ""

    def __call__(self, at: float, what: object) -> None:
        line = self.describe(what)
        if line is not None:
            click.echo(f"  {at:5.1f} s  {line}")

    def describe(self, what: object) -> str | None:
        from recorder.redact import redact_text
        from recorder.simulate.caller import Say

        if isinstance(what, Say):  # redacted in context: the agent's question says what follows
            said = redact_text(f"agent: {self.last_reply}\ncaller: {what.text}").text
            return f"caller: {said.rsplit('caller: ', 1)[-1]}"
        if not isinstance(what, dict):
            return None
        frame: dict[str, Any] = what
        if frame.get("type") == "session.created":
            return f"connected (Hydra session {frame.get('session_id')})"
        if frame.get("type") == "response.created":
            self.replies += 1
            self.last_reply = REPLIES[self.replies - 1] if self.replies <= len(REPLIES) else "..."
            text = redact_text(f"agent: {self.last_reply}").text.removeprefix("agent: ")
            return f"agent, reply {self.replies} of {len(REPLIES)}: {text}"
        return None


async def run_call_demo(settings: Settings) -> str:
    """Stand-in Hydra ← proxy ← scripted caller; returns the Hydra session id of the call."""
    from recorder.proxy.server import ProxyServer
    from recorder.proxy.startup import prepare_recorder
    from recorder.simulate.caller import run_call
    from recorder.simulate.hydra import HydraSimConfig, run_hydra_sim

    recorder = await asyncio.to_thread(prepare_recorder, settings)
    async with run_hydra_sim(HydraSimConfig(seed=7, speech="wordcode", replies=REPLIES, speed=SPEED)) as hydra:
        proxy_settings = dataclasses.replace(settings, upstream_url=hydra.url, listen="127.0.0.1:0")
        server = ProxyServer(proxy_settings, recorder)
        await server.start()
        click.echo(f"stand-in Hydra on {hydra.url}; recorder proxy on ws://127.0.0.1:{server.port}")
        click.echo("calling: the caller gives a card number, a date of birth and an email "
                   "(about 30 s, in real time) ...")
        transcript = await run_call(
            f"ws://127.0.0.1:{server.port}/waves/v1/s2s?model=hydra-v1.1",
            demo_script(),  # type: ignore[arg-type]
            api_key=DEMO_API_KEY,
            headers={"X-Recorder-Agent-Id": "demo-agent", "X-Recorder-Tenant": "demo"},
            observe=CallProgress(),
        )
        click.echo(f"  {transcript.duration_s:5.1f} s  caller hung up; archiving the call ...")
        await server.drain(timeout_s=5)
    return transcript.session_id or ""


async def transcribe_demo(settings: Settings, session_key: str) -> object:
    """Start the Pulse stand-in and transcribe the demo call through it."""
    from recorder.crypto.keys import KeyStore
    from recorder.pulse import PulseClient
    from recorder.simulate.pulse import PulseSimConfig, run_pulse_sim
    from recorder.transcribe import jobs, worker
    from recorder.transcribe.job import Context

    engine = make_engine(settings.effective_database_url)
    try:
        async with run_pulse_sim(PulseSimConfig(api_keys=frozenset({DEMO_API_KEY}))) as pulse_sim:
            click.echo(f"stand-in Pulse on {pulse_sim.url}; transcribing ...")
            async with PulseClient(pulse_sim.url, DEMO_API_KEY, rng=random.Random(7)) as pulse:
                ctx = Context(settings.home, KeyStore(settings.home / "keys"), engine, worker.worker_id(),
                              archive_store=open_store(settings))
                options = worker.RunOptions(selection=jobs.Selection(session_id=session_key))
                return await worker.run(ctx, pulse, options)
    finally:
        engine.dispose()


@click.command()
@common_options
def demo(config_file: Path | None, home: Path | None, database_url: str | None,
         log_level: str | None) -> None:
    """Run a scripted call through the proxy, transcribe and redact it, and show its record."""
    settings = build_settings(config_file, log_level or "WARNING", home=home, database_url=database_url)
    hydra_session_id = asyncio.run(run_call_demo(settings))
    summary = asyncio.run(transcribe_demo(settings, hydra_session_id))
    click.echo(f"transcription: transcribed {summary.transcribed}, failed {summary.failed}, "  # type: ignore[attr-defined]
               f"Pulse requests {summary.pulse_requests}")  # type: ignore[attr-defined]
    from recorder.audit.queries import show_session

    engine = make_engine(settings.effective_database_url)
    try:
        with transaction(engine) as session:
            call = show_session(session, hydra_session_id)
    finally:
        engine.dispose()
    click.echo("")
    click.echo(render_call(call))
    click.echo("")
    click.echo(f"stored in {settings.home}; see it again with `recorder show {call['id']}`, "
               f"search with `recorder search card`, export with `recorder export {call['id']} --out DIR`")

