"""Whole-panel NumPy functions on ``(symbols × sessions)`` matrices (rows are symbols).

Used for path-dependent indicators that loop over sessions (Parabolic SAR):
loops run over sessions, never symbols.  The engine passes transposed views
of its time-major matrices, so ``x[:, t]`` (all symbols at session ``t``) is
contiguous in memory.
"""

from __future__ import annotations

import numpy as np


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
