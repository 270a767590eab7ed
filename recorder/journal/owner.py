"""Who owns a journal: the live process that writes it holds an ``fcntl`` lock on
``<call>/owner`` for as long as the call is live or being archived.

``recorder recover`` and a second proxy on the same RECORDER_HOME take a journal only when they
can take that lock themselves, i.e. when its owner is gone (a crash releases the lock with the
process). The file also names the owner (pid, boot id, host) so that a skipped journal can be
reported with whose it is; the lock, not those names, decides.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
from pathlib import Path

__all__ = ["OWNER_FILE", "OwnerLock", "claim", "describe_owner"]

OWNER_FILE = "owner"


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


class OwnerLock:
    """A held lock on a journal. ``release`` (or the process ending) gives it up."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    def __repr__(self) -> str:
        return f"OwnerLock({str(self.path)!r}, held={self._fd >= 0})"

    @property
    def held(self) -> bool:
        return self._fd >= 0

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = -1

    def __del__(self) -> None:
        if self._fd >= 0:
            try:
                os.close(self._fd)
            except OSError:
                pass


def claim(session_dir: Path, *, create: bool = False) -> OwnerLock | None:
    """Take ownership of ``session_dir``'s journal, or None while a live process holds it.

    ``create`` makes the owner file of a new journal; without it a journal that has none (one
    being deleted, or written before journals had owners) is claimed only if it still exists.
    """
    path = Path(session_dir) / OWNER_FILE
    flags = os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW
    try:
        fd = os.open(path, flags | (os.O_CREAT | os.O_EXCL if create else 0), 0o600)
    except FileNotFoundError:
        if not Path(session_dir).is_dir():
            return None
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o600)
        except (FileExistsError, FileNotFoundError):
            return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return None
        raise
    owner = {"pid": os.getpid(), "boot_id": _boot_id(), "host": socket.gethostname()}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(owner).encode(), 0)
    return OwnerLock(path, fd)


def describe_owner(session_dir: Path) -> str:
    """Who holds the journal, as its owner file says (for messages)."""
    try:
        doc = json.loads((Path(session_dir) / OWNER_FILE).read_text())
        return f"pid {doc['pid']} on {doc.get('host') or 'this host'}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a live process"
