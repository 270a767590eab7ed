"""`recorder db upgrade`: bring the database schema up to date."""

from __future__ import annotations

from pathlib import Path

import click

from recorder.cli.options import build_settings, common_options
from recorder.db.engine import safe_url, upgrade


@click.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Alembic revision to bring the schema to.")
@common_options
def upgrade_cmd(revision: str, config_file: Path | None, home: Path | None,
                database_url: str | None, log_level: str | None) -> None:
    """Run the Alembic migrations (safe to repeat)."""
    settings = build_settings(config_file, log_level, home=home, database_url=database_url)
    upgrade(settings.effective_database_url, revision)
    click.echo(f"database {safe_url(settings.effective_database_url)} is at {revision}")

