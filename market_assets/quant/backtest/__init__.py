"""Backtests of long-format predictions: pure, vectorised, no Dagster and no I/O.

The one call per period is :func:`run_backtest` (:mod:`.run`); the layers
under it can be used alone:

* :mod:`.panel` — long frames to ``sessions × symbols`` arrays;
* :mod:`.strategies` — signals → intents (long/flat, top-k dropout, classes);
* :mod:`.sizing` — intents → weights (equal, volatility target, Kelly) and limits;
* :mod:`.engine` / :mod:`.stepping` / :mod:`.costs` — weights → fills → returns
  (timing convention in :mod:`.engine`);
* :mod:`.metrics`, :mod:`.summary`, :mod:`.bootstrap` — performance statistics;
* :mod:`.overfitting` — deflated Sharpe, PBO (CSCV), impossible-Sharpe flags;
* :mod:`.factor` — quantile returns, IC decay and turnover of a factor;
* :mod:`.sweep` — one window under several configurations, judged for overfitting;
* :mod:`.report` — a whole walk-forward's metrics, cost sweep, quantile returns and charts.
"""

from market_assets.quant.backtest.costs import CostModel
from market_assets.quant.backtest.engine import EngineState, ExecutionConfig, Simulation, simulate
from market_assets.quant.backtest.panel import MarketPanel, market_panel, signal_panel
from market_assets.quant.backtest.run import BacktestConfig, BacktestResult, BacktestState, run_backtest
from market_assets.quant.backtest.sizing import EqualWeight, FractionalKelly, Limits, VolatilityTarget
from market_assets.quant.backtest.strategies import ClassSizes, LongFlat, TopKDropout

__all__ = [
    "BacktestConfig", "BacktestResult", "BacktestState", "ClassSizes", "CostModel", "EngineState",
    "EqualWeight", "ExecutionConfig", "FractionalKelly", "Limits", "LongFlat", "MarketPanel", "Simulation",
    "TopKDropout", "VolatilityTarget", "market_panel", "run_backtest", "signal_panel", "simulate",
]
