"""Real history: AAPL 2000-03-01 .. 2013-03-01 shipped by bokeh_sampledata (offline)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from market_assets.quant.validation import validate_prices
from market_assets.schema import conform_prices

SPLITS = (dt.date(2000, 6, 21), dt.date(2005, 2, 28))
CRASH = dt.date(2000, 9, 29)  # -52% after a profit warning


@pytest.fixture(scope="module")
def aapl() -> pl.DataFrame:
    from bokeh_sampledata.stocks import AAPL

    frame = pl.DataFrame(AAPL).with_columns(
        pl.col("date").str.to_date(), symbol=pl.lit("AAPL"), source=pl.lit("bundled")
    )
    return conform_prices(frame, where="bokeh_sampledata.stocks.AAPL").sort("date")


def test_whole_aapl_history_passes_with_splits_and_crash(aapl):
    sessions = aapl["date"].to_list()
    assert len(sessions) == 3270
    daily = aapl.with_columns(
        close_ratio=pl.col("close") / pl.col("close").shift(1),
        adj_ratio=pl.col("adj_close") / pl.col("adj_close").shift(1),
    ).filter(pl.col("date").is_in([*SPLITS, CRASH]))
    assert daily["close_ratio"].to_list() == pytest.approx([0.549, 0.481, 0.504], abs=1e-3)
    assert daily["adj_ratio"].to_list() == pytest.approx([1.099, 0.481, 1.008], abs=1e-3)

    result = validate_prices(aapl, sessions=sessions, universe=["AAPL"])
    assert result.rejections.height == 0  # no real defect in this history
    assert all(o.passed for o in result.outcomes)
    assert result.validated.equals(aapl.select(result.validated.columns))


def test_a_split_session_validates_alone_with_its_lookback(aapl):
    split = SPLITS[1]
    window = aapl.filter(pl.col("date") <= split).tail(6)  # 5 lookback sessions + the split day
    result = validate_prices(window, sessions=[split], universe=["AAPL"])
    assert result.validated["date"].to_list() == [split]
    assert result.rejections.height == 0


def test_a_90_percent_tick_in_real_history_is_rejected_and_the_next_day_accepted(aapl):
    bad_day = dt.date(2005, 3, 1)
    raw = aapl.with_columns(
        adj_close=pl.when(pl.col("date") == bad_day).then(pl.col("adj_close") * 0.1).otherwise(pl.col("adj_close"))
    ).filter(pl.col("date").is_between(dt.date(2005, 2, 1), dt.date(2005, 3, 31)))
    sessions = raw.filter(pl.col("date") >= dt.date(2005, 2, 8))["date"].to_list()
    result = validate_prices(raw, sessions=sessions, universe=["AAPL"])
    assert result.rejections.select("date", "reasons").rows() == [(bad_day, "unexplained_jump")]
    assert result.outcome("no_unexplained_jumps").examples[0]["log_jump"] == pytest.approx(-2.3, abs=0.05)
    assert dt.date(2005, 3, 2) in result.validated["date"].to_list()
    # a one-symbol universe: the bad day's session has no valid row left, which blocks
    assert result.outcome("sessions_are_complete").blocks_downstream
