"""`recorder simulate hydra|pulse`: real local stand-ins for the vendor services."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from recorder import logs
from recorder.config import parse_host_port
from recorder.errors import ConfigError

if TYPE_CHECKING:
    from recorder.simulate.hydra import HydraSimConfig

DEFAULT_SIM_LISTEN = "127.0.0.1:8766"
DEFAULT_PULSE_LISTEN = "127.0.0.1:8767"


@click.group()
def simulate() -> None:
    """Run a local stand-in for a vendor service (real sockets, documented protocol)."""


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
@click.option("--seed", type=int, default=0, show_default=True,
              help="Same seed, same event ids and audio (session ids are unique all the same).")
@click.option("--capacity", type=int, default=100, show_default=True,
              help="Concurrent sessions before server_full + close 1013.")
@click.option("--speed", type=float, default=4.0, show_default=True,
              help="Agent audio is sent this many times faster than real time.")
@click.option("--api-key", "api_keys", multiple=True,
              help="Accept only this key (repeatable); default: any non-empty key.")
@click.option("--response-ms", type=int, default=1200, show_default=True, help="Audio per spoken response.")
@click.option("--speech", type=click.Choice(["wordcode", "synthetic"]), default="wordcode", show_default=True,
              help="wordcode: replies spoken in the audio word code the Pulse stand-in reads back; "
                   "synthetic: speech-like tones with no words.")
@click.option("--idle-timeout", type=float, default=30.0, show_default=True,
              help="Seconds without frames before close 1000.")
@click.option("--tool-timeout", type=float, default=10.0, show_default=True,
              help="Seconds to wait for function_call_output + response.create.")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
              help="Least severe log messages shown on stderr.")
def hydra(listen: str, seed: int, capacity: int, speed: float, api_keys: tuple[str, ...],
          response_ms: int, speech: str, idle_timeout: float, tool_timeout: float,
          log_level: str) -> None:
    """Serve a local Hydra speech-to-speech stand-in (ws://HOST:PORT/waves/v1/s2s)."""
    from recorder.simulate.hydra import HydraSimConfig

    logs.configure(log_level)
    host, port = parse_host_port(listen, "--listen", "command line")
    config = HydraSimConfig(
        seed=seed, capacity=capacity, speed=speed, api_keys=frozenset(api_keys) or None,
        response_ms=response_ms, idle_timeout_s=idle_timeout, tool_response_timeout_s=tool_timeout,
        speech=speech,
    )

    def announce(url: str) -> None:
        click.echo(f"Hydra stand-in listening on {url}  (Ctrl-C to stop)")

    asyncio.run(serve_hydra(config, host, port, announce))


@simulate.command()
@click.option("--listen", default=DEFAULT_PULSE_LISTEN, show_default=True, help="HOST:PORT to serve on.")
@click.option("--rpm", type=click.IntRange(min=0), default=25, show_default=True,
              help="Requests admitted per sliding minute before 429 (0: no limit).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Same seed, same request ids and the same fault for the n-th request.")
@click.option("--api-key", "api_keys", multiple=True,
              help="Accept only this bearer key (repeatable); default: any non-empty key.")
@click.option("--rate-429", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of requests refused with 429 (a storm).")
@click.option("--rate-503", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of requests answered 503.")
@click.option("--rate-500", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of requests answered 500.")
@click.option("--rate-reset", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of requests whose connection is reset without an answer.")
@click.option("--slow", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Seconds to wait before every answer given after the body is read.")
@click.option("--no-retry-after", is_flag=True, help="Send 429 without a Retry-After header.")
@click.option("--max-mb", type=click.FloatRange(min=0, min_open=True), default=250.0,
              show_default=True, help="Largest body in MiB before 413.")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
              help="Least severe log messages shown on stderr.")
def pulse(listen: str, rpm: int, seed: int, api_keys: tuple[str, ...], rate_429: float,
          rate_503: float, rate_500: float, rate_reset: float, slow: float, no_retry_after: bool,
          max_mb: float, log_level: str) -> None:
    """Serve a local Pulse STT stand-in (POST http://HOST:PORT/waves/v1/stt/)."""
    from recorder.simulate.pulse import PulseSimConfig, serve_pulse

    logs.configure(log_level)
    host, port = parse_host_port(listen, "--listen", "command line")
    try:
        config = PulseSimConfig(
            api_keys=frozenset(api_keys) or None, rpm_limit=rpm, max_bytes=int(max_mb * 2**20),
            seed=seed, rate_429=rate_429, rate_503=rate_503, rate_500=rate_500, slow_s=slow,
            rate_reset=rate_reset, retry_after=not no_retry_after,
        )
    except ValueError as exc:
        raise ConfigError("--rate-*", "command line", str(exc)) from exc

    def announce(url: str) -> None:
        click.echo(f"Pulse STT stand-in listening on {url}  (Ctrl-C to stop)")

    serve_pulse(config, host, port, announce=announce)

