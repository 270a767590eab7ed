"""The `recorder` command: builds Settings once, configures logging, dispatches to shells."""

from __future__ import annotations

import sys
from typing import Any

import click

from recorder import __version__
from recorder.errors import RecorderError


class RecorderGroup(click.Group):
    """Turns our own errors into one clear line and exit code 2, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RecorderError as exc:
            click.echo(f"recorder: error: {exc}", err=True)
            ctx.exit(2)


@click.group(cls=RecorderGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="recorder")
def cli() -> None:
    """Compliance recording for realtime voice agents on Smallest AI's Hydra."""


def _register() -> None:
    from recorder.cli import (
        audit_cmd,
        console_cmd,
        db_cmd,
        demo_cmd,
        export_cmd,
        keys_cmd,
        proxy_cmd,
        redact_cmd,
        simulate_cmd,
        transcribe_cmd,
        users_cmd,
        verify_cmd,
    )

    for module in (proxy_cmd, simulate_cmd, db_cmd, audit_cmd, demo_cmd, redact_cmd, keys_cmd,
                   export_cmd, verify_cmd, transcribe_cmd, console_cmd, users_cmd):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main() -> None:
    sys.exit(cli(standalone_mode=True))


if __name__ == "__main__":
    main()
