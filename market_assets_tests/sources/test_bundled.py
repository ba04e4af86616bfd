"""Bundled real history from arch and bokeh_sampledata."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from market_assets.schema import PRICE_SCHEMA
from market_assets.sources.bundled import BundledSource


def test_all_seven_symbols_with_their_spans() -> None:
    source = BundledSource()
    assert source.symbols() == ["AAPL", "FB", "GOOG", "IBM", "MSFT", "^GSPC", "^IXIC"]
    frame = source.fetch(dt.date(1990, 1, 1), dt.date(2030, 1, 1))
    assert frame.schema == pl.Schema(PRICE_SCHEMA)
    assert (frame["source"] == "bundled").all()
    assert frame.equals(frame.sort("date", "symbol"))
    spans = frame.group_by("symbol").agg(first=pl.col("date").min(), last=pl.col("date").max(), n=pl.len())
    gspc = spans.filter(pl.col("symbol") == "^GSPC").row(0, named=True)
    assert (gspc["first"], gspc["last"], gspc["n"]) == (dt.date(1999, 1, 4), dt.date(2018, 12, 31), 5031)
    aapl = spans.filter(pl.col("symbol") == "AAPL").row(0, named=True)
    assert (aapl["first"], aapl["last"]) == (dt.date(2000, 3, 1), dt.date(2013, 3, 1))


def test_gspc_golden_first_row() -> None:
    row = BundledSource(symbols=["^GSPC"]).fetch(dt.date(1999, 1, 4), dt.date(1999, 1, 4)).row(0, named=True)
    assert row["open"] == pytest.approx(1229.229980)
    assert row["high"] == pytest.approx(1248.810059)
    assert row["adj_close"] == pytest.approx(1228.099976)
    assert row["volume"] == 877_000_000


@pytest.mark.parametrize("split_day", [dt.date(2000, 6, 21), dt.date(2005, 2, 28)])
def test_aapl_two_for_one_splits_show_in_close_not_in_adj_close(split_day: dt.date) -> None:
    frame = BundledSource(symbols=["AAPL"]).fetch(split_day - dt.timedelta(days=7), split_day)
    before, on = frame.row(-2, named=True), frame.row(-1, named=True)
    assert on["date"] == split_day
    assert on["close"] / before["close"] == pytest.approx(0.5, abs=0.06)
    assert on["adj_close"] / before["adj_close"] == pytest.approx(1.0, abs=0.11)


def test_unknown_symbol_names_it_and_the_available_ones() -> None:
    with pytest.raises(ValueError, match=r"no bundled history for \['TSLA'\]; available: \['AAPL', 'FB'"):
        BundledSource(symbols=["AAPL", "TSLA"])


def test_range_outside_the_bundled_years_is_empty() -> None:
    assert BundledSource(symbols=["FB"]).fetch(dt.date(2001, 1, 1), dt.date(2001, 12, 31)).is_empty()
