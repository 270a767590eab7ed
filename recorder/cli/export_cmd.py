"""`recorder export SESSION --out DIR [--original --reason TEXT] [--format vcon]`: an auditor's copy."""

from __future__ import annotations

from pathlib import Path

import click

from recorder.cli.options import build_settings, common_options, os_user
from recorder.crypto.keys import KeyStore
from recorder.db.engine import open_database


@click.command()
@click.argument("session_key", metavar="SESSION")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path),
              help="Directory to write into (created 0700; must be empty unless --force); "
                   "with --format vcon, the file to write (0600).")
@click.option("--format", "fmt", type=click.Choice(["dir", "vcon"]), default="dir", show_default=True,
              help="dir: plain files; vcon: one signed vCon (IETF draft JSON, JWS with the signing key).")
@click.option("--original", is_flag=True,
              help="Decrypt the original recording (needs archive identities and --reason).")
@click.option("--reason", help="Why the call is opened; kept in the access log (required with --original).")
@click.option("--actor", help="Who is exporting, for the access log (default: the OS user).")
@click.option("--force", is_flag=True, help="Write into a non-empty private directory.")
@common_options
def export(session_key: str, out_dir: Path, fmt: str, original: bool, reason: str | None,
           actor: str | None, force: bool, config_file: Path | None, home: Path | None,
           database_url: str | None, log_level: str | None) -> None:
    """Decrypt one call (recorder id or Hydra session id) into DIR (access logged).

    By default the redacted copy (auditor keys): recording.wav with every redacted stretch
    bleeped, transcript.json (redacted), metadata.json and manifest.json with its signature
    (manifest.json.sig). With --original: the original recording.wav (stereo: left caller,
    right agent), unplayed.wav when barge-ins cut audio, metadata.json and the manifest. The
    archive is verified first; the access (actor, reason) is logged before any file is written.
    With --format vcon: one vCon file (redacted recording by default) signed with the
    recorder's signing key.
    """
    if original and (reason is None or not reason.strip()):
        raise click.UsageError(
            "--original needs --reason TEXT: why the original recording is opened "
            "(it is kept in the access log)"
        )
    who = (actor if actor is not None else os_user()).strip()
    if not who:
        raise click.UsageError("--actor must not be empty")
    settings = build_settings(config_file, log_level, home=home, database_url=database_url)
    engine = open_database(settings.effective_database_url)
    keystore = KeyStore(settings.home / "keys")
    try:
        from recorder.archive.store import open_store

        store = open_store(settings)
        if fmt == "vcon":
            from recorder.audit.vcon import export_vcon  # numpy, soundfile

            vcon = export_vcon(settings.home, engine, keystore, session_key, out_dir, actor=who,
                               original=original, reason=reason, force=force, store=store)
            click.echo(f"exported {vcon.session_id} as vCon {vcon.uuid} "
                       f"({'original' if original else 'redacted'} recording, manifest "
                       f"{vcon.manifest_version}) to {vcon.out}; access logged as entry "
                       f"{vcon.access_seq} for {who}")
            return
        from recorder.audit.export import export_original, export_redacted  # numpy, soundfile

        if original:
            assert reason is not None
            result = export_original(settings.home, engine, keystore, session_key, out_dir,
                                     actor=who, reason=reason, force=force, store=store)
        else:
            result = export_redacted(settings.home, engine, keystore, session_key, out_dir,
                                     actor=who, reason=reason, force=force, store=store)
    finally:
        engine.dispose()
    click.echo(
        f"exported {'' if original else 'redacted '}{result.session_id} "
        f"(manifest {result.manifest_version}) to {result.out_dir}: {', '.join(result.files)}; "
        f"access logged as entry {result.access_seq} for {who}"
    )
