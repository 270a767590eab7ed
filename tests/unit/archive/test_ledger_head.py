"""The signed ledger head: exact bytes, known keys, and a file that only moves forward."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine

from recorder.archive.finalize import finalize_call
from recorder.archive.ledger_head import (
    HEAD_FILE,
    HeadCheckpoint,
    HeadInvalid,
    parse_head,
    parse_shipped_head,
    read_head,
)
from recorder.audit.verify import verify
from recorder.crypto.keys import KeyStore
from tests.unit.archive.calls import ScriptedCall, call_meta


def test_advance_signs_the_head_and_never_moves_back(home: Path, keystore: KeyStore) -> None:
    head = HeadCheckpoint(home, keystore)
    head.advance(1, "a" * 64)
    head.advance(3, "c" * 64)
    head.advance(2, "b" * 64)  # a slower writer's older entry: ignored
    got = read_head(home, keystore.verify_keys())
    assert got is not None
    assert (got.seq, got.entry_hash, got.since_seq) == (3, "c" * 64, 1)


def test_any_change_to_the_file_is_refused(home: Path, keystore: KeyStore) -> None:
    HeadCheckpoint(home, keystore).advance(5, "e" * 64)
    data = (home / HEAD_FILE).read_bytes()
    keys = keystore.verify_keys()
    assert parse_head(data, keys).seq == 5
    for at in range(len(data)):
        flipped = bytearray(data)
        flipped[at] ^= 0x01
        with pytest.raises(HeadInvalid):
            parse_head(bytes(flipped), keys)
    doc = json.loads(data)
    doc["seq"] = 4  # a re-signed-looking edit without the key
    with pytest.raises(HeadInvalid):
        parse_head(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode() + b"\n", keys)
    with pytest.raises(HeadInvalid, match="unknown key"):
        parse_head(data, {})


def test_an_unreadable_head_is_kept_as_evidence(home: Path, keystore: KeyStore) -> None:
    (home / HEAD_FILE).write_bytes(b"garbage")
    HeadCheckpoint(home, keystore).advance(2, "b" * 64)  # logs, signs nothing over it
    assert (home / HEAD_FILE).read_bytes() == b"garbage"


def test_a_head_started_late_says_where(home: Path, keystore: KeyStore) -> None:
    HeadCheckpoint(home, keystore).advance(7, "g" * 64)
    HeadCheckpoint(home, keystore).advance(8, "h" * 64)
    got = read_head(home, keystore.verify_keys())
    assert got is not None and (got.seq, got.since_seq) == (8, 7)


def test_finalizing_again_after_a_crash_before_the_checkpoint_signs_the_head(
    call: ScriptedCall, home: Path, keystore: KeyStore, engine: Engine
) -> None:
    """Killed between the commit and the checkpoint: running it again (recover) repairs it."""
    finalize_call(lambda: call.journal, call_meta("sess_1"), close=call.close, home=home, keystore=keystore, engine=engine)
    (home / HEAD_FILE).unlink()  # as if the process died right after the commit
    again = finalize_call(lambda: call.journal, call_meta("sess_1"), close=call.close, home=home, keystore=keystore,
                          engine=engine)
    assert again.reused and not again.rows_written
    got = read_head(home, keystore.verify_keys())
    assert got is not None and got.seq == 1
    assert verify(home, engine, keystore.verify_keys()).ok


def test_a_shipped_copy_is_read_from_a_log_line_or_the_file(home: Path, keystore: KeyStore) -> None:
    HeadCheckpoint(home, keystore).advance(4, "d" * 64)
    data = (home / HEAD_FILE).read_text()
    keys = keystore.verify_keys()
    log = f"Nov 29 host recorder[12]: INFO ledger head {{old}}\nNov 29 host recorder[12]: INFO ledger head {data}"
    assert parse_shipped_head(log, keys, name="syslog").seq == 4
    assert parse_shipped_head(data, keys, name="copy").seq == 4
    with pytest.raises(HeadInvalid):
        parse_shipped_head(log.replace('"seq":4', '"seq":5'), keys, name="syslog")
    with pytest.raises(HeadInvalid):
        parse_shipped_head("", keys, name="empty")
