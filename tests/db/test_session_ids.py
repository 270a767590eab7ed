"""Which call a SESSION argument names: exactly one, or the command refuses with exit 2.

Three archived calls: two carry the same Hydra session id (`show` used to pick one of them
silently), the third its own. Every command that takes a session refuses the shared id and
lists both recorder ids; each call is still reachable by its recorder id, the third also by
its Hydra id, and `verify` of an id nobody knows is a usage error, not an integrity failure.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, delete, update

from recorder.archive.finalize import finalize_call
from recorder.crypto.keys import KeyStore
from recorder.db.engine import transaction
from recorder.db.models import CallSession, Recording
from tests.unit.archive.calls import ScriptedCall, call_meta

SHARED, OWN = "hyd-shared-7f3a", "hyd-own-19c2"
CALLS = {"sess_a": SHARED, "sess_b": SHARED, "sess_c": OWN}


@pytest.fixture
def calls(call: ScriptedCall, home: Path, engine: Engine) -> None:
    keystore = KeyStore(home / "keys")
    keystore.init()
    for sid, hydra_id in CALLS.items():
        finalize_call(lambda: call.journal, call_meta(sid), close=call.close, home=home, keystore=keystore,
                      engine=engine)
        with transaction(engine) as s:
            s.execute(update(CallSession).where(CallSession.id == sid).values(hydra_session_id=hydra_id))


def _cli(home: Path, database_url: str, *args: str) -> Result:
    from recorder.cli.main import cli

    env = {"RECORDER_HOME": str(home), "RECORDER_DATABASE_URL": database_url,
           "SMALLEST_API_KEY": "sk_test_unused", "RECORDER_PULSE_URL": "http://127.0.0.1:9/"}
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.mark.parametrize("args", [
    ["show", SHARED],
    ["verify", SHARED],
    ["export", SHARED, "--out", "OUT"],
    ["export", SHARED, "--out", "OUT", "--original", "--reason", "ticket 9"],
    ["access-log", "--session", SHARED],
    ["transcribe", "--session", SHARED],
    ["keys", "rewrap", "--session", SHARED],
], ids=["show", "verify", "export", "export-original", "access-log", "transcribe", "keys-rewrap"])
def test_an_id_shared_by_two_calls_is_refused_with_both_listed(
    args: list[str], calls: None, home: Path, engine: Engine, database_url: str, tmp_path: Path
) -> None:
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    done = _cli(home, database_url, *args)
    assert done.exit_code == 2, done.output
    assert f"'{SHARED}' matches 2 calls" in done.stderr
    assert "sess_a" in done.stderr and "sess_b" in done.stderr and "sess_c" not in done.stderr
    assert not (tmp_path / "out").exists()
    log = _cli(home, database_url, "access-log", "--json")
    assert '"entries": []' in log.stdout  # nothing was read, so nothing was logged


def test_each_call_is_reachable_by_its_recorder_id_and_a_unique_hydra_id(
    calls: None, home: Path, database_url: str
) -> None:
    for key, sid in [("sess_a", "sess_a"), ("sess_b", "sess_b"), (OWN, "sess_c")]:
        shown = _cli(home, database_url, "show", key, "--json")
        assert shown.exit_code == 0, shown.output
        assert f'"id": "{sid}"' in shown.stdout


def test_verify_by_hydra_id_checks_that_call(calls: None, home: Path, database_url: str) -> None:
    done = _cli(home, database_url, "verify", OWN)
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines()[-1].startswith("ok: 1 archives, 1 manifests")


def test_verify_of_an_unknown_id_is_a_usage_error_not_tampering(
    calls: None, home: Path, database_url: str
) -> None:
    done = _cli(home, database_url, "verify", "no-such-call")
    assert done.exit_code == 2
    assert "no session 'no-such-call'" in done.stderr and "missing" not in done.output


def test_verify_of_a_call_whose_rows_were_removed_still_reports_them_missing(
    calls: None, home: Path, engine: Engine, database_url: str
) -> None:
    """An archive left on disk is what remains of a call: verify KEY checks it, it does not
    call the id unknown."""
    with transaction(engine) as s:
        s.execute(delete(Recording).where(Recording.session_id == "sess_c"))
    done = _cli(home, database_url, "verify", "sess_c")
    assert done.exit_code == 1
    assert "missing: recordings row sess_c" in done.stdout


def test_access_log_by_hydra_id_lists_that_calls_accesses(
    calls: None, home: Path, database_url: str
) -> None:
    assert _cli(home, database_url, "show", OWN).exit_code == 0
    assert _cli(home, database_url, "show", "sess_a").exit_code == 0
    by_hydra = _cli(home, database_url, "access-log", "--session", OWN, "--json")
    assert by_hydra.exit_code == 0, by_hydra.output
    entries = json.loads(by_hydra.stdout)["entries"]
    assert [(e["action"], e["session_id"]) for e in entries] == [("show", "sess_c")]
    unknown = _cli(home, database_url, "access-log", "--session", "no-such-call")
    assert unknown.exit_code == 2 and "no session 'no-such-call'" in unknown.stderr
