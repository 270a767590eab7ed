"""`recorder export SESSION --format vcon`: a call placed through the proxy and transcribed,
exported as a signed vCon.

The file must match the JSON structure of the IETF vCon draft (tests/integration/
vcon_schema.json, written from the draft, checked with jsonschema); its JWS must verify with an
independent JOSE library (jwcrypto) given only the public signing key that `keys
export-public` hands out; its recording must be the same audio the directory export writes;
and the export must be on the access log. SQLite always; PostgreSQL when configured.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from jwcrypto import jwk, jws
from sqlalchemy import Engine

from recorder.crypto.keys import KeyStore
from recorder.db import access_log
from recorder.db.engine import transaction
from tests.integration.lifecycle_calls import place_calls, run_cli, session_ids, transcribe_all

SCHEMA = json.loads((Path(__file__).parent / "vcon_schema.json").read_text())

# Real calls through the proxy, transcription and a dozen CLI processes: minutes on a busy machine.
pytestmark = pytest.mark.timeout(600)


def _validate(doc: dict[str, Any], part: str) -> None:
    schema = {**SCHEMA, "$ref": f"#/$defs/{part}"}
    jsonschema.Draft202012Validator(schema).validate(doc)


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _public_jwk(home: Path, tmp_path: Path) -> jwk.JWK:
    """The signing key as an auditor gets it: the public file from `keys export-public`."""
    out = tmp_path / "public-keys"
    done = run_cli(home, "sqlite:///" + str(tmp_path / "unused.db"), "keys", "export-public", str(out))
    assert done.returncode == 0, done.stderr
    (pub,) = (out / "signing").glob("*.pub")
    raw = base64.b64decode(pub.read_text().strip().removeprefix("ed25519:"))
    return jwk.JWK(kty="OKP", crv="Ed25519", x=base64.urlsafe_b64encode(raw).rstrip(b"=").decode())


# SQLite only: the vCon is built from the archive and the rows `show` and `export` read, whose
# PostgreSQL paths have their own tests (tests/integration/test_transcribe_cli.py)
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_vcon_validates_and_verifies_with_the_public_key_alone(
    home: Path, database_url: str, engine: Engine, keystore: KeyStore, tmp_path: Path
) -> None:
    (call,) = place_calls(home, database_url, ["acme"], agents=["ava"])
    assert transcribe_all(home, engine, keystore).transcribed == 1
    (sid,) = session_ids(engine)
    out = tmp_path / "call.vcon"
    done = run_cli(home, database_url, "export", call.session_id or "", "--format", "vcon", "--out", str(out),
                   "--actor", "carol@audit")
    assert done.returncode == 0, done.stderr
    signed = json.loads(out.read_text())
    _validate(signed, "signed")
    doc = json.loads(_b64url(signed["payload"]))
    _validate(doc, "vcon")
    for when in [doc["created_at"], doc["dialog"][0]["start"], *(a["start"] for a in doc["attachments"])]:
        assert dt.datetime.fromisoformat(when).tzinfo is not None

    # The signature verifies with the public key alone, and not once the payload is altered.
    key = _public_jwk(home, tmp_path)
    token = jws.JWS()
    token.deserialize(out.read_text())
    token.verify(key, alg="EdDSA")
    assert json.loads(token.payload) == doc
    cert = x509.load_der_x509_certificate(base64.b64decode(signed["signatures"][0]["header"]["x5c"][0]))
    assert cert.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw) == \
        _b64url(key.export_public(as_dict=True)["x"])
    tampered = dict(signed, payload=signed["payload"][:-8] + ("A" if signed["payload"][-8] != "A" else "B")
                    + signed["payload"][-7:])
    bad = jws.JWS()
    bad.deserialize(json.dumps(tampered))
    with pytest.raises(jws.InvalidJWSSignature):
        bad.verify(key, alg="EdDSA")

    # The content: the redacted recording the directory export writes, the redacted transcript.
    assert [p["role"] for p in doc["parties"]] == ["customer", "agent"] and doc["parties"][1]["name"] == "ava"
    (dialog,) = doc["dialog"]
    assert (dialog["type"], dialog["parties"], dialog["mediatype"]) == ("recording", [0, 1], "audio/x-wav")
    plain = tmp_path / "plain"
    assert run_cli(home, database_url, "export", sid, "--out", str(plain)).returncode == 0
    assert _b64url(dialog["body"]) == (plain / "recording.wav").read_bytes()
    (analysis,) = doc["analysis"]
    shown = json.loads(run_cli(home, database_url, "show", sid, "--json").stdout)
    turns = [(t["speaker"], t["text"]) for t in analysis["body"]["turns"]]
    assert turns == [(t["speaker"], t["text"]) for t in shown["transcript"]["turns"]]
    purposes = {a["purpose"]: a for a in doc["attachments"]}
    manifest = (home / shown["recording"]["archive_path"] / purposes["recorder-manifest"]["filename"]).read_bytes()
    assert purposes["recorder-manifest"]["body"] == json.loads(manifest)
    assert purposes["recorder-call"]["body"]["usage"] == shown["usage"]

    with transaction(engine) as s:
        entries = [(e.actor, e.action, e.session_id, e.detail.get("format")) for e in access_log.read(s)]
    assert ("carol@audit", "export", sid, "vcon") in entries

    # The original needs a reason; with one, the dialog is the original recording.
    assert run_cli(home, database_url, "export", sid, "--format", "vcon", "--out", str(tmp_path / "o.vcon"),
                   "--original").returncode == 2
    again = run_cli(home, database_url, "export", sid, "--format", "vcon", "--out", str(out))
    assert again.returncode == 2 and "exists" in again.stderr
    orig = run_cli(home, database_url, "export", sid, "--format", "vcon", "--out", str(tmp_path / "o.vcon"),
                   "--original", "--reason", "subpoena 9")
    assert orig.returncode == 0, orig.stderr
    original_doc = json.loads(_b64url(json.loads((tmp_path / "o.vcon").read_text())["payload"]))
    raw = tmp_path / "raw"
    assert run_cli(home, database_url, "export", sid, "--out", str(raw), "--original", "--reason", "r").returncode == 0
    assert _b64url(original_doc["dialog"][0]["body"]) == (raw / "recording.wav").read_bytes()
    with transaction(engine) as s:
        assert any(e.action == "export_original" and e.reason == "subpoena 9" and e.detail.get("format") == "vcon"
                   for e in access_log.read(s))
