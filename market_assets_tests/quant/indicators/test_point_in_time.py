"""Point in time: the future never moves the past; a lookback window reproduces the last row."""

from __future__ import annotations

import numpy as np
import polars as pl

from market_assets.quant.features import FEATURE_SPECS, compute_features, feature_names, max_warmup

from .conftest import make_panel
from .helpers import aapl_panel

HISTORY_DEPENDENT = {"obv", "ad", "sar", "close_to_sar"}


def _scramble_after(prices: pl.DataFrame, cutoff) -> pl.DataFrame:
    rng = np.random.default_rng(99)
    shock = pl.Series(np.exp(rng.normal(0, 0.3, prices.height)))
    after = pl.col("date") > cutoff
    cols = ["open", "high", "low", "close", "adj_close"]
    return prices.with_columns(
        [pl.when(after).then(pl.col(c) * shock).otherwise(pl.col(c)).alias(c) for c in cols]
        + [pl.when(after).then(pl.col("volume") * shock * 3).otherwise(pl.col("volume")).alias("volume")]
    ).with_columns(
        pl.max_horizontal("open", "high", "close").alias("high"), pl.min_horizontal("open", "low", "close").alias("low")
    )


def test_changing_the_future_leaves_every_past_feature_unchanged() -> None:
    prices = make_panel(n_symbols=4, n_sessions=320, seed=3)
    dates = prices["date"].unique().sort()
    cutoff = dates[250]
    before = compute_features(prices).filter(pl.col("date") <= cutoff)
    after = compute_features(_scramble_after(prices, cutoff)).filter(pl.col("date") <= cutoff)
    assert before.columns == after.columns and len(before.columns) == len(feature_names()) + 2
    for name in feature_names():
        a, b = before[name], after[name]
        assert (a.is_null() == b.is_null()).all(), f"{name}: null pattern moved"
        assert a.equals(b), f"{name}: a value at or before {cutoff} changed when later prices changed"
    # and the scramble did change the future (the test can fail)
    later = compute_features(prices, features=["cs_rank_ret_1"]).filter(pl.col("date") > cutoff)
    later2 = compute_features(_scramble_after(prices, cutoff), features=["cs_rank_ret_1"]).filter(
        pl.col("date") > cutoff)
    assert not later["cs_rank_ret_1"].equals(later2["cs_rank_ret_1"])


def _last_row(prices: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    out = compute_features(prices, features=names)
    return out.filter(pl.col("date") == out["date"].max()).sort("symbol")


def test_trailing_window_of_max_warmup_reproduces_the_last_row() -> None:
    lookback = max_warmup()
    aapl = aapl_panel()
    synthetic = make_panel(n_symbols=2, n_sessions=aapl.height, seed=5).sort("symbol", "date")
    synthetic = synthetic.with_columns(date=aapl["date"].append(aapl["date"]))  # same sessions as AAPL
    prices = pl.concat([aapl, synthetic]).sort("date", "symbol")
    dates = prices["date"].unique().sort()
    assert len(dates) > lookback + 100
    names = [n for n in feature_names() if n not in HISTORY_DEPENDENT]
    full = _last_row(prices, names)
    trailing = _last_row(prices.filter(pl.col("date") >= dates[-(lookback + 1)]), names)
    for name in names:
        a, b = full[name].to_numpy().astype(float), trailing[name].to_numpy().astype(float)
        assert not np.isnan(b).all() or np.isnan(a).all(), f"{name}: not computed from the lookback"
        # windowed features: equal up to running-sum rounding (polars rolling sums add and
        # subtract); recursive ones: the seed's influence has decayed below 1e-10
        recursive = any(FEATURE_SPECS[d].memory for d in (name, *FEATURE_SPECS[name].depends))
        tol = {"rtol": 1e-8, "atol": 1e-9} if recursive else {"rtol": 1e-11, "atol": 1e-12}
        np.testing.assert_allclose(a, b, err_msg=name, **tol)


def test_history_dependent_features_are_exactly_the_declared_ones() -> None:
    assert {n for n, s in FEATURE_SPECS.items() if s.history_dependent} == HISTORY_DEPENDENT


def test_a_shorter_lookback_would_not_reproduce_recursive_features() -> None:
    prices = aapl_panel()
    dates = prices["date"].unique().sort()
    full = _last_row(prices, ["ema_200"])["ema_200"][0]
    short = _last_row(prices.filter(pl.col("date") >= dates[-400]), ["ema_200"])["ema_200"][0]
    assert abs(full - short) / full > 1e-8
