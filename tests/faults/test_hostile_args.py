"""Hostile `show`, `search` and `export` arguments get a clear refusal and reveal nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from recorder.db.engine import transaction
from recorder.db.transcripts import write_transcript
from tests.db.test_transcripts_db import T0, _record, seed
from tests.faults.probes import record_calls
from tests.integration.test_export import run_cli

HOSTILE = ["' OR '1'='1", "%", "_", "*", "../../../etc/passwd", "s000; DROP TABLE sessions", "x" * 100_000]


@pytest.mark.parametrize("key", HOSTILE[:1] + HOSTILE[4:], ids=lambda k: k[:12])
def test_show_and_export_refuse_hostile_session_keys(
    home: Path, database_url: str, tmp_path: Path, key: str
) -> None:
    if key == HOSTILE[0]:
        record_calls(home, database_url, 1)  # one real call that must not leak
    shown = run_cli(home, database_url, "show", key)
    assert shown.returncode != 0
    assert "Traceback" not in shown.stderr and shown.stderr.strip(), shown.stderr[-500:]
    out = tmp_path / "out"
    exported = run_cli(home, database_url, "export", key, "--out", str(out), "--original", "--reason", "probe")
    assert exported.returncode != 0
    assert "Traceback" not in exported.stderr
    assert not out.exists() or not any(out.iterdir())
    assert not (tmp_path / "etc").exists()
    sessions = run_cli(home, database_url, "sessions", "--json")
    assert sessions.returncode == 0, sessions.stderr  # the database is intact


def test_search_treats_hostile_queries_as_words(database_url: str, engine: Engine, home: Path) -> None:
    seed(engine, 2)
    with transaction(engine) as s:
        write_transcript(s, _record("s000", [("caller", "I want to cancel my order")]), now=T0)
        write_transcript(s, _record("s001", [("caller", "order status please")]), now=T0)
    found = run_cli(home, database_url, "search", "order", "--json")
    assert found.returncode == 0 and '"s000"' in found.stdout and '"s001"' in found.stdout
    for query in HOSTILE:
        done = run_cli(home, database_url, "search", query, "--json")
        assert "Traceback" not in done.stderr, done.stderr[-500:]
        assert '"s00' not in done.stdout, f"{query[:20]!r} matched calls"
    again = run_cli(home, database_url, "search", "order", "--json")
    assert again.stdout == found.stdout
