"""NumPy kernels on ``(symbols × sessions)`` matrices (rows are symbols).

Used where polars has no fast window primitive: first-occurrence arg-max /
arg-min in a window (Qlib's ``IdxMax`` / ``IdxMin``), the percentile rank of
the latest value in its window (Qlib's ``Rank``) and the path-dependent
Parabolic SAR.  Loops run over sessions or window offsets, never symbols.
Outputs are NaN where the window is incomplete.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _windows(x: np.ndarray, d: int) -> np.ndarray:
    return sliding_window_view(x, d, axis=1)


def rolling_argmax(x: np.ndarray, d: int) -> np.ndarray:
    """1-based position of the first maximum in the last ``d`` values (1 = oldest)."""
    out = np.full_like(x, np.nan)
    if x.shape[1] >= d:
        out[:, d - 1:] = np.argmax(_windows(x, d), axis=-1) + 1.0
    return out


def rolling_argmin(x: np.ndarray, d: int) -> np.ndarray:
    """1-based position of the first minimum in the last ``d`` values (1 = oldest)."""
    out = np.full_like(x, np.nan)
    if x.shape[1] >= d:
        out[:, d - 1:] = np.argmin(_windows(x, d), axis=-1) + 1.0
    return out


def rolling_pct_rank(x: np.ndarray, d: int) -> np.ndarray:
    """Percentile rank of the latest value within its ``d``-window, ties averaged, in (0, 1].

    ``(#less + (#equal + 1) / 2) / d`` with ``#equal`` counting the latest value
    itself: pandas' ``rolling(d).rank(pct=True)``, as in Qlib's ``Rank``.
    """
    out = np.full_like(x, np.nan)
    n_t = x.shape[1]
    if n_t < d:
        return out
    last = x[:, d - 1:]
    less = np.zeros_like(last)
    equal = np.zeros_like(last)
    for k in range(d):
        past = x[:, k:n_t - d + 1 + k]
        less += past < last
        equal += past == last
    out[:, d - 1:] = (less + (equal + 1.0) / 2.0) / d
    out[:, d - 1:][np.isnan(last)] = np.nan
    return out


def parabolic_sar(high: np.ndarray, low: np.ndarray, acceleration: float = 0.02,
                  maximum: float = 0.2) -> np.ndarray:
    """Wilder's Parabolic SAR exactly as TA-Lib's ``SAR`` (first value at index 1).

    The initial direction is short if bar 1 has a positive −DM (TA-Lib's
    rule), else long; the first SAR is the previous bar's low (long) or high
    (short).  The SAR never enters the current or previous bar's range.
    """
    n_sym, n_t = high.shape
    out = np.full_like(high, np.nan)
    if n_t < 2:
        return out
    diff_p, diff_m = high[:, 1] - high[:, 0], low[:, 0] - low[:, 1]
    is_long = ~((diff_m > 0) & (diff_p < diff_m))
    sar = np.where(is_long, low[:, 0], high[:, 0])
    ep = np.where(is_long, high[:, 1], low[:, 1])
    af = np.full(n_sym, acceleration)
    new_low, new_high = low[:, 1], high[:, 1]
    for t in range(1, n_t):
        prev_low, prev_high = new_low, new_high
        new_low, new_high = low[:, t], high[:, t]
        to_short = is_long & (new_low <= sar)
        to_long = ~is_long & (new_high >= sar)
        stay_long = is_long & ~to_short
        stay_short = ~is_long & ~to_long
        rev_short = np.maximum(np.maximum(ep, prev_high), new_high)
        rev_long = np.minimum(np.minimum(ep, prev_low), new_low)
        out[:, t] = np.where(to_short, rev_short, np.where(to_long, rev_long, sar))
        up = stay_long & (new_high > ep)
        down = stay_short & (new_low < ep)
        ep = np.where(up, new_high, np.where(down, new_low, ep))
        af = np.where(up | down, np.minimum(af + acceleration, maximum), af)
        ep = np.where(to_short, new_low, np.where(to_long, new_high, ep))
        af = np.where(to_short | to_long, acceleration, af)
        base = np.where(to_short, rev_short, np.where(to_long, rev_long, sar))
        nxt = base + af * (ep - base)
        floor = np.maximum(np.maximum(nxt, prev_high), new_high)
        ceil = np.minimum(np.minimum(nxt, prev_low), new_low)
        sar = np.where(to_short | stay_short, floor, ceil)
        is_long = (is_long & ~to_short) | to_long
    return out
