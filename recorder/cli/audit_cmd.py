"""Auditor commands: `recorder sessions`, `recorder show` and `recorder search`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import click

from recorder.audit.queries import list_sessions, search, show_session
from recorder.cli.options import build_settings, common_options, os_user
from recorder.config import Settings
from recorder.db.access_log import record_access
from recorder.db.engine import open_database, transaction


def _read(settings: Settings, actor: str, action: str, fn: Any, *args: Any,
          detail: dict[str, Any] | None = None) -> Any:
    """Run one read and put it on the access log: every auditor access is on record."""
    engine = open_database(settings.effective_database_url)
    try:
        with transaction(engine) as session:
            result = fn(session, *args)
        session_id = result.get("id") if isinstance(result, dict) else None
        if isinstance(result, list):
            detail = {**(detail or {}), "count": len(result)}
        record_access(engine, actor=actor, action=action, reason=None, session_id=session_id,
                      detail=detail, now=dt.datetime.now(dt.timezone.utc))
        return result
    finally:
        engine.dispose()


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value / 1000:.2f}s"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.option("--limit", type=int, default=None, help="Only the N most recent calls.")
@click.option("--actor", help="Who is reading, for the access log (default: the OS user).")
@common_options
def sessions(as_json: bool, limit: int | None, actor: str | None, config_file: Path | None,
             home: Path | None, database_url: str | None, log_level: str | None) -> None:
    """List recorded calls, most recent first."""
    settings = build_settings(config_file, log_level, home=home, database_url=database_url)
    rows = _read(settings, actor or os_user(), "list_sessions", list_sessions, limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no calls recorded yet")
        return
    click.echo(f"{'ID':36}  {'STARTED':20}  {'DURATION':>9}  {'CLOSE':>5}  HYDRA SESSION")
    for row in rows:
        click.echo(
            f"{row['id']:36}  {(row['started_at'] or '')[:19]:20}  {_ms(row['duration_ms']):>9}  "
            f"{row['close_code'] or '-':>5}  {row['hydra_session_id'] or '-'}"
        )


def _recording(recording: dict[str, Any] | None) -> str:
    if recording is None:
        return "none (not archived)"
    state = recording["state"] + (f" ({recording['reason']})" if recording["reason"] else "")
    return f"{state}, {recording['archive_path']}, manifest v{recording['manifest_version']}"


def render_call(call: dict[str, Any]) -> str:
    """The readable form of `show`: what an auditor wants on one screen."""
    meta = ", ".join(f"{k}={v}" for k, v in sorted(call["metadata"].items())) or "-"
    lines = [
        f"call {call['id']}  (Hydra session {call['hydra_session_id'] or '-'})",
        f"  started {call['started_at']}  ended {call['ended_at']}  duration {_ms(call['duration_ms'])}",
        f"  model {call['model'] or '-'}  voice {call['voice'] or '-'}  tools {', '.join(call['tools']) or '-'}",
        f"  closed by {call['close_side'] or '-'} with {call['close_code']} {call['close_reason'] or ''}".rstrip(),
        f"  metadata {meta}",
        f"  recording {_recording(call.get('recording'))}",
        f"  audio: caller {_ms(call['audio_ms']['caller'])}, agent received "
        f"{_ms(call['audio_ms']['agent_received'])}, heard {_ms(call['audio_ms']['agent_heard'])}",
        f"  usage: {call['usage']['input_tokens']} in / {call['usage']['output_tokens']} out / "
        f"{call['usage']['total_tokens']} total tokens",
        f"  responses ({len(call['responses'])}):",
    ]
    for r in call["responses"]:
        outcome = r["status"] or "unfinished"
        if r["reason"]:
            outcome += f" ({r['reason']})"
        latency = "" if r["latency_ms"] is None else f", latency {r['latency_ms']:.0f} ms"
        lines.append(
            f"    {r['id']:<24} {outcome:<24} heard {_ms(r['audio_ms_heard'])} of "
            f"{_ms(r['audio_ms_received'])}, {r['usage']['total_tokens'] or 0} tokens{latency}"
        )
    lines.append(f"  tool calls ({len(call['tool_calls'])}):")
    for t in call["tool_calls"]:
        lines.append(f"    {t['name']}({t['arguments'] or ''}) -> {t['output'] or '(no output)'}")
    lines.append(f"  errors ({len(call['errors'])}):")
    for e in call["errors"]:
        lines.append(f"    {e['code']}: {e['message']}")
    erased = (call.get("recording") or {}).get("state") == "erased"
    lines += ["  transcript: erased with the recording"] if erased else render_transcript(call.get("transcript"))
    return "\n".join(lines)


def _clock(ms: float) -> str:
    seconds = ms / 1000
    return f"{int(seconds // 60):02d}:{seconds % 60:05.2f}"


def render_transcript(transcript: dict[str, Any] | None) -> list[str]:
    """The redacted transcript, one line per turn: times, speaker, text."""
    if transcript is None:
        return ["  transcript: not transcribed yet (run `recorder transcribe`)"]
    spans = transcript["redaction_spans"]
    types = ", ".join(sorted({s["type"] for s in spans})) or "none"
    lines = [f"  transcript ({transcript['model']}, {len(transcript['turns'])} turns, "
             f"{len(spans)} redactions: {types}):"]
    for t in transcript["turns"]:
        lines.append(f"    [{_clock(t['start_ms'])}-{_clock(t['end_ms'])}] {t['speaker']:>6}: {t['text']}")
    return lines


@click.command()
@click.argument("session_key", metavar="SESSION")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--actor", help="Who is reading, for the access log (default: the OS user).")
@common_options
def show(session_key: str, as_json: bool, actor: str | None, config_file: Path | None,
         home: Path | None, database_url: str | None, log_level: str | None) -> None:
    """Show one call by recorder id or Hydra session id."""
    settings = build_settings(config_file, log_level, home=home, database_url=database_url)
    call = _read(settings, actor or os_user(), "show", show_session, session_key)
    click.echo(json.dumps(call, indent=2) if as_json else render_call(call))


@click.command("search")
@click.argument("query")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True,
              help="At most N matching turns.")
@click.option("--actor", help="Who is reading, for the access log (default: the OS user).")
@common_options
def search_cmd(query: str, as_json: bool, limit: int, actor: str | None, config_file: Path | None,
               home: Path | None, database_url: str | None, log_level: str | None) -> None:
    """Find calls by words in their redacted transcripts (every word must match)."""
    settings = build_settings(config_file, log_level, home=home, database_url=database_url)
    calls = _read(settings, actor or os_user(), "search", search, query, limit,
                  detail={"query_words": len(query.split())})
    if as_json:
        click.echo(json.dumps(calls, indent=2))
        return
    if not calls:
        click.echo("no transcript matches")
        return
    for call in calls:
        click.echo(f"{call['id']}  {(call['started_at'] or '')[:19]}  (Hydra session {call['hydra_session_id'] or '-'})")
        for t in call["turns"]:
            click.echo(f"    [{_clock(t['start_ms'])}] {t['speaker']:>6}: {t['text']}")

