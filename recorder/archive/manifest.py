"""The plaintext, signed manifest of an archive.

``manifest-NNNN.json`` lists every file of the archive with its SHA-256, size, tier and the key
ids it is wrapped to, plus the state, a summary (durations and counts, never content) and the
SHA-256 of the previous manifest version (null for 0001). A version that deletes files (an
erasure, a retention expiry) says so in a ``removal`` object: cause, reason, actor, time and the
SHA-256 of every file it drops; an erased archive's last manifest has state ``erased`` and lists
no files; it is the call's signed tombstone. Its bytes are canonical JSON (sorted
keys, no whitespace, one trailing newline); ``manifest-NNNN.json.sig`` holds the base64 Ed25519
signature of exactly those bytes. Manifests are never edited: a derivative or a rewrap adds the
next version. An auditor verifies all of this with public keys only.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from recorder.crypto.signing import (
    SignatureInvalid,
    SigningKey,
    VerifyKey,
    decode_signature,
    encode_signature,
    sign,
    verify,
)
from recorder.errors import IntegrityError

MANIFEST_FORMAT = "recorder-archive/1"
SIG_SUFFIX = ".sig"
STATES = ("complete", "incomplete", "erased")
_NAME = re.compile(r"^manifest-(\d{4})\.json$")


class ManifestError(IntegrityError):
    """A manifest that does not parse or contradicts itself."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest_name(version: int) -> str:
    return f"manifest-{version:04d}.json"


def manifest_version_of(name: str) -> int | None:
    """The version in a ``manifest-NNNN.json`` file name, or None for any other name."""
    m = _NAME.match(name)
    return int(m.group(1)) if m else None


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One archive file as the manifest pins it."""

    name: str
    sha256: str
    size: int
    tier: str = "archive"
    key_ids: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "size": self.size, "tier": self.tier, "key_ids": list(self.key_ids)}


@dataclass(frozen=True, slots=True)
class Manifest:
    session_id: str
    version: int
    created_at: str  # ISO 8601, UTC
    state: str  # complete | incomplete
    reason: str | None
    files: tuple[FileEntry, ...]
    signing_key_id: str
    previous_sha256: str | None = None
    summary: Mapping[str, Any] = field(default_factory=dict, hash=False)
    format: str = MANIFEST_FORMAT
    removal: Mapping[str, Any] | None = field(default=None, hash=False)

    @property
    def name(self) -> str:
        return manifest_name(self.version)

    def file(self, name: str) -> FileEntry | None:
        return next((f for f in self.files if f.name == name), None)

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key id any file is wrapped to, sorted."""
        return tuple(sorted({k for f in self.files for k in f.key_ids}))

    def to_json(self) -> dict[str, Any]:
        doc = {
            "format": self.format,
            "session_id": self.session_id,
            "version": self.version,
            "created_at": self.created_at,
            "state": self.state,
            "reason": self.reason,
            "files": {f.name: f.to_json() for f in self.files},
            "signing_key_id": self.signing_key_id,
            "previous_manifest_sha256": self.previous_sha256,
            "summary": dict(self.summary),
        }
        if self.removal is not None:  # absent, not null, so older manifests keep their bytes
            doc["removal"] = dict(self.removal)
        return doc

    def to_bytes(self) -> bytes:
        """The canonical bytes that are written and signed."""
        text = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return text.encode("ascii") + b"\n"


def parse_manifest(data: bytes, *, name: str = "manifest.json") -> Manifest:
    """Parse manifest bytes; anything malformed is a ``ManifestError`` naming the file."""
    try:
        doc = json.loads(data)
        if doc["format"] != MANIFEST_FORMAT:
            raise ValueError(f"format is {doc['format']!r}, expected {MANIFEST_FORMAT}")
        if doc["state"] not in STATES:
            raise ValueError(f"state is {doc['state']!r}")
        files = tuple(
            FileEntry(n, str(f["sha256"]), int(f["size"]), str(f["tier"]), tuple(f["key_ids"]))
            for n, f in sorted(doc["files"].items())
        )
        return Manifest(
            session_id=str(doc["session_id"]),
            version=int(doc["version"]),
            created_at=str(doc["created_at"]),
            state=doc["state"],
            reason=doc["reason"],
            files=files,
            signing_key_id=str(doc["signing_key_id"]),
            previous_sha256=doc["previous_manifest_sha256"],
            summary=dict(doc["summary"]),
            removal=None if doc.get("removal") is None else dict(doc["removal"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ManifestError(name, f"not a recorder manifest: {exc}") from exc


def sign_manifest(data: bytes, key: SigningKey) -> bytes:
    """The ``.sig`` file contents for manifest bytes ``data``."""
    return encode_signature(sign(data, key)).encode("ascii") + b"\n"


def verify_manifest(
    data: bytes, signature: bytes, verify_keys: Mapping[str, VerifyKey], *, name: str = "manifest.json"
) -> Manifest:
    """Parse and check the signature; raise ``SignatureInvalid`` or ``ManifestError``."""
    manifest = parse_manifest(data, name=name)
    key = verify_keys.get(manifest.signing_key_id)
    if key is None or key.key_id != manifest.signing_key_id:
        raise SignatureInvalid(name, f"signed by unknown key {manifest.signing_key_id}")
    try:
        text = signature.decode("ascii")
    except UnicodeDecodeError:
        raise SignatureInvalid(name + SIG_SUFFIX, "signature is not base64 text") from None
    raw = decode_signature(text, name=name + SIG_SUFFIX)
    if signature != encode_signature(raw).encode("ascii") + b"\n":  # byte for byte, newline too
        raise SignatureInvalid(name + SIG_SUFFIX, "not byte for byte the signature file that was written")
    verify(data, raw, key, name=name)
    return manifest
