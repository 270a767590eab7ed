"""`recorder export --original`: a scripted call with a barge-in, archived, exported by the CLI.

The exported right channel is the agent audio sample for sample at the playout positions, the
cut tail is in unplayed.wav, the left channel resampled back to 16 kHz matches the caller above
40 dB SNR; the access is logged (hash-chained) before files are written; a tampered archive,
a missing reason, an unknown session and a redacted export are refused clearly.
SQLite always; PostgreSQL when RECORDER_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import soxr
from sqlalchemy import Engine, update

from recorder.archive.finalize import ArchiveResult, finalize_call
from recorder.capture.records import AudioRecord, Direction
from recorder.crypto.keys import KeyStore
from recorder.db import access_log
from recorder.db.engine import transaction
from recorder.db.models import CallSession
from tests.unit.archive.calls import CUT_AT, R1_START, R2_START, ScriptedCall, call_meta, int16

SID = "sess_0001"
HYDRA_ID = "4bf1f4f6-5fa4-4de5-aa29-83f5eed96c82"


@pytest.fixture
def archived(call: ScriptedCall, home: Path, engine: Engine) -> ArchiveResult:
    keystore = KeyStore(home / "keys")
    keystore.init()
    return finalize_call(lambda: call.journal, call_meta(SID), close=call.close, home=home, keystore=keystore,
                         engine=engine)


def run_cli(home: Path, database_url: str, *args: str, user: str = "auditor-os") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RECORDER_HOME": str(home), "RECORDER_DATABASE_URL": database_url,
           "USER": user, "LOGNAME": user}
    return subprocess.run([sys.executable, "-m", "recorder.cli.main", *args], env=env, capture_output=True,
                          text=True, timeout=60)


def _access_rows(engine: Engine) -> list[tuple[str, str, str | None, str | None]]:
    with transaction(engine) as s:
        rows = access_log.read(s)
        assert access_log.check_chain(rows) == []
        return [(r.actor, r.action, r.session_id, r.reason) for r in rows]


def _snr_db(reference: np.ndarray, got: np.ndarray) -> float:
    ref = reference.astype(np.float64)
    err = got.astype(np.float64) - ref
    return float(10 * np.log10(np.sum(ref**2) / np.sum(err**2)))


def test_export_original_is_what_the_caller_heard(
    call: ScriptedCall, archived: ArchiveResult, home: Path, engine: Engine, database_url: str, tmp_path: Path
) -> None:
    with transaction(engine) as s:  # the scripted call's session.created carries no session_id
        s.execute(update(CallSession).values(hydra_session_id=HYDRA_ID))
    out = tmp_path / "out" / "case-42"
    done = run_cli(home, database_url, "export", HYDRA_ID, "--out", str(out), "--original",
                   "--reason", "subpoena 2026-117")
    assert done.returncode == 0, done.stderr
    assert f"exported {SID} (manifest 1)" in done.stdout and "auditor-os" in done.stdout

    names = sorted(p.name for p in out.iterdir())
    assert names == ["manifest.json", "manifest.json.sig", "metadata.json", "recording.wav", "unplayed.wav"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert all(stat.S_IMODE((out / n).stat().st_mode) == 0o600 for n in names)

    stereo, rate = soundfile.read(out / "recording.wav", dtype="int16", always_2d=True)
    info = soundfile.info(str(out / "recording.wav"))
    assert (rate, info.channels, info.subtype, info.format) == (48000, 2, "PCM_16", "WAV")
    right, left = stereo[:, 1], stereo[:, 0]
    r1, r2 = int16(call.r1), int16(call.r2)
    assert np.array_equal(right[R1_START:CUT_AT], r1[: CUT_AT - R1_START])
    assert np.array_equal(right[R2_START : R2_START + len(r2)], r2)
    heard = np.zeros(len(right), dtype=bool)
    heard[R1_START:CUT_AT] = heard[R2_START : R2_START + len(r2)] = True
    assert not right[~heard].any()

    unplayed, urate = soundfile.read(out / "unplayed.wav", dtype="int16")
    assert urate == 48000 and np.array_equal(unplayed, r1[CUT_AT - R1_START :])

    back = soxr.resample(left.astype(np.float32), 48000, 16000, quality="HQ")
    expected = np.zeros(len(back))
    starts = [r.start for r in call.journal if isinstance(r, AudioRecord) and r.direction is Direction.C2S]
    for (_, pcm), placed in zip(call.caller_frames, starts, strict=True):
        samples = int16(pcm)
        expected[placed // 3 : placed // 3 + len(samples)] = samples
    assert _snr_db(expected, back) > 40

    manifest = (archived.path / "manifest-0001.json").read_bytes()
    assert (out / "manifest.json").read_bytes() == manifest
    assert (out / "manifest.json.sig").read_bytes() == (archived.path / "manifest-0001.json.sig").read_bytes()

    meta = json.loads((out / "metadata.json").read_text("utf-8"))
    assert meta["format"] == "recorder-export/1"
    assert meta["session"]["id"] == SID and meta["session"]["hydra_session_id"] == HYDRA_ID
    assert meta["session"]["metadata"] == {"tenant": "acme"}
    assert [(r["id"], r["status"]) for r in meta["responses"]] == [("r1", "cancelled"), ("r2", "completed")]
    assert meta["responses"][1]["usage"] == {"input_tokens": 5, "output_tokens": 7, "total_tokens": 12}
    assert meta["usage"]["total_tokens"] == 12
    assert meta["tool_calls"] == [] and meta["errors"] == []
    rec = meta["recording"]
    assert (rec["state"], rec["reason"], rec["manifest_version"]) == ("complete", None, 1)
    assert rec["key_ids"] == list(archived.key_ids) and rec["manifest_sha256"] == archived.manifest_sha256
    assert meta["alignment"]["cuts"][0]["position"] == CUT_AT
    assert meta["alignment"]["unplayed_samples"] == len(unplayed)
    assert meta["alignment"]["gaps"][0]["channel"] == "caller"
    assert (meta["export"]["actor"], meta["export"]["reason"]) == ("auditor-os", "subpoena 2026-117")

    assert _access_rows(engine) == [("auditor-os", "export_original", SID, "subpoena 2026-117")]
    assert meta["export"]["access_log_seq"] == 1

    # A second export into the same directory is refused; --force and --actor are honoured.
    again = run_cli(home, database_url, "export", SID, "--out", str(out), "--original", "--reason", "r2")
    assert again.returncode == 2 and "is not empty" in again.stderr
    forced = run_cli(home, database_url, "export", SID, "--out", str(out), "--original", "--reason",
                     "second look", "--actor", "carol@audit", "--force")
    assert forced.returncode == 0, forced.stderr
    assert _access_rows(engine)[1] == ("carol@audit", "export_original", SID, "second look")


def test_export_refusals_are_clear(archived: ArchiveResult, home: Path, engine: Engine, database_url: str,
                                   tmp_path: Path) -> None:
    out = tmp_path / "out"
    redacted = run_cli(home, database_url, "export", SID, "--out", str(out))
    assert redacted.returncode == 2
    assert "has no redacted recording yet" in redacted.stderr
    no_reason = run_cli(home, database_url, "export", SID, "--out", str(out), "--original")
    assert no_reason.returncode == 2 and "--original needs --reason" in no_reason.stderr
    unknown = run_cli(home, database_url, "export", "nobody", "--out", str(out), "--original", "--reason", "x")
    assert unknown.returncode == 2 and "no session 'nobody'" in unknown.stderr
    assert not out.exists() and _access_rows(engine) == []

    target = archived.path / "recording.flac.age"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x04
    target.write_bytes(bytes(data))
    tampered = run_cli(home, database_url, "export", SID, "--out", str(out), "--original", "--reason", "x")
    assert tampered.returncode == 2
    assert f"{archived.relative_path}/recording.flac.age: does not match its manifest" in tampered.stderr
    assert not out.exists() and _access_rows(engine) == []


def test_export_without_identities_names_what_is_missing(
    archived: ArchiveResult, home: Path, engine: Engine, database_url: str, tmp_path: Path
) -> None:
    public = tmp_path / "proxyhost"
    KeyStore(home / "keys").export_public(public / "keys")
    (public / "archive").symlink_to(home / "archive")
    out = tmp_path / "out"
    done = run_cli(public, database_url, "export", SID, "--out", str(out), "--original", "--reason", "x")
    assert done.returncode == 2
    assert "archive identities are not on this host" in done.stderr and ".identity" in done.stderr
    assert not out.exists() and _access_rows(engine) == []


def test_an_export_whose_directory_cannot_be_made_logs_no_access(
    archived: ArchiveResult, home: Path, engine: Engine, database_url: str, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the output's parent should be")
    out = blocker / "out"
    done = run_cli(home, database_url, "export", SID, "--out", str(out), "--original", "--reason", "audit 7")
    assert done.returncode == 2
    assert f"cannot create {out}" in done.stderr and "nothing was logged" in done.stderr
    assert "Traceback" not in done.stderr
    assert _access_rows(engine) == []


def test_an_export_that_fails_half_way_is_still_logged(
    archived: ArchiveResult, home: Path, engine: Engine, database_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    (out / "recording.wav").mkdir(parents=True)  # a directory where the first file must go
    out.chmod(0o700)
    done = run_cli(home, database_url, "export", SID, "--out", str(out), "--original", "--reason",
                   "audit 7", "--force")
    assert done.returncode == 2
    assert "failed after the access was logged (entry 1)" in done.stderr and "Traceback" not in done.stderr
    assert _access_rows(engine) == [("auditor-os", "export_original", SID, "audit 7")]


def test_access_log_command_lists_entries_and_checks_the_chain(
    archived: ArchiveResult, home: Path, engine: Engine, database_url: str, tmp_path: Path
) -> None:
    from click.testing import CliRunner
    from sqlalchemy import update

    from recorder.cli.main import cli
    from recorder.db.models import AccessLogEntry

    for i in range(2):
        done = run_cli(home, database_url, "export", SID, "--out", str(tmp_path / f"o{i}"), "--original",
                       "--reason", f"ticket {i}", "--actor", "erin")
        assert done.returncode == 0, done.stderr
    args = ["access-log", "--home", str(home), "--database-url", database_url]
    shown = CliRunner().invoke(cli, args)
    assert shown.exit_code == 0, shown.output
    assert "export_original" in shown.stdout and "ticket 1" in shown.stdout
    assert shown.stdout.splitlines()[-1] == "ok: access log chain of 2 entries holds"
    with transaction(engine) as s:
        s.execute(update(AccessLogEntry).where(AccessLogEntry.seq == 1).values(actor="nobody"))
    broken = CliRunner().invoke(cli, [*args, "--json"])
    assert broken.exit_code == 1
    doc = json.loads(broken.stdout)
    assert not doc["ok"] and [(p["kind"], p["seq"]) for p in doc["problems"]] == [("altered", 1)]
