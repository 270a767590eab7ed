"""Archive directories on disk: atomic creation, read-back, new manifest versions, listing.

Layout (design contract "Data dir layout")::

    <home>/archive/<YYYY>/<MM>/<DD>/<session_id>/     date = session start, UTC
        recording.flac.age  unplayed.flac.age  events.jsonl.age  alignment.json.age  call.json.age
        manifest-0001.json  manifest-0001.json.sig   (then -0002 ... for derivatives / rewraps)

A new archive is staged (``ArchiveStore.stage``) in ``<home>/archive/.tmp-<session_id>-<random>/``:
every file is written (streamed, for large ones) and fsynced, the directory is fsynced, then renamed into place and the parent fsynced.
So an archive directory either exists complete or not at all; a crash leaves at most a temp
directory (encrypted files only), removed by the next write of that session. Files handed to
this module are already encrypted (or are public manifests): it never sees plaintext audio.
"""

from __future__ import annotations

import builtins
import datetime as dt
import hashlib
import logging
import os
import re
import secrets
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from recorder.archive.manifest import SIG_SUFFIX, manifest_name, manifest_version_of
from recorder.config import Settings
from recorder.durable import fsync_dir
from recorder.errors import NotFound, RecorderError

logger = logging.getLogger(__name__)

ARCHIVE_DIR = "archive"
TMP_PREFIX = ".tmp-"
_SESSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_FILE_MODE = 0o644
_DIR_MODE = 0o755
_READ_BLOCK = 1 << 20


class ArchiveStoreError(RecorderError, OSError):
    """The archive store failed an operation (an object store's request, after its retries).

    An OSError too: callers that keep a journal on an I/O failure keep it on this one."""

    def __init__(self, operation: str, subject: str, problem: str) -> None:
        self.operation = operation
        super().__init__(f"archive store: cannot {operation} {subject}: {problem}")


class ArchiveExists(RecorderError):
    """An archive directory for this session is already in place; it is never overwritten."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"archive {path} already exists; archives are never overwritten")


def check_session_id(session_id: str) -> str:
    """Session ids become directory names: only a safe single path component is accepted."""
    if not _SESSION_ID.match(session_id):
        raise ValueError(f"session id {session_id!r} is not a safe directory name")
    return session_id


def _write_durable(path: Path, data: bytes) -> None:
    """Create ``path`` (must not exist), write all of ``data`` and fsync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace_durable(path: Path, data: bytes) -> None:
    """Atomically replace (or create) one file in an existing directory."""
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}-{secrets.token_hex(4)}")
    _write_durable(tmp, data)
    os.replace(tmp, path)


def _makedirs_durable(path: Path) -> None:
    """mkdir -p that fsyncs each parent whose entries changed, so the new path survives a crash."""
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=_DIR_MODE)
        except FileExistsError:
            continue
        fsync_dir(d.parent)


def _check_file_name(name: str) -> str:
    if "/" in name or name.startswith(".") or manifest_version_of(name) is not None:
        raise ValueError(f"archive file name {name!r} is not allowed")
    return name


def utc_date(started_at: dt.datetime) -> dt.date:
    """The archive date of a session: its start, in UTC (naive times are taken as UTC)."""
    if started_at.tzinfo is None:
        return started_at.date()
    return started_at.astimezone(dt.UTC).date()


class ArchiveStore:
    """The archive tree under ``<home>/archive``, and the store interface every reader and
    writer uses: ``S3ArchiveStore`` (``s3store.py``) overrides the storage operations for a
    bucket. Archive directories are named by their path under home in both."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.root = self.home / ARCHIVE_DIR

    # --- paths ---------------------------------------------------------------------------------

    def relative_dir(self, session_id: str, started_at: dt.datetime) -> str:
        """The archive directory relative to home, as the recordings row stores it."""
        d = utc_date(started_at)
        return f"{ARCHIVE_DIR}/{d.year:04d}/{d.month:02d}/{d.day:02d}/{check_session_id(session_id)}"

    def path_for(self, session_id: str, started_at: dt.datetime) -> Path:
        return self.home / self.relative_dir(session_id, started_at)

    def relative(self, archive_dir: Path) -> str:
        return archive_dir.relative_to(self.home).as_posix()

    def find(self, session_id: str) -> Path | None:
        """The archive directory of ``session_id`` wherever its date put it, or None."""
        check_session_id(session_id)
        found = sorted(self.root.glob(f"[0-9]*/[0-9]*/[0-9]*/{session_id}"))
        return found[0] if found else None

    def get(self, session_id: str) -> Path:
        found = self.find(session_id)
        if found is None:
            raise NotFound("archive", session_id)
        return found

    def list(self) -> list[Path]:
        """Every archive directory on disk (temp directories excluded), in path order."""
        if not self.root.is_dir():
            return []
        return sorted(
            p
            for p in self.root.glob("[0-9]*/[0-9]*/[0-9]*/*")
            if p.is_dir() and not p.name.startswith(".")
        )

    def temp_dirs(self) -> builtins.list[Path]:
        """Leftovers of interrupted writes (encrypted files only)."""
        return sorted(self.root.glob(f"{TMP_PREFIX}*")) if self.root.is_dir() else []

    # --- writing -------------------------------------------------------------------------------

    @contextmanager
    def stage(self, session_id: str, started_at: dt.datetime) -> Iterator[ArchiveStaging]:
        """A private temp directory to write a new archive into; ``commit`` publishes it whole.

        Raises ``ArchiveExists`` at once if the archive is already in place. Whatever was
        staged is removed if the block raises or returns without committing.
        """
        dest = self.path_for(session_id, started_at)
        if dest.exists():
            raise ArchiveExists(dest)
        self.remove_temp(session_id)
        _makedirs_durable(self.root)
        tmp = self.root / f"{TMP_PREFIX}{session_id}-{secrets.token_hex(6)}"
        tmp.mkdir(mode=_DIR_MODE)
        staging = ArchiveStaging(self, dest, tmp)
        try:
            yield staging
        finally:
            if not staging.committed:
                shutil.rmtree(tmp, ignore_errors=True)

    def write_new(
        self,
        session_id: str,
        started_at: dt.datetime,
        files: Mapping[str, bytes],
        manifest: bytes,
        signature: bytes,
        *,
        version: int = 1,
    ) -> Path:
        """Write a whole new archive of in-memory files atomically (see ``stage``)."""
        with self.stage(session_id, started_at) as staging:
            for name, data in files.items():
                staging.write(name, data)
            return staging.commit(manifest, signature, version=version)

    def remove_temp(self, session_id: str) -> None:
        for tmp in self.root.glob(f"{TMP_PREFIX}{check_session_id(session_id)}-*"):
            shutil.rmtree(tmp, ignore_errors=True)

    def add_version(
        self,
        archive_dir: Path,
        version: int,
        manifest: bytes,
        signature: bytes,
        files: Mapping[str, bytes] | None = None,
    ) -> Path:
        """Add manifest ``version`` (must be the next one), replacing or adding ``files`` first.

        Files are replaced atomically one by one, then the signature, then the manifest; a
        crash in between leaves files the latest manifest does not match, which ``verify``
        reports and a retry of the same operation repairs.
        """
        self._check_next_version(archive_dir, version)
        for name, data in (files or {}).items():
            _replace_durable(archive_dir / _check_file_name(name), data)
        name = manifest_name(version)
        _replace_durable(archive_dir / (name + SIG_SUFFIX), signature)
        _write_durable(archive_dir / name, manifest)
        fsync_dir(archive_dir)
        logger.info("archive %s: manifest version %d added", self.relative(archive_dir), version)
        return archive_dir / name

    def _check_next_version(self, archive_dir: Path, version: int) -> None:
        """Versions are added one at a time, in order: ``version`` must follow the latest."""
        existing = self.manifest_versions(archive_dir)
        expected = (existing[-1] if existing else 0) + 1
        if version != expected:
            raise ValueError(f"next manifest of {archive_dir} is {expected}, not {version}")

    # --- reading -------------------------------------------------------------------------------

    def manifest_versions(self, archive_dir: Path) -> builtins.list[int]:
        """Versions of the manifests present, ascending."""
        return sorted(
            v for p in archive_dir.iterdir() if (v := manifest_version_of(p.name)) is not None
        )

    def names(self, archive_dir: Path) -> builtins.list[str]:
        """Every file name in the archive directory (manifests and signatures included)."""
        return sorted(p.name for p in archive_dir.iterdir() if p.is_file())

    def exists(self, archive_dir: Path, name: str | None = None) -> bool:
        """Whether the archive (a manifest is in place) or one of its files exists."""
        if name is None:
            return archive_dir.is_dir() and bool(self.manifest_versions(archive_dir))
        return (archive_dir / name).is_file()

    def open(self, archive_dir: Path, name: str) -> BinaryIO:
        """One archive file for reading as a stream (large files are never read whole)."""
        path = archive_dir / name
        if not path.is_file():
            raise NotFound("archive file", self.relative(path))
        return path.open("rb")

    def read(self, archive_dir: Path, name: str) -> bytes:
        path = archive_dir / name
        if not path.is_file():
            raise NotFound("archive file", self.relative(path))
        return path.read_bytes()

    def read_manifest(self, archive_dir: Path, version: int | None = None) -> tuple[int, bytes, bytes | None]:
        """(version, manifest bytes, signature bytes or None); the latest version by default."""
        versions = self.manifest_versions(archive_dir)
        if version is None:
            if not versions:
                raise NotFound("manifest in", self.relative(archive_dir))
            version = versions[-1]
        name = manifest_name(version)
        data = self.read(archive_dir, name)
        sig = name + SIG_SUFFIX
        return version, data, self.read(archive_dir, sig) if self.exists(archive_dir, sig) else None


class ArchiveStaging:
    """A new archive being written (``ArchiveStore.stage``): files are created one by one,
    streamed, fsynced; ``commit`` adds the signed manifest and renames the directory into place.

    This is the write seam of the store: another backend (an object store) implements the same
    ``create``/``write``/``digest``/``commit`` on its own staging area.
    """

    def __init__(self, store: ArchiveStore, dest: Path, tmp: Path) -> None:
        self.store = store
        self.dest = dest
        self._tmp = tmp
        self.committed = False

    @contextmanager
    def create(self, name: str) -> Iterator[BinaryIO]:
        """A new, empty, seekable file of the archive; flushed and fsynced when the block ends."""
        fd = os.open(self._tmp / _check_file_name(name), os.O_RDWR | os.O_CREAT | os.O_EXCL, _FILE_MODE)
        with os.fdopen(fd, "w+b") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())

    def write(self, name: str, data: bytes) -> None:
        with self.create(name) as f:
            f.write(data)

    def digest(self, name: str) -> tuple[str, int]:
        """(SHA-256 hex, size) of a staged file, read back in blocks."""
        h = hashlib.sha256()
        size = 0
        with (self._tmp / _check_file_name(name)).open("rb") as f:
            while block := f.read(_READ_BLOCK):
                h.update(block)
                size += len(block)
        return h.hexdigest(), size

    def commit(self, manifest: bytes, signature: bytes, *, version: int = 1) -> Path:
        """Write the manifest and its signature, then publish the directory atomically."""
        if self.committed:
            raise ValueError("this archive is already committed")
        name = manifest_name(version)
        _write_durable(self._tmp / (name + SIG_SUFFIX), signature)
        _write_durable(self._tmp / name, manifest)
        fsync_dir(self._tmp)
        _makedirs_durable(self.dest.parent)
        if self.dest.exists():
            raise ArchiveExists(self.dest)
        os.rename(self._tmp, self.dest)
        self.committed = True
        fsync_dir(self.dest.parent)
        fsync_dir(self.store.root)
        logger.info("archive %s written", self.store.relative(self.dest))
        return self.dest


def open_store(settings: Settings) -> ArchiveStore:
    """The archive store the settings name: the directory under home, or a bucket."""
    if not settings.archive_url:
        return ArchiveStore(settings.home)
    from recorder.archive.s3store import S3ArchiveStore

    return S3ArchiveStore(settings.home, settings.archive_url, lock_mode=settings.archive_lock_mode,
                          retain_days=settings.archive_retain_days)
