"""A night's transcription batch against the Pulse stand-in at the plan's rate limit.

Run: `python bench/bench_transcribe.py [--recordings 100] [--seconds 30] [--rpm 25]`

Builds N archived calls (word-coded speech on both channels, real capture, real archives),
starts `recorder simulate pulse --rpm RPM` as its own process, and times `recorder transcribe`
as its own process, as cron would run it. The bound is the rate limit: with two requests per
recording (one per channel) and at most RPM request starts in any 60 s window, R requests
cannot finish sooner than (ceil(R / RPM) - 1) minutes after the first. Reported: recordings
per hour achieved, the same at the bound, and the recorder's CPU seconds per audio hour (the
transcribe process only: the stand-in runs in another process).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_calls import make_calls  # noqa: E402

from recorder.db.engine import make_engine, upgrade  # noqa: E402

API_KEY = "sk_bench_transcribe"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main(recordings: int, seconds: float, rpm: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        url = f"sqlite:///{home / 'recorder.db'}"
        upgrade(url)
        engine = make_engine(url)
        audio_s = make_calls(home, engine, recordings, seconds)
        engine.dispose()
        port = free_port()
        env = {**os.environ, "RECORDER_HOME": str(home), "SMALLEST_API_KEY": API_KEY,
               "RECORDER_DATABASE_URL": url}
        pulse = subprocess.Popen(
            [sys.executable, "-m", "recorder.cli.main", "simulate", "pulse", "--listen",
             f"127.0.0.1:{port}", "--rpm", str(rpm), "--log-level", "WARNING"],
            env=env, stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.monotonic()
            run = subprocess.run(
                [sys.executable, "-m", "recorder.cli.main", "transcribe", "--json",
                 "--pulse-url", f"http://127.0.0.1:{port}/waves/v1/stt/", "--rpm", str(rpm),
                 "--concurrency", str(concurrency), "--log-level", "WARNING"],
                env=env, capture_output=True, text=True)
            elapsed = time.monotonic() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
        finally:
            pulse.terminate()
            pulse.wait(timeout=30)
    if run.returncode != 0:
        raise SystemExit(f"recorder transcribe failed ({run.returncode}): {run.stderr[-2000:]}")
    summary = json.loads(run.stdout)
    done = int(summary["transcribed"])
    requests = int(summary["pulse_requests"])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    floor_s = (math.ceil(requests / rpm) - 1) * 60
    print(f"recordings: {done} of {recordings} transcribed, {summary['failed']} failed; "
          f"{audio_s / 60:.1f} audio minutes (both channels); {requests} Pulse requests")
    print(f"elapsed: {elapsed:.1f} s (the rate limit allows no less than {floor_s:.0f} s "
          f"for {requests} requests at {rpm}/min)")
    print(f"recordings per hour: {done / elapsed * 3600:.0f} achieved; "
          f"{done / max(floor_s, 1) * 3600:.0f} at the bound for this batch; "
          f"{rpm / 2 * 60:.0f} in a long night (2 requests per recording)")
    refused = requests - 2 * done
    print(f"Pulse requests: {requests} for {done} recordings, {refused} beyond one per channel "
          f"(0 means the stand-in, which enforces {rpm} per 60 s window, refused none)")
    print(f"recorder CPU: {cpu:.1f} s for {audio_s / 3600:.2f} audio hours = "
          f"{cpu / (audio_s / 3600):.1f} CPU s per audio hour")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=30.0, help="conversation per call")
    parser.add_argument("--rpm", type=int, default=25)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    main(args.recordings, args.seconds, args.rpm, args.concurrency)
