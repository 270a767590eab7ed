"""`recorder hold add|list|release`: legal holds that stop any deletion or erasure of a call."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from recorder.cli.options import actor_or_user, build_settings, common_options, migrated_engine

MAX_QUERY_TURNS = 100_000  # a query hold lists the calls of at most this many matching turns


@click.group()
def hold() -> None:
    """Legal holds: a held call cannot be deleted or erased by any command."""


@hold.command("add")
@click.argument("session_key", metavar="[SESSION]", required=False)
@click.option("--tenant", help="Hold every call of this tenant (X-Recorder-Tenant), now and future.")
@click.option("--query", help="Hold every call whose redacted transcript matches these words now.")
@click.option("--reason", required=True, help="Why (a case or matter reference); on the access log.")
@click.option("--actor", help="Who places the hold (default: the OS user).")
@click.option("--json", "as_json", is_flag=True, help="Print the hold as JSON.")
@common_options
def add(session_key: str | None, tenant: str | None, query: str | None, reason: str, actor: str | None,
        as_json: bool, config_file: Path | None, home: Path | None, database_url: str | None,
        log_level: str | None) -> None:
    """Place a hold on one call (SESSION: recorder id or Hydra session id), a tenant or a query."""
    from recorder.audit.queries import find_session
    from recorder.db import holds
    from recorder.db.engine import transaction
    from recorder.db.transcripts import search_turns

    if sum(x is not None for x in (session_key, tenant, query)) != 1:
        raise click.UsageError("give exactly one of SESSION, --tenant T or --query TEXT")
    who = actor_or_user(actor)
    settings = build_settings(config_file, log_level, home=home, database_url=database_url)
    now = dt.datetime.now(dt.UTC)
    with migrated_engine(settings) as engine, transaction(engine) as session:
        if session_key is not None:
            info = holds.place(session, scope="session", session_ids=[find_session(session, session_key).id],
                               reason=reason, actor=who, now=now)
        elif tenant is not None:
            info = holds.place(session, scope="tenant", tenant=tenant, reason=reason, actor=who, now=now)
        else:
            assert query is not None
            ids = sorted({h.session_id for h in search_turns(session, query, limit=MAX_QUERY_TURNS)})
            info = holds.place(session, scope="query", query=query, session_ids=ids, reason=reason,
                               actor=who, now=now)
    if as_json:
        click.echo(json.dumps(info.to_json(), indent=2))
    else:
        covers = f"tenant {info.tenant}" if info.scope == "tenant" else f"{len(info.session_ids)} call(s)"
        click.echo(f"hold {info.id} placed on {covers} by {info.actor}: {info.reason}")


@hold.command("list")
@click.option("--all", "include_released", is_flag=True, help="Released holds too.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@common_options
def list_cmd(include_released: bool, as_json: bool, config_file: Path | None, home: Path | None,
             database_url: str | None, log_level: str | None) -> None:
    """Active holds (with --all, released ones too)."""
    from recorder.db import holds
    from recorder.db.engine import transaction

    settings = build_settings(config_file, log_level, home=home, database_url=database_url)
    with migrated_engine(settings) as engine, transaction(engine) as session:
        rows = holds.list_holds(session, include_released=include_released)
    if as_json:
        click.echo(json.dumps([h.to_json() for h in rows], indent=2))
        return
    if not rows:
        click.echo("no holds")
    for h in rows:
        covers = f"tenant {h.tenant}" if h.scope == "tenant" else ", ".join(h.session_ids)
        state = "active" if h.active else f"released {h.released_at} by {h.released_by}"
        click.echo(f"{h.id:>5}  {h.created_at[:19]}  {h.actor:16} {state:10} {h.scope:8} {covers}  ({h.reason})")


@hold.command("release")
@click.argument("hold_id", type=int, metavar="ID")
@click.option("--reason", required=True, help="Why the hold is lifted; on the access log.")
@click.option("--actor", help="Who releases it (default: the OS user).")
@click.option("--json", "as_json", is_flag=True, help="Print the hold as JSON.")
@common_options
def release(hold_id: int, reason: str, actor: str | None, as_json: bool, config_file: Path | None,
            home: Path | None, database_url: str | None, log_level: str | None) -> None:
    """Release hold ID: its calls may be deleted again (unless another hold covers them)."""
    from recorder.db import holds
    from recorder.db.engine import transaction

    who = actor_or_user(actor)
    settings = build_settings(config_file, log_level, home=home, database_url=database_url)
    with migrated_engine(settings) as engine, transaction(engine) as session:
        info = holds.release(session, hold_id, reason=reason, actor=who, now=dt.datetime.now(dt.UTC))
    if as_json:
        click.echo(json.dumps(info.to_json(), indent=2))
    else:
        click.echo(f"hold {info.id} released by {info.released_by}: {info.release_reason}")

