"""Monthly regime refits: a session's probabilities never depend on how a run batches the sessions."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from market_assets.calendars import sessions_between
from market_assets.sources import build_source
from market_assets.workflow.regimes import (
    FIT_SESSIONS,
    LOOKBACK_SESSIONS,
    MAX_MONTH_SESSIONS,
    VOL_WINDOW,
    month_starts,
    regime_probabilities_for,
)

CALENDAR = "XNYS"
# August 2023 has 23 sessions (MAX_MONTH_SESSIONS): its last one needs the longest history.
MONTH = sessions_between(CALENDAR, dt.date(2023, 8, 1), dt.date(2023, 8, 31))
MID, LAST = dt.date(2023, 8, 15), MONTH[-1]


@pytest.fixture(scope="module")
def prices() -> pl.DataFrame:
    source = build_source("synthetic", n_symbols=6, start="2020-06-01", end="2023-09-30", defects=False)
    return source.fetch(dt.date(2020, 6, 1), dt.date(2023, 9, 30))


def _window(prices: pl.DataFrame, first: dt.date, last: dt.date, lookback: int) -> pl.DataFrame:
    """What the asset loads for a run of ``first..last``: ``lookback`` sessions before ``first``, then the run."""
    dates = prices["date"].unique().sort()
    start = dates.filter(dates < first).tail(lookback).min()
    return prices.filter(pl.col("date").is_between(start, last))


def _run(prices, first, last, lookback=LOOKBACK_SESSIONS):
    sessions = [d for d in MONTH if first <= d <= last]
    frame, fits = regime_probabilities_for(_window(prices, first, last, lookback), sessions, calendar=CALENDAR,
                                           n_init=2)
    return frame, fits


def test_the_month_start_is_the_calendar_first_session() -> None:
    starts = month_starts(CALENDAR, [dt.date(2024, 1, 16), dt.date(2024, 3, 15), dt.date(2024, 1, 3)])
    assert starts == {(2024, 1): dt.date(2024, 1, 2), (2024, 3): dt.date(2024, 3, 1)}  # 1 January is a holiday
    with pytest.raises(ValueError, match=r"no session in month\(s\) \[\(2024, 6\)\]"):
        month_starts(CALENDAR, [dt.date(2024, 6, 1)])  # a Saturday, before June's first session


def test_lookback_covers_the_month_start_for_every_session() -> None:
    sessions = sessions_between(CALENDAR, dt.date(2000, 1, 1), dt.date(2030, 12, 31))
    longest = max(Counter((d.year, d.month) for d in sessions).values())
    assert longest <= MAX_MONTH_SESSIONS
    assert LOOKBACK_SESSIONS >= (longest - 1) + FIT_SESSIONS + VOL_WINDOW


@pytest.mark.slow
def test_a_session_alone_equals_the_same_session_inside_its_month(prices: pl.DataFrame) -> None:
    assert len(MONTH) == MAX_MONTH_SESSIONS
    month, month_fits = _run(prices, MONTH[0], LAST)
    assert [f.month_start for f in month_fits] == [dt.date(2023, 8, 1)]
    assert month_fits[0].fit_end == dt.date(2023, 7, 31) and month_fits[0].fit_rows == FIT_SESSIONS
    for day in (MID, LAST):
        alone, fits = _run(prices, day, day)
        assert fits[0].fit_end == dt.date(2023, 7, 31)
        assert alone["p_bull"].null_count() == 0
        assert_frame_equal(alone, month.filter(pl.col("date") == day))
    part, _ = _run(prices, dt.date(2023, 8, 14), dt.date(2023, 8, 22))
    assert_frame_equal(part, month.filter(pl.col("date").is_between(dt.date(2023, 8, 14), dt.date(2023, 8, 22))))


@pytest.mark.slow
def test_less_history_than_the_lookback_changes_the_model(prices: pl.DataFrame) -> None:
    # the comparison above can fail: one session short, the last fit row set differs
    enough, _ = _run(prices, LAST, LAST)
    short, fits = _run(prices, LAST, LAST, lookback=LOOKBACK_SESSIONS - 1)
    assert fits[0].fit_rows == FIT_SESSIONS - 1
    assert short["p_bull"][0] != enough["p_bull"][0]
