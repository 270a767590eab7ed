"""What one console process holds: the engine, the key store, sign-in state, and the small
caches that make a player's range requests cheap. Shared by the views; thread-safe, because
Starlette runs synchronous views in a thread pool."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from recorder.console.auth import SessionStore, SignedIn, Throttle
from recorder.crypto.keys import KeyStore
from recorder.db.access_log import record_access

logger = logging.getLogger(__name__)

GRANT_TTL_S = 10 * 60
AUDIO_CACHE_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    home: Path
    keys_dir: Path
    secure_cookies: bool = False  # set behind TLS; https requests get Secure cookies anyway


@dataclass(frozen=True, slots=True)
class Grant:
    """A supervisor's break-glass permission for one call, bound to the sign-in that asked."""

    session_key: str
    user: str
    call_id: str
    reason: str
    expires: float


def token() -> str:
    return secrets.token_urlsafe(32)


class ConsoleState:
    def __init__(self, config: ConsoleConfig, engine: Engine) -> None:
        self.config = config
        self.engine = engine
        self.keystore = KeyStore(config.keys_dir)
        self.lock = threading.Lock()
        self.sessions = SessionStore()
        self.throttle = Throttle()
        self._grants: dict[str, Grant] = {}
        self._audio: OrderedDict[tuple[str, str], bytes] = OrderedDict()

    @staticmethod
    def now() -> float:
        return time.monotonic()

    def log(self, who: SignedIn | str, action: str, *, session_id: str | None = None,
            reason: str | None = None, detail: Mapping[str, Any] | None = None) -> int:
        actor = who if isinstance(who, str) else who.user
        return record_access(self.engine, actor=actor, action=action, reason=reason, session_id=session_id,
                             detail={"via": "console", **dict(detail or {})}, now=dt.datetime.now(dt.UTC))

    # --- sign-in -------------------------------------------------------------------------------

    def sign_in(self, user: str, role: str) -> tuple[str, SignedIn]:
        with self.lock:
            return self.sessions.create(user, role, now=self.now(), token=token)

    def signed_in(self, key: str | None) -> SignedIn | None:
        with self.lock:
            return self.sessions.get(key, now=self.now())

    def sign_out(self, key: str | None) -> None:
        with self.lock:
            self.sessions.drop(key)
            for k in [k for k in self._audio if k[0] == key]:
                del self._audio[k]
            for g in [g for g, grant in self._grants.items() if grant.session_key == key]:
                del self._grants[g]

    # --- break-glass grants --------------------------------------------------------------------

    def grant(self, session_key: str, user: str, call_id: str, reason: str) -> str:
        key = token()
        with self.lock:
            now = self.now()
            for g in [g for g, grant in self._grants.items() if grant.expires < now]:
                del self._grants[g]
            self._grants[key] = Grant(session_key, user, call_id, reason, now + GRANT_TTL_S)
        return key

    def get_grant(self, key: str, session_key: str, call_id: str) -> Grant | None:
        with self.lock:
            grant = self._grants.get(key)
        if grant is None or grant.expires < self.now():
            return None
        if grant.session_key != session_key or grant.call_id != call_id:
            return None
        return grant

    # --- the redacted audio of a call, per sign-in (range requests while playing) --------------

    def cached_audio(self, session_key: str, call_id: str) -> bytes | None:
        with self.lock:
            data = self._audio.get((session_key, call_id))
            if data is not None:
                self._audio.move_to_end((session_key, call_id))
            return data

    def cache_audio(self, session_key: str, call_id: str, data: bytes) -> None:
        with self.lock:
            self._audio[(session_key, call_id)] = data
            while sum(len(v) for v in self._audio.values()) > AUDIO_CACHE_BYTES and len(self._audio) > 1:
                self._audio.popitem(last=False)
