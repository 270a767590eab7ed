"""Finalize a scripted call into an archive + rows, then tamper with every part and verify.

Runs on SQLite always and on PostgreSQL when RECORDER_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pyrage
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, delete, func, select, update

from recorder.archive import calljson
from recorder.archive.catalogue import ALIGNMENT, CALL, EVENTS, ORIGINALS, RECORDING, UNPLAYED
from recorder.archive.finalize import finalize_call
from recorder.archive.manifest import parse_manifest, sha256_hex, verify_manifest
from recorder.archive.render import RenderError, decode_flac, render
from recorder.archive.store import ArchiveStore
from recorder.audit.verify import verify
from recorder.cli.main import cli
from recorder.cli.verify_cmd import verify as verify_command
from recorder.crypto import age
from recorder.crypto.keys import KeyStore
from recorder.db.engine import transaction
from recorder.db.ledger import GENESIS, read_chain
from recorder.db.models import CallSession, LedgerEntry, Recording, Response
from recorder.errors import IntegrityError
from tests.unit.archive.calls import ScriptedCall, call_meta

ALL_FILES = ORIGINALS


def _finalize(call: ScriptedCall, home: Path, keystore: KeyStore, engine: Engine, sid: str = "sess_0001", **kw):  # type: ignore[no-untyped-def]
    return finalize_call(lambda: call.journal, call_meta(sid), close=call.close, home=home, keystore=keystore,
                         engine=engine, **kw)


def _count(engine: Engine, model: type) -> int:
    with transaction(engine) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _problems(home: Path, engine: Engine, keystore: KeyStore, session: str | None = None) -> list[str]:
    return verify(home, engine, keystore.verify_keys(), session=session).lines()


def test_finalize_writes_a_signed_encrypted_archive_and_its_rows(
    call: ScriptedCall, home: Path, keystore: KeyStore, engine: Engine
) -> None:
    result = _finalize(call, home, keystore, engine)
    assert result.relative_path == "archive/2026/11/27/sess_0001"  # session start in UTC
    assert result.state == "complete" and not result.reused and result.rows_written
    names = sorted(p.name for p in result.path.iterdir())
    assert names == sorted([*ALL_FILES, "manifest-0001.json", "manifest-0001.json.sig"])
    data = (result.path / "manifest-0001.json").read_bytes()
    sig = (result.path / "manifest-0001.json.sig").read_bytes()
    manifest = verify_manifest(data, sig, keystore.verify_keys())
    assert manifest.previous_sha256 is None and manifest.summary["cuts"] == 1
    for f in manifest.files:
        blob = (result.path / f.name).read_bytes()
        assert (sha256_hex(blob), len(blob)) == (f.sha256, f.size)
        assert f.key_ids == tuple(r.key_id for r in keystore.recipients("archive"))
    with transaction(engine) as s:
        rec = s.get(Recording, "sess_0001")
        assert rec is not None and rec.manifest_sha256 == sha256_hex(data) == result.manifest_sha256
        assert rec.archive_path == result.relative_path and rec.manifest_version == 1
        chain = read_chain(s)
        assert [(e.seq, e.session_id, e.prev_hash) for e in chain] == [(1, "sess_0001", GENESIS)]
        assert s.get(CallSession, "sess_0001") is not None
        assert s.scalar(select(func.count()).select_from(Response)) == 2
    assert _problems(home, engine, keystore) == []


def test_archive_files_decrypt_with_pyrage_and_with_ours(
    call: ScriptedCall, home: Path, keystore: KeyStore, engine: Engine
) -> None:
    result = _finalize(call, home, keystore, engine)
    identities = keystore.identities("archive")
    theirs = [pyrage.x25519.Identity.from_str(i.secret_str()) for i in identities]
    rendered = render(call.journal, close=call.close)
    blob = (result.path / RECORDING).read_bytes()
    flac = age.decrypt(blob, identities, name=RECORDING)
    assert pyrage.decrypt(blob, theirs) == flac
    stereo, rate = decode_flac(flac)
    assert rate == 48000 and np.array_equal(stereo, rendered.stereo)
    unplayed, _ = decode_flac(age.decrypt((result.path / UNPLAYED).read_bytes(), identities))
    assert np.array_equal(unplayed, rendered.unplayed)
    meta, summary = calljson.load(age.decrypt((result.path / CALL).read_bytes(), identities))
    assert meta == dataclasses.replace(call_meta(), state="complete") and summary == rendered.summary
    alignment = json.loads(age.decrypt((result.path / ALIGNMENT).read_bytes(), identities))
    assert alignment["unplayed_samples"] == len(rendered.unplayed)
    events = age.decrypt((result.path / EVENTS).read_bytes(), identities)
    assert events == rendered.events
    for p in result.path.iterdir():  # no plaintext PCM anywhere in the archive
        assert call.caller_frames[10][1] not in p.read_bytes()
        assert call.r1[960:1920] not in p.read_bytes()


def test_finalize_twice_is_idempotent(call: ScriptedCall, home: Path, keystore: KeyStore, engine: Engine) -> None:
    first = _finalize(call, home, keystore, engine)
    before = {p.name: p.read_bytes() for p in first.path.iterdir()}
    second = _finalize(call, home, keystore, engine)
    assert second.reused and not second.rows_written
    assert second.manifest_sha256 == first.manifest_sha256
    assert {p.name: p.read_bytes() for p in second.path.iterdir()} == before
    assert (_count(engine, CallSession), _count(engine, Recording), _count(engine, LedgerEntry)) == (1, 1, 1)
    assert _problems(home, engine, keystore) == []


def test_finalize_finishes_missing_rows_of_an_existing_archive(
    call: ScriptedCall, home: Path, keystore: KeyStore, engine: Engine
) -> None:
    _finalize(call, home, keystore, engine)
    with transaction(engine) as s:
        s.execute(delete(CallSession).where(CallSession.id == "sess_0001"))  # cascades to recordings
    assert _count(engine, Recording) == 0
    again = _finalize(call, home, keystore, engine)
    assert again.reused and again.rows_written
    assert (_count(engine, CallSession), _count(engine, Recording), _count(engine, LedgerEntry)) == (1, 1, 1)
    assert _problems(home, engine, keystore) == []


def test_incomplete_archive_records_state_and_reason(
    call: ScriptedCall, home: Path, keystore: KeyStore, engine: Engine
) -> None:
    records = call.journal[: len(call.journal) // 2]
    result = finalize_call(lambda: records, call_meta("sess_cut"), home=home, keystore=keystore, engine=engine,
                           state="incomplete", reason="journal orphaned: proxy killed")
    assert result.state == "incomplete" and result.reason == "journal orphaned: proxy killed"
    manifest = parse_manifest((result.path / "manifest-0001.json").read_bytes())
    assert (manifest.state, manifest.reason) == ("incomplete", "journal orphaned: proxy killed")
    with transaction(engine) as s:
        row = s.get(CallSession, "sess_cut")
        assert row is not None and row.state == "incomplete"
        rec = s.get(Recording, "sess_cut")
        assert rec is not None and rec.reason == "journal orphaned: proxy killed"


def test_a_damaged_archive_in_place_is_never_overwritten(
    call: ScriptedCall, home: Path, keystore: KeyStore, engine: Engine
) -> None:
    result = _finalize(call, home, keystore, engine)
    target = result.path / EVENTS
    target.write_bytes(target.read_bytes()[:-1])
    with pytest.raises(IntegrityError, match="events.jsonl.age"):
        _finalize(call, home, keystore, engine)


@pytest.mark.parametrize("name", [*ALL_FILES, "manifest-0001.json", "manifest-0001.json.sig"])
def test_one_flipped_byte_in_any_archive_file_is_named(
    name: str, call: ScriptedCall, home: Path, keystore: KeyStore, engine: Engine
) -> None:
    result = _finalize(call, home, keystore, engine)
    path = result.path / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    problems = _problems(home, engine, keystore)
    assert problems, name
    subject = f"{result.relative_path}/{name.removesuffix('.sig')}"
    assert any(line.startswith(f"altered: {subject}") for line in problems), problems


def test_deleted_archive_is_named(call: ScriptedCall, home: Path, keystore: KeyStore, engine: Engine) -> None:
    result = _finalize(call, home, keystore, engine)
    _finalize(call, home, keystore, engine, sid="sess_0002")
    shutil.rmtree(result.path)
    problems = _problems(home, engine, keystore)
    assert f"missing: {result.relative_path}: recordings row sess_0001 points at it but it is not on disk" in problems
    assert any(p.startswith("missing: archive of sess_0001") for p in problems)
    assert not any("sess_0002" in p for p in problems)
    assert _problems(home, engine, keystore, session="sess_0002") == []


def test_deleted_recordings_row_is_named(call: ScriptedCall, home: Path, keystore: KeyStore, engine: Engine) -> None:
    _finalize(call, home, keystore, engine)
    with transaction(engine) as s:
        s.execute(delete(Recording))
    problems = _problems(home, engine, keystore)
    assert problems == ["missing: recordings row sess_0001: the archive archive/2026/11/27/sess_0001 has no row"]


def test_edited_recordings_row_is_named(call: ScriptedCall, home: Path, keystore: KeyStore, engine: Engine) -> None:
    _finalize(call, home, keystore, engine)
    with transaction(engine) as s:
        s.execute(update(Recording).values(manifest_sha256="0" * 64))
    assert _problems(home, engine, keystore) == [
        "altered: recordings row sess_0001: does not pin the latest manifest (manifest-0001.json)"
    ]


def _three_calls(call: ScriptedCall, home: Path, keystore: KeyStore, engine: Engine) -> None:
    for sid in ("sess_a", "sess_b", "sess_c"):
        _finalize(call, home, keystore, engine, sid=sid)
    assert _problems(home, engine, keystore) == []


def test_deleted_ledger_rows_are_named(call: ScriptedCall, home: Path, keystore: KeyStore, engine: Engine) -> None:
    _three_calls(call, home, keystore, engine)
    with transaction(engine) as s:
        s.execute(delete(LedgerEntry).where(LedgerEntry.seq == 2))
    problems = _problems(home, engine, keystore)
    assert "missing: ledger entry 2: ledger entries 2 were deleted" in problems
    assert any(p.startswith("missing: ledger entry for archive/2026/11/27/sess_b/manifest-0001.json") for p in problems)
    with transaction(engine) as s:
        s.execute(delete(LedgerEntry).where(LedgerEntry.seq == 3))  # the last one: no later link
    problems = _problems(home, engine, keystore)
    assert any(p.startswith("missing: ledger entry for archive/2026/11/27/sess_c/") for p in problems)


def test_edited_ledger_row_is_named(call: ScriptedCall, home: Path, keystore: KeyStore, engine: Engine) -> None:
    _three_calls(call, home, keystore, engine)
    with transaction(engine) as s:
        s.execute(update(LedgerEntry).where(LedgerEntry.seq == 2).values(session_id="sess_x"))
    problems = _problems(home, engine, keystore)
    assert "altered: ledger entry 2: ledger entry 2 (sess_x) does not match its hash" in problems


def test_rehashed_ledger_row_breaks_the_next_link(
    call: ScriptedCall, home: Path, keystore: KeyStore, engine: Engine
) -> None:
    from recorder.db.ledger import entry_hash

    _three_calls(call, home, keystore, engine)
    with transaction(engine) as s:
        e = s.get(LedgerEntry, 2)
        assert e is not None
        e.manifest_sha256 = "f" * 64
        e.entry_hash = entry_hash(e.seq, e.session_id, e.manifest_version, e.manifest_sha256, e.prev_hash, e.created_at)
    problems = _problems(home, engine, keystore)
    assert any(p.startswith("altered: ledger entry 3: ledger entry 3 does not chain") for p in problems)
    assert any(p.startswith("altered: archive/2026/11/27/sess_b/manifest-0001.json: SHA-256 differs") for p in problems)


def test_extra_file_in_an_archive_is_named(call: ScriptedCall, home: Path, keystore: KeyStore, engine: Engine) -> None:
    result = _finalize(call, home, keystore, engine)
    (result.path / "notes.txt").write_text("planted")
    assert _problems(home, engine, keystore) == [
        f"extra: {result.relative_path}/notes.txt: not listed in manifest-0001.json"
    ]


def test_verify_cli_exit_codes(call: ScriptedCall, home: Path, keystore: KeyStore, engine: Engine, database_url: str) -> None:
    result = _finalize(call, home, keystore, engine)
    runner = CliRunner()
    args = ["--home", str(home), "--database-url", database_url]
    ok = runner.invoke(verify_command, args)
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.splitlines()[-1].startswith("ok: 1 archives")
    one = runner.invoke(verify_command, ["sess_0001", *args])
    assert one.exit_code == 0, one.output
    target = result.path / RECORDING
    data = bytearray(target.read_bytes())
    data[100] ^= 0x80
    target.write_bytes(bytes(data))
    bad = runner.invoke(verify_command, args)
    assert bad.exit_code == 1
    assert f"altered: {result.relative_path}/{RECORDING}: size or SHA-256 differs from manifest-0001.json" in bad.stdout
    unknown = runner.invoke(cli, ["verify", "nobody", *args])  # not tampering: a usage error
    assert unknown.exit_code == 2 and "no session 'nobody'" in unknown.stderr, unknown.output
    assert "missing" not in unknown.output
    as_json = runner.invoke(verify_command, ["--json", *args])
    assert as_json.exit_code == 1 and json.loads(as_json.stdout)["problems"][0]["kind"] == "altered"


def test_archive_store_lists_what_finalize_wrote(
    call: ScriptedCall, home: Path, keystore: KeyStore, engine: Engine
) -> None:
    a = _finalize(call, home, keystore, engine)
    b = _finalize(call, home, keystore, engine, sid="sess_0002")
    store = ArchiveStore(home)
    assert store.list() == sorted([a.path, b.path])
    assert store.find("sess_0002") == b.path and store.temp_dirs() == []


def test_rewrap_publishes_a_chained_second_manifest(
    call: ScriptedCall, home: Path, keystore: KeyStore, engine: Engine
) -> None:
    from recorder.archive.versions import SealedFile, publish_version

    result = _finalize(call, home, keystore, engine)
    old_ids = keystore.identities("archive")
    keystore.rotate("archive")
    new = keystore.recipients("archive")
    blob = (result.path / RECORDING).read_bytes()
    header = age.rewrap(blob, old_ids, new)
    rewrapped = header + blob[age.read_header(blob).payload_offset :]
    manifest = publish_version(home, keystore, engine, "sess_0001",
                               {RECORDING: SealedFile(rewrapped, "archive", age.recipient_key_ids(new))})
    assert manifest.version == 2
    assert manifest.previous_sha256 == sha256_hex((result.path / "manifest-0001.json").read_bytes())
    assert manifest.file(RECORDING).key_ids == age.recipient_key_ids(new)  # type: ignore[union-attr]
    assert (result.path / "manifest-0002.json.sig").is_file()
    assert _problems(home, engine, keystore) == []
    with transaction(engine) as s:
        rec = s.get(Recording, "sess_0001")
        assert rec is not None and rec.manifest_version == 2
        assert [e.manifest_version for e in read_chain(s)] == [1, 2]
    newest = [i for i in keystore.identities("archive") if i.key_id in manifest.file(RECORDING).key_ids]  # type: ignore[union-attr]
    assert age.decrypt(rewrapped, newest) == age.decrypt(blob, old_ids)
    (result.path / "manifest-0001.json").unlink()  # history can't be dropped silently
    problems = _problems(home, engine, keystore)
    assert f"missing: {result.relative_path}/manifest-0001.json: manifest version missing" in problems


def test_concurrent_finalizers_keep_one_unbroken_chain(
    call: ScriptedCall, home: Path, keystore: KeyStore, engine: Engine
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    sids = [f"sess_p{i}" for i in range(6)]
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda sid: _finalize(call, home, keystore, engine, sid=sid), sids))
    assert sorted(r.session_id for r in results) == sids
    with transaction(engine) as s:
        assert [e.seq for e in read_chain(s)] == [1, 2, 3, 4, 5, 6]
    assert _problems(home, engine, keystore) == []


def test_a_ledger_append_that_collides_is_retried(call: ScriptedCall, engine: Engine) -> None:
    import datetime as dt
    import threading

    from sqlalchemy.orm import sessionmaker

    from recorder.db import ledger
    from recorder.db.recordings import RecordingInfo, record_archive
    from recorder.db.write import write_call

    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    summary = render(call.journal, close=call.close).summary
    info = RecordingInfo("sess_b", "archive/2026/11/27/sess_b", "complete", None, 1, "b" * 64, ("k_1",), now)
    holder = sessionmaker(engine)()
    write_call(holder, call_meta("sess_a"), summary)
    holder.flush()
    heads: list[int] = []  # what the signed checkpoint is told, after each commit only

    class Heads:
        def advance(self, seq: int, entry_hash: str) -> None:
            heads.append(seq)

    ledger.append(holder, "sess_a", 1, "a" * 64, now=now, head=Heads())  # seq 1, not yet committed
    done: list[bool] = []
    worker = threading.Thread(target=lambda: done.append(
        record_archive(engine, call_meta("sess_b"), summary, info, now=now, head=Heads())))
    worker.start()
    worker.join(0.5)  # the worker reads an empty ledger and waits on the uncommitted seq 1
    holder.commit()
    holder.close()
    worker.join(30)
    assert done == [True]
    with transaction(engine) as s:
        chain = read_chain(s)
    assert [(e.seq, e.session_id) for e in chain] == [(1, "sess_a"), (2, "sess_b")]
    assert ledger.check_chain(chain) == []
    assert heads == [1, 2], "the collided attempt (seq 1 for sess_b) rolled back unannounced"


def test_records_are_read_twice_for_a_new_archive_and_once_for_a_reused_one(
    call: ScriptedCall, home: Path, keystore: KeyStore, engine: Engine
) -> None:
    passes: list[int] = []

    def records() -> list[object]:
        passes.append(1)
        return list(call.journal)

    finalize_call(records, call_meta(), close=call.close, home=home, keystore=keystore, engine=engine)
    assert len(passes) == 2
    finalize_call(records, call_meta(), close=call.close, home=home, keystore=keystore, engine=engine)
    assert len(passes) == 3


def test_a_failed_render_leaves_neither_archive_nor_staging_nor_rows(
    call: ScriptedCall, home: Path, keystore: KeyStore, engine: Engine
) -> None:
    passes: list[int] = []

    def inconsistent() -> list[object]:  # the second pass lost the end of the call
        passes.append(1)
        return list(call.journal) if len(passes) == 1 else list(call.journal[: len(call.journal) // 2])

    with pytest.raises(RenderError):
        finalize_call(inconsistent, call_meta("sess_bad"), close=call.close, home=home, keystore=keystore,
                      engine=engine)
    store = ArchiveStore(home)
    assert store.list() == [] and store.temp_dirs() == []
    assert _count(engine, Recording) == 0 and _count(engine, LedgerEntry) == 0
    result = _finalize(call, home, keystore, engine, sid="sess_bad")  # a consistent retry archives it
    assert not result.reused and _problems(home, engine, keystore) == []
