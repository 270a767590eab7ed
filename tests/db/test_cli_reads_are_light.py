"""Read-only commands on a current schema import no audio, network or migration library.

Each command runs as its own process (the real CLI, through a small wrapper that writes the
names in sys.modules when it exits) against a database with an archived call in it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from recorder.archive.finalize import finalize_call
from recorder.cli.main import COMMANDS
from recorder.crypto.keys import KeyStore
from tests.unit.archive.calls import ScriptedCall, call_meta

HEAVY = {"numpy", "soundfile", "soxr", "websockets", "alembic", "httpx"}
SID = "sess_light"
READ_ONLY = [
    ["sessions", "--json"],
    ["show", SID, "--json"],
    ["search", "card"],
    ["verify"],
    ["verify", SID],
    ["access-log"],
    ["access-log", "--session", SID],
    ["keys", "list"],
    ["usage"],  # when the usage report is registered
]
PROBE = """\
import atexit, os, runpy, sys
atexit.register(lambda: open(os.environ["MODULES_OUT"], "w").write("\\n".join(sorted(sys.modules))))
sys.argv = ["recorder", *sys.argv[1:]]
runpy.run_module("recorder.cli.main", run_name="__main__")
"""


def _modules(home: Path, database_url: str, tmp_path: Path, args: list[str]) -> set[str]:
    out = tmp_path / "modules.txt"
    env = {**os.environ, "RECORDER_HOME": str(home), "RECORDER_DATABASE_URL": database_url,
           "MODULES_OUT": str(out)}
    done = subprocess.run([sys.executable, "-c", PROBE, *args], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return set(out.read_text().split("\n"))


@pytest.mark.parametrize("args", READ_ONLY, ids=lambda a: " ".join(a))
def test_read_only_command_imports_nothing_heavy(
    args: list[str], call: ScriptedCall, home: Path, engine: Engine, database_url: str, tmp_path: Path
) -> None:
    if args[0] not in COMMANDS:
        pytest.skip(f"no `{args[0]}` command registered")
    keystore = KeyStore(home / "keys")
    keystore.init()
    finalize_call(lambda: call.journal, call_meta(SID), close=call.close, home=home, keystore=keystore,
                  engine=engine)
    loaded = _modules(home, database_url, tmp_path, args)
    assert COMMANDS[args[0]][0].partition(":")[0] in loaded  # the probe saw the command run
    assert {m.split(".")[0] for m in loaded} & HEAVY == set()


def test_a_database_behind_the_migrations_is_still_upgraded(
    home: Path, database_url: str, tmp_path: Path
) -> None:
    """The cheap check must not skip a needed migration: an empty database gets the schema."""
    loaded = _modules(home, database_url, tmp_path, ["sessions", "--json"])
    assert "alembic" in loaded
    env = {**os.environ, "RECORDER_HOME": str(home), "RECORDER_DATABASE_URL": database_url}
    listed = subprocess.run([sys.executable, "-m", "recorder.cli.main", "sessions", "--json"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
