"""``recorder verify``: prove, with public keys only, that no recording was altered or removed.

Three sources must agree:

* the archive tree: every manifest version is signed (Ed25519) by a known key, names its own
  session and version, and chains to the previous version by SHA-256; a version drops a file
  only under a signed ``removal`` naming it (an erasure's tombstone, a retention expiry), so an
  authorised deletion verifies and a hand deletion does not; every file the latest
  manifest lists has exactly that size and SHA-256; no other file is in the directory;
* the ledger: an unbroken hash chain (``db.ledger.check_chain``) whose entries each pin a
  manifest present on disk with that SHA-256, and every manifest on disk has its entry;
* the recordings table: one row per archive, pointing at it and at its latest manifest;
* the signed ledger head (``archive.ledger_head``): the ledger still reaches the entry it names,
  with the same hash, and goes no further; so removing the newest calls is seen too.

Nothing is decrypted. Each disagreement is one ``Problem`` naming the record (a file path
relative to the data dir, ``recordings row <id>`` or ``ledger entry <seq>``) and what is wrong:
``missing``, ``altered`` or ``extra``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from recorder.archive.ledger_head import HEAD_FILE, HeadInvalid, LedgerHead, read_head
from recorder.archive.manifest import (
    SIG_SUFFIX,
    Manifest,
    ManifestError,
    manifest_name,
    manifest_version_of,
    parse_manifest,
    sha256_hex,
    verify_manifest,
)
from recorder.archive.store import TMP_PREFIX, ArchiveStore
from recorder.audit.queries import resolve_session
from recorder.crypto.signing import SignatureInvalid, VerifyKey
from recorder.db import access_log
from recorder.db.engine import transaction
from recorder.db.ledger import check_chain, read_chain
from recorder.db.models import LedgerEntry, Recording
from recorder.db.recordings import list_recordings
from recorder.errors import NotFound

logger = logging.getLogger(__name__)

MISSING, ALTERED, EXTRA = "missing", "altered", "extra"


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str  # missing | altered | extra
    subject: str  # the record: a path relative to the data dir, a row, a ledger entry
    detail: str
    session_id: str | None = None

    def line(self) -> str:
        return f"{self.kind}: {self.subject}: {self.detail}"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    problems: tuple[Problem, ...]
    archives: int = 0
    files: int = 0
    manifests: int = 0
    ledger_entries: int = 0
    recordings: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        return [p.line() for p in self.problems]


def _entries(first: int, last: int) -> str:
    return f"ledger entries {first}" if first == last else f"ledger entries {first}..{last}"


@dataclass
class _Archive:
    """What was found in one archive directory."""

    path: Path
    rel: str
    manifests: dict[int, str] = field(default_factory=dict)  # version -> sha256 of its bytes
    latest: Manifest | None = None


class _Verifier:
    def __init__(self, store: ArchiveStore, verify_keys: Mapping[str, VerifyKey]) -> None:
        self.store = store
        self.keys = verify_keys
        self.problems: list[Problem] = []
        self.files = 0

    def add(self, kind: str, subject: str, detail: str, session_id: str | None = None) -> None:
        self.problems.append(Problem(kind, subject, detail, session_id))

    # --- disk ----------------------------------------------------------------------------------

    def archive(self, path: Path) -> _Archive:
        a = _Archive(path, self.store.relative(path))
        sid = path.name
        versions = self.store.manifest_versions(path)
        if not versions:
            self.add(MISSING, f"{a.rel}/{manifest_name(1)}", "the archive has no manifest", sid)
        for expected, v in enumerate(versions, start=1):
            if v != expected:
                self.add(MISSING, f"{a.rel}/{manifest_name(expected)}", "manifest version missing", sid)
                break
        previous: str | None = None
        before: Manifest | None = None
        for v in versions:
            current = self._manifest(a, v, previous)
            if current is not None and before is not None:
                self._dropped(a, before, current)
            a.latest = current or a.latest
            before = current
            previous = a.manifests.get(v)
        if a.latest is not None:
            self._files(a, a.latest)
        return a

    def _manifest(self, a: _Archive, version: int, previous: str | None) -> Manifest | None:
        sid, name = a.path.name, manifest_name(version)
        subject = f"{a.rel}/{name}"
        data = self.store.read(a.path, name)
        a.manifests[version] = sha256_hex(data)
        try:
            manifest = parse_manifest(data, name=subject)
        except ManifestError as exc:
            self.add(ALTERED, subject, exc.reason, sid)
            return None
        if not self.store.exists(a.path, name + SIG_SUFFIX):
            self.add(MISSING, subject + SIG_SUFFIX, "signature file is missing", sid)
        else:
            try:
                verify_manifest(data, self.store.read(a.path, name + SIG_SUFFIX), self.keys, name=subject)
            except (SignatureInvalid, ManifestError) as exc:
                self.add(ALTERED, subject, exc.reason, sid)
        if manifest.session_id != sid or manifest.version != version:
            self.add(ALTERED, subject, f"names session {manifest.session_id} version {manifest.version}", sid)
        if version > 1 and previous is not None and manifest.previous_sha256 != previous:
            self.add(ALTERED, subject, "does not chain to the previous manifest version", sid)
        if version == 1 and manifest.previous_sha256 is not None:
            self.add(ALTERED, subject, "version 1 names a previous manifest", sid)
        return manifest

    def _dropped(self, a: _Archive, before: Manifest, after: Manifest) -> None:
        """A version may drop a file only under a signed removal naming it (erasure, retention)."""
        removed = (after.removal or {}).get("files") or {}
        kept = {f.name for f in after.files}
        for f in before.files:
            if f.name not in kept and removed.get(f.name) != f.sha256:
                self.add(ALTERED, f"{a.rel}/{after.name}",
                         f"drops {f.name} without a signed removal naming it", a.path.name)

    def _files(self, a: _Archive, manifest: Manifest) -> None:
        sid = a.path.name
        listed = {f.name for f in manifest.files}
        present = self.store.names(a.path)
        for f in manifest.files:
            subject = f"{a.rel}/{f.name}"
            if f.name not in present:
                self.add(MISSING, subject, f"listed in {manifest.name} but not in the store", sid)
                continue
            self.files += 1
            data = self.store.read(a.path, f.name)
            if len(data) != f.size or sha256_hex(data) != f.sha256:
                self.add(ALTERED, subject, f"size or SHA-256 differs from {manifest.name}", sid)
        for name in present:
            if name in listed or manifest_version_of(name) is not None:
                continue
            if name.endswith(SIG_SUFFIX) and manifest_version_of(name[: -len(SIG_SUFFIX)]) is not None:
                continue
            self.add(EXTRA, f"{a.rel}/{name}", f"not listed in {manifest.name}", sid)

    # --- database ------------------------------------------------------------------------------

    def ledger(self, entries: list[LedgerEntry], archives: dict[str, _Archive], only: str | None) -> None:
        for p in check_chain(entries):  # a broken link means an earlier entry was altered
            self.add(ALTERED if p.kind == "broken" else p.kind, f"ledger entry {p.seq}", p.detail)
        pinned: set[tuple[str, int]] = set()
        for e in entries:
            pinned.add((e.session_id, e.manifest_version))
            if only is not None and e.session_id != only:
                continue
            subject = f"ledger entry {e.seq}"
            a = archives.get(e.session_id)
            if a is None:
                self.add(MISSING, f"archive of {e.session_id}", f"{subject} pins it but it is not on disk", e.session_id)
            elif e.manifest_version not in a.manifests:
                self.add(MISSING, f"{a.rel}/{manifest_name(e.manifest_version)}", f"{subject} pins it", e.session_id)
            elif a.manifests[e.manifest_version] != e.manifest_sha256:
                self.add(ALTERED, f"{a.rel}/{manifest_name(e.manifest_version)}",
                         f"SHA-256 differs from {subject}", e.session_id)
        for sid, a in archives.items():
            for v in a.manifests:
                if (sid, v) not in pinned:
                    self.add(MISSING, f"ledger entry for {a.rel}/{manifest_name(v)}",
                             "the manifest is on disk but not in the ledger", sid)

    def head(self, entries: list[LedgerEntry], head: LedgerHead | None, home: Path,
             shipped: Mapping[str, LedgerHead] | None = None) -> None:
        """The chain against its signed head; ``head`` was read before the chain was.

        Entries after this home's head are covered if a shipped head that the chain matches
        (``shipped``: another host's, which appended them) names them."""
        last = max((e.seq for e in entries), default=0)
        if head is None:
            if entries:
                self.add(MISSING, HEAD_FILE, f"the ledger has {len(entries)} entries but no signed "
                         "checkpoint of its head: the checkpoint was deleted")
            return
        if head.since_seq > 1:
            logger.warning("the signed ledger head starts at entry %d: removal of entries before "
                           "it shows only in the chain", head.since_seq)
        at_head = next((e for e in entries if e.seq == head.seq), None)
        if head.seq > last:
            self.add(MISSING, _entries(last + 1, head.seq), f"the signed ledger head names entry "
                     f"{head.seq} but the ledger ends at {last}: the newest entries were removed")
        elif at_head is not None and at_head.entry_hash != head.entry_hash:
            self.add(ALTERED, f"ledger entry {head.seq}", "does not match the signed ledger head")
        elif head.seq < last:
            try:
                later = read_head(home, self.keys)  # an append may have committed meanwhile
            except HeadInvalid:
                later = None
            matched = [h.seq for h in (shipped or {}).values()
                       if any(e.seq == h.seq and e.entry_hash == h.entry_hash for e in entries)]
            covered = max([later.seq if later is not None else 0, *matched])
            if covered < last:
                self.add(MISSING, f"signed ledger head for entries {head.seq + 1}..{last}",
                         f"{HEAD_FILE} names entry {head.seq}: later entries are not covered (an "
                         "older checkpoint put back, or a crash right after a commit: run "
                         "`recorder recover`)")

    def shipped(self, entries: list[LedgerEntry], head: LedgerHead, name: str) -> None:
        """A copy of an earlier signed head kept elsewhere: the chain must still reach it."""
        last = max((e.seq for e in entries), default=0)
        at_head = next((e for e in entries if e.seq == head.seq), None)
        if head.seq > last:
            self.add(MISSING, _entries(last + 1, head.seq),
                     f"the signed ledger head in {name} names entry {head.seq} but the ledger ends at {last}")
        elif at_head is not None and at_head.entry_hash != head.entry_hash:
            self.add(ALTERED, f"ledger entry {head.seq}", f"does not match the signed ledger head in {name}")

    def recordings(self, rows: list[Recording], archives: dict[str, _Archive]) -> None:
        seen: set[str] = set()
        for r in rows:
            seen.add(r.session_id)
            subject = f"recordings row {r.session_id}"
            a = archives.get(r.session_id)
            if a is None:
                self.add(MISSING, r.archive_path, f"{subject} points at it but it is not on disk", r.session_id)
                continue
            if r.archive_path != a.rel:
                self.add(ALTERED, subject, f"archive_path {r.archive_path} but the archive is at {a.rel}", r.session_id)
            latest = max(a.manifests, default=None)
            if latest is not None and (r.manifest_version, r.manifest_sha256) != (latest, a.manifests[latest]):
                self.add(ALTERED, subject, f"does not pin the latest manifest ({manifest_name(latest)})", r.session_id)
        for sid, a in archives.items():
            if sid not in seen:
                self.add(MISSING, f"recordings row {sid}", f"the archive {a.rel} has no row", sid)


def verify_target(home: Path, db: Session, key: str, store: ArchiveStore | None = None) -> str:
    """The recorder id that ``verify KEY`` checks.

    The call ``key`` names (recorder id or Hydra session id; several matches are refused by
    ``resolve_session``), or else a recorder id that only the archive tree, the ledger or a
    recordings row still knows: what is left of a call whose rows were removed is evidence.
    A key none of them knows is ``NotFound``, not an integrity failure.
    """
    try:
        return resolve_session(db, key)
    except NotFound:
        pass
    try:
        on_disk = (store or ArchiveStore(home)).find(key) is not None
    except ValueError:  # not a safe directory name, so no archive's
        on_disk = False
    pinned = db.scalar(select(LedgerEntry.seq).where(LedgerEntry.session_id == key).limit(1))
    if on_disk or pinned is not None or db.get(Recording, key) is not None:
        return key
    raise NotFound("session", key)


def verify(
    home: Path,
    engine: Engine,
    verify_keys: Mapping[str, VerifyKey],
    session: str | None = None,
    shipped_heads: Mapping[str, LedgerHead] | None = None,
    store: ArchiveStore | None = None,
) -> VerifyReport:
    """Check archives, ledger and recordings rows (all, or one ``session``) without decrypting.

    ``shipped_heads``: signed ledger heads kept elsewhere (by where they came from), which the
    ledger must still reach.
    """
    v = _Verifier(store or ArchiveStore(Path(home)), verify_keys)
    archives: dict[str, _Archive] = {}
    for path in v.store.list():
        if session is not None and path.name != session:
            continue
        if path.name in archives:
            v.add(EXTRA, v.store.relative(path), f"a second archive of {path.name} "
                  f"(the first is {archives[path.name].rel})", path.name)
            continue
        archives[path.name] = v.archive(path)
    try:  # before the chain: a head written after this read names an entry the chain has
        head = read_head(Path(home), verify_keys)
    except HeadInvalid as exc:
        v.add(ALTERED, HEAD_FILE, exc.reason)
        head = None
        head_checked = False
    else:
        head_checked = True
    with transaction(engine) as db:
        entries = read_chain(db)
        rows = [r for r in list_recordings(db) if session is None or r.session_id == session]
        v.ledger(entries, archives, session)
        if head_checked:
            v.head(entries, head, Path(home), shipped_heads)
        for name, shipped in (shipped_heads or {}).items():
            v.shipped(entries, shipped, name)
        v.recordings(rows, archives)
        if session is None:  # who read what is evidence too: its chain must hold
            for problem in access_log.check_chain(access_log.read(db)):
                kind = MISSING if problem.kind == "missing" else ALTERED
                v.add(kind, f"access log entry {problem.seq}", problem.detail)
    mine = [e for e in entries if session is None or e.session_id == session]
    if session is not None and not archives and not rows and not mine:
        v.add(MISSING, f"session {session}", "no archive, recordings row or ledger entry")
    for tmp in v.store.temp_dirs():
        if session is None or tmp.name.startswith(f"{TMP_PREFIX}{session}-"):
            logger.warning("leftover of an interrupted archive write: %s", v.store.relative(tmp))
    return VerifyReport(
        problems=tuple(v.problems),
        archives=len(archives),
        files=v.files,
        manifests=sum(len(a.manifests) for a in archives.values()),
        ledger_entries=len(mine),
        recordings=len(rows),
    )
