"""Known answers and every way an age file can fail: each failure is one clear AgeError."""

from __future__ import annotations

import hashlib
import io
import os

import pyrage
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.crypto import age
from recorder.errors import IntegrityError

# c2sp.org/age, "The X25519 recipient type": identity and recipient examples of the spec.
SPEC_IDENTITY = "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
SPEC_RECIPIENT = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"

# age testkit (age-encryption.org/testkit) headers; file key "YELLOW SUBMARINE".
TESTKIT_IDENTITY = "AGE-SECRET-KEY-1XMWWC06LY3EE5RYTXM9MFLAZ2U56JJJ36S0MYPDRWSVLUL66MV4QX3S7F6"
_V = b"age-encryption.org/v1\n"
_X = (
    b"-> X25519 TEiF0ypqr+bpvcqXNyCVJpL7OuwPdVwPL7KQEbFDOCc\n"
    b"EmECAEcKN+n/Vs9SbWiV+Hu0r+E8R77DdWYyd83nw7U\n"
)
TESTKIT_HEADERS = {
    "stream_empty_payload": _V + _X + b"--- Vn+54jqiiUCE+WZcEVY3f1sqHjlu/z1LCQ/T7Xm7qI0\n",
    "x25519_grease": _V + b"-> grease\n\n" + _X + b"-> grease\n\n"
    b"--- 7NLrfbRUZt6qK0pdtARUf59dHwo12ReldjJKjMlbE3I\n",
    "stanza_empty_body": _V + _X + b"-> empty\n\n--- 697zSC9pa/ZLNIaXGtuwcUobmxv+Dpx48Hv0papk5c0\n",
    "stanza_empty_last_line": _V + _X + b"-> stanza\n" + b"QUFB" * 16 + b"\n" + b"QUFB" * 16
    + b"\n\n--- cb4SqtunSJzXKDGjqeYxuva9Be80QXEDKDn2aKBaCsw\n",
}
TESTKIT_HEADER_FAILURES = {
    "stanza_missing_final_line": _V + _X + b"-> stanza\n" + b"A" * 64
    + b"\n--- GRjUy1ShNhFoV3cQikdtUZqDeDEZSrbtNXUgDtDbwC8\n",
    "stanza_not_canonical": _V + _X + b"-> stanza\n" + b"QUFB" * 16
    + b"\nQUF\n--- nQM2VCzmNLPrUurNWN+SW9wVp/9uTMQ/6CTUM7l8c84\n",
}
LOW_ORDER_IDENTITY = "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0"
LOW_ORDER_HEADER = (
    _V + b"-> X25519 X5yVvKNQjCSx0LFVnIPvWwREXMRYHI6G2CJO3dCfEdc\n"
    b"3E0NpFans/m0WLWF7+54ZBdNj3iqQqpraGDFiaRkvBA\n"
    b"--- sXw327YMT1/ULXe+ZyRMbMY0Z2jnWHGgI9j1we6yQ8A\n"
)

# Our own vector: identity from seed b"kat-identity", file from seed b"kat-file".
KAT_PLAINTEXT = b"what the caller heard" * 5000  # 105000 bytes: two chunks
KAT_IDENTITY = "AGE-SECRET-KEY-1M0GUWEE5MFFGXF4ZLL9HKV4XSD5M9NTXS2PDLEQ34ML2L4LHR2LQFFJ4AS"
KAT_RECIPIENT = "age1wf79xqfrss3tke05weckyqd6g7nwd56x38fh2vdxx39p7xq6humq6chwu6"
KAT_HEADER = (
    b"age-encryption.org/v1\n"
    b"-> X25519 4T1LBKDomtXzCVugy/uBtJ17Re9VWCiyc5IhrmID3js\n"
    b"H6nXR2DHgdahnizb/Yi+nF5Dri6VYQ/4O4nFvzE7acs\n"
    b"---"
)
KAT_SHA256 = "6aac87260b9e6de0087f95414daf0b9a95afd43366fe50ab969d4c89545d2393"


def test_spec_example_identity_gives_spec_recipient() -> None:
    identity = age.parse_identity(SPEC_IDENTITY)
    assert identity.secret == b"\x42" * 32
    assert str(identity.recipient) == SPEC_RECIPIENT
    assert identity.secret_str() == SPEC_IDENTITY
    assert age.parse_recipient(SPEC_RECIPIENT) == identity.recipient


@pytest.mark.parametrize("name", sorted(TESTKIT_HEADERS))
def test_testkit_headers_unwrap_yellow_submarine(name: str) -> None:
    identity = age.parse_identity(TESTKIT_IDENTITY)
    header = age.read_header(TESTKIT_HEADERS[name])
    assert age._unwrap_file_key(header, [identity], name) == b"YELLOW SUBMARINE"


@pytest.mark.parametrize("name", sorted(TESTKIT_HEADER_FAILURES))
def test_testkit_malformed_headers_fail(name: str) -> None:
    identity = age.parse_identity(TESTKIT_IDENTITY)
    with pytest.raises(age.AgeError, match=f"^{name}: malformed header"):
        age.decrypt(TESTKIT_HEADER_FAILURES[name] + bytes(32), [identity], name=name)


def test_testkit_low_order_share_is_refused() -> None:
    with pytest.raises(age.AgeError, match="low-order"):
        age.decrypt(LOW_ORDER_HEADER + bytes(32), [age.parse_identity(LOW_ORDER_IDENTITY)])


def test_known_answer_with_fixed_rng(fixed_rng) -> None:
    identity = age.generate_identity(fixed_rng(b"kat-identity"))
    assert identity.secret_str() == KAT_IDENTITY
    assert str(identity.recipient) == KAT_RECIPIENT
    rng = fixed_rng(b"kat-file")
    ciphertext = age.encrypt(KAT_PLAINTEXT, [identity.recipient], rng=rng)
    assert rng.calls == [16, 32, 16]  # file key, one ephemeral secret, payload nonce
    assert ciphertext.startswith(KAT_HEADER)
    assert hashlib.sha256(ciphertext).hexdigest() == KAT_SHA256
    pyrage_identity = pyrage.x25519.Identity.from_str(identity.secret_str())
    assert pyrage.decrypt(ciphertext, [pyrage_identity]) == KAT_PLAINTEXT


def test_fresh_randomness_gives_different_files() -> None:
    identity = age.generate_identity()
    assert age.encrypt(b"same", [identity.recipient]) != age.encrypt(b"same", [identity.recipient])


# --- failures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample() -> tuple[age.Identity, bytes, bytes]:
    identity = age.generate_identity()
    plaintext = os.urandom(2 * 65536 + 100)
    return identity, plaintext, age.encrypt(plaintext, [identity.recipient])


def test_age_error_is_an_integrity_error_naming_the_file(sample) -> None:
    _, _, ciphertext = sample
    with pytest.raises(IntegrityError) as info:
        age.decrypt(ciphertext, [age.generate_identity()], name="archive/s1/recording.flac.age")
    assert isinstance(info.value, age.AgeError)
    assert info.value.path == "archive/s1/recording.flac.age"
    assert str(info.value).startswith("archive/s1/recording.flac.age: ")


def test_wrong_identity_says_no_identity_matches(sample) -> None:
    _, _, ciphertext = sample
    stranger = age.generate_identity()
    with pytest.raises(age.AgeError, match=f"no identity matches.*{stranger.key_id}"):
        age.decrypt(ciphertext, [stranger], name="f.age")


def test_truncation_at_chosen_positions_fails(sample) -> None:
    identity, _, ciphertext = sample
    start = age.read_header(ciphertext).payload_offset
    chunk = age.ENCRYPTED_CHUNK_SIZE
    positions = {
        0: "not an age file",
        10: "not an age file|truncated header",
        40: "truncated header",
        start - 1: "truncated header",
        start: "truncated: payload is missing",
        start + 8: "truncated: payload is missing",
        start + 16: "truncated: payload ends after chunk|truncated: payload ends inside chunk 0",
        start + 16 + 100: "chunk 0 failed authentication",
        start + 16 + chunk: "truncated: payload ends after chunk 0",
        start + 16 + 2 * chunk: "truncated: payload ends after chunk 1",
        start + 16 + 2 * chunk + 10: "truncated: payload ends inside chunk 2",
        len(ciphertext) - 1: "chunk 2 failed authentication",
    }
    for cut, reason in positions.items():
        with pytest.raises(age.AgeError, match=reason):
            age.decrypt(ciphertext[:cut], [identity], name=f"cut@{cut}")


def test_every_prefix_of_a_small_file_fails() -> None:
    identity = age.generate_identity()
    ciphertext = age.encrypt(b"hello", [identity.recipient])
    for cut in range(len(ciphertext)):
        with pytest.raises(age.AgeError):
            age.decrypt(ciphertext[:cut], [identity])


def test_streaming_decryption_fails_on_truncation_too(sample) -> None:
    identity, _, ciphertext = sample
    with pytest.raises(age.AgeError, match="truncated"):
        age.decrypt_stream(io.BytesIO(ciphertext[: -100 - 16]), io.BytesIO(), [identity])


@pytest.mark.parametrize("where", ["version", "share", "body", "mac", "nonce", "chunk0", "last"])
def test_flipped_byte_fails(sample, where: str) -> None:
    identity, _, ciphertext = sample
    header = age.read_header(ciphertext)
    text = ciphertext[: header.payload_offset]
    offsets = {
        "version": 3,
        "share": text.index(b"X25519 ") + 10,
        "body": text.index(b"\n", text.index(b"X25519 ")) + 5,
        "mac": text.index(b"--- ") + 6,
        "nonce": header.payload_offset + 3,
        "chunk0": header.payload_offset + 16 + 1000,
        "last": len(ciphertext) - 1,
    }
    damaged = bytearray(ciphertext)
    damaged[offsets[where]] ^= 0x01
    with pytest.raises(age.AgeError):
        age.decrypt(bytes(damaged), [identity], name=where)


def test_flipped_payload_byte_names_the_chunk(sample) -> None:
    identity, _, ciphertext = sample
    damaged = bytearray(ciphertext)
    damaged[age.read_header(ciphertext).payload_offset + 16 + age.ENCRYPTED_CHUNK_SIZE + 5] ^= 0x80
    with pytest.raises(age.AgeError, match="chunk 1 failed authentication"):
        age.decrypt(bytes(damaged), [identity])


def test_altered_header_fails_the_mac(sample) -> None:
    identity, _, ciphertext = sample
    header = age.read_header(ciphertext)
    grease = header.mac_input.replace(b"\n---", b"\n-> grease\n\n---")
    forged = grease + ciphertext[len(header.mac_input) :]
    with pytest.raises(age.AgeError, match="header MAC mismatch"):
        age.decrypt(forged, [identity])


@given(data=st.data())
@settings(max_examples=150, deadline=None)
def test_any_single_bit_flip_fails(data: st.DataObject) -> None:
    identity = _SMALL_IDENTITY
    position = data.draw(st.integers(0, len(_SMALL_FILE) - 1))
    bit = data.draw(st.integers(0, 7))
    damaged = bytearray(_SMALL_FILE)
    damaged[position] ^= 1 << bit
    with pytest.raises(age.AgeError):
        age.decrypt(bytes(damaged), [identity])


_SMALL_IDENTITY = age.generate_identity()
_SMALL_FILE = age.encrypt(b"short call" * 10, [_SMALL_IDENTITY.recipient, age.generate_identity().recipient])


def test_appended_bytes_are_reported_as_trailing_data(sample) -> None:
    identity, _, _ = sample
    exact = age.encrypt(bytes(65536), [identity.recipient])
    with pytest.raises(age.AgeError, match="trailing data after the final chunk 0"):
        age.decrypt(exact + b"more", [identity])
    short = age.encrypt(b"abc", [identity.recipient])
    with pytest.raises(age.AgeError):
        age.decrypt(short + b"more", [identity])


def test_empty_final_chunk_after_data_is_refused() -> None:
    identity = age.generate_identity()
    file_key, nonce = os.urandom(16), os.urandom(16)
    header = age._build_header(file_key, [identity.recipient], os.urandom)
    aead = age.ChaCha20Poly1305(age._hkdf(file_key, nonce, b"payload"))
    chunk0 = aead.encrypt(age._chunk_nonce(0, False), bytes(65536), None)
    empty_last = aead.encrypt(age._chunk_nonce(1, True), b"", None)
    with pytest.raises(age.AgeError, match="empty final chunk"):
        age.decrypt(header + nonce + chunk0 + empty_last, [identity])


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not an age file"),
        (b"hello world\n", "not an age file"),
        (b"age-encryption.org/v2\n-> X25519 a\n\n--- a\n", "unsupported age version"),
        (b"-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n", "armored"),
        (_V + b"--- " + b"A" * 43 + b"\n", "no recipient stanzas"),
        (_V + b"->  X25519\n\n--- " + b"A" * 43 + b"\n", "bad stanza argument"),
        (_V + b"-> X25519 " + b"A" * 43 + b"=\n\n--- " + b"A" * 43 + b"\n", "base64"),
        (_V + b"-> X25519 " + b"A" * 43 + b"\n" + b"A" * 65 + b"\n--- " + b"A" * 43 + b"\n", "longer"),
        (_V + b"hello\n", "unexpected line"),
        (_V + b"-> a\n\n--- " + b"A" * 42 + b"\n", "MAC is not 32 bytes"),
        (_V + b"-> a\n\n---" + b"A" * 43 + b"\n", "unexpected line"),
        (_V + b"-> a\n\n--- " + b"A" * 43 + b"\r\n", "base64"),
    ],
)
def test_malformed_headers(data: bytes, reason: str) -> None:
    with pytest.raises(age.AgeError, match=reason):
        age.decrypt(data + bytes(40), [age.generate_identity()])


def test_x25519_stanza_with_wrong_sizes_is_rejected() -> None:
    body = b"A" * 43
    extra_arg = _V + b"-> X25519 " + b"A" * 43 + b" x\n" + body + b"\n--- " + b"A" * 43 + b"\n"
    short_share = _V + b"-> X25519 AAAA\n" + body + b"\n--- " + b"A" * 43 + b"\n"
    for data in (extra_arg, short_share):
        with pytest.raises(age.AgeError, match="X25519 stanza"):
            age.decrypt(data + bytes(40), [age.generate_identity()])


def test_unknown_stanzas_are_ignored() -> None:
    identity = age.generate_identity()
    header = age.read_header(TESTKIT_HEADERS["x25519_grease"])
    assert [s.kind for s in header.stanzas] == ["grease", "X25519", "grease"]
    assert age._unwrap_file_key(header, [age.generate_identity(), age.parse_identity(TESTKIT_IDENTITY)], "g")
    del identity


def test_reprs_show_no_secrets_or_payloads(sample) -> None:
    identity, _, ciphertext = sample
    header = age.read_header(ciphertext)
    assert identity.secret_str() not in repr(identity)
    assert repr(identity) == f"Identity(key_id={identity.key_id!r})"
    text = repr(header)
    assert "mac" not in text and "body" not in text and "payload_offset" in text


def test_key_ids_are_stable_and_short() -> None:
    recipient = age.parse_recipient(SPEC_RECIPIENT)
    assert recipient.key_id == "k_" + hashlib.sha256(SPEC_RECIPIENT.encode()).hexdigest()[:10]
    assert age.recipient_key_ids([recipient, age.parse_identity(SPEC_IDENTITY)]) == (recipient.key_id,) * 2
