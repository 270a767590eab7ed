"""What the forwarding process needs before it accepts a call: keys and the spool.

The database (migrations, rows) and orphaned journals are the archiver process's business, so
the proxy listens at once, whatever the spool holds.
"""

from __future__ import annotations

from recorder.config import Settings
from recorder.crypto.keys import KeyStore
from recorder.proxy.recording import Recorder


def prepare_recorder(settings: Settings) -> Recorder:
    """Make sure keys exist (the embedded default creates them). Blocking, and quick."""
    keystore = KeyStore(settings.home / "keys")
    if not keystore.list():
        keystore.init()  # says once that production keeps identities off proxy hosts
    return Recorder(settings, keystore)
