"""Password hashing for console users: argon2id (memory-hard) through argon2-cffi.

The library's defaults (RFC 9106 low-memory profile: 64 MiB, 3 passes) are kept, and a hash
made under older parameters is reported by ``needs_rehash`` so sign-in can upgrade it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from recorder.errors import RecorderError

if TYPE_CHECKING:
    from argon2 import PasswordHasher

MIN_LENGTH = 12
MAX_LENGTH = 1024


class WeakPassword(RecorderError):
    """A new password that is too short or too long to accept."""


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher

    return PasswordHasher()


def check_new_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"the password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"the password must have at most {MAX_LENGTH} characters")
    return password


def hash_password(password: str) -> str:
    return _hasher().hash(check_new_password(password))


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches; False for a wrong password or an unreadable hash."""
    from argon2.exceptions import InvalidHashError, VerificationError

    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


def dummy_hash() -> str:
    """A hash of nothing anyone knows, verified against when the user does not exist, so an
    unknown name takes as long to refuse as a wrong password."""
    return _dummy()


@lru_cache(maxsize=1)
def _dummy() -> str:
    import secrets

    return _hasher().hash(secrets.token_urlsafe(24))
