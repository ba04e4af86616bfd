"""Partitions: one daily partition per exchange trading session."""

from __future__ import annotations

import datetime as dt

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


def partition_dates(keys: list[str]) -> list[dt.date]:
    """Partition keys as sorted dates (input keys can arrive unordered)."""
    return sorted(dt.date.fromisoformat(k) for k in keys)


#: The daily session partitions of this deployment (calendar and start from settings).
SESSIONS = session_partitions(load_settings())


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
