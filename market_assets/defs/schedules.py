"""Nightly schedules in the exchange's time zone."""

import datetime as dt

import dagster as dg

from market_assets.calendars import calendar_timezone, sessions_between
from market_assets.defs.jobs import daily_job, labels_job, training_job
from market_assets.quant.labels import MAX_HORIZON, last_labelable_session
from market_assets.settings import load_settings

SETTINGS = load_settings()
TIMEZONE = calendar_timezone(SETTINGS.calendar, SETTINGS.start_date)


def sessions_to_run(day: dt.date, calendar: str, start: dt.date) -> tuple[str, str | None] | None:
    """(session to materialize, session whose labels just closed) for the evening of ``day``.

    None when ``day`` is not a session; the labels session is None while fewer
    than :data:`MAX_HORIZON` sessions precede ``day``.
    """
    history = sessions_between(calendar, start, day)
    if not history or history[-1] != day:
        return None
    labelled = last_labelable_session(history, day, MAX_HORIZON)
    return day.isoformat(), labelled.isoformat() if labelled else None


@dg.schedule(
    cron_schedule="30 18 * * 1-5",
    execution_timezone=TIMEZONE,
    job=daily_job,
    description="After the close: prices, regimes, features and predictions of today's session.",
)
def nightly_schedule(context: dg.ScheduleEvaluationContext):
    day = context.scheduled_execution_time.date()
    keys = sessions_to_run(day, SETTINGS.calendar, SETTINGS.start_date)
    if keys is None:
        return dg.SkipReason(f"{day} is not a {SETTINGS.calendar} session")
    return dg.RunRequest(run_key=f"daily-{keys[0]}", partition_key=keys[0])


@dg.schedule(
    cron_schedule="45 18 * * 1-5",
    execution_timezone=TIMEZONE,
    job=labels_job,
    description=f"After the close: labels and feature IC of the session {MAX_HORIZON} sessions back.",
)
def labels_schedule(context: dg.ScheduleEvaluationContext):
    day = context.scheduled_execution_time.date()
    keys = sessions_to_run(day, SETTINGS.calendar, SETTINGS.start_date)
    if keys is None or keys[1] is None:
        return dg.SkipReason(f"no session's {MAX_HORIZON}-session label window closed on {day}")
    return dg.RunRequest(run_key=f"labels-{keys[1]}", partition_key=keys[1])


weekly_training_schedule = dg.build_schedule_from_partitioned_job(
    training_job,
    name="weekly_training_schedule",
    description="Sunday evening: train the coming week's model on every label closed so far.",
    hour_of_day=20,
    day_of_week=0,
)

SCHEDULES = [nightly_schedule, labels_schedule, weekly_training_schedule]
