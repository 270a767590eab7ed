"""Shared fixtures: a private RECORDER_HOME per test and the database URLs to test against."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

TEST_API_KEY = "sk_test_Zq8vWm3kR7pX2nL5"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def database_urls(tmp: Path) -> list[str]:
    urls = [f"sqlite:///{tmp / 'recorder.db'}"]
    pg = os.environ.get("RECORDER_TEST_DATABASE_URL")
    if pg:
        urls.append(pg)
    return urls


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated-from-empty database on each engine available."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'recorder.db'}"
        return
    pg = os.environ.get("RECORDER_TEST_DATABASE_URL")
    if not pg:
        pytest.skip("RECORDER_TEST_DATABASE_URL not set")
    yield pg
