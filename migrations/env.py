"""Alembic environment: runs migrations against the URL recorder chose."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from recorder.db.engine import make_engine
from recorder.db.models import Base, include_object

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("database_url")
    if url:
        return str(url)
    from recorder.config import load_settings

    return load_settings().effective_database_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_url())
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_object=include_object(connection.dialect.name),
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Several hosts may start at once on an empty database: one migrates, the
                # others wait here, then find the schema at head (held until this commits).
                connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(current_schema()))"))
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
