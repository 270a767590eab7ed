"""`recorder access-log [--session ID]`: who read which recording, when and why."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session

from recorder.audit.queries import resolve_session
from recorder.cli.options import build_settings, common_options
from recorder.db import access_log
from recorder.db.engine import open_database, transaction
from recorder.db.models import AccessLogEntry
from recorder.errors import NotFound


@click.command("access-log")
@click.option("--session", "session_key", metavar="ID",
              help="Only accesses to this call (recorder id or Hydra session id).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@common_options
@click.pass_context
def access_log_cmd(ctx: click.Context, session_key: str | None, as_json: bool, config_file: Path | None,
                   home: Path | None, database_url: str | None, log_level: str | None) -> None:
    """Who accessed which recording, when and why; checks the log's hash chain (exit 1 if broken)."""
    settings = build_settings(config_file, log_level, home=home, database_url=database_url)
    engine = open_database(settings.effective_database_url)
    try:
        with transaction(engine) as session:
            chain = access_log.read(session)
            session_id = None if session_key is None else _call_id(session, session_key, chain)
            problems = access_log.check_chain(chain)
            rows: list[dict[str, Any]] = [
                {"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor, "action": e.action,
                 "session_id": e.session_id, "reason": e.reason, "detail": e.detail}
                for e in chain if session_id is None or e.session_id == session_id
            ]
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps({"ok": not problems, "entries": rows,
                               "problems": [{"kind": p.kind, "seq": p.seq, "detail": p.detail}
                                            for p in problems]}, indent=2))
    else:
        for r in rows:
            click.echo(f"{r['seq']:>6}  {r['at'][:19]}  {r['actor']:16} {r['action']:16} "
                       f"{r['session_id'] or '-':36}  {r['reason'] or ''}")
        for p in problems:
            click.echo(f"{p.kind}: access log entry {p.seq}: {p.detail}")
        if not problems:
            click.echo(f"ok: access log chain of {len(chain)} entries holds")
    ctx.exit(1 if problems else 0)


def _call_id(session: Session, key: str, chain: Sequence[AccessLogEntry]) -> str:
    """The recorder id `key` names. A call no longer in the database may still have accesses
    on record, so a recorder id found only in the log itself is taken as it is."""
    try:
        return resolve_session(session, key)
    except NotFound:
        if any(e.session_id == key for e in chain):
            return key
        raise
