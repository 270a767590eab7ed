"""`recorder console` refuses bad options before it opens anything."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from recorder.cli.main import cli


def test_a_certificate_needs_its_key(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("not used")
    result = CliRunner().invoke(cli, ["console", "--home", str(tmp_path), "--certfile", str(cert)])
    assert result.exit_code == 2 and "--certfile and --keyfile go together" in result.output
    assert not (tmp_path / "recorder.db").exists()


def test_a_bad_listen_address_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["console", "--home", str(tmp_path), "--listen", "localhost"])
    assert result.exit_code == 2 and "expected HOST:PORT" in result.output
    assert not (tmp_path / "recorder.db").exists()
