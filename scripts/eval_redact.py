"""Score the redaction engine on generated lines (both splits) or on a JSONL file with gold spans.

Without a path it generates the tuning and the held-back split of `pii_corpus` (seeded, in
seconds, from this repository alone) and prints both, with the gap between them. With a path it
scores that file; each line: {"id", "text", "channel"?, "entities": [{"start", "end", "type"}]}.

- leak rate: share of gold entities with any letter or digit not covered by a predicted span;
- recall: share of gold entities fully covered (= 1 - leak rate), and share typed correctly;
- over-redaction: share of redacted letters and digits that lie outside every gold entity;
- no-PII lines touched: lines without gold entities on which anything was redacted.
Per type and per channel. Usage:

    python scripts/eval_redact.py [--lines N] [--seed S] [--policy strict|balanced] [--json]
    python scripts/eval_redact.py PATH.jsonl [--show-errors]   # --show-errors only with a path
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # the repository, when not installed

from pii_corpus import SPLITS, rows as corpus_rows  # noqa: E402
from recorder.redact import redact_text  # noqa: E402


def _alnum_positions(text: str, start: int, end: int) -> set[int]:
    return {i for i in range(start, end) if text[i].isalnum()}


def evaluate(rows: Iterable[dict[str, Any]], policy: str = "strict") -> dict[str, Any]:
    """Figures for the rows; `details` lists every leak and over-redaction (offsets only)."""
    by_type: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_channel: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    totals: dict[str, int] = defaultdict(int)
    details: list[dict[str, Any]] = []
    for row in rows:
        text, channel = row["text"], row.get("channel") or "unknown"
        red = redact_text(text, channel, policy=policy)
        covered: set[int] = set()
        for span in red.spans:
            covered |= _alnum_positions(text, span.start, span.end)
        gold_chars: set[int] = set()
        for ent in row["entities"]:
            chars = _alnum_positions(text, ent["start"], ent["end"])
            gold_chars |= chars
            leaked = bool(chars - covered)
            typed = any(s.type == ent["type"] and s.start <= ent["start"] and s.end >= ent["end"]
                        for s in red.spans)
            for bucket in (by_type[ent["type"]], by_channel[channel], totals):
                bucket["entities"] += 1
                bucket["leaked"] += leaked
                bucket["typed"] += typed and not leaked
            if leaked:
                details.append({"id": row.get("id"), "leak": ent["type"], "start": ent["start"], "end": ent["end"]})
        outside = covered - gold_chars
        for bucket in (by_channel[channel], totals):
            bucket["redacted_chars"] += len(covered)
            bucket["over_chars"] += len(outside)
            bucket["lines"] += 1
            if not row["entities"]:
                bucket["no_pii_lines"] += 1
                bucket["no_pii_touched"] += bool(red.spans)
        if outside:
            details.append({"id": row.get("id"), "over": len(outside),
                            "spans": [s.to_dict() for s in red.spans]})
    return {
        "total": _figures(totals),
        "by_type": {k: _figures(v) for k, v in sorted(by_type.items())},
        "by_channel": {k: _figures(v) for k, v in sorted(by_channel.items())},
        "details": details,
    }


def _figures(b: dict[str, int]) -> dict[str, Any]:
    ents = b.get("entities", 0)
    out: dict[str, Any] = {
        "entities": ents,
        "leaked": b.get("leaked", 0),
        "leak_rate": b.get("leaked", 0) / ents if ents else 0.0,
        "recall": 1 - b.get("leaked", 0) / ents if ents else 1.0,
        "type_accuracy": b.get("typed", 0) / ents if ents else 1.0,
    }
    if "lines" in b:
        red = b.get("redacted_chars", 0)
        out.update({
            "lines": b["lines"],
            "over_redaction": b.get("over_chars", 0) / red if red else 0.0,
            "no_pii_lines": b.get("no_pii_lines", 0),
            "no_pii_touched": b.get("no_pii_touched", 0),
        })
    return out


def _table(result: dict[str, Any]) -> str:
    lines = [f"{'':18} {'entities':>8} {'leaked':>6} {'leak%':>6} {'recall%':>7} {'typed%':>6} "
             f"{'over%':>6} {'noPII touched':>13}"]

    def row(name: str, f: dict[str, Any]) -> str:
        over = f"{100 * f['over_redaction']:6.1f}" if "over_redaction" in f else f"{'':6}"
        touched = f"{f['no_pii_touched']}/{f['no_pii_lines']}" if "no_pii_lines" in f else ""
        return (f"{name:18} {f['entities']:8} {f['leaked']:6} {100 * f['leak_rate']:6.1f} "
                f"{100 * f['recall']:7.1f} {100 * f['type_accuracy']:6.1f} {over} {touched:>13}")

    lines.append(row("ALL", result["total"]))
    lines.append("-- by type")
    lines += [row(k, v) for k, v in result["by_type"].items()]
    lines.append("-- by channel")
    lines += [row(k, v) for k, v in result["by_channel"].items()]
    return "\n".join(lines)


def evaluate_splits(lines: int, seed: int, policy: str) -> dict[str, Any]:
    """Both generated splits, and the held-back leak rate minus the tuning one (in points)."""
    out: dict[str, Any] = {}
    for split in SPLITS:
        result = evaluate(corpus_rows(split, lines, seed), policy)
        result.pop("details")  # held-back lines are read as figures only, never one by one
        out[split] = result
    out["gap_points"] = 100 * (out["held"]["total"]["leak_rate"] - out["tune"]["total"]["leak_rate"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", help="a JSONL file with gold spans (default: both generated splits)")
    parser.add_argument("--lines", type=int, default=3000, help="generated lines per split")
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--policy", choices=("strict", "balanced"), default="strict")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--show-errors", action="store_true", help="list leaks and over-redactions (with a path)")
    args = parser.parse_args(argv)
    if args.path is None:
        both = evaluate_splits(args.lines, args.seed, args.policy)
        if args.json:
            json.dump(both, sys.stdout, indent=2)
            sys.stdout.write("\n")
            return 0
        for split in SPLITS:
            sys.stdout.write(f"== {split} ({args.lines} lines, seed {args.seed}, policy {args.policy})\n")
            sys.stdout.write(_table(both[split]) + "\n")
        sys.stdout.write(f"gap held - tune: {both['gap_points']:+.2f} points of leak rate\n")
        return 0
    with open(args.path, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    result = evaluate(rows, args.policy)
    if not args.show_errors:
        result.pop("details")
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(_table(result) + "\n")
        for d in result.get("details", []):
            sys.stdout.write(json.dumps(d) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
