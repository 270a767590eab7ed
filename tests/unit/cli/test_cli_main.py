"""The command table: `recorder --help` imports no command, yet says what each one does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest

from recorder.cli.main import COMMANDS, cli

HEAVY = ("numpy", "soundfile", "soxr", "websockets", "alembic", "httpx", "sqlalchemy")


def _first_paragraph(command: click.Command) -> str:
    return " ".join((command.help or "").split("\n\n")[0].split())


def _walk(command: click.Command, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], click.Command]]:
    out = [(path, command)]
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None
            out += _walk(sub, (*path, name))
    return out


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_table_says_what_the_command_says(name: str) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert command is not None and command.name == name
    assert COMMANDS[name][1] == _first_paragraph(command)


def test_every_option_of_every_command_has_help() -> None:
    missing = [
        f"recorder {' '.join(path)} {param.opts[0]}"
        for name in COMMANDS
        for path, command in _walk(cli.get_command(click.Context(cli), name), (name,))  # type: ignore[arg-type]
        for param in command.params
        if isinstance(param, click.Option) and not param.hidden and not param.help
    ]
    assert missing == []


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "recorder.cli.main", *args], capture_output=True,
                          text=True, timeout=60)


def test_help_lists_every_command_without_importing_any() -> None:
    shown = _run("--help")
    assert shown.returncode == 0, shown.stderr
    listed = [line.split()[0] for line in shown.stdout.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == sorted(COMMANDS)
    probe = (
        "import runpy, sys\n"
        "sys.argv = ['recorder', '--help']\n"
        "try:\n    runpy.run_module('recorder.cli.main', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    loaded = set(done.stdout.split("\n"))
    assert not {m for m in loaded if m.startswith("recorder.cli.") and m.endswith("_cmd")}
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}


def test_verify_help_names_the_export_command() -> None:
    shown = _run("verify", "--help")
    assert shown.returncode == 0
    assert "recorder keys export-public" in " ".join(shown.stdout.split())


def test_listen_port_out_of_range_is_called_that_before_anything_is_created(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for args in (["proxy", "--home", str(home)], ["simulate", "hydra"], ["simulate", "pulse"]):
        done = _run(*args, "--listen", "127.0.0.1:99999")
        assert done.returncode == 2, (args, done.stderr)
        assert "port 99999 is out of range" in done.stderr and "Traceback" not in done.stderr
    assert not home.exists()
