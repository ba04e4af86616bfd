"""Rolling-window kernels on time-major ``(sessions × symbols)`` matrices.

Conventions
-----------
* Axis 0 is time; a window of ``d`` ends at (and includes) the current row.
  Rows ``< d - 1`` are NaN, and a NaN anywhere in the window gives NaN
  (polars' null rule with ``min_samples = d``).
* Windows are assembled from **power-of-two blocks** ("doubling"): a level
  ``k`` array holds, for every row, the statistic of the ``2**k`` rows ending
  there; a window of ``d`` combines the blocks of ``d``'s binary expansion
  (sums, moments, weighted sums) or two overlapping blocks (min, max,
  arg-max).  A value therefore depends only on the ``d`` values of its window
  and a fixed summation tree: no running sum, no error growing with history,
  and a trailing sub-panel reproduces it bit for bit.  Rounding grows like
  ``log2(d)``.
* Levels are passed in as a callable ``level(k)`` so the caller can memoise
  them across windows of the same series (see :class:`.chunk.Chunk`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Level = Callable[[int], np.ndarray]
PairLevel = Callable[[int], tuple[np.ndarray, np.ndarray]]


def lag(x: np.ndarray, k: int) -> np.ndarray:
    """``x`` shifted ``k`` rows later (``out[t] = x[t - k]``), NaN on the first ``k`` rows."""
    out = np.empty_like(x)
    out[:k] = np.nan
    out[k:] = x[: max(x.shape[0] - k, 0)]
    return out


def _plan(d: int) -> list[tuple[int, int]]:
    """Binary expansion of ``d`` as ``(level, offset)`` blocks, newest block first."""
    plan, offset = [], 0
    for k in reversed(range(d.bit_length())):
        if d >> k & 1:
            plan.append((k, offset))
            offset += 1 << k
    return plan


def next_sum_level(prev: np.ndarray, half: int) -> np.ndarray:
    """Sums over ``2 * half`` rows from sums over ``half`` rows."""
    out = np.empty_like(prev)
    out[:half] = np.nan
    np.add(prev[half:], prev[:-half], out=out[half:])
    return out


def window_sum(level: Level, d: int) -> np.ndarray:
    """Sum of the last ``d`` values; ``level(k)`` gives sums over ``2**k`` rows."""
    (k0, _), *rest = _plan(d)
    out = level(k0).copy()
    for k, off in rest:
        out[off:] += level(k)[:-off]
    out[: d - 1] = np.nan
    return out


def next_comoment_level(sx: np.ndarray, sy: np.ndarray, c: np.ndarray, half: int) -> np.ndarray:
    """Co-moments ``sum (x - mean x)(y - mean y)`` over ``2 * half`` rows (Chan et al. pairwise update).

    ``sx``, ``sy`` are the sums over ``half`` rows; pass ``sx is sy`` for a
    centred sum of squares.
    """
    out = np.empty_like(c)
    out[:half] = np.nan
    dx = sx[half:] - sx[:-half]
    dy = dx if sy is sx else sy[half:] - sy[:-half]
    np.multiply(dx, dy, out=dx)
    dx *= 1.0 / (2 * half)
    np.add(c[half:], c[:-half], out=out[half:])
    out[half:] += dx
    return out


def window_comoment(sx: Level, sy: Level, c: Level, d: int) -> np.ndarray:
    """``sum (x - mean x)(y - mean y)`` over the last ``d`` values (``sx is sy``: squares).

    Blocks are merged with the pairwise update ``C = C_a + C_b + (n_a X_b - n_b
    X_a)(n_a Y_b - n_b Y_a) / (n_a n_b n)`` (``X``, ``Y`` block sums), which never
    forms ``sum(xy) - sum(x) sum(y) / d``: no cancellation when the means are
    large compared with the spread.
    """
    (k0, _), *rest = _plan(d)
    same = sx is sy
    acc_x, acc_c, n_acc = sx(k0).copy(), c(k0).copy(), float(1 << k0)
    acc_y = acc_x if same else sy(k0).copy()
    for k, off in rest:
        n_p = float(1 << k)
        dx = n_acc * sx(k)[:-off] - n_p * acc_x[off:]
        dy = dx if same else n_acc * sy(k)[:-off] - n_p * acc_y[off:]
        np.multiply(dx, dy, out=dx)
        dx *= 1.0 / (n_acc * n_p * (n_acc + n_p))
        acc_c[off:] += c(k)[:-off]
        acc_c[off:] += dx
        acc_x[off:] += sx(k)[:-off]
        if not same:
            acc_y[off:] += sy(k)[:-off]
        n_acc += n_p
    acc_c[: d - 1] = np.nan
    return acc_c


def next_wsum_level(sums: np.ndarray, wsums: np.ndarray, half: int) -> np.ndarray:
    """Linearly weighted sums (weight 1 = oldest) over ``2 * half`` rows."""
    out = np.empty_like(wsums)
    out[:half] = np.nan
    np.multiply(sums[half:], float(half), out=out[half:])
    out[half:] += wsums[half:]
    out[half:] += wsums[:-half]
    return out


def window_wsum(sums: Level, wsums: Level, d: int) -> np.ndarray:
    """``sum_j j * x[t - d + j]`` for ``j = 1..d`` (weight ``d`` on the latest value)."""
    (k0, _), *rest = _plan(d)
    acc_s, acc_w = sums(k0).copy(), wsums(k0).copy()
    for k, off in rest:
        n_p = float(1 << k)
        acc_w[off:] += acc_s[off:] * n_p
        acc_w[off:] += wsums(k)[:-off]
        acc_s[off:] += sums(k)[:-off]
    acc_w[: d - 1] = np.nan
    return acc_w


def next_extreme_level(prev: np.ndarray, half: int, fn: np.ufunc) -> np.ndarray:
    """Max (``fn=np.maximum``) or min over ``2 * half`` rows."""
    out = np.empty_like(prev)
    out[:half] = np.nan
    fn(prev[half:], prev[:-half], out=out[half:])
    return out


def window_extreme(level: Level, d: int, fn: np.ufunc) -> np.ndarray:
    """Max or min of the last ``d`` values from two overlapping power-of-two blocks."""
    k = d.bit_length() - 1
    block = level(k)
    out = block.copy()
    off = d - (1 << k)
    if off:
        fn(block[off:], block[:-off], out=out[off:])
    out[: d - 1] = np.nan
    return out


def next_arg_level(prev: tuple[np.ndarray, np.ndarray], half: int,
                   older_wins: np.ufunc) -> tuple[np.ndarray, np.ndarray]:
    """(extreme, absolute row of its first occurrence) over ``2 * half`` rows.

    ``older_wins`` is ``np.greater_equal`` for the maximum, ``np.less_equal``
    for the minimum: on a tie the older block keeps it (first occurrence).
    """
    val, idx = prev
    take = older_wins(val[:-half], val[half:])
    out_val, out_idx = np.full_like(val, np.nan), np.full_like(idx, np.nan)
    np.copyto(out_val[half:], val[half:])
    np.copyto(out_val[half:], val[:-half], where=take)
    np.copyto(out_idx[half:], idx[half:])
    np.copyto(out_idx[half:], idx[:-half], where=take)
    return out_val, out_idx


def window_arg(level: PairLevel, d: int, older_wins: np.ufunc) -> np.ndarray:
    """1-based position (1 = oldest) of the first extreme in the last ``d`` values."""
    k = d.bit_length() - 1
    val, idx = level(k)
    off = d - (1 << k)
    pos = idx.copy()
    if off:
        take = older_wins(val[:-off], val[off:])
        np.copyto(pos[off:], idx[:-off], where=take)
    pos -= np.arange(pos.shape[0], dtype=np.float64)[:, None] - d
    pos[: d - 1] = np.nan
    return pos


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
