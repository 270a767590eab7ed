"""``recorder export``: decrypt one call's archive into plain files for an auditor.

Without ``--original`` (``export_redacted``) only the redacted derivatives the transcription
job published are opened, with the AUDITOR identities: ``recording.wav`` (bleeped), the
redacted ``transcript.json``, ``metadata.json`` and the manifest; the original audio is never
read. With ``--original`` (``export_original``), below:

Order:

1. find the call (recorder id or Hydra session id) and its recordings row;
2. refuse an unsafe or non-empty output directory, and a host without archive identities,
   before anything is opened;
3. check the archive: the latest manifest's signature, every file's size and SHA-256, and that
   the recordings row pins that manifest; a tampered archive is refused (``IntegrityError``
   naming the file) and nothing is decrypted;
4. create the output directory (an export it cannot make is refused, nothing logged), then
   commit the access-log entry (actor, reason, session): every access that reaches plaintext
   is on record, even one that then fails half-way;
5. decrypt in memory and write ``recording.wav`` (stereo 16-bit PCM, left caller, right agent,
   archive rate), ``unplayed.wav`` (only when barge-ins cut audio), ``metadata.json`` and the
   latest manifest verbatim as ``manifest.json`` + ``manifest.json.sig``.

Output files are created 0600 in a 0700 directory; plaintext never lands anywhere else.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import os
import secrets
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soundfile
from sqlalchemy import Engine

from recorder.archive.catalogue import (
    ALIGNMENT,
    RECORDING,
    REDACTED_RECORDING,
    TRANSCRIPT,
    UNPLAYED,
    check_archive,
    read_plain,
)
from recorder.archive.manifest import SIG_SUFFIX, Manifest, sha256_hex
from recorder.archive.render import decode_flac
from recorder.archive.store import ArchiveStore
from recorder.audit.queries import show_session
from recorder.crypto.keys import KeyStore
from recorder.db.access_log import EXPORT, EXPORT_ORIGINAL, record_access
from recorder.db.engine import transaction
from recorder.db.recordings import get_recording
from recorder.errors import IntegrityError, RecorderError

logger = logging.getLogger(__name__)

EXPORT_FORMAT = "recorder-export/1"
RECORDING_WAV = "recording.wav"
UNPLAYED_WAV = "unplayed.wav"
METADATA_JSON = "metadata.json"
MANIFEST_JSON = "manifest.json"
TRANSCRIPT_JSON = "transcript.json"
_DIR_MODE = 0o700
_FILE_MODE = 0o600
_CALL_PARTS = ("responses", "tool_calls", "errors", "usage")


class ExportRefused(RecorderError):
    """The export cannot start: the output directory or the request is unsafe. Nothing was read."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(f"export refused: {problem}")


class ExportFailed(RecorderError):
    """Writing the export failed after the access was logged; what was written may be partial."""

    def __init__(self, session_id: str, out: Path, access_seq: int, problem: str) -> None:
        self.session_id = session_id
        self.out = out
        self.access_seq = access_seq
        super().__init__(
            f"export of {session_id} to {out} failed after the access was logged "
            f"(entry {access_seq}): {problem}; delete any partial output"
        )


@dataclass(frozen=True, slots=True)
class ExportResult:
    session_id: str
    out_dir: Path
    files: tuple[str, ...]
    manifest_version: int
    access_seq: int


@dataclass(frozen=True, slots=True)
class _Row:
    """What the recordings row says, read before the database session closes."""

    archive_path: str
    manifest_sha256: str


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def check_out_dir(out: Path, *, force: bool) -> None:
    """Refuse a path that is not a directory, a non-empty one (unless ``force``), or a non-empty
    one other users can enter (``force`` never loosens who can read the plaintext)."""
    if not out.exists():
        return
    if out.is_symlink() or not out.is_dir():
        raise ExportRefused(f"{out} exists and is not a directory")
    entries = list(out.iterdir())
    empty = not entries
    if not empty and not force:
        raise ExportRefused(f"{out} is not empty; choose an empty directory or add --force")
    for entry in entries:  # --force replaces files: never one whose bytes live elsewhere too
        info = entry.lstat()
        if stat.S_ISLNK(info.st_mode) or (stat.S_ISREG(info.st_mode) and info.st_nlink > 1):
            raise ExportRefused(
                f"{entry} is a {'symbolic' if stat.S_ISLNK(info.st_mode) else 'hard'} link; "
                "an export never writes through links: remove it or choose another directory"
            )
    mode = stat.S_IMODE(out.stat().st_mode)
    if not empty and mode & 0o077:
        raise ExportRefused(
            f"{out} is open to other users (mode {mode:04o}); export into a private directory"
        )


def _make_out_dir(out: Path) -> None:
    """Create the output directory (or make the checked one private) before the access is
    logged: a directory that cannot be made is refused with nothing on the access log."""
    try:
        if out.exists():
            os.chmod(out, _DIR_MODE)  # empty (or already private, see check_out_dir)
            return
        out.parent.mkdir(parents=True, exist_ok=True)
        out.mkdir(mode=_DIR_MODE)
        os.chmod(out, _DIR_MODE)  # umask cannot widen it, and cannot narrow it below what we want
    except OSError as exc:
        raise ExportRefused(f"cannot create {out}: {exc.strerror or exc}; nothing was logged") from exc


def _write_private(path: Path, data: bytes) -> None:
    """Create (or, in a forced directory, replace) ``path`` 0600 before any byte lands.

    The bytes go to a new file next to it that is then renamed over it, so a link put in
    place after ``check_out_dir`` is replaced, never written through.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, _FILE_MODE)
    try:
        try:
            os.fchmod(fd, _FILE_MODE)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def encode_wav(samples: npt.NDArray[np.int16], rate: int) -> bytes:
    """16-bit PCM WAV in memory (stereo for a 2-D array)."""
    buf = io.BytesIO()
    soundfile.write(buf, samples, rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _recording_json(manifest: Manifest, manifest_bytes: bytes, archive_path: str) -> dict[str, Any]:
    return {
        "archive_path": archive_path,
        "state": manifest.state,
        "reason": manifest.reason,
        "manifest_version": manifest.version,
        "manifest_sha256": sha256_hex(manifest_bytes),
        "signing_key_id": manifest.signing_key_id,
        "key_ids": list(manifest.key_ids),
        "files": {f.name: {"sha256": f.sha256, "size": f.size, "tier": f.tier, "key_ids": list(f.key_ids)}
                  for f in manifest.files},
        "summary": dict(manifest.summary),
    }


def metadata_document(
    call: Mapping[str, Any],
    manifest: Manifest,
    manifest_bytes: bytes,
    archive_path: str,
    alignment: Mapping[str, Any],
    export: Mapping[str, Any],
) -> bytes:
    """``metadata.json``: the call as the database holds it (tool calls as stored, i.e.
    redacted), the recording's state and keys, the alignment manifest, and this export."""
    doc = {
        "format": EXPORT_FORMAT,
        "session": {k: v for k, v in call.items() if k not in _CALL_PARTS},
        "usage": call["usage"],
        "responses": call["responses"],
        "tool_calls": call["tool_calls"],
        "errors": call["errors"],
        "recording": _recording_json(manifest, manifest_bytes, archive_path),
        "alignment": dict(alignment),
        "export": dict(export),
    }
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n"


@dataclass(frozen=True, slots=True)
class _Checked:
    """A call's archive after its signature, file hashes and recordings row were checked."""

    call: dict[str, Any]
    session_id: str
    store: ArchiveStore
    archive_dir: Path
    archive_path: str
    manifest: Manifest
    manifest_bytes: bytes
    signature: bytes


def _checked_archive(home: Path, engine: Engine, keystore: KeyStore, key: str, out: Path | None,
                     *, force: bool, store: ArchiveStore | None = None) -> _Checked:
    """Everything every export checks before anything is logged or decrypted (``out``: the
    output directory to check, None when the caller checked its own output; ``store``: where
    the archives are, the directory under home by default)."""
    with transaction(engine) as session:
        call = show_session(session, key)
        rec = get_recording(session, call["id"])
        row = None if rec is None else _Row(rec.archive_path, rec.manifest_sha256)
    session_id: str = call["id"]
    store = store or ArchiveStore(home)
    archive_dir = store.get(session_id) if row is None else home / row.archive_path
    if not store.exists(archive_dir):
        raise IntegrityError(row.archive_path if row else session_id,
                             "the recordings row points here but the archive is not in the store; "
                             "run `recorder verify`")
    if out is not None:
        check_out_dir(out, force=force)
    manifest, manifest_bytes = check_archive(store, archive_dir, keystore.verify_keys())
    archive_path = store.relative(archive_dir)
    if row is not None and sha256_hex(manifest_bytes) != row.manifest_sha256:
        raise IntegrityError(f"{archive_path}/{manifest.name}",
                             "is not the manifest the recordings row pins; run `recorder verify`")
    _, _, signature = store.read_manifest(archive_dir, manifest.version)
    assert signature is not None  # check_archive requires it
    return _Checked(call, session_id, store, archive_dir, archive_path, manifest, manifest_bytes,
                    signature)


def _log_access(engine: Engine, c: _Checked, out: Path | None, *, actor: str, action: str,
                reason: str | None, now: dt.datetime, **detail: Any) -> int:
    where = {} if out is None else {"out": str(out.absolute())}
    return record_access(
        engine, actor=actor, action=action, reason=reason, session_id=c.session_id,
        detail={**where, "archive_path": c.archive_path, **detail,
                "manifest_version": c.manifest.version,
                "manifest_sha256": sha256_hex(c.manifest_bytes)},
        now=now,
    )


def _write_export(c: _Checked, out: Path, seq: int, files: dict[str, bytes]) -> ExportResult:
    files = {**files, MANIFEST_JSON: c.manifest_bytes, MANIFEST_JSON + SIG_SUFFIX: c.signature}
    try:
        for name, data in files.items():
            _write_private(out / name, data)
    except OSError as exc:
        raise ExportFailed(c.session_id, out, seq,
                           f"{exc.strerror or exc} ({exc.filename or out})") from exc
    return ExportResult(c.session_id, out, tuple(files), c.manifest.version, seq)


def export_original(
    home: Path,
    engine: Engine,
    keystore: KeyStore,
    key: str,
    out: Path,
    *,
    actor: str,
    reason: str,
    force: bool = False,
    clock: Callable[[], dt.datetime] = _utc_now,
    store: ArchiveStore | None = None,
) -> ExportResult:
    """Decrypt the call ``key`` into ``out`` (see the module doc for the order and the files)."""
    reason = reason.strip()
    if not reason:
        raise ExportRefused("exporting an original needs a reason (it is kept in the access log)")
    if not actor:
        raise ExportRefused("exporting an original needs an actor (who is exporting)")
    c = _checked_archive(home, engine, keystore, key, out, force=force, store=store)
    identities = keystore.identities("archive")
    now = clock()
    _make_out_dir(out)
    seq = _log_access(engine, c, out, actor=actor, action=EXPORT_ORIGINAL, reason=reason, now=now)
    stereo, rate = decode_flac(read_plain(c.store, c.archive_dir, RECORDING, identities))
    files: dict[str, bytes] = {RECORDING_WAV: encode_wav(stereo, rate)}
    if c.manifest.file(UNPLAYED) is not None:
        unplayed, unplayed_rate = decode_flac(read_plain(c.store, c.archive_dir, UNPLAYED, identities))
        files[UNPLAYED_WAV] = encode_wav(unplayed, unplayed_rate)
    alignment = json.loads(read_plain(c.store, c.archive_dir, ALIGNMENT, identities))
    export = {"actor": actor, "reason": reason, "at": now.astimezone(dt.UTC).isoformat(),
              "access_log_seq": seq, "original": True}
    files[METADATA_JSON] = metadata_document(c.call, c.manifest, c.manifest_bytes, c.archive_path,
                                             alignment, export)
    result = _write_export(c, out, seq, files)
    logger.info("exported %s (manifest %d, %d files) for %s, access %d",
                c.session_id, c.manifest.version, len(result.files), actor, seq)
    return result


def export_redacted(
    home: Path,
    engine: Engine,
    keystore: KeyStore,
    key: str,
    out: Path,
    *,
    actor: str,
    reason: str | None = None,
    force: bool = False,
    clock: Callable[[], dt.datetime] = _utc_now,
    store: ArchiveStore | None = None,
) -> ExportResult:
    """Write the redacted ``recording.wav`` and ``transcript.json`` of call ``key`` into ``out``.

    Same order as ``export_original`` (checks, then the access-log entry, then plaintext), but
    only the auditor-tier derivatives are decrypted. Refused before anything is opened when the
    call has not been transcribed yet.
    """
    if not actor:
        raise ExportRefused("an export needs an actor (who is exporting)")
    c = _checked_archive(home, engine, keystore, key, out, force=force, store=store)
    if c.manifest.file(REDACTED_RECORDING) is None or c.manifest.file(TRANSCRIPT) is None:
        raise ExportRefused(
            f"{c.session_id} has no redacted recording yet; run `recorder transcribe --session "
            f"{c.session_id}` (or export the original with --original --reason TEXT)")
    identities = keystore.identities("auditor")
    now = clock()
    reason = (reason or "").strip() or None
    _make_out_dir(out)
    seq = _log_access(engine, c, out, actor=actor, action=EXPORT, reason=reason, now=now,
                      redacted=True)
    stereo, rate = decode_flac(read_plain(c.store, c.archive_dir, REDACTED_RECORDING, identities))
    transcript = read_plain(c.store, c.archive_dir, TRANSCRIPT, identities)
    pretty = json.dumps(json.loads(transcript), indent=2, sort_keys=True, ensure_ascii=False).encode() + b"\n"
    export = {"actor": actor, "reason": reason, "at": now.astimezone(dt.UTC).isoformat(),
              "access_log_seq": seq, "original": False}
    result = _write_export(c, out, seq, {
        RECORDING_WAV: encode_wav(stereo, rate),
        TRANSCRIPT_JSON: pretty,
        METADATA_JSON: metadata_document(c.call, c.manifest, c.manifest_bytes, c.archive_path, {}, export),
    })
    logger.info("exported redacted %s (manifest %d, %d files) for %s, access %d",
                c.session_id, c.manifest.version, len(result.files), actor, seq)
    return result


@dataclass(frozen=True, slots=True)
class OpenedAudio:
    """A call's recording decrypted in memory (stereo int16: left caller, right agent)."""

    session_id: str
    samples: npt.NDArray[np.int16]
    rate: int
    manifest_version: int
    access_seq: int

    def __repr__(self) -> str:
        return f"OpenedAudio({self.session_id}, {len(self.samples)} frames at {self.rate} Hz)"


def open_redacted_audio(
    home: Path,
    engine: Engine,
    keystore: KeyStore,
    key: str,
    *,
    actor: str,
    action: str = EXPORT,
    detail: Mapping[str, Any] | None = None,
    clock: Callable[[], dt.datetime] = _utc_now,
    store: ArchiveStore | None = None,
) -> OpenedAudio:
    """The redacted recording of ``key`` in memory, checked and logged as ``export_redacted``
    is, for a caller that streams it (the console) instead of writing files."""
    if not actor:
        raise ExportRefused("opening a recording needs an actor (who is reading)")
    c = _checked_archive(home, engine, keystore, key, None, force=False, store=store)
    if c.manifest.file(REDACTED_RECORDING) is None:
        raise ExportRefused(f"{c.session_id} has no redacted recording yet; run `recorder transcribe "
                            f"--session {c.session_id}`")
    identities = keystore.identities("auditor")
    seq = _log_access(engine, c, None, actor=actor, action=action, reason=None, now=clock(),
                      redacted=True, **dict(detail or {}))
    stereo, rate = decode_flac(read_plain(c.store, c.archive_dir, REDACTED_RECORDING, identities))
    return OpenedAudio(c.session_id, stereo, rate, c.manifest.version, seq)


def open_original_audio(
    home: Path,
    engine: Engine,
    keystore: KeyStore,
    key: str,
    *,
    actor: str,
    reason: str,
    detail: Mapping[str, Any] | None = None,
    clock: Callable[[], dt.datetime] = _utc_now,
    store: ArchiveStore | None = None,
) -> OpenedAudio:
    """The original recording of ``key`` in memory, with the checks, reason and access-log
    entry (``export_original``) of ``export_original``; nothing is written to disk."""
    reason = reason.strip()
    if not reason:
        raise ExportRefused("opening an original needs a reason (it is kept in the access log)")
    if not actor:
        raise ExportRefused("opening an original needs an actor (who is reading)")
    c = _checked_archive(home, engine, keystore, key, None, force=False, store=store)
    identities = keystore.identities("archive")
    seq = _log_access(engine, c, None, actor=actor, action=EXPORT_ORIGINAL, reason=reason, now=clock(),
                      **dict(detail or {}))
    stereo, rate = decode_flac(read_plain(c.store, c.archive_dir, RECORDING, identities))
    return OpenedAudio(c.session_id, stereo, rate, c.manifest.version, seq)
