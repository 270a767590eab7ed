"""Options shared by several commands, turned into one Settings at the CLI edge."""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from recorder import logs
from recorder.config import Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

F = TypeVar("F", bound=Callable[..., Any])


def store_options(func: F) -> F:
    """--config, --home and --log-level: what a command that reads only RECORDER_HOME takes."""
    func = click.option("--config", "config_file", type=click.Path(path_type=Path),
                        help="TOML settings file (also $RECORDER_CONFIG).")(func)
    func = click.option("--home", type=click.Path(path_type=Path),
                        help="Data directory (also $RECORDER_HOME).")(func)
    func = click.option("--log-level", default=None,
                        type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
                        help="Least severe log messages shown on stderr [INFO].")(func)
    return func


def common_options(func: F) -> F:
    """The store options plus --database-url."""
    func = click.option("--database-url", help="SQLAlchemy URL (also $RECORDER_DATABASE_URL).")(func)
    return store_options(func)


def os_user() -> str:
    """Who is at the keyboard, for the access log (read here, at the CLI edge, only)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError) as exc:
        raise click.UsageError("cannot tell who you are from the OS; pass --actor NAME") from exc


def build_settings(
    config_file: Path | None, log_level: str | None = None, **flags: Any
) -> Settings:
    settings = load_settings(
        overrides={**flags, "log_level": log_level}, config_file=config_file
    )
    logs.configure(settings.log_level)
    return settings


@contextmanager
def migrated_engine(settings: Settings) -> Iterator[Engine]:
    """An engine on the settings' database at head (Alembic only if it is not); disposed on the way out."""
    from recorder.db.engine import open_database

    engine = open_database(settings.effective_database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def actor_or_user(actor: str | None) -> str:
    """``--actor``, or the OS user; never empty."""
    who = (actor if actor is not None else os_user()).strip()
    if not who:
        raise click.UsageError("--actor must not be empty")
    return who
