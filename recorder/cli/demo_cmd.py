"""`recorder demo`: the whole pipeline offline, end to end, on free local ports."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import click

from recorder.cli.audit_cmd import render_call
from recorder.cli.options import build_settings, common_options
from recorder.config import Settings
from recorder.db.engine import make_engine, transaction

DEMO_API_KEY = "sk_demo_not_a_real_key"


async def run_demo(settings: Settings) -> str:
    """Stand-in Hydra ← proxy ← scripted caller; returns the recorder id of the call."""
    from recorder.proxy.server import ProxyServer
    from recorder.proxy.startup import prepare_recorder
    from recorder.simulate.caller import CallScript, run_call
    from recorder.simulate.hydra import HydraSimConfig, run_hydra_sim

    recorder = await asyncio.to_thread(prepare_recorder, settings)
    try:
        async with run_hydra_sim(HydraSimConfig(seed=7)) as hydra:
            proxy_settings = dataclasses.replace(
                settings, upstream_url=hydra.url, listen="127.0.0.1:0"
            )
            server = ProxyServer(proxy_settings, recorder)
            await server.start()
            click.echo(f"stand-in Hydra on {hydra.url}; recorder proxy on ws://127.0.0.1:{server.port}")
            click.echo("calling: greeting, two caller turns, a barge-in and a tool call ...")
            transcript = await run_call(
                f"ws://127.0.0.1:{server.port}/waves/v1/s2s?model=hydra-v1.1",
                CallScript(),
                api_key=DEMO_API_KEY,
                headers={"X-Recorder-Agent-Id": "demo-agent", "X-Recorder-Tenant": "demo"},
            )
            await server.drain(timeout_s=5)
        return transcript.session_id or ""
    finally:
        recorder.engine.dispose()


@click.command()
@common_options
def demo(config_file: Path | None, home: Path | None, database_url: str | None,
         log_level: str | None) -> None:
    """Run a scripted call through the proxy to the local Hydra stand-in and show its record."""
    settings = build_settings(config_file, log_level or "WARNING", home=home, database_url=database_url)
    hydra_session_id = asyncio.run(run_demo(settings))
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
    click.echo(f"stored in {settings.home}; see it again with `recorder show {call['id']}`")


COMMANDS: list[click.Command] = [demo]
