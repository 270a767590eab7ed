"""`recorder proxy`: the main job."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from recorder.cli.options import build_settings, common_options

log = logging.getLogger(__name__)


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
        from recorder.proxy.startup import first_run_note
        from recorder.proxy.workers import run_workers

        note = first_run_note(settings)
        if note is not None:
            log.warning("recorder proxy with %d workers: %s", settings.workers, note)
        raise SystemExit(run_workers(settings))
    from recorder.proxy.run import run

    run(settings)


@click.command()
@common_options
def recover(config_file: Path | None, log_level: str | None, **flags: object) -> None:
    """Archive calls whose journals a crash left behind (marked incomplete, with the reason).

    Journals whose owner is alive (a running proxy's live or finishing calls) are left alone
    and listed as skipped."""
    from recorder.archive.pipeline import recover_orphans
    from recorder.archive.store import open_store
    from recorder.db.engine import make_engine, upgrade
    from recorder.proxy.startup import prepare_recorder

    settings = build_settings(config_file, log_level, **flags)
    keystore = prepare_recorder(settings).keystore
    upgrade(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    try:
        done = recover_orphans(
            settings.home / "spool", home=settings.home, keystore=keystore, engine=engine,
            gap_threshold_ms=settings.gap_threshold_ms, identities=keystore.identities("archive"),
            pci_tools=settings.pci_tools, store=open_store(settings),
        )
    finally:
        engine.dispose()
    for result in done.archived:
        click.echo(f"{result.session_id}: {result.state} ({result.reason or 'complete'}) -> {result.relative_path}")
    for session_dir, owner in done.skipped:
        click.echo(f"{session_dir.name}: skipped, its call is live ({owner})")
    for session_dir, error in done.failed:
        click.echo(f"{session_dir.name}: FAILED: {error}", err=True)
    orphans = len(done.archived) + len(done.failed)
    click.echo(f"recovered {len(done.archived)} of {orphans} journals"
               + (f"; skipped {len(done.skipped)} live" if done.skipped else ""))
    if done.failed:
        raise SystemExit(1)

