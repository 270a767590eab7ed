"""Journal errors; they extend the tree of ``recorder/errors.py``::

    RecorderError
    └── JournalError(path, reason)              a journal cannot be created, written or read
        ├── JournalLocked(path, key_ids)        no given identity unwraps the session key
        └── JournalTruncated(segment, offset)   the readable journal stops here: torn tail
            └── JournalCorrupt(segment, offset) ... or bytes that fail authentication

``JournalTruncated`` is normally *returned* by ``read_journal`` (``JournalContents.truncated``)
next to the clean prefix of records, because a crash leaves a torn tail by design; it is an
exception class so that callers who want all-or-nothing can raise it.
"""

from __future__ import annotations

from recorder.errors import RecorderError

__all__ = ["JournalCorrupt", "JournalError", "JournalLocked", "JournalTruncated"]


class JournalError(RecorderError):
    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"journal {path}: {reason}")


class JournalLocked(JournalError):
    """The session key is wrapped to other keys: decrypt where an archive identity is kept."""

    def __init__(self, path: str, key_ids: tuple[str, ...], reason: str) -> None:
        self.key_ids = key_ids
        wrapped = ", ".join(key_ids) or "unknown keys"
        super().__init__(
            path, f"{reason}; the journal is wrapped to {wrapped}; pass an identity of one of them"
        )


class JournalTruncated(JournalError):
    """Records end at byte ``offset`` of segment number ``segment``: everything before is intact."""

    def __init__(
        self, segment: int, offset: int, reason: str = "torn record at the end", *, path: str = ""
    ) -> None:
        self.segment = segment
        self.offset = offset
        super().__init__(path or f"segment {segment}", f"{reason} (segment {segment}, offset {offset})")

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and isinstance(other, JournalTruncated)
            and (other.segment, other.offset, other.reason) == (self.segment, self.offset, self.reason)
        )

    def __hash__(self) -> int:
        return hash((type(self), self.segment, self.offset, self.reason))


class JournalCorrupt(JournalTruncated):
    """A record failed authentication or does not parse: it and everything after are not trusted."""
