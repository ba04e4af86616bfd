"""Small price panels for the backtest tests."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from market_assets.sources import build_source


def synthetic_prices(n_symbols: int, start: str, end: str, *, signal: float = 0.0, seed: int = 11) -> pl.DataFrame:
    """Prices of the synthetic market (no defects)."""
    source = build_source("synthetic", n_symbols=n_symbols, signal_strength=signal, seed=seed)
    return source.fetch(dt.date.fromisoformat(start), dt.date.fromisoformat(end))


@pytest.fixture(scope="module")
def small_prices() -> pl.DataFrame:
    """6 symbols × ~60 sessions with three missing bars (rows removed, as validation would)."""
    prices = synthetic_prices(6, "2021-01-04", "2021-03-31", seed=5)
    dates = sorted(prices["date"].unique().to_list())
    holes = [(dates[10], "SYN001"), (dates[11], "SYN001"), (dates[30], "SYN004")]
    keep = ~pl.any_horizontal([(pl.col("date") == d) & (pl.col("symbol") == s) for d, s in holes])
    return prices.filter(keep)
