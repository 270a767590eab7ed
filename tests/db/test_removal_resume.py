"""A removal interrupted between its signed manifest and its database transaction is reported
by `verify` and completed by the next run, from the manifest alone, exactly once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine

from recorder.archive.finalize import finalize_call
from recorder.audit.verify import verify
from recorder.crypto.keys import KeyStore
from recorder.db import access_log
from recorder.db.engine import transaction
from recorder.db.models import Recording
from recorder.errors import DatabaseError
from recorder.lifecycle import remove
from tests.unit.archive.calls import ScriptedCall, call_meta

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)


def test_an_erasure_cut_short_after_its_tombstone_is_finished_by_the_next_run(
    call: ScriptedCall, home: Path, keystore: KeyStore, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    archived = finalize_call(lambda: call.journal, call_meta("sess_r"), close=call.close, home=home,
                             keystore=keystore, engine=engine)
    files = {p.name for p in archived.path.iterdir() if not p.name.startswith("manifest-")}
    assert files

    def lost(*args: object, **kwargs: object) -> int:
        raise DatabaseError("test", "connection lost")

    with monkeypatch.context() as m:  # the database goes away right after the tombstone is signed
        m.setattr(remove, "retrying_transaction", lost)
        with pytest.raises(DatabaseError):
            remove.remove_data(home, keystore, engine, "sess_r", kinds=(), cause=remove.ERASE,
                               reason="request 9", actor="dpo", now=NOW)
    assert (archived.path / "manifest-0002.json").is_file()
    assert {p.name for p in archived.path.iterdir() if not p.name.startswith("manifest-")} == files
    report = verify(home, engine, keystore.verify_keys())
    assert not report.ok and any("ledger" in p.subject for p in report.problems)

    with pytest.raises(remove.RemovalRefused, match="already erased"):
        remove.remove_data(home, keystore, engine, "sess_r", kinds=(), cause=remove.ERASE,
                           reason="request 9", actor="dpo", now=NOW)
    assert not [p for p in archived.path.iterdir() if not p.name.startswith("manifest-")]
    assert verify(home, engine, keystore.verify_keys()).ok
    with transaction(engine) as s:
        row = s.get(Recording, "sess_r")
        assert row is not None and (row.state, row.manifest_version) == ("erased", 2)
        entries = access_log.read(s)
        assert [(e.action, e.actor, e.reason) for e in entries] == [("erase", "dpo", "request 9")]
