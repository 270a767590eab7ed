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
    """--config, --home, --log-level, --archive-url and --log-format: what a command that does
    not open the database takes."""
    func = click.option("--config", "config_file", type=click.Path(path_type=Path),
                        help="TOML settings file (also $RECORDER_CONFIG).")(func)
    func = click.option("--home", type=click.Path(path_type=Path),
                        help="Data directory (also $RECORDER_HOME).")(func)
    func = click.option("--log-level", default=None,
                        type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
                        help="Least severe log messages shown on stderr [INFO].")(func)
    func = click.option("--archive-url", expose_value=False, callback=_remember("archive_url"),
                        help="Where archives live: s3://BUCKET/PREFIX, or the directory under "
                             "--home by default (also $RECORDER_ARCHIVE_URL).")(func)
    func = click.option("--log-format", type=click.Choice(["text", "json"]), expose_value=False,
                        callback=_remember("log_format"),
                        help="text, or json: one object per line (also $RECORDER_LOG_FORMAT).")(func)
    return func


def common_options(func: F) -> F:
    """The store options plus --database-url."""
    func = click.option("--database-url", help="SQLAlchemy URL (also $RECORDER_DATABASE_URL).")(func)
    return store_options(func)


_REMEMBERED = ("log_format", "archive_url")


def _remember(key: str) -> Callable[[click.Context, click.Parameter, str | None], None]:
    """Kept aside so that every command's signature need not carry it; read by build_settings."""

    def keep(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        ctx.meta[f"recorder.{key}"] = value

    return keep


def os_user() -> str:
    """Who is at the keyboard, for the access log (read here, at the CLI edge, only)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError) as exc:
        raise click.UsageError("cannot tell who you are from the OS; pass --actor NAME") from exc


def build_settings(
    config_file: Path | None, log_level: str | None = None, **flags: Any
) -> Settings:
    ctx = click.get_current_context(silent=True)
    kept = {key: ctx.meta.get(f"recorder.{key}") for key in _REMEMBERED} if ctx is not None else {}
    settings = load_settings(
        overrides={**flags, **kept, "log_level": log_level}, config_file=config_file
    )
    logs.configure(settings.log_level, fmt=settings.log_format)
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


def local_archives_only(settings: Settings, command: str) -> None:
    """Refuse, with the reason, a command that works on the archive directory only."""
    if settings.archive_url:
        raise click.UsageError(f"{command} works on the archive directory under --home; archives in "
                               f"object storage ({settings.archive_url}) are not supported by it yet")


def actor_or_user(actor: str | None) -> str:
    """``--actor``, or the OS user; never empty."""
    who = (actor if actor is not None else os_user()).strip()
    if not who:
        raise click.UsageError("--actor must not be empty")
    return who
