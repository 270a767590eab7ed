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
    func = click.option("--log-format", type=click.Choice(["text", "json"]), expose_value=False,
                        callback=_remember_log_format,
                        help="text, or json: one object per line (also $RECORDER_LOG_FORMAT).")(func)
    return func


def _remember_log_format(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """Kept aside so that every command's signature need not carry it; read by build_settings."""
    ctx.meta["recorder.log_format"] = value


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
    log_format = ctx.meta.get("recorder.log_format") if ctx is not None else None
    settings = load_settings(
        overrides={**flags, "log_level": log_level, "log_format": log_format},
        config_file=config_file,
    )
    logs.configure(settings.log_level, fmt=settings.log_format)
    return settings
