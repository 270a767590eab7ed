"""What the forwarding process needs before it accepts a call: keys and the spool.

The database (migrations, rows) and orphaned journals are the archiver process's business, so
the proxy listens at once, whatever the spool holds.
"""

from __future__ import annotations

from recorder.config import Settings
from recorder.crypto.keys import KeyStore
from recorder.private import make_private_dir, warn_if_open
from recorder.proxy.recording import Recorder


def prepare_recorder(settings: Settings) -> Recorder:
    """Make sure the data directory is private and keys exist (the embedded default creates
    them; `recorder proxy` says once where, and what that means). Blocking, and quick."""
    warn_if_open(make_private_dir(settings.home))
    keystore = KeyStore(settings.home / "keys")
    if not keystore.list():
        keystore.init()
    return Recorder(settings, keystore)


def first_run_note(settings: Settings) -> str | None:
    """What a start on embedded defaults creates and what that means, said once: None when
    the keys (and the default database) exist already."""
    keys_dir = settings.home / "keys"
    new_keys = not KeyStore(keys_dir).list()
    new_db = not settings.database_url and not (settings.home / "recorder.db").exists()
    created = ([f"the database {settings.home / 'recorder.db'}"] if new_db else []) + (
        [f"keys under {keys_dir}, whose archive and auditor identities decrypt every recording"]
        if new_keys else [])
    if not created:
        return None
    note = f"first run: created {' and '.join(created)}"
    if new_keys:
        note += ("; production keeps identities off proxy hosts: give a proxy host only public "
                 "keys with `recorder keys export-public DIR --with-signing-key`")
    return note

