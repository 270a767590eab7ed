"""`recorder verify [SESSION]`: integrity of archives, ledger and rows, with no decryption key."""

from __future__ import annotations

import json
from pathlib import Path

import click

from recorder.archive.ledger_head import HeadInvalid, parse_shipped_head
from recorder.archive.store import open_store
from recorder.audit.verify import verify as verify_archives
from recorder.audit.verify import verify_target
from recorder.cli.options import build_settings, common_options
from recorder.crypto.keys import KeyStore
from recorder.db.engine import open_database, transaction


@click.command()
@click.argument("session_key", metavar="[SESSION]", required=False)
@click.option("--keys", "keys_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Key store holding the signing public keys (default: HOME/keys). Public "
                   "keys are enough: an auditor uses the store `recorder keys export-public` writes.")
@click.option("--ledger-head", "shipped", multiple=True,
              type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="A signed ledger head kept elsewhere (a copy of ledger-head.json, or shipped "
                   "logs with `ledger head` lines): the ledger must still reach it. Repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@common_options
@click.pass_context
def verify(ctx: click.Context, session_key: str | None, keys_dir: Path | None, shipped: tuple[Path, ...],
           as_json: bool, config_file: Path | None, home: Path | None, database_url: str | None,
           log_level: str | None) -> None:
    """Check signatures, file hashes, the ledger and the rows.

    Everything, or the one call SESSION (recorder id or Hydra session id). Needs no decryption
    key. Prints one line per missing, altered or extra record and exits 1 if there is any;
    exits 0 only when everything holds; exits 2 for an unknown or ambiguous SESSION.
    """
    settings = build_settings(config_file, log_level, home=home, database_url=database_url)
    verify_keys = KeyStore(keys_dir or settings.home / "keys").verify_keys()
    try:
        heads = {str(path): parse_shipped_head(path.read_text(errors="replace"), verify_keys, name=str(path))
                 for path in shipped}
    except HeadInvalid as exc:
        raise click.UsageError(f"--ledger-head {exc}") from exc
    engine = open_database(settings.effective_database_url)
    try:
        store = open_store(settings)
        session_id = None
        if session_key is not None:
            with transaction(engine) as db:
                session_id = verify_target(settings.home, db, session_key, store=store)
        report = verify_archives(settings.home, engine, verify_keys, session=session_id,
                                 shipped_heads=heads, store=store)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps({
            "ok": report.ok, "archives": report.archives, "files": report.files,
            "manifests": report.manifests, "ledger_entries": report.ledger_entries,
            "recordings": report.recordings,
            "problems": [{"kind": p.kind, "subject": p.subject, "detail": p.detail,
                          "session_id": p.session_id} for p in report.problems],
        }, indent=2))
    else:
        for line in report.lines():
            click.echo(line)
        counts = (f"{report.archives} archives, {report.manifests} manifests, {report.files} files, "
                  f"{report.ledger_entries} ledger entries, {report.recordings} recordings rows")
        if report.ok:
            click.echo(f"ok: {counts} verified")
        else:
            click.echo(f"FAILED: {len(report.problems)} problems ({counts} checked)", err=True)
    ctx.exit(0 if report.ok else 1)

