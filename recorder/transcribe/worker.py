"""The transcription run: enqueue, claim under leases, run jobs with bounded concurrency, report.

One asyncio ``TaskGroup`` owns ``concurrency`` job tasks and one heartbeat task that renews the
leases of the jobs in flight (and, on SQLite, the one-worker lock). Every task shares one Pulse
client, so its rate limiter bounds the whole process (reference/pulse-stt.md §9). Failures are
classified where they are caught (reference §12.3):

* ``PulseAuthError`` (401/403) and configuration errors (e.g. no archive identity here): the
  job is given back untouched and the run stops (``RunSummary.fatal``);
* ``PulseRejected`` (other 4xx, a 413 that cannot be split further) and damaged archives: the
  job ends ``failed`` at once with the reason;
* anything else (retries exhausted, a database hiccup): the attempt is counted and the job is
  retried later in this run or the next, until ``max_attempts``.

Database and archive work run on threads (``asyncio.to_thread``); the loop only waits on Pulse.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from recorder.db.engine import transaction
from recorder.errors import ConfigError, IntegrityError, NotFound, RecorderError
from recorder.pulse.errors import PulseAuthError, PulseRejected
from recorder.transcribe import jobs
from recorder.transcribe.job import Context, JobOutcome, LeaseLost, Transcriber, run_job

logger = logging.getLogger(__name__)


class WorkerBusy(RecorderError):
    """Another worker holds the SQLite worker lock (SQLite allows one worker at a time)."""

    def __init__(self, until: str) -> None:
        self.until = until
        super().__init__(f"another transcription worker is running (its lock runs until {until}); "
                         "SQLite allows one worker at a time")


@dataclass(frozen=True, slots=True)
class RunOptions:
    concurrency: int = 4
    limit: int | None = None
    selection: jobs.Selection = jobs.Selection()
    retry_failed: bool = False
    lease_s: float = jobs.DEFAULT_LEASE_S
    max_attempts: int = jobs.DEFAULT_MAX_ATTEMPTS


@dataclass(frozen=True, slots=True)
class Result:
    """One recording's outcome in this run: transcribed | skipped | failed | retry | released."""

    session_id: str
    status: str
    outcome: JobOutcome | None = None
    reason: str | None = None


@dataclass
class RunSummary:
    transcribed: int = 0
    skipped: int = 0
    failed: int = 0
    retried: int = 0
    audio_seconds: float = 0.0
    pulse_requests: int = 0
    elapsed_s: float = 0.0
    queued_left: int = 0
    fatal: RecorderError | None = None
    failures: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "transcribed": self.transcribed, "skipped": self.skipped, "failed": self.failed,
            "retried": self.retried, "audio_minutes": round(self.audio_seconds / 60, 2),
            "pulse_requests": self.pulse_requests, "elapsed_s": round(self.elapsed_s, 2),
            "queued_left": self.queued_left, "fatal": str(self.fatal) if self.fatal else None,
        }


def worker_id() -> str:
    """Who holds a lease: host, pid and a random suffix (unique even across pid reuse)."""
    return f"{socket.gethostname()[:64]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _classify(exc: BaseException) -> tuple[str, bool]:
    """(reason, permanent) for a job that raised ``exc``."""
    if isinstance(exc, (PulseRejected, IntegrityError, NotFound)):
        return str(exc), True
    if isinstance(exc, RecorderError):
        return str(exc), False
    return f"unexpected {type(exc).__name__}: {exc}", False


class _Run:
    def __init__(self, ctx: Context, pulse: Transcriber, options: RunOptions,
                 on_result: Callable[[Result], None] | None) -> None:
        self.ctx, self.pulse, self.options = ctx, pulse, options
        self.on_result = on_result or (lambda r: None)
        self.summary = RunSummary()
        self.in_flight: set[str] = set()
        self.claimed = 0
        self._claiming = threading.Lock()  # tasks claim on threads: the limit check and count are one step
        self.stop = False
        self.sqlite = ctx.engine.dialect.name == "sqlite"

    def _now(self) -> dt.datetime:
        return self.ctx.clock()

    def _claim(self) -> jobs.Claim | None:
        o = self.options
        with self._claiming:
            if self.stop or (o.limit is not None and self.claimed >= o.limit):
                return None
            with transaction(self.ctx.engine) as session:
                got = jobs.claim(session, self.ctx.owner, now=self._now(), lease_s=o.lease_s, limit=1,
                                 max_attempts=o.max_attempts, selection=o.selection,
                                 exclude=set(self.in_flight))
            if not got:
                return None
            self.claimed += 1
            self.in_flight.add(got[0].session_id)
            return got[0]

    def _settle(self, claim: jobs.Claim, exc: BaseException | None, outcome: JobOutcome | None) -> Result:
        sid, owner, now = claim.session_id, self.ctx.owner, self._now()
        with transaction(self.ctx.engine) as session:
            if exc is None:
                assert outcome is not None
                jobs.finish(session, sid, owner, now=now)
                status = "transcribed" if outcome.transcribed else "skipped"
                return Result(sid, status, outcome)
            if isinstance(exc, LeaseLost):
                return Result(sid, "skipped", reason=str(exc))
            if isinstance(exc, (PulseAuthError, ConfigError)):
                jobs.release(session, sid, owner, now=now)
                return Result(sid, "released", reason=str(exc))
            reason, permanent = _classify(exc)
            state = jobs.fail(session, sid, owner, reason, now=now, permanent=permanent,
                              max_attempts=self.options.max_attempts)
        return Result(sid, "failed" if state == jobs.FAILED else "retry", reason=reason)

    def _record(self, result: Result) -> None:
        s = self.summary
        if result.status == "transcribed":
            s.transcribed += 1
        elif result.status == "skipped":
            s.skipped += 1
        elif result.status == "failed":
            s.failed += 1
            s.failures.append((result.session_id, result.reason or ""))
        elif result.status == "retry":
            s.retried += 1
        if result.outcome is not None:
            s.audio_seconds += result.outcome.audio_seconds
        self.on_result(result)

    async def job_task(self) -> None:
        while True:
            claim = await asyncio.to_thread(self._claim)
            if claim is None:
                return
            started = time.monotonic()
            outcome: JobOutcome | None = None
            error: BaseException | None = None
            try:
                outcome = await run_job(self.ctx, self.pulse, claim.session_id)
            except Exception as exc:  # classified and recorded on the job row
                error = exc
            try:
                result = await asyncio.to_thread(self._settle, claim, error, outcome)
            finally:
                self.in_flight.discard(claim.session_id)
            if isinstance(error, (PulseAuthError, ConfigError)):
                self.stop = True
                if self.summary.fatal is None:
                    self.summary.fatal = error
            self._log(result, claim, time.monotonic() - started)
            self._record(result)

    def _log(self, result: Result, claim: jobs.Claim, elapsed: float) -> None:
        o = result.outcome
        if o is not None:
            logger.info("recording %s %s: %d spans, %.1f s audio, %d Pulse requests, manifest %d, %.2f s",
                        result.session_id, result.status, o.spans, o.audio_seconds, o.pulse_requests,
                        o.manifest_version, elapsed)
        else:
            logger.warning("recording %s %s (attempt %d): %s", result.session_id, result.status,
                           claim.attempt, result.reason)

    def _renew(self) -> None:
        now = self._now()
        with transaction(self.ctx.engine) as session:
            if self.sqlite:
                jobs.acquire_worker_lock(session, self.ctx.owner, now=now, lease_s=self.options.lease_s)
            held = jobs.renew(session, self.ctx.owner, set(self.in_flight), now=now,
                              lease_s=self.options.lease_s)
        lost = set(self.in_flight) - held
        if lost:
            logger.warning("lost the lease on %d job(s): %s", len(lost), ", ".join(sorted(lost)))

    async def heartbeat(self, done: asyncio.Event) -> None:
        interval = max(0.2, self.options.lease_s / 3)
        while not done.is_set():
            try:
                await asyncio.wait_for(done.wait(), interval)
            except TimeoutError:
                await asyncio.to_thread(self._renew)

    async def run(self) -> RunSummary:
        done = asyncio.Event()
        async with asyncio.TaskGroup() as outer:
            outer.create_task(self.heartbeat(done))
            try:
                async with asyncio.TaskGroup() as tg:
                    for _ in range(max(1, self.options.concurrency)):
                        tg.create_task(self.job_task())
            finally:
                done.set()
        return self.summary


def _prepare(ctx: Context, options: RunOptions) -> None:
    """Queue what is new (and failed jobs on request); on SQLite take the worker lock."""
    now = ctx.clock()
    with transaction(ctx.engine) as session:
        if ctx.engine.dialect.name == "sqlite" and not jobs.acquire_worker_lock(
                session, ctx.owner, now=now, lease_s=options.lease_s):
            lock = session.get(jobs.WorkerLock, jobs.WORKER_LOCK)
            raise WorkerBusy(lock.lease_until.isoformat() if lock else "?")
    with transaction(ctx.engine) as session:
        if options.retry_failed:
            n = jobs.retry_failed(session, now=now, selection=options.selection)
            logger.info("%d failed job(s) queued again", n)
        added = jobs.enqueue(session, now=now, selection=options.selection)
    logger.info("%d new recording(s) queued", added)


def _finish(ctx: Context, summary: RunSummary) -> None:
    with transaction(ctx.engine) as session:
        summary.queued_left = jobs.counts(session).get(jobs.QUEUED, 0)
        if ctx.engine.dialect.name == "sqlite":
            jobs.release_worker_lock(session, ctx.owner)


async def run(
    ctx: Context, pulse: Transcriber, options: RunOptions = RunOptions(), *,
    on_result: Callable[[Result], None] | None = None,
) -> RunSummary:
    """Transcribe every selected recording that needs it; returns what happened."""
    started = time.monotonic()
    before = int(getattr(pulse, "requests_made", 0))
    await asyncio.to_thread(_prepare, ctx, options)
    state = _Run(ctx, pulse, options, on_result)
    try:
        summary = await state.run()
    finally:
        await asyncio.to_thread(_finish, ctx, state.summary)
    summary.pulse_requests = int(getattr(pulse, "requests_made", 0)) - before
    summary.elapsed_s = time.monotonic() - started
    return summary


def pending(ctx: Context, options: RunOptions) -> int:
    """How many selected jobs a run would look at (for the progress bar's total)."""
    with transaction(ctx.engine) as session:
        n = sum(jobs.counts(session).get(s, 0) for s in (jobs.QUEUED, jobs.RUNNING))
    return n if options.limit is None else min(n, options.limit)


__all__ = ["Result", "RunOptions", "RunSummary", "WorkerBusy", "pending", "run", "worker_id"]
