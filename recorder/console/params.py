"""Query parameters of the calls list and the usage page, checked: every value has a limit and
a bad one is a ``BadParameter`` naming it (the views answer 400 with its message)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from recorder.audit.queries import CallFilter
from recorder.errors import RecorderError

MAX_TEXT = 200
MAX_PAGE = 100_000
STATUSES = ("complete", "incomplete")


class BadParameter(RecorderError):
    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        self.problem = problem
        super().__init__(f"parameter {name!r}: {problem}")


def _text(params: Mapping[str, str], name: str) -> str:
    value = params.get(name, "").strip()
    if len(value) > MAX_TEXT:
        raise BadParameter(name, f"at most {MAX_TEXT} characters")
    return value


def _date(params: Mapping[str, str], name: str, *, end: bool = False) -> dt.datetime | None:
    """A day (YYYY-MM-DD, UTC) or an ISO time; a bare ``until`` day includes that whole day."""
    value = _text(params, name)
    if not value:
        return None
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
            return start + dt.timedelta(days=1) if end else start
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadParameter(name, "expected a date YYYY-MM-DD or an ISO 8601 time") from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _number(params: Mapping[str, str], name: str, *, low: float, high: float) -> float | None:
    value = _text(params, name)
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise BadParameter(name, "expected a number") from None
    if not low <= number <= high:
        raise BadParameter(name, f"expected {low:g} to {high:g}")
    return number


def page_of(params: Mapping[str, str]) -> int:
    page = _number(params, "page", low=1, high=MAX_PAGE)
    if page is not None and page != int(page):
        raise BadParameter("page", "expected a whole number")
    return 1 if page is None else int(page)


def call_filter(params: Mapping[str, str]) -> CallFilter:
    status = _text(params, "status")
    if status and status not in STATUSES:
        raise BadParameter("status", f"expected one of {', '.join(STATUSES)}")
    min_s = _number(params, "min_duration", low=0, high=86_400)
    max_s = _number(params, "max_duration", low=0, high=86_400)
    return CallFilter(
        q=_text(params, "q"), since=_date(params, "since"), until=_date(params, "until", end=True),
        agent=_text(params, "agent"), tenant=_text(params, "tenant"), status=status,
        min_duration_ms=None if min_s is None else min_s * 1000,
        max_duration_ms=None if max_s is None else max_s * 1000,
    )


def date_range(params: Mapping[str, str]) -> tuple[dt.datetime | None, dt.datetime | None]:
    return _date(params, "since"), _date(params, "until", end=True)
