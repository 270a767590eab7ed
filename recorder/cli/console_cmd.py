"""`recorder console [--listen HOST:PORT]`: the auditors' web console (read-only)."""

from __future__ import annotations

from pathlib import Path

import click

from recorder.cli.options import build_settings, common_options, local_archives_only
from recorder.config import parse_host_port


@click.command()
@click.option("--listen", default="127.0.0.1:8780", show_default=True, help="HOST:PORT to serve on (port 0: any).")
@click.option("--keys", "keys_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Key store with the auditor identity (and, for break-glass, the archive identity); "
                   "default HOME/keys.")
@click.option("--certfile", type=click.Path(exists=True, dir_okay=False), help="Serve HTTPS with this certificate.")
@click.option("--keyfile", type=click.Path(exists=True, dir_okay=False), help="The certificate's private key.")
@click.option("--behind-tls", is_flag=True,
              help="A TLS-terminating proxy is in front: mark cookies Secure even on plain HTTP.")
@common_options
def console(listen: str, keys_dir: Path | None, certfile: str | None, keyfile: str | None, behind_tls: bool,
            config_file: Path | None, home: Path | None, database_url: str | None, log_level: str | None) -> None:
    """Serve the web console: calls, transcripts, redacted audio, usage; break-glass for supervisors.

    Users come from `recorder users add`. Every page view and download goes on the access log.
    """
    import socket

    import uvicorn

    from recorder.console.app import create_app
    from recorder.console.state import ConsoleConfig
    from recorder.db.engine import open_database

    if bool(certfile) != bool(keyfile):
        raise click.UsageError("--certfile and --keyfile go together")
    settings = build_settings(config_file, log_level, home=home, database_url=database_url)
    local_archives_only(settings, "console")
    host, port = parse_host_port(listen, "listen")
    engine = open_database(settings.effective_database_url)
    config = ConsoleConfig(home=settings.home, keys_dir=keys_dir or settings.home / "keys",
                           secure_cookies=behind_tls or bool(certfile))
    app = create_app(config, engine)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)  # connections made before uvicorn starts wait in the backlog
    scheme = "https" if certfile else "http"
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    server = uvicorn.Server(uvicorn.Config(app, log_level=settings.log_level.lower(), access_log=False,
                                           ssl_certfile=certfile, ssl_keyfile=keyfile, server_header=False,
                                           proxy_headers=behind_tls))
    click.echo(f"console listening on {scheme}://{shown}:{sock.getsockname()[1]}", nl=True)
    try:
        server.run(sockets=[sock])
    finally:
        engine.dispose()

