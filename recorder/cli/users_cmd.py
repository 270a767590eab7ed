"""`recorder users add|list|disable|enable|passwd`: who may sign in to the web console."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import click

from recorder.cli.options import build_settings, common_options
from recorder.config import Settings
from recorder.db.users import ROLES

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

T = TypeVar("T")


def _in_transaction(settings: Settings, work: Callable[[Session], T]) -> T:
    """Run ``work`` in one committed transaction on the (migrated) database."""
    from recorder.db.engine import open_database, transaction

    engine = open_database(settings.effective_database_url)
    try:
        with transaction(engine) as session:
            return work(session)
    finally:
        engine.dispose()


def _password() -> str:
    """From the terminal (asked twice) or, when stdin is not a terminal, its first line."""
    if sys.stdin.isatty():
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    line = sys.stdin.readline(4096)
    if not line:
        raise click.UsageError("no password on standard input (write it as the first line)")
    return line.rstrip("\r\n")


def _hash(password: str) -> str:
    from recorder.console.passwords import hash_password

    return hash_password(password)


@click.group()
def users() -> None:
    """Console users: add, list, disable, enable, passwd."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True,
              help="auditor: redacted calls only; supervisor: also the original after giving a reason.")
@common_options
def add(name: str, role: str, config_file: Path | None, home: Path | None, database_url: str | None,
        log_level: str | None) -> None:
    """Add a user; the password is asked for, or read from standard input when it is not a terminal."""
    from recorder.db.users import add_user, check_name

    settings = build_settings(config_file, log_level, home=home, database_url=database_url)
    check_name(name)
    password_hash = _hash(_password())
    _in_transaction(settings, lambda s: add_user(s, name, role, password_hash, now=dt.datetime.now(dt.UTC)))
    click.echo(f"added {role} {name}")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@common_options
def list_cmd(as_json: bool, config_file: Path | None, home: Path | None, database_url: str | None,
             log_level: str | None) -> None:
    """Every console user with role and state (never the password hash)."""
    from recorder.db.users import list_users

    settings = build_settings(config_file, log_level, home=home, database_url=database_url)
    rows = _in_transaction(settings, list_users)
    if as_json:
        click.echo(json.dumps([{"name": u.name, "role": u.role, "disabled": u.disabled,
                                "created_at": u.created_at.isoformat(), "updated_at": u.updated_at.isoformat()}
                               for u in rows], indent=2))
        return
    if not rows:
        click.echo("no console users; add one with `recorder users add NAME --role auditor`")
    for u in rows:
        click.echo(f"{u.name:24} {u.role:10} {'disabled' if u.disabled else 'enabled'}")


def _set_disabled(name: str, disabled: bool, settings: Settings) -> None:
    from recorder.db.users import set_disabled

    _in_transaction(settings, lambda s: set_disabled(s, name, disabled, now=dt.datetime.now(dt.UTC)))


@users.command("disable")
@click.argument("name")
@common_options
def disable(name: str, config_file: Path | None, home: Path | None, database_url: str | None,
            log_level: str | None) -> None:
    """Stop a user signing in; a running console signs them out at their next request."""
    _set_disabled(name, True, build_settings(config_file, log_level, home=home, database_url=database_url))
    click.echo(f"disabled {name}")


@users.command("enable")
@click.argument("name")
@common_options
def enable(name: str, config_file: Path | None, home: Path | None, database_url: str | None,
           log_level: str | None) -> None:
    """Let a disabled user sign in again."""
    _set_disabled(name, False, build_settings(config_file, log_level, home=home, database_url=database_url))
    click.echo(f"enabled {name}")


@users.command("passwd")
@click.argument("name")
@common_options
def passwd(name: str, config_file: Path | None, home: Path | None, database_url: str | None,
           log_level: str | None) -> None:
    """Set a new password (asked for, or the first line of standard input)."""
    from recorder.db.users import set_password_hash

    settings = build_settings(config_file, log_level, home=home, database_url=database_url)
    password_hash = _hash(_password())
    _in_transaction(settings, lambda s: set_password_hash(s, name, password_hash, now=dt.datetime.now(dt.UTC)))
    click.echo(f"password of {name} changed")

