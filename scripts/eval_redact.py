"""Score the redaction engine on a JSONL file with gold `entities` (issue 5 metrics).

Each line: {"id", "text", "channel"?, "entities": [{"start", "end", "type"}]}.

- leak rate: share of gold entities with any letter or digit not covered by a predicted span;
- recall: share of gold entities fully covered (= 1 - leak rate), and share typed correctly;
- over-redaction: share of redacted letters and digits that lie outside every gold entity;
- no-PII lines touched: lines without gold entities on which anything was redacted.
Per type and per channel. Usage:

    python scripts/eval_redact.py ../shared/data/pii-dev.jsonl [--json] [--show-errors]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from recorder.redact import redact_text


def _alnum_positions(text: str, start: int, end: int) -> set[int]:
    return {i for i in range(start, end) if text[i].isalnum()}


def evaluate(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Figures for the rows; `details` lists every leak and over-redaction (offsets only)."""
    by_type: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_channel: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    totals: dict[str, int] = defaultdict(int)
    details: list[dict[str, Any]] = []
    for row in rows:
        text, channel = row["text"], row.get("channel") or "unknown"
        red = redact_text(text, channel)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--show-errors", action="store_true", help="list leaks and over-redactions")
    args = parser.parse_args(argv)
    with open(args.path, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    result = evaluate(rows)
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
