"""The files an archive holds, by name and key tier, and how they are read back (checked first).

An archive directory (``store.py`` has the layout) holds, each age-encrypted::

    recording.flac.age    stereo FLAC at the archive rate: left caller, right agent as heard
    unplayed.flac.age     mono FLAC: agent audio cut by barge-in (absent when nothing was cut)
    events.jsonl.age      one JSON line per frame (audio as metadata only), then the close
    alignment.json.age    rates, gaps, drift, cuts, the unplayed index, caller runs
    call.json.age         the call's facts and summary (rows can be rebuilt from it)

to the ``archive`` tier, and the derivatives the transcription job adds to the ``auditor`` tier
(``recording.redacted.flac.age``, ``transcript.json.age``). The signed ``manifest-NNNN.json``
pins every file; nothing is read before ``check_archive`` has checked it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from recorder.archive.manifest import Manifest, verify_manifest
from recorder.archive.store import ArchiveStore
from recorder.crypto import age
from recorder.crypto.signing import VerifyKey
from recorder.errors import IntegrityError

ARCHIVE_TIER: Final = "archive"
DERIVATIVE_TIER: Final = "auditor"

RECORDING = "recording.flac.age"
UNPLAYED = "unplayed.flac.age"
EVENTS = "events.jsonl.age"
ALIGNMENT = "alignment.json.age"
CALL = "call.json.age"
ORIGINALS = (RECORDING, UNPLAYED, EVENTS, ALIGNMENT, CALL)

REDACTED_RECORDING = "recording.redacted.flac.age"
TRANSCRIPT = "transcript.json.age"
DERIVATIVES = (REDACTED_RECORDING, TRANSCRIPT)

_HASH_BLOCK = 1 << 20


def check_archive(
    store: ArchiveStore, archive_dir: Path, verify_keys: Mapping[str, VerifyKey]
) -> tuple[Manifest, bytes]:
    """The latest manifest of an archive after checking its signature and every file's hash.

    Files are hashed as streams, so checking a long recording costs no memory.
    """
    version, data, sig = store.read_manifest(archive_dir)
    name = f"{store.relative(archive_dir)}/manifest-{version:04d}.json"
    if sig is None:
        raise IntegrityError(name, "signature file is missing")
    manifest = verify_manifest(data, sig, verify_keys, name=name)
    for f in manifest.files:
        h, size = hashlib.sha256(), 0
        with store.open(archive_dir, f.name) as stream:
            while block := stream.read(_HASH_BLOCK):
                h.update(block)
                size += len(block)
        if size != f.size or h.hexdigest() != f.sha256:
            raise IntegrityError(f"{store.relative(archive_dir)}/{f.name}", "does not match its manifest")
    return manifest, data


def read_plain(store: ArchiveStore, archive_dir: Path, name: str, identities: Sequence[age.Identity]) -> bytes:
    """One archive file decrypted (after ``check_archive``); ``AgeError`` names the file."""
    return age.decrypt(store.read(archive_dir, name), identities, name=f"{store.relative(archive_dir)}/{name}")
