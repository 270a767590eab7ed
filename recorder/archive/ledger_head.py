"""A signed checkpoint of the ledger's head, kept outside the database: no blind tail.

The ledger's hash chain shows an altered or deleted entry *before* the last one, but not the
removal of the newest entries (with their archives and rows): the shorter chain is still a
valid chain. So after every commit that appends to (or confirms) the ledger, the head (``seq``
and ``entry_hash``) is signed with the manifest signing key and written to
``<home>/ledger-head.json``, and logged as one ``ledger head {...}`` line that the operator's
log shipping carries to a second place. ``recorder verify`` checks that the ledger still
reaches the signed head with the same hash.

The file only moves forward: concurrent writers (proxy workers, transcription workers) take
an ``flock`` and never replace a head with an older one, so a crash between a commit and the
checkpoint leaves it at most one step behind until the next append (or ``recorder recover``)
moves it on. The format is canonical JSON; a file that is not byte for byte what the signer
wrote fails verification::

    {"entry_hash":"<64 hex>","seq":N,"signature":"<base64>","signing_key_id":"k_…",
     "since_seq":S,"written_at":"<UTC ISO>"}

``since_seq`` is the entry at which this checkpoint file started (1 for a ledger that had it
from the start); the signature covers every other field.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from recorder.crypto.keys import KeyStore, KeyStoreError
from recorder.crypto.signing import SignatureInvalid, VerifyKey, decode_signature, encode_signature, sign, verify
from recorder.durable import fsync_dir
from recorder.errors import IntegrityError
from recorder.private import make_private_dir

log = logging.getLogger(__name__)

HEAD_FILE = "ledger-head.json"
_LOCK_FILE = ".ledger-head.lock"
_FIELDS = ("entry_hash", "seq", "signing_key_id", "since_seq", "written_at")


class HeadInvalid(IntegrityError):
    """The checkpoint file is not a well-formed, correctly signed ledger head."""


@dataclass(frozen=True, slots=True)
class LedgerHead:
    """A verified checkpoint: the ledger had ``seq`` entries, the last hashing to ``entry_hash``."""

    seq: int
    entry_hash: str
    signing_key_id: str
    since_seq: int
    written_at: str


def _canonical(doc: Mapping[str, object]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _signed_part(head: LedgerHead) -> bytes:
    return _canonical({name: getattr(head, name) for name in _FIELDS})


def head_bytes(head: LedgerHead, signature: bytes) -> bytes:
    """The file's exact contents: canonical JSON of the head and its signature, one line."""
    doc = {name: getattr(head, name) for name in _FIELDS}
    return _canonical({**doc, "signature": encode_signature(signature)}) + b"\n"


def parse_head(data: bytes, verify_keys: Mapping[str, VerifyKey], *, name: str = HEAD_FILE) -> LedgerHead:
    """Check the signature and that ``data`` is exactly the canonical form; raise ``HeadInvalid``."""
    try:
        doc = json.loads(data.decode("ascii"))
        head = LedgerHead(
            seq=int(doc["seq"]), entry_hash=str(doc["entry_hash"]),
            signing_key_id=str(doc["signing_key_id"]), since_seq=int(doc["since_seq"]),
            written_at=str(doc["written_at"]),
        )
        signature = decode_signature(str(doc["signature"]), name=name)
    except SignatureInvalid as exc:
        raise HeadInvalid(name, exc.reason) from None
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise HeadInvalid(name, f"not a ledger head checkpoint: {exc}") from None
    if head_bytes(head, signature) != data:
        raise HeadInvalid(name, "not byte for byte the signed checkpoint (edited or re-encoded)")
    key = verify_keys.get(head.signing_key_id)
    if key is None:
        raise HeadInvalid(name, f"signed by unknown key {head.signing_key_id}")
    try:
        verify(_signed_part(head), signature, key, name=name)
    except SignatureInvalid as exc:
        raise HeadInvalid(name, exc.reason) from None
    return head


def parse_shipped_head(text: str, verify_keys: Mapping[str, VerifyKey], *, name: str) -> LedgerHead:
    """A checkpoint kept elsewhere: a copy of the file, or log output whose last ``ledger head``
    line carries it (whatever prefix the log shipping added)."""
    lines = [line for line in text.splitlines() if "ledger head {" in line] or text.splitlines()[-1:]
    if not lines:
        raise HeadInvalid(name, "holds no ledger head checkpoint")
    line = lines[-1]
    start = line.find("{")
    return parse_head(line[start : line.rfind("}") + 1].encode("ascii", "replace") + b"\n",
                      verify_keys, name=name)


def read_head(home: Path, verify_keys: Mapping[str, VerifyKey]) -> LedgerHead | None:
    """The verified checkpoint under ``home``, None if there is none; ``HeadInvalid`` if bad."""
    try:
        data = (Path(home) / HEAD_FILE).read_bytes()
    except FileNotFoundError:
        return None
    return parse_head(data, verify_keys)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class HeadCheckpoint:
    """Writes the checkpoint under ``home``; the ledger calls ``advance`` after each commit."""

    def __init__(self, home: Path, keystore: KeyStore, *, clock: Callable[[], dt.datetime] = _utc_now) -> None:
        self.path = Path(home) / HEAD_FILE
        self._keystore = keystore
        self._clock = clock

    def advance(self, seq: int, entry_hash: str) -> None:
        """Sign ``seq``/``entry_hash`` as the head unless the file already names a later entry."""
        make_private_dir(self.path.parent)
        lock = os.open(self.path.parent / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                current = self._current_seqs()
            except HeadInvalid as exc:  # evidence: keep it for `recorder verify`, sign nothing over it
                log.error("ledger head checkpoint not advanced to entry %d: %s", seq, exc)
                return
            if current is not None and current[0] >= seq:
                return
            since = current[1] if current is not None else seq
            if current is None and seq > 1:
                log.warning("no ledger head checkpoint under %s: starting one at entry %d",
                            self.path.parent, seq)
            try:
                key = self._keystore.signing_key()
            except KeyStoreError as exc:  # the entry is committed; verify will say it is uncovered
                log.error("ledger head checkpoint not advanced to entry %d: %s", seq, exc)
                return
            head = LedgerHead(seq, entry_hash, key.key_id, since,
                              self._clock().astimezone(dt.UTC).isoformat(timespec="microseconds"))
            data = head_bytes(head, sign(_signed_part(head), key))
            self._replace(data)
            log.info("ledger head %s", data.decode("ascii").strip())
        finally:
            os.close(lock)  # releases the flock

    def _current_seqs(self) -> tuple[int, int] | None:
        """(seq, since_seq) of the file in place, unverified: only to never move backwards."""
        try:
            doc = json.loads(self.path.read_bytes())
            return int(doc["seq"]), int(doc["since_seq"])
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            raise HeadInvalid(str(self.path), f"cannot read the ledger head checkpoint: {exc}") from None

    def _replace(self, data: bytes) -> None:
        tmp = self.path.with_name(f".{HEAD_FILE}.{secrets.token_hex(5)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        fsync_dir(self.path.parent)
