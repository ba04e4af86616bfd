"""Exchange trading sessions (exchange_calendars), without Dagster.

exchange_calendars (and pandas under it) take about a second to import, which
every load of the Dagster code location would pay for its partitions.  The
facts the partitions need (holidays and the time zone) are therefore cached
in a small JSON file per calendar, start date and library version, renewed
daily, under the cache directory of the settings
(``MARKET_ASSETS_CACHE_DIR``, else ``$DAGSTER_HOME/market_assets_cache``,
else the user's cache directory), never inside the installed package;
everything else imports the library when called.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from importlib.metadata import version
from pathlib import Path

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """Where calendar facts are cached: ``<settings.cache_dir>/calendars``."""
    from market_assets.settings import load_settings

    return load_settings().cache_dir / "calendars"


@functools.lru_cache(maxsize=8)
def _calendar(name: str, start: dt.date):
    import exchange_calendars as xc
    import pandas as pd

    try:
        return xc.get_calendar(name, start=pd.Timestamp(start))
    except xc.errors.InvalidCalendarName:
        raise ValueError(
            f"unknown exchange calendar {name!r}: expected an exchange_calendars code such as "
            "'XNYS', 'XLON' or 'XTKS'"
        ) from None


def sessions_between(name: str, start: dt.date, end: dt.date) -> list[dt.date]:
    """Trading sessions of calendar ``name`` with ``start <= session <= end``."""
    import pandas as pd

    calendar = _calendar(name, start)
    first = max(pd.Timestamp(start), calendar.first_session)  # ``start`` need not be a session
    last = min(pd.Timestamp(end), calendar.last_session)
    if first > last:
        return []
    return [ts.date() for ts in calendar.sessions_in_range(first, last)]


def non_session_weekdays(name: str, start: dt.date) -> list[dt.date]:
    """Weekdays from ``start`` to the calendar's horizon that are not sessions
    (holidays and unscheduled closures)."""
    return [dt.date.fromisoformat(d) for d in _calendar_facts(name, start)["holidays"]]


def calendar_timezone(name: str, start: dt.date) -> str:
    """The exchange's time zone, e.g. ``America/New_York`` for XNYS."""
    return _calendar_facts(name, start)["timezone"]


@functools.lru_cache(maxsize=8)
def _calendar_facts(name: str, start: dt.date) -> dict:
    today = dt.date.today().isoformat()
    path = cache_dir() / f"{name}-{start}-{version('exchange-calendars')}-{today}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    facts = _compute_facts(name, start)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(facts))
        tmp.replace(path)
        for stale in path.parent.glob(f"{name}-{start}-*.json"):
            if stale != path:
                stale.unlink(missing_ok=True)
    except OSError as error:  # a read-only install still works, only slower to load
        log.debug("calendar cache not written to %s: %s", path, error)
    return facts


def _compute_facts(name: str, start: dt.date) -> dict:
    import pandas as pd

    calendar = _calendar(name, start)
    weekdays = pd.bdate_range(pd.Timestamp(start), calendar.last_session)
    holidays = weekdays.difference(calendar.sessions)
    return {"timezone": str(calendar.tz), "holidays": [ts.date().isoformat() for ts in holidays]}
