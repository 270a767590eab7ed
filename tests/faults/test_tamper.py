"""Tamper evidence with no blind tail: what `recorder verify` must report after calls are removed.

Calls are recorded through the real proxy and Hydra stand-in; then records are removed or
altered the way someone with write access to the data dir and the database would, and
`verify` (the command, and its function for the loops) must name the damage.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from recorder.archive.ledger_head import HEAD_FILE, parse_head
from recorder.audit.verify import verify
from recorder.crypto.keys import KeyStore
from tests.faults.probes import record_calls
from tests.integration.test_proxy_records_call import _env


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


def _problems(home: Path, db: Engine) -> list[str]:
    return verify(home, db, KeyStore(home / "keys").verify_keys()).lines()


def _cli_verify(home: Path, database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "recorder.cli.main", "verify"], env=_env(home, database_url),
                          capture_output=True, text=True, timeout=120)


def _ledger(db: Engine) -> list[dict[str, Any]]:
    with db.connect() as conn:
        return [dict(r) for r in conn.execute(text("SELECT * FROM ledger ORDER BY seq")).mappings()]


def _remove_call(home: Path, db: Engine, session_id: str) -> None:
    """The call's archive directory, its ledger rows and all its rows, gone."""
    shutil.rmtree(next((home / "archive").glob(f"*/*/*/{session_id}")))
    with db.begin() as conn:
        conn.execute(text("DELETE FROM ledger WHERE session_id = :s"), {"s": session_id})
        for table in ("recordings", "responses", "tool_calls", "errors", "jobs"):
            conn.execute(text(f"DELETE FROM {table} WHERE session_id = :s"), {"s": session_id})
        conn.execute(text("DELETE FROM sessions WHERE id = :s"), {"s": session_id})


def test_removing_the_newest_call_entirely_fails_verify(home: Path, database_url: str, db: Engine) -> None:
    record_calls(home, database_url, 3)
    assert _cli_verify(home, database_url).returncode == 0
    newest = _ledger(db)[-1]["session_id"]
    _remove_call(home, db, newest)
    result = _cli_verify(home, database_url)
    assert result.returncode == 1, result.stdout
    assert "missing: ledger entries 3: the signed ledger head names entry 3" in result.stdout


def test_removing_a_middle_call_entirely_fails_verify(home: Path, database_url: str, db: Engine) -> None:
    record_calls(home, database_url, 3)
    _remove_call(home, db, _ledger(db)[1]["session_id"])
    problems = _problems(home, db)
    assert any(p.startswith("missing: ledger entry 2") for p in problems), problems


def test_removing_any_single_ledger_row_fails_verify(home: Path, database_url: str, db: Engine) -> None:
    record_calls(home, database_url, 3)
    rows = _ledger(db)
    assert [r["seq"] for r in rows] == [1, 2, 3]
    for row in rows:
        with db.begin() as conn:
            conn.execute(text("DELETE FROM ledger WHERE seq = :q"), {"q": row["seq"]})
        problems = _problems(home, db)
        assert any("ledger entr" in p and str(row["seq"]) in p for p in problems), (row["seq"], problems)
        with db.begin() as conn:  # put it back for the next round
            conn.execute(text(f"INSERT INTO ledger ({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)})"), row)
        assert _problems(home, db) == []


def test_a_deleted_or_older_checkpoint_fails_verify(home: Path, database_url: str, db: Engine) -> None:
    record_calls(home, database_url, 2)
    older = (home / HEAD_FILE).read_bytes()
    record_calls(home, database_url, 1)
    current = (home / HEAD_FILE).read_bytes()
    (home / HEAD_FILE).write_bytes(older)  # a copy kept from before the newest call
    assert any("later entries are not covered" in p for p in _problems(home, db))
    (home / HEAD_FILE).unlink()
    assert any(p.startswith(f"missing: {HEAD_FILE}") for p in _problems(home, db))
    (home / HEAD_FILE).write_bytes(current)
    assert _problems(home, db) == []


def test_another_hosts_shipped_head_covers_the_entries_it_appended(
    home: Path, database_url: str, db: Engine
) -> None:
    """Two proxies: each signs its own head, so this home's is behind the entries the other
    host appended. The other host's head, shipped, covers them; it does not hide a removal."""
    record_calls(home, database_url, 2)
    mine = (home / HEAD_FILE).read_bytes()
    record_calls(home, database_url, 1)  # as if the other host had appended entry 3
    keys = KeyStore(home / "keys").verify_keys()
    theirs = {"host-b": parse_head((home / HEAD_FILE).read_bytes(), keys)}
    (home / HEAD_FILE).write_bytes(mine)
    assert any("later entries are not covered" in p for p in _problems(home, db))
    assert verify(home, db, keys, shipped_heads=theirs).lines() == []
    _remove_call(home, db, _ledger(db)[-1]["session_id"])
    problems = verify(home, db, keys, shipped_heads=theirs).lines()
    assert any("ledger entries 3" in p and "host-b" in p for p in problems), problems


def test_a_byte_flip_in_any_archive_file_or_the_checkpoint_fails_verify(
    home: Path, database_url: str, db: Engine
) -> None:
    record_calls(home, database_url, 2)
    files = sorted(p for p in (home / "archive").rglob("*") if p.is_file()) + [home / HEAD_FILE]
    kinds = {p.name for p in files}
    assert {"recording.flac.age", "events.jsonl.age", "call.json.age", "alignment.json.age",
            "manifest-0001.json", "manifest-0001.json.sig", HEAD_FILE} <= kinds, kinds
    assert _problems(home, db) == []
    for path in files:
        original = path.read_bytes()
        for at in (0, len(original) // 2, len(original) - 1):
            flipped = bytearray(original)
            flipped[at] ^= 0x01  # the last byte of a .sig is its newline: \n becomes \v
            path.write_bytes(bytes(flipped))
            assert _problems(home, db), f"a flipped byte {at} of {path.relative_to(home)} went unnoticed"
        path.write_bytes(original)
    assert _problems(home, db) == []


def test_the_shipped_log_line_catches_a_removal_the_local_checkpoint_cannot(
    home: Path, database_url: str, db: Engine, tmp_path: Path
) -> None:
    """Newest call removed and an older checkpoint put back: only the copy kept elsewhere knows.

    The archiver process logs each head as `ledger head {...}` (the checkpoint file's bytes);
    the syslog here carries those lines as a log shipper would."""
    shipped = tmp_path / "syslog"
    lines: list[str] = []
    for count in (2, 1):
        record_calls(home, database_url, count)
        head = (home / HEAD_FILE).read_text().strip()
        lines.append(f"Nov 29 07:00:00 host recorder: ledger head {head}\n")
        if count == 2:
            older = (home / HEAD_FILE).read_bytes()
    shipped.write_text("".join(lines))
    _remove_call(home, db, _ledger(db)[-1]["session_id"])
    (home / HEAD_FILE).write_bytes(older)
    assert _cli_verify(home, database_url).returncode == 0  # the local evidence was rewritten whole
    result = subprocess.run(
        [sys.executable, "-m", "recorder.cli.main", "verify", "--ledger-head", str(shipped)],
        env=_env(home, database_url), capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert f"missing: ledger entries 3: the signed ledger head in {shipped} names entry 3" in result.stdout
