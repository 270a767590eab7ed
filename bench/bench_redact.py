"""Throughput of the redaction engine in words per second on one core, against baselines.

The corpus is the generated call lines of both splits (scripts/pii_corpus.py, seeded: a fresh
clone needs nothing else) or any JSONL with "text"; words are counted with str.split. The same
run times two baselines over the same texts: the simplest redactor that does the same job
naively (one regular expression masking digits and digit words, which leaks most PII), and
str.split alone, what the machine does for free. Usage:

    python bench/bench_redact.py [PATH.jsonl] [--seconds 3] [--lines 3000]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

from pii_corpus import SPLITS, rows  # noqa: E402
from recorder.redact import redact_text  # noqa: E402

_NAIVE = re.compile(r"\b(?:\d+|zero|oh|one|two|three|four|five|six|seven|eight|nine)\b", re.IGNORECASE)


def naive_redact(text: str) -> str:
    """The simplest redactor: every digit run and digit word becomes [NUMBER]."""
    return _NAIVE.sub("[NUMBER]", text)


def _rate(texts: list[str], func: Callable[[str], object], seconds: float) -> tuple[float, int]:
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
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("path", nargs="?", help="a JSONL file with 'text' (default: generated lines)")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--lines", type=int, default=3000, help="generated lines per split")
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    if args.path:
        with open(args.path, encoding="utf-8") as fh:
            texts = [json.loads(line)["text"] for line in fh if line.strip()]
        source = args.path
    else:
        texts = [str(r["text"]) for split in SPLITS for r in rows(split, args.lines)]
        source = f"generated, {args.lines} lines per split"
    redact_text(texts[0])  # warm-up: imports, word lists, regex compilation
    engine, n_engine = _rate(texts, redact_text, args.seconds)
    naive, _ = _rate(texts, naive_redact, args.seconds / 3)
    split, _ = _rate(texts, str.split, args.seconds / 3)
    joined = [" ".join(texts[:500])]  # one long text: no cost may grow faster than its length
    long_rate, _ = _rate(joined, redact_text, args.seconds / 3)
    print(f"corpus: {len(texts)} texts, {sum(len(t.split()) for t in texts)} words ({source})")
    print(f"redact_text   : {engine:12,.0f} words/s  ({n_engine:,} words timed, one core)")
    print(f"one long text : {long_rate:12,.0f} words/s  (500 texts joined into one)")
    print(f"naive regex   : {naive:12,.0f} words/s  (baseline doing the same job, leaking most PII)")
    print(f"str.split     : {split:12,.0f} words/s  (baseline: tokenising only)")
    print(f"ratio         : engine / naive regex = {engine / naive:.3f}; engine / str.split = {engine / split:.4f}")
    print(f"requirement   : >= 20,000 words/s: {'met' if engine >= 20_000 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
