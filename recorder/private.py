"""The data directory is private: created 0700 (missing parents too), its database 0600.

Only the owner of RECORDER_HOME needs to read it (the CLI runs as that user); the default
umask would leave the SQLite database, which holds call records, readable by every local user.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600


def make_private_dir(path: Path) -> Path:
    """mkdir -p with 0700 for every directory it creates; an existing one is left as it is."""
    missing: list[Path] = []
    p = Path(path)
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
    return Path(path)


def create_private_file(path: Path) -> None:
    """Create ``path`` empty and 0600 unless it exists, so whoever fills it cannot widen it."""
    make_private_dir(Path(path).parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE))
    except FileExistsError:
        warn_if_open(Path(path))


def warn_if_open(path: Path) -> None:
    """Say so when an existing data directory or database is open to other users."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        wanted = DIR_MODE if path.is_dir() else FILE_MODE
        log.warning("%s is open to other users (mode %04o); `chmod %o %s` keeps call records private",
                    path, mode, wanted, path)
