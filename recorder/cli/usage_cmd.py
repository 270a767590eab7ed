"""`recorder usage`: what the agents cost (Hydra's tokens) against the audio recorded."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import click

from recorder.cli.options import build_settings, common_options, migrated_engine

_COLUMNS = ("calls", "caller_minutes", "agent_minutes", "agent_minutes_received", "responses",
            "completed", "cancelled", "failed", "input_tokens", "output_tokens", "total_tokens",
            "tool_calls", "usage_missing", "tokens_implausible", "recording_incomplete")


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected a date YYYY-MM-DD, got {value!r}") from None


@click.command()
@click.option("--since", callback=_date, metavar="DATE", help="First day (UTC, inclusive), YYYY-MM-DD.")
@click.option("--until", callback=_date, metavar="DATE", help="Last day (UTC, inclusive), YYYY-MM-DD.")
@click.option("--by", type=click.Choice(["day", "agent", "tenant", "model"]), default="day", show_default=True,
              help="What one row of the report stands for.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with the flagged calls).")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV, one line per group and a total.")
@common_options
def usage(since: dt.date | None, until: dt.date | None, by: str, as_json: bool, as_csv: bool,
          config_file: Path | None, home: Path | None, database_url: str | None,
          log_level: str | None) -> None:
    """Calls, audio minutes, responses, tokens and tool calls per day, agent, tenant or model.

    The reconciliation column counts calls whose usage is missing (a response without
    `response.done` usage), whose tokens are implausible for their agent audio, or whose
    recording is incomplete; --json lists those calls (the first 1,000).
    """
    from recorder.audit.usage import MAX_FLAGGED, usage_report
    from recorder.db import usage as rollup
    from recorder.db.engine import transaction

    if as_json and as_csv:
        raise click.UsageError("--json and --csv are exclusive")
    if since and until and since > until:
        raise click.UsageError(f"--since {since} is after --until {until}")
    settings = build_settings(config_file, log_level, home=home, database_url=database_url)
    with migrated_engine(settings) as engine:
        with transaction(engine) as session:
            rollup.backfill(session)  # calls archived before the rollup existed; usually none
        with transaction(engine) as session:
            report = usage_report(session, by=by, since=since, until=until,
                                  flagged=MAX_FLAGGED if as_json else 0)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
        return
    if as_csv:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([by, *_COLUMNS, "reconciliation"])
        for row in (*report.rows, report.total):
            key = "TOTAL" if row is report.total else (row.key if row.key is not None else "")
            writer.writerow([key, *(getattr(row, c) for c in _COLUMNS), row.reconciliation])
        click.echo(out.getvalue(), nl=False)
        return
    click.echo(f"{by.upper():24} {'CALLS':>7} {'CALLER MIN':>10} {'AGENT MIN':>10} {'DONE':>6} "
               f"{'CANC':>5} {'FAIL':>5} {'IN TOK':>10} {'OUT TOK':>10} {'TOTAL TOK':>11} {'TOOLS':>6}  RECONCILIATION")
    for row in (*report.rows, report.total):
        key = "TOTAL" if row is report.total else (row.key if row.key is not None else "-")
        click.echo(f"{key[:24]:24} {row.calls:>7} {row.caller_minutes:>10.2f} {row.agent_minutes:>10.2f} "
                   f"{row.completed:>6} {row.cancelled:>5} {row.failed:>5} {row.input_tokens:>10} "
                   f"{row.output_tokens:>10} {row.total_tokens:>11} {row.tool_calls:>6}  {row.reconciliation}")

