"""Seeded exponential recursions (EMA, Wilder smoothing), vectorised across symbols.

TA-Lib seeds every exponential average with the simple mean of its first
values and only then applies ``y_t = y_{t-1} + alpha (x_t - y_{t-1})``.
polars' ``ewm_mean(adjust=False)`` seeds with the first raw value instead, so
we run the recursion ourselves: a NumPy loop over *sessions* (never over
symbols) on a ``(sessions × recursions·symbols)`` matrix of a chunk, all
recursions of a level at once, computed in place.

* EMA(n): ``alpha = 2 / (n + 1)``, seed at index ``n - 1`` = mean of the first
  ``n`` values.
* Wilder(n) (RSI, ATR, ADX): ``alpha = 1 / n``, seeded with the mean of the
  first ``n`` values of the input (TA-Lib's convention).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from market_assets.quant.indicators.chunk import Chunk, Kernel


@dataclass(frozen=True)
class Recursion:
    """``y[seed_pos] = seed_factor * mean(x[seed_pos-seed_len+1 .. seed_pos])``, then
    ``y_t = (1 - alpha) y_{t-1} + alpha x_t``; null before ``seed_pos``.

    ``source`` is the NumPy kernel of the input series; ``level`` orders
    recursions whose input reads another recursion's output (level 2 reads 1).
    """

    name: str
    source: Kernel
    alpha: float
    seed_pos: int
    seed_len: int
    seed_factor: float = 1.0
    level: int = 1


def ema(name: str, source: Kernel, n: int, *, seed_pos: int | None = None, level: int = 1) -> Recursion:
    """TA-Lib EMA: seeded with the SMA of the ``n`` values ending at ``seed_pos`` (default ``n-1``)."""
    return Recursion(name, source, 2.0 / (n + 1), n - 1 if seed_pos is None else seed_pos, n, level=level)


def wilder(name: str, source: Kernel, n: int, *, seed_pos: int, seed_len: int | None = None,
           seed_factor: float = 1.0, level: int = 1) -> Recursion:
    """Wilder smoothing (``alpha = 1/n``) seeded with a mean ending at ``seed_pos``."""
    return Recursion(name, source, 1.0 / n, seed_pos, n if seed_len is None else seed_len, seed_factor, level)


def _seeded(rec: Recursion, x: np.ndarray, out: np.ndarray) -> None:
    """Write the recursion input into ``out``: NaN before the seed, the seed, then ``x``."""
    p = rec.seed_pos
    out[:p] = np.nan
    if p < x.shape[0]:
        seed = out[p]
        seed[...] = x[p - rec.seed_len + 1]
        for row in x[p - rec.seed_len + 2:p + 1]:  # in session order, whatever the number of symbols
            seed += row
        out[p] = seed / rec.seed_len * rec.seed_factor
        out[p + 1:] = x[p + 1:]


def _recurse(z: np.ndarray, alpha: np.ndarray, seed_pos: np.ndarray) -> None:
    """Run the seeded recursion in place on ``z`` of shape ``(sessions, columns)``."""
    beta = 1.0 - alpha
    tmp = np.empty(z.shape[1])
    seeds = {}
    for p in np.unique(seed_pos):
        cols = np.flatnonzero(seed_pos == p)
        if p < z.shape[0]:
            seeds[int(p)] = (cols, z[p, cols].copy())
    for t in range(int(seed_pos.min()) + 1, z.shape[0]):
        np.multiply(z[t - 1], beta, out=tmp)
        np.multiply(z[t], alpha, out=z[t])
        z[t] += tmp
        if t in seeds:  # the update overwrote these columns' seed: put it back
            cols, values = seeds[t]
            z[t, cols] = values


def run_recursions(chunk: Chunk, recursions: Sequence[Recursion], scratch: np.ndarray | None = None) -> None:
    """Add one series per recursion to ``chunk`` (by level), all symbols and recursions at once.

    ``recursions`` must have distinct names.  ``scratch`` (at least ``sessions
    × len(recursions) × symbols`` cells) holds the outputs if given (they are
    views into it), so that a loop over chunks reuses one buffer.
    """
    n_t, n_sym = chunk.shape
    cells = n_t * len(recursions) * n_sym
    if scratch is None or scratch.size < cells:
        scratch = np.empty(cells)
    start = 0
    for level in sorted({r.level for r in recursions}):
        recs = [r for r in recursions if r.level == level]
        z = scratch[start:start + n_t * len(recs) * n_sym].reshape(n_t, len(recs) * n_sym)
        start += z.size
        for k, rec in enumerate(recs):
            _seeded(rec, rec.source(chunk), z[:, k * n_sym:(k + 1) * n_sym])
        if n_t:
            _recurse(z, np.repeat([r.alpha for r in recs], n_sym), np.repeat([r.seed_pos for r in recs], n_sym))
        for k, rec in enumerate(recs):
            chunk.put(rec.name, z[:, k * n_sym:(k + 1) * n_sym])
