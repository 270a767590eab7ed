"""Finalizing a long call: peak memory and speed of the streaming archive render.

    python bench/bench_finalize.py [--minutes 1 30 60]

Each measurement runs in its own process (peak RSS and CPU seconds from ``os.wait4``). A
synthetic call is generated lazily and deterministically, so the records never sit in memory:
caller 20 ms frames of speech-like 16 kHz audio all call long, in real time; every 8 s a
response of 3-6 s of 48 kHz agent audio in 40 ms deltas delivered at twice real time; every
fourth response is barged in on by the caller 1.5 s in (``speech_started``, a new
``response.created``: the cut tail and the late deltas go to the unplayed track).

Rows, for each call length:

* ``records``: generating the records twice (what the two passes read; the journal reader's
  share in production) -- subtracted from nothing, shown for scale;
* ``finalize``: ``finalize_call`` end to end (two passes, FLAC, soxr, age, manifest, SQLite rows);
* ``journal``: what the archiver does with a finished call, ``archive_journal`` end to end: the
  same call written beforehand (by another process) as the proxy journals it -- raw JSON frames,
  base64 audio, sealed in segments -- then read, replayed through capture, rendered, encrypted,
  rows written and the journal deleted;
* ``flac in memory`` (baseline): the same stereo recording as one in-memory array encoded by
  ``soundfile`` to an in-memory FLAC -- the bare cost of the dominant step, and the memory a
  whole-call render needs.

Real-time factor = call seconds / CPU seconds of the process (per core).
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import datetime as dt
import functools
import heapq
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MS = 1_000_000
CALLER_FRAME_MS = 20
AGENT_DELTA_MS = 40
TURN_MS = 8000
BARGE_EVERY = 4
BARGE_AFTER_MS = 1500


@functools.cache
def _pools() -> tuple[list[bytes], list[bytes]]:
    from recorder.simulate.voice import agent_speech, caller_speech

    caller = caller_speech(10_000, seed=1)  # 10 s, cycled: 500 distinct frames
    agent = agent_speech(20_000, seed=1, index=1)  # 20 s, cycled: 500 distinct deltas
    c, a = CALLER_FRAME_MS * 32, AGENT_DELTA_MS * 96
    return [caller[i : i + c] for i in range(0, len(caller), c)], [agent[i : i + a] for i in range(0, len(agent), a)]


def call_records(minutes: float) -> Iterator[object]:
    """The synthetic call's records in arrival order (a fresh generator each call)."""
    from recorder.capture.records import AudioRecord, CloseRecord, Direction, FrameRecord

    end_ms = int(minutes * 60_000)
    caller_pool, agent_pool = _pools()

    def caller() -> Iterator[tuple[float, int, object]]:
        for k, t in enumerate(range(0, end_ms, CALLER_FRAME_MS)):
            yield t, 0, ("c", caller_pool[k % len(caller_pool)])

    def agent() -> Iterator[tuple[float, int, object]]:
        t, k, d = 500.0, 0, 0
        while t < end_ms - TURN_MS:
            rid = f"resp_{k}"
            barged = k % BARGE_EVERY == BARGE_EVERY - 1
            nxt = t + (BARGE_AFTER_MS if barged else TURN_MS)
            yield t, 1, ("f", json.dumps({"type": "response.created", "response": {"id": rid}}))
            n = (3000 + (k % 4) * 1000) // AGENT_DELTA_MS
            for j in range(n):
                yield t + 50 + j * AGENT_DELTA_MS / 2, 1, ("a", rid, agent_pool[d % len(agent_pool)])
                d += 1
            status = "cancelled" if barged else "completed"
            done = {"type": "response.done", "response": {"id": rid, "status": status}}
            yield t + 50 + n * AGENT_DELTA_MS / 2, 1, ("f", json.dumps(done))
            if barged:
                yield nxt - 100, 1, ("f", json.dumps({"type": "input_audio_buffer.speech_started"}))
            t, k = nxt, k + 1

    seq = 0
    for t, _, item in heapq.merge(caller(), agent(), key=lambda e: (e[0], e[1])):
        ns = int(t * MS)
        if item[0] == "c":
            yield AudioRecord(seq, Direction.C2S, ns, item[1], 16000, 0, 0)
        elif item[0] == "a":
            yield AudioRecord(seq, Direction.S2C, ns, item[2], 48000, 0, 0, response_id=item[1])
        else:
            yield FrameRecord(seq, Direction.S2C, ns, item[1], json.loads(item[1])["type"])
        seq += 1
    yield CloseRecord(end_ms * MS, 1000, "bye", Direction.C2S)


# --- the measured jobs (each in a child process) ------------------------------------------------


def call_frames(minutes: float) -> Iterator[tuple[object, int, str]]:
    """The synthetic call as the proxy journals it: (direction, arrival ns, raw JSON text)."""
    from recorder.capture.records import AudioRecord, CloseRecord, Direction, FrameRecord

    yield Direction.S2C, 0, json.dumps({"type": "session.created", "event_id": "evt_0", "session_id": "hs_bench"})
    for r in call_records(minutes):
        if isinstance(r, AudioRecord) and r.direction is Direction.C2S:
            text = json.dumps({"type": "input_audio_buffer.append", "event_id": f"evt_c{r.seq}",
                               "audio": base64.b64encode(r.pcm).decode("ascii")})
        elif isinstance(r, AudioRecord):
            text = json.dumps({"type": "response.output_audio.delta", "event_id": f"evt_s{r.seq}",
                               "response_id": r.response_id, "item_id": f"item_{r.response_id}",
                               "output_index": 0, "content_index": 0,
                               "delta": base64.b64encode(r.pcm).decode("ascii")})
        elif isinstance(r, FrameRecord):
            assert isinstance(r.message, str)
            text = r.message
        else:
            assert isinstance(r, CloseRecord)
            continue
        yield r.direction, r.arrival_ns, text


def _bench_home(home: Path) -> tuple[object, object, str]:
    from recorder.crypto.keys import KeyStore
    from recorder.db.engine import make_engine, upgrade

    keystore = KeyStore(home / "keys")
    if not (home / "keys").exists():
        keystore.init()
    url = f"sqlite:///{home / 'recorder.db'}"
    upgrade(url)
    return keystore, make_engine(url), url


def job_write_journal(minutes: float, home: Path) -> dict[str, object]:
    """Set-up for ``journal`` (not measured): the call's journal under ``home/spool``."""
    from recorder.call import CallMeta
    from recorder.capture.records import CloseRecord, Direction
    from recorder.journal import JournalWriter

    keystore, engine, _ = _bench_home(home)
    meta = CallMeta(id="bench_call", started_at=dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC),
                    ended_at=None, duration_ms=minutes * 60_000)
    writer = JournalWriter(home / "spool", meta.id, keystore.recipients("archive"),  # type: ignore[attr-defined]
                           meta.journal_start("bench"), fsync="never").open()
    frames = 0
    for direction, ns, text in call_frames(minutes):
        writer.append_frame(direction, text, ns)  # type: ignore[arg-type]
        frames += 1
        if frames % 2000 == 0:
            time.sleep(0.01)  # let the writer thread drain its queue
    end_ns = int(minutes * 60_000) * MS
    ended = dataclasses.replace(meta, ended_at=meta.started_at + dt.timedelta(minutes=minutes),
                                close_code=1000, close_reason="bye", close_side="client")
    failure = writer.close(CloseRecord(end_ns, 1000, "bye", Direction.C2S), ended.journal_end())
    if failure is not None:
        raise SystemExit(f"journal not written: {failure}")
    if writer.lock is not None:
        writer.lock.release()
    engine.dispose()  # type: ignore[attr-defined]
    return {"frames": frames}


def job_journal(minutes: float, home: Path) -> dict[str, object]:
    from recorder.archive.pipeline import archive_journal

    keystore, engine, _ = _bench_home(home)
    identities = keystore.identities("archive")  # type: ignore[attr-defined]
    before = _rss_mb()
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            peak[0] = max(peak[0], _rss_mb())

    sampler = threading.Thread(target=sample)
    sampler.start()
    t0 = time.process_time()
    result = archive_journal(home / "spool" / "bench_call", home=home, keystore=keystore,  # type: ignore[arg-type]
                             engine=engine, gap_threshold_ms=250.0, identities=identities)  # type: ignore[arg-type]
    cpu = time.process_time() - t0
    done.set()
    sampler.join()
    size = sum(p.stat().st_size for p in result.path.iterdir())
    engine.dispose()  # type: ignore[attr-defined]
    return {"duration_s": result.duration_ms / 1000, "archive_mb": size / 1e6, "finalize_cpu_s": cpu,
            "rss_before_mb": before, "rss_during_mb": peak[0]}


def job_records(minutes: float) -> dict[str, object]:
    n = sum(1 for _ in call_records(minutes)) + sum(1 for _ in call_records(minutes))
    return {"records": n // 2}


def job_finalize(minutes: float) -> dict[str, object]:
    from recorder.archive.finalize import finalize_call
    from recorder.crypto.keys import KeyStore
    from recorder.db.engine import make_engine, upgrade
    from recorder.db.write import CallMeta

    with tempfile.TemporaryDirectory(prefix="bench-finalize-") as tmp:
        home = Path(tmp)
        keystore = KeyStore(home / "keys")
        keystore.init()
        url = f"sqlite:///{home / 'recorder.db'}"
        upgrade(url)
        engine = make_engine(url)
        meta = CallMeta(id="bench_call", started_at=dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC),
                        ended_at=None, duration_ms=minutes * 60_000)
        _pools()  # the generator's own audio, made once before measuring
        before = _rss_mb()
        peak = [before]
        done = threading.Event()

        def sample() -> None:  # the high-water mark of this process was set by the set-up
            while not done.wait(0.005):
                peak[0] = max(peak[0], _rss_mb())

        sampler = threading.Thread(target=sample)
        sampler.start()
        t0 = time.process_time()
        result = finalize_call(lambda: call_records(minutes), meta, home=home, keystore=keystore, engine=engine)
        cpu = time.process_time() - t0
        done.set()
        sampler.join()
        size = sum(p.stat().st_size for p in result.path.iterdir())
        engine.dispose()
    return {"duration_s": result.duration_ms / 1000, "archive_mb": size / 1e6, "finalize_cpu_s": cpu,
            "rss_before_mb": before, "rss_during_mb": peak[0]}


def _rss_mb() -> float:
    """This process's resident set now (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def job_flac(minutes: float) -> dict[str, object]:
    import numpy as np

    from recorder.archive.render import encode_flac, plan, render_audio

    call = plan(call_records(minutes))
    stereo = np.zeros((call.timeline.end, 2), dtype=np.int16)
    at = 0

    def keep(block: np.ndarray) -> None:
        nonlocal at
        stereo[at : at + len(block)] = block
        at += len(block)

    render_audio(lambda: call_records(minutes), call, keep, lambda _piece: None)
    t0 = time.process_time()
    flac = encode_flac(stereo, 48000)
    return {"duration_s": len(stereo) / 48000, "flac_mb": len(flac) / 1e6, "encode_cpu_s": time.process_time() - t0}


JOBS = {"records": job_records, "finalize": job_finalize, "flac": job_flac}
HOME_JOBS = {"write-journal": job_write_journal, "journal": job_journal}  # given a data directory


def measure(job: str, minutes: float, home: Path | None = None) -> dict[str, object]:
    """Run one job in a child process: its output plus its own peak RSS and CPU seconds."""
    wall = time.perf_counter()
    where = [] if home is None else ["--home", str(home)]
    child = subprocess.Popen([sys.executable, __file__, "--child", job, "--minutes", str(minutes), *where],
                             stdout=subprocess.PIPE)
    assert child.stdout is not None
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise SystemExit(f"{job} ({minutes} min) failed with status {status}")
    return {**json.loads(out), "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024,
            "wall_s": time.perf_counter() - wall}


def main(minutes: list[float]) -> None:
    base = measure("records", 0.05)  # interpreter + imports: the floor of every child
    print(f"empty child: {base['peak_rss_mb']:.0f} MB peak RSS, {base['cpu_s']:.2f} s CPU\n")
    print("| call | job | CPU s | real-time factor | peak RSS | notes |")
    print("|---|---|---|---|---|---|")
    for m in minutes:
        call_s = m * 60
        for job in ("records", "finalize", "journal", "flac"):
            if job == "journal":
                with tempfile.TemporaryDirectory(prefix="bench-journal-") as tmp:
                    measure("write-journal", m, Path(tmp))
                    r = measure(job, m, Path(tmp))
            else:
                r = measure(job, m)
            cpu = float(r["cpu_s"])  # type: ignore[arg-type]
            if job in ("journal", "finalize"):
                alone = float(r["finalize_cpu_s"])  # type: ignore[arg-type]
                notes = (f"{'archive_journal' if job == 'journal' else 'finalize_call'} alone: {alone:.2f} s "
                         f"CPU = {call_s / alone:.0f}x real time, RSS {r['rss_before_mb']:.0f} MB before it, "
                         f"at most {r['rss_during_mb']:.0f} MB during it")
                if job == "finalize":
                    notes += f"; archive {r['archive_mb']:.0f} MB"
            elif job == "flac":
                notes = (f"baseline: FLAC {r['flac_mb']:.0f} MB; the encode alone {r['encode_cpu_s']:.2f} s CPU "
                         f"= {call_s / float(r['encode_cpu_s']):.0f}x real time")  # type: ignore[arg-type]
            else:
                notes = f"{r['records']} records, generated twice"
            print(f"| {m:g} min | {job} | {cpu:.2f} | {call_s / cpu:.0f}x | {float(r['peak_rss_mb']):.0f} MB | {notes} |",  # type: ignore[arg-type]
                  flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 30.0])
    parser.add_argument("--child", choices=sorted([*JOBS, *HOME_JOBS]))
    parser.add_argument("--home", type=Path)
    args = parser.parse_args()
    if args.child in HOME_JOBS:
        print(json.dumps(HOME_JOBS[args.child](args.minutes[0], args.home)))
    elif args.child:
        print(json.dumps(JOBS[args.child](args.minutes[0])))
    else:
        main(args.minutes)
