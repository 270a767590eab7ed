"""The access log chains every entry; edits, deletions and re-hashed rows are found.

Runs on SQLite always and on PostgreSQL when RECORDER_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import Engine, delete, update

from recorder.db import access_log
from recorder.db.engine import transaction
from recorder.db.ledger import GENESIS
from recorder.db.models import AccessLogEntry

T0 = dt.datetime(2026, 11, 26, 12, 0, 0, 123456, tzinfo=dt.UTC)


def _three(engine: Engine) -> None:
    for i, (actor, sid) in enumerate([("alice", "s1"), ("bob", "s2"), ("carol", None)]):
        access_log.record_access(
            engine, actor=actor, action=access_log.EXPORT_ORIGINAL, reason=f"case {i} — ünïcode",
            session_id=sid, detail={"out": f"/tmp/x{i}", "files": ["a", "b"], "n": i},
            now=T0 + dt.timedelta(seconds=i),
        )


def _problems(engine: Engine) -> list[tuple[str, int]]:
    with transaction(engine) as s:
        return [(p.kind, p.seq) for p in access_log.check_chain(access_log.read(s))]


def test_entries_chain_and_read_back_exactly(engine: Engine) -> None:
    _three(engine)
    with transaction(engine) as s:
        rows = access_log.read(s)
        assert [(r.seq, r.actor, r.session_id) for r in rows] == [(1, "alice", "s1"), (2, "bob", "s2"), (3, "carol", None)]
        assert rows[0].prev_hash == GENESIS and rows[1].prev_hash == rows[0].entry_hash
        assert rows[1].detail == {"out": "/tmp/x1", "files": ["a", "b"], "n": 1}
        assert rows[1].reason == "case 1 — ünïcode"
        assert access_log._utc(rows[2].at) == T0 + dt.timedelta(seconds=2)
        assert [r.seq for r in access_log.read(s, session_id="s2")] == [2]
        assert access_log.check_chain(rows) == []


def test_an_edited_entry_is_altered(engine: Engine) -> None:
    _three(engine)
    with transaction(engine) as s:
        s.execute(update(AccessLogEntry).where(AccessLogEntry.seq == 2).values(reason="nothing to see"))
    assert _problems(engine) == [("altered", 2)]


def test_a_deleted_entry_is_missing_and_breaks_the_chain(engine: Engine) -> None:
    _three(engine)
    with transaction(engine) as s:
        s.execute(delete(AccessLogEntry).where(AccessLogEntry.seq == 2))
    assert _problems(engine) == [("missing", 2), ("broken", 3)]


def test_a_rehashed_entry_breaks_the_next_link(engine: Engine) -> None:
    _three(engine)
    with transaction(engine) as s:
        e = s.get(AccessLogEntry, 1)
        assert e is not None
        e.actor = "mallory"
        e.entry_hash = access_log._own_hash(e)
    assert _problems(engine) == [("broken", 2)]


def test_concurrent_appenders_keep_one_chain(engine: Engine) -> None:
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            for k in range(3):
                access_log.record_access(engine, actor=f"w{i}", action="show", reason=None,
                                         session_id=None, now=T0, attempts=20)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with transaction(engine) as s:
        rows = access_log.read(s)
    assert [r.seq for r in rows] == list(range(1, 10))
    assert access_log.check_chain(rows) == []


def test_an_access_needs_an_actor(engine: Engine) -> None:
    with pytest.raises(ValueError):
        access_log.record_access(engine, actor="", action="show", reason=None, now=T0)
