"""`recorder retention status|apply`: the settings file's retention policies, per tenant."""

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


@click.group()
def retention() -> None:
    """Retention: originals, redacted recordings and transcripts expire per tenant policy."""


@retention.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True,
              help="Show the N soonest expiries (the totals count all).")
@common_options
def status_cmd(as_json: bool, limit: int, config_file: Path | None, home: Path | None,
               database_url: str | None, log_level: str | None) -> None:
    """What expires when, soonest first; held calls are marked and never deleted."""
    from recorder.lifecycle.retention import status

    settings = build_settings(config_file, log_level, home=home, database_url=database_url)

    local_archives_only(settings, "retention")
    now = dt.datetime.now(dt.UTC)
    with migrated_engine(settings) as engine:
        items = status(settings.home, engine, settings.retention, now)
    due = sum(e.due for e in items)
    held = sum(e.expired and e.held for e in items)
    if as_json:
        click.echo(json.dumps({"now": now.isoformat(), "configured": settings.retention.configured,
                               "expiries": len(items), "due": due, "held": held,
                               "items": [e.to_json() for e in items[:limit]]}, indent=2))
        return
    if not settings.retention.configured:
        click.echo("no retention policy configured: nothing expires (see [recorder.retention] in the README)")
        return
    for e in items[:limit]:
        mark = "HELD" if e.held else ("due" if e.expired else "")
        click.echo(f"{e.expires_at.isoformat()[:19]}  {e.session_id:36}  {e.tenant or '-':16} {e.kind:12} {mark}")
    click.echo(f"{len(items)} expiries, {due} due now, {held} expired but held")


@retention.command("apply")
@click.option("--dry-run", is_flag=True, help="Print what would be deleted; delete nothing.")
@click.option("--actor", help="Who runs it, for the access log (default: the OS user).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@common_options
@click.pass_context
def apply_cmd(ctx: click.Context, dry_run: bool, actor: str | None, as_json: bool,
              config_file: Path | None, home: Path | None, database_url: str | None,
              log_level: str | None) -> None:
    """Delete what has expired (never a held call) and print what was done; for cron.

    Exit 0 when every due call was done, 1 when some could not be (each is named).
    """
    from recorder.crypto.keys import KeyStore
    from recorder.lifecycle.retention import apply

    who = actor_or_user(actor)
    settings = build_settings(config_file, log_level, home=home, database_url=database_url)
    local_archives_only(settings, "retention")
    with migrated_engine(settings) as engine:
        outcomes = apply(settings.home, KeyStore(settings.home / "keys"), engine, settings.retention,
                         dt.datetime.now(dt.UTC), actor=who, dry_run=dry_run)
    failed = [o for o in outcomes if o.error]
    if as_json:
        click.echo(json.dumps({"dry_run": dry_run, "calls": [o.to_json() for o in outcomes],
                               "failed": len(failed)}, indent=2))
    else:
        for o in outcomes:
            if o.error:
                click.echo(f"{o.session_id}: NOT deleted ({', '.join(o.kinds)}): {o.error}")
            elif o.removed is None:
                click.echo(f"{o.session_id}: would delete {', '.join(o.kinds)}")
            else:
                r = o.removed
                click.echo(f"{o.session_id}: deleted {', '.join(o.kinds)} ({len(r.files)} files"
                           f"{', transcript rows' if r.transcript_rows else ''}; manifest {r.manifest_version})")
        verb = "would delete data of" if dry_run else "deleted data of"
        click.echo(f"retention: {verb} {len(outcomes) - len(failed)} calls, {len(failed)} failed")
    ctx.exit(1 if failed else 0)

