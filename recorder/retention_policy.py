"""Retention policies: how long each kind of a call's data is kept, per tenant (pure).

Settings file::

    [recorder.retention.default]      # calls with no X-Recorder-Tenant, and any key a tenant omits
    originals = "90d"                 # the original recording and everything in the archive tier
    redacted = "7y"                   # the bleeped recording (auditor tier)
    transcripts = "7y"                # the redacted transcript file and its database rows

    [recorder.retention.tenants.acme]
    originals = "30d"

A duration is a whole number of days (``90`` or ``"90d"``), weeks (``"12w"``) or years of 365
days (``"7y"``); a kind with no duration anywhere is kept for ever. Time runs from the call's
start. No retention table at all: nothing ever expires.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from recorder.errors import ConfigError

ORIGINALS, REDACTED, TRANSCRIPTS = "originals", "redacted", "transcripts"
KINDS = (ORIGINALS, REDACTED, TRANSCRIPTS)
TRANSCRIPT_FILE = "transcript.json.age"  # the transcription job's redacted transcript
_DURATION = re.compile(r"^\s*(\d{1,6})\s*([dwy]?)\s*$")
_UNIT_DAYS = {"": 1, "d": 1, "w": 7, "y": 365}
MAX_DAYS = 365 * 100


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Days each kind is kept; None: for ever."""

    originals: int | None = None
    redacted: int | None = None
    transcripts: int | None = None

    def days(self, kind: str) -> int | None:
        value: int | None = getattr(self, kind)
        return value

    def over(self, base: RetentionPolicy) -> RetentionPolicy:
        """This policy with ``base`` filling the kinds it leaves open."""
        return RetentionPolicy(*(self.days(k) if self.days(k) is not None else base.days(k) for k in KINDS))


@dataclass(frozen=True, slots=True)
class RetentionPolicies:
    default: RetentionPolicy = RetentionPolicy()
    tenants: Mapping[str, RetentionPolicy] = field(default_factory=dict, hash=False)

    def for_tenant(self, tenant: str | None) -> RetentionPolicy:
        own = self.tenants.get(tenant) if tenant else None
        return own.over(self.default) if own is not None else self.default

    @property
    def configured(self) -> bool:
        return self.default != RetentionPolicy() or bool(self.tenants)


def parse_days(raw: object, where: str, source: str) -> int:
    """``90``, ``"90d"``, ``"12w"``, ``"7y"`` as days; anything else is a ``ConfigError``."""
    text = str(raw) if isinstance(raw, (int, str)) and not isinstance(raw, bool) else ""
    m = _DURATION.match(text)
    days = int(m.group(1)) * _UNIT_DAYS[m.group(2)] if m else -1
    if not 0 < days <= MAX_DAYS:
        raise ConfigError(where, source, f"expected a duration such as 90, \"90d\", \"12w\" or \"7y\" "
                          f"(1 day to 100 years), got {raw!r}")
    return days


def _policy(table: object, where: str, source: str) -> RetentionPolicy:
    if not isinstance(table, Mapping):
        raise ConfigError(where, source, "expected a table of originals / redacted / transcripts")
    unknown = sorted(set(table) - set(KINDS))
    if unknown:
        raise ConfigError(where, source, f"unknown kind(s) {unknown}; known: {list(KINDS)}")
    return RetentionPolicy(**{k: parse_days(table[k], f"{where}.{k}", source) for k in KINDS if k in table})


def parse_retention(table: object, source: str) -> RetentionPolicies:
    """The ``retention`` table of the settings file."""
    if isinstance(table, RetentionPolicies):
        return table
    if not isinstance(table, Mapping):
        raise ConfigError("retention", source, "expected a table with default and tenants")
    unknown = sorted(set(table) - {"default", "tenants"})
    if unknown:
        raise ConfigError("retention", source, f"unknown key(s) {unknown}; expected default and tenants")
    tenants = table.get("tenants", {})
    if not isinstance(tenants, Mapping):
        raise ConfigError("retention.tenants", source, "expected one table per tenant")
    return RetentionPolicies(
        default=_policy(table.get("default", {}), "retention.default", source),
        tenants={str(name): _policy(t, f"retention.tenants.{name}", source) for name, t in tenants.items()},
    )


def kind_of(name: str, tier: str) -> str:
    """Which kind an archive file is: the archive tier is the original, the auditor tier the
    redacted derivatives (the transcript file among them is a transcript)."""
    if tier == "archive":
        return ORIGINALS
    return TRANSCRIPTS if name == TRANSCRIPT_FILE else REDACTED


@dataclass(frozen=True, slots=True)
class CallData:
    """What a retention decision needs to know about one call."""

    session_id: str
    tenant: str | None
    started_at: dt.datetime
    kinds: frozenset[str]  # kinds still present
    held: bool


@dataclass(frozen=True, slots=True)
class Expiry:
    """When one kind of one call's data expires under its tenant's policy."""

    session_id: str
    tenant: str | None
    kind: str
    expires_at: dt.datetime
    expired: bool
    held: bool

    @property
    def due(self) -> bool:
        """Deleted by the next ``retention apply``: expired and not held."""
        return self.expired and not self.held

    def to_json(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "tenant": self.tenant, "kind": self.kind,
                "expires_at": self.expires_at.isoformat(), "expired": self.expired,
                "held": self.held, "due": self.due}


def expiries(calls: list[CallData], policies: RetentionPolicies, now: dt.datetime) -> list[Expiry]:
    """Every present kind of every call that its policy limits, soonest first."""
    out: list[Expiry] = []
    for c in calls:
        policy = policies.for_tenant(c.tenant)
        started = c.started_at if c.started_at.tzinfo else c.started_at.replace(tzinfo=dt.UTC)
        for kind in KINDS:
            days = policy.days(kind)
            if days is None or kind not in c.kinds:
                continue
            at = started + dt.timedelta(days=days)
            out.append(Expiry(c.session_id, c.tenant, kind, at, at <= now, c.held))
    return sorted(out, key=lambda e: (e.expires_at, e.session_id, KINDS.index(e.kind)))

