"""Wall time of short CLI commands, against the interpreter's own start-up in the same run.

A fresh data directory gets real archived calls (bench/make_calls.py: real capture, archives
and database rows) and a current schema. Each command then runs as a new process, as a user or
a script would run it, `--repeat` times in turn with the baselines; the figure is the median.
Baselines: `python -c pass` for `recorder --help`, and `python -c "import sqlalchemy"` (the
database layer every query command needs) for the commands that read the database. Wall time
is what a user waits for; CPU time (user + system, from wait4) is printed beside it because on
a shared machine the wall time of every process, the baselines' included, grows with the load.
Exit 1 when a target (wall time, as specified) is missed. Usage:

    python bench/bench_cli_startup.py [--calls 20] [--repeat 5] [--code DIR]

`--code DIR` times the recorder found in DIR (another checkout, e.g. `git archive` of an older
commit unpacked there) on the same data, for a before/after comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

BASELINES = {"python -c pass": ["-c", "pass"],
             "python -c 'import sqlalchemy'": ["-c", "import sqlalchemy"]}
CLI = ["-m", "recorder.cli.main"]


def _commands(call_id: str) -> list[tuple[str, list[str], str, float | None]]:
    """(label, argv after `python`, its baseline, allowed excess over the baseline in seconds)."""
    db = "python -c 'import sqlalchemy'"
    return [
        ("recorder --help", [*CLI, "--help"], "python -c pass", 0.25),
        ("recorder sessions --json", [*CLI, "sessions", "--json"], db, 0.35),
        ("recorder show ID --json", [*CLI, "show", call_id, "--json"], db, 0.35),
        ("recorder search order", [*CLI, "search", "order"], db, None),
        ("recorder access-log", [*CLI, "access-log"], db, None),
        ("recorder verify ID", [*CLI, "verify", call_id], db, None),
        ("recorder keys list", [*CLI, "keys", "list"], "python -c pass", None),
    ]


def _time(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run of `python argv`."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, *argv], env=env, cwd=env["PYTHONPATH"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed with exit code {child.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def _prepare(home: Path, calls: int) -> str:
    from make_calls import make_calls
    from recorder.db.engine import open_database

    engine = open_database(f"sqlite:///{home / 'recorder.db'}")
    try:
        make_calls(home, engine, calls, seconds=10)
    finally:
        engine.dispose()
    listed = subprocess.run([sys.executable, *CLI, "sessions", "--json", "--home", str(home)],
                            cwd=ROOT, env=_env(home), capture_output=True, text=True, check=True)
    return str(json.loads(listed.stdout)[0]["id"])


def _env(home: Path, code: Path = ROOT) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECORDER_")}
    return {**env, "PYTHONPATH": str(code), "RECORDER_HOME": str(home)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20, help="archived calls in the database")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each command (median)")
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose recorder is timed")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        call_id = _prepare(home, args.calls)
        env = _env(home, args.code.resolve())
        commands = _commands(call_id)
        labels = [*BASELINES, *(c[0] for c in commands)]
        wall: dict[str, list[float]] = {label: [] for label in labels}
        cpu: dict[str, list[float]] = {label: [] for label in labels}
        for _ in range(args.repeat):  # interleaved, so load on the machine hits all alike
            runs = [*BASELINES.items(), *((c[0], c[1]) for c in commands)]
            for label, argv_ in runs:
                w, c = _time(argv_, env)
                wall[label].append(w)
                cpu[label].append(c)
    print(f"recorder from {args.code}; {args.calls} archived calls; medians of {args.repeat} runs, seconds; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")
    print("| command | wall | CPU | baseline | baseline wall / CPU | excess wall / CPU | allowed |")
    print("|---|---|---|---|---|---|---|")
    w_med = {label: statistics.median(v) for label, v in wall.items()}
    c_med = {label: statistics.median(v) for label, v in cpu.items()}
    for label in BASELINES:
        print(f"| `{label}` | {w_med[label]:.3f} | {c_med[label]:.3f} | | | | |")
    failed = False
    for label, _, base, allowed in commands:
        excess = w_med[label] - w_med[base]
        ok = allowed is None or excess <= allowed
        failed |= not ok
        print(f"| `{label}` | {w_med[label]:.3f} | {c_med[label]:.3f} | `{base}` | "
              f"{w_med[base]:.3f} / {c_med[base]:.3f} | {excess:+.3f} / {c_med[label] - c_med[base]:+.3f} | "
              f"{'' if allowed is None else f'{allowed:.2f}'}{'' if ok else ' (wall: missed)'} |")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
