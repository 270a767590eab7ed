"""``recorder export SESSION --format vcon --out FILE``: the call as a signed vCon.

The container follows the IETF vCon draft (draft-ietf-vcon-vcon-core, syntax ``0.3.0``):

* ``parties``: the caller (role ``customer``) and the agent (role ``agent``, its
  ``X-Recorder-Agent-Id`` when the client sent one);
* ``dialog[0]``: the recording, inline (``base64url``) as a stereo WAV whose channel 0 is the
  caller and channel 1 the agent (``parties: [0, 1]``); the redacted (bleeped) recording by
  default, the original with ``--original --reason`` (then access-logged as ``export_original``);
* ``analysis[0]``: the redacted transcript (``type: transcript``, our ``recorder-transcript/1``
  JSON), when the call has been transcribed;
* ``attachments``: the call's facts as the database holds them (usage, responses, tool calls
  as stored, i.e. redacted) and the signed archive manifest with its signature.

Signed form (the draft's section "Signed Form"): JWS General JSON Serialization, ``EdDSA`` with
the recorder's Ed25519 signing key. The draft asks for ``x5c``: it carries a self-signed X.509
certificate of that same key, made at export, so any JOSE library verifies the vCon with the
public key alone (``recorder keys export-public``); it proves which recorder key signed, not
who owns it. The order of checks and the access log are those of the directory export
(``audit.export``): nothing is decrypted before the archive verified and the access was logged.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID
from sqlalchemy import Engine

from recorder.archive.catalogue import RECORDING, REDACTED_RECORDING, TRANSCRIPT, read_plain
from recorder.archive.render import decode_flac
from recorder.archive.store import ArchiveStore
from recorder.audit.export import (
    ExportRefused,
    _Checked,
    _checked_archive,
    _log_access,
    _utc_now,
    _write_private,
    encode_wav,
)
from recorder.crypto.keys import KeyStore
from recorder.crypto.signing import SigningKey, sign
from recorder.db.access_log import EXPORT, EXPORT_ORIGINAL
from recorder.errors import RecorderError

VCON_SYNTAX = "0.3.0"
JWS_ALG = "EdDSA"
VENDOR = "recorder"


class VconFailed(RecorderError):
    """Writing the vCon failed after the access was logged."""


@dataclass(frozen=True, slots=True)
class VconResult:
    session_id: str
    out: Path
    uuid: str
    manifest_version: int
    access_seq: int


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _iso(value: str | dt.datetime | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def vcon_uuid(fqhn: str, unix_ms: int, rand12: int) -> str:
    """A version 8 UUID as the draft asks: laid out like version 7 (48-bit Unix milliseconds,
    12 random bits), with the last 62 bits the high bits of SHA-1 of the host name."""
    host = int.from_bytes(hashlib.sha1(fqhn.encode("utf-8")).digest()[:8], "big") >> 2
    value = (unix_ms & (2**48 - 1)) << 80 | 0x8 << 76 | (rand12 & 0xFFF) << 64 | 0b10 << 62 | host
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def build_vcon(c: _Checked, *, uuid: str, created_at: dt.datetime, wav: bytes, original: bool,
               transcript: dict[str, Any] | None) -> dict[str, Any]:
    """The unsigned vCon of a checked call (pure: everything is handed in)."""
    call = c.call
    agent: dict[str, Any] = {"role": "agent", "name": call["metadata"].get("agent_id") or "voice agent"}
    started = call["started_at"]
    manifest_doc = json.loads(c.manifest_bytes)
    dialog: dict[str, Any] = {
        "type": "recording", "start": started, "parties": [0, 1],
        "mediatype": "audio/x-wav", "filename": "recording.wav" if original else "recording.redacted.wav",
        "encoding": "base64url", "body": b64url(wav), "application": "Smallest AI Hydra",
    }
    if call["duration_ms"] is not None:
        dialog["duration"] = round(float(call["duration_ms"]) / 1000, 3)
    facts = {k: v for k, v in call.items() if k != "transcript"}
    doc: dict[str, Any] = {
        "vcon": VCON_SYNTAX,
        "uuid": uuid,
        "created_at": _iso(created_at),
        "subject": f"call {c.session_id}" + (f" (Hydra session {call['hydra_session_id']})"
                                             if call["hydra_session_id"] else ""),
        "parties": [{"role": "customer", "name": "caller"}, agent],
        "dialog": [dialog],
        "analysis": [],
        "attachments": [
            {"purpose": "recorder-call", "start": started, "party": 1, "dialog": 0,
             "mediatype": "application/json", "filename": "call.json", "encoding": "json", "body": facts},
            {"purpose": "recorder-manifest", "start": manifest_doc["created_at"], "party": 1, "dialog": 0,
             "mediatype": "application/json", "filename": c.manifest.name, "encoding": "json",
             "body": manifest_doc},
            {"purpose": "recorder-manifest-signature", "start": manifest_doc["created_at"], "party": 1,
             "dialog": 0, "mediatype": "text/plain", "filename": c.manifest.name + ".sig",
             "encoding": "none", "body": c.signature.decode("ascii").strip()},
        ],
    }
    if transcript is not None:
        doc["analysis"].append({
            "type": "transcript", "dialog": 0, "mediatype": "application/json", "vendor": VENDOR,
            "product": "pulse-pro, redacted", "schema": str(transcript.get("format", "")),
            "encoding": "json", "body": transcript,
        })
    return doc


def self_signed_certificate(key: SigningKey, now: dt.datetime) -> bytes:
    """DER of an X.509 certificate of ``key``'s public key, signed by the key itself."""
    private = Ed25519PrivateKey.from_private_bytes(key.seed)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"recorder signing key {key.key_id}")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(private.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=3650))
            .sign(private, None))
    return cert.public_bytes(serialization.Encoding.DER)


def sign_vcon(doc: dict[str, Any], key: SigningKey, now: dt.datetime) -> dict[str, Any]:
    """The JWS General JSON Serialization of ``doc`` (the draft's signed form)."""
    payload = b64url(json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    # The draft puts alg and x5c in the unprotected header; JWS forbids a name in both headers.
    protected = b64url(json.dumps({"kid": key.key_id, "cty": "application/vcon"},
                                  separators=(",", ":")).encode("ascii"))
    signature = sign(f"{protected}.{payload}".encode("ascii"), key)
    header = {"alg": JWS_ALG, "uuid": doc["uuid"],
              "x5c": [base64.b64encode(self_signed_certificate(key, now)).decode("ascii")]}
    return {"payload": payload,
            "signatures": [{"protected": protected, "header": header, "signature": b64url(signature)}]}


def check_out_file(out: Path, *, force: bool) -> None:
    if out.is_symlink() or out.exists() and not out.is_file():
        raise ExportRefused(f"{out} exists and is not a regular file")
    if out.exists() and not force:
        raise ExportRefused(f"{out} exists; choose a new file name or add --force")


def export_vcon(
    home: Path,
    engine: Engine,
    keystore: KeyStore,
    key: str,
    out: Path,
    *,
    actor: str,
    original: bool = False,
    reason: str | None = None,
    force: bool = False,
    clock: Callable[[], dt.datetime] = _utc_now,
    store: ArchiveStore | None = None,
) -> VconResult:
    """Write call ``key`` as a signed vCon to ``out`` (0600); see the module doc."""
    reason = (reason or "").strip() or None
    if original and reason is None:
        raise ExportRefused("a vCon with the original recording needs a reason (kept in the access log)")
    if not actor:
        raise ExportRefused("an export needs an actor (who is exporting)")
    check_out_file(out, force=force)
    c = _checked_archive(home, engine, keystore, key, None, force=force, store=store)
    audio = RECORDING if original else REDACTED_RECORDING
    if c.manifest.file(audio) is None:
        raise ExportRefused(
            f"{c.session_id} was erased (manifest {c.manifest.version})" if c.manifest.state == "erased"
            else f"{c.session_id} has no {'original' if original else 'redacted'} recording "
                 f"(not transcribed yet, or deleted by retention)")
    archive_ids = keystore.identities("archive") if original else []
    auditor_ids = keystore.identities("auditor")
    signing_key = keystore.signing_key()
    now = clock()
    seq = _log_access(engine, c, out, actor=actor, action=EXPORT_ORIGINAL if original else EXPORT,
                      reason=reason, now=now, format="vcon")
    stereo, rate = decode_flac(read_plain(c.store, c.archive_dir, audio, archive_ids if original else auditor_ids))
    transcript = None
    if c.manifest.file(TRANSCRIPT) is not None:
        transcript = json.loads(read_plain(c.store, c.archive_dir, TRANSCRIPT, auditor_ids))
    uuid = vcon_uuid(socket.gethostname(), int(now.timestamp() * 1000), int.from_bytes(os.urandom(2), "big"))
    doc = build_vcon(c, uuid=uuid, created_at=now, wav=encode_wav(stereo, rate), original=original,
                     transcript=transcript)
    data = json.dumps(sign_vcon(doc, signing_key, now), indent=1).encode("utf-8") + b"\n"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _write_private(out, data)
    except OSError as exc:
        raise VconFailed(f"writing {out} failed after the access was logged (entry {seq}): "
                         f"{exc.strerror or exc}; delete any partial output") from exc
    return VconResult(c.session_id, out, uuid, c.manifest.version, seq)
