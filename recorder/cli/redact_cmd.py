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
from collections.abc import Iterator
from typing import IO, Any

import click

from recorder.redact import POLICIES, STRICT, redact_text


MAX_LINE_BYTES = 1 << 20  # one transcript line; longer input is refused, not truncated


def _parse(raw: bytes) -> tuple[dict[str, Any] | None, str]:
    """The record on one input line, or (None, why it is malformed)."""
    if len(raw) > MAX_LINE_BYTES:
        return None, f"longer than {MAX_LINE_BYTES} bytes"
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


def _lines(stdin: IO[bytes]) -> Iterator[bytes]:
    """Input lines, an over-long one cut to MAX_LINE_BYTES + 1 bytes (the rest is read and dropped)."""
    while True:
        raw = stdin.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while (rest := stdin.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
        yield raw


def run_jsonl(stdin: IO[bytes], stdout: IO[str], stderr: IO[str], policy: str = STRICT) -> int:
    """Redact JSONL from `stdin` to `stdout`; the number of malformed lines."""
    bad = 0
    for lineno, raw in enumerate(_lines(stdin), start=1):
        if not raw.strip():
            continue
        obj, problem = _parse(raw)
        if obj is None:
            bad += 1
            stderr.write(f"recorder redact: line {lineno}: {problem}; line skipped\n")
            stderr.flush()
            continue
        red = redact_text(obj["text"], obj.get("channel"), policy)
        record = {"id": obj["id"], "text": red.text, "spans": [s.to_dict() for s in red.spans]}
        stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        stdout.flush()
    return bad


@click.command("redact")
@click.option("--jsonl", is_flag=True, help='Read {"id","text"} lines on stdin, write redacted lines.')
@click.option("--json", "as_json", is_flag=True, help="With TEXT: print the text and spans as JSON.")
@click.option("--redaction", type=click.Choice(POLICIES), default=STRICT, show_default=True,
              help="strict: an answer to a sensitive question is redacted whole; balanced: only "
              "the values found in it.")
@click.argument("text", required=False)
def redact(jsonl: bool, as_json: bool, redaction: str, text: str | None) -> None:
    """Redact PII from TEXT, or from JSONL on stdin with --jsonl."""
    if jsonl == (text is not None):
        raise click.UsageError('give either --jsonl or a TEXT argument, e.g. recorder redact "my card is ..."')
    if jsonl:
        bad = run_jsonl(sys.stdin.buffer, sys.stdout, sys.stderr, redaction)
        if bad:
            click.echo(f"recorder redact: {bad} malformed line(s) skipped", err=True)
            sys.exit(1)
        return
    assert text is not None
    red = redact_text(text, policy=redaction)
    if as_json:
        click.echo(json.dumps({"text": red.text, "spans": [s.to_dict() for s in red.spans]}))
    else:
        click.echo(red.text)

