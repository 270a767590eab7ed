"""Retention policies: durations, tenant fallback to the default, what is due and what is held."""

from __future__ import annotations

import datetime as dt

import pytest

from recorder.errors import ConfigError
from recorder.retention_policy import CallData, RetentionPolicy, expiries, parse_days, parse_retention

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(("raw", "days"), [(90, 90), ("90d", 90), ("12w", 84), ("7y", 2555), (" 1 ", 1)])
def test_durations(raw: object, days: int) -> None:
    assert parse_days(raw, "k", "test") == days


@pytest.mark.parametrize("raw", [0, -1, "0d", "ninety", "7 years", True, 1.5, "", "36501d", None])
def test_bad_durations_name_the_key(raw: object) -> None:
    with pytest.raises(ConfigError, match="retention.default.originals"):
        parse_retention({"default": {"originals": raw}}, "file.toml")


def test_tenant_inherits_what_it_leaves_open() -> None:
    p = parse_retention({"default": {"originals": "90d", "transcripts": 30},
                         "tenants": {"acme": {"originals": 30}}}, "f")
    assert p.for_tenant("acme") == RetentionPolicy(originals=30, redacted=None, transcripts=30)
    assert p.for_tenant("other") == p.for_tenant(None) == RetentionPolicy(90, None, 30)
    with pytest.raises(ConfigError, match="unknown key"):
        parse_retention({"defaults": {}}, "f")
    assert not parse_retention({}, "f").configured


def test_expiries_only_for_present_kinds_and_held_is_never_due() -> None:
    p = parse_retention({"default": {"originals": 10, "redacted": 100}}, "f")
    calls = [CallData("a", None, T0, frozenset({"originals", "redacted", "transcripts"}), held=False),
             CallData("b", None, T0, frozenset({"originals"}), held=True),
             CallData("c", None, T0, frozenset({"redacted"}), held=False)]
    now = T0 + dt.timedelta(days=10)
    got = [(e.session_id, e.kind, e.expired, e.due) for e in expiries(calls, p, now)]
    assert got == [("a", "originals", True, True), ("b", "originals", True, False),
                   ("a", "redacted", False, False), ("c", "redacted", False, False)]
    assert all(e.expires_at in (T0 + dt.timedelta(days=10), T0 + dt.timedelta(days=100))
               for e in expiries(calls, p, now))
