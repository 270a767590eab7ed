"""Throughput of the redaction engine in words per second on one core.

The corpus is the dev set's texts (or any JSONL with "text"), repeated; words are counted with
str.split. The same run times a trivial baseline over the same texts (str.split tokenisation)
so the figure can be read against what the machine does for free. Usage:

    python bench/bench_redact.py [../shared/data/pii-dev.jsonl] [--seconds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from recorder.redact import redact_text

_DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pii-dev.jsonl"


def _rate(texts: list[str], func, seconds: float) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    words = sum(len(t.split()) for t in texts)
    done, start = 0, time.perf_counter()
    while True:
        for text in texts:
            func(text)
        done += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done * words / elapsed, done * words


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default=str(_DEFAULT))
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    with open(args.path, encoding="utf-8") as fh:
        texts = [json.loads(line)["text"] for line in fh if line.strip()]
    redact_text(texts[0])  # warm-up: imports, regex compilation
    engine, n_engine = _rate(texts, redact_text, args.seconds)
    base, _ = _rate(texts, str.split, args.seconds / 3)
    joined = [" ".join(texts)]  # one long text: no cost may grow faster than its length
    long_rate, _ = _rate(joined, redact_text, args.seconds / 3)
    print(f"corpus: {len(texts)} texts, {sum(len(t.split()) for t in texts)} words, from {args.path}")
    print(f"redact_text : {engine:12,.0f} words/s  ({n_engine:,} words timed, one core)")
    print(f"one long text: {long_rate:10,.0f} words/s  (all texts joined into one)")
    print(f"str.split   : {base:12,.0f} words/s  (baseline)")
    print(f"ratio       : engine runs at {engine / base:.4f} of the baseline ({base / engine:,.0f}x slower)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
