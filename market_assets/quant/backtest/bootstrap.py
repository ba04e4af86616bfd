"""Circular block-bootstrap confidence intervals for the Sharpe ratio and the maximum drawdown.

Conventions
-----------
* **Circular block bootstrap** (Politis & Romano): a resample concatenates
  blocks of ``block`` consecutive sessions starting at uniform random
  positions, wrapping past the end, cut to the original length ``T``.  Blocks
  keep the serial dependence (volatility clustering) that an i.i.d.
  bootstrap would destroy.  Default block length: ``ceil(T ** (1/3))``.
* Intervals are **percentile** intervals: the ``(1 - level) / 2`` and
  ``(1 + level) / 2`` quantiles of the statistic over ``n_resamples``.
* Randomness enters only through ``random_state`` (an int seed or a
  ``numpy.random.Generator``): the same seed gives the same interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from market_assets.quant.backtest.metrics import max_drawdown, sharpe_ratio


@dataclass(frozen=True)
class Interval:
    """A point estimate and its bootstrap interval."""

    estimate: float
    low: float
    high: float
    level: float

    def contains(self, value: float) -> bool:
        """Whether ``low <= value <= high``."""
        return self.low <= value <= self.high


def block_bootstrap_indices(
    n: int, n_resamples: int, block: int | None = None, random_state: int | np.random.Generator | None = 0
) -> np.ndarray:
    """``(n_resamples, n)`` row indices of circular block resamples."""
    if n < 2:
        raise ValueError(f"{n} session(s); a bootstrap needs at least 2")
    block = block or math.ceil(n ** (1 / 3))
    if not 1 <= block <= n:
        raise ValueError(f"block={block}; expected 1 <= block <= {n} sessions")
    rng = np.random.default_rng(random_state)
    n_blocks = math.ceil(n / block)
    starts = rng.integers(0, n, size=(n_resamples, n_blocks))
    return ((starts[:, :, None] + np.arange(block)) % n).reshape(n_resamples, -1)[:, :n]


def bootstrap_intervals(
    returns: np.ndarray,
    *,
    n_resamples: int = 1000,
    block: int | None = None,
    level: float = 0.95,
    random_state: int | np.random.Generator | None = 0,
) -> dict[str, Interval]:
    """Block-bootstrap intervals of ``sharpe`` and ``max_drawdown`` of a ``(T,)`` return series."""
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1:
        raise ValueError(f"returns have shape {r.shape}; expected one series (T,)")
    idx = block_bootstrap_indices(len(r), n_resamples, block, random_state)
    samples = r[idx].T  # (T, n_resamples): time on axis 0 like every metric
    low_q, high_q = (1 - level) / 2, (1 + level) / 2
    out = {}
    for name, fn in (("sharpe", sharpe_ratio), ("max_drawdown", max_drawdown)):
        values = np.asarray(fn(samples))
        values = values[np.isfinite(values)]
        lo, hi = np.quantile(values, [low_q, high_q]) if values.size else (np.nan, np.nan)
        out[name] = Interval(float(fn(r)), float(lo), float(hi), level)
    return out
