"""What the recording proxy costs a call, against a bare relay and a direct connection.

Run (the full run, on a quiet machine):
    python bench/bench_proxy_latency.py --calls 1 50 100 200 --workers-at 200=2 \
        --seconds 30 --repeat 3 --long-call-minutes 30 --orphans 100
Small check:  python bench/bench_proxy_latency.py --calls 1 5 --seconds 4 --repeat 1 \
        --long-call-minutes 1 --orphans 5

Each simulated call streams like a real one: the client sends a 20 ms caller frame every 20 ms
(`input_audio_buffer.append`, 640 bytes of PCM), the upstream an agent delta
(`response.output_audio.delta`, 48 kHz) of `--agent-ms` (40 ms: 3,840 bytes) every
`--agent-ms / --agent-speed`: by default agent audio in real time for the whole call, as the
load the targets were set on. `--agent-ms 200 --agent-speed 2` is the heavier load of Hydra's
large deltas at twice real time: as many bytes per message as the relay ever forwards, twice
the audio to archive, and a fifth of the agent messages (so less relay work to compare with).
Every frame carries its send time (CLOCK_MONOTONIC, shared by all processes), its call and its
sequence number, so the receiver measures latency and counts frames lost, reordered and
duplicated. Three targets, each a fresh process per run, in the same batch:

- direct: the load connected straight to the upstream (the latency baseline: "added" is
  target minus direct);
- relay: the simplest thing doing the same forwarding job: websockets + asyncio, two pumps
  per call, no parsing, no recording (this file, `--serve-relay`);
- recorder: `recorder proxy` with its default SQLite database and full recording; its CPU is
  given for the forwarding process(es) alone and with the archiver process(es), counted after
  every call of the run is finalized (journal deleted).

CPU is seconds per session-minute (process CPU from the end of start-up to the end of the
run, finalization included, / (calls × minutes per call)); peak RSS is the
forwarding processes' high-water mark (VmHWM). Each figure is the median of `--repeat`
interleaved repetitions. The long-call run streams one call at 10× real time and reports the
proxy's RSS after 1 minute and at the end of the call, and the archiver's peak while
finalizing it. The orphan run starts a proxy over `--orphans` orphaned journals and times its
first call.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

CALLER_PCM = base64.b64encode(bytes(640)).decode()
TICK = os.sysconf("SC_CLK_TCK")
ARCHIVER = "rec-archiver"  # the archiver process's name (recorder/archive/archiver.py)


def caller_frame(now: int, call: int, seq: int) -> str:
    return '{"type":"input_audio_buffer.append","event_id":"t%d_%d_%d","audio":"%s"}' % (
        now, call, seq, CALLER_PCM)


def agent_frame(now: int, call: int, seq: int, pcm: str) -> str:
    return (
        '{"type":"response.output_audio.delta","event_id":"t%d_%d_%d","response_id":"resp_1",'
        '"item_id":"item_1","output_index":0,"content_index":0,"delta":"%s"}' % (now, call, seq, pcm)
    )


def stamp(message: str) -> tuple[int, int, int]:
    start = message.index('"event_id":"t') + 13
    sent, call, seq = message[start : message.index('"', start)].split("_")
    return int(sent), int(call), int(seq)


@dataclass
class Tally:
    """Frames of one direction: latencies and, per call, the sequence numbers in arrival order."""

    latency_ms: list[float] = field(default_factory=list)
    seqs: dict[int, list[int]] = field(default_factory=dict)
    sent: dict[int, int] = field(default_factory=dict)

    def take(self, message: str) -> None:
        sent, call, seq = stamp(message)
        self.latency_ms.append((time.monotonic_ns() - sent) / 1e6)
        self.seqs.setdefault(call, []).append(seq)

    def damage(self) -> tuple[int, int, int]:
        """(lost, reordered, duplicated) over every call."""
        lost = reordered = duplicated = 0
        for call, n in self.sent.items():
            got = self.seqs.get(call, [])
            unique = set(got)
            lost += len(set(range(n)) - unique)
            duplicated += len(got) - len(unique)
            reordered += sum(1 for a, b in zip(got, got[1:]) if b < a)
        return lost, reordered, duplicated


@dataclass
class Load:
    c2s: Tally = field(default_factory=Tally)
    s2c: Tally = field(default_factory=Tally)
    agent_ms: int = 40  # audio per agent delta (48 kHz)
    agent_speed: float = 1.0  # agent audio per second of call

    @property
    def agent_pcm(self) -> str:
        return base64.b64encode(bytes(self.agent_ms * 96)).decode()


async def paced(period_s: float, stop_at: float, send: Callable[[int], Awaitable[None]]) -> int:
    """Send every `period_s` until `stop_at` (catching up after a stall); returns how many."""
    next_at = time.monotonic()
    n = 0
    while next_at < stop_at:
        await send(n)
        n += 1
        next_at += period_s
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    return n


# --- upstream and load ------------------------------------------------------------------------


async def upstream_handler(connection: ServerConnection, load: Load, speed: float) -> None:
    """An agent delta every `agent_ms / agent_speed` (/speed) until the client says `bench.end`;
    then the count."""
    call = int(connection.request.path.rsplit("call=", 1)[1]) if connection.request else -1
    done = asyncio.Event()
    sent = 0
    pcm, period_s = load.agent_pcm, load.agent_ms / 1000 / load.agent_speed / speed

    async def write_until_done() -> None:
        nonlocal sent
        next_at = time.monotonic()
        while not done.is_set():
            await connection.send(agent_frame(time.monotonic_ns(), call, sent, pcm))
            sent += 1
            next_at += period_s
            try:
                await asyncio.wait_for(done.wait(), max(0.0, next_at - time.monotonic()))
            except TimeoutError:
                pass

    try:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(write_until_done())
            async for message in connection:
                if '"bench.end"' in message[:40]:
                    done.set()
                    break
                load.c2s.take(str(message))
        load.s2c.sent[call] = sent
        await connection.send(json.dumps({"type": "bench.done", "sent": sent}))
        await connection.wait_closed()
    except ConnectionClosed:
        done.set()


async def one_call(url: str, call: int, seconds: float, load: Load, speed: float = 1.0) -> None:
    await asyncio.sleep(call * 0.02 % 0.1)  # spread the frame phases
    async with connect(f"{url}&call={call}", max_size=None, ping_interval=None, compression=None,
                       close_timeout=60, open_timeout=60) as ws:
        finished = asyncio.Event()

        async def reader() -> None:
            async for message in ws:
                if '"bench.done"' in str(message)[:40]:
                    finished.set()
                    return
                load.s2c.take(str(message))

        async with asyncio.TaskGroup() as tasks:
            read = tasks.create_task(reader())
            n = await paced(0.02 / speed, time.monotonic() + seconds,
                            lambda seq: ws.send(caller_frame(time.monotonic_ns(), call, seq)))
            load.c2s.sent[call] = n
            await ws.send('{"type":"bench.end"}')
            await read
    assert finished.is_set()


async def run_load(url: str, calls: int, seconds: float, load: Load, speed: float = 1.0) -> None:
    async with asyncio.TaskGroup() as tasks:
        for call in range(calls):
            tasks.create_task(one_call(url, call, seconds, load, speed))


# --- the bare relay ---------------------------------------------------------------------------


async def serve_relay(port: int, upstream: str) -> None:
    """Forwarding only: websockets and asyncio, as a proxy without recording would be."""

    async def pump(src: object, dst: object) -> None:
        try:
            async for message in src:  # type: ignore[attr-defined]
                await dst.send(message)  # type: ignore[attr-defined]
        except ConnectionClosed:
            pass
        await dst.close()  # type: ignore[attr-defined]

    async def handler(client: ServerConnection) -> None:
        path = client.request.path if client.request else "/"
        base = upstream.split("/", 3)
        async with connect(f"{base[0]}//{base[2]}{path}", max_size=None, ping_interval=None,
                           compression=None) as up:
            await asyncio.gather(pump(client, up), pump(up, client))

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with serve(handler, "127.0.0.1", port, max_size=None, ping_interval=None,
                     compression="deflate"):
        await stop.wait()


# --- processes --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"target exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    process.kill()
    raise SystemExit("target did not listen")


def start(target: str, upstream: str, home: str, workers: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    if target == "relay":
        cmd = [sys.executable, __file__, "--serve-relay", str(port), upstream]
        env = dict(os.environ)
    else:
        cmd = [sys.executable, "-m", "recorder.cli.main", "proxy", "--listen", f"127.0.0.1:{port}",
               "--upstream", upstream, "--max-sessions", "1000", "--log-level", "WARNING",
               "--workers", str(workers)]
        env = {**os.environ, "RECORDER_HOME": home}
        env.pop("RECORDER_DATABASE_URL", None)
    process = subprocess.Popen(cmd, env=env)
    wait_port(port, process)
    if workers > 1:
        time.sleep(3.0)  # every worker bound
    return process, port


def tree(root: int) -> list[int]:
    """`root` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _stat_cpu_s(stat: Path) -> float:
    """User + system CPU seconds from a /proc `stat` file (0 if the process is gone)."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def cpu_s(pid: int) -> float:
    return _stat_cpu_s(Path(f"/proc/{pid}/stat"))


def status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def is_archiver(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == ARCHIVER
    except OSError:
        return False


def main_thread_cpu_s(pid: int) -> float:
    """CPU of the process's main thread alone (its event loop, for the relay and the proxy)."""
    return _stat_cpu_s(Path(f"/proc/{pid}/task/{pid}/stat"))


@dataclass
class Usage:
    forwarding_cpu: float
    total_cpu: float
    main_cpu: float  # the forwarding processes' main threads (the rest: journal threads, thread pool)
    forwarding_hwm_mb: float
    archiver_hwm_mb: float


def usage(root: int) -> Usage:
    pids = tree(root)
    archivers = [p for p in pids if is_archiver(p)]
    forwarding = [p for p in pids if p not in archivers]
    return Usage(
        forwarding_cpu=sum(cpu_s(p) for p in forwarding),
        total_cpu=sum(cpu_s(p) for p in pids),
        main_cpu=sum(main_thread_cpu_s(p) for p in forwarding),
        forwarding_hwm_mb=sum(status_kb(p, "VmHWM") for p in forwarding) / 1024,
        archiver_hwm_mb=max([status_kb(p, "VmHWM") for p in archivers] or [0]) / 1024,
    )


def finalized(home: str, timeout_s: float) -> float:
    """Wait until every journal is archived; seconds waited."""
    spool = Path(home) / "spool"
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if not spool.exists() or not [p for p in spool.iterdir() if not p.name.startswith(".")]:
            return time.monotonic() - started
        time.sleep(0.1)
    raise SystemExit(f"calls not finalized within {timeout_s:.0f}s")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()


# --- runs -------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Result:
    p50: dict[str, float]
    p99: dict[str, float]
    cpu_fwd: float = 0.0  # s per session-minute
    cpu_main: float = 0.0  # ... of the forwarding processes' main threads
    cpu_total: float = 0.0
    rss_mb: float = 0.0
    damage: tuple[int, int, int] = (0, 0, 0)


async def measure(url: str, calls: int, seconds: float, load: Load) -> Result:
    load.c2s, load.s2c = Tally(), Tally()
    await run_load(url, calls, seconds, load)
    c2s, s2c = load.c2s, load.s2c
    damage = tuple(a + b for a, b in zip(c2s.damage(), s2c.damage(), strict=True))
    return Result(
        p50={"c2s": pct(c2s.latency_ms, 0.5), "s2c": pct(s2c.latency_ms, 0.5)},
        p99={"c2s": pct(c2s.latency_ms, 0.99), "s2c": pct(s2c.latency_ms, 0.99)},
        damage=damage,  # type: ignore[arg-type]
    )


def settled(root: int, archivers: int) -> Usage:
    """Wait until start-up is over (the archivers exist and the tree's CPU stops rising)."""
    last = -1.0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.5)
        pids = tree(root)
        total = sum(cpu_s(p) for p in pids)
        if sum(map(is_archiver, pids)) >= archivers and total - last < 0.02:
            break
        last = total
    return usage(root)


async def run_target(target: str, upstream: str, calls: int, workers: int, seconds: float,
                     load: Load) -> Result:
    with tempfile.TemporaryDirectory() as home:
        process, port = await asyncio.to_thread(start, target, upstream, home, workers)
        try:
            before = await asyncio.to_thread(settled, process.pid, workers if target == "recorder" else 0)
            result = await measure(f"ws://127.0.0.1:{port}/waves/v1/s2s?model=hydra-v1.1&api_key=sk_bench",
                                   calls, seconds, load)
            if target == "recorder":
                await asyncio.to_thread(finalized, home, 600)
            used = usage(process.pid)
        finally:
            await asyncio.to_thread(stop, process)
    minutes = calls * seconds / 60
    result.cpu_fwd = (used.forwarding_cpu - before.forwarding_cpu) / minutes
    result.cpu_main = (used.main_cpu - before.main_cpu) / minutes
    result.cpu_total = (used.total_cpu - before.total_cpu) / minutes
    result.rss_mb = used.forwarding_hwm_mb
    return result


def median(results: list[Result], get: Callable[[Result], float]) -> float:
    return statistics.median(get(r) for r in results)


async def latency_table(upstream: str, plan: list[tuple[int, int]], seconds: float, repeat: int,
                        load: Load) -> None:
    runs: dict[tuple[int, str], list[Result]] = {}
    for rep in range(repeat):
        for calls, workers in plan:
            for target in ("direct", "relay", "recorder"):
                if target == "direct":
                    url = f"{upstream}?model=hydra-v1.1&api_key=sk_bench"
                    result = await measure(url, calls, seconds, load)
                else:
                    result = await run_target(target, upstream, calls, workers, seconds, load)
                runs.setdefault((calls, target), []).append(result)
                print(f"# rep {rep + 1}/{repeat}: {calls} calls, {target} done", file=sys.stderr, flush=True)
    print(f"\n{seconds:.0f} s per call, caller 20 ms frames and agent {load.agent_ms} ms deltas at "
          f"{load.agent_speed:g}× real time; ms; added = target - direct (same run); median of {repeat}")
    print("| calls | target | added p50 c→H / H→c | added p99 c→H / H→c | CPU s per session-min "
          "(forwarding / + archiver) | peak RSS MB | lost / reordered / duplicated |")
    print("|---|---|---|---|---|---|---|")
    for calls, workers in plan:
        base = runs[(calls, "direct")]
        added99: dict[str, list[float]] = {}
        for target in ("relay", "recorder"):
            rs = runs[(calls, target)]
            add50 = [median(rs, lambda r, d=d: r.p50[d]) - median(base, lambda r, d=d: r.p50[d])
                     for d in ("c2s", "s2c")]
            add99 = [median(rs, lambda r, d=d: r.p99[d]) - median(base, lambda r, d=d: r.p99[d])
                     for d in ("c2s", "s2c")]
            cpu = f"{median(rs, lambda r: r.cpu_fwd):.2f}"
            if target == "recorder":
                cpu += f" / {median(rs, lambda r: r.cpu_total):.2f}"
            damage = [sum(r.damage[i] for r in rs) + sum(r.damage[i] for r in base) for i in range(3)]
            label = target + (f" ({workers} workers)" if workers > 1 and target == "recorder" else "")
            print(f"| {calls} | {label} | {add50[0]:+.2f} / {add50[1]:+.2f} | "
                  f"{add99[0]:+.2f} / {add99[1]:+.2f} | {cpu} | {median(rs, lambda r: r.rss_mb):.0f} | "
                  f"{damage[0]} / {damage[1]} / {damage[2]} |", flush=True)
            added99[target] = add99
        rec, rel = runs[(calls, "recorder")], runs[(calls, "relay")]
        ratios = " / ".join(
            f"×{a / b:.2f}" if b > 0 else "n/a" for a, b in zip(added99["recorder"], added99["relay"], strict=True)
        )
        print(f"|  | recorder ÷ relay | | {ratios} | "
              f"×{median(rec, lambda r: r.cpu_fwd) / median(rel, lambda r: r.cpu_fwd):.2f} / "
              f"×{median(rec, lambda r: r.cpu_total) / median(rel, lambda r: r.cpu_fwd):.2f} | | |")
    print("\nWhere the CPU goes, s per session-minute (medians): the relay's process; the recorder's "
          "event loop (main thread), its other threads (journal writer, fsync, thread pool), archiver")
    print("| calls | relay | recorder event loop | other threads | archiver | total ÷ relay |")
    print("|---|---|---|---|---|---|")
    for calls, _workers in plan:
        rec, rel = runs[(calls, "recorder")], runs[(calls, "relay")]
        relay_cpu, main = median(rel, lambda r: r.cpu_fwd), median(rec, lambda r: r.cpu_main)
        fwd, total = median(rec, lambda r: r.cpu_fwd), median(rec, lambda r: r.cpu_total)
        print(f"| {calls} | {relay_cpu:.3f} | {main:.3f} (×{main / relay_cpu:.2f}) | {fwd - main:.3f} "
              f"(×{(fwd - main) / relay_cpu:.2f}) | {total - fwd:.3f} (×{(total - fwd) / relay_cpu:.2f}) "
              f"| ×{total / relay_cpu:.2f} |", flush=True)


async def long_call(upstream: str, minutes: float, load: Load, speed: float = 10.0) -> None:
    """One call of `minutes` of audio at `speed`× real time: the proxy's memory over its length."""
    seconds = minutes * 60 / speed
    with tempfile.TemporaryDirectory() as home:
        process, port = await asyncio.to_thread(start, "recorder", upstream, home, 1)
        try:
            load.c2s, load.s2c = Tally(), Tally()
            url = f"ws://127.0.0.1:{port}/waves/v1/s2s?model=hydra-v1.1&api_key=sk_bench"
            call = asyncio.create_task(one_call(url, 0, seconds, load, speed))
            await asyncio.sleep(min(seconds, 60 / speed))
            early = usage(process.pid)
            rss_1min = sum(status_kb(p, "VmRSS") for p in tree(process.pid) if not is_archiver(p)) / 1024
            await call
            rss_end = sum(status_kb(p, "VmRSS") for p in tree(process.pid) if not is_archiver(p)) / 1024
            waited = await asyncio.to_thread(finalized, home, 1200)
            used = usage(process.pid)
        finally:
            await asyncio.to_thread(stop, process)
    archive_cpu = used.total_cpu - used.forwarding_cpu - (early.total_cpu - early.forwarding_cpu)
    damage = tuple(a + b for a, b in zip(load.c2s.damage(), load.s2c.damage(), strict=True))
    print(f"\nlong call: {minutes:.0f} min of audio at {speed:.0f}× real time ({seconds:.0f} s)")
    print("| proxy RSS after 1 min | at the end | growth | proxy peak RSS | archiver peak RSS "
          "| finalization wait | archiver CPU | × real time per core | lost / reordered / dup |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {rss_1min:.0f} MB | {rss_end:.0f} MB | {rss_end - rss_1min:+.1f} MB | "
          f"{used.forwarding_hwm_mb:.0f} MB | {used.archiver_hwm_mb:.0f} MB | {waited:.1f} s | "
          f"{archive_cpu:.1f} s | {minutes * 60 / max(archive_cpu, 1e-9):.0f}× | "
          f"{damage[0]} / {damage[1]} / {damage[2]} |", flush=True)


def make_orphans(home: Path, count: int, frames: int = 250) -> None:
    """`count` journals of `frames` caller frames each whose proxy is gone (no END, no owner)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from recorder.crypto.keys import KeyStore
    from recorder.journal import JournalWriter
    from recorder.values import Direction

    store = KeyStore(home / "keys")
    store.init()
    for i in range(count):
        w = JournalWriter(home / "spool", f"orphan-{i:04d}", store.recipients("archive"),
                          {"id": f"orphan-{i:04d}", "started_at": "2026-01-01T00:00:00+00:00"},
                          fsync="never").open()
        for seq in range(frames):
            w.append_frame(Direction.C2S, caller_frame(seq * 20_000_000, i, seq), seq * 20_000_000)
        w.abandon()
        assert w.lock is not None
        w.lock.release()


async def orphans_run(upstream: str, count: int, load: Load) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        await asyncio.to_thread(make_orphans, home, count)
        port = free_port()
        env = {**os.environ, "RECORDER_HOME": str(home)}
        env.pop("RECORDER_DATABASE_URL", None)
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "recorder.cli.main", "proxy", "--listen", f"127.0.0.1:{port}",
             "--upstream", upstream, "--log-level", "WARNING"], env=env)
        try:
            await asyncio.to_thread(wait_port, port, process)
            listening = time.monotonic() - started
            url = f"ws://127.0.0.1:{port}/waves/v1/s2s?model=hydra-v1.1&api_key=sk_bench"
            async with connect(f"{url}&call=0", max_size=None, compression=None) as ws:
                await ws.send(caller_frame(time.monotonic_ns(), 0, 0))
                await ws.recv()
                first = time.monotonic() - started
                await ws.send('{"type":"bench.end"}')
                async for message in ws:
                    if '"bench.done"' in str(message)[:40]:
                        break
            recovered = await asyncio.to_thread(finalized, str(home), 1200)
        finally:
            await asyncio.to_thread(stop, process)
    print(f"\n{count} orphaned journals ({count} × 5 s of caller audio): listening "
          f"{listening:.2f} s and first call answered {first:.2f} s after the proxy process was "
          f"started (interpreter and imports included); all recovered {first + recovered:.1f} s after start")


async def main(args: argparse.Namespace) -> None:
    load = Load(agent_ms=args.agent_ms, agent_speed=args.agent_speed)
    workers_at = dict(tuple(map(int, w.split("="))) for w in args.workers_at)

    async def handler(connection: ServerConnection) -> None:
        await upstream_handler(connection, load, current_speed[0])

    current_speed = [1.0]
    async with serve(handler, "127.0.0.1", 0, max_size=None, ping_interval=None, compression=None) as server:
        upstream = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/waves/v1/s2s"
        plan = [(calls, workers_at.get(calls, 1)) for calls in args.calls]
        await latency_table(upstream, plan, args.seconds, args.repeat, load)
        if args.long_call_minutes:
            current_speed[0] = 10.0
            await long_call(upstream, args.long_call_minutes, load)
            current_speed[0] = 1.0
        if args.orphans:
            await orphans_run(upstream, args.orphans, load)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[1, 50, 100, 200])
    parser.add_argument("--workers-at", nargs="*", default=["200=2"], metavar="CALLS=WORKERS",
                        help="proxy --workers for a number of calls (others: 1)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each call")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--agent-ms", type=int, default=40, help="audio per agent delta (ms)")
    parser.add_argument("--agent-speed", type=float, default=1.0,
                        help="agent audio per second of call (2: Hydra's twice real time)")
    parser.add_argument("--long-call-minutes", type=float, default=30.0)
    parser.add_argument("--orphans", type=int, default=100)
    parser.add_argument("--serve-relay", nargs=2, metavar=("PORT", "UPSTREAM"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_relay:
        asyncio.run(serve_relay(int(args.serve_relay[0]), args.serve_relay[1]))
    else:
        asyncio.run(main(args))
