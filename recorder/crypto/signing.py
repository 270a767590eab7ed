"""Ed25519 signatures for manifests, verifiable by an auditor with no decryption key.

Text encodings (one line, for key files and manifests)::

    ed25519-secret:<base64 of the 32-byte seed>     secret; files 0600
    ed25519:<base64 of the 32-byte public key>      public
    <base64 of the 64-byte signature>               ``encode_signature``

base64 is the standard alphabet with padding, decoded strictly. Ed25519 signing is
deterministic (RFC 8032), so only key generation takes ``rng``. Key ids follow age.py:
``"k_" + sha256(public text)[:10 hex]``.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from recorder.crypto.age import InvalidKeyError, Rng, key_id_for
from recorder.errors import IntegrityError

SECRET_PREFIX = "ed25519-secret:"
PUBLIC_PREFIX = "ed25519:"
SIGNATURE_SIZE = 64


class SignatureInvalid(IntegrityError):
    """A signature does not verify: the data or the signature was altered, or the key differs."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(name, reason)


def _b64decode_exact(text: str, size: int) -> bytes | None:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None
    if len(raw) != size or base64.b64encode(raw).decode("ascii") != text:
        return None
    return raw


@dataclass(frozen=True, slots=True)
class VerifyKey:
    """An Ed25519 public key."""

    public: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.public) != 32:
            raise ValueError("an Ed25519 public key is 32 bytes")

    def __str__(self) -> str:
        return PUBLIC_PREFIX + base64.b64encode(self.public).decode("ascii")

    def __repr__(self) -> str:
        return f"VerifyKey({str(self)!r})"

    @property
    def key_id(self) -> str:
        return key_id_for(str(self))


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An Ed25519 secret seed and its public key. The repr shows only the key id."""

    seed: bytes = field(repr=False)
    public_key: VerifyKey

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        if len(seed) != 32:
            raise ValueError("an Ed25519 seed is 32 bytes")
        public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
        return cls(seed, VerifyKey(public))

    def secret_str(self) -> str:
        return SECRET_PREFIX + base64.b64encode(self.seed).decode("ascii")

    @property
    def key_id(self) -> str:
        return self.public_key.key_id

    def __repr__(self) -> str:
        return f"SigningKey(key_id={self.key_id!r})"


def generate_signing_key(rng: Rng = os.urandom) -> SigningKey:
    seed = rng(32)
    if len(seed) != 32:
        raise ValueError(f"rng returned {len(seed)} bytes, expected 32")
    return SigningKey.from_seed(bytes(seed))


def parse_verify_key(text: str, *, source: str = "<argument>") -> VerifyKey:
    text = text.strip()
    raw = _b64decode_exact(text[len(PUBLIC_PREFIX) :], 32) if text.startswith(PUBLIC_PREFIX) else None
    if raw is None:
        raise InvalidKeyError("verify key", source, f"expected {PUBLIC_PREFIX}<base64 of 32 bytes>")
    return VerifyKey(raw)


def parse_signing_key(text: str, *, source: str = "<argument>") -> SigningKey:
    """Parse ``ed25519-secret:...``; errors never echo the secret."""
    text = text.strip()
    raw = _b64decode_exact(text[len(SECRET_PREFIX) :], 32) if text.startswith(SECRET_PREFIX) else None
    if raw is None:
        raise InvalidKeyError("signing key", source, f"expected {SECRET_PREFIX}<base64 of 32 bytes>")
    return SigningKey.from_seed(raw)


def sign(data: bytes, key: SigningKey) -> bytes:
    """The 64-byte Ed25519 signature of ``data``."""
    return Ed25519PrivateKey.from_private_bytes(key.seed).sign(data)


def verify(data: bytes, signature: bytes, public_key: VerifyKey, *, name: str = "<data>") -> None:
    """Return if ``signature`` is ``public_key``'s over ``data``; raise ``SignatureInvalid`` otherwise."""
    if len(signature) != SIGNATURE_SIZE:
        raise SignatureInvalid(name, f"signature is {len(signature)} bytes, expected 64")
    try:
        Ed25519PublicKey.from_public_bytes(public_key.public).verify(signature, data)
    except InvalidSignature:
        raise SignatureInvalid(
            name, f"Ed25519 signature by {public_key.key_id} does not verify: data or signature altered"
        ) from None


def encode_signature(signature: bytes) -> str:
    return base64.b64encode(signature).decode("ascii")


def decode_signature(text: str, *, name: str = "<data>") -> bytes:
    raw = _b64decode_exact(text.strip(), SIGNATURE_SIZE)
    if raw is None:
        raise SignatureInvalid(name, "signature is not base64 of 64 bytes")
    return raw
