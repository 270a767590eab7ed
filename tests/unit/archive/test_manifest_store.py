"""Manifest bytes, signatures, call.json round trip, and the atomic archive store."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path

import pytest

from recorder.archive import calljson
from recorder.archive.manifest import (
    FileEntry,
    Manifest,
    ManifestError,
    manifest_version_of,
    parse_manifest,
    sign_manifest,
    verify_manifest,
)
from recorder.archive.store import ArchiveExists, ArchiveStore, check_session_id
from recorder.capture.records import CallSummary, CutTrigger, Direction, ErrorSummary, ResponseSummary, ToolCallSummary
from recorder.crypto.signing import SignatureInvalid, SigningKey
from recorder.errors import IntegrityError, NotFound
from tests.unit.archive.calls import build_call, call_meta

KEY = SigningKey.from_seed(bytes(range(32)))
OTHER = SigningKey.from_seed(bytes(32))
STARTED = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def manifest(**kw) -> Manifest:  # type: ignore[no-untyped-def]
    base = dict(
        session_id="s1", version=1, created_at="2026-01-02T03:04:05+00:00", state="complete",
        reason=None, files=(FileEntry("a.age", "ab" * 32, 10, "archive", ("k_1",)),),
        signing_key_id=KEY.key_id, summary={"duration_ms": 1.5},
    )
    base.update(kw)
    return Manifest(**base)  # type: ignore[arg-type]


def test_manifest_bytes_are_canonical_and_round_trip() -> None:
    m = manifest()
    data = m.to_bytes()
    assert data.endswith(b"\n") and b" " not in data
    doc = json.loads(data)
    assert list(doc) == sorted(doc)
    assert parse_manifest(data) == m
    assert parse_manifest(data).to_bytes() == data


def test_signature_verifies_and_any_change_breaks_it() -> None:
    data = manifest().to_bytes()
    sig = sign_manifest(data, KEY)
    keys = {KEY.key_id: KEY.public_key}
    assert verify_manifest(data, sig, keys).session_id == "s1"
    tampered = data.replace(b'"complete"', b'"incomplete"')
    with pytest.raises(SignatureInvalid):
        verify_manifest(tampered, sig, keys)
    with pytest.raises(SignatureInvalid, match="unknown key"):
        verify_manifest(data, sig, {OTHER.key_id: OTHER.public_key})
    with pytest.raises(SignatureInvalid):
        verify_manifest(data, sign_manifest(data, OTHER), {KEY.key_id: OTHER.public_key})
    with pytest.raises(SignatureInvalid):
        verify_manifest(data, b"not base64!", keys)


@pytest.mark.parametrize("data", [b"", b"{}", b"[1]", b'{"format":"other"}', b"\xff"])
def test_malformed_manifests_are_integrity_errors(data: bytes) -> None:
    with pytest.raises(ManifestError):
        parse_manifest(data, name="x/manifest-0001.json")


def test_manifest_names() -> None:
    assert manifest_version_of("manifest-0002.json") == 2
    assert manifest_version_of("manifest-2.json") is None
    assert manifest_version_of("manifest-0001.json.sig") is None


def test_call_json_round_trips_every_field() -> None:
    call = build_call()
    summary = call.session.summary()  # type: ignore[union-attr]
    richer = CallSummary(
        **{f: getattr(summary, f) for f in summary.__dataclass_fields__
           if f not in ("tool_calls", "errors", "responses")},
        responses=(*summary.responses, ResponseSummary(
            "r9", None, None, None, None, None, None, None, None, 0.0, 0.0, None, None,
            cut_trigger=CutTrigger.CLOSE, item_ids=("i",))),
        tool_calls=(ToolCallSummary("c1", "lookup", '{"a":1}', "ok", "r1", 1.0, 2.0, 3.0, True),),
        errors=(ErrorSummary("bad", "invalid_request_error", "msg", "p", "e1", 5.0),),
    )
    meta = call_meta()
    assert calljson.load(calljson.dump(meta, richer)) == (meta, richer)
    assert richer.closed_by is Direction.C2S
    with pytest.raises(IntegrityError, match="call.json"):
        calljson.load(b'{"format": "recorder-call/1"}')


def test_store_writes_atomically_and_never_overwrites(tmp_path: Path) -> None:
    store = ArchiveStore(tmp_path)
    path = store.write_new("s1", STARTED, {"a.age": b"x" * 100}, b"{}\n", b"sig\n")
    assert store.relative(path) == "archive/2026/01/02/s1"
    assert sorted(p.name for p in path.iterdir()) == ["a.age", "manifest-0001.json", "manifest-0001.json.sig"]
    assert store.list() == [path] and store.find("s1") == path and store.temp_dirs() == []
    with pytest.raises(ArchiveExists):
        store.write_new("s1", STARTED, {"b.age": b"y"}, b"{}\n", b"sig\n")
    assert not (path / "b.age").exists()
    assert store.read_manifest(path) == (1, b"{}\n", b"sig\n")
    with pytest.raises(NotFound):
        store.get("s2")


def test_store_cleans_up_after_a_failed_write_and_a_crash(tmp_path: Path) -> None:
    store = ArchiveStore(tmp_path)
    crashed = store.root / ".tmp-s1-deadbeef"
    crashed.mkdir(parents=True)
    (crashed / "a.age").write_bytes(b"partial")
    assert store.list() == [] and store.temp_dirs() == [crashed]
    with pytest.raises(ValueError):
        store.write_new("s1", STARTED, {"../escape": b"x"}, b"{}\n", b"sig\n")
    assert store.temp_dirs() == [] and store.find("s1") is None  # nothing half-written is left
    store.write_new("s1", STARTED, {"a.age": b"x"}, b"{}\n", b"sig\n")
    assert store.temp_dirs() == []


def test_staged_files_stream_in_and_publish_only_on_commit(tmp_path: Path) -> None:
    store = ArchiveStore(tmp_path)
    with store.stage("s1", STARTED) as staging:
        with staging.create("big.age") as f:
            for i in range(10):
                f.write(bytes([i]) * 100_000)
            f.seek(0)
            f.write(b"head")  # staged files are seekable (an encoder may patch its header)
        expected = b"head" + bytes(100_000 - 4) + b"".join(bytes([i]) * 100_000 for i in range(1, 10))
        assert staging.digest("big.age") == (hashlib.sha256(expected).hexdigest(), len(expected))
        assert store.find("s1") is None  # nothing is visible before the commit
        path = staging.commit(b"{}\n", b"sig\n")
    assert (path / "big.age").read_bytes() == expected and store.temp_dirs() == []
    with pytest.raises(RuntimeError), store.stage("s2", STARTED) as staging:
        staging.write("a.age", b"x")
        raise RuntimeError("the render failed")
    assert store.find("s2") is None and store.temp_dirs() == []
    with pytest.raises(ArchiveExists), store.stage("s1", STARTED):
        pass


def test_add_version_must_be_the_next_one(tmp_path: Path) -> None:
    store = ArchiveStore(tmp_path)
    path = store.write_new("s1", STARTED, {"a.age": b"x"}, b"m1\n", b"s1\n")
    with pytest.raises(ValueError):
        store.add_version(path, 3, b"m3\n", b"s3\n")
    store.add_version(path, 2, b"m2\n", b"s2\n", {"a.age": b"y", "b.age": b"z"})
    assert store.manifest_versions(path) == [1, 2]
    assert (path / "a.age").read_bytes() == b"y" and store.read_manifest(path) == (2, b"m2\n", b"s2\n")
    assert store.read_manifest(path, 1) == (1, b"m1\n", b"s1\n")
    assert not [p for p in path.iterdir() if p.name.startswith(".")]
    assert oct(os.stat(path / "a.age").st_mode & 0o777) == "0o644"


@pytest.mark.parametrize("bad", ["", ".hidden", "a/b", "..", "x" * 65, "a b"])
def test_session_ids_must_be_safe_directory_names(bad: str) -> None:
    with pytest.raises(ValueError):
        check_session_id(bad)


def test_archive_date_is_the_utc_start(tmp_path: Path) -> None:
    store = ArchiveStore(tmp_path)
    late = dt.datetime(2026, 3, 1, 20, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert store.relative_dir("s", late) == "archive/2026/03/02/s"
    assert store.relative_dir("s", dt.datetime(2026, 3, 1, 20, 0)) == "archive/2026/03/01/s"
