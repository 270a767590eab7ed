"""`recorder usage` on calls placed through the proxy to the Hydra stand-in.

The expected figures are computed from what the client received and sent (each
`response.done`'s usage, each `response.created`, each tool call, each caller audio frame),
never from the recorder's tables. A call the caller hangs up during the greeting has a
response without `response.done`: the reconciliation flags it. SQLite always; PostgreSQL
when configured.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from recorder.simulate.caller import Await, CallScript, CallTranscript
from tests.integration.lifecycle_calls import place_calls, run_cli, session_ids

HANG_UP = CallScript(tools=(), steps=(Await("response.output_audio.delta"),))

# Real calls through the proxy, transcription and a dozen CLI processes: minutes on a busy machine.
pytestmark = pytest.mark.timeout(600)


def _expected(transcripts: list[tuple[str, CallTranscript]]) -> dict[str, dict[str, Any]]:
    """Per tenant, what the client saw: summed usage, response outcomes, tool calls, caller audio."""
    out: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    for tenant, t in transcripts:
        e = out[tenant]
        frames = [json.loads(m) for m in t.received if isinstance(m, str)]
        e["calls"] += 1
        e["responses"] += sum(f.get("type") == "response.created" for f in frames)
        for f in frames:
            if f.get("type") == "response.done":
                r = f["response"]
                e[r["status"]] += 1
                for k in ("input_tokens", "output_tokens", "total_tokens"):
                    e[k] += r["usage"][k]
        e["tool_calls"] += sum(f.get("type") == "response.function_call_arguments.done" for f in frames)
        sent = [json.loads(m) for m in t.sent if isinstance(m, str)]
        e["caller_ms"] += sum(len(base64.b64decode(f["audio"])) / 32
                              for f in sent if f["type"] == "input_audio_buffer.append")
    return out


def test_usage_totals_are_the_sums_of_response_done_usage(
    home: Path, database_url: str, engine: Engine
) -> None:
    tenants = ["acme", "globex", "acme", "hangup"]
    agents = ["ava", "bob", "ava", "ava"]
    scripts = [CallScript(), CallScript(seed=1), CallScript(seed=2), HANG_UP]
    transcripts = place_calls(home, database_url, tenants, scripts=scripts, agents=agents)
    expected = _expected(list(zip(tenants, transcripts, strict=True)))
    assert expected["acme"]["cancelled"] >= 1 and expected["acme"]["tool_calls"] >= 1
    hung_up = session_ids(engine)[3]

    done = run_cli(home, database_url, "usage", "--by", "tenant", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    rows = {r["key"]: r for r in report["rows"]}
    assert set(rows) == {"acme", "globex", "hangup"}
    for tenant in ("acme", "globex"):
        row, e = rows[tenant], expected[tenant]
        assert row["calls"] == e["calls"]
        for k in ("input_tokens", "output_tokens", "total_tokens", "tool_calls", "responses"):
            assert row[k] == e[k], (tenant, k)
        assert (row["completed"], row["cancelled"], row["failed"]) == (e["completed"], e["cancelled"], e["failed"])
        assert abs(row["caller_minutes"] - e["caller_ms"] / 60000) < 0.001
        assert row["reconciliation"] == "ok"
    hang = rows["hangup"]
    assert hang["calls"] == 1 and hang["usage_missing"] == 1 and hang["completed"] == 0
    assert hang["total_tokens"] == 0 and "1 usage missing" in hang["reconciliation"]
    assert [(f["session_id"], f["flags"]) for f in report["flagged_calls"]] == [(hung_up, ["usage_missing"])]
    total = report["total"]
    assert total["calls"] == 4
    assert total["total_tokens"] == sum(e["total_tokens"] for e in expected.values())

    by_agent = json.loads(run_cli(home, database_url, "usage", "--by", "agent", "--json").stdout)
    agent_rows = {r["key"]: r["total_tokens"] for r in by_agent["rows"]}
    assert agent_rows == {"ava": expected["acme"]["total_tokens"] + expected["hangup"]["total_tokens"],
                          "bob": expected["globex"]["total_tokens"]}

    as_csv = run_cli(home, database_url, "usage", "--by", "day", "--csv")
    assert as_csv.returncode == 0, as_csv.stderr
    lines = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [line["day"] for line in lines][-1] == "TOTAL"
    assert int(lines[-1]["total_tokens"]) == total["total_tokens"]
    assert sum(int(line["calls"]) for line in lines[:-1]) == 4

    day = lines[0]["day"]
    later = (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()
    empty = json.loads(run_cli(home, database_url, "usage", "--since", later, "--json").stdout)
    assert empty["rows"] == [] and empty["total"]["calls"] == 0
    bad = run_cli(home, database_url, "usage", "--since", "yesterday")
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr
