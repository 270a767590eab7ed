"""One call's recording: capture → journal while it runs, archive + rows when it ends.

The relay's tee calls `CallRecording.tee` synchronously after forwarding: capture is pure and
`JournalWriter.append` never blocks or raises. Everything slow (journal close, render,
encryption, database) happens in `finish`, which the proxy runs in a worker thread after both
legs are closed. The journal is deleted only after the archive and its rows are durable.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from recorder import __version__
from recorder.archive.finalize import ArchiveResult, finalize_call
from recorder.archive.store import open_store
from recorder.capture.records import CallSummary, CloseRecord, Direction
from recorder.capture.session import CaptureSession
from recorder.config import Settings
from recorder.crypto.keys import IdentitiesUnavailable, KeyStore
from recorder.db.engine import transaction
from recorder.db.write import CallMeta, write_call
from recorder.journal import (
    JournalContents,
    JournalError,
    JournalWriter,
    delete_journal,
    list_journals,
    read_journal,
)
from recorder.redact import redact_payload

log = logging.getLogger(__name__)

_META_FIELDS = ("id", "path", "query", "model", "metadata", "upstream_status")
_END_FIELDS = ("close_code", "close_reason", "close_side", "bytes_c2s", "bytes_s2c", "duration_ms")


def start_meta(meta: CallMeta) -> dict[str, Any]:
    """What the journal's first record keeps of the call (no secrets: the query is scrubbed)."""
    out = {name: getattr(meta, name) for name in _META_FIELDS}
    return {**out, "started_at": meta.started_at.isoformat(), "recorder_version": __version__}


def end_meta(meta: CallMeta) -> dict[str, Any]:
    out = {name: getattr(meta, name) for name in _END_FIELDS}
    ended = meta.ended_at.isoformat() if meta.ended_at else None
    return {**out, "ended_at": ended, "state": meta.state, "reason": meta.reason}


def meta_from_journal(contents: JournalContents) -> CallMeta:
    """Rebuild the call's facts from its journal (after a crash the end part may be missing)."""
    start = contents.meta or {}
    end = contents.end_meta or {}
    started = dt.datetime.fromisoformat(start["started_at"]) if start.get("started_at") else (
        dt.datetime.now(dt.timezone.utc)
    )
    ended = dt.datetime.fromisoformat(end["ended_at"]) if end.get("ended_at") else None
    close = contents.close
    return CallMeta(
        id=str(start.get("id") or contents.session_id),
        started_at=started,
        ended_at=ended,
        duration_ms=end.get("duration_ms"),
        state=str(end.get("state") or "incomplete"),
        reason=end.get("reason"),
        close_code=end.get("close_code", close.code if close else None),
        close_reason=end.get("close_reason", close.reason if close else None),
        close_side=end.get("close_side"),
        upstream_status=start.get("upstream_status"),
        model=start.get("model"),
        path=start.get("path"),
        query=start.get("query"),
        metadata=dict(start.get("metadata") or {}),
        bytes_c2s=int(end.get("bytes_c2s") or 0),
        bytes_s2c=int(end.get("bytes_s2c") or 0),
    )


class Recorder:
    """What the proxy needs to record calls: keys, spool, archive and database."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        keystore: KeyStore,
        journal_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.keystore = keystore
        self.spool = settings.home / "spool"
        self.store = open_store(settings)  # journals stay local; archives go where this says
        self._journal_options = dict(journal_options or {})  # e.g. a failing segment opener

    def disk_too_full(self) -> str | None:
        """Why new calls must be refused for lack of disk, or None."""
        self.spool.mkdir(parents=True, exist_ok=True)
        free_mb = shutil.disk_usage(self.spool).free / 2**20
        if free_mb < self.settings.min_free_disk_mb:
            return f"{free_mb:.0f} MiB free under {self.spool}, below {self.settings.min_free_disk_mb} MiB"
        return None

    def open_call(self, meta: CallMeta, on_failure: Callable[[str], None]) -> CallRecording:
        """Open the call's journal (blocking I/O: call it from a worker thread)."""
        journal = JournalWriter(
            self.spool,
            meta.id,
            self.keystore.recipients("archive"),
            start_meta(meta),
            flush_interval_s=self.settings.flush_interval_s,
            fsync=self.settings.fsync,  # type: ignore[arg-type]
            on_failure=on_failure,
            **self._journal_options,
        )
        journal.open()
        return CallRecording(self, journal)

    def archive(self, contents: JournalContents, meta: CallMeta, session_dir: Path) -> ArchiveResult:
        result = finalize_call(
            lambda: contents.records,
            meta,
            home=self.settings.home,
            keystore=self.keystore,
            engine=self.engine,
            close=contents.close,
            state=meta.state,
            reason=meta.reason,
            gap_threshold_ms=self.settings.gap_threshold_ms,
            redact_json=redact_payload,
            store=self.store,
        )
        delete_journal(session_dir)
        return result

    def store_unrecorded(self, meta: CallMeta, summary: CallSummary) -> None:
        """Policy `continue` with no journal at all: keep at least the call's rows."""
        with transaction(self.engine) as session:
            write_call(session, meta, summary, redact_json=redact_payload)

    def pending_journals(self) -> list[Path]:
        return list_journals(self.spool)

    def recover(self, *, strict: bool = False) -> list[ArchiveResult]:
        """Archive every orphaned journal; a journal without its END marker is incomplete.

        Needs the archive identities. At proxy start (`strict=False`) their absence is a
        warning: a host that holds only public keys leaves the journals for
        `recorder recover` where the identities are; the command itself (`strict=True`)
        raises the clear error instead.
        """
        orphans = self.pending_journals()
        if not orphans:
            return []
        try:
            identities = self.keystore.identities("archive")
        except IdentitiesUnavailable as exc:
            if strict:
                raise
            log.warning("%d orphaned journals wait for `recorder recover` on a host with the "
                        "archive identities: %s", len(orphans), exc)
            return []
        results = []
        for session_dir in orphans:
            try:
                contents = read_journal(session_dir, identities=identities)
                results.append(self.archive(contents, _recovered(contents), session_dir))
            except (JournalError, OSError) as exc:
                log.error("cannot recover journal %s: %s", session_dir, exc)
        return results


def _recovered(contents: JournalContents) -> CallMeta:
    """The call's facts from its journal, with why the record is incomplete if it is."""
    meta = meta_from_journal(contents)
    reasons = [meta.reason] if meta.reason else []
    reasons += [f"recording failed: {f.reason}" for f in contents.failures]
    if not contents.complete:
        why = "the proxy stopped before the call was finalized"
        if contents.truncated is not None:
            why += f"; journal ends at {contents.truncated}"
        reasons.append(f"recovered: {why}")
    if not reasons:
        return meta
    return dataclasses.replace(meta, state="incomplete", reason="; ".join(dict.fromkeys(reasons)))


class CallRecording:
    """A live call's capture and journal; the relay's tee."""

    def __init__(self, recorder: Recorder, journal: JournalWriter) -> None:
        self._recorder = recorder
        self.journal = journal
        self.capture = CaptureSession(gap_threshold_ms=recorder.settings.gap_threshold_ms)

    def tee(self, direction: Direction, message: str | bytes, arrival_ns: int) -> None:
        self.journal.append(self.capture.observe(direction, message, arrival_ns))

    def finish(self, meta: CallMeta, ended_ns: int, closed_by: Direction | None) -> ArchiveResult:
        """Close the journal, archive the call, write its rows, delete the journal."""
        close = self.capture.close(
            ended_ns, code=meta.close_code, reason=meta.close_reason, closed_by=closed_by
        )
        record = next((r for r in close if isinstance(r, CloseRecord)), None)
        if self.journal.failure is not None:
            meta = dataclasses.replace(
                meta, state="incomplete",
                reason=f"recording failed: {self.journal.failure}",
            )
        self.journal.close(record, end_meta(meta))
        contents = read_journal(self.journal.session_dir, session_key=self.journal.session_key)
        return self._recorder.archive(contents, meta, self.journal.session_dir)
