"""Seeded exponential recursions (EMA, Wilder smoothing), vectorised across symbols.

TA-Lib seeds every exponential average with the simple mean of its first
values and only then applies ``y_t = y_{t-1} + alpha (x_t - y_{t-1})``.
polars' ``ewm_mean(adjust=False)`` seeds with the first raw value instead, so
we run the recursion ourselves: a NumPy loop over *sessions* (never over
symbols) on a ``(sessions × symbols·recursions)`` matrix, all recursions of a
level at once.

* EMA(n): ``alpha = 2 / (n + 1)``, seed at index ``n - 1`` = mean of the first
  ``n`` values.
* Wilder(n) (RSI, ATR, ADX): ``alpha = 1 / n``, seeded with the mean of the
  first ``n`` values of the input (TA-Lib's convention).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from market_assets.quant.indicators._frame import IDX, SYM, Layout, column_matrix


@dataclass(frozen=True)
class Recursion:
    """``y[seed_pos] = seed_factor * mean(x[seed_pos-seed_len+1 .. seed_pos])``, then
    ``y_t = (1 - alpha) y_{t-1} + alpha x_t``; null before ``seed_pos``.

    ``source`` builds the per-symbol input expression; ``level`` orders
    recursions whose input reads another recursion's output (level 2 reads 1).
    """

    name: str
    source: Callable[[], pl.Expr]
    alpha: float
    seed_pos: int
    seed_len: int
    seed_factor: float = 1.0
    level: int = 1


def ema(name: str, source: Callable[[], pl.Expr], n: int, *, seed_pos: int | None = None,
        level: int = 1) -> Recursion:
    """TA-Lib EMA: seeded with the SMA of the ``n`` values ending at ``seed_pos`` (default ``n-1``)."""
    return Recursion(name, source, 2.0 / (n + 1), n - 1 if seed_pos is None else seed_pos, n, level=level)


def wilder(name: str, source: Callable[[], pl.Expr], n: int, *, seed_pos: int, seed_len: int | None = None,
           seed_factor: float = 1.0, level: int = 1) -> Recursion:
    """Wilder smoothing (``alpha = 1/n``) seeded with a mean ending at ``seed_pos``."""
    return Recursion(name, source, 1.0 / n, seed_pos, n if seed_len is None else seed_len, seed_factor, level)


def _seeded_input(rec: Recursion) -> pl.Expr:
    x = rec.source()
    i = pl.col(IDX)
    seed = x.rolling_mean(rec.seed_len) * rec.seed_factor
    return pl.when(i == rec.seed_pos).then(seed).when(i > rec.seed_pos).then(x).over(SYM).alias(rec.name)


def _recurse(z: np.ndarray, alpha: np.ndarray, seed_pos: np.ndarray) -> np.ndarray:
    """Run the seeded recursion on ``z`` of shape ``(sessions, columns)``."""
    n_t = z.shape[0]
    out = np.full_like(z, np.nan)
    if n_t == 0:
        return out
    beta = 1.0 - alpha
    y = np.full(z.shape[1], np.nan)
    tmp = np.empty_like(y)
    seeds = {int(p): np.flatnonzero(seed_pos == p) for p in np.unique(seed_pos)}
    for t in range(int(seed_pos.min()), n_t):
        np.multiply(y, beta, out=y)
        np.multiply(z[t], alpha, out=tmp)
        y += tmp
        cols = seeds.get(t)
        if cols is not None:
            y[cols] = z[t, cols]
        out[t] = y
    return out


def run_recursions(frame: pl.DataFrame, layout: Layout, recursions: Sequence[Recursion]) -> pl.DataFrame:
    """Add one column per recursion (by level), computed for all symbols at once."""
    unique = {r.name: r for r in recursions}
    for level in sorted({r.level for r in unique.values()}):
        recs = [r for r in unique.values() if r.level == level]
        frame = frame.with_columns([_seeded_input(r) for r in recs])
        n_sym = layout.n_sym
        z = np.concatenate([column_matrix(frame, layout, r.name).T for r in recs], axis=1)
        alpha = np.repeat([r.alpha for r in recs], n_sym)
        seed_pos = np.repeat([r.seed_pos for r in recs], n_sym)
        y = _recurse(np.ascontiguousarray(z), alpha, seed_pos)
        frame = frame.with_columns(
            pl.Series(r.name, layout.to_long(np.ascontiguousarray(y[:, k * n_sym:(k + 1) * n_sym].T)))
            .fill_nan(None)
            for k, r in enumerate(recs)
        )
    return frame
