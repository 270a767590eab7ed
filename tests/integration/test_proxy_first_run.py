"""The first `recorder proxy` on embedded defaults says, once, what it created and what it means."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def _start_and_stop(home: Path, log: Path) -> str:
    """Run the proxy until its start-up line is logged, then SIGTERM it; all it logged."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECORDER_")}
    with log.open("w") as out, subprocess.Popen(
        [sys.executable, "-m", "recorder.cli.main", "proxy", "--home", str(home), "--listen",
         "127.0.0.1:0"], env={**env, "RECORDER_HOME": str(home)}, stdout=out, stderr=out,
    ) as proxy:
        deadline = time.monotonic() + 60
        while "recorder proxy on" not in log.read_text():
            assert proxy.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        proxy.send_signal(signal.SIGTERM)
        assert proxy.wait(timeout=60) == 0, log.read_text()
    return log.read_text()


def test_first_start_says_where_keys_and_database_were_made_and_what_that_means(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = _start_and_stop(home, tmp_path / "first.log")
    (startup,) = [line for line in first.splitlines() if "recorder proxy on" in line]
    assert f"first run: created the database {home / 'recorder.db'} and keys under {home / 'keys'}" in startup
    assert "production keeps identities off proxy hosts" in startup
    assert "`recorder keys export-public DIR --with-signing-key`" in startup
    assert first.count("export-public") == 1 and first.count("production keeps") == 1
    assert (home / "recorder.db").is_file() and (home / "keys" / "keys.json").is_file()

    again = _start_and_stop(home, tmp_path / "again.log")
    (startup,) = [line for line in again.splitlines() if "recorder proxy on" in line]
    assert "first run" not in again and "export-public" not in again
