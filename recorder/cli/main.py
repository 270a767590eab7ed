"""The `recorder` command: a table of subcommands, each imported only when it runs.

A command's module (and whatever heavy library it needs) is imported when that command is
invoked or its own help is asked for; `recorder --help` reads the short help from the table
below and imports no command at all. Adding a command is one line in COMMANDS.
"""

from __future__ import annotations

import gc
import importlib
import sys
from typing import Any

import click

from recorder import __version__
from recorder.errors import RecorderError

# name: ("module:attribute", the first paragraph of the command's docstring, which
# `recorder --help` lists without importing the module; a test keeps the two the same).
COMMANDS: dict[str, tuple[str, str]] = {
    "proxy": ("recorder.cli.proxy_cmd:proxy", "Run the transparent recording proxy in front of Hydra."),
    "recover": ("recorder.cli.proxy_cmd:recover",
                "Archive calls whose journals a crash left behind (marked incomplete, with the reason)."),
    "sessions": ("recorder.cli.audit_cmd:sessions", "List recorded calls, most recent first."),
    "show": ("recorder.cli.audit_cmd:show", "Show one call by recorder id or Hydra session id."),
    "search": ("recorder.cli.audit_cmd:search_cmd",
               "Find calls by words in their redacted transcripts (every word must match)."),
    "export": ("recorder.cli.export_cmd:export",
               "Decrypt one call (recorder id or Hydra session id) into DIR (access logged)."),
    "access-log": ("recorder.cli.access_log_cmd:access_log_cmd",
                   "Who accessed which recording, when and why; checks the log's hash chain (exit 1 if broken)."),
    "verify": ("recorder.cli.verify_cmd:verify", "Check signatures, file hashes, the ledger and the rows."),
    "transcribe": ("recorder.cli.transcribe_cmd:transcribe",
                   "Transcribe finalized recordings through Pulse, redact, store and publish the derivatives."),
    "keys": ("recorder.cli.keys_cmd:keys", "Archive, auditor and signing keys: create, list, rotate, rewrap, shred."),
    "redact": ("recorder.cli.redact_cmd:redact", "Redact PII from TEXT, or from JSONL on stdin with --jsonl."),
    "simulate": ("recorder.cli.simulate_cmd:simulate",
                 "Run a local stand-in for a vendor service (real sockets, documented protocol)."),
    "demo": ("recorder.cli.demo_cmd:demo",
             "Run a scripted call through the proxy, transcribe and redact it, and show its record."),
    "db": ("recorder.cli.db_cmd:db", "Database maintenance."),
    "console": ("recorder.cli.console_cmd:console",
                "Serve the web console: calls, transcripts, redacted audio, usage; break-glass for supervisors."),
    "users": ("recorder.cli.users_cmd:users", "Console users: add, list, disable, enable, passwd."),
    "hold": ("recorder.cli.hold_cmd:hold", "Legal holds: a held call cannot be deleted or erased by any command."),
    "erase": ("recorder.cli.erase_cmd:erase",
              "Erase one call (recorder id or Hydra session id): its original and redacted audio, its "
              "transcript files and rows and its tool-call payloads. Times, usage and close code stay."),
    "retention": ("recorder.cli.retention_cmd:retention",
                  "Retention: originals, redacted recordings and transcripts expire per tenant policy."),
    "usage": ("recorder.cli.usage_cmd:usage",
              "Calls, audio minutes, responses, tokens and tool calls per day, agent, tenant or model."),
}


class RecorderGroup(click.Group):
    """Loads commands from COMMANDS on demand; turns our own errors into one clear line and
    exit code 2, never a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, _, attribute = entry[0].partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command), entry[0]
        _resume_collection()
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names))  # as click.Group lays it out
        rows = [(name, _clip(COMMANDS[name][1], limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RecorderError as exc:
            click.echo(f"recorder: error: {exc}", err=True)
            ctx.exit(2)


def _clip(text: str, limit: int) -> str:
    """`text` cut at a word boundary to fit `limit` characters, as click shortens help."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 3, 0)].rsplit(" ", 1)[0].rstrip(",;:") + "..."


@click.group(cls=RecorderGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="recorder")
def cli() -> None:
    """Compliance recording for realtime voice agents on Smallest AI's Hydra."""


_collection_paused = False


def _resume_collection() -> None:
    """Collect garbage again once the command's modules are loaded; what they made lives as
    long as the process, so it is moved out of the collector's way (`gc.freeze`)."""
    global _collection_paused
    if _collection_paused:
        _collection_paused = False
        gc.freeze()
        gc.enable()


def main() -> None:
    """The `recorder` executable. Loading a command's modules (SQLAlchemy's above all) makes
    hundreds of thousands of objects and almost no garbage, so collection is paused until they
    are loaded: nearly a third of a read-only command's start-up went on collecting nothing."""
    global _collection_paused
    _collection_paused = gc.isenabled()
    gc.disable()
    sys.exit(cli(standalone_mode=True))


if __name__ == "__main__":
    main()
