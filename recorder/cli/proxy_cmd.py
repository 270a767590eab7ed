"""`recorder proxy`: the main job."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import click

from recorder.cli.options import build_settings, common_options
from recorder.config import Settings
from recorder.crypto.keys import KeyStore
from recorder.db.engine import safe_url

log = logging.getLogger(__name__)


async def run_proxy(
    settings: Settings, ready: asyncio.Event | None = None, *, worker: int | None = None
) -> None:
    """Serve until SIGTERM/SIGINT, then drain. A `worker` of several shares the port and
    leaves start-up recovery to the parent, which ran it before starting the workers."""
    from recorder.proxy.server import ProxyServer
    from recorder.proxy.startup import prepare_recorder

    note = first_run_note(settings) if worker is None else None
    recorder = await asyncio.to_thread(prepare_recorder, settings, recover=worker is None)
    server = ProxyServer(settings, recorder)
    await server.start(reuse_port=worker is not None)
    scheme = "wss" if settings.certfile else "ws"
    log.log(
        logging.INFO if note is None else logging.WARNING,
        "recorder proxy%s on %s://%s:%d -> %s (database %s, limit %d calls)%s",
        "" if worker is None else f" worker {worker}",
        scheme, settings.listen_host_port()[0], server.port, settings.upstream_url,
        safe_url(settings.effective_database_url), settings.max_sessions,
        "" if note is None else f"; {note}",
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
        await server.drain()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        recorder.engine.dispose()
    log.info("recorder proxy stopped")


def first_run_note(settings: Settings) -> str | None:
    """What a start on embedded defaults creates and what that means, said once: None when
    the keys (and the default database) exist already."""
    keys_dir = settings.home / "keys"
    new_keys = not KeyStore(keys_dir).list()
    new_db = not settings.database_url and not (settings.home / "recorder.db").exists()
    created = ([f"the database {settings.home / 'recorder.db'}"] if new_db else []) + (
        [f"keys under {keys_dir}, whose archive and auditor identities decrypt every recording"]
        if new_keys else [])
    if not created:
        return None
    note = f"first run: created {' and '.join(created)}"
    if new_keys:
        note += ("; production keeps identities off proxy hosts: give a proxy host only public "
                 "keys with `recorder keys export-public DIR --with-signing-key`")
    return note


@click.command()
@click.option("--listen", help="HOST:PORT to accept clients on [127.0.0.1:8765].")
@click.option("--upstream", "upstream_url", help="Hydra endpoint (also $RECORDER_UPSTREAM_URL).")
@click.option("--max-sessions", type=int, help="Concurrent calls before server_full + 1013.")
@click.option("--max-sessions-per-client", type=int,
              help="Concurrent calls from one client address before server_full [0: no limit].")
@click.option("--max-message-mb", type=int,
              help="Largest message either side may send, decompressed, in MiB [8]; "
                   "a larger one ends the call with 1009.")
@click.option("--workers", type=int,
              help="Proxy processes sharing the port, one per core beyond ~100 calls [1].")
@click.option("--drain-timeout", "drain_timeout_s", type=float,
              help="Seconds calls may run on after SIGTERM before they are closed with 1001.")
@click.option("--certfile", help="Serve wss:// with this certificate chain (PEM).")
@click.option("--keyfile", help="Private key for --certfile (PEM).")
@click.option("--upstream-ca-file", help="CA bundle to verify the upstream's TLS certificate.")
@click.option("--recording-failure", type=click.Choice(["close", "continue"]),
              help="When the journal cannot be written: close the call (default) or forward unrecorded.")
@click.option("--fsync", type=click.Choice(["always", "interval", "never"]),
              help="Journal fsync policy [interval].")
@click.option("--flush-interval", "flush_interval_s", type=float,
              help="Journal flush interval in seconds [0.2]: at most this much is lost in a crash.")
@click.option("--min-free-disk-mb", type=int,
              help="Refuse new calls (server_full, 1013) below this much free disk [500].")
@common_options
def proxy(config_file: Path | None, log_level: str | None, **flags: object) -> None:
    """Run the transparent recording proxy in front of Hydra."""
    settings = build_settings(config_file, log_level, **flags)
    if settings.workers > 1:
        from recorder.proxy.workers import run_workers

        note = first_run_note(settings)
        if note is not None:
            log.warning("recorder proxy with %d workers: %s", settings.workers, note)
        raise SystemExit(run_workers(settings))
    asyncio.run(run_proxy(settings))


@click.command()
@common_options
def recover(config_file: Path | None, log_level: str | None, **flags: object) -> None:
    """Archive calls whose journals a crash left behind (marked incomplete, with the reason)."""
    from recorder.proxy.startup import prepare_recorder

    settings = build_settings(config_file, log_level, **flags)
    recorder = prepare_recorder(settings, recover=False)
    try:
        pending = recorder.pending_journals()
        results = recorder.recover(strict=True)
    finally:
        recorder.engine.dispose()
    for result in results:
        click.echo(f"{result.session_id}: {result.state} ({result.reason or 'complete'}) -> {result.relative_path}")
    click.echo(f"recovered {len(results)} of {len(pending)} journals")
    if len(results) != len(pending):
        raise SystemExit(1)

