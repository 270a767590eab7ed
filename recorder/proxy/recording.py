"""One call's recording on the forwarding side: every frame, raw, into the call's journal.

The relay's tee calls `CallRecording.tee` synchronously after forwarding; it appends the frame
as it was forwarded, stamped with its arrival time, and parses nothing (unless a PCI pause is
configured: then `capture.pci.PciGate` keeps the paused caller audio off the disk). What the proxy needs
to know live comes from cheap checks: Hydra's session id (for the log line) from a substring
test on the first server frames, the failure policy from the journal's `on_failure`, the disk
from `disk_too_full` at admission. When the call ends, `finish` closes the journal and returns
the job the archiver process runs (capture, render, encryption, rows, deletion of the journal).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from recorder import __version__
from recorder.archive.archiver import ArchiveJob
from recorder.call import CallMeta
from recorder.capture.records import CloseRecord
from recorder.config import Settings
from recorder.crypto.keys import KeyStore
from recorder.journal import JournalWriter, OwnerLock
from recorder.values import Direction

if TYPE_CHECKING:
    from recorder.capture.pci import PciGate

log = logging.getLogger(__name__)

_SNIFF_FRAMES = 4  # session.created is Hydra's first frame; give up after a few
_DISK_CHECK_S = 1.0


class Recorder:
    """What the forwarding process needs to record calls: the archive recipients and the spool."""

    def __init__(
        self,
        settings: Settings,
        keystore: KeyStore,
        journal_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.keystore = keystore
        self.spool = settings.home / "spool"
        self._journal_options = dict(journal_options or {})  # e.g. a failing segment opener
        self._disk: tuple[float, str | None] = (-_DISK_CHECK_S, None)

    def disk_too_full(self) -> str | None:
        """Why new calls must be refused for lack of disk, or None (checked at most once a second)."""
        checked, answer = self._disk
        now = time.monotonic()
        if now - checked < _DISK_CHECK_S:
            return answer
        self.spool.mkdir(mode=0o700, parents=True, exist_ok=True)
        free_mb = shutil.disk_usage(self.spool).free / 2**20
        answer = None
        if free_mb < self.settings.min_free_disk_mb:
            answer = f"{free_mb:.0f} MiB free under {self.spool}, below {self.settings.min_free_disk_mb} MiB"
        self._disk = (now, answer)
        return answer

    def open_call(self, meta: CallMeta, on_failure: Callable[[str], None]) -> CallRecording:
        """Open the call's journal (blocking I/O: call it from a worker thread)."""
        journal = JournalWriter(
            self.spool,
            meta.id,
            self.keystore.recipients("archive"),
            meta.journal_start(__version__),
            flush_interval_s=self.settings.flush_interval_s,
            fsync=self.settings.fsync,  # type: ignore[arg-type]
            on_failure=on_failure,
            **self._journal_options,
        )
        journal.open()
        pci = None
        if self.settings.pci_tools:
            from recorder.capture.pci import PciGate  # parses every frame: only when asked for

            pci = PciGate(self.settings.pci_tools, gap_threshold_ms=self.settings.gap_threshold_ms)
        return CallRecording(journal, pci)


class CallRecording:
    """A live call's journal; the relay's tee."""

    def __init__(self, journal: JournalWriter, pci: PciGate | None = None) -> None:
        self.journal = journal
        self.hydra_session_id: str | None = None
        self._sniff = _SNIFF_FRAMES
        self._pci = pci

    @property
    def lock(self) -> OwnerLock | None:
        """The journal's owner lock: held until the archiver has archived the call."""
        return self.journal.lock

    def tee(self, direction: Direction, message: str | bytes, arrival_ns: int) -> None:
        kept = message if self._pci is None else self._pci.journaled(direction, message, arrival_ns)
        self.journal.append_frame(direction, kept, arrival_ns)
        if self._sniff and direction is Direction.S2C:
            self._sniff -= 1
            if isinstance(message, str) and '"session.created"' in message[:200]:
                self._sniff = 0
                self.hydra_session_id = _session_id(message)

    def finish(self, meta: CallMeta, ended_ns: int, closed_by: Direction | None) -> ArchiveJob:
        """Close the journal (blocking: write + fsync) and describe the archiver's job."""
        close = CloseRecord(max(0, int(ended_ns)), meta.close_code, meta.close_reason, closed_by)
        if self.journal.failure is not None:
            meta = meta.incomplete(f"recording failed: {self.journal.failure}")
        self.journal.close(close, meta.journal_end())
        return ArchiveJob(meta.id, str(self.journal.session_dir), self.journal.session_key, meta)


def _session_id(message: str) -> str | None:
    try:
        session = json.loads(message).get("session")
        value = session.get("id") if isinstance(session, dict) else None
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None
