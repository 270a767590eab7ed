"""Per-session record sealing for the journal: ChaCha20-Poly1305.

Every journal record is sealed under one random 32-byte *session key*. The key itself reaches
disk only wrapped to the archive recipients as an age v1 file (``wrap``/``unwrap``), so a proxy
host that holds only public keys cannot read a journal once the process that wrote it is gone.

Nonce and key rules (why a nonce never repeats under one key):

- session key: 32 fresh bytes from ``rng`` per session (per ``JournalWriter``); never reused.
- nonce (96 bits) = segment number (u32, big-endian) || record counter (u64, big-endian).
  Segment numbers start at 1 and only grow within a session; the counter restarts at 0 in each
  segment and only grows. One writer owns a session key, and recovery never appends, so each
  (segment, counter) pair is sealed once.
- associated data = session id (UTF-8) || segment number (u32). A record moved to another
  session or segment, reordered, or dropped from the middle fails to open at its position.
- key check: the tag of an empty plaintext under the all-zero nonce (segment 0, which no record
  uses) with associated data ``_CHECK_AD``; stored in segment headers so that a wrong session
  key is told apart from altered records.

Opening failures (wrong key, altered bytes, wrong position) raise ``SealError``, an
``IntegrityError`` that says which record failed and never shows plaintext or key bytes.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from recorder.crypto.age import AgeError, Identity, Recipient, decrypt, encrypt
from recorder.errors import IntegrityError

__all__ = ["KEY_SIZE", "TAG_SIZE", "SealError", "SessionSeal"]

KEY_SIZE = 32
TAG_SIZE = 16
MAX_SEGMENT = 0xFFFF_FFFF
MAX_COUNTER = 0xFFFF_FFFF_FFFF_FFFF
_NONCE = struct.Struct(">IQ")
_SEGMENT = struct.Struct(">I")
_CHECK_AD = b"recorder journal key check"

Rng = Callable[[int], bytes]


class SealError(IntegrityError):
    """A sealed record (or the wrapped session key) could not be opened."""


class SessionSeal:
    """Seals and opens one session's journal records. The repr never shows the key."""

    __slots__ = ("_aead", "_key", "session_id", "_sid")

    def __init__(self, key: bytes, session_id: str) -> None:
        if len(key) != KEY_SIZE:
            raise ValueError(f"a session key is {KEY_SIZE} bytes")
        self._key = bytes(key)
        self._aead = ChaCha20Poly1305(self._key)
        self.session_id = session_id
        self._sid = session_id.encode("utf-8", "surrogatepass")

    @classmethod
    def generate(cls, session_id: str, rng: Rng = os.urandom) -> SessionSeal:
        key = rng(KEY_SIZE)
        if len(key) != KEY_SIZE:
            raise ValueError(f"rng returned {len(key)} bytes, expected {KEY_SIZE}")
        return cls(bytes(key), session_id)

    @property
    def key(self) -> bytes:
        """The raw session key: keep it in memory only (the proxy reads its own journal back)."""
        return self._key

    def __repr__(self) -> str:
        return f"SessionSeal(session_id={self.session_id!r})"

    def _ad(self, segment: int) -> bytes:
        return self._sid + _SEGMENT.pack(segment)

    def seal(self, segment: int, counter: int, plaintext: bytes) -> bytes:
        """Ciphertext (plaintext length + 16) of record ``counter`` of ``segment``."""
        if not (0 < segment <= MAX_SEGMENT and 0 <= counter <= MAX_COUNTER):
            raise ValueError("segment or record counter out of range")
        return self._aead.encrypt(_NONCE.pack(segment, counter), plaintext, self._ad(segment))

    def open(self, segment: int, counter: int, ciphertext: bytes, *, name: str = "<journal>") -> bytes:
        """The plaintext, or ``SealError`` if the bytes or their position were altered."""
        if not (0 < segment <= MAX_SEGMENT and 0 <= counter <= MAX_COUNTER):
            raise SealError(name, "record position out of range")
        try:
            return self._aead.decrypt(_NONCE.pack(segment, counter), ciphertext, self._ad(segment))
        except InvalidTag:
            raise SealError(
                name, f"record {counter} of segment {segment} failed authentication "
                "(altered, misplaced, or sealed under another key)"
            ) from None

    def key_check(self) -> bytes:
        """16 bytes that show whether a key is this session's (see the nonce rules)."""
        return self._aead.encrypt(bytes(12), b"", _CHECK_AD + self._sid)

    def wrap(self, recipients: Sequence[Recipient], rng: Rng = os.urandom) -> bytes:
        """The session key as an age v1 file to ``recipients`` (public keys only needed)."""
        return encrypt(self._key, recipients, rng=rng)

    @classmethod
    def unwrap(
        cls, blob: bytes, identities: Sequence[Identity], session_id: str, *, name: str = "<journal>"
    ) -> SessionSeal:
        """Recover the seal from a wrapped key; ``SealError`` if no identity opens it."""
        if not identities:
            raise SealError(name, "no identity given to unwrap the session key")
        try:
            key = decrypt(blob, identities, name=name)
        except AgeError as exc:
            raise SealError(name, f"cannot unwrap the session key: {exc.reason}") from exc
        if len(key) != KEY_SIZE:
            raise SealError(name, "wrapped session key has the wrong length")
        return cls(key, session_id)
