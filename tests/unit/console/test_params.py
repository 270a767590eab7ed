"""Query parameters of the console: limits and clear errors."""

from __future__ import annotations

import datetime as dt

import pytest

from recorder.console.params import BadParameter, call_filter, date_range, page_of


def test_a_full_filter_is_parsed() -> None:
    f = call_filter({"q": " card ", "since": "2026-11-01", "until": "2026-11-02", "agent": "a7",
                     "tenant": "acme", "status": "complete", "min_duration": "1.5", "max_duration": "60"})
    assert f.q == "card" and f.agent == "a7" and f.tenant == "acme" and f.status == "complete"
    assert f.since == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert f.until == dt.datetime(2026, 11, 3, tzinfo=dt.UTC)  # the whole "until" day is included
    assert (f.min_duration_ms, f.max_duration_ms) == (1500, 60_000)


def test_times_keep_their_zone_and_naive_ones_are_utc() -> None:
    since, until = date_range({"since": "2026-11-01T10:00:00+02:00", "until": "2026-11-01T12:00:00"})
    assert since == dt.datetime(2026, 11, 1, 8, tzinfo=dt.UTC)
    assert until == dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)


def test_empty_means_no_filter() -> None:
    f = call_filter({})
    assert (f.q, f.since, f.until, f.agent, f.status, f.min_duration_ms) == ("", None, None, "", "", None)
    assert page_of({}) == 1


@pytest.mark.parametrize(("params", "name"), [
    ({"since": "last week"}, "since"), ({"until": "2026-13-01"}, "until"), ({"status": "done"}, "status"),
    ({"min_duration": "abc"}, "min_duration"), ({"max_duration": "-1"}, "max_duration"),
    ({"q": "x" * 201}, "q"), ({"tenant": "t" * 201}, "tenant"),
])
def test_bad_values_name_the_parameter(params: dict[str, str], name: str) -> None:
    with pytest.raises(BadParameter) as err:
        call_filter(params)
    assert err.value.name == name and name in str(err.value)


@pytest.mark.parametrize("page", ["0", "-3", "1.5", "x", "100001"])
def test_bad_pages_are_refused(page: str) -> None:
    with pytest.raises(BadParameter, match="page"):
        page_of({"page": page})
