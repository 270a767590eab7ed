"""Crash-safe, encrypted, append-only journal of one call (DESIGN.md "Journal").

The relay hands capture's records to a ``JournalWriter`` (never blocking); finalization and
``recorder recover`` read them back with ``read_journal``. Format: ``segment.py``; sealing:
``recorder.crypto.seal``.
"""

from recorder.journal.errors import (
    JournalCorrupt,
    JournalError,
    JournalLocked,
    JournalTruncated,
)
from recorder.journal.reader import (
    JournalContents,
    delete_journal,
    list_journals,
    read_journal,
)
from recorder.journal.segment import EndRecord, FailureRecord, MetaRecord, RotateRecord
from recorder.journal.writer import FSYNC_POLICIES, FsyncPolicy, JournalWriter

__all__ = [
    "EndRecord",
    "FSYNC_POLICIES",
    "FailureRecord",
    "FsyncPolicy",
    "JournalContents",
    "JournalCorrupt",
    "JournalError",
    "JournalLocked",
    "JournalTruncated",
    "JournalWriter",
    "MetaRecord",
    "RotateRecord",
    "delete_journal",
    "list_journals",
    "read_journal",
]
