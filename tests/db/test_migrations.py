"""Migrations produce exactly the models' schema, from empty, on SQLite and PostgreSQL."""

from __future__ import annotations

import warnings

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
            # SQLite cannot reflect expression indexes; the PostgreSQL-only GIN index is
            # excluded there by include_object, after alembic has warned about it.
            warnings.filterwarnings("ignore", message=".*expression-based index 'ix_turns_text_tsv'")
            context = MigrationContext.configure(conn, opts={
                "compare_type": True, "include_object": include_object(conn.dialect.name)})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_upgrade_is_repeatable(database_url: str) -> None:
    upgrade(database_url)
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == "0005"
    finally:
        engine.dispose()


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
