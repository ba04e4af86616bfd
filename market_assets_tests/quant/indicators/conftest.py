"""Shared fixtures: a seeded random-walk OHLCV panel with a split."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest


def make_panel(n_symbols: int = 3, n_sessions: int = 600, seed: int = 7, split: bool = True) -> pl.DataFrame:
    """Random-walk OHLCV (long format, price schema); symbol 0 has a 2:1 split mid-way if ``split``."""
    rng = np.random.default_rng(seed)
    dates = [dt.date(2015, 1, 1) + dt.timedelta(days=int(d)) for d in range(int(n_sessions * 1.5))]
    dates = [d for d in dates if d.weekday() < 5][:n_sessions]
    frames = []
    for k in range(n_symbols):
        level = 20.0 * (k + 1)
        ret = rng.standard_t(4, n_sessions) * 0.012
        close = level * np.exp(np.cumsum(ret))
        open_ = close * np.exp(rng.normal(0, 0.006, n_sessions))
        high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.008, n_sessions)))
        low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.008, n_sessions)))
        volume = np.round(rng.lognormal(13, 0.5, n_sessions))
        factor = np.ones(n_sessions)
        if split and k == 0:
            factor[: n_sessions // 2] = 2.0  # raw prices before the split are twice the adjusted ones
        frames.append(pl.DataFrame({
            "date": dates, "symbol": f"SYM{k:02d}",
            "open": open_ * factor, "high": high * factor, "low": low * factor, "close": close * factor,
            "adj_close": close, "volume": volume * np.where(factor > 1, 0.5, 1.0), "source": "synthetic",
        }))
    return pl.concat(frames).sort("date", "symbol")


@pytest.fixture(scope="session")
def panel() -> pl.DataFrame:
    return make_panel()
