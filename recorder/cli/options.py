"""Options shared by several commands, turned into one Settings at the CLI edge."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from recorder import logs
from recorder.config import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])


def common_options(func: F) -> F:
    func = click.option("--config", "config_file", type=click.Path(path_type=Path),
                        help="TOML settings file (also $RECORDER_CONFIG).")(func)
    func = click.option("--home", type=click.Path(path_type=Path),
                        help="Data directory (also $RECORDER_HOME).")(func)
    func = click.option("--database-url", help="SQLAlchemy URL (also $RECORDER_DATABASE_URL).")(func)
    func = click.option("--log-level", default=None,
                        type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))(func)
    func = click.option("--archive-url", expose_value=False, callback=_remember("archive_url"),
                        help="Where archives live: s3://BUCKET/PREFIX, or the directory under "
                             "--home by default (also $RECORDER_ARCHIVE_URL).")(func)
    func = click.option("--log-format", type=click.Choice(["text", "json"]), expose_value=False,
                        callback=_remember("log_format"),
                        help="text, or json: one object per line (also $RECORDER_LOG_FORMAT).")(func)
    return func


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
