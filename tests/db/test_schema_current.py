"""The cheap schema check that lets read-only commands skip Alembic: it must agree with Alembic."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import text

from recorder.db.engine import (
    MIGRATIONS_DIR,
    alembic_config,
    head_revision,
    make_engine,
    open_database,
    schema_is_current,
)


def test_head_read_from_the_files_is_alembics_head() -> None:
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()  # type: ignore[arg-type]
    assert [head_revision()] == heads


def test_two_heads_or_an_unreadable_file_leave_the_decision_to_alembic(tmp_path: Path) -> None:
    for name in ("0001_calls.py", "0002_recordings_ledger.py"):
        (tmp_path / name).write_text((MIGRATIONS_DIR / "versions" / name).read_text())
    assert head_revision(tmp_path) == "0002"
    (tmp_path / "0002b_other.py").write_text("revision = '0002b'\ndown_revision = '0001'\n")
    assert head_revision(tmp_path) is None
    (tmp_path / "0002b_other.py").write_text("revision = compute()\n")
    assert head_revision(tmp_path) is None


def test_current_only_at_head(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert not schema_is_current(engine)  # empty: no alembic_version table
    finally:
        engine.dispose()
    engine = open_database(database_url)  # migrates
    try:
        assert schema_is_current(engine)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0003'"))
        assert not schema_is_current(engine)
    finally:
        engine.dispose()
