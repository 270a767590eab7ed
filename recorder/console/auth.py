"""Sign-in state of the console, pure: sessions with CSRF tokens, and the sign-in throttle.

No clock, no randomness of its own: ``now`` (monotonic seconds) and ``token`` are parameters,
so the rules are tested without waiting. The shell (``recorder.console.app``) holds one
``SessionStore`` and one ``Throttle`` per process behind a lock: a restart signs everybody out
and forgets failed attempts, which errs on the side of asking for the password again.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field, replace

SESSION_IDLE_S = 30 * 60
SESSION_MAX_S = 12 * 60 * 60
MAX_SESSIONS = 10_000


@dataclass(frozen=True, slots=True)
class SignedIn:
    """One signed-in browser: who, with which role, and the CSRF token its forms carry."""

    user: str
    role: str
    csrf: str = field(repr=False)
    created: float
    last_seen: float


class SessionStore:
    """Session token → ``SignedIn``; idle and absolute expiry; at most ``MAX_SESSIONS``."""

    def __init__(self, *, idle_s: float = SESSION_IDLE_S, max_s: float = SESSION_MAX_S,
                 limit: int = MAX_SESSIONS) -> None:
        self.idle_s = idle_s
        self.max_s = max_s
        self.limit = limit
        self._sessions: dict[str, SignedIn] = {}

    def create(self, user: str, role: str, *, now: float, token: Callable[[], str]) -> tuple[str, SignedIn]:
        self._expire(now)
        if len(self._sessions) >= self.limit:  # drop the stalest, never refuse the newest
            del self._sessions[min(self._sessions, key=lambda k: self._sessions[k].last_seen)]
        key = token()
        signed = SignedIn(user, role, token(), now, now)
        self._sessions[key] = signed
        return key, signed

    def get(self, key: str | None, *, now: float) -> SignedIn | None:
        if not key:
            return None
        signed = self._sessions.get(key)
        if signed is None:
            return None
        if now - signed.last_seen > self.idle_s or now - signed.created > self.max_s:
            del self._sessions[key]
            return None
        signed = replace(signed, last_seen=now)
        self._sessions[key] = signed
        return signed

    def drop(self, key: str | None) -> None:
        if key:
            self._sessions.pop(key, None)

    def drop_user(self, user: str) -> None:
        for key in [k for k, s in self._sessions.items() if s.user == user]:
            del self._sessions[key]

    def _expire(self, now: float) -> None:
        for key in [k for k, s in self._sessions.items()
                    if now - s.last_seen > self.idle_s or now - s.created > self.max_s]:
            del self._sessions[key]


def same_token(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison; a missing token never matches."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


@dataclass(frozen=True, slots=True)
class Limit:
    failures: int
    window_s: float
    lockout_s: float


USER_LIMIT = Limit(failures=5, window_s=15 * 60, lockout_s=15 * 60)
ADDRESS_LIMIT = Limit(failures=20, window_s=15 * 60, lockout_s=15 * 60)


class Throttle:
    """Failed sign-ins per key (``user:NAME``, ``addr:IP``) within a window; at the limit the key
    is locked out for ``lockout_s``, even for the right password. A success clears the user key
    only: an address that guesses many names stays throttled."""

    def __init__(self, limits: dict[str, Limit] | None = None, *, max_keys: int = 100_000) -> None:
        self.limits = limits or {"user": USER_LIMIT, "addr": ADDRESS_LIMIT}
        self.max_keys = max_keys
        self._failures: dict[str, list[float]] = {}
        self._locked_until: dict[str, float] = {}

    def retry_after(self, keys: list[str], *, now: float) -> float:
        """Seconds until every key may try again; 0 when none is locked."""
        return max([0.0, *(self._locked_until.get(k, 0.0) - now for k in keys)])

    def failed(self, keys: list[str], *, now: float) -> None:
        if len(self._failures) > self.max_keys:  # bounded memory: forget the oldest entries
            for k in list(self._failures)[: self.max_keys // 10]:
                del self._failures[k]
        for key in keys:
            limit = self.limits[key.split(":", 1)[0]]
            recent = [t for t in self._failures.get(key, []) if now - t < limit.window_s] + [now]
            self._failures[key] = recent
            if len(recent) >= limit.failures:
                self._locked_until[key] = now + limit.lockout_s
                self._failures[key] = []

    def succeeded(self, user_key: str) -> None:
        self._failures.pop(user_key, None)
