"""A writer process killed with SIGKILL leaves a clean prefix, lagging by at most one flush."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from recorder.journal import read_journal
from tests.unit.journal.helpers import IDENTITY

FLUSH_S = 0.1
CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from recorder.capture.records import Direction
    from recorder.crypto.age import parse_recipient
    from recorder.journal import JournalWriter

    w = JournalWriter(Path(sys.argv[1]), "crash_1", [parse_recipient(sys.argv[2])], {"k": "v"},
                      flush_interval_s=float(sys.argv[3]), fsync="interval").open()
    seq = 0
    while True:  # one 20 ms caller frame every 20 ms, stamped with the shared monotonic clock
        w.append_frame(Direction.C2S, '{"seq":%d}' % seq, time.monotonic_ns())
        seq += 1
        time.sleep(0.02)
    """
)


def test_sigkill_loses_at_most_one_flush_interval(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(spool), str(IDENTITY.recipient), str(FLUSH_S)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            seg = spool / "crash_1" / "seg-000001.rj"
            if seg.exists() and seg.stat().st_size > 20_000:
                break
            time.sleep(0.05)
        killed_ns = time.monotonic_ns()
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(10)
    c = read_journal(spool / "crash_1", identities=[IDENTITY])
    assert c.meta == {"k": "v"} and not c.complete and c.close is None
    seqs = [json.loads(r.message)["seq"] for r in c.records]
    assert seqs == list(range(len(c.records))) and len(c.records) > 20
    lag_ms = (killed_ns - c.records[-1].arrival_ns) / 1e6
    assert lag_ms <= FLUSH_S * 1000 + 20 + 150, lag_ms  # one flush + one frame + scheduling margin
