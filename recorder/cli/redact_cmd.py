"""`recorder redact`: the redaction engine on the command line.

    recorder redact --jsonl    stdin {"id","text"[,"channel"]} per line →
                               stdout {"id","text","spans":[{"start","end","type"}]} per line
    recorder redact "some text"

Lines are read, redacted and written one at a time, so any size of input streams through in
constant memory. A malformed line is reported on stderr by line number (never by content, which
may hold PII), produces no output line, and makes the exit code 1 once all lines are done.
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any

import click

from recorder.redact import redact_text


def _parse(raw: bytes) -> tuple[dict[str, Any] | None, str]:
    """The record on one input line, or (None, why it is malformed)."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, "not valid UTF-8"
    try:
        obj = json.loads(line)
    except ValueError as exc:
        return None, f"not valid JSON ({exc.__class__.__name__})"
    if not isinstance(obj, dict):
        return None, "expected a JSON object with \"id\" and \"text\""
    if "id" not in obj:
        return None, "missing \"id\""
    if not isinstance(obj.get("text"), str):
        return None, "missing \"text\" or it is not a string"
    channel = obj.get("channel")
    if channel is not None and not isinstance(channel, str):
        return None, "\"channel\" must be a string"
    return obj, ""


def run_jsonl(stdin: IO[bytes], stdout: IO[str], stderr: IO[str]) -> int:
    """Redact JSONL from `stdin` to `stdout`; the number of malformed lines."""
    bad = 0
    for lineno, raw in enumerate(stdin, start=1):
        if not raw.strip():
            continue
        obj, problem = _parse(raw)
        if obj is None:
            bad += 1
            stderr.write(f"recorder redact: line {lineno}: {problem}; line skipped\n")
            stderr.flush()
            continue
        red = redact_text(obj["text"], obj.get("channel"))
        record = {"id": obj["id"], "text": red.text, "spans": [s.to_dict() for s in red.spans]}
        stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        stdout.flush()
    return bad


@click.command("redact")
@click.option("--jsonl", is_flag=True, help='Read {"id","text"} lines on stdin, write redacted lines.')
@click.option("--json", "as_json", is_flag=True, help="With TEXT: print the text and spans as JSON.")
@click.argument("text", required=False)
def redact(jsonl: bool, as_json: bool, text: str | None) -> None:
    """Redact PII from TEXT, or from JSONL on stdin with --jsonl."""
    if jsonl == (text is not None):
        raise click.UsageError('give either --jsonl or a TEXT argument, e.g. recorder redact "my card is ..."')
    if jsonl:
        bad = run_jsonl(sys.stdin.buffer, sys.stdout, sys.stderr)
        if bad:
            click.echo(f"recorder redact: {bad} malformed line(s) skipped", err=True)
            sys.exit(1)
        return
    assert text is not None
    red = redact_text(text)
    if as_json:
        click.echo(json.dumps({"text": red.text, "spans": [s.to_dict() for s in red.spans]}))
    else:
        click.echo(red.text)

