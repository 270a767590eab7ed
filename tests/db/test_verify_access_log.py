"""`verify` also holds the access log to its hash chain: a reading that is erased or edited shows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import text

from recorder.audit.verify import verify
from recorder.db.access_log import record_access
from recorder.db.engine import make_engine, upgrade


def test_edited_or_deleted_access_log_entry_fails_verify(database_url: str, tmp_path: Path) -> None:
    upgrade(database_url)
    engine = make_engine(database_url)
    now = dt.datetime(2026, 11, 26, tzinfo=dt.timezone.utc)
    try:
        for actor in ("ann", "bob", "cyd"):
            record_access(engine, actor=actor, action="show", reason=None, session_id="s1", now=now)
        assert verify(tmp_path, engine, {}).ok
        with engine.begin() as conn:
            conn.execute(text("UPDATE access_log SET actor = 'mallory' WHERE seq = 2"))
        edited = verify(tmp_path, engine, {})
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM access_log WHERE seq = 2"))
        deleted = verify(tmp_path, engine, {})
    finally:
        engine.dispose()
    assert not edited.ok and any("access log entry 2" in line for line in edited.lines())
    assert not deleted.ok and any("access log entry 2" in line for line in deleted.lines())
