"""`recorder transcribe`: the nightly job, for cron.

Exit codes: 0 every selected recording is done (or another SQLite worker holds the lock),
1 some recordings failed, 2 usage or configuration error, 3 Pulse refused the API key (the run
stopped; nothing was marked failed).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import sys
from pathlib import Path

import click

from recorder.archive.store import open_store
from recorder.cli.options import build_settings, common_options
from recorder.crypto.keys import KeyStore
from recorder.audit.queries import resolve_session
from recorder.db.engine import open_database, transaction
from recorder.pulse import PulseClient
from recorder.pulse.errors import PulseAuthError
from recorder.transcribe import jobs, worker
from recorder.transcribe.job import Context, JobSettings

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_AUTH = 0, 1, 2, 3


def _since(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"expected a date like 2026-11-27, got {value!r}", param_hint="--since") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@click.command()
@click.option("--limit", type=click.IntRange(min=1), help="Transcribe at most N recordings.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Recordings in flight at once (one Pulse rate limit for all of them).")
@click.option("--since", "since", metavar="DATE", help="Only calls started on or after DATE (ISO).")
@click.option("--session", "session_key", metavar="ID", help="Only this call (recorder or Hydra id).")
@click.option("--retry-failed", is_flag=True, help="Queue failed recordings again first.")
@click.option("--pulse-url", help="Pulse STT endpoint (also $RECORDER_PULSE_URL).")
@click.option("--model", type=click.Choice(["pulse-pro", "pulse"]), default="pulse-pro", show_default=True,
              help="Pulse STT model.")
@click.option("--language", default="en", show_default=True, help="Language code sent to Pulse.")
@click.option("--rpm", type=click.IntRange(min=1), default=25, show_default=True,
              help="Pulse requests per minute for this worker (your plan's limit).")
@click.option("--bleep", type=click.Choice(["tone", "silence"]), default="tone", show_default=True,
              help="What replaces redacted stretches of the audio.")
@click.option("--redaction", type=click.Choice(["strict", "balanced"]), default="strict", show_default=True,
              help="Redaction policy, recorded with each transcript: strict redacts a caller's whole "
              "answer to a sensitive question; balanced only the values found in it.")
@click.option("--lease-seconds", type=click.FloatRange(min=1), default=jobs.DEFAULT_LEASE_S,
              show_default=True, help="How long a claim lasts without renewal (a dead worker's "
              "recordings are taken over after this).")
@click.option("--max-attempts", type=click.IntRange(min=1), default=jobs.DEFAULT_MAX_ATTEMPTS,
              show_default=True, help="Attempts before a recording ends failed.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--metrics-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the run's figures here for node_exporter's textfile collector "
                   "(replaced atomically; name it *.prom).")
@common_options
@click.pass_context
def transcribe(ctx: click.Context, limit: int | None, concurrency: int, since: str | None,
               session_key: str | None, retry_failed: bool, pulse_url: str | None, model: str,
               language: str, rpm: int, bleep: str, redaction: str, lease_seconds: float, max_attempts: int,
               as_json: bool, metrics_file: Path | None, config_file: Path | None, home: Path | None,
               database_url: str | None,
               log_level: str | None) -> None:
    """Transcribe finalized recordings through Pulse, redact, store and publish the derivatives."""
    settings = build_settings(config_file, log_level, home=home, database_url=database_url,
                              pulse_url=pulse_url)
    if not settings.api_key:
        click.echo("recorder: error: no Pulse API key: set SMALLEST_API_KEY (or api_key in the "
                   "settings file)", err=True)
        ctx.exit(EXIT_USAGE)
    since_at = _since(since)
    engine = open_database(settings.effective_database_url)
    try:
        session_id = None
        if session_key is not None:
            with transaction(engine) as db:
                session_id = resolve_session(db, session_key)
        options = worker.RunOptions(
            concurrency=concurrency, limit=limit,
            selection=jobs.Selection(since=since_at, session_id=session_id),
            retry_failed=retry_failed, lease_s=lease_seconds, max_attempts=max_attempts,
        )
        keystore = KeyStore(settings.home / "keys")
        job_ctx = Context(settings.home, keystore, engine, worker.worker_id(),
                          JobSettings(model=model, language=language, bleep=bleep,  # type: ignore[arg-type]
                                      redaction=redaction),
                          archive_store=open_store(settings))
        summary, pulse_counts = asyncio.run(_run(job_ctx, settings.pulse_url, settings.api_key,
                                                 options, model, language, rpm))
    except worker.WorkerBusy as busy:
        click.echo(f"recorder: {busy}; nothing done", err=True)
        ctx.exit(EXIT_OK)
    finally:
        engine.dispose()
    _report(summary, as_json)
    if metrics_file is not None:
        _write_metrics(metrics_file, summary, pulse_counts)
    if isinstance(summary.fatal, PulseAuthError):
        ctx.exit(EXIT_AUTH)
    if summary.fatal is not None:
        ctx.exit(EXIT_USAGE)
    ctx.exit(EXIT_FAILED if summary.failed else EXIT_OK)


async def _run(ctx: Context, pulse_url: str, api_key: str, options: worker.RunOptions, model: str,
               language: str, rpm: int) -> tuple[worker.RunSummary, dict[str, int]]:
    """The run's summary and the Pulse client's own counts (429s, retries)."""
    async with PulseClient(pulse_url, api_key, model=model, language=language, per_minute=rpm) as pulse:
        bar = _progress(ctx, options)
        try:
            summary = await worker.run(ctx, pulse, options, on_result=bar)
        finally:
            bar.close()
        return summary, {"pulse_429": pulse.rate_limited, "retries": pulse.retries}


def _write_metrics(path: Path, summary: worker.RunSummary, pulse_counts: dict[str, int]) -> None:
    from recorder.metrics import write_transcribe_textfile

    try:
        write_transcribe_textfile(path, {
            "recordings": summary.transcribed, "skipped": summary.skipped,
            "failures": summary.failed, "pulse_requests": summary.pulse_requests,
            "elapsed_seconds": summary.elapsed_s, **pulse_counts,
        })
    except OSError as exc:
        raise click.ClickException(f"cannot write --metrics-file {path}: {exc}") from exc


class _Progress:
    """A tqdm bar on a terminal; nothing otherwise (the worker logs one line per recording)."""

    def __init__(self, total: int | None) -> None:
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="rec", desc="transcribe", file=sys.stderr)

    def __call__(self, result: worker.Result) -> None:
        if self.bar is not None and result.status in ("transcribed", "skipped", "failed"):
            self.bar.update(1)
            self.bar.set_postfix_str(result.status)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _progress(ctx: Context, options: worker.RunOptions) -> _Progress:
    if not sys.stderr.isatty():
        return _Progress(None)
    try:
        total: int | None = worker.pending(ctx, options)
    except Exception:  # the bar is a nicety; the run reports errors itself
        total = None
    return _Progress(total)


def _report(summary: worker.RunSummary, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(summary.as_dict(), indent=2))
    else:
        s = summary
        click.echo(
            f"transcribed {s.transcribed}, skipped {s.skipped}, failed {s.failed}, "
            f"audio {s.audio_seconds / 60:.1f} min, Pulse requests {s.pulse_requests}, "
            f"elapsed {s.elapsed_s:.1f} s" + (f", still queued {s.queued_left}" if s.queued_left else "")
        )
    for sid, reason in summary.failures:
        click.echo(f"failed {sid}: {reason}", err=True)
    if summary.fatal is not None:
        click.echo(f"recorder: error: run stopped: {summary.fatal}", err=True)

