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


def _merged(newer: np.ndarray, older: np.ndarray, off: int) -> np.ndarray:
    """A fresh ``newer[t] + older[t - off]`` (NaN on the first ``off`` rows)."""
    out = np.empty_like(newer)
    out[:off] = np.nan
    np.add(newer[off:], older[: max(len(older) - off, 0)], out=out[off:])
    return out


def window_sum(level: Level, d: int) -> np.ndarray:
    """Sum of the last ``d`` values; ``level(k)`` gives sums over ``2**k`` rows.

    For a power of two this is the level array itself (do not modify it).
    """
    (k0, _), *rest = _plan(d)
    if not rest:
        return level(k0)
    (k1, off1), *rest = rest
    out = _merged(level(k0), level(k1), off1)
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
    large compared with the spread.  For a power of two this is the level array.
    """
    (k0, _), *rest = _plan(d)
    if not rest:
        return c(k0)
    same = sx is sy
    acc_x, acc_c, n_acc = sx(k0), c(k0), float(1 << k0)
    acc_y = acc_x if same else sy(k0)
    for i, (k, off) in enumerate(rest):
        n_p = float(1 << k)
        dx = n_acc * sx(k)[:-off] - n_p * acc_x[off:]
        dy = dx if same else n_acc * sy(k)[:-off] - n_p * acc_y[off:]
        np.multiply(dx, dy, out=dx)
        dx *= 1.0 / (n_acc * n_p * (n_acc + n_p))
        if i == 0:  # the first merge makes fresh accumulators
            acc_c = _merged(acc_c, c(k), off)
            acc_x = _merged(acc_x, sx(k), off)
            acc_y = acc_x if same else _merged(acc_y, sy(k), off)
        else:
            acc_c[off:] += c(k)[:-off]
            acc_x[off:] += sx(k)[:-off]
            if not same:
                acc_y[off:] += sy(k)[:-off]
        acc_c[off:] += dx
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
    """``sum_j j * x[t - d + j]`` for ``j = 1..d`` (weight ``d`` on the latest value).

    For a power of two this is the level array itself (do not modify it).
    """
    (k0, _), *rest = _plan(d)
    if not rest:
        return wsums(k0)
    acc_s, acc_w = sums(k0), wsums(k0)
    for i, (k, off) in enumerate(rest):
        shifted = acc_s[off:] * float(1 << k)
        if i == 0:
            acc_w = _merged(acc_w, wsums(k), off)
            acc_s = _merged(acc_s, sums(k), off)
        else:
            acc_w[off:] += wsums(k)[:-off]
            acc_s[off:] += sums(k)[:-off]
        acc_w[off:] += shifted
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
    off = d - (1 << k)
    if not off:
        return block
    out = np.empty_like(block)
    out[:off] = np.nan
    fn(block[off:], block[: max(len(block) - off, 0)], out=out[off:])
    out[: d - 1] = np.nan
    return out


def next_arg_level(prev: tuple[np.ndarray, np.ndarray], half: int,
                   older_wins: np.ufunc) -> tuple[np.ndarray, np.ndarray]:
    """(extreme, absolute row of its first occurrence) over ``2 * half`` rows.

    ``older_wins`` is ``np.greater_equal`` for the maximum, ``np.less_equal``
    for the minimum: on a tie the older block keeps it (first occurrence).
    Selections are arithmetic blends (exact on small integers), which are
    much faster than ``np.where`` on unpredictable masks.
    """
    val, idx = prev
    take = older_wins(val[:-half], val[half:])
    out_val, out_idx = np.empty_like(val), np.empty_like(idx)
    out_val[:half] = np.nan
    out_idx[:half] = np.nan
    extreme = np.maximum if older_wins is np.greater_equal else np.minimum
    extreme(val[:-half], val[half:], out=out_val[half:])
    np.subtract(idx[:-half], idx[half:], out=out_idx[half:])
    out_idx[half:] *= take
    out_idx[half:] += idx[half:]
    return out_val, out_idx


def window_arg(level: PairLevel, d: int, older_wins: np.ufunc) -> np.ndarray:
    """1-based position (1 = oldest) of the first extreme in the last ``d`` values."""
    k = d.bit_length() - 1
    val, idx = level(k)
    off = d - (1 << k)
    pos = np.empty_like(idx)
    if off:
        pos[:off] = np.nan
        take = older_wins(val[:-off], val[off:])
        np.subtract(idx[:-off], idx[off:], out=pos[off:])
        pos[off:] *= take
        pos[off:] += idx[off:]
    else:
        np.copyto(pos, idx)
    pos -= np.arange(pos.shape[0], dtype=np.float64)[:, None] - d
    pos[: d - 1] = np.nan
    return pos
