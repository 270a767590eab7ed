"""Migrations produce exactly the models' schema, from empty, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from recorder.db.engine import make_engine, upgrade
from recorder.db.models import Base, include_object


def test_upgrade_from_empty_creates_every_table(database_url: str) -> None:
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_no_pending_autogenerate_diff(database_url: str) -> None:
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn, warnings.catch_warnings():
            # SQLite cannot reflect expression indexes; the PostgreSQL-only indexes are
            # excluded there by include_object, after alembic has warned about them.
            warnings.filterwarnings("ignore", message=".*expression-based index "
                                    "'(ix_turns_text_tsv|ix_sessions_agent_id|ix_sessions_tenant)'")
            context = MigrationContext.configure(conn, opts={
                "compare_type": True, "include_object": include_object(conn.dialect.name)})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_upgrade_is_repeatable(database_url: str) -> None:
    upgrade(database_url)
    upgrade(database_url)
    assert _revision(database_url) == "0007"


def _revision(database_url: str) -> str | None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def test_processes_migrating_a_new_database_at_once_all_succeed(database_url: str, home: Path) -> None:
    """A proxy's archiver and a command started beside it both migrate a new database: they
    take turns (PostgreSQL's advisory lock, an flock for SQLite) instead of one failing half way
    with "table already exists" (which four racing processes hit almost every time without)."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("RECORDER_")},
           "RECORDER_HOME": str(home), "RECORDER_DATABASE_URL": database_url}
    processes = [subprocess.Popen([sys.executable, "-m", "recorder.cli.main", "db", "upgrade"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [(p.wait(timeout=60), *p.communicate()) for p in processes]
    assert [code for code, _, _ in results] == [0] * 4, [err for _, _, err in results]
    assert _revision(database_url) == "0007"


def test_full_text_index_exists_on_each_engine(database_url: str) -> None:
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                names = {i["name"] for i in inspect(conn).get_indexes("turns")}
                assert "ix_turns_text_tsv" in names
            else:
                rows = conn.execute(text("SELECT name FROM sqlite_master WHERE name LIKE 'turns_fts%'"))
                assert {"turns_fts", "turns_fts_ai", "turns_fts_ad"} <= {r[0] for r in rows}
    finally:
        engine.dispose()
