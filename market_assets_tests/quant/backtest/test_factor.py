"""The factor tear sheet against alphalens-reloaded on a small panel."""

from __future__ import annotations

import alphalens
import numpy as np
import pandas as pd
import polars as pl
import pytest

from market_assets.quant.backtest.factor import factor_tear_sheet, forward_returns
from market_assets.sources.synthetic import planted_predictor

from .conftest import synthetic_prices

PERIODS = (1, 5, 10)


@pytest.fixture(scope="module")
def panel():
    prices = synthetic_prices(25, "2022-01-03", "2022-06-30", signal=0.2, seed=8)
    factor = planted_predictor(prices).rename({"predictor": "factor"}).drop_nulls()
    report = factor_tear_sheet(factor, prices, quantile_horizons=PERIODS)
    wide = prices.to_pandas().pivot(index="date", columns="symbol", values="adj_close")
    wide.index = pd.DatetimeIndex(wide.index)
    series = factor.to_pandas().assign(date=lambda d: pd.DatetimeIndex(d["date"])).set_index(["date", "symbol"])
    series.index = series.index.set_names(["date", "asset"])
    data = alphalens.utils.get_clean_factor_and_forward_returns(
        series["factor"], wide, quantiles=5, periods=PERIODS, max_loss=1.0)
    return report, data


def _by(frame: pl.DataFrame, index: list[str], value: str) -> pd.Series:
    return frame.to_pandas().set_index(index)[value].sort_index()


def test_quantile_returns_equal_alphalens(panel):
    report, data = panel
    mean, std_err = alphalens.performance.mean_return_by_quantile(data, by_date=False, demeaned=True)
    ours = report.quantile_returns
    for h in PERIODS:
        mine = ours.filter(pl.col("horizon") == h).sort("quantile")
        np.testing.assert_allclose(mine["mean_return"].to_numpy(), mean[f"{h}D"].to_numpy(), atol=1e-12)
        np.testing.assert_allclose(mine["std_error"].to_numpy(), std_err[f"{h}D"].to_numpy(), atol=1e-12)
    spread_top = ours.filter((pl.col("horizon") == 1) & (pl.col("quantile") == 5))["mean_return"][0]
    assert spread_top > 0  # the planted signal ranks: not a comparison of zeros


def test_spread_and_factor_returns_equal_alphalens(panel):
    report, data = panel
    by_date, _ = alphalens.performance.mean_return_by_quantile(data, by_date=True, demeaned=True)
    half_spread, _ = alphalens.performance.compute_mean_returns_spread(by_date, 5, 1)
    weighted = alphalens.performance.factor_returns(data)
    for h in PERIODS:
        spread = report.spread.filter(pl.col("horizon") == h)
        theirs = half_spread[f"{h}D"].dropna()
        ours = _by(spread, ["date"], "spread")
        ours.index = pd.DatetimeIndex(ours.index)
        np.testing.assert_allclose(ours.loc[theirs.index].to_numpy() / 2, theirs.to_numpy(), atol=1e-12)
        fr = _by(report.factor_returns.filter(pl.col("horizon") == h), ["date"], "factor_return")
        fr.index = pd.DatetimeIndex(fr.index)
        np.testing.assert_allclose(fr.loc[weighted.index].to_numpy(), weighted[f"{h}D"].to_numpy(), atol=1e-12)


def test_rank_ic_and_turnover_equal_alphalens(panel):
    report, data = panel
    ic = alphalens.performance.factor_information_coefficient(data)
    for h in PERIODS:
        ours = _by(report.ic.filter(pl.col("horizon") == h), ["date"], "rank_ic")
        ours.index = pd.DatetimeIndex(ours.index)
        np.testing.assert_allclose(ours.loc[ic.index].to_numpy(), ic[f"{h}D"].to_numpy(), atol=1e-12)
    for q in (1, 5):
        theirs = alphalens.performance.quantile_turnover(data["factor_quantile"], q, period=1).dropna()
        ours = _by(report.turnover.filter(pl.col("quantile") == q), ["date"], "turnover")
        ours.index = pd.DatetimeIndex(ours.index)
        np.testing.assert_allclose(ours.loc[theirs.index].to_numpy(), theirs.to_numpy(), atol=1e-12)


def test_ic_decays_over_twenty_horizons(panel):
    report, _ = panel
    decay = report.ic_decay
    assert decay["horizon"].to_list() == list(range(1, 21))
    ic1 = decay.filter(pl.col("horizon") == 1)["mean_rank_ic"][0]
    assert ic1 > 0.1  # planted at 0.2 against the next session
    assert decay.filter(pl.col("horizon") == 20)["mean_rank_ic"][0] < ic1


def test_forward_returns_count_grid_rows():
    close = np.array([[10.0], [11.0], [np.nan], [12.0]])
    np.testing.assert_allclose(forward_returns(close, 1)[:, 0], [0.1, np.nan, np.nan, np.nan])
    np.testing.assert_allclose(forward_returns(close, 3)[:, 0], [0.2, np.nan, np.nan, np.nan])
