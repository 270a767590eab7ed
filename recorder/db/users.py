"""Console users in the database: name, role, password hash, disabled flag.

Only hashes reach this module (``recorder.console.passwords`` makes them); functions take a
``Session`` and the shells commit. A user is never deleted, only disabled, so the access log's
actors keep meaning someone.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from recorder.db.models import ConsoleUser
from recorder.errors import RecorderError

ROLES = ("auditor", "supervisor")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class UserError(RecorderError):
    """A user request that cannot be carried out as asked (bad name or role, already there)."""


@dataclass(frozen=True, slots=True)
class UserInfo:
    name: str
    role: str
    disabled: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    password_hash: str = field(repr=False, default="")


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise UserError(f"user name {name!r} must be 1-64 letters, digits or . _ @ - "
                        "(starting with a letter or digit)")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}")
    return role


def _info(row: ConsoleUser) -> UserInfo:
    return UserInfo(row.name, row.role, row.disabled, row.created_at, row.updated_at, row.password_hash)


def _row(session: Session, name: str) -> ConsoleUser:
    row = session.get(ConsoleUser, name)
    if row is None:
        raise UserError(f"no console user {name!r}; list them with `recorder users list`")
    return row


def add_user(session: Session, name: str, role: str, password_hash: str, *, now: dt.datetime) -> UserInfo:
    check_name(name)
    check_role(role)
    if session.get(ConsoleUser, name) is not None:
        raise UserError(f"user {name!r} already exists; change the password with `recorder users passwd {name}`")
    row = ConsoleUser(name=name, role=role, password_hash=password_hash, disabled=False,
                      created_at=now, updated_at=now)
    session.add(row)
    session.flush()
    return _info(row)


def get_user(session: Session, name: str) -> UserInfo | None:
    row = session.get(ConsoleUser, name)
    return None if row is None else _info(row)


def list_users(session: Session) -> list[UserInfo]:
    return [_info(r) for r in session.scalars(select(ConsoleUser).order_by(ConsoleUser.name))]


def set_disabled(session: Session, name: str, disabled: bool, *, now: dt.datetime) -> UserInfo:
    row = _row(session, name)
    row.disabled = disabled
    row.updated_at = now
    session.flush()
    return _info(row)


def set_password_hash(session: Session, name: str, password_hash: str, *, now: dt.datetime) -> UserInfo:
    row = _row(session, name)
    row.password_hash = password_hash
    row.updated_at = now
    session.flush()
    return _info(row)
