"""age v1 encryption (c2sp.org/age) on ``cryptography`` primitives: X25519 recipients only.

Files written here are standard age files: stock ``age``/``rage``/``pyrage`` decrypt them, and we
decrypt theirs (tests prove both directions). No armor, no scrypt, no plugins.

Format (binary; the header is ASCII text with LF line ends)::

    age-encryption.org/v1\\n
    -> X25519 <b64 ephemeral share>\\n          one stanza per recipient, in the order given
    <b64 ChaCha20-Poly1305(wrap key, file key)>\\n      (32 bytes -> one 43-column line)
    --- <b64 HMAC-SHA256(header key, every header byte up to and including "---")>\\n
    <16-byte payload nonce><chunk 0><chunk 1>...<final chunk>

    b64          standard alphabet, no "=" padding, canonical (decoders reject anything else)
    wrap key     HKDF-SHA256(ikm=X25519(eph, recipient), salt=share || recipient,
                             info="age-encryption.org/v1/X25519")
    header key   HKDF-SHA256(ikm=file key, salt="", info="header")
    payload key  HKDF-SHA256(ikm=file key, salt=payload nonce, info="payload")
    chunk i      ChaCha20-Poly1305(payload key, nonce_i, 64 KiB of plaintext) = 64 KiB + 16;
                 only the final chunk may be shorter, and it is empty only for an empty file.

Nonce and key rules (why nothing ever repeats under one key):

- file key: 16 fresh bytes per file; never reused across files. ``rewrap`` keeps it because
  the payload (already encrypted under it) is kept byte for byte.
- ephemeral secret: 32 fresh bytes per stanza, per file and per rewrap, so every wrap key is
  unique and the fixed all-zero 12-byte nonce of the stanza AEAD is safe.
- payload nonce: 16 fresh bytes per file, used as HKDF salt, so each file has its own payload key.
- chunk nonce: 11-byte big-endian chunk counter from 0, then 0x01 for the final chunk and 0x00
  otherwise. Unique per chunk; the authenticated final flag makes truncation at a chunk boundary
  and appended chunks detectable.
- ``rng(n)`` is called, in this order: file key (16), one ephemeral secret (32) per recipient in
  the order given, payload nonce (16). ``rewrap`` calls it only for the ephemeral secrets. Tests
  pass a deterministic ``rng`` to get known-answer vectors; production uses ``os.urandom``.

Streaming (``AgeWriter``): plaintext is sealed 64 KiB at a time as it is written, so memory
stays at two chunks whatever the file size. One byte of look-ahead decides which chunk is the
final one. The first chunk is kept in memory and sealed last into the slot reserved for it, so
the first 64 KiB of plaintext may be rewritten until ``close`` (a FLAC encoder patches its
STREAMINFO header when it finishes); that needs a seekable destination. The bytes are exactly
those ``encrypt`` gives for the same final plaintext and ``rng``.

Every failure to read a file (bad format, wrong key, altered or truncated bytes) raises one
opaque ``AgeError`` that names the file and what failed. Streaming decryption writes
authenticated chunks as it goes: when it raises, discard what was written to ``dst``.

Key ids: ``"k_" + sha256(recipient string)[:10 hex]``. The X25519 stanza carries only the
ephemeral share, so the key ids a file is wrapped to are returned by ``encrypt_stream`` /
``rewrap_stream`` (and computed by ``recipient_key_ids``) for the caller to store; no
non-standard stanza is written. Rotation by ``rewrap`` stops a *retired identity* from opening
the file, but anyone who already unwrapped the file key keeps it; only re-encryption changes it.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import io
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from recorder.crypto import bech32
from recorder.errors import ConfigError, IntegrityError

logger = logging.getLogger(__name__)

Rng = Callable[[int], bytes]

VERSION_LINE = b"age-encryption.org/v1"
RECIPIENT_HRP = "age"
IDENTITY_HRP = "AGE-SECRET-KEY-"
CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
ENCRYPTED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
FILE_KEY_SIZE = 16
PAYLOAD_NONCE_SIZE = 16
_X25519_INFO = b"age-encryption.org/v1/X25519"
_ZERO_NONCE = bytes(12)
_MAX_LINE = 16 * 1024  # generous: post-quantum stanza arguments are ~1.5 KiB
_MAX_HEADER = 1024 * 1024
_BODY_COLUMNS = 64
_B64_CHARS = re.compile(rb"[A-Za-z0-9+/]*")


class AgeError(IntegrityError):
    """An age file could not be read: not age, wrong key, altered or truncated. Names the file."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(name, reason)


class InvalidKeyError(ConfigError):
    """A recipient or identity string is not a valid age X25519 key (the secret is never echoed)."""

    def __init__(self, kind: str, source: str, problem: str) -> None:
        super().__init__(kind, source, problem)


def key_id_for(recipient_text: str) -> str:
    """Short stable id of a public key: what manifests, the database and ``keys list`` show."""
    return "k_" + hashlib.sha256(recipient_text.encode("ascii")).hexdigest()[:10]


@functools.lru_cache(maxsize=64)
def _key_id(public: bytes) -> str:
    """Bech32 in Python costs ~50 us, and each archive names its recipients' ids five times."""
    return key_id_for(bech32.encode(RECIPIENT_HRP, public))


@dataclass(frozen=True, slots=True)
class Recipient:
    """An X25519 public key: anyone holding it can encrypt, nobody can decrypt with it."""

    public: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.public) != 32:
            raise ValueError("an X25519 recipient is 32 bytes")

    def __str__(self) -> str:
        return bech32.encode(RECIPIENT_HRP, self.public)

    def __repr__(self) -> str:
        return f"Recipient({str(self)!r})"

    @property
    def key_id(self) -> str:
        return _key_id(self.public)


@dataclass(frozen=True, slots=True)
class Identity:
    """An X25519 secret key and its recipient. The repr shows only the key id."""

    secret: bytes = field(repr=False)
    recipient: Recipient

    @classmethod
    def from_secret(cls, secret: bytes) -> Identity:
        if len(secret) != 32:
            raise ValueError("an X25519 identity is 32 bytes")
        public = X25519PrivateKey.from_private_bytes(secret).public_key().public_bytes_raw()
        return cls(secret, Recipient(public))

    def secret_str(self) -> str:
        """The ``AGE-SECRET-KEY-1...`` text that ``age -i`` reads. Handle as a secret."""
        return bech32.encode(IDENTITY_HRP, self.secret, upper=True)

    @property
    def key_id(self) -> str:
        return self.recipient.key_id

    def __repr__(self) -> str:
        return f"Identity(key_id={self.key_id!r})"


@dataclass(frozen=True, slots=True)
class Stanza:
    """One recipient stanza; ``args[0]`` is its type (``"X25519"`` for ours)."""

    args: tuple[str, ...]
    body: bytes = field(repr=False)

    @property
    def kind(self) -> str:
        return self.args[0]


@dataclass(frozen=True, slots=True)
class Header:
    """A parsed header. ``payload_offset`` is where the payload nonce starts."""

    stanzas: tuple[Stanza, ...]
    mac: bytes = field(repr=False)
    mac_input: bytes = field(repr=False)
    payload_offset: int

    def encode(self) -> bytes:
        """The exact header bytes as read (useful to copy a header verbatim)."""
        return self.mac_input + b" " + _b64encode(self.mac).encode("ascii") + b"\n"


def _check_rng(rng: Rng, n: int) -> bytes:
    out = rng(n)
    if len(out) != n:
        raise ValueError(f"rng returned {len(out)} bytes, expected {n}")
    return bytes(out)


def generate_identity(rng: Rng = os.urandom) -> Identity:
    """A fresh X25519 identity (32 bytes from ``rng``, as ``age-keygen`` does)."""
    return Identity.from_secret(_check_rng(rng, 32))


def parse_recipient(text: str, *, source: str = "<argument>") -> Recipient:
    """Parse ``age1...`` (lower case, as ``age`` requires)."""
    text = text.strip()
    if not text.startswith("age1") or text.lower() != text:
        raise InvalidKeyError("recipient", source, "not an age X25519 recipient (age1..., lower case)")
    try:
        data = bech32.decode_expect(text, RECIPIENT_HRP)
    except bech32.Bech32Error as exc:
        raise InvalidKeyError("recipient", source, f"invalid age recipient: {exc}") from exc
    if len(data) != 32:
        raise InvalidKeyError("recipient", source, "age recipient must hold 32 bytes")
    return Recipient(data)


def parse_identity(text: str, *, source: str = "<argument>") -> Identity:
    """Parse ``AGE-SECRET-KEY-1...`` (upper case). Errors never echo the secret."""
    text = text.strip()
    if not text.startswith("AGE-SECRET-KEY-1") or text.upper() != text:
        raise InvalidKeyError("identity", source, "not an age X25519 identity (AGE-SECRET-KEY-1...)")
    try:
        data = bech32.decode_expect(text, IDENTITY_HRP)
    except bech32.Bech32Error as exc:
        raise InvalidKeyError("identity", source, f"invalid age identity: {exc}") from None
    if len(data) != 32:
        raise InvalidKeyError("identity", source, "age identity must hold 32 bytes")
    return Identity.from_secret(data)


def recipient_key_ids(keys: Iterable[Recipient | Identity]) -> tuple[str, ...]:
    """Key ids of ``keys`` in order: what to record for a file encrypted or rewrapped to them."""
    return tuple(k.key_id for k in keys)


# --- encoding helpers -------------------------------------------------------------------------


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _b64decode(text: bytes, name: str, what: str) -> bytes:
    """Strict, canonical, unpadded base64 (c2sp.org/age, "Conventions")."""
    if not _B64_CHARS.fullmatch(text) or len(text) % 4 == 1:
        raise AgeError(name, f"malformed header: {what} is not unpadded base64")
    try:
        data = base64.b64decode(text + b"=" * (-len(text) % 4), validate=True)
    except binascii.Error as exc:
        raise AgeError(name, f"malformed header: {what} is not base64") from exc
    if _b64encode(data).encode("ascii") != text:
        raise AgeError(name, f"malformed header: {what} is not canonical base64")
    return data


def _hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def _chunk_nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def _read_exact(src: BinaryIO, n: int) -> bytes:
    """Read ``n`` bytes, or fewer only at end of file (streams may return short reads)."""
    parts: list[bytes] = []
    remaining = n
    while remaining:
        part = src.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def _as_stream(data_or_stream: bytes | bytearray | memoryview | BinaryIO) -> BinaryIO:
    if isinstance(data_or_stream, bytes | bytearray | memoryview):
        return io.BytesIO(data_or_stream)
    return data_or_stream


# --- header -----------------------------------------------------------------------------------


def _wrap_x25519(file_key: bytes, recipient: Recipient, rng: Rng) -> Stanza:
    ephemeral = X25519PrivateKey.from_private_bytes(_check_rng(rng, 32))
    share = ephemeral.public_key().public_bytes_raw()
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient.public))
    wrap_key = _hkdf(shared, share + recipient.public, _X25519_INFO)
    body = ChaCha20Poly1305(wrap_key).encrypt(_ZERO_NONCE, file_key, None)
    return Stanza(("X25519", _b64encode(share)), body)


def _encode_stanza(stanza: Stanza) -> bytes:
    body = _b64encode(stanza.body)
    lines = [body[i : i + _BODY_COLUMNS] for i in range(0, len(body), _BODY_COLUMNS)]
    if not lines or len(lines[-1]) == _BODY_COLUMNS:
        lines.append("")  # the body always ends with a line shorter than 64 columns
    text = "-> " + " ".join(stanza.args) + "\n" + "".join(line + "\n" for line in lines)
    return text.encode("ascii")


def _build_header(file_key: bytes, recipients: Sequence[Recipient], rng: Rng) -> bytes:
    if not recipients:
        raise ValueError("age needs at least one recipient")
    stanzas = [_wrap_x25519(file_key, r, rng) for r in recipients]
    mac_input = VERSION_LINE + b"\n" + b"".join(_encode_stanza(s) for s in stanzas) + b"---"
    mac = hmac.new(_hkdf(file_key, b"", b"header"), mac_input, hashlib.sha256).digest()
    return mac_input + b" " + _b64encode(mac).encode("ascii") + b"\n"


class _LineReader:
    """Reads header lines from a stream without reading past the header."""

    def __init__(self, src: BinaryIO, name: str) -> None:
        self.src = src
        self.name = name
        self.consumed = bytearray()

    def line(self) -> bytes:
        raw = self.src.readline(_MAX_LINE + 1)
        self.consumed += raw
        if len(self.consumed) > _MAX_HEADER:
            raise AgeError(self.name, "malformed header: larger than 1 MiB")
        if not raw.endswith(b"\n"):
            if len(raw) > _MAX_LINE:
                raise AgeError(self.name, "malformed header: line too long")
            raise AgeError(self.name, "truncated header")
        return raw[:-1]


def _parse_args(line: bytes, name: str) -> tuple[str, ...]:
    args = line[3:].split(b" ")
    for arg in args:
        if not arg or any(b < 0x21 or b > 0x7E for b in arg):
            raise AgeError(name, "malformed header: bad stanza argument")
    return tuple(a.decode("ascii") for a in args)


def _parse_body(reader: _LineReader, name: str) -> bytes:
    lines: list[bytes] = []
    while True:
        line = reader.line()
        if len(line) > _BODY_COLUMNS:
            raise AgeError(name, "malformed header: stanza body line longer than 64 columns")
        lines.append(line)
        if len(line) < _BODY_COLUMNS:
            return _b64decode(b"".join(lines), name, "stanza body")


def _parse_header(src: BinaryIO, name: str) -> Header:
    reader = _LineReader(src, name)
    try:
        first = reader.line()
    except AgeError:
        first = bytes(reader.consumed)
        if not first.startswith(b"age-encryption.org/"):
            raise AgeError(name, "not an age file") from None
        raise
    if first != VERSION_LINE:
        if first.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----"):
            raise AgeError(name, "armored age files are not supported; dearmor first")
        if first.startswith(b"age-encryption.org/"):
            raise AgeError(name, "unsupported age version")
        raise AgeError(name, "not an age file")
    stanzas: list[Stanza] = []
    while True:
        line = reader.line()
        if line.startswith(b"-> "):
            args = _parse_args(line, name)
            stanzas.append(Stanza(args, _parse_body(reader, name)))
        elif line.startswith(b"--- "):
            mac = _b64decode(line[4:], name, "header MAC")
            if len(mac) != 32:
                raise AgeError(name, "malformed header: MAC is not 32 bytes")
            break
        else:
            raise AgeError(name, "malformed header: unexpected line")
    if not stanzas:
        raise AgeError(name, "malformed header: no recipient stanzas")
    consumed = bytes(reader.consumed)
    mac_input = consumed[: len(consumed) - len(line) - 1 + 3]
    return Header(tuple(stanzas), mac, mac_input, len(consumed))


def read_header(data_or_stream: bytes | bytearray | memoryview | BinaryIO, *, name: str = "<data>") -> Header:
    """Parse the header of an age file (bytes, or a stream left positioned at the payload).

    Only the syntax is checked: the MAC needs the file key, so it is verified by ``decrypt``
    and ``rewrap``.
    """
    return _parse_header(_as_stream(data_or_stream), name)


def _x25519_stanzas(header: Header, name: str) -> list[tuple[bytes, bytes]]:
    """Validated (share, body) pairs; malformed X25519 stanzas reject the whole file."""
    out: list[tuple[bytes, bytes]] = []
    for stanza in header.stanzas:
        if stanza.kind != "X25519":
            continue  # other recipient types are not ours to judge (c2sp.org/age)
        if len(stanza.args) != 2:
            raise AgeError(name, "malformed header: X25519 stanza needs exactly one argument")
        share = _b64decode(stanza.args[1].encode("ascii"), name, "X25519 share")
        if len(share) != 32 or len(stanza.body) != 32:
            raise AgeError(name, "malformed header: X25519 stanza has the wrong size")
        out.append((share, stanza.body))
    return out


def _unwrap_file_key(header: Header, identities: Sequence[Identity], name: str) -> bytes:
    """Find the file key with any identity, then check the header MAC with it."""
    if not identities:
        raise ValueError("decryption needs at least one identity")
    candidates = _x25519_stanzas(header, name)
    file_key: bytes | None = None
    for identity in identities:
        private = X25519PrivateKey.from_private_bytes(identity.secret)
        for share, body in candidates:
            try:
                shared = private.exchange(X25519PublicKey.from_public_bytes(share))
            except ValueError:
                raise AgeError(name, "malformed header: X25519 share is a low-order point") from None
            if shared == bytes(32):
                raise AgeError(name, "malformed header: X25519 share is a low-order point")
            wrap_key = _hkdf(shared, share + identity.recipient.public, _X25519_INFO)
            try:
                file_key = ChaCha20Poly1305(wrap_key).decrypt(_ZERO_NONCE, body, None)
            except InvalidTag:
                continue
            break
        if file_key is not None:
            break
    if file_key is None:
        ids = ", ".join(recipient_key_ids(identities))
        raise AgeError(name, f"no identity matches: the file is not wrapped to key(s) {ids}")
    if len(file_key) != FILE_KEY_SIZE:
        raise AgeError(name, "malformed header: wrapped file key has the wrong size")
    expected = hmac.new(_hkdf(file_key, b"", b"header"), header.mac_input, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, header.mac):
        raise AgeError(name, "header MAC mismatch: the header was altered")
    return file_key


# --- payload ----------------------------------------------------------------------------------


def _chunked(src: BinaryIO, size: int) -> Iterator[tuple[bytes, bool]]:
    """Yield (piece, is_last) with one piece of read-ahead; an empty source yields one empty piece."""
    current = _read_exact(src, size)
    while True:
        following = _read_exact(src, size) if len(current) == size else b""
        yield current, not following
        if not following:
            return
        current = following


def _encrypt_payload(src: BinaryIO, dst: BinaryIO, file_key: bytes, rng: Rng) -> None:
    nonce = _check_rng(rng, PAYLOAD_NONCE_SIZE)
    aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
    dst.write(nonce)
    for counter, (chunk, last) in enumerate(_chunked(src, CHUNK_SIZE)):
        dst.write(aead.encrypt(_chunk_nonce(counter, last), chunk, None))


def _decrypt_payload(src: BinaryIO, dst: BinaryIO, file_key: bytes, name: str) -> None:
    nonce = _read_exact(src, PAYLOAD_NONCE_SIZE)
    if len(nonce) < PAYLOAD_NONCE_SIZE:
        raise AgeError(name, "truncated: payload is missing")
    aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
    for counter, (chunk, last) in enumerate(_chunked(src, ENCRYPTED_CHUNK_SIZE)):
        if len(chunk) < TAG_SIZE:
            raise AgeError(name, f"truncated: payload ends inside chunk {counter}")
        try:
            plain = aead.decrypt(_chunk_nonce(counter, last), chunk, None)
        except InvalidTag:
            raise AgeError(name, _chunk_failure(aead, chunk, counter, last)) from None
        if last and not plain and counter > 0:
            raise AgeError(name, "malformed payload: empty final chunk")
        dst.write(plain)


def _chunk_failure(aead: ChaCha20Poly1305, chunk: bytes, counter: int, last: bool) -> str:
    """Say why a chunk failed: appended data and truncation read differently to an auditor."""
    try:
        aead.decrypt(_chunk_nonce(counter, not last), chunk, None)
    except InvalidTag:
        return f"payload chunk {counter} failed authentication: altered or truncated"
    if last:
        return f"truncated: payload ends after chunk {counter}"
    return f"trailing data after the final chunk {counter}"


# --- public operations ------------------------------------------------------------------------


def encrypt_stream(
    src: BinaryIO, dst: BinaryIO, recipients: Sequence[Recipient], *, rng: Rng = os.urandom
) -> tuple[str, ...]:
    """Encrypt ``src`` to ``dst`` for ``recipients``; return the key ids it is wrapped to."""
    file_key = _check_rng(rng, FILE_KEY_SIZE)
    dst.write(_build_header(file_key, recipients, rng))
    _encrypt_payload(src, dst, file_key, rng)
    return recipient_key_ids(recipients)


class AgeWriter:
    """A write-only, seekable-within-the-first-chunk file that age-encrypts to ``dst`` as it goes.

    ``dst`` must be seekable and positioned where the age file starts; ``close`` seals the last
    chunks and leaves ``dst`` positioned at the end of the age file (it does not close ``dst``).
    Writes at the current end append; writes before it must fall inside the first 64 KiB.
    Usable as a file object by ``soundfile`` (virtual I/O), ``shutil`` and ``io`` helpers.
    """

    def __init__(self, dst: BinaryIO, recipients: Sequence[Recipient], *, rng: Rng = os.urandom) -> None:
        file_key = _check_rng(rng, FILE_KEY_SIZE)
        header = _build_header(file_key, recipients, rng)
        nonce = _check_rng(rng, PAYLOAD_NONCE_SIZE)
        self.key_ids = recipient_key_ids(recipients)
        self._aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
        self._dst = dst
        dst.write(header + nonce)
        self._head_at = dst.tell()  # where chunk 0 goes
        self._head = bytearray()  # plaintext [0, 64 KiB): rewritable until close
        self._tail = bytearray()  # plaintext from chunk ``self._counter`` on, not yet sealed
        self._counter = 1
        self._size = 0
        self._pos = 0
        self.closed = False

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if not 0 <= base + offset <= self._size:
            raise ValueError(f"cannot seek to {base + offset} in an age stream of {self._size} bytes")
        self._pos = base + offset
        return self._pos

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self.closed:
            raise ValueError("write to a closed age stream")
        view = memoryview(data).cast("B")
        n = len(view)
        if self._pos < self._size:
            if self._pos + n > min(self._size, CHUNK_SIZE):
                raise ValueError("an age stream can only rewrite bytes already written in its first 64 KiB")
            self._head[self._pos : self._pos + n] = view
            self._pos += n
            return n
        room = CHUNK_SIZE - len(self._head)
        if room > 0:
            self._head += view[:room]
            view = view[room:]
        if len(view):
            if self._counter == 1 and not self._tail:  # chunk 0 is not the final one: reserve its slot
                self._dst.write(bytes(ENCRYPTED_CHUNK_SIZE))
            self._tail += view
            self._seal_full_chunks()
        self._size += n
        self._pos = self._size
        return n

    def _seal_full_chunks(self) -> None:
        """Seal every tail chunk that is surely not the final one (more bytes follow it)."""
        done = 0
        while len(self._tail) - done > CHUNK_SIZE:
            piece = bytes(self._tail[done : done + CHUNK_SIZE])
            self._dst.write(self._aead.encrypt(_chunk_nonce(self._counter, False), piece, None))
            self._counter += 1
            done += CHUNK_SIZE
        if done:
            del self._tail[:done]

    def close(self) -> None:
        """Seal the final chunk, then chunk 0 into its slot. Idempotent."""
        if self.closed:
            return
        self.closed = True
        if self._size <= CHUNK_SIZE:
            self._dst.write(self._aead.encrypt(_chunk_nonce(0, True), bytes(self._head), None))
            return
        self._dst.write(self._aead.encrypt(_chunk_nonce(self._counter, True), bytes(self._tail), None))
        end = self._dst.tell()
        self._dst.seek(self._head_at)
        self._dst.write(self._aead.encrypt(_chunk_nonce(0, False), bytes(self._head), None))
        self._dst.seek(end)
        self._head.clear()
        self._tail.clear()

    def flush(self) -> None:
        """Nothing to do: data is sealed as whole chunks fill (and the rest at ``close``)."""

    def __enter__(self) -> AgeWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def decrypt_stream(
    src: BinaryIO, dst: BinaryIO, identities: Sequence[Identity], *, name: str = "<data>"
) -> None:
    """Decrypt ``src`` to ``dst``. On ``AgeError`` the bytes already written must be discarded."""
    header = _parse_header(src, name)
    file_key = _unwrap_file_key(header, identities, name)
    _decrypt_payload(src, dst, file_key, name)


def encrypt(plaintext: bytes, recipients: Sequence[Recipient], *, rng: Rng = os.urandom) -> bytes:
    """One-shot ``encrypt_stream``; the key ids are ``recipient_key_ids(recipients)``."""
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(plaintext), out, recipients, rng=rng)
    return out.getvalue()


def decrypt(ciphertext: bytes, identities: Sequence[Identity], *, name: str = "<data>") -> bytes:
    """One-shot decryption: returns plaintext only when every chunk authenticated."""
    out = io.BytesIO()
    decrypt_stream(io.BytesIO(ciphertext), out, identities, name=name)
    return out.getvalue()


def rewrap(
    header_source: bytes | bytearray | memoryview | BinaryIO,
    identities: Sequence[Identity],
    new_recipients: Sequence[Recipient],
    *,
    rng: Rng = os.urandom,
    name: str = "<data>",
) -> bytes:
    """A new header wrapping the same file key to ``new_recipients``, with a new MAC.

    ``header_source`` is the file (or at least its header) as bytes, or a stream that is left
    positioned at the payload. The new header followed by the old file's bytes from
    ``read_header(...).payload_offset`` on is a valid age file: the payload is not touched.
    """
    header = _parse_header(_as_stream(header_source), name)
    file_key = _unwrap_file_key(header, identities, name)
    return _build_header(file_key, new_recipients, rng)


def rewrap_stream(
    src: BinaryIO,
    dst: BinaryIO,
    identities: Sequence[Identity],
    new_recipients: Sequence[Recipient],
    *,
    rng: Rng = os.urandom,
    name: str = "<data>",
) -> tuple[str, ...]:
    """Copy an age file to ``dst`` with a rewrapped header and the payload bytes unchanged."""
    dst.write(rewrap(src, identities, new_recipients, rng=rng, name=name))
    shutil.copyfileobj(src, dst, ENCRYPTED_CHUNK_SIZE)
    return recipient_key_ids(new_recipients)
