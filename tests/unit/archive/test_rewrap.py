"""`recorder keys rotate` + `keys rewrap`: the new identity opens every file, the retired one none.

The payload after the header is kept byte for byte (no re-encryption); each changed archive gets
a signed, chained manifest version; a second rewrap changes nothing; `verify` passes; after
`keys delete OLD` the remaining identity still decrypts everything.
SQLite always; PostgreSQL when RECORDER_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine

from recorder.archive.finalize import ArchiveResult, finalize_call
from recorder.archive.manifest import parse_manifest
from recorder.archive.rewrap import rewrap_blob
from recorder.cli.main import cli
from recorder.crypto import age
from recorder.crypto.age import AgeError
from recorder.crypto.keys import KeyStore
from recorder.db.engine import transaction
from recorder.db.ledger import check_chain, read_chain
from recorder.db.models import Recording
from tests.unit.archive.calls import ScriptedCall, call_meta


def _archive(call: ScriptedCall, home: Path, keystore: KeyStore, engine: Engine, sid: str) -> ArchiveResult:
    return finalize_call(lambda: call.journal, call_meta(sid), close=call.close, home=home, keystore=keystore,
                         engine=engine)


def _cli(home: Path, database_url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--home", str(home), *(
        ["--database-url", database_url] if args[:2] != ("keys", "rotate") and args[:2] != ("keys", "delete") else []
    )])


def _snapshot(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in path.iterdir()}


def _age_files(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.name.endswith(".age"))


def test_rewrap_keeps_the_payload_and_changes_only_who_can_open_it() -> None:
    counter = itertools.count()

    def rng(n: int) -> bytes:
        return bytes((next(counter) + i) % 256 for i in range(n))

    old, new = age.generate_identity(rng), age.generate_identity(rng)
    blob = age.encrypt(b"x" * 200_000, [old.recipient], rng=rng)  # several STREAM chunks
    out = rewrap_blob(blob, [old], [new.recipient], rng=rng, name="f.age")
    assert out[age.read_header(out).payload_offset :] == blob[age.read_header(blob).payload_offset :]
    assert out != blob
    assert age.decrypt(out, [new]) == b"x" * 200_000
    with pytest.raises(AgeError, match="no identity matches"):
        age.decrypt(out, [old])
    with pytest.raises(AgeError, match="no identity matches"):
        rewrap_blob(blob, [new], [new.recipient], rng=rng, name="f.age")


def test_rotate_rewrap_delete(
    call: ScriptedCall, home: Path, keystore: KeyStore, engine: Engine, database_url: str
) -> None:
    a = _archive(call, home, keystore, engine, "sess_a")
    b = _archive(call, home, keystore, engine, "sess_b")
    (old,) = keystore.identities("archive")
    plain = {p.name: age.decrypt(p.read_bytes(), [old]) for p in _age_files(a.path)}
    before = {p.name: p.read_bytes() for p in _age_files(a.path)}

    rotated = _cli(home, database_url, "keys", "rotate", "archive")
    assert rotated.exit_code == 0, rotated.output
    (new,) = keystore.identities("archive", states=("active",))
    assert new.key_id != old.key_id

    done = _cli(home, database_url, "keys", "rewrap")
    assert done.exit_code == 0, done.output
    assert "sess_a: 5 files rewrapped, manifest 2" in done.stderr
    assert "rewrap: 2 archives, 2 rewrapped (10 files), 0 unchanged, 0 failed" in done.stderr

    for path in (a.path, b.path):
        manifest = parse_manifest((path / "manifest-0002.json").read_bytes())
        assert manifest.previous_sha256 is not None
        assert {f.key_ids for f in manifest.files} == {(new.key_id,)}
        for p in _age_files(path):
            blob = p.read_bytes()
            with pytest.raises(AgeError, match="no identity matches"):
                age.decrypt(blob, [old])
            if path == a.path:
                assert age.decrypt(blob, [new]) == plain[p.name]
                old_blob = before[p.name]
                assert blob[age.read_header(blob).payload_offset :] == old_blob[age.read_header(old_blob).payload_offset :]
    with transaction(engine) as s:
        assert {r.session_id: (r.manifest_version, r.key_ids) for r in s.query(Recording)} == {
            "sess_a": (2, [new.key_id]), "sess_b": (2, [new.key_id])}
        chain = read_chain(s)
        assert [(e.session_id, e.manifest_version) for e in chain][-2:] == [("sess_a", 2), ("sess_b", 2)]
        assert check_chain(chain) == []
    verified = _cli(home, database_url, "verify")
    assert verified.exit_code == 0, verified.output

    snapshot = _snapshot(a.path), _snapshot(b.path)
    again = _cli(home, database_url, "keys", "rewrap")
    assert again.exit_code == 0, again.output
    assert "sess_a: unchanged (5 files already on the active keys)" in again.stderr
    assert "0 rewrapped (0 files), 2 unchanged" in again.stderr
    assert (_snapshot(a.path), _snapshot(b.path)) == snapshot

    deleted = _cli(home, database_url, "keys", "delete", old.key_id, "--yes")
    assert deleted.exit_code == 0, deleted.output
    remaining = keystore.identities("archive")
    assert [i.key_id for i in remaining] == [new.key_id]
    for p in _age_files(a.path):
        assert age.decrypt(p.read_bytes(), remaining) == plain[p.name]
    assert _cli(home, database_url, "verify").exit_code == 0


def test_rewrap_one_session_and_a_tampered_archive_is_refused(
    call: ScriptedCall, home: Path, keystore: KeyStore, engine: Engine, database_url: str
) -> None:
    a = _archive(call, home, keystore, engine, "sess_a")
    b = _archive(call, home, keystore, engine, "sess_b")
    keystore.rotate("archive")

    one = _cli(home, database_url, "keys", "rewrap", "--session", "sess_b")
    assert one.exit_code == 0, one.output
    assert "rewrap: 1 archives, 1 rewrapped" in one.stderr
    assert (b.path / "manifest-0002.json").is_file() and not (a.path / "manifest-0002.json").exists()

    target = a.path / "events.jsonl.age"
    data = bytearray(target.read_bytes())
    data[-3] ^= 0x10
    target.write_bytes(bytes(data))
    before = _snapshot(a.path)
    bad = _cli(home, database_url, "keys", "rewrap")
    assert bad.exit_code == 1
    assert f"sess_a: FAILED: {a.relative_path}/events.jsonl.age: does not match its manifest" in bad.stderr
    assert "sess_b: unchanged" in bad.stderr and "1 failed" in bad.stderr
    assert _snapshot(a.path) == before  # nothing written over a tampered archive

    unknown = _cli(home, database_url, "keys", "rewrap", "--session", "nobody")
    assert unknown.exit_code == 2 and "no session 'nobody'" in unknown.stderr


def test_rewrap_without_identities_says_what_is_missing(
    call: ScriptedCall, home: Path, keystore: KeyStore, engine: Engine, database_url: str, tmp_path: Path
) -> None:
    _archive(call, home, keystore, engine, "sess_a")
    keystore.rotate("archive")
    public = tmp_path / "auditor"
    keystore.export_public(public / "keys", include_signing_key=True)
    (public / "archive").symlink_to(home / "archive")
    done = _cli(public, database_url, "keys", "rewrap")
    assert done.exit_code == 2
    assert "archive identities are not on this host" in done.stderr
