"""Order statistics over rolling windows on time-major matrices (internal).

Conventions as in :mod:`.window`: axis 0 is time, a window of ``d`` ends at
the current row, rows ``< d - 1`` are NaN.

* :func:`pct_rank` counts, for every window, the older values below / equal
  to the latest one (``d`` vectorised comparisons).
* :func:`quantiles` runs a *selection network* on the ``d`` lagged copies of
  the series: Batcher's merge-exchange sorting network (Knuth, TAOCP 5.2.2,
  algorithm M), pruned to the comparators that reach the order statistics
  needed.  Each comparator is one ``minimum`` and one ``maximum`` over the
  whole block, so the cost is ``O(d log^2 d)`` vectorised operations; it beats
  polars' per-window quantile up to about 40 values, so longer windows use
  polars (per symbol, windows reaching into the previous symbol discarded).
  Both interpolate linearly exactly as polars does
  (``lo + ((d - 1) q - floor) * (hi - lo)``), so results are identical.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import polars as pl

NETWORK_MAX_WINDOW = 40
ROW_BLOCK_CELLS = 1 << 13  # cells per network pass: the d lagged copies stay in cache


def pct_rank(x: np.ndarray, d: int) -> np.ndarray:
    """Percentile rank of the latest value in its ``d``-window, ties averaged, in ``(0, 1]``.

    ``(#less + (#equal + 1) / 2) / d`` with ``#equal`` counting the latest
    value itself: pandas' ``rolling(d).rank(pct=True)``, as in Qlib's ``Rank``.
    Counted as ``(#less + #less_or_equal + 2) / (2 d)`` over the ``d - 1`` older values
    (the same rational as the formula above, rounded once).
    """
    n_t = x.shape[0]
    out = np.full_like(x, np.nan)
    if n_t < d:
        return out
    last = x[d - 1:]
    counts = np.zeros(last.shape, dtype=np.int16)
    hits = np.empty(last.shape, dtype=bool)
    for k in range(d - 1):
        past = x[k:n_t - d + 1 + k]
        np.less(past, last, out=hits)
        counts += hits
        np.less_equal(past, last, out=hits)
        counts += hits
    np.add(counts, 2.0, out=out[d - 1:])
    out[d - 1:] /= 2.0 * d
    out[d - 1:][np.isnan(last)] = np.nan
    return out


def _merge_exchange(n: int) -> list[tuple[int, int]]:
    """Batcher's merge-exchange sorting network for ``n`` wires (Knuth's algorithm M)."""
    pairs: list[tuple[int, int]] = []
    t = math.ceil(math.log2(n)) if n > 1 else 0
    p = 1 << (t - 1) if t else 0
    while p > 0:
        q, r, d = 1 << (t - 1), 0, p
        while True:
            pairs += [(i, i + d) for i in range(n - d) if i & p == r]
            if q == p:
                break
            d, q, r = q - p, q // 2, p
        p //= 2
    return pairs


@lru_cache(maxsize=None)
def selection_network(n: int, ranks: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """Comparators of the sorting network that influence the wires ``ranks`` (0 = smallest)."""
    needed, keep = set(ranks), []
    for i, j in reversed(_merge_exchange(n)):
        if i in needed or j in needed:
            keep.append((i, j))
            needed |= {i, j}
    return tuple(reversed(keep))


def _positions(d: int, q: float) -> tuple[int, int, float]:
    """polars' linear interpolation: lower / upper order statistic and the proportion."""
    index = (d - 1) * q
    lo = math.floor(index)
    return lo, math.ceil(index), index - lo


def _interpolate(lo: np.ndarray, hi: np.ndarray, proportion: float) -> np.ndarray:
    return lo if proportion == 0 else proportion * (hi - lo) + lo


def _network_quantiles(x: np.ndarray, d: int, qs: tuple[float, ...]) -> list[np.ndarray]:
    n_t = x.shape[0]
    outs = [np.full_like(x, np.nan) for _ in qs]
    positions = [_positions(d, q) for q in qs]
    ranks = tuple(sorted({r for lo, hi, _ in positions for r in (lo, hi)}))
    network = selection_network(d, ranks)
    step = max(1, ROW_BLOCK_CELLS // max(x.shape[1], 1))
    for r0 in range(d - 1, n_t, step):
        r1 = min(r0 + step, n_t)
        wires = [x[r0 - d + 1 + j:r1 - d + 1 + j].copy() for j in range(d)]
        spare = np.empty_like(wires[0])
        for i, j in network:
            np.minimum(wires[i], wires[j], out=spare)
            np.maximum(wires[i], wires[j], out=wires[j])
            wires[i], spare = spare, wires[i]
        for out, (lo, hi, proportion) in zip(outs, positions):
            out[r0:r1] = _interpolate(wires[lo], wires[hi], proportion)
    return outs


def _polars_quantile(x: np.ndarray, d: int, q: float) -> np.ndarray:
    n_t, n_sym = x.shape
    series = pl.Series(np.ascontiguousarray(x.T).ravel(), nan_to_null=True)
    out = np.ascontiguousarray(series.rolling_quantile(q, "linear", d).to_numpy().reshape(n_sym, n_t).T)
    out[: d - 1] = np.nan  # those windows reach into the previous symbol
    return out


def quantiles(x: np.ndarray, d: int, qs: tuple[float, ...]) -> list[np.ndarray]:
    """Rolling ``q``-quantiles (linear interpolation, as polars) of ``x`` over ``d`` rows, one per ``q``.

    A NaN in the window gives NaN (polars: a null in the window gives null).
    """
    if d > NETWORK_MAX_WINDOW:
        return [_polars_quantile(x, d, q) for q in qs]
    outs = _network_quantiles(x, d, qs)
    if np.isnan(x).any():  # min/max do propagate NaN, but not to every wire: null the whole window
        bad = np.isnan(x).astype(np.float64)
        for k in range(1, d):
            bad[k:] += np.isnan(x[:-k])
        for out in outs:
            out[bad > 0] = np.nan
    return outs
