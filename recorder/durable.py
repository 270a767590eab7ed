"""Making file-system changes survive a power loss: the one fsync helper journal and archive share."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Any

_libc: Any = None


def fsync_dir(path: Path) -> None:
    """Persist a directory's entries (a created, renamed or removed file inside it)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def syncfs(fd: int) -> bool:
    """Persist every file of the file system holding ``fd`` in one call (Linux ``syncfs(2)``).

    One call per journal tick instead of one fsync per open journal: the kernel writes the
    dirty pages back in one pass and commits its own journal once. False where the call does
    not exist (the caller fsyncs each file instead); ``OSError`` if the kernel reports a
    writeback error on that file system since ``fd`` was opened.
    """
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL(None, use_errno=True)  # the process's own symbols: libc's included
        except OSError:
            _libc = False
    call = getattr(_libc, "syncfs", None) if _libc else None
    if call is None:
        return False
    if call(fd) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return True
