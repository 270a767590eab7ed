"""Our age files open with pyrage (rage), and pyrage's open with ours: the format is standard."""

from __future__ import annotations

import io
import os

import pyrage
import pytest

from recorder.crypto import age

SIZES = [0, 1, 1000, 65535, 65536, 65537, 2 * 65536, 3 * 65536 + 7]


def _pyrage_identity(identity: age.Identity) -> pyrage.x25519.Identity:
    return pyrage.x25519.Identity.from_str(identity.secret_str())


def _pyrage_recipient(recipient: age.Recipient) -> pyrage.x25519.Recipient:
    return pyrage.x25519.Recipient.from_str(str(recipient))


@pytest.mark.parametrize("size", SIZES)
def test_ours_decrypts_with_pyrage(size: int) -> None:
    identity = age.generate_identity()
    plaintext = os.urandom(size)
    ciphertext = age.encrypt(plaintext, [identity.recipient])
    assert pyrage.decrypt(ciphertext, [_pyrage_identity(identity)]) == plaintext


@pytest.mark.parametrize("size", SIZES)
def test_pyrage_decrypts_with_ours(size: int) -> None:
    identity = age.generate_identity()
    plaintext = os.urandom(size)
    ciphertext = pyrage.encrypt(plaintext, [_pyrage_recipient(identity.recipient)])
    assert age.decrypt(ciphertext, [identity]) == plaintext


def test_ciphertext_size_matches_the_format() -> None:
    identity = age.generate_identity()
    for size, chunks in [(0, 1), (65536, 1), (65537, 2), (3 * 65536, 3)]:
        ciphertext = age.encrypt(bytes(size), [identity.recipient])
        header = age.read_header(ciphertext)
        assert len(ciphertext) == header.payload_offset + 16 + size + 16 * chunks


def test_several_recipients_each_decrypt_ours_and_pyrage() -> None:
    identities = [age.generate_identity() for _ in range(3)]
    plaintext = os.urandom(70_000)
    ciphertext = age.encrypt(plaintext, [i.recipient for i in identities])
    assert len(age.read_header(ciphertext).stanzas) == 3
    for identity in identities:
        assert age.decrypt(ciphertext, [identity]) == plaintext
        assert pyrage.decrypt(ciphertext, [_pyrage_identity(identity)]) == plaintext


def test_pyrage_several_recipients_ours_decrypts_with_any() -> None:
    identities = [age.generate_identity() for _ in range(3)]
    plaintext = os.urandom(5000)
    ciphertext = pyrage.encrypt(plaintext, [_pyrage_recipient(i.recipient) for i in identities])
    stranger = age.generate_identity()
    assert age.decrypt(ciphertext, [stranger, identities[2]]) == plaintext


def test_keys_we_generate_are_the_keys_pyrage_derives() -> None:
    identity = age.generate_identity()
    assert str(_pyrage_identity(identity).to_public()) == str(identity.recipient)
    theirs = pyrage.x25519.Identity.generate()
    ours = age.parse_identity(str(theirs))
    assert str(ours.recipient) == str(theirs.to_public())
    assert ours.secret_str() == str(theirs)


class ShortReads(io.RawIOBase):
    """A stream that returns at most 1000 bytes per read, as pipes and sockets may."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        chunk = self._inner.read(min(len(buffer), 1000))
        buffer[: len(chunk)] = chunk
        return len(chunk)


@pytest.mark.parametrize("size", [0, 65536, 200_001])
def test_streaming_equals_one_shot(size: int, fixed_rng) -> None:
    identity = age.generate_identity(fixed_rng(b"id"))
    plaintext = os.urandom(size)
    one_shot = age.encrypt(plaintext, [identity.recipient], rng=fixed_rng(b"file"))
    out = io.BytesIO()
    key_ids = age.encrypt_stream(
        ShortReads(plaintext), out, [identity.recipient], rng=fixed_rng(b"file")
    )
    assert out.getvalue() == one_shot
    assert key_ids == (identity.key_id,)
    back = io.BytesIO()
    age.decrypt_stream(ShortReads(one_shot), back, [identity])
    assert back.getvalue() == plaintext == age.decrypt(one_shot, [identity])
