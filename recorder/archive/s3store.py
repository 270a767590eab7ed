"""Archives in S3-compatible object storage (`s3://bucket/prefix`), through boto3.

Same layout as the directory store, under the prefix (``<prefix>/archive/YYYY/MM/DD/<id>/...``),
and the same methods, so every reader and writer works with either. Object storage has no
rename, so a version is published by the order of its uploads: every file, then the manifest's
signature, then the manifest. Readers only see versions whose manifest exists, so a version
whose upload failed half-way is invisible; uploading it again (``recorder recover`` re-runs the
journal) overwrites the orphans and publishes it. ``<prefix>/sessions/<id>`` names the archive
directory of a session so that finding it costs one request, not a listing of the bucket.

New archives are staged in a local temporary directory first (``ArchiveStaging``: streamed,
digested), then uploaded. Where the bucket has S3 Object Lock, every object gets the
configured retention (mode and retain-until) on upload; without a configured mode the
bucket's default retention, if any, applies.

Endpoint, region and credentials come from the usual AWS chain (``AWS_ENDPOINT_URL``,
``AWS_REGION``/``AWS_DEFAULT_REGION``, ``AWS_ACCESS_KEY_ID``..., ``~/.aws``, instance roles).
"""

from __future__ import annotations

import builtins
import datetime as dt
import logging
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from recorder.archive.manifest import SIG_SUFFIX, manifest_name, manifest_version_of
from recorder.archive.store import (
    TMP_PREFIX,
    ArchiveExists,
    ArchiveStaging,
    ArchiveStore,
    ArchiveStoreError,
    _check_file_name,
    check_session_id,
)
from recorder.errors import ConfigError, IntegrityError, NotFound

logger = logging.getLogger(__name__)

INDEX_DIR = "sessions"
_INDEX_VALUE = re.compile(r"archive/[0-9]{4}/[0-9]{2}/[0-9]{2}/[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_INDEX_MAX = 200  # bytes read of an index object: a valid one is under 100


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, prefix without slashes at either end) of ``s3://bucket[/prefix]``."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError("archive_url", "settings", f"expected s3://BUCKET[/PREFIX], got {url!r}")
    return parts.netloc, parts.path.strip("/")


def default_client() -> Any:
    import boto3
    from botocore.config import Config

    # boto3 reads AWS_ENDPOINT_URL, the region and credentials from the environment and ~/.aws.
    return boto3.client("s3", config=Config(retries={"mode": "standard", "max_attempts": 5}))


class S3ArchiveStore(ArchiveStore):
    """The archive tree in a bucket; ``home`` still holds the local staging area."""

    def __init__(
        self,
        home: Path,
        url: str,
        *,
        lock_mode: str = "",
        retain_days: int = 0,
        client: Any = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        super().__init__(home)
        self.url = url
        self.bucket, self.prefix = parse_s3_url(url)
        self._client = client
        self._lock_mode = lock_mode
        self._retain_days = retain_days
        self._clock = clock
        self._lock_checked = False

    @property
    def s3(self) -> Any:
        if self._client is None:
            self._client = default_client()
        return self._client

    # --- keys ----------------------------------------------------------------------------------

    def _key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def _dir_key(self, archive_dir: Path) -> str:
        return self._key(self.relative(archive_dir)) + "/"

    def _call(self, operation: str, subject: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        """One request; a missing key is NotFound, anything else an ArchiveStoreError."""
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("NoSuchKey", "404", "NotFound"):
                raise NotFound("archive file", subject) from exc
            if code in ("PreconditionFailed", "412"):  # a create-only upload found the key
                raise ArchiveExists(Path(subject)) from exc
            _count_error(operation)
            raise ArchiveStoreError(operation, f"s3://{self.bucket}/{subject}", str(exc)) from exc
        except (BotoCoreError, Boto3Error) as exc:
            _count_error(operation)
            raise ArchiveStoreError(operation, f"s3://{self.bucket}/{subject}", str(exc)) from exc

    def _list(self, prefix: str) -> Iterator[str]:
        token: dict[str, str] = {}
        while True:
            page = self._call("list", prefix, self.s3.list_objects_v2, Prefix=prefix, **token)
            for item in page.get("Contents", []):
                yield str(item["Key"])
            if not page.get("IsTruncated"):
                return
            token = {"ContinuationToken": page["NextContinuationToken"]}

    # --- finding -------------------------------------------------------------------------------

    def find(self, session_id: str) -> Path | None:
        """The session's archive directory if a version of it is published, else None."""
        key = self._key(f"{INDEX_DIR}/{check_session_id(session_id)}")
        try:
            body = self._call("get", key, self.s3.get_object, Key=key)["Body"].read(_INDEX_MAX)
        except NotFound:
            return None
        relative = body.decode("utf-8", errors="replace")
        if not _INDEX_VALUE.fullmatch(relative) or relative.rsplit("/", 1)[1] != session_id:
            raise IntegrityError(key, f"does not name an archive directory of {session_id}")
        archive_dir = self.home / relative
        if not self.manifest_versions(archive_dir):
            return None  # an upload that never got as far as its manifest
        return archive_dir

    def list(self) -> builtins.list[Path]:
        """Every archive with a published version, in path order."""
        found = set()
        for key in self._list(self._key("archive/")):
            relative, _, name = key[len(self._key("")):].rpartition("/")
            if manifest_version_of(name) is not None and _INDEX_VALUE.fullmatch(relative):
                found.add(self.home / relative)  # the layout only, as the directory store globs it
        return sorted(found)

    def manifest_versions(self, archive_dir: Path) -> builtins.list[int]:
        return sorted(v for name in self.names(archive_dir) if (v := manifest_version_of(name)) is not None)

    def names(self, archive_dir: Path) -> builtins.list[str]:
        prefix = self._dir_key(archive_dir)
        return sorted(key[len(prefix):] for key in self._list(prefix) if "/" not in key[len(prefix):])

    def exists(self, archive_dir: Path, name: str | None = None) -> bool:
        if name is None:
            return bool(self.manifest_versions(archive_dir))
        key = self._dir_key(archive_dir) + name
        try:
            self._call("head", key, self.s3.head_object, Key=key)
        except NotFound:
            return False
        return True

    # --- reading -------------------------------------------------------------------------------

    def read(self, archive_dir: Path, name: str) -> bytes:
        key = self._dir_key(archive_dir) + name
        return bytes(self._call("get", key, self.s3.get_object, Key=key)["Body"].read())

    def open(self, archive_dir: Path, name: str) -> BinaryIO:
        """The object downloaded into an anonymous temporary file (large files stay off the heap)."""
        key = self._dir_key(archive_dir) + name
        spool = tempfile.TemporaryFile(dir=self._spool_dir())
        try:
            self._call("get", key, self.s3.download_fileobj, Key=key, Fileobj=spool)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return spool  # type: ignore[return-value]

    # --- writing -------------------------------------------------------------------------------

    def _spool_dir(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root

    def _lock_args(self) -> dict[str, Any]:
        """The Object Lock parameters of an upload; checks once that the bucket has the lock."""
        if not self._lock_mode:
            return {}
        if not self._lock_checked:
            try:
                config = self._call("read the Object Lock configuration of", self.bucket,
                                    self.s3.get_object_lock_configuration)
            except NotFound as exc:
                raise ArchiveStoreError("lock objects in", f"s3://{self.bucket}",
                                        "the bucket has no Object Lock") from exc
            enabled = config.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
            if enabled != "Enabled":
                raise ArchiveStoreError("lock objects in", f"s3://{self.bucket}",
                                        "the bucket has no Object Lock; create it with Object Lock "
                                        "or leave archive_lock_mode empty")
            self._lock_checked = True
        until = self._clock() + dt.timedelta(days=self._retain_days)
        return {"ObjectLockMode": self._lock_mode, "ObjectLockRetainUntilDate": until}

    def _put(self, key: str, data: bytes) -> None:
        self._call("upload", key, self.s3.put_object, Key=key, Body=data, **self._lock_args())

    def _upload_file(self, key: str, path: Path) -> None:
        extra = self._lock_args()
        self._call("upload", key, self.s3.upload_file, Filename=str(path), Key=key,
                   ExtraArgs=extra or None)

    def _put_new(self, key: str, data: bytes) -> bool:
        """Create ``key`` only if absent (If-None-Match); False if it was there."""
        try:
            self._call("upload", key, self.s3.put_object, Key=key, Body=data, IfNoneMatch="*",
                       **self._lock_args())
        except ArchiveExists:
            return False
        return True

    def _publish(self, archive_dir: Path, version: int, manifest: bytes, signature: bytes) -> None:
        """The signature, then the manifest, each created only if absent: a writer that comes
        second gets ArchiveExists and changes nothing of the version that stands. A signature
        without its manifest is what an upload that failed half-way left: it is replaced."""
        prefix = self._dir_key(archive_dir)
        name = manifest_name(version)
        if not self._put_new(prefix + name + SIG_SUFFIX, signature):
            if self.exists(archive_dir, name):
                raise ArchiveExists(archive_dir / name)
            self._put(prefix + name + SIG_SUFFIX, signature)
        if not self._put_new(prefix + name, manifest):  # last: readers see the version from now
            raise ArchiveExists(archive_dir / name)

    @contextmanager
    def stage(self, session_id: str, started_at: dt.datetime) -> Iterator[ArchiveStaging]:
        dest = self.path_for(session_id, started_at)
        if self.exists(dest):
            raise ArchiveExists(dest)
        self.remove_temp(session_id)
        tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{session_id}-", dir=self._spool_dir()))
        staging = _S3Staging(self, dest, tmp)
        try:
            yield staging
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # uploaded or abandoned: the copy goes

    def add_version(
        self,
        archive_dir: Path,
        version: int,
        manifest: bytes,
        signature: bytes,
        files: Mapping[str, bytes] | None = None,
    ) -> Path:
        self._check_next_version(archive_dir, version)
        prefix = self._dir_key(archive_dir)
        for name, data in (files or {}).items():
            self._put(prefix + _check_file_name(name), data)
        self._publish(archive_dir, version, manifest, signature)
        logger.info("archive %s: manifest version %d added", self._key(self.relative(archive_dir)), version)
        return archive_dir / manifest_name(version)


class _S3Staging(ArchiveStaging):
    """Files staged locally; ``commit`` uploads them, then the signature, then the manifest."""

    store: S3ArchiveStore

    def commit(self, manifest: bytes, signature: bytes, *, version: int = 1) -> Path:
        if self.committed:
            raise ValueError("this archive is already committed")
        store = self.store
        if store.exists(self.dest):
            raise ArchiveExists(self.dest)
        relative = store.relative(self.dest)
        index = store._key(f"{INDEX_DIR}/{self.dest.name}")
        store._put(index, relative.encode())
        prefix = store._dir_key(self.dest)
        for path in sorted(self._tmp.iterdir()):
            store._upload_file(prefix + path.name, path)
        store._publish(self.dest, version, manifest, signature)
        self.committed = True
        logger.info("archive s3://%s/%s written", store.bucket, store._key(relative))
        return self.dest


def _count_error(operation: str) -> None:
    from recorder.metrics import store_error

    store_error(operation.split()[0])  # the verb only: a bounded label
