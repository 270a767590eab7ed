"""`recorder retention status|apply` on calls placed through the proxy and transcribed.

Three calls, all 40 days old: two of tenant acme (originals kept 30 days), one with no tenant
(the default: originals 90 days); transcripts are kept 30 days and redacted recordings 7 years
for everyone. One acme call is under a legal hold. `apply` must delete exactly: the free acme
call's originals and transcript, the default call's transcript, and nothing of the held call;
`verify` still passes, and each deletion is on the access log.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from recorder.archive.store import ArchiveStore
from recorder.crypto.keys import KeyStore
from recorder.db import access_log
from recorder.db.engine import transaction
from recorder.db.models import CallSession, Transcript, TranscriptTurn, TranscriptWord
from tests.integration.lifecycle_calls import place_calls, run_cli, session_ids, transcribe_all

ORIGINALS = {"alignment.json.age", "call.json.age", "events.jsonl.age", "recording.flac.age"}
REDACTED = {"recording.redacted.flac.age"}
TRANSCRIPT = {"transcript.json.age"}
POLICY = """
[recorder.retention.default]
originals = "90d"
redacted = "7y"
transcripts = 30

[recorder.retention.tenants.acme]
originals = "30d"
"""

# Real calls through the proxy, transcription and a dozen CLI processes: minutes on a busy machine.
pytestmark = pytest.mark.timeout(600)


def _files(archive_dir: Path) -> set[str]:
    return {p.name for p in archive_dir.iterdir() if not p.name.startswith("manifest-")}


def _transcript_rows(engine: Engine, sid: str) -> int:
    with transaction(engine) as s:
        return sum(int(s.scalar(select(func.count()).select_from(m).where(m.session_id == sid)) or 0)
                   for m in (Transcript, TranscriptTurn, TranscriptWord))


def test_apply_deletes_exactly_what_the_policy_says_and_nothing_held(
    home: Path, database_url: str, engine: Engine, keystore: KeyStore, tmp_path: Path
) -> None:
    place_calls(home, database_url, ["acme", "acme", None])
    assert transcribe_all(home, engine, keystore).transcribed == 3
    free, held, default = session_ids(engine)
    with transaction(engine) as s:  # the calls took place 40 days ago
        for sid in (free, held, default):
            call = s.get(CallSession, sid)
            assert call is not None
            s.execute(update(CallSession).where(CallSession.id == sid)
                      .values(started_at=call.started_at - dt.timedelta(days=40)))
    config = tmp_path / "recorder.toml"
    config.write_text(POLICY)
    store = ArchiveStore(home)
    dirs = {sid: store.get(sid) for sid in (free, held, default)}
    full = ORIGINALS | REDACTED | TRANSCRIPT
    before = {sid: _files(d) for sid, d in dirs.items()}
    assert all(full <= files for files in before.values())

    assert run_cli(home, database_url, "hold", "add", held, "--reason", "litigation 12").returncode == 0
    status = run_cli(home, database_url, "retention", "status", "--json", config=config)
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    due = {(i["session_id"], i["kind"]) for i in report["items"] if i["due"]}
    assert due == {(free, "originals"), (free, "transcripts"), (default, "transcripts")}
    held_items = {(i["session_id"], i["kind"]) for i in report["items"] if i["held"] and i["expired"]}
    assert held_items == {(held, "originals"), (held, "transcripts")}
    later = {(i["session_id"], i["kind"]) for i in report["items"] if not i["expired"]}
    assert later == {(free, "redacted"), (held, "redacted"), (default, "redacted"), (default, "originals")}

    dry = run_cli(home, database_url, "retention", "apply", "--dry-run", config=config)
    assert dry.returncode == 0, dry.stderr
    assert "would delete" in dry.stdout and {sid: _files(d) for sid, d in dirs.items()} == before

    applied = run_cli(home, database_url, "retention", "apply", "--json", "--actor", "cron", config=config)
    assert applied.returncode == 0, applied.stderr
    done = {c["session_id"]: set(c["kinds"]) for c in json.loads(applied.stdout)["calls"]}
    assert done == {free: {"originals", "transcripts"}, default: {"transcripts"}}
    assert _files(dirs[free]) == REDACTED
    assert _files(dirs[held]) == before[held]
    assert _files(dirs[default]) == before[default] - TRANSCRIPT
    assert _transcript_rows(engine, free) == 0 and _transcript_rows(engine, default) == 0
    assert _transcript_rows(engine, held) > 0

    verified = run_cli(home, database_url, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    with transaction(engine) as s:
        chain = access_log.read(s)
        assert access_log.check_chain(chain) == []
        assert sorted((e.action, e.session_id) for e in chain if e.action == "retention") == sorted(
            [("retention", free), ("retention", default)])
    # Nothing more is due: a second run deletes nothing.
    second = run_cli(home, database_url, "retention", "apply", "--json", config=config)
    assert second.returncode == 0 and json.loads(second.stdout)["calls"] == []


def test_bad_policy_is_a_clear_error(home: Path, database_url: str, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[recorder.retention.default]\noriginals = "ninety days"\n')
    bad = run_cli(home, database_url, "retention", "status", config=config)
    assert bad.returncode == 2 and "retention.default.originals" in bad.stderr and "ninety days" in bad.stderr
    config.write_text('[recorder.retention.default]\naudio = "90d"\n')
    unknown = run_cli(home, database_url, "retention", "status", config=config)
    assert unknown.returncode == 2 and "unknown kind" in unknown.stderr
