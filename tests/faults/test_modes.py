"""Private by default: the data dir 0700, its database 0600, no secret on disk or in logs, and
`export --force` never writes through a link that points outside the output directory."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

from recorder.simulate.hydra import HydraSimConfig, run_hydra_sim
from tests.conftest import TEST_API_KEY
from tests.faults.probes import record_calls, short_call
from tests.integration.test_export import run_cli
from tests.integration.test_proxy_records_call import _free_port, _wait_port


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_a_fresh_data_dir_is_private_and_holds_no_secret(tmp_path: Path) -> None:
    home = tmp_path / "fresh" / "home"  # does not exist yet: the proxy creates it
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECORDER_")}
    env["RECORDER_HOME"] = str(home)  # default database: SQLite under the data dir

    async def main() -> tuple[bytes, dict[str, int]]:
        async with run_hydra_sim(HydraSimConfig(seed=6)) as hydra:
            proxy = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "recorder.cli.main", "proxy", "--listen", f"127.0.0.1:{port}",
                "--upstream", hydra.url, "--log-level", "DEBUG", env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                preexec_fn=lambda: os.umask(0o022),  # the usual umask, which leaves files 0644
            )
            try:
                await _wait_port(port, proxy)
                await short_call(f"ws://127.0.0.1:{port}/waves/v1/s2s?model=hydra-v1.1&api_key={TEST_API_KEY}")
                for _ in range(400):  # the call is archived once its ledger head is signed
                    if (home / "ledger-head.json").exists():
                        break
                    await asyncio.sleep(0.05)
                running = {p.name: _mode(p) for p in home.glob("recorder.db*")}  # -wal, -shm open now
            finally:
                proxy.send_signal(signal.SIGTERM)
                _, err = await asyncio.wait_for(proxy.communicate(), 60)
            return err, running

    log, running = asyncio.run(main())
    assert {"recorder.db", "recorder.db-wal", "recorder.db-shm"} <= set(running), running
    assert running == {name: 0o600 for name in running}
    assert _mode(home) == 0o700
    assert _mode(home.parent) == 0o700, "missing parents are created private too"
    databases = sorted(home.glob("recorder.db*"))
    assert home / "recorder.db" in databases
    assert {p.name: _mode(p) for p in databases} == {p.name: 0o600 for p in databases}
    assert b"call " in log, "the proxy logged the call"
    key = TEST_API_KEY.encode()
    assert key not in log
    for path in home.rglob("*"):
        if path.is_file():
            assert key not in path.read_bytes(), f"the API key is in {path.relative_to(home)}"


def _session_id(database_url: str) -> str:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SELECT session_id FROM recordings")).scalar_one())
    finally:
        engine.dispose()


def test_export_force_refuses_links_out_of_the_output_dir(
    home: Path, database_url: str, tmp_path: Path
) -> None:
    record_calls(home, database_url, 1)
    sid = _session_id(database_url)
    precious = tmp_path / "precious.txt"
    precious.write_bytes(b"not yours to overwrite\n")
    args = ("export", sid, "--original", "--reason", "probe", "--force")

    for kind in ("hard", "symbolic"):
        out = tmp_path / f"out-{kind}"
        out.mkdir(mode=0o700)
        (out / "notes.txt").write_text("an earlier export\n")
        if kind == "hard":
            os.link(precious, out / "recording.wav")
        else:
            os.symlink(precious, out / "recording.wav")
        done = run_cli(home, database_url, *args, "--out", str(out))
        assert done.returncode != 0, done.stdout
        assert f"is a {kind} link" in done.stderr, done.stderr
        assert precious.read_bytes() == b"not yours to overwrite\n"
        assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "recording.wav"]

    out = tmp_path / "out-plain"  # a plain earlier file is simply replaced
    out.mkdir(mode=0o700)
    (out / "recording.wav").write_bytes(b"stale")
    done = run_cli(home, database_url, *args, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert (out / "recording.wav").read_bytes()[:4] == b"RIFF"
    assert _mode(out / "recording.wav") == 0o600
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "no temp file left behind"
