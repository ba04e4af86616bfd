"""Schedules: which sessions a tick asks for, holidays skipped, labels 20 sessions back."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from market_assets.calendars import sessions_between
from market_assets.defs.schedules import (
    SETTINGS, labels_schedule, nightly_schedule, sessions_to_run, weekly_training_schedule,
)
from market_assets.definitions import defs
from market_assets.quant.labels import MAX_HORIZON

NEW_YORK = ZoneInfo("America/New_York")


def _tick(schedule, when: dt.datetime):
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=when, repository_def=defs.get_repository_def()
        )
        return list(schedule.evaluate_tick(context).run_requests or []), schedule.evaluate_tick(context).skip_message


def test_sessions_to_run_gives_the_session_and_the_one_whose_labels_closed():
    day = dt.date(2025, 3, 14)
    history = sessions_between("XNYS", dt.date(2024, 1, 2), day)
    assert sessions_to_run(day, "XNYS", dt.date(2024, 1, 2)) == (day.isoformat(), history[-1 - MAX_HORIZON].isoformat())
    # 20 sessions before 2025-03-14 is 2025-02-13 (Presidents' Day 2025-02-17 is not counted)
    assert history[-1 - MAX_HORIZON] == dt.date(2025, 2, 13)


@pytest.mark.parametrize("day", [dt.date(2024, 7, 4), dt.date(2024, 12, 25), dt.date(2025, 3, 15)])
def test_sessions_to_run_skips_holidays_and_weekends(day):
    assert sessions_to_run(day, "XNYS", dt.date(2024, 1, 2)) is None


def test_no_labels_session_before_the_longest_horizon_has_passed():
    start = dt.date(2024, 1, 2)
    sessions = sessions_between("XNYS", start, dt.date(2024, 3, 1))
    assert sessions_to_run(sessions[MAX_HORIZON - 1], "XNYS", start) == (sessions[MAX_HORIZON - 1].isoformat(), None)
    assert sessions_to_run(sessions[MAX_HORIZON], "XNYS", start) == (sessions[MAX_HORIZON].isoformat(), start.isoformat())


def test_nightly_tick_requests_the_evening_session():
    requests, _ = _tick(nightly_schedule, dt.datetime(2025, 3, 14, 18, 30, tzinfo=NEW_YORK))
    assert [(r.partition_key, r.run_key) for r in requests] == [("2025-03-14", "daily-2025-03-14")]


def test_nightly_tick_on_a_holiday_is_skipped_with_a_reason():
    requests, skip = _tick(nightly_schedule, dt.datetime(2024, 7, 4, 18, 30, tzinfo=NEW_YORK))
    assert requests == [] and f"not a {SETTINGS.calendar} session" in skip


def test_labels_tick_requests_the_session_twenty_sessions_back():
    requests, _ = _tick(labels_schedule, dt.datetime(2025, 3, 14, 18, 45, tzinfo=NEW_YORK))
    assert [r.partition_key for r in requests] == ["2025-02-13"]


def test_weekly_training_tick_on_sunday_evening_requests_the_coming_week():
    requests, _ = _tick(weekly_training_schedule, dt.datetime(2025, 3, 16, 20, 0, tzinfo=NEW_YORK))
    assert [r.partition_key for r in requests] == ["2025-03-16"]
