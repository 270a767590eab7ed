"""A whole call through the real `recorder proxy` process to the Hydra stand-in.

The database must hold what crossed the wire, the CLI must show it, SIGTERM must drain, and
the API key must appear nowhere: not in the database, the logs, or RECORDER_HOME.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from recorder.simulate.caller import CallScript, CallTranscript, run_call
from recorder.simulate.hydra import HydraSimConfig, run_hydra_sim
from tests.conftest import TEST_API_KEY
from tests.ports import free_port


def _free_port() -> int:
    return free_port()


def _env(home: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECORDER_")}
    return {**env, "RECORDER_HOME": str(home), "RECORDER_DATABASE_URL": database_url}


def _recorder(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "recorder.cli.main", *args],
        env=env, capture_output=True, text=True, timeout=60,
    )


async def _wait_port(port: int, process: asyncio.subprocess.Process) -> None:
    for _ in range(300):
        if process.returncode is not None:
            raise AssertionError("recorder proxy exited early")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise AssertionError("recorder proxy did not listen")


def _expected(transcript: CallTranscript) -> dict[str, Any]:
    """What the client itself saw, computed independently of the recorder."""
    frames = [json.loads(m) for m in transcript.received if isinstance(m, str)]
    done = [f["response"] for f in frames if f.get("type") == "response.done"]
    calls = [f for f in frames if f.get("type") == "response.function_call_arguments.done"]
    errors = [f["error"] for f in frames if f.get("type") == "error"]
    created = [f for f in frames if f.get("type") == "session.created"]
    return {
        "session_id": created[0]["session_id"],
        "statuses": [(d["id"], d["status"], (d.get("status_details") or {}).get("reason")) for d in done],
        "total_tokens": sum(d["usage"]["total_tokens"] for d in done),
        "tool_calls": [(c["call_id"], c["name"], c["arguments"]) for c in calls],
        "errors": [e["code"] for e in errors],
    }


def test_call_through_proxy_process_is_recorded_and_key_never_stored(
    home: Path, database_url: str, tmp_path: Path
) -> None:
    env = _env(home, database_url)
    port = _free_port()
    log_path = tmp_path / "proxy.log"

    async def main() -> tuple[CallTranscript, int]:
        async with run_hydra_sim(HydraSimConfig(seed=3)) as hydra:
            with log_path.open("w") as log_file:
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "recorder.cli.main", "proxy",
                    "--listen", f"127.0.0.1:{port}", "--upstream", hydra.url,
                    "--log-level", "DEBUG", env=env, stdout=log_file, stderr=log_file,
                )
                await _wait_port(port, process)
                transcript = await run_call(
                    f"ws://127.0.0.1:{port}/waves/v1/s2s?model=hydra-v1.1&api_key={TEST_API_KEY}",
                    CallScript(),
                    api_key=TEST_API_KEY,
                    headers={"Authorization": f"Bearer {TEST_API_KEY}", "X-Recorder-Tenant": "acme"},
                )
                process.send_signal(signal.SIGTERM)
                code = await asyncio.wait_for(process.wait(), 30)
        return transcript, code

    transcript, exit_code = asyncio.run(main())
    assert exit_code == 0
    expected = _expected(transcript)
    assert len(expected["statuses"]) >= 3
    assert any(status == "cancelled" and reason == "interrupted" for _, status, reason in expected["statuses"])
    assert expected["tool_calls"]

    listed = _recorder("sessions", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    sessions = json.loads(listed.stdout)
    assert len(sessions) == 1
    assert sessions[0]["hydra_session_id"] == expected["session_id"]
    assert sessions[0]["metadata"] == {"tenant": "acme"}
    assert sessions[0]["close_code"] == transcript.close_code

    shown = _recorder("show", expected["session_id"], "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    call = json.loads(shown.stdout)
    assert call["recording"]["state"] == "complete"
    assert (home / call["recording"]["archive_path"] / "manifest-0001.json").is_file()
    assert [(r["id"], r["status"], r["reason"]) for r in call["responses"]] == expected["statuses"]
    assert sum(r["usage"]["total_tokens"] for r in call["responses"]) == expected["total_tokens"]
    assert [(t["call_id"], t["name"], t["arguments"]) for t in call["tool_calls"]] == expected["tool_calls"]
    assert all(t["output"] for t in call["tool_calls"])
    assert [e["code"] for e in call["errors"]] == expected["errors"]
    heard = {r["id"]: r for r in call["responses"]}
    for rid, status, _ in expected["statuses"]:
        if status == "cancelled":
            assert heard[rid]["audio_ms_heard"] < heard[rid]["audio_ms_received"]

    text_view = _recorder("show", sessions[0]["id"], "--actor", "auditor-7", env=env)
    assert text_view.returncode == 0
    assert "interrupted" in text_view.stdout

    log = _recorder("access-log", "--json", env=env)
    assert log.returncode == 0, log.stderr
    entries = json.loads(log.stdout)
    entries = entries["entries"] if isinstance(entries, dict) else entries
    assert [e["action"] for e in entries] == ["list_sessions", "show", "show"]
    assert entries[-1]["actor"] == "auditor-7"
    assert entries[-1]["session_id"] == sessions[0]["id"]

    verified = _recorder("verify", env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    assert TEST_API_KEY not in log_path.read_text()
    for path in home.rglob("*"):
        if path.is_file():
            assert TEST_API_KEY.encode() not in path.read_bytes(), path
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            for table in ("sessions", "responses", "tool_calls", "errors"):
                for row in conn.execute(text(f"SELECT * FROM {table}")):
                    assert TEST_API_KEY not in repr(tuple(row)), table
    finally:
        engine.dispose()


def test_show_unknown_session_is_a_clear_error(home: Path, database_url: str) -> None:
    result = _recorder("show", "no-such-call", env=_env(home, database_url))
    assert result.returncode == 2
    assert "no session 'no-such-call'" in result.stderr
    assert "Traceback" not in result.stderr
