"""Performance metrics of session returns; time is axis 0, any further axes are independent portfolios.

Conventions
-----------
* Inputs are **simple** (not log) net returns per session; 252 sessions a
  year; the risk-free rate is 0.
* Returns **compound**: ``total_return = prod(1 + r) - 1`` and
  ``annual_return = (1 + total_return) ** (252 / T) - 1`` (the CAGR).
* ``annual_volatility = std(r, ddof=1) * sqrt(252)``;
  ``sharpe = mean(r) / std(r, ddof=1) * sqrt(252)`` (arithmetic mean).
* ``sortino = mean(r) * 252 / (sqrt(mean(min(r, 0) ** 2)) * sqrt(252))``:
  the downside deviation averages over *all* sessions (zeros above 0).
* ``max_drawdown`` is the most negative ``nav / running_peak - 1`` where the
  NAV path starts at 1 *before* the first return (a first-day loss counts);
  ``max_drawdown_duration`` the longest run of sessions below the running
  peak (from the first session under water to the last one, inclusive);
  ``calmar = annual_return / |max_drawdown|`` (NaN without a drawdown).
* ``value_at_risk`` is the 5 % quantile of session returns (linear
  interpolation, numpy's default; a negative number); ``conditional_value_at_risk``
  the mean of the ``floor((T - 1) * 0.05) + 1`` lowest returns, i.e. those at
  or below the VaR (the two differ only on ties at the quantile).
* **Session statistics, not round trips**: a rebalanced book has no
  unambiguous trade boundaries, so ``win_rate`` is the share of sessions with
  ``r > 0`` among sessions with ``r != 0``, ``profit_factor = sum(r > 0) /
  |sum(r < 0)|`` and ``expectancy`` the mean return of sessions with
  ``r != 0``.
* ``alpha, beta`` against a benchmark: ``beta = cov(r, b) / var(b)``
  (population moments), ``alpha = (1 + mean(r - beta * b)) ** 252 - 1``
  (the daily intercept compounded to a year).
Undefined values (no variance, no losses) are NaN, never 0.
"""

from __future__ import annotations

import numpy as np

from market_assets.quant.backtest.arrays import cummax0, cumprod0
from market_assets.quant.backtest.costs import SESSIONS_PER_YEAR

A = SESSIONS_PER_YEAR


def _r(returns: np.ndarray) -> np.ndarray:
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim == 0 or r.shape[0] == 0:
        raise ValueError(f"returns have shape {r.shape}; expected at least one session on axis 0")
    if not np.isfinite(r.sum(axis=0)).all():  # a NaN or an inf survives the sum
        raise ValueError("returns hold NaN or inf; pass the engine's session returns (finite by construction)")
    return r


def _out(value: np.ndarray) -> np.ndarray | float:
    return float(value) if np.ndim(value) == 0 else value


def _divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b != 0, a / np.where(b != 0, b, 1.0), np.nan)


def total_return(returns: np.ndarray) -> np.ndarray | float:
    """``prod(1 + r) - 1``."""
    return _out(np.prod(1.0 + _r(returns), axis=0) - 1.0)


def annual_return(returns: np.ndarray) -> np.ndarray | float:
    """Compound annual growth rate over ``T / 252`` years."""
    r = _r(returns)
    return _out((1.0 + np.asarray(total_return(r))) ** (A / r.shape[0]) - 1.0)


def annual_volatility(returns: np.ndarray) -> np.ndarray | float:
    """``std(ddof=1) * sqrt(252)``; NaN with one session."""
    r = _r(returns)
    return _out(np.std(r, axis=0, ddof=1) * np.sqrt(A) if r.shape[0] > 1 else np.full(r.shape[1:], np.nan))


def sharpe_ratio(returns: np.ndarray) -> np.ndarray | float:
    """``mean / std(ddof=1) * sqrt(252)``, risk-free 0; NaN without variance."""
    r = _r(returns)
    if r.shape[0] < 2:
        return _out(np.full(r.shape[1:], np.nan))
    return _out(_divide(r.mean(axis=0), r.std(axis=0, ddof=1)) * np.sqrt(A))


def sortino_ratio(returns: np.ndarray) -> np.ndarray | float:
    """Annualised mean over annualised downside deviation (see module docstring)."""
    r = _r(returns)
    downside = np.sqrt(np.mean(np.minimum(r, 0.0) ** 2, axis=0)) * np.sqrt(A)
    return _out(_divide(r.mean(axis=0) * A, downside))


def drawdowns(returns: np.ndarray) -> np.ndarray:
    """``nav / running_peak - 1`` per session, the peak including the starting NAV of 1."""
    nav = cumprod0(np.add(_r(returns), 1.0), inplace=True)
    peak = cummax0(nav)
    np.maximum(peak, 1.0, out=peak)
    np.divide(nav, peak, out=nav)
    nav -= 1.0
    return nav


def max_drawdown(returns: np.ndarray) -> np.ndarray | float:
    """Most negative drawdown (0 if the NAV never falls below its peak)."""
    return drawdown_statistics(returns)[0]


def max_drawdown_duration(returns: np.ndarray) -> np.ndarray | float:
    """Longest run of consecutive sessions under water (below the running peak)."""
    return drawdown_statistics(returns)[1]


def drawdown_statistics(returns: np.ndarray) -> tuple[np.ndarray | float, np.ndarray | float]:
    """``(max_drawdown, max_drawdown_duration)`` from one drawdown path."""
    dd = drawdowns(returns)
    index = np.arange(dd.shape[0], dtype=np.int32).reshape((-1,) + (1,) * (dd.ndim - 1))
    last_dry = cummax0(np.where(dd < 0, np.int32(-1), index))  # last session at a peak
    np.subtract(index, last_dry, out=last_dry)
    longest = last_dry.max(axis=0)
    return _out(np.minimum(dd.min(axis=0), 0.0)), _out(longest.astype(np.float64))


def calmar_ratio(returns: np.ndarray) -> np.ndarray | float:
    """``annual_return / |max_drawdown|``; NaN without a drawdown."""
    return _out(_divide(np.asarray(annual_return(returns)), -np.asarray(max_drawdown(returns))))


def value_at_risk(returns: np.ndarray, level: float = 0.95) -> np.ndarray | float:
    """The ``1 - level`` quantile of session returns (historical, linear interpolation)."""
    return tail_risk(returns, level)[0]


def conditional_value_at_risk(returns: np.ndarray, level: float = 0.95) -> np.ndarray | float:
    """Mean of the ``floor((T - 1) * (1 - level)) + 1`` lowest session returns."""
    return tail_risk(returns, level)[1]


def tail_risk(returns: np.ndarray, level: float = 0.95) -> tuple[np.ndarray | float, np.ndarray | float]:
    """``(value_at_risk, conditional_value_at_risk)`` from one partial sort."""
    r = _r(returns)
    q = 1.0 - level
    k = int((r.shape[0] - 1) * q)
    position = q * (r.shape[0] - 1)
    lo = int(np.floor(position))
    hi = min(lo + 1, r.shape[0] - 1)
    part = np.partition(r, max(k, lo), axis=0)
    if k != lo:  # rounding put the two conventions on different order statistics
        part = np.partition(r, sorted({k, lo, hi}), axis=0)
    upper = part[hi] if hi == lo or k != lo else part[lo + 1:].min(axis=0)
    var = part[lo] + (position - lo) * (upper - part[lo])
    return _out(var), _out(part[: k + 1].mean(axis=0))


def win_rate(returns: np.ndarray) -> np.ndarray | float:
    """Share of sessions with ``r > 0`` among sessions with ``r != 0``."""
    r = _r(returns)
    return _out(_divide((r > 0).sum(axis=0).astype(float), (r != 0).sum(axis=0).astype(float)))


def profit_factor(returns: np.ndarray) -> np.ndarray | float:
    """Sum of positive over the absolute sum of negative session returns."""
    r = _r(returns)
    return _out(_divide(np.maximum(r, 0.0).sum(axis=0), -np.minimum(r, 0.0).sum(axis=0)))


def expectancy(returns: np.ndarray) -> np.ndarray | float:
    """Mean return of the sessions with ``r != 0``."""
    r = _r(returns)
    return _out(_divide(r.sum(axis=0), (r != 0).sum(axis=0).astype(float)))


def session_moments(returns: np.ndarray) -> dict[str, np.ndarray]:
    """The moments behind several metrics, computed in one pass with one scratch array.

    Returns ``mean``, ``std`` (ddof=1), ``downside`` (``sqrt(mean(min(r, 0) ** 2))``),
    ``gains`` and ``losses`` (sums of the positive and of the negative returns),
    ``n_up`` and ``n_moving`` (counts of ``r > 0`` and ``r != 0``).
    """
    r = _r(returns)
    mean = r.mean(axis=0)
    scratch = np.subtract(r, mean)
    np.multiply(scratch, scratch, out=scratch)
    with np.errstate(invalid="ignore", divide="ignore"):
        std = np.sqrt(scratch.sum(axis=0) / (r.shape[0] - 1)) if r.shape[0] > 1 else np.full(r.shape[1:], np.nan)
    np.minimum(r, 0.0, out=scratch)
    losses = scratch.sum(axis=0)
    np.multiply(scratch, scratch, out=scratch)
    downside = np.sqrt(scratch.mean(axis=0))
    return {"mean": mean, "std": std, "downside": downside, "gains": r.sum(axis=0) - losses, "losses": losses,
            "n_up": np.count_nonzero(r > 0, axis=0).astype(np.float64),
            "n_moving": np.count_nonzero(r, axis=0).astype(np.float64)}


def alpha_beta(returns: np.ndarray, benchmark: np.ndarray) -> tuple[np.ndarray | float, np.ndarray | float]:
    """Annualised alpha and beta against ``benchmark`` (``(T,)`` or the shape of ``returns``)."""
    r = _r(returns)
    b = np.asarray(benchmark, dtype=np.float64)
    if b.ndim == 1 and r.ndim > 1:
        b = b.reshape((-1,) + (1,) * (r.ndim - 1))
    b = np.broadcast_to(b, r.shape)
    rc, bc = r - r.mean(axis=0), b - b.mean(axis=0)
    beta = _divide((rc * bc).mean(axis=0), (bc * bc).mean(axis=0))
    alpha = (1.0 + (r - beta * b).mean(axis=0)) ** A - 1.0
    return _out(alpha), _out(beta)
