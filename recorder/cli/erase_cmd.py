"""`recorder erase SESSION --reason R`: a data subject's erasure, proved by a signed tombstone."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from recorder.cli.options import (
    actor_or_user,
    build_settings,
    common_options,
    local_archives_only,
    migrated_engine,
)


@click.command()
@click.argument("session_key", metavar="SESSION")
@click.option("--reason", required=True, help="Why (e.g. the erasure request's reference); on the access log.")
@click.option("--actor", help="Who erases (default: the OS user).")
@click.option("--json", "as_json", is_flag=True, help="Print what was removed as JSON.")
@common_options
def erase(session_key: str, reason: str, actor: str | None, as_json: bool, config_file: Path | None,
          home: Path | None, database_url: str | None, log_level: str | None) -> None:
    """Erase one call (recorder id or Hydra session id): its original and redacted audio, its
    transcript files and rows and its tool-call payloads. Times, usage and close code stay.

    Writes a signed tombstone (a new manifest version with state `erased`) and its ledger entry,
    so `recorder verify` accepts the deletion. Refused under a legal hold.
    """
    from recorder.crypto.keys import KeyStore
    from recorder.lifecycle.remove import ERASE, remove_data

    who = actor_or_user(actor)
    if not reason.strip():
        raise click.UsageError("--reason must not be empty")
    settings = build_settings(config_file, log_level, home=home, database_url=database_url)
    local_archives_only(settings, "erase")
    with migrated_engine(settings) as engine:
        done = remove_data(settings.home, KeyStore(settings.home / "keys"), engine, session_key,
                           kinds=(), cause=ERASE, reason=reason, actor=who, now=dt.datetime.now(dt.UTC))
    if as_json:
        click.echo(json.dumps(done.to_json(), indent=2))
        return
    click.echo(f"erased {done.session_id}: {len(done.files)} files"
               f"{', transcript rows' if done.transcript_rows else ''}; tombstone is manifest "
               f"{done.manifest_version}" + (f", access log entry {done.access_seq}" if done.access_seq else ""))

