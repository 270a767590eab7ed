"""`recorder keys`: permissions, rotation, public-only stores, shredding, signing."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from recorder.cli.main import cli
from recorder.crypto import age
from recorder.crypto.keys import IdentitiesUnavailable, KeyStore
from recorder.crypto.signing import SignatureInvalid, sign, verify


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_init_creates_secrets_0600_in_0700_dirs_and_is_repeatable(tmp_path: Path) -> None:
    _run("keys", "init", "--home", str(tmp_path))
    assert "all keys present" in _run("keys", "init", "--home", str(tmp_path))
    secrets = [p for p in (tmp_path / "keys").rglob("*") if p.suffix in (".identity", ".key")]
    assert len(secrets) == 3
    for path in secrets:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for directory in [tmp_path / "keys", *[p for p in (tmp_path / "keys").iterdir() if p.is_dir()]]:
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    rows = json.loads(_run("keys", "list", "--json", "--home", str(tmp_path)))
    assert sorted(r["tier"] for r in rows) == ["archive", "auditor", "signing"]
    assert all("SECRET" not in r["public"] for r in rows)


def test_rotate_then_new_files_go_to_new_key_and_old_key_still_decrypts(tmp_path: Path) -> None:
    _run("keys", "init", "--home", str(tmp_path))
    store = KeyStore(tmp_path / "keys")
    old_file = age.encrypt(b"old call", store.recipients("archive"))
    _run("keys", "rotate", "archive", "--home", str(tmp_path))
    (new_recipient,) = store.recipients("archive")
    active, retired = store.identities("archive")
    assert active.recipient.key_id == new_recipient.key_id
    assert age.decrypt(old_file, [retired]) == b"old call"
    new_file = age.encrypt(b"new call", store.recipients("archive"))
    with pytest.raises(age.AgeError):
        age.decrypt(new_file, [retired])


def test_public_only_store_refuses_identities_clearly(tmp_path: Path) -> None:
    _run("keys", "init", "--home", str(tmp_path))
    _run("keys", "export-public", str(tmp_path / "proxy-keys"), "--with-signing-key", "--home", str(tmp_path))
    proxy_store = KeyStore(tmp_path / "proxy-keys")
    assert proxy_store.recipients("archive")
    proxy_store.signing_key()
    with pytest.raises(IdentitiesUnavailable, match="not on this host"):
        proxy_store.identities("archive")
    assert not list((tmp_path / "proxy-keys").rglob("*.identity"))


def test_delete_shreds_only_retired_keys(tmp_path: Path) -> None:
    _run("keys", "init", "--home", str(tmp_path))
    store = KeyStore(tmp_path / "keys")
    (old,) = [r for r in store.list() if r.tier == "archive"]
    result = CliRunner().invoke(cli, ["keys", "delete", old.key_id, "--yes", "--home", str(tmp_path)])
    assert result.exit_code == 2 and "only retired keys" in result.output
    _run("keys", "rotate", "archive", "--home", str(tmp_path))
    _run("keys", "delete", old.key_id, "--yes", "--home", str(tmp_path))
    assert not list((tmp_path / "keys" / "archive").glob(f"{old.key_id}.identity"))
    assert len(store.identities("archive")) == 1


def test_manifest_signatures_verify_and_detect_tampering(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    store.init()
    key = store.signing_key()
    signature = sign(b'{"manifest": 1}', key)
    public = store.verify_keys()[key.key_id]
    verify(b'{"manifest": 1}', signature, public)
    with pytest.raises(SignatureInvalid):
        verify(b'{"manifest": 2}', signature, public)
