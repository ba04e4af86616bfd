"""One dictionary of every metric of a simulation, and the buy-and-hold benchmark.

Conventions
-----------
* Metrics cover sessions ``1 .. T-1`` of a :class:`~.engine.Simulation`:
  session 0 is the anchor (no trade, return 0 by construction).
* ``turnover`` is the mean over sessions of ``sum |trade value| / NAV before
  the fill`` (two-sided: selling A and buying B with the whole book counts
  2.0); ``annual_turnover`` is that times 252.  ``gross_exposure`` and
  ``net_exposure`` are means over sessions of ``sum |w|`` and ``sum w`` at the
  close; ``time_in_market`` the share of sessions with a non-zero book.
* ``cost_drag`` is the sum over sessions of commission, slippage and borrow
  as fractions of NAV (a simple sum, close to the return lost to costs).
* The **benchmark** is an equal-weight buy-and-hold of the universe bought at
  session 0's close: ``nav_b(t) = mean_i close_i(t) / close_i(0)`` over the
  symbols with a valid bar at session 0 (valued at their last valid close
  across invalid bars), never rebalanced and free of costs.  A chained
  period passes the state's valuation closes: a symbol without a bar on its
  anchor is bought at the close it was last valued at.
"""

from __future__ import annotations

import numpy as np

from market_assets.quant.backtest import metrics as mx
from market_assets.quant.backtest.arrays import sum_last
from market_assets.quant.backtest.engine import Simulation
from market_assets.quant.backtest.panel import MarketPanel
from market_assets.quant.backtest.costs import SESSIONS_PER_YEAR


def buy_and_hold_returns(
    panel: MarketPanel, fill: str = "close", anchor_close: np.ndarray | None = None
) -> np.ndarray:
    """``(T,)`` session returns of the equal-weight buy-and-hold benchmark (return 0 at session 0).

    ``anchor_close`` (``(N,)``, NaN where unknown) stands in for session 0's
    close of the symbols without a valid bar there.
    """
    valid = panel.valid_bars(fill)
    close = np.where(valid, panel.close, np.nan)
    if anchor_close is not None:
        close[0] = np.where(valid[0], close[0], anchor_close)
    rows = np.where(np.isfinite(close), np.arange(close.shape[0])[:, None], 0)
    close = np.take_along_axis(close, np.maximum.accumulate(rows, axis=0), axis=0)
    held = np.isfinite(close[0])
    if not held.any():
        raise ValueError(f"no symbol has a valid bar on the first session {panel.dates[0]}; "
                         "the buy-and-hold benchmark has nothing to buy")
    nav = (close[:, held] / close[0, held]).mean(axis=1)
    return np.concatenate([[0.0], nav[1:] / nav[:-1] - 1.0])


def performance_summary(sim: Simulation, benchmark: np.ndarray | None = None) -> dict[str, np.ndarray | float]:
    """Every metric of :mod:`.metrics` plus trading statistics (see module docstring).

    Values are floats for one portfolio and arrays of the batch shape for a
    batch; NaN where undefined (e.g. a Sharpe with one session).
    """
    r = sim.returns[1:]
    if r.shape[0] == 0:
        raise ValueError("the simulation has a single session (the anchor); metrics need at least two")
    gross = sum_last(np.abs(sim.weights[1:]))
    turnover = sum_last(np.abs(sim.trades[1:])).mean(axis=0)
    total = np.asarray(mx.total_return(r))
    annual = (1.0 + total) ** (SESSIONS_PER_YEAR / r.shape[0]) - 1.0
    drawdown, duration = mx.drawdown_statistics(r)
    var, cvar = mx.tail_risk(r, 0.95)
    m = mx.session_moments(r)
    with np.errstate(divide="ignore", invalid="ignore"):
        calmar = np.where(np.asarray(drawdown) < 0, annual / -np.asarray(drawdown), np.nan)
        sharpe = np.where(m["std"] > 0, m["mean"] / m["std"] * np.sqrt(SESSIONS_PER_YEAR), np.nan)
        sortino = np.where(m["downside"] > 0, m["mean"] * np.sqrt(SESSIONS_PER_YEAR) / m["downside"], np.nan)
        win_rate = np.where(m["n_moving"] > 0, m["n_up"] / m["n_moving"], np.nan)
        profit_factor = np.where(m["losses"] < 0, m["gains"] / -m["losses"], np.nan)
        expectancy = np.where(m["n_moving"] > 0, (m["gains"] + m["losses"]) / m["n_moving"], np.nan)
    out: dict[str, np.ndarray | float] = {
        "total_return": total,
        "annual_return": annual,
        "annual_volatility": m["std"] * np.sqrt(SESSIONS_PER_YEAR),
        "sharpe": sharpe,
        "sortino": sortino,
        "calmar": calmar,
        "max_drawdown": drawdown,
        "max_drawdown_duration": duration,
        "var_95": var,
        "cvar_95": cvar,
        "win_rate": win_rate,
        "profit_factor": profit_factor,
        "expectancy": expectancy,
        "turnover": turnover,
        "annual_turnover": turnover * SESSIONS_PER_YEAR,
        "gross_exposure": gross.mean(axis=0),
        "net_exposure": sum_last(sim.weights[1:]).mean(axis=0),
        "time_in_market": (gross > 0).mean(axis=0),
        "cost_drag": (sim.costs[1:] + sim.borrow[1:]).sum(axis=0),
        "n_sessions": float(r.shape[0]),
    }
    if benchmark is not None:
        out["alpha"], out["beta"] = mx.alpha_beta(r, np.asarray(benchmark)[1:])
    return {k: float(v) if np.ndim(v) == 0 else v for k, v in out.items()}
