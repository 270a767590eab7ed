"""`recorder simulate hydra|pulse`: real local stand-ins for the vendor services."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from recorder import logs
from recorder.errors import ConfigError

if TYPE_CHECKING:
    from recorder.simulate.hydra import HydraSimConfig

DEFAULT_SIM_LISTEN = "127.0.0.1:8766"


@click.group()
def simulate() -> None:
    """Run a local stand-in for a vendor service (real sockets, documented protocol)."""


def parse_listen(value: str) -> tuple[str, int]:
    """`HOST:PORT` (IPv6 as `[::1]:PORT`) split into host and port."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ConfigError("--listen", "command line", f"expected HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


async def serve_hydra(config: HydraSimConfig, host: str, port: int, announce: Callable[[str], None]) -> None:
    """Serve the Hydra stand-in until SIGINT or SIGTERM."""
    from recorder.simulate.hydra import run_hydra_sim

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with run_hydra_sim(config, host, port) as sim:
            announce(sim.url)
            await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


@simulate.command()
@click.option("--listen", default=DEFAULT_SIM_LISTEN, show_default=True, help="HOST:PORT to serve on.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same ids and audio.")
@click.option("--capacity", type=int, default=100, show_default=True,
              help="Concurrent sessions before server_full + close 1013.")
@click.option("--speed", type=float, default=4.0, show_default=True,
              help="Agent audio is sent this many times faster than real time.")
@click.option("--api-key", "api_keys", multiple=True,
              help="Accept only this key (repeatable); default: any non-empty key.")
@click.option("--response-ms", type=int, default=1200, show_default=True, help="Audio per spoken response.")
@click.option("--idle-timeout", type=float, default=30.0, show_default=True,
              help="Seconds without frames before close 1000.")
@click.option("--tool-timeout", type=float, default=10.0, show_default=True,
              help="Seconds to wait for function_call_output + response.create.")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
def hydra(listen: str, seed: int, capacity: int, speed: float, api_keys: tuple[str, ...],
          response_ms: int, idle_timeout: float, tool_timeout: float, log_level: str) -> None:
    """Serve a local Hydra speech-to-speech stand-in (ws://HOST:PORT/waves/v1/s2s)."""
    from recorder.simulate.hydra import HydraSimConfig

    logs.configure(log_level)
    host, port = parse_listen(listen)
    config = HydraSimConfig(
        seed=seed, capacity=capacity, speed=speed, api_keys=frozenset(api_keys) or None,
        response_ms=response_ms, idle_timeout_s=idle_timeout, tool_response_timeout_s=tool_timeout,
    )

    def announce(url: str) -> None:
        click.echo(f"Hydra stand-in listening on {url}  (Ctrl-C to stop)")

    asyncio.run(serve_hydra(config, host, port, announce))


COMMANDS: list[click.Command] = [simulate]
