"""The one call per period: long-format predictions and prices in, daily results, positions and metrics out.

``run_backtest(predictions, prices, config, state=previous.state)`` runs one
period.  Chaining periods through ``state`` gives the same NAV path as one
run over the whole window: the state holds the NAV, positions, the targets
decided at the last close (executed at the next period's first fill), order
and stop-loss flags, the close each symbol is valued at (its last valid bar,
so a symbol without a bar on the anchor keeps its move) and the strategy's
last intents.

Period layout: ``prices`` must contain the state's session (the previous
period's last close, the anchor of this one) and may start earlier, to give
volatility sizing its lookback; the simulation runs from the state's session
(or the first price session without a state) to the last price session.
Predictions before the anchor are ignored; on the anchor itself they were
already used by the previous period (its final targets).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from market_assets.quant.backtest.bootstrap import bootstrap_intervals
from market_assets.quant.backtest.engine import EngineState, ExecutionConfig, Simulation, simulate
from market_assets.quant.backtest.overfitting import deflated_sharpe_ratio, detect_impossible_sharpe
from market_assets.quant.backtest.panel import MarketPanel, market_panel, signal_panel
from market_assets.quant.backtest.sizing import EqualWeight, FractionalKelly, Limits, VolatilityTarget
from market_assets.quant.backtest.strategies import ClassSizes, LongFlat, TopKDropout
from market_assets.quant.backtest.summary import buy_and_hold_returns, performance_summary

_STATE_COLUMNS = ("positions", "targets", "pending", "locked", "entry_ratio", "executed", "valuation_close",
                  "intents")


@dataclass(frozen=True)
class BacktestConfig:
    """Strategy, sizing, limits and execution of one backtest."""

    strategy: LongFlat | TopKDropout | ClassSizes = field(default_factory=LongFlat)  #: signals → intents
    sizing: EqualWeight | VolatilityTarget | FractionalKelly = field(default_factory=EqualWeight)  #: → weights
    limits: Limits = field(default_factory=Limits)  #: per-name, gross and net caps
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)  #: fills, costs, stops
    horizon: int | None = 1  #: prediction horizon to trade (None: predictions hold one)
    signal_column: str = "prediction"  #: the predictions column read as the signal


@dataclass(frozen=True)
class BacktestState:
    """The book at the close of ``date``, per symbol, to continue in the next period."""

    date: dt.date
    symbols: tuple[str, ...]
    engine: EngineState
    intents: np.ndarray  #: the strategy's intents decided at ``date``

    def to_frame(self) -> pl.DataFrame:
        """One row per symbol (``date, nav, symbol`` and the state arrays), for storage."""
        columns = {name: getattr(self.engine, name) for name in _STATE_COLUMNS[:-1]} | {"intents": self.intents}
        return pl.DataFrame({"date": [self.date] * len(self.symbols), "nav": float(self.engine.nav),
                             "symbol": list(self.symbols), **{k: np.asarray(v) for k, v in columns.items()}})

    @classmethod
    def from_frame(cls, frame: pl.DataFrame) -> BacktestState:
        """The inverse of :meth:`to_frame`."""
        col = {name: frame[name].to_numpy() for name in _STATE_COLUMNS}
        engine = EngineState(np.asarray(frame["nav"][0], dtype=np.float64), col["positions"].astype(np.float64),
                             col["targets"].astype(np.float64), col["pending"].astype(bool),
                             col["locked"].astype(np.int8), col["entry_ratio"].astype(np.float64),
                             col["executed"].astype(np.float64), col["valuation_close"].astype(np.float64))
        return cls(frame["date"][0], tuple(frame["symbol"].to_list()), engine, col["intents"].astype(np.float64))

    def aligned(self, symbols: tuple[str, ...]) -> BacktestState:
        """The state on another symbol order; new symbols start flat."""
        where = {s: i for i, s in enumerate(self.symbols)}
        idx = np.array([where.get(s, -1) for s in symbols])

        def pick(a: np.ndarray, empty: float | bool | int) -> np.ndarray:
            out = np.where(idx >= 0, a[np.maximum(idx, 0)], empty)
            return out.astype(a.dtype)

        e = self.engine
        engine = EngineState(e.nav, pick(e.positions, 0.0), pick(e.targets, 0.0), pick(e.pending, True),
                             pick(e.locked, 0), pick(e.entry_ratio, np.nan), pick(e.executed, 0.0),
                             pick(e.valuation_close, np.nan))
        return BacktestState(self.date, symbols, engine, pick(self.intents, 0.0))


@dataclass(frozen=True)
class BacktestResult:
    """What one period produced."""

    daily: pl.DataFrame  #: date, nav, return, benchmark_return, gross/net exposure, turnover, costs, borrow
    #: date, symbol, target (decided at the date's close, filled the next session), weight (at the close),
    #: trade (filled this session, fraction of the NAV before the fill); rows where any is non-zero
    positions: pl.DataFrame
    metrics: dict[str, float]  #: :func:`.summary.performance_summary` plus intervals and Sharpe checks
    state: BacktestState  #: pass to the next period's call
    simulation: Simulation  #: the arrays behind ``daily`` and ``positions``


def run_backtest(
    predictions: pl.DataFrame,
    prices: pl.DataFrame,
    config: BacktestConfig | None = None,
    *,
    state: BacktestState | None = None,
    n_trials: int = 1,
    trial_sharpes: np.ndarray | None = None,
    n_resamples: int = 1000,
    random_state: int = 0,
) -> BacktestResult:
    """Backtest one period of predictions (see module docstring for the period layout).

    Parameters
    ----------
    predictions
        Long format ``date, symbol, horizon, prediction[, confidence]``.
    prices
        Long-format prices (:mod:`market_assets.schema`) covering the period.
    config
        Default: long where the prediction is > 0, equal weight, fills at
        the next open, no costs.
    state
        The previous period's :attr:`BacktestResult.state`.
    n_trials, trial_sharpes
        Configurations tried to pick this one, for the deflated Sharpe ratio.
    n_resamples, random_state
        Block bootstrap of the Sharpe and maximum-drawdown intervals.
    """
    config = config or BacktestConfig()
    symbols = set(prices["symbol"].unique().to_list()) | set(state.symbols if state else ())
    panel = market_panel(prices, tuple(sorted(symbols)))
    start = _anchor(panel, state)
    window = predictions.filter(pl.col("date") >= panel.dates[start].item())
    signal = signal_panel(window, panel, column=config.signal_column, horizon=config.horizon)
    aligned = state.aligned(panel.symbols) if state else None
    intents = np.zeros(panel.shape)
    intents[start:] = _intents(config, signal[start:], window, panel, start, aligned)
    targets = config.limits.apply(config.sizing.weights(intents, signal, panel))[start:]
    period = panel.slice(start)
    sim = simulate(targets, period, config.execution, aligned.engine if aligned else None)
    benchmark = buy_and_hold_returns(period, config.execution.fill,
                                     aligned.engine.valuation_close if aligned else None)
    metrics = _metrics(sim, benchmark, n_trials, trial_sharpes, n_resamples, random_state)
    new_state = BacktestState(period.dates[-1].item(), panel.symbols, sim.final, intents[-1].copy())
    return BacktestResult(_daily(period, sim, benchmark), _positions(period, sim, targets), metrics, new_state, sim)


def _anchor(panel: MarketPanel, state: BacktestState | None) -> int:
    if state is None:
        return 0
    day = np.datetime64(state.date, "D")
    index = int(np.searchsorted(panel.dates, day))
    if index >= len(panel.dates) or panel.dates[index] != day:
        raise ValueError(f"prices do not contain the state's session {state.date}; the period must start at "
                         "the previous period's last session (its anchor)")
    return index


def _intents(config: BacktestConfig, signal: np.ndarray, predictions: pl.DataFrame, panel: MarketPanel,
             start: int, state: BacktestState | None) -> np.ndarray:
    strategy = config.strategy
    extra = {}
    if isinstance(strategy, ClassSizes) and "confidence" in predictions.columns:
        extra["confidence"] = signal_panel(predictions, panel, column="confidence", horizon=config.horizon)[start:]
    if state is None:
        return strategy.intents(signal, None, **extra)
    rest = strategy.intents(signal[1:], state.intents, **{k: v[1:] for k, v in extra.items()})
    return np.vstack([state.intents[None], rest])


def _metrics(sim: Simulation, benchmark: np.ndarray, n_trials: int, trial_sharpes: np.ndarray | None,
             n_resamples: int, random_state: int) -> dict[str, float]:
    metrics = performance_summary(sim, benchmark)
    r = sim.returns[1:]
    if len(r) >= 2:
        for name, interval in bootstrap_intervals(r, n_resamples=n_resamples, random_state=random_state).items():
            metrics[f"{name}_ci_low"], metrics[f"{name}_ci_high"] = interval.low, interval.high
        metrics["deflated_sharpe"] = deflated_sharpe_ratio(r, n_trials=n_trials, trial_sharpes=trial_sharpes,
                                                           sharpe_variance=0.0 if n_trials == 1 else None)
    if len(r) >= 60:
        metrics["impossible_sharpe"] = float(detect_impossible_sharpe(r).impossible)
    return metrics


def _daily(panel: MarketPanel, sim: Simulation, benchmark: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame({
        "date": panel.dates, "nav": sim.nav, "return": sim.returns, "benchmark_return": benchmark,
        "gross_exposure": np.abs(sim.weights).sum(axis=-1), "net_exposure": sim.weights.sum(axis=-1),
        "turnover": np.abs(sim.trades).sum(axis=-1), "costs": sim.costs, "borrow": sim.borrow,
    }).with_columns(pl.col("date").cast(pl.Date))


def _positions(panel: MarketPanel, sim: Simulation, targets: np.ndarray) -> pl.DataFrame:
    T, N = panel.shape
    keep = ((targets != 0) | (sim.weights != 0) | (sim.trades != 0)).ravel()
    return pl.DataFrame({
        "date": np.repeat(panel.dates, N)[keep], "symbol": np.tile(np.array(panel.symbols, dtype=object), T)[keep],
        "target": targets.ravel()[keep], "weight": sim.weights.ravel()[keep], "trade": sim.trades.ravel()[keep],
    }).with_columns(pl.col("date").cast(pl.Date), pl.col("symbol").cast(pl.String))
