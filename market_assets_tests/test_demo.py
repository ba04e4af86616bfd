"""The demo window: ends at the last closed session, labels and weeks where they can exist."""

import datetime as dt

import pytest

from market_assets.calendars import sessions_between
from market_assets.demo import demo_window
from market_assets.definitions import defs


def test_the_window_ends_at_the_last_session_before_today():
    window = demo_window(dt.date(2026, 12, 1), "XNYS", dt.date(2024, 12, 1))
    assert (window.start, window.end) == (dt.date(2024, 12, 2), dt.date(2026, 11, 30))
    # labels stop where the 20-session window last closed
    sessions = sessions_between("XNYS", window.labels_end, window.end)
    assert len(sessions) == 21
    # nine weekly models, Sunday weeks, the last one holding the last session
    assert window.last_week == dt.date(2026, 11, 29) and window.first_week == dt.date(2026, 10, 4)
    assert window.first_week.weekday() == 6


def test_a_monday_holiday_ends_the_window_on_the_friday_before():
    window = demo_window(dt.date(2026, 1, 20), "XNYS", dt.date(2024, 1, 1))  # 2026-01-19 is MLK day
    assert window.end == dt.date(2026, 1, 16) and window.last_week == dt.date(2026, 1, 11)


def test_too_short_a_history_is_refused_with_the_variable_to_set():
    with pytest.raises(ValueError, match="MARKET_ASSETS_START=2026-06-01"):
        demo_window(dt.date(2026, 12, 1), "XNYS", dt.date(2026, 6, 1))


def test_the_demo_jobs_exist():
    for name in ("features_job", "labels_job", "training_job", "predictions_job", "monitoring_job", "retrain_job"):
        assert defs.resolve_job_def(name).name == name
