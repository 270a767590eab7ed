"""How fast the console's call list answers at 100,000 calls on PostgreSQL.

Fills a private schema with N synthetic calls (sessions over 90 days, 20 agents, 10 tenants,
2 responses with token counts and 4 redacted transcript turns each; 5 % of the calls mention a
card), then times, in the same run:

* ``/api/calls`` through a real ``recorder console`` process (sign-in, session check, the
  query, JSON, and the access-log append every view makes), with several filters;
* ``find_calls`` alone (the query code the page uses: count + one page + usage of that page);
* the baseline: the bare indexed query doing the same selection (ids of one page, no count,
  no usage, no access log) straight on the connection.

    python bench/bench_console.py [--calls 100000] [--database-url URL] [--repeat 15]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine, insert, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recorder.audit.queries import CallFilter, find_calls  # noqa: E402
from recorder.db.engine import make_engine, transaction, upgrade  # noqa: E402
from recorder.db.models import CallSession, Response, Transcript, TranscriptTurn  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
WORDS = ("order", "delivery", "refund", "address", "account", "thanks", "please", "tracking", "help",
         "today", "yesterday", "friday", "email", "invoice", "plan", "upgrade", "cancel", "billing")
START = dt.datetime(2026, 8, 1, tzinfo=dt.UTC)
PASSWORD = "bench-password-123"


@contextmanager
def private_schema(url: str) -> Iterator[str]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def fill(engine: Engine, calls: int, rng: random.Random, batch: int = 5000) -> None:
    for first in range(0, calls, batch):
        sessions, responses, turns, transcripts = [], [], [], []
        for i in range(first, min(calls, first + batch)):
            sid = f"call-{i:07d}"
            started = START + dt.timedelta(seconds=rng.uniform(0, 90 * 86400))
            duration = rng.uniform(20_000, 600_000)
            sessions.append(dict(
                id=sid, hydra_session_id=f"hyd-{i}", started_at=started,
                ended_at=started + dt.timedelta(milliseconds=duration), duration_ms=duration,
                state="complete" if rng.random() < 0.95 else "incomplete", close_code=1000,
                close_reason="bye", close_side="client", upstream_status=101, model="hydra-v1.1",
                path="/waves/v1/s2s", query="model=hydra-v1.1&api_key=[SCRUBBED]",
                metadata={"agent_id": f"agent-{rng.randrange(20)}", "tenant": f"tenant-{rng.randrange(10)}"},
                voice="sterling", tools=[], warnings=[], frames_c2s=100, frames_s2c=100, unparsed_frames=0,
                bytes_c2s=1000, bytes_s2c=1000, caller_audio_ms=duration, agent_audio_ms_received=duration / 2,
                agent_audio_ms_heard=duration / 2))
            for seq in range(2):
                tokens_in, tokens_out = rng.randrange(50, 400), rng.randrange(20, 200)
                responses.append(dict(session_id=sid, seq=seq, response_id=f"r{seq}", status="completed",
                                      input_tokens=tokens_in, output_tokens=tokens_out,
                                      total_tokens=tokens_in + tokens_out, audio_ms_received=3000.0,
                                      audio_ms_heard=3000.0, latency_ms=rng.uniform(200, 900)))
            card = rng.random() < 0.05
            lines = [" ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(4)]
            if card:
                lines[1] = "it is [CREDIT_CARD] the card number " + lines[1]
            for seq, line in enumerate(lines):
                turns.append(dict(session_id=sid, seq=seq, speaker=("agent", "caller")[seq % 2],
                                  start_ms=seq * 5000.0, end_ms=seq * 5000.0 + 4000, text=line))
            transcripts.append(dict(session_id=sid, text=" ".join(lines), language="en", model="pulse-pro",
                                    pulse_request_ids=[], pulse_requests=2, audio_seconds_billed=duration / 1000,
                                    created_at=started))
        with engine.begin() as conn:
            conn.execute(insert(CallSession), sessions)
            conn.execute(insert(Response), responses)
            conn.execute(insert(TranscriptTurn), turns)
            conn.execute(insert(Transcript), transcripts)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """(median, max) in milliseconds after one warm-up call."""
    fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples), max(samples)


SCENARIOS: dict[str, dict[str, str]] = {
    "first page, no filter": {},
    "tenant": {"tenant": "tenant-3"},
    "agent + status + duration": {"agent": "agent-7", "status": "complete", "min_duration": "60"},
    "date range (one week)": {"since": "2026-09-01", "until": "2026-09-07"},
    "search \"card\"": {"q": "card"},
    "search \"card\" + tenant": {"q": "card", "tenant": "tenant-3"},
    "page 1000": {"page": "1000"},
}

BASELINES: dict[str, str] = {
    "first page, no filter": "SELECT id FROM sessions ORDER BY started_at DESC LIMIT 50",
    "tenant": "SELECT id FROM sessions WHERE metadata->>'tenant' = 'tenant-3' ORDER BY started_at DESC LIMIT 50",
    "agent + status + duration": "SELECT id FROM sessions WHERE metadata->>'agent_id' = 'agent-7' AND state = "
                                 "'complete' AND duration_ms >= 60000 ORDER BY started_at DESC LIMIT 50",
    "date range (one week)": "SELECT id FROM sessions WHERE started_at >= '2026-09-01' AND started_at < "
                             "'2026-09-08' ORDER BY started_at DESC LIMIT 50",
    "search \"card\"": "SELECT id FROM sessions WHERE id IN (SELECT session_id FROM turns WHERE "
                       "to_tsvector('simple', text) @@ plainto_tsquery('simple', 'card')) "
                       "ORDER BY started_at DESC LIMIT 50",
    "search \"card\" + tenant": "SELECT id FROM sessions WHERE metadata->>'tenant' = 'tenant-3' AND id IN "
                                "(SELECT session_id FROM turns WHERE to_tsvector('simple', text) @@ "
                                "plainto_tsquery('simple', 'card')) ORDER BY started_at DESC LIMIT 50",
    "page 1000": "SELECT id FROM sessions ORDER BY started_at DESC OFFSET 49950 LIMIT 50",
}


def _filter(params: dict[str, str]) -> tuple[CallFilter, int]:
    from recorder.console.params import call_filter, page_of

    return call_filter(params), page_of(params)


@contextmanager
def console(home: Path, url: str) -> Iterator[str]:
    env = {**os.environ, "RECORDER_HOME": str(home), "RECORDER_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    run = [sys.executable, "-m", "recorder.cli.main"]
    subprocess.run([*run, "users", "add", "bench", "--role", "auditor"], input=PASSWORD + "\n", text=True,
                   env=env, check=True, capture_output=True)
    proc = subprocess.Popen([*run, "console", "--listen", "127.0.0.1:0", "--log-level", "WARNING"], env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        found = re.search(r"(http://\S+)", proc.stdout.readline())
        assert found is not None, "console did not start"
        yield found[1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--database-url", default=os.environ.get("RECORDER_TEST_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with private_schema(args.database_url) as url, tempfile.TemporaryDirectory() as tmp:
        upgrade(url)
        engine = make_engine(url)
        t0 = time.perf_counter()
        fill(engine, args.calls, random.Random(7))
        print(f"filled {args.calls} calls in {time.perf_counter() - t0:.0f} s", flush=True)
        rows = []
        with console(Path(tmp), url) as base, httpx.Client(base_url=base, timeout=60) as client:
            form = client.get("/login")
            token = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert token is not None
            done = client.post("/login", data={"username": "bench", "password": PASSWORD, "csrf": token[1]})
            assert done.status_code == 303, done.text
            for name, params in SCENARIOS.items():
                def api(params: dict[str, str] = params) -> None:
                    r = client.get("/api/calls", params=params)
                    assert r.status_code == 200, r.text
                f, page = _filter(params)

                def query(f: CallFilter = f, page: int = page) -> None:
                    with transaction(engine) as session:
                        find_calls(session, f, page=page, per_page=50)

                def bare(sql: str = BASELINES[name]) -> None:
                    with engine.connect() as conn:
                        conn.execute(text(sql)).all()

                total = client.get("/api/calls", params=params).json()["total"]
                rows.append((name, total, timed(api, args.repeat), timed(query, args.repeat),
                             timed(bare, args.repeat)))
        engine.dispose()
    print(f"\n{args.calls} calls on PostgreSQL; milliseconds, median (max) of {args.repeat}\n")
    print("| list | calls matched | /api/calls | find_calls | bare indexed query | /api/calls ÷ bare |")
    print("|---|---|---|---|---|---|")
    for name, total, api_t, query_t, bare_t in rows:
        print(f"| {name} | {total} | {api_t[0]:.1f} ({api_t[1]:.1f}) | {query_t[0]:.1f} ({query_t[1]:.1f}) | "
              f"{bare_t[0]:.1f} ({bare_t[1]:.1f}) | {api_t[0] / bare_t[0]:.1f}× |")


if __name__ == "__main__":
    main()
