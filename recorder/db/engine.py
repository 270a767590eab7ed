"""Engines and migrations. Only `db/` catches `sqlalchemy.exc.*`."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, create_engine, event, exc, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from recorder.errors import ConfigError, DatabaseError
from recorder.private import create_private_file

log = logging.getLogger(__name__)
T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
_REVISION = re.compile(r"^revision\b[^=]*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\b[^=]*=(.*)$", re.MULTILINE)


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return "<invalid database URL>"


def _parse(url: str) -> URL:
    try:
        return make_url(url)
    except exc.ArgumentError as error:
        raise ConfigError("database_url", "settings", f"not a database URL: {error}") from error


def _private_sqlite_file(parsed: URL) -> None:
    """A SQLite database file is created 0600 (in a 0700 directory) before SQLite opens it;
    SQLite gives its -wal and -shm files the database file's mode."""
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        create_private_file(Path(parsed.database))


def make_engine(url: str) -> Engine:
    parsed = _parse(url)
    _private_sqlite_file(parsed)
    try:
        engine = create_engine(parsed, pool_pre_ping=True)
    except (exc.ArgumentError, ModuleNotFoundError) as error:
        raise ConfigError("database_url", "settings", f"cannot use {safe_url(url)}: {error}") from error
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on error, maps driver errors to ours."""
    factory = sessionmaker(engine, expire_on_commit=False)
    try:
        with factory.begin() as session:
            yield session
    except exc.SQLAlchemyError as error:
        raise DatabaseError(safe_url(str(engine.url)), _first_line(error)) from error


def retrying_transaction(
    engine: Engine, work: Callable[[Session], T], *, what: str, attempts: int = 5
) -> T:
    """Run `work` in one transaction, again on a unique-key collision.

    Hash chains (the ledger, the access log) number their entries last + 1: two writers
    appending at once collide on the primary key, and the loser's whole transaction is run
    again on the new head of the chain.
    """
    for attempt in range(1, attempts + 1):
        try:
            with transaction(engine) as session:
                return work(session)
        except DatabaseError as error:
            if not isinstance(error.__cause__, exc.IntegrityError) or attempt == attempts:
                raise
            log.info("%s collided with a concurrent writer; retrying (%d)", what, attempt)
    raise AssertionError("unreachable")


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def alembic_config(url: str) -> "object":
    from alembic.config import Config

    if not (MIGRATIONS_DIR / "env.py").is_file():
        raise ConfigError("migrations", str(MIGRATIONS_DIR), "migrations directory not found")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = url
    return config


def head_revision(versions: Path = MIGRATIONS_DIR / "versions") -> str | None:
    """The one head of the migration files, read as text (importing Alembic costs more than
    most commands' whole work); None unless there is exactly one, and then Alembic decides."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in versions.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision = _REVISION.search(source)
        if revision is None:
            return None
        revisions.add(revision.group(1))
        for down in _DOWN_REVISION.findall(source):
            downs.update(re.findall(r"['\"]([^'\"]+)['\"]", down))
    heads = revisions - downs
    return heads.pop() if len(heads) == 1 else None


def schema_is_current(engine: Engine) -> bool:
    """Whether the database's Alembic version is the migrations' head."""
    head = head_revision()
    if head is None:
        return False
    try:
        with engine.connect() as connection:
            stored = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except exc.SQLAlchemyError:
        return False  # no such table yet, or no database: the migrations say why
    return list(stored) == [head]


def open_database(url: str) -> Engine:
    """An engine on `url` whose schema is at head; Alembic runs only when it is not."""
    engine = make_engine(url)
    try:
        if not schema_is_current(engine):
            upgrade(url)
    except BaseException:
        engine.dispose()
        raise
    return engine


@contextmanager
def _sqlite_migration_lock(parsed: URL) -> Iterator[None]:
    """Processes migrating one SQLite file take turns, as PostgreSQL's advisory lock in
    migrations/env.py makes them: a proxy's archiver and a command started beside it on a new
    database would otherwise both run the first migrations and one would fail half way.
    The lock is an `flock` on the file's directory: SQLite's own locks on the file are POSIX
    locks, which closing any other descriptor of the file would drop."""
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        yield
        return
    import fcntl
    import os

    fd = os.open(Path(str(parsed.database)).resolve().parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the flock


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe to run repeatedly."""
    from alembic import command
    from alembic.util import CommandError

    parsed = _parse(url)
    _private_sqlite_file(parsed)
    try:
        with _sqlite_migration_lock(parsed):
            command.upgrade(alembic_config(url), revision)  # type: ignore[arg-type]
    except exc.SQLAlchemyError as error:
        raise DatabaseError(safe_url(url), f"migration failed: {_first_line(error)}") from error
    except CommandError as error:  # e.g. a revision this recorder does not know
        raise DatabaseError(safe_url(url), f"cannot migrate to {revision!r}: {_first_line(error)} "
                            "(a revision this recorder does not have: a newer recorder may have "
                            "migrated this database)") from error
    log.debug("database %s is at %s", safe_url(url), revision)
