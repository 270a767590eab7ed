"""The journal's per-session AEAD: nonce and associated-data rules, wrapping, failures."""

from __future__ import annotations

import struct

import pytest
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from recorder.crypto import age
from recorder.crypto.seal import KEY_SIZE, SealError, SessionSeal
from recorder.errors import IntegrityError

KEY = bytes(range(32))


def test_nonce_is_segment_then_counter_and_ad_is_session_then_segment() -> None:
    seal = SessionSeal(KEY, "sess_ü")
    expected = ChaCha20Poly1305(KEY).encrypt(
        struct.pack(">IQ", 7, 2**40 + 3), b"record", "sess_ü".encode() + struct.pack(">I", 7)
    )
    assert seal.seal(7, 2**40 + 3, b"record") == expected
    assert seal.open(7, 2**40 + 3, expected) == b"record"
    # known answer, so a silent change of the layout cannot pass
    assert seal.seal(1, 0, b"").hex() == ChaCha20Poly1305(KEY).encrypt(
        bytes.fromhex("000000010000000000000000"), b"", b"sess_\xc3\xbc\x00\x00\x00\x01"
    ).hex()


@pytest.mark.parametrize(
    "where", [(2, 0, "sess_1"), (1, 1, "sess_1"), (1, 0, "sess_2")], ids=["segment", "counter", "session"]
)
def test_a_record_opens_only_at_its_own_position(where: tuple[int, int, str]) -> None:
    sealed = SessionSeal(KEY, "sess_1").seal(1, 0, b"pcm")
    segment, counter, session = where
    with pytest.raises(SealError, match="failed authentication") as err:
        SessionSeal(KEY, session).open(segment, counter, sealed, name="seg-000001.rj")
    assert isinstance(err.value, IntegrityError) and err.value.path == "seg-000001.rj"
    assert "pcm" not in str(err.value)


def test_altered_bytes_or_another_key_fail() -> None:
    seal = SessionSeal(KEY, "s")
    sealed = bytearray(seal.seal(1, 0, b"hello"))
    with pytest.raises(SealError):
        SessionSeal(bytes(32), "s").open(1, 0, bytes(sealed))
    sealed[0] ^= 1
    with pytest.raises(SealError):
        seal.open(1, 0, bytes(sealed))


def test_wrap_and_unwrap_through_age() -> None:
    identity, other = age.generate_identity(), age.generate_identity()
    seal = SessionSeal.generate("s")
    blob = seal.wrap([identity.recipient])
    assert blob.startswith(b"age-encryption.org/v1\n") and seal.key not in blob
    assert age.decrypt(blob, [identity]) == seal.key  # a standard age file of the raw key
    back = SessionSeal.unwrap(blob, [other, identity], "s")
    assert back.key == seal.key and back.key_check() == seal.key_check()
    with pytest.raises(SealError, match="no identity matches"):
        SessionSeal.unwrap(blob, [other], "s")
    with pytest.raises(SealError, match="no identity given"):
        SessionSeal.unwrap(blob, [], "s")


def test_key_check_tells_keys_apart_and_uses_no_record_nonce() -> None:
    a, b = SessionSeal(KEY, "s"), SessionSeal(bytes(32), "s")
    assert len(a.key_check()) == 16 and a.key_check() != b.key_check()
    assert SessionSeal(KEY, "t").key_check() != a.key_check()
    with pytest.raises(ValueError):
        a.seal(0, 0, b"")  # segment 0 is reserved for the key check


def test_generation_checks_sizes_and_repr_hides_the_key() -> None:
    seal = SessionSeal.generate("s", rng=lambda n: b"\x07" * n)
    assert seal.key == b"\x07" * KEY_SIZE and "07" not in repr(seal)
    with pytest.raises(ValueError):
        SessionSeal.generate("s", rng=lambda n: b"\x07")
    with pytest.raises(ValueError):
        SessionSeal(b"short", "s")
