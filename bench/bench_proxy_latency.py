"""Added latency of the recording proxy, per direction, against a direct connection.

Run: `python bench/bench_proxy_latency.py [--calls 1 100] [--seconds 10]`

Each simulated call streams like a real one: the client sends a 20 ms caller frame every 20 ms
(`input_audio_buffer.append`, 640 bytes of PCM), the upstream sends a 200 ms agent frame every
100 ms (`response.output_audio.delta`, 19,200 bytes: twice real time, as Hydra does). Every frame
carries its send time (CLOCK_MONOTONIC, shared by all processes on the machine) in its
`event_id`; the receiver subtracts. The proxy runs as a separate `recorder proxy` process with its
default SQLite database, exactly as a user runs it; upstream and clients share this process. The
baseline is the same load connected straight to the upstream, measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

CALLER_PCM = base64.b64encode(bytes(640)).decode()
AGENT_PCM = base64.b64encode(bytes(19_200)).decode()


def caller_frame(now: int) -> str:
    return '{"type":"input_audio_buffer.append","event_id":"t%d","audio":"%s"}' % (now, CALLER_PCM)


def agent_frame(now: int) -> str:
    return (
        '{"type":"response.output_audio.delta","event_id":"t%d","response_id":"resp_1",'
        '"item_id":"item_1","output_index":0,"content_index":0,"delta":"%s"}' % (now, AGENT_PCM)
    )


def sent_at(message: str) -> int:
    start = message.index('"event_id":"t') + 13
    return int(message[start : message.index('"', start)])


@dataclass
class Samples:
    c2s: list[tuple[int, float]] = field(default_factory=list)  # (sent at ns, latency ms)
    s2c: list[tuple[int, float]] = field(default_factory=list)


async def paced(period_s: float, stop_at: float, send: object) -> None:
    next_at = time.monotonic()
    while next_at < stop_at:
        await send(time.monotonic_ns())  # type: ignore[operator]
        next_at += period_s
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))


async def run_load(url: str, calls: int, seconds: float, samples: Samples) -> None:
    async def one_call(index: int) -> None:
        await asyncio.sleep(index * 0.02 % 0.1)  # spread the frame phases
        async with connect(url, max_size=None, ping_interval=None, compression=None,
                           close_timeout=60) as ws:
            stop_at = time.monotonic() + seconds

            async def reader() -> None:
                async for message in ws:
                    sent = sent_at(str(message))
                    samples.s2c.append((sent, (time.monotonic_ns() - sent) / 1e6))

            async with asyncio.TaskGroup() as tasks:
                read = tasks.create_task(reader())
                await paced(0.02, stop_at, lambda now: ws.send(caller_frame(now)))
                await ws.close()
                await read

    async with asyncio.TaskGroup() as tasks:
        for index in range(calls):
            tasks.create_task(one_call(index))


async def upstream_handler(connection: ServerConnection, up: Samples, seconds: float) -> None:
    stop_at = time.monotonic() + seconds + 0.5

    async def writer() -> None:
        try:
            await paced(0.1, stop_at, lambda now: connection.send(agent_frame(now)))
        except Exception:
            pass

    async with asyncio.TaskGroup() as tasks:
        write = tasks.create_task(writer())
        async for message in connection:
            sent = sent_at(str(message))
            up.c2s.append((sent, (time.monotonic_ns() - sent) / 1e6))
        write.cancel()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_proxy(upstream: str, home: str, workers: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, "RECORDER_HOME": home}
    env.pop("RECORDER_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "recorder.cli.main", "proxy", "--listen", f"127.0.0.1:{port}",
         "--upstream", upstream, "--max-sessions", "1000", "--log-level", "WARNING",
         "--workers", str(workers)],
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                time.sleep(2.0 if workers > 1 else 0)  # every worker bound
                return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("recorder proxy did not start")


def steady(samples: list[tuple[int, float]], skip_s: float = 2.0) -> list[float]:
    """Latencies of frames sent after the calls' set-up and before their tear-down."""
    if not samples:
        return []
    first = min(t for t, _ in samples) + skip_s * 1e9
    last = max(t for t, _ in samples) - 1e9
    return [ms for t, ms in samples if first <= t <= last]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(url: str, calls: int, seconds: float, upstream: Samples) -> Samples:
    client = Samples()
    upstream.c2s.clear()
    await run_load(url, calls, seconds, client)
    return Samples(c2s=list(upstream.c2s), s2c=client.s2c)


async def main(calls_list: list[int], seconds: float, workers_list: list[int]) -> None:
    up_samples = Samples()
    current = {"seconds": seconds}

    async def handler(connection: ServerConnection) -> None:
        await upstream_handler(connection, up_samples, current["seconds"])

    async with serve(handler, "127.0.0.1", 0, max_size=None, ping_interval=None,
                     compression=None) as server:
        upstream = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/waves/v1/s2s"
        direct = upstream + "?model=hydra-v1.1&api_key=sk_bench"
        print(f"# {seconds:.0f} s per run; latency in ms; added = proxied - direct")
        print("# window 'all': every frame; 'steady': frames sent after the first 2 s and")
        print("# before the last 1 s (call set-up and finalization excluded)")
        print("| calls | proxy workers | direction | window | direct p50 | direct p99 | proxied p50 | "
              "proxied p99 | added p50 | added p99 | frames |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for workers in workers_list:
            with tempfile.TemporaryDirectory() as home:
                process, port = start_proxy(upstream, home, workers)
                proxied = f"ws://127.0.0.1:{port}/waves/v1/s2s?model=hydra-v1.1&api_key=sk_bench"
                try:
                    for calls in calls_list:
                        base = await measure(direct, calls, seconds, up_samples)
                        via = await measure(proxied, calls, seconds, up_samples)
                        for name in ("c2s", "s2c"):
                            for window in ("all", "steady"):
                                pick = (lambda x: [ms for _, ms in x]) if window == "all" else steady
                                b, v = pick(getattr(base, name)), pick(getattr(via, name))
                                print(
                                    f"| {calls} | {workers} | {name} | {window} | {pct(b, .5):.2f} | "
                                    f"{pct(b, .99):.2f} | {pct(v, .5):.2f} | {pct(v, .99):.2f} | "
                                    f"{pct(v, .5) - pct(b, .5):.2f} | {pct(v, .99) - pct(b, .99):.2f} | "
                                    f"{len(v)} |",
                                    flush=True,
                                )
                finally:
                    process.send_signal(signal.SIGTERM)
                    process.wait(timeout=120)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[1, 100])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1],
                        help="proxy --workers values to measure, each with every --calls value")
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.seconds, args.workers))
