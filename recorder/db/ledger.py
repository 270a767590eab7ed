"""The ledger: a hash chain over every manifest version ever written.

Each entry pins one manifest (session id, version, SHA-256) and chains to the entry before it::

    entry_hash = sha256(canonical JSON of {seq, session_id, manifest_version, manifest_sha256,
                                           prev_hash, created_at (UTC ISO, microseconds)})
    prev_hash  = entry_hash of entry seq-1, or 64 zeros for seq 1

So an edited row no longer matches its own hash, and a deleted row breaks the next row's
``prev_hash``. Deleting the newest rows leaves a shorter chain that is still valid, so every
commit that appends (or confirms) an entry hands it to a ``HeadSink``: a signed checkpoint of
the head kept outside the database (``archive.ledger_head``), which ``verify`` compares.
Sequence numbers are assigned here as last + 1, not by the database, so two concurrent
appenders collide on the primary key and one retries (``recordings.record_archive``) instead
of forking the chain. Functions take a ``Session``; only shells commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from recorder.db.models import LedgerEntry

GENESIS = "0" * 64


def _iso(ts: dt.datetime) -> str:
    """One text for a timestamp on every engine (SQLite hands back naive UTC)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.UTC)
    return ts.astimezone(dt.UTC).isoformat(timespec="microseconds")


def entry_hash(
    seq: int,
    session_id: str,
    manifest_version: int,
    manifest_sha256: str,
    prev_hash: str,
    created_at: dt.datetime,
) -> str:
    doc = {
        "seq": seq,
        "session_id": session_id,
        "manifest_version": manifest_version,
        "manifest_sha256": manifest_sha256,
        "prev_hash": prev_hash,
        "created_at": _iso(created_at),
    }
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def last_entry(session: Session) -> LedgerEntry | None:
    return session.scalars(select(LedgerEntry).order_by(LedgerEntry.seq.desc()).limit(1)).first()


def find_entry(session: Session, session_id: str, manifest_version: int) -> LedgerEntry | None:
    return session.scalars(
        select(LedgerEntry).where(
            LedgerEntry.session_id == session_id, LedgerEntry.manifest_version == manifest_version
        )
    ).first()


class HeadSink(Protocol):
    """Where the head goes once it is committed (``archive.ledger_head.HeadCheckpoint``)."""

    def advance(self, seq: int, entry_hash: str) -> None: ...


def pin_head(session: Session, entry: LedgerEntry, head: HeadSink) -> None:
    """Once this transaction commits, hand ``entry`` to ``head`` (nothing if it rolls back)."""
    seq, digest = entry.seq, entry.entry_hash
    event.listen(session, "after_commit", lambda _session: head.advance(seq, digest), once=True)


def append(
    session: Session,
    session_id: str,
    manifest_version: int,
    manifest_sha256: str,
    *,
    now: dt.datetime,
    head: HeadSink,
) -> LedgerEntry:
    """Add the next entry of the chain (flushed, not committed); ``head`` learns of it on commit."""
    last = last_entry(session)
    seq = 1 if last is None else last.seq + 1
    prev = GENESIS if last is None else last.entry_hash
    now = now.astimezone(dt.UTC) if now.tzinfo else now.replace(tzinfo=dt.UTC)
    entry = LedgerEntry(
        seq=seq,
        session_id=session_id,
        manifest_version=manifest_version,
        manifest_sha256=manifest_sha256,
        prev_hash=prev,
        entry_hash=entry_hash(seq, session_id, manifest_version, manifest_sha256, prev, now),
        created_at=now,
    )
    session.add(entry)
    session.flush()
    pin_head(session, entry, head)
    return entry


def read_chain(session: Session) -> list[LedgerEntry]:
    """Every entry, in chain order."""
    return list(session.scalars(select(LedgerEntry).order_by(LedgerEntry.seq)))


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """What is wrong at ``seq``: ``missing`` entries, an ``altered`` entry, or a ``broken`` link."""

    kind: str
    seq: int
    detail: str


class ChainEntry(Protocol):
    seq: int
    prev_hash: str
    entry_hash: str


E = TypeVar("E", bound=ChainEntry)


def check_links(
    entries: Sequence[E], own_hash: Callable[[E], str], chain: str, describe: Callable[[E], str]
) -> list[ChainProblem]:
    """Every break in a hash chain (this ledger, the access log), in order; empty when it holds.

    ``own_hash`` recomputes an entry's hash from its fields; ``chain`` names the chain in
    messages ("ledger"); ``describe`` says which entry was altered.
    """
    problems: list[ChainProblem] = []
    prev, expected_seq = GENESIS, 1
    singular = f"{chain} entry"
    for e in entries:
        if e.seq != expected_seq:
            gap = f"{expected_seq}" if e.seq == expected_seq + 1 else f"{expected_seq}..{e.seq - 1}"
            problems.append(ChainProblem("missing", expected_seq, f"{chain} entries {gap} were deleted"))
        if own_hash(e) != e.entry_hash:
            problems.append(ChainProblem(
                "altered", e.seq, f"{singular} {e.seq} ({describe(e)}) does not match its hash"
            ))
        if e.prev_hash != prev:
            problems.append(ChainProblem(
                "broken", e.seq,
                f"{singular} {e.seq} does not chain to the entry before it "
                "(an earlier entry was deleted or altered)",
            ))
        prev, expected_seq = e.entry_hash, e.seq + 1
    return problems


def check_chain(entries: Sequence[LedgerEntry]) -> list[ChainProblem]:
    """Every break in the ledger's chain, in order (empty when it holds)."""
    return check_links(
        entries,
        lambda e: entry_hash(
            e.seq, e.session_id, e.manifest_version, e.manifest_sha256, e.prev_hash, e.created_at
        ),
        "ledger",
        lambda e: e.session_id,
    )
