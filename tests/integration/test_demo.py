"""`recorder demo` end to end, as a new user runs it: the call's progress shows while it runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PROGRESS = re.compile(r"^\s+(\d+\.\d) s  (.*)$")


@pytest.mark.slow
def test_demo_shows_each_turn_while_the_call_runs(tmp_path: Path) -> None:
    env = {**os.environ, "RECORDER_HOME": str(tmp_path / "home")}
    env.pop("RECORDER_DATABASE_URL", None)
    errors = tmp_path / "stderr.txt"
    lines: list[str] = []
    running_at_first_reply = None
    with errors.open("w") as stderr, subprocess.Popen(
        [sys.executable, "-m", "recorder.cli.main", "demo"], env=env, text=True,
        stdout=subprocess.PIPE, stderr=stderr,
    ) as demo:
        assert demo.stdout is not None
        for line in demo.stdout:
            lines.append(line.rstrip("\n"))
            if "reply 1 of 3" in line:
                running_at_first_reply = demo.poll() is None
        assert demo.wait(timeout=120) == 0, errors.read_text()
    # the first reply was on screen while the call still had ~25 s to go
    assert running_at_first_reply is True
    progress = [(float(m.group(1)), m.group(2)) for m in map(PROGRESS.match, lines) if m]
    events = [text for _, text in progress]
    assert events[0].startswith("connected (Hydra session ")
    assert [e.split(":")[0] for e in events[1:]] == [
        "agent, reply 1 of 3", "caller", "agent, reply 2 of 3", "caller", "agent, reply 3 of 3",
        "caller hung up; archiving the call ...",
    ]
    times = [t for t, _ in progress]
    assert times == sorted(times) and times[-1] > 20
    # and then the record, redacted
    assert any(line.startswith("call ") for line in lines)
    assert any("caller: it is [CREDIT_CARD]" in line for line in lines)
