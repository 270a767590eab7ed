"""`recorder keys ...`: the key store under RECORDER_HOME/keys."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import click

from recorder.cli.options import build_settings, common_options, store_options
from recorder.config import Settings
from recorder.crypto.keys import KeyStore

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from recorder.archive.rewrap import RewrapResult


def key_store(settings: Settings) -> KeyStore:
    return KeyStore(settings.home / "keys")


def _settings(config_file: Path | None, home: Path | None, log_level: str | None) -> Settings:
    return build_settings(config_file, log_level, home=home)


@click.group()
def keys() -> None:
    """Archive, auditor and signing keys: create, list, rotate, rewrap, shred."""


@keys.command("init")
@store_options
def init_cmd(config_file: Path | None, home: Path | None, log_level: str | None) -> None:
    """Create whichever keys are missing (safe to repeat)."""
    store = key_store(_settings(config_file, home, log_level))
    created = store.init()
    for row in created:
        click.echo(f"created {row.tier} key {row.key_id} ({row.kind})")
    if not created:
        click.echo("all keys present")
    elif any(row.tier != "signing" for row in created):
        click.echo("these identities decrypt recordings: production keeps them off proxy hosts "
                   "(give a proxy host only public keys: `recorder keys export-public DIR "
                   "--with-signing-key`)")


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@store_options
def list_cmd(as_json: bool, config_file: Path | None, home: Path | None, log_level: str | None) -> None:
    """Every key with its id, tier, state and public key (never a secret)."""
    rows = key_store(_settings(config_file, home, log_level)).list()
    if as_json:
        click.echo(json.dumps([asdict(r) for r in rows], indent=2))
        return
    for r in rows:
        click.echo(f"{r.key_id:14} {r.tier:8} {r.state:8} {r.kind:17} {r.created}  {r.public}")


@keys.command("rotate")
@click.argument("tier", type=click.Choice(["archive", "auditor", "signing"]))
@store_options
def rotate_cmd(tier: str, config_file: Path | None, home: Path | None, log_level: str | None) -> None:
    """Make a new active key for TIER; the old one is retired (it still decrypts until rewrap)."""
    row = key_store(_settings(config_file, home, log_level)).rotate(tier)  # type: ignore[arg-type]
    click.echo(f"{tier} key {row.key_id} is now active; run `recorder keys rewrap` to move old files to it")


@keys.command("retire")
@click.argument("key_id")
@store_options
def retire_cmd(key_id: str, config_file: Path | None, home: Path | None, log_level: str | None) -> None:
    """Stop wrapping new files to KEY_ID."""
    row = key_store(_settings(config_file, home, log_level)).retire(key_id)
    click.echo(f"{row.key_id} is {row.state}")


@keys.command("delete")
@click.argument("key_id")
@click.option("--yes", is_flag=True, help="Confirm: files wrapped only to this key become unreadable.")
@store_options
def delete_cmd(key_id: str, yes: bool, config_file: Path | None, home: Path | None,
               log_level: str | None) -> None:
    """Crypto-shred a retired key: delete its secret file."""
    if not yes:
        raise click.UsageError("deleting a key is irreversible; add --yes to confirm")
    row = key_store(_settings(config_file, home, log_level)).delete(key_id)
    click.echo(f"{row.key_id} is {row.state}")


@keys.command("add-recipient")
@click.argument("tier", type=click.Choice(["archive", "auditor"]))
@click.argument("recipient")
@store_options
def add_recipient_cmd(tier: str, recipient: str, config_file: Path | None, home: Path | None,
                      log_level: str | None) -> None:
    """Also wrap new TIER files to an outside age public key (e.g. an offline escrow key)."""
    row = key_store(_settings(config_file, home, log_level)).add_recipient(tier, recipient)  # type: ignore[arg-type]
    click.echo(f"added {tier} recipient {row.key_id}")


@keys.command("export-public")
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--with-signing-key", is_flag=True,
              help="Include the active signing secret (a proxy host signs manifests).")
@store_options
def export_public_cmd(dest: Path, with_signing_key: bool, config_file: Path | None,
                      home: Path | None, log_level: str | None) -> None:
    """Write a key store with public keys only, for a proxy host or an auditor."""
    key_store(_settings(config_file, home, log_level)).export_public(
        dest, include_signing_key=with_signing_key
    )
    click.echo(f"public key store written to {dest}")


@keys.command("rewrap")
@click.option("--tier", type=click.Choice(["archive", "auditor"]), default="archive", show_default=True,
              help="Which files: originals (archive) or redacted derivatives (auditor).")
@click.option("--session", "session_key", metavar="ID",
              help="Only this archive (recorder id or Hydra session id).")
@common_options
@click.pass_context
def rewrap_cmd(ctx: click.Context, tier: str, session_key: str | None, config_file: Path | None,
               home: Path | None, database_url: str | None, log_level: str | None) -> None:
    """Re-wrap archive file keys to the active TIER keys (audio is not re-encrypted).

    Needs the identities of every key the files are wrapped to now. Each changed archive gets a
    new signed manifest version and ledger entry; running it again changes nothing. Exits 1 if
    any archive could not be rewrapped.
    """
    from recorder.archive.rewrap import rewrap_all  # soundfile, numpy
    from recorder.archive.store import open_store
    from recorder.db.engine import open_database

    settings = build_settings(config_file, log_level, home=home, database_url=database_url)
    store = key_store(settings)
    engine = open_database(settings.effective_database_url)
    try:
        sessions = None if session_key is None else [_archive_id(settings, engine, session_key)]
        results = rewrap_all(settings.home, store, engine, tier=tier, sessions=sessions,  # type: ignore[arg-type]
                             on_result=_progress, store=open_store(settings))
    finally:
        engine.dispose()
    changed = [r for r in results if r.changed]
    failed = [r for r in results if r.error]
    click.echo(
        f"rewrap: {len(results)} archives, {len(changed)} rewrapped "
        f"({sum(len(r.rewrapped) for r in changed)} files), "
        f"{len(results) - len(changed) - len(failed)} unchanged, {len(failed)} failed",
        err=True,
    )
    ctx.exit(1 if failed else 0)


def _archive_id(settings: Settings, engine: Engine, key: str) -> str:
    """The recorder id of an archive named by recorder id or Hydra session id (refused when it
    names several calls); an archive the database has no row for is found by its directory."""
    from recorder.archive.store import open_store
    from recorder.audit.queries import resolve_session
    from recorder.db.engine import transaction
    from recorder.errors import NotFound

    try:
        with transaction(engine) as session:
            return resolve_session(session, key)
    except NotFound:
        try:
            if open_store(settings).find(key) is not None:
                return key
        except ValueError:
            pass  # not a safe directory name, so no archive's
        raise


def _progress(result: RewrapResult) -> None:
    if result.error:
        line = f"{result.session_id}: FAILED: {result.error}"
    elif result.changed:
        line = f"{result.session_id}: {len(result.rewrapped)} files rewrapped, manifest {result.manifest_version}"
    else:
        line = f"{result.session_id}: unchanged ({len(result.skipped)} files already on the active keys)"
    click.echo(line, err=True)

