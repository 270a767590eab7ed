"""placeholder; filled in below."""

import click

COMMANDS: list[click.Command] = []
