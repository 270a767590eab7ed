"""`recorder redact --jsonl` through a real subprocess: 10,000 lines plus malformed ones."""

from __future__ import annotations

import json
import subprocess
import sys

TEXTS = ["my card is 4111 1111 1111 1111", "your order number is 4 8 8 3 9 2 1",
         "call me at four one five, five five five, oh one three four", "thanks so much"]


def _run(stdin: bytes, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "recorder.cli.main", "redact", *args],
                          input=stdin, capture_output=True, timeout=100, check=False)


def test_jsonl_ten_thousand_lines_with_malformed_ones() -> None:
    lines: list[bytes] = []
    bad_lines = {101, 5002, 9999}
    for n in range(1, 10_004):
        if n == 101:
            lines.append(b"{not json")
        elif n == 5002:
            lines.append(json.dumps({"id": n}).encode())
        elif n == 9999:
            lines.append(b"\xff\xfe")
        else:
            lines.append(json.dumps({"id": n, "text": TEXTS[n % 4], "extra": 1}).encode())
    proc = _run(b"\n".join(lines) + b"\n", "--jsonl")
    assert proc.returncode != 0
    out = [json.loads(x) for x in proc.stdout.decode().splitlines()]
    assert len(out) == 10_003 - len(bad_lines)
    assert [o["id"] for o in out] == [n for n in range(1, 10_004) if n not in bad_lines]
    first = out[0]  # id 1 → TEXTS[1]
    assert first == {"id": 1, "text": TEXTS[1], "spans": []}
    card = next(o for o in out if o["id"] == 4)
    assert card["text"] == "my card is [CREDIT_CARD]"
    assert card["spans"] == [{"start": 11, "end": 30, "type": "CREDIT_CARD"}]
    err = proc.stderr.decode()
    for n in bad_lines:
        assert f"line {n}:" in err
    assert "not json" not in err  # the content of a bad line is never echoed


def test_over_long_line_is_refused_and_the_rest_still_redacted() -> None:
    long_line = json.dumps({"id": 1, "text": "four " * 300_000}).encode()  # 1.5 MB
    proc = _run(long_line + b"\n" + json.dumps({"id": 2, "text": TEXTS[0]}).encode() + b"\n", "--jsonl")
    assert proc.returncode == 1 and "line 1: longer than 1048576 bytes" in proc.stderr.decode()
    assert [json.loads(x)["id"] for x in proc.stdout.decode().splitlines()] == [2]


def test_policy_option() -> None:
    text = "agent: what's your date of birth caller: the fourth after the holidays in eighty two"
    strict = _run(b"", text).stdout.decode().strip()
    balanced = _run(b"", "--redaction", "balanced", text).stdout.decode().strip()
    assert strict.endswith("caller: the [DATE_OF_BIRTH]") and balanced == text
    assert _run(b"", "--redaction", "lenient", text).returncode == 2


def test_text_argument_and_usage_error() -> None:
    proc = _run(b"", "my ssn is 123-45-6789")
    assert proc.returncode == 0 and proc.stdout.decode().strip() == "my ssn is [SSN]"
    assert _run(b"").returncode != 0
