"""`recorder redact`: the redaction engine on the command line (filled in by the redaction work)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
