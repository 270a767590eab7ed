"""Everything the proxy needs before it accepts a call: database, keys, recovered journals."""

from __future__ import annotations

import logging

from recorder.config import Settings
from recorder.crypto.keys import KeyStore
from recorder.db.engine import make_engine, upgrade
from recorder.private import make_private_dir, warn_if_open
from recorder.proxy.recording import Recorder

log = logging.getLogger(__name__)


def prepare_recorder(settings: Settings, *, recover: bool = True) -> Recorder:
    """Migrate, make sure keys exist (the embedded default creates them), recover orphans.

    Blocking: call it before serving or from a worker thread.
    """
    warn_if_open(make_private_dir(settings.home))
    upgrade(settings.effective_database_url)
    keystore = KeyStore(settings.home / "keys")
    if not keystore.list():
        keystore.init()  # `recorder proxy` says once where, and what that means
    recorder = Recorder(settings, make_engine(settings.effective_database_url), keystore)
    if recover:
        for result in recorder.recover():
            log.warning("recovered call %s from its journal: %s (%s)",
                        result.session_id, result.state, result.reason)
    return recorder
