"""How fast `recorder usage --by day` answers over 100,000 calls on PostgreSQL.

Generates N calls (default 100,000) over 90 days in a private schema: sessions with tenant and
agent metadata, 4 responses each (some cancelled, 1 in 50 calls with a response that never got
`response.done`), a tool call in every other call. The rollup is filled the way `recorder
usage` fills it for calls archived before it existed (``db.usage.backfill``), timed once. Then,
in the same run and on the same data, each timed as the median of several repeats:

* baseline: ``SELECT count(*) FROM sessions`` (the least any report over these calls costs);
* without the rollup: the same per-day figures aggregated from sessions JOIN responses;
* ``usage_report(by="day")``: the aggregate on ``call_usage``; then with the rollup check the
  command makes first (two counts), and with the flagged calls listed as ``--json`` does;
* the whole command, ``recorder usage --by day``, as a process (start-up included),
  against ``recorder hold list`` (same start-up and migration check, a trivial query).

    RECORDER_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \
        python bench/bench_usage.py [--calls 100000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Date, cast, create_engine, func, insert, select, text

from recorder.audit.usage import usage_report
from recorder.db import usage as rollup
from recorder.db.engine import make_engine, transaction, upgrade
from recorder.db.models import CallSession, Response, ToolCall

START = dt.datetime(2026, 8, 1, tzinfo=dt.UTC)
STATUSES = ("completed", "completed", "completed", "cancelled")


def _generate(engine: Any, calls: int, rng: random.Random) -> None:
    batch = 5000
    for first in range(0, calls, batch):
        sessions, responses, tools = [], [], []
        for n in range(first, min(calls, first + batch)):
            sid = f"bench-{n:07d}"
            started = START + dt.timedelta(seconds=rng.randrange(90 * 86400))
            seconds = rng.uniform(30, 600)
            sessions.append(dict(
                id=sid, hydra_session_id=f"hyd-{n}", started_at=started, ended_at=started + dt.timedelta(seconds=seconds),
                duration_ms=seconds * 1000, state="complete", close_code=1000, close_reason="bye", close_side="client",
                upstream_status=101, model=rng.choice(("hydra-v1.1", "hydra-v1.0")), path="/waves/v1/s2s", query="",
                metadata={"tenant": f"tenant-{n % 20}", "agent_id": f"agent-{n % 150}"}, voice="sterling",
                tools=[], warnings=[], frames_c2s=100, frames_s2c=100, unparsed_frames=0, bytes_c2s=1, bytes_s2c=1,
                caller_audio_ms=seconds * 1000, agent_audio_ms_received=seconds * 500, agent_audio_ms_heard=seconds * 480,
            ))
            for seq in range(4):
                missing = seq == 3 and n % 50 == 0
                inp, out = rng.randrange(100, 4000), rng.randrange(50, 800)
                responses.append(dict(
                    session_id=sid, seq=seq, response_id=f"r{seq}", status=None if missing else STATUSES[seq],
                    reason=None, created_ms=1.0, first_audio_ms=2.0, done_ms=None if missing else 3.0,
                    input_tokens=None if missing else inp, output_tokens=None if missing else out,
                    total_tokens=None if missing else inp + out, audio_ms_received=seconds * 125,
                    audio_ms_heard=seconds * 120, latency_ms=400.0, cut_ms=None))
            if n % 2 == 0:
                tools.append(dict(session_id=sid, seq=0, call_id=f"c{n}", name="lookup_order", response_id="r1",
                                  arguments="{}", output="{}", requested_ms=1.0, output_ms=2.0))
        with engine.begin() as conn:
            conn.execute(insert(CallSession.__table__), sessions)
            conn.execute(insert(Response.__table__), responses)
            conn.execute(insert(ToolCall.__table__), tools)


def _median(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _cli(url: str, home: Path, *args: str) -> None:
    env = {**os.environ, "RECORDER_DATABASE_URL": url, "RECORDER_HOME": str(home)}
    env.pop("RECORDER_CONFIG", None)
    done = subprocess.run([sys.executable, "-m", "recorder.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"recorder {' '.join(args)} failed: {done.stderr}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--home", type=Path, default=Path("/tmp/recorder-bench-usage"))
    args = parser.parse_args(argv)
    base = os.environ.get("RECORDER_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    args.home.mkdir(parents=True, exist_ok=True)
    try:
        upgrade(url)
        engine = make_engine(url)
        t0 = time.perf_counter()
        _generate(engine, args.calls, random.Random(7))
        generated = time.perf_counter() - t0
        t0 = time.perf_counter()
        with transaction(engine) as s:
            filled = rollup.backfill(s)
        backfill = time.perf_counter() - t0
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))

        def count() -> None:
            with transaction(engine) as s:
                s.scalar(select(func.count()).select_from(CallSession))

        def direct() -> None:
            day = cast(CallSession.started_at, Date)
            with transaction(engine) as s:
                s.execute(select(day, func.count(func.distinct(CallSession.id)), func.sum(Response.total_tokens))
                          .join(Response, Response.session_id == CallSession.id).group_by(day)).all()

        def report() -> None:
            with transaction(engine) as s:
                r = usage_report(s, by="day")
            assert r.total.calls == args.calls

        def command() -> None:  # what `recorder usage --by day` does after start-up
            with transaction(engine) as s:
                assert rollup.backfill(s) == 0
            report()

        def as_json() -> None:  # --json also lists the flagged calls
            with transaction(engine) as s:
                assert usage_report(s, by="day", flagged=1000).flagged

        t_count, t_direct, t_report, t_command, t_json = (
            _median(f, args.repeat) for f in (count, direct, report, command, as_json))
        t_cli = _median(lambda: _cli(url, args.home, "usage", "--by", "day"), 3)
        t_cli_base = _median(lambda: _cli(url, args.home, "hold", "list"), 3)
        engine.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    print(f"{args.calls} calls generated in {generated:.1f} s; rollup backfilled for {filled} calls in {backfill:.1f} s")
    print(f"{'query':58} {'median ms':>10} {'x count(*)':>11}")
    for name, t in (("baseline: SELECT count(*) FROM sessions", t_count),
                    ("without rollup: sessions JOIN responses GROUP BY day", t_direct),
                    ("usage_report(by=day) on call_usage", t_report),
                    ("the same plus the rollup check (the command's work)", t_command),
                    ("the same with the flagged calls listed (--json)", t_json)):
        print(f"{name:58} {t * 1000:>10.1f} {t / t_count:>11.1f}")
    print(f"{'command: recorder usage --by day':58} {t_cli * 1000:>10.1f}")
    print(f"{'command baseline: recorder hold list (same start-up)':58} {t_cli_base * 1000:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
