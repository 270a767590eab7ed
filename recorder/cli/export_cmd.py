"""`recorder export SESSION --out DIR [--original --reason TEXT]`: an auditor's decrypted copy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from recorder.audit.export import export_original, export_redacted
from recorder.archive.store import open_store
from recorder.cli.options import build_settings, common_options, os_user
from recorder.crypto.keys import KeyStore
from recorder.db import access_log
from recorder.db.engine import make_engine, transaction, upgrade


@click.command()
@click.argument("session_key", metavar="SESSION")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path),
              help="Directory to write into (created 0700; must be empty unless --force).")
@click.option("--original", is_flag=True,
              help="Decrypt the original recording (needs archive identities and --reason).")
@click.option("--reason", help="Why the call is opened; kept in the access log (required with --original).")
@click.option("--actor", help="Who is exporting, for the access log (default: the OS user).")
@click.option("--force", is_flag=True, help="Write into a non-empty private directory.")
@common_options
@click.pass_context
def export(ctx: click.Context, session_key: str, out_dir: Path, original: bool, reason: str | None,
           actor: str | None, force: bool, config_file: Path | None, home: Path | None,
           database_url: str | None, log_level: str | None) -> None:
    """Decrypt one call (recorder id or Hydra session id) into DIR.

    By default the redacted copy (auditor keys): recording.wav with every redacted stretch
    bleeped, transcript.json (redacted), metadata.json and manifest.json with its signature.
    With --original: the original recording.wav (stereo: left caller, right agent),
    unplayed.wav when barge-ins cut audio, metadata.json and the manifest. The archive is
    verified first; the access (actor, reason) is logged before any file is written.
    """
    if not original:
        who = actor if actor is not None else os_user()
        if not who.strip():
            raise click.UsageError("--actor must not be empty")
        settings = build_settings(config_file, log_level, home=home, database_url=database_url)
        upgrade(settings.effective_database_url)
        engine = make_engine(settings.effective_database_url)
        try:
            result = export_redacted(settings.home, engine, KeyStore(settings.home / "keys"), session_key,
                                     out_dir, actor=who.strip(), reason=reason, force=force,
                                     store=open_store(settings))
        finally:
            engine.dispose()
        click.echo(
            f"exported redacted {result.session_id} (manifest {result.manifest_version}) to "
            f"{result.out_dir}: {', '.join(result.files)}; access logged as entry {result.access_seq} "
            f"for {who.strip()}"
        )
        return
    if reason is None or not reason.strip():
        raise click.UsageError(
            "--original needs --reason TEXT: why the original recording is opened "
            "(it is kept in the access log)"
        )
    who = actor if actor is not None else os_user()
    if not who.strip():
        raise click.UsageError("--actor must not be empty")
    settings = build_settings(config_file, log_level, home=home, database_url=database_url)
    url = settings.effective_database_url
    upgrade(url)
    engine = make_engine(url)
    try:
        result = export_original(settings.home, engine, KeyStore(settings.home / "keys"), session_key,
                                 out_dir, actor=who.strip(), reason=reason, force=force,
                                 store=open_store(settings))
    finally:
        engine.dispose()
    click.echo(
        f"exported {result.session_id} (manifest {result.manifest_version}) to {result.out_dir}: "
        f"{', '.join(result.files)}; access logged as entry {result.access_seq} for {who.strip()}"
    )


@click.command("access-log")
@click.option("--session", "session_id", metavar="ID", help="Only accesses to this recorder id.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@common_options
@click.pass_context
def access_log_cmd(ctx: click.Context, session_id: str | None, as_json: bool, config_file: Path | None,
                   home: Path | None, database_url: str | None, log_level: str | None) -> None:
    """Who accessed which recording, when and why; checks the log's hash chain (exit 1 if broken)."""
    settings = build_settings(config_file, log_level, home=home, database_url=database_url)
    url = settings.effective_database_url
    upgrade(url)
    engine = make_engine(url)
    try:
        with transaction(engine) as session:
            chain = access_log.read(session)
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


COMMANDS: list[click.Command] = [export, access_log_cmd]
