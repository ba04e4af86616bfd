"""A sweep of configurations over one window, judged for overfitting (PBO, deflated Sharpe of the best).

Every configuration runs through :func:`.run.run_backtest` on the same
predictions and prices; the sweep keeps their session returns side by side
(``(T - 1, n_configs)``, the anchor session left out), picks the best
in-sample Sharpe and deflates it by the number of configurations tried and
the spread of their Sharpe ratios.  The PBO needs at least two configurations
and ``n_blocks`` blocks of two sessions or more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from market_assets.quant.backtest.metrics import sharpe_ratio
from market_assets.quant.backtest.overfitting import (
    OverfittingReport,
    deflated_sharpe_ratio,
    probability_of_backtest_overfitting,
)
from market_assets.quant.backtest.run import BacktestConfig, run_backtest


@dataclass(frozen=True)
class SweepResult:
    """Returns of every configuration and how much the best one is worth."""

    returns: np.ndarray  #: (sessions, configurations), anchor session excluded
    sharpes: np.ndarray  #: annualised Sharpe per configuration
    best: int  #: index of the highest Sharpe
    deflated_sharpe: float  #: of the best, for len(configs) trials
    overfitting: OverfittingReport  #: PBO by CSCV


def run_sweep(
    predictions: pl.DataFrame, prices: pl.DataFrame, configs: Sequence[BacktestConfig], *, n_blocks: int = 16
) -> SweepResult:
    """Backtest every configuration and report PBO and the deflated Sharpe of the best."""
    if len(configs) < 2:
        raise ValueError(f"{len(configs)} configuration(s); a sweep needs at least 2 to judge overfitting")
    columns = [run_backtest(predictions, prices, c, n_resamples=2).simulation.returns[1:] for c in configs]
    returns = np.column_stack(columns)
    sharpes = np.asarray(sharpe_ratio(returns))
    best = int(np.nanargmax(sharpes))
    per_session = sharpes / np.sqrt(252)
    dsr = deflated_sharpe_ratio(returns[:, best], trial_sharpes=per_session[np.isfinite(per_session)])
    return SweepResult(returns, sharpes, best, dsr, probability_of_backtest_overfitting(returns, n_blocks))
