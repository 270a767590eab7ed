"""Key input the recorder must refuse clearly: Bech32 strings (BIP 173 vectors), age keys with a
bad checksum, the wrong case or the wrong prefix, a damaged key index; and `keys retire` and
`keys add-recipient` end to end, with an outside key made by pyrage (rage) as the escrow."""

from __future__ import annotations

import json
from pathlib import Path

import pyrage
import pytest
from click.testing import CliRunner, Result

from recorder.cli.main import cli
from recorder.crypto import age, bech32
from recorder.crypto.keys import INDEX_NAME, KeyStore, KeyStoreError

# BIP 173 "Test vectors": valid Bech32 strings, and invalid ones with the reason the BIP gives
BIP173_VALID = [
    "A12UEL5L",
    "a12uel5l",
    "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
    "?1ezyfcl",
]
BIP173_INVALID = [
    " 1nwldj5",  # HRP character out of range
    "\x7f1axkwrx",  # HRP character out of range
    "pzry9x0s0muk",  # no separator character
    "1pzry9x0s0muk",  # empty HRP
    "x1b4n0q5v",  # invalid data character
    "li1dgmt3",  # too short checksum
    "de1lg7wt\xff",  # invalid character in checksum
    "A1G7SGD8",  # checksum calculated with the upper-case form of the HRP
    "10a06t8",  # empty HRP
    "1qzzfhee",  # empty HRP
]


@pytest.mark.parametrize("text", BIP173_VALID)
def test_bip173_valid_strings_decode_in_either_case(text: str) -> None:
    hrp, data = bech32.decode(text)
    assert hrp == text.lower()[: text.lower().rfind("1")]
    assert bech32.decode(text.swapcase()) == (hrp, data)
    assert bech32.encode(hrp, data) == text.lower()  # and they round-trip


@pytest.mark.parametrize("text", BIP173_INVALID)
def test_bip173_invalid_strings_are_refused(text: str) -> None:
    with pytest.raises(bech32.Bech32Error):
        bech32.decode(text)


def _recipient() -> str:
    return str(pyrage.x25519.Identity.generate().to_public())


def _flip(text: str, index: int) -> str:
    """`text` with the data character at `index` replaced by another one of the charset."""
    other = bech32.CHARSET[(bech32.CHARSET.index(text[index]) + 1) % 32]
    return text[:index] + other + text[index + 1:]


@pytest.mark.parametrize("index", [4, 20, 40, -1])
def test_any_changed_character_fails_the_checksum(index: int) -> None:
    good = _recipient()
    with pytest.raises(bech32.Bech32Error, match="checksum"):
        bech32.decode(_flip(good, index % len(good)))
    with pytest.raises(age.InvalidKeyError, match="bad checksum"):
        age.parse_recipient(_flip(good, index % len(good)))


def test_mixed_case_is_refused() -> None:
    good = _recipient()
    mixed = good[:10] + good[10:].upper()
    with pytest.raises(bech32.Bech32Error, match="mixed case"):
        bech32.decode(mixed)
    with pytest.raises(age.InvalidKeyError, match="lower case"):
        age.parse_recipient(mixed)
    secret = pyrage.x25519.Identity.generate()
    mixed_secret = str(secret)[:20] + str(secret)[20:].lower()
    with pytest.raises(age.InvalidKeyError) as caught:
        age.parse_identity(mixed_secret)
    assert str(secret)[20:] not in str(caught.value) and str(secret)[20:].lower() not in str(caught.value)


def test_the_wrong_prefix_is_refused() -> None:
    data = bytes(range(32))
    other = bech32.encode("agx", data)  # a valid Bech32 string, for another purpose
    with pytest.raises(bech32.Bech32Error, match="expected prefix 'age', got 'agx'"):
        bech32.decode_expect(other, "age")
    with pytest.raises(age.InvalidKeyError):
        age.parse_recipient(other)
    # a valid Bech32 string under "age" but with the wrong payload size is not a recipient either
    with pytest.raises(age.InvalidKeyError, match="32 bytes"):
        age.parse_recipient(bech32.encode("age", data[:31]))
    assert age.parse_recipient(bech32.encode("age", data)).public == data


# --- the CLI ----------------------------------------------------------------------------------


def keys(home: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["keys", *args, "--home", str(home)])


def test_a_damaged_key_index_is_a_clear_error_and_is_left_alone(tmp_path: Path) -> None:
    assert keys(tmp_path, "init").exit_code == 0
    index = tmp_path / "keys" / INDEX_NAME
    good = index.read_text()
    for damage in (good[: len(good) // 2], json.dumps({"version": 99, "keys": []}),
                   json.dumps({"version": 1, "keys": [{"key_id": "k_x"}]})):
        index.write_text(damage)
        for args in (("list",), ("rotate", "archive"), ("init",)):
            done = keys(tmp_path, *args)
            assert done.exit_code == 2 and done.exception is not None and isinstance(done.exception, SystemExit)
            assert str(index) in done.stderr and ("damaged key index" in done.stderr or "version 99" in done.stderr)
            assert index.read_text() == damage  # nothing rewritten over what an operator must restore
        with pytest.raises(KeyStoreError):
            KeyStore(tmp_path / "keys").recipients("archive")


def test_add_recipient_then_retire_it(tmp_path: Path) -> None:
    assert keys(tmp_path, "init").exit_code == 0
    store = KeyStore(tmp_path / "keys")
    escrow = pyrage.x25519.Identity.generate()
    escrow_public = str(escrow.to_public())

    added = keys(tmp_path, "add-recipient", "archive", escrow_public)
    assert added.exit_code == 0, added.output
    escrow_id = age.key_id_for(escrow_public)
    assert escrow_id in added.stdout
    # new archive files open with the outside key (rage decrypts them) and with ours
    sealed = age.encrypt(b"call audio", store.recipients("archive"))
    assert pyrage.decrypt(sealed, [escrow]) == b"call audio"
    assert age.decrypt(sealed, store.identities("archive")) == b"call audio"
    assert escrow_id not in age.recipient_key_ids(store.recipients("auditor"))

    again = keys(tmp_path, "add-recipient", "archive", escrow_public)
    assert again.exit_code == 2 and "already in the store" in again.stderr

    retired = keys(tmp_path, "retire", escrow_id)
    assert retired.exit_code == 0 and f"{escrow_id} is retired" in retired.stdout
    after = age.encrypt(b"later call", store.recipients("archive"))
    with pytest.raises(pyrage.DecryptError):
        pyrage.decrypt(after, [escrow])  # no longer wrapped to the retired key
    assert pyrage.decrypt(sealed, [escrow]) == b"call audio"  # what it opened, it still opens
    rows = {r.key_id: r.state for r in store.list()}
    assert rows[escrow_id] == "retired"

    twice = keys(tmp_path, "retire", escrow_id)
    assert twice.exit_code == 2 and "retired, not active" in twice.stderr


def test_retire_refuses_the_last_active_key_and_unknown_ids(tmp_path: Path) -> None:
    assert keys(tmp_path, "init").exit_code == 0
    store = KeyStore(tmp_path / "keys")
    (archive_key,) = [r.key_id for r in store.list() if r.tier == "archive"]
    last = keys(tmp_path, "retire", archive_key)
    assert last.exit_code == 2 and "last active archive key" in last.stderr and "rotate" in last.stderr
    assert {r.key_id: r.state for r in store.list()}[archive_key] == "active"
    unknown = keys(tmp_path, "retire", "k_0000000000")
    assert unknown.exit_code == 2 and "no key 'k_0000000000'" in unknown.stderr


@pytest.mark.parametrize("kind", ["bad checksum", "upper case", "an identity", "not bech32"])
def test_add_recipient_refuses_bad_keys_without_echoing_secrets(tmp_path: Path, kind: str) -> None:
    assert keys(tmp_path, "init").exit_code == 0
    secret = str(pyrage.x25519.Identity.generate())
    good = _recipient()
    text = {"bad checksum": _flip(good, 30), "upper case": good.upper(), "an identity": secret,
            "not bech32": "age1-not-a-key"}[kind]
    before = (tmp_path / "keys" / INDEX_NAME).read_text()
    done = keys(tmp_path, "add-recipient", "auditor", text)
    assert done.exit_code == 2, done.output
    assert "recipient" in done.stderr and "Traceback" not in done.output
    assert secret not in done.output and secret[16:] not in done.output
    assert (tmp_path / "keys" / INDEX_NAME).read_text() == before
