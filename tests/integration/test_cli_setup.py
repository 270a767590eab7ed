"""Start-up as an operator meets it: `recorder db upgrade`, `recorder demo`, and every
configuration, database-URL and migration error answered with one clear line and exit 2
(never a traceback, never a password).

Migrations and the demo run the CLI as a subprocess; the many settings cases go through the
same `cli` group in-process (click's runner), which keeps them quick.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import inspect

from recorder.cli.main import cli
from recorder.db.engine import alembic_config, make_engine
from recorder.db.models import Base

USAGE = 2


def run(home: Path, *args: str, timeout: float = 90, **extra_env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("RECORDER_", "SMALLEST_"))}
    return subprocess.run([sys.executable, "-m", "recorder.cli.main", *args],
                          env={**base, "RECORDER_HOME": str(home), **extra_env},
                          capture_output=True, text=True, timeout=timeout)


def invoke(home: Path, *args: str, **extra_env: str) -> Result:
    """The CLI in-process, on a thread: were a bad setting let through, `recorder proxy` would
    fail at once (signal handlers need the main thread) instead of serving until a timeout."""
    env = {k: None for k in os.environ if k.startswith(("RECORDER_", "SMALLEST_"))}
    results: list[Result] = []
    thread = threading.Thread(target=lambda: results.append(CliRunner().invoke(
        cli, list(args), env={**env, "RECORDER_HOME": str(home), **extra_env})))
    thread.start()
    thread.join(60)
    assert results, "the command did not return"
    return results[0]


def refused(done: subprocess.CompletedProcess[str] | Result, *needles: str) -> None:
    """Exit 2 with one `recorder: error:` (or click usage) line naming the problem."""
    if isinstance(done, Result):
        assert done.exception is None or isinstance(done.exception, SystemExit), repr(done.exception)
        done = subprocess.CompletedProcess([], done.exit_code, done.stdout, done.stderr)
    assert done.returncode == USAGE, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    assert "error" in done.stderr.lower()
    for needle in needles:
        assert needle in done.stderr, (needle, done.stderr)


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()  # type: ignore[arg-type,return-value]


# --- recorder db upgrade -----------------------------------------------------------------------


def test_db_upgrade_migrates_to_head_and_is_repeatable(home: Path, database_url: str) -> None:
    for _ in range(2):
        done = run(home, "db", "upgrade", "--database-url", database_url)
        assert done.returncode == 0, done.stderr
        assert "is at head" in done.stdout
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            from alembic.migration import MigrationContext

            current = MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
    assert set(Base.metadata.tables) <= tables
    assert current == head_revision()


def test_db_upgrade_refuses_a_revision_it_does_not_know_and_touches_nothing(tmp_path: Path) -> None:
    db = tmp_path / "future.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES ('9999_from_the_future')")
    done = run(tmp_path / "home", "db", "upgrade", "--database-url", f"sqlite:///{db}")
    refused(done, "9999_from_the_future", "newer recorder")
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        version = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    assert tables == {"alembic_version"} and version == [("9999_from_the_future",)]


def test_db_upgrade_to_an_unknown_target_is_a_clear_error(tmp_path: Path) -> None:
    done = run(tmp_path / "home", "db", "upgrade", "--revision", "no_such_rev",
               "--database-url", f"sqlite:///{tmp_path / 'x.db'}")
    refused(done, "no_such_rev")


def test_a_migration_that_fails_on_a_conflicting_table_keeps_the_table_and_says_so(tmp_path: Path) -> None:
    db = tmp_path / "other-app.db"
    with sqlite3.connect(db) as conn:  # another application's table where ours would go
        conn.execute("CREATE TABLE sessions (token TEXT)")
        conn.execute("INSERT INTO sessions VALUES ('keep me')")
    done = run(tmp_path / "home", "db", "upgrade", "--database-url", f"sqlite:///{db}")
    refused(done, "migration failed", "sessions", "already exists")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT token FROM sessions").fetchall() == [("keep me",)]
    # the proxy migrates on start: it refuses the same way instead of serving on a bad schema
    refused(run(tmp_path / "home", "proxy", "--listen", "127.0.0.1:0", "--database-url", f"sqlite:///{db}"),
            "migration failed")


# --- database URLs -----------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "needle"), [
    ("not a url at all", "not a database URL"),
    ("nosuchdialect://host/db", "cannot use"),
])
def test_a_malformed_database_url_is_a_configuration_error(tmp_path: Path, url: str, needle: str) -> None:
    refused(invoke(tmp_path, "db", "upgrade", "--database-url", url), "database_url", needle)
    refused(invoke(tmp_path, "sessions", RECORDER_DATABASE_URL=url), "database_url", needle)


def test_an_unreachable_database_is_named_without_its_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://recorder:s3cret-pw-991@127.0.0.1:1/recorder"  # nothing listens on port 1
    done = run(tmp_path, "db", "upgrade", "--database-url", url)
    refused(done, "127.0.0.1:1", "refused")
    assert "s3cret-pw-991" not in done.stderr + done.stdout


# --- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "needles"), [
    (["--listen", "nonsense"], ["listen", "nonsense"]),
    (["--listen", "127.0.0.1:99999"], ["listen", "99999"]),
    (["--fsync", "sometimes"], ["--fsync", "sometimes"]),
    (["--recording-failure", "ignore"], ["--recording-failure"]),
    (["--certfile", "server.pem"], ["--certfile", "--keyfile"]),
    (["--keyfile", "server.key"], ["--certfile", "--keyfile"]),
    (["--max-sessions", "0"], ["max_sessions"]),
])
def test_bad_proxy_flags_are_refused_before_anything_listens(tmp_path: Path, args: list[str],
                                                           needles: list[str]) -> None:
    refused(invoke(tmp_path, "proxy", *args), *needles)


@pytest.mark.parametrize(("content", "needles"), [
    (None, ["file not found"]),
    ("listen = [\n", ["invalid TOML"]),
    ('fsync = "sometimes"\n', ["fsync", "always, interval or never"]),
    ('[recorder]\nmax_sessions = "many"\n', ["max_sessions", "many"]),
    ("no_such_setting = 1\n", ["no_such_setting", "unknown setting"]),
])
def test_a_missing_or_malformed_config_file_is_refused(tmp_path: Path, content: str | None,
                                                      needles: list[str]) -> None:
    path = tmp_path / "recorder.toml"
    if content is not None:
        path.write_text(content)
    refused(invoke(tmp_path, "proxy", "--config", str(path)), *needles)
    # the same through $RECORDER_CONFIG, for a command that never listens
    refused(invoke(tmp_path, "db", "upgrade", RECORDER_CONFIG=str(path)), *needles)


def test_flags_override_the_config_file(tmp_path: Path) -> None:
    """A bad value in the file is replaced by a good flag: the precedence the README states."""
    path = tmp_path / "recorder.toml"
    path.write_text(f'fsync = "sometimes"\ndatabase_url = "sqlite:///{tmp_path / "file.db"}"\n')
    refused(invoke(tmp_path, "db", "upgrade", "--config", str(path)), "fsync")
    path.write_text('database_url = "not a url"\n')
    done = invoke(tmp_path, "db", "upgrade", "--config", str(path), "--database-url", f"sqlite:///{tmp_path / 'flag.db'}")
    assert done.exit_code == 0, done.output
    assert (tmp_path / "flag.db").exists()


# --- recorder demo -----------------------------------------------------------------------------


@pytest.mark.slow
def test_demo_runs_the_pipeline_offline_and_shows_only_redacted_words(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = run(home, "demo", timeout=240)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "transcribed 1, failed 0" in out
    transcript = out[out.index("transcript ("):]
    assert "caller: it is [CREDIT_CARD]" in transcript
    assert "[DATE_OF_BIRTH]" in transcript and "[EMAIL]" in transcript
    for said in ("four one one one", "nineteen eighty five", "march third", "john dot smith", "gmail"):
        assert said not in out, said
    (call_id,) = re.findall(r"recorder show (\S+)`", out)
    verified = run(home, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    shown = run(home, "show", call_id)
    assert shown.returncode == 0 and "[CREDIT_CARD]" in shown.stdout
