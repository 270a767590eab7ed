"""`recorder users`: add (password on stdin), list, disable, enable, passwd; on each engine."""

from __future__ import annotations

import json
from pathlib import Path

from recorder.console.passwords import verify_password
from recorder.db.engine import make_engine, transaction
from recorder.db.users import get_user
from tests.integration.console_site import cli


def _hash(database_url: str, name: str) -> str:
    engine = make_engine(database_url)
    try:
        with transaction(engine) as session:
            user = get_user(session, name)
    finally:
        engine.dispose()
    assert user is not None
    return user.password_hash


def test_users_are_added_listed_disabled_and_given_new_passwords(home: Path, database_url: str) -> None:
    added = cli(home, database_url, "users", "add", "alice", "--role", "auditor", stdin="alice-password-1\n")
    assert added.returncode == 0 and "added auditor alice" in added.stdout, added.stderr
    assert cli(home, database_url, "users", "add", "sam", "--role", "supervisor",
               stdin="sam-password-22\n").returncode == 0
    stored = _hash(database_url, "alice")
    assert stored.startswith("$argon2id$") and verify_password(stored, "alice-password-1")

    listed = json.loads(cli(home, database_url, "users", "list", "--json").stdout)
    assert [(u["name"], u["role"], u["disabled"]) for u in listed] == [
        ("alice", "auditor", False), ("sam", "supervisor", False)]
    assert "argon2" not in json.dumps(listed)

    assert cli(home, database_url, "users", "disable", "alice").returncode == 0
    assert "alice                    auditor    disabled" in cli(home, database_url, "users", "list").stdout
    assert cli(home, database_url, "users", "enable", "alice").returncode == 0

    changed = cli(home, database_url, "users", "passwd", "alice", stdin="a-brand-new-password\n")
    assert changed.returncode == 0, changed.stderr
    assert verify_password(_hash(database_url, "alice"), "a-brand-new-password")
    assert not verify_password(_hash(database_url, "alice"), "alice-password-1")


def test_bad_requests_fail_clearly_and_change_nothing(home: Path, database_url: str) -> None:
    assert cli(home, database_url, "users", "add", "alice", "--role", "auditor",
               stdin="alice-password-1\n").returncode == 0
    again = cli(home, database_url, "users", "add", "alice", "--role", "supervisor", stdin="other-password-9\n")
    assert again.returncode == 2 and "already exists" in again.stderr
    short = cli(home, database_url, "users", "add", "bob", "--role", "auditor", stdin="short\n")
    assert short.returncode == 2 and "at least 12 characters" in short.stderr
    empty = cli(home, database_url, "users", "add", "bob", "--role", "auditor", stdin="")
    assert empty.returncode == 2 and "no password on standard input" in empty.stderr
    role = cli(home, database_url, "users", "add", "bob", "--role", "admin", stdin="long-enough-pass\n")
    assert role.returncode == 2 and "admin" in role.stderr
    name = cli(home, database_url, "users", "add", "bob smith", "--role", "auditor", stdin="long-enough-pass\n")
    assert name.returncode == 2 and "user name" in name.stderr
    missing = cli(home, database_url, "users", "disable", "nobody")
    assert missing.returncode == 2 and "nobody" in missing.stderr
    listed = json.loads(cli(home, database_url, "users", "list", "--json").stdout)
    assert [(u["name"], u["role"]) for u in listed] == [("alice", "auditor")]
