"""Crash-safe, encrypted, append-only journal of one call.

The relay hands every forwarded frame, raw, to a ``JournalWriter`` (never blocking, never
parsing); finalization and ``recorder recover`` read them back lazily with ``JournalReader``
and replay them through capture. A journal belongs to the live process holding its owner lock
(``owner.py``). Format: ``segment.py``; sealing:
``recorder.crypto.seal``.
"""

from recorder.journal.errors import (
    JournalCorrupt,
    JournalError,
    JournalLocked,
    JournalTruncated,
)
from recorder.journal.owner import OwnerLock, claim, describe_owner
from recorder.journal.reader import (
    JournalContents,
    JournalReader,
    JournalScan,
    delete_journal,
    list_journals,
    read_journal,
)
from recorder.journal.segment import EndRecord, FailureRecord, MetaRecord, RawFrame, RotateRecord
from recorder.journal.writer import FSYNC_POLICIES, FsyncPolicy, JournalThread, JournalWriter

__all__ = [
    "EndRecord",
    "FSYNC_POLICIES",
    "FailureRecord",
    "FsyncPolicy",
    "JournalContents",
    "JournalCorrupt",
    "JournalError",
    "JournalLocked",
    "JournalReader",
    "JournalScan",
    "JournalThread",
    "JournalTruncated",
    "JournalWriter",
    "MetaRecord",
    "OwnerLock",
    "RawFrame",
    "RotateRecord",
    "claim",
    "delete_journal",
    "describe_owner",
    "list_journals",
    "read_journal",
]
