"""`recorder simulate hydra|pulse`: real local stand-ins for the vendor services."""

from __future__ import annotations

import click


@click.group()
def simulate() -> None:
    """Run a local stand-in for a vendor service (real sockets, documented protocol)."""


COMMANDS: list[click.Command] = [simulate]
