"""Partitions: one daily partition per exchange trading session."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence

import dagster as dg

from market_assets.calendars import calendar_timezone, non_session_weekdays
from market_assets.settings import Settings, load_settings

WEEKENDS = "0 0 * * 6,0"


def session_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    """Daily partitions over the sessions of ``settings.calendar``.

    Keys are session dates (``YYYY-MM-DD``): weekends and the exchange's
    holidays are excluded, so a key is a day the market traded.  The current
    day's session is offered from midnight in the exchange's time zone
    (``end_offset=1``) so that the nightly schedule can materialize it after
    the close.
    """
    holidays = non_session_weekdays(settings.calendar, settings.start_date)
    return dg.DailyPartitionsDefinition(
        start_date=settings.start_date.isoformat(),
        timezone=calendar_timezone(settings.calendar, settings.start_date),
        end_offset=1,
        exclusions=[WEEKENDS] + [dt.datetime(d.year, d.month, d.day) for d in holidays],
    )


RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


def partition_dates(keys: Sequence[str]) -> list[dt.date]:
    """Partition keys as sorted dates (input keys can arrive unordered).

    Raises
    ------
    ValueError
        When ``keys`` is empty: a run over no session, which Dagster gives an
        asset whose partition range is reversed (``--partition-range
        2025-03-10...2025-03-03``, or range tags with start after end).  The
        message names both keys of the run's range when called inside a run.
    """
    if not keys:
        raise ValueError(_no_sessions_message())
    return sorted(dt.date.fromisoformat(k) for k in keys)


def _no_sessions_message() -> str:
    """Why a run has no partition key, naming its range when an execution context is current."""
    try:
        tags = dg.AssetExecutionContext.get().run.tags
    except dg.DagsterInvariantViolationError:  # called outside a run
        tags = {}
    start, end = (tags.get(tag) for tag in RANGE_TAGS)
    if start and end and start > end:
        return (
            f"the run's partition range is reversed: start {start} is after end {end}, so it holds no "
            f"session; give the earlier key first (--partition-range {end}...{start}, or tags "
            f"{RANGE_TAGS[0]}={end} and {RANGE_TAGS[1]}={start})"
        )
    shown = f" ({start} … {end})" if start and end else ""
    return (
        f"no partition keys: the run's partition range{shown} holds no session; expected at least one "
        "session key (YYYY-MM-DD) with the range's start on or before its end"
    )


#: The daily session partitions of this deployment (calendar and start from settings).
SESSIONS = session_partitions(load_settings())


def last_day_of_session(session: dt.date, settings: Settings | None = None) -> dt.date:
    """The last calendar day that belongs to ``session``'s partition: the day before the next session.

    Every calendar day belongs to the session on or before it, so a Friday's
    partition also owns the weekend after it (and a holiday that follows).  A
    run fetches its sessions through this day, so rows a provider dates on
    those days reach the same partition in a nightly run as in a backfill.
    Weekdays past the calendar's horizon count as sessions.
    """
    settings = settings or load_settings()
    holidays = _holidays(settings.calendar, settings.start_date)
    day = session + dt.timedelta(days=1)
    while day.weekday() >= 5 or day in holidays:
        day += dt.timedelta(days=1)
    return day - dt.timedelta(days=1)


@functools.lru_cache(maxsize=4)
def _holidays(calendar: str, start: dt.date) -> frozenset[dt.date]:
    return frozenset(non_session_weekdays(calendar, start))


def model_periods(settings: Settings) -> dg.WeeklyPartitionsDefinition:
    """Weekly training periods (weeks start on Sunday, in the exchange's time zone).

    Partition ``W`` is the model used for the sessions of week ``W``: it is
    trained on labels that closed before ``W`` starts.  The first period
    leaves a year of sessions for features and labels to exist.
    """
    first = settings.start_date + dt.timedelta(days=371)
    return dg.WeeklyPartitionsDefinition(
        start_date=first.isoformat(),
        timezone=calendar_timezone(settings.calendar, settings.start_date),
        end_offset=1,  # the current week's model can be trained as soon as the week starts
    )


#: Weekly model training periods: backfilling them is a walk-forward.
MODEL_PERIODS = model_periods(load_settings())
