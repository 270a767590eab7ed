"""One console site per database engine for the whole package: recording and transcribing
the calls takes a while, and every test here only reads them (or signs in afresh).

Under pytest-xdist (`--dist loadgroup`) the tests of one site form one group, so each site is
built once, on one worker, while the other engine's site is built on another."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import _postgres_schema
from tests.integration.console_site import PASSWORDS, Site, console_site


@pytest.fixture(scope="package", params=["sqlite", "postgresql"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("console") / "home"
    home.mkdir()
    if request.param == "sqlite":
        with console_site(home, f"sqlite:///{home / 'recorder.db'}") as s:
            yield s
        return
    pg = os.environ.get("RECORDER_TEST_DATABASE_URL")
    if not pg:
        pytest.skip("RECORDER_TEST_DATABASE_URL not set")
    for url in _postgres_schema(pg):
        with console_site(home, url) as s:
            yield s


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if item.path.is_relative_to(here) and "site" in params:
            item.add_marker(pytest.mark.xdist_group(f"console-{params['site']}"))


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, "no CSRF token in the form"
    return found[1]


@contextmanager
def sign_in(url: str, name: str, password: str | None = None) -> Iterator[httpx.Client]:
    """A client signed in as ``name`` through the real form."""
    with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as client:
        form = client.get("/login")
        done = client.post("/login", data={"username": name, "password": password or PASSWORDS[name],
                                           "csrf": csrf_of(form.text)})
        assert done.status_code == 303 and done.headers["location"] == "/calls", done.text
        yield client


def access_log(site: Site) -> list[dict[str, object]]:
    """The access log as `recorder access-log --json` prints it, after checking its chain holds."""
    import json

    from tests.integration.console_site import cli

    done = cli(site.home, site.database_url, "access-log", "--json")
    doc = json.loads(done.stdout)
    assert done.returncode == 0 and doc["ok"], done.stdout + done.stderr
    entries: list[dict[str, object]] = doc["entries"]
    return entries


def files_under(home: Path) -> set[str]:
    return {str(p.relative_to(home)) for p in home.rglob("*") if p.is_file()}
