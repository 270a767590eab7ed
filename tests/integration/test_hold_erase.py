"""Legal holds and erasure through the CLI, on calls placed through the proxy and transcribed.

A held call cannot be erased (exit 2, the hold named); once released, `erase` removes every
file and the transcript rows, keeps the call's facts, and leaves a signed tombstone that
`verify` accepts, while the same files deleted by hand make `verify` fail. Holds, releases and
erasures are on the hash-chained access log. SQLite always; PostgreSQL when configured.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from recorder.archive.manifest import SIG_SUFFIX, manifest_name, parse_manifest
from recorder.archive.store import ArchiveStore
from recorder.crypto.keys import KeyStore
from recorder.db import access_log
from recorder.db.engine import transaction
from recorder.db.models import (
    CallSession,
    Recording,
    RedactionSpan,
    Response,
    ToolCall,
    Transcript,
    TranscriptTurn,
    TranscriptWord,
)
from tests.integration.lifecycle_calls import place_calls, run_cli, session_ids, transcribe_all

ARCHIVE_FILES = {"alignment.json.age", "call.json.age", "events.jsonl.age", "recording.flac.age",
                 "recording.redacted.flac.age", "transcript.json.age"}

# Real calls through the proxy, transcription and a dozen CLI processes: minutes on a busy machine.
pytestmark = pytest.mark.timeout(600)


def _rows(engine: Engine, model: type, sid: str) -> int:
    with transaction(engine) as s:
        return int(s.scalar(select(func.count()).select_from(model).where(model.session_id == sid)) or 0)


def _content_files(archive_dir: Path) -> set[str]:
    return {p.name for p in archive_dir.iterdir() if not p.name.startswith("manifest-")}


def test_hold_blocks_erase_and_erase_leaves_a_tombstone_verify_accepts(
    home: Path, database_url: str, engine: Engine, keystore: KeyStore
) -> None:
    calls = place_calls(home, database_url, ["acme", "acme"])
    summary = transcribe_all(home, engine, keystore)
    assert (summary.transcribed, summary.failed) == (2, 0)
    first, second = session_ids(engine)
    store = ArchiveStore(home)
    first_dir, second_dir = store.get(first), store.get(second)
    assert ARCHIVE_FILES <= _content_files(first_dir)
    with transaction(engine) as s:
        call = s.get(CallSession, first)
        assert call is not None
        facts = (call.started_at, call.ended_at, call.close_code, call.caller_audio_ms)
        usage = sorted((r.seq, r.status, r.total_tokens) for r in call.responses)
    assert _rows(engine, TranscriptWord, first) > 0

    # A hold by Hydra's session id; erase is then refused, naming it, and nothing moves.
    held = run_cli(home, database_url, "hold", "add", calls[0].session_id or "", "--reason", "case 7",
                   "--actor", "legal@acme", "--json")
    assert held.returncode == 0, held.stderr
    hold = json.loads(held.stdout)
    assert hold["session_ids"] == [first] and hold["active"] and hold["scope"] == "session"
    refused = run_cli(home, database_url, "erase", first, "--reason", "gdpr request 55")
    assert refused.returncode == 2
    assert f"hold {hold['id']}" in refused.stderr and "case 7" in refused.stderr
    assert ARCHIVE_FILES <= _content_files(first_dir) and _rows(engine, TranscriptWord, first) > 0
    listed = json.loads(run_cli(home, database_url, "hold", "list", "--json").stdout)
    assert [h["id"] for h in listed] == [hold["id"]]

    released = run_cli(home, database_url, "hold", "release", str(hold["id"]), "--reason", "case closed",
                       "--actor", "legal@acme")
    assert released.returncode == 0, released.stderr
    assert json.loads(run_cli(home, database_url, "hold", "list", "--json").stdout) == []
    again = run_cli(home, database_url, "hold", "release", str(hold["id"]), "--reason", "x")
    assert again.returncode == 2 and "already released" in again.stderr

    # A tenant hold covers every call of the tenant; a query hold the calls whose transcript matches.
    tenant = json.loads(run_cli(home, database_url, "hold", "add", "--tenant", "acme", "--reason", "audit 3",
                                "--json").stdout)
    refused = run_cli(home, database_url, "erase", first, "--reason", "gdpr request 55")
    assert refused.returncode == 2 and f"hold {tenant['id']} (tenant: acme)" in refused.stderr
    assert run_cli(home, database_url, "hold", "release", str(tenant["id"]), "--reason", "done").returncode == 0
    query = json.loads(run_cli(home, database_url, "hold", "add", "--query", "order number", "--reason", "q",
                               "--json").stdout)
    assert query["scope"] == "query" and query["session_ids"] == sorted([first, second])
    assert run_cli(home, database_url, "erase", second, "--reason", "r").returncode == 2
    assert run_cli(home, database_url, "hold", "release", str(query["id"]), "--reason", "done").returncode == 0

    before = {f.name for f in parse_manifest(store.read_manifest(first_dir)[1]).files}
    assert ARCHIVE_FILES <= before
    erased = run_cli(home, database_url, "erase", calls[0].session_id or "", "--reason", "gdpr request 55",
                     "--actor", "dpo@acme", "--json")
    assert erased.returncode == 0, erased.stderr
    result = json.loads(erased.stdout)
    assert result["session_id"] == first and set(result["files"]) == before
    assert _content_files(first_dir) == set()  # only the manifests and their signatures are left
    _, data, _ = store.read_manifest(first_dir)
    tombstone = parse_manifest(data)
    assert tombstone.state == "erased" and tombstone.files == ()
    assert tombstone.removal is not None and tombstone.removal["cause"] == "erase"
    assert tombstone.removal["actor"] == "dpo@acme" and tombstone.removal["reason"] == "gdpr request 55"
    assert set(tombstone.removal["files"]) == before
    for model in (Transcript, TranscriptWord, TranscriptTurn, RedactionSpan):
        assert _rows(engine, model, first) == 0, model.__name__
    with transaction(engine) as s:
        call = s.get(CallSession, first)
        assert call is not None
        assert (call.started_at, call.ended_at, call.close_code, call.caller_audio_ms) == facts
        assert sorted((r.seq, r.status, r.total_tokens) for r in call.responses) == usage
        assert all(t.arguments is None and t.output is None for t in call.tool_calls)
        rec = s.get(Recording, first)
        assert rec is not None and (rec.state, rec.manifest_version) == ("erased", tombstone.version)
        chain = access_log.read(s)
        assert access_log.check_chain(chain) == []
        assert [(e.action, e.actor, e.reason) for e in chain] == [
            ("hold_add", "legal@acme", "case 7"), ("hold_release", "legal@acme", "case closed"),
            ("hold_add", "auditor-os", "audit 3"), ("hold_release", "auditor-os", "done"),
            ("hold_add", "auditor-os", "q"), ("hold_release", "auditor-os", "done"),
            ("erase", "dpo@acme", "gdpr request 55")]
    assert _rows(engine, Response, first) == len(usage)
    shown = json.loads(run_cli(home, database_url, "show", first, "--json").stdout)
    assert shown["recording"]["state"] == "erased" and shown["transcript"] is None

    ok = run_cli(home, database_url, "verify")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert run_cli(home, database_url, "erase", first, "--reason", "twice").returncode == 2

    # The same files of the other call deleted by hand: verify names each one and fails.
    for name in ARCHIVE_FILES:
        (second_dir / name).unlink()
    bad = run_cli(home, database_url, "verify", "--json")
    assert bad.returncode == 1
    problems = json.loads(bad.stdout)["problems"]
    missing = {p["subject"].rsplit("/", 1)[-1] for p in problems if p["kind"] == "missing"}
    assert missing == ARCHIVE_FILES and all(p["session_id"] == second for p in problems)

    # Nor can a hand-made "tombstone" pass: an unsigned manifest version is reported.
    forged = second_dir / manifest_name(9)
    forged.write_bytes(data.replace(first.encode(), second.encode()))
    (second_dir / (forged.name + SIG_SUFFIX)).write_text("AAAA\n")
    assert run_cli(home, database_url, "verify", second).returncode == 1


def test_erase_refusals(home: Path, database_url: str, engine: Engine, keystore: KeyStore) -> None:
    unknown = run_cli(home, database_url, "erase", "nobody", "--reason", "x")
    assert unknown.returncode == 2 and "no session 'nobody'" in unknown.stderr
    no_reason = run_cli(home, database_url, "erase", "nobody")
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
    both = run_cli(home, database_url, "hold", "add", "x", "--tenant", "acme", "--reason", "r")
    assert both.returncode == 2 and "exactly one of" in both.stderr
    nothing = run_cli(home, database_url, "hold", "add", "--query", "zebra", "--reason", "r")
    assert nothing.returncode == 2 and "covers no call" in nothing.stderr
