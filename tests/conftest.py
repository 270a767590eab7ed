"""Shared fixtures: a private RECORDER_HOME per test and the database URLs to test against.

Also the project's Hypothesis profiles, loaded here (before any test module is imported, so
every `@settings(...)` inherits them): "ci" is derandomized, so a CI run passes or fails the
same way every time, and keeps no example database; "dev" (the default elsewhere) draws new
examples each run. `HYPOTHESIS_PROFILE` picks one explicitly; otherwise a truthy `CI` selects "ci".
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase
from sqlalchemy import Engine

from recorder.crypto.keys import KeyStore
from recorder.db.engine import make_engine, upgrade
from tests.unit.archive.calls import ScriptedCall, build_call

TEST_API_KEY = "sk_test_Zq8vWm3kR7pX2nL5"

settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
# every value explicit: Hypothesis itself loads its own "ci" on import when it sees CI set
settings.register_profile(
    "dev", derandomize=False, database=DirectoryBasedExampleDatabase(".hypothesis/examples"),
    deadline=None, print_blob=False, suppress_health_check=(),
)


def hypothesis_profile(environ: Mapping[str, str]) -> str:
    """The profile a run uses: `HYPOTHESIS_PROFILE`, else "ci" when `CI` is truthy, else "dev"."""
    chosen = environ.get("HYPOTHESIS_PROFILE")
    if chosen:
        return chosen
    return "ci" if environ.get("CI", "").strip().lower() not in ("", "0", "false", "no") else "dev"


settings.load_profile(hypothesis_profile(os.environ))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a database migrated to head."""
    upgrade(database_url)
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def keystore(home: Path) -> KeyStore:
    store = KeyStore(home / "keys")
    store.init()
    return store


@pytest.fixture(scope="module")
def call() -> ScriptedCall:
    """A short scripted call with a barge-in and a tool call (tests/unit/archive/calls.py)."""
    return build_call()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated-from-empty database on each engine available."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'recorder.db'}"
        return
    pg = os.environ.get("RECORDER_TEST_DATABASE_URL")
    if not pg:
        pytest.skip("RECORDER_TEST_DATABASE_URL not set")
    yield from _postgres_schema(pg)


def _postgres_schema(url: str) -> Iterator[str]:
    """A private schema per test, so tests never see each other's rows or migrations."""
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
