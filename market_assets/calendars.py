"""Exchange trading sessions (exchange_calendars), without Dagster."""

from __future__ import annotations

import datetime as dt
import functools

import pandas as pd


@functools.lru_cache(maxsize=8)
def _calendar(name: str, start: dt.date):
    import exchange_calendars as xc

    try:
        return xc.get_calendar(name, start=pd.Timestamp(start))
    except xc.errors.InvalidCalendarName:
        raise ValueError(
            f"unknown exchange calendar {name!r}: expected an exchange_calendars code such as "
            "'XNYS', 'XLON' or 'XTKS'"
        ) from None


def sessions_between(name: str, start: dt.date, end: dt.date) -> list[dt.date]:
    """Trading sessions of calendar ``name`` with ``start <= session <= end``."""
    calendar = _calendar(name, start)
    last = min(pd.Timestamp(end), calendar.last_session)
    return [ts.date() for ts in calendar.sessions_in_range(pd.Timestamp(start), last)]


def non_session_weekdays(name: str, start: dt.date) -> list[dt.date]:
    """Weekdays from ``start`` to the calendar's horizon that are not sessions
    (holidays and unscheduled closures)."""
    calendar = _calendar(name, start)
    weekdays = pd.bdate_range(pd.Timestamp(start), calendar.last_session)
    return [ts.date() for ts in weekdays.difference(calendar.sessions)]


def calendar_timezone(name: str, start: dt.date) -> str:
    """The exchange's time zone, e.g. ``America/New_York`` for XNYS."""
    return str(_calendar(name, start).tz)
