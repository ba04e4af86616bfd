"""Whole-panel NumPy functions on ``(symbols × sessions)`` matrices (rows are symbols).

Used for path-dependent indicators that loop over sessions (Parabolic SAR):
loops run over sessions, never symbols.  The engine passes transposed views
of its time-major matrices, so ``x[:, t]`` (all symbols at session ``t``) is
contiguous in memory.
"""

from __future__ import annotations

import numpy as np


class _SarState:
    """Per-symbol Parabolic SAR state (trend, SAR, extreme point, acceleration) and scratch buffers."""

    def __init__(self, high: np.ndarray, low: np.ndarray, acceleration: float, maximum: float) -> None:
        diff_p, diff_m = high[:, 1] - high[:, 0], low[:, 0] - low[:, 1]
        self.is_long = ~((diff_m > 0) & (diff_p < diff_m))
        self.sar = np.where(self.is_long, low[:, 0], high[:, 0])
        self.ep = np.where(self.is_long, high[:, 1], low[:, 1])
        self.af = np.full(len(self.sar), acceleration)
        self.acceleration, self.maximum = acceleration, maximum
        n = len(self.sar)
        self.to_short, self.to_long, self.flip, self.up, self.down = (np.empty(n, dtype=bool) for _ in range(5))
        self.tmp, self.other = np.empty(n), np.empty(n)

    def step(self, new_high: np.ndarray, new_low: np.ndarray, high2: np.ndarray, low2: np.ndarray,
             out: np.ndarray) -> None:
        """One bar: write its SAR to ``out`` and prepare the next; ``high2``/``low2`` span this and the previous bar."""
        is_long, ep, af, tmp = self.is_long, self.ep, self.af, self.tmp
        to_short, to_long, flip, up, down = self.to_short, self.to_long, self.flip, self.up, self.down
        np.less_equal(new_low, self.sar, out=to_short)
        to_short &= is_long
        np.greater_equal(new_high, self.sar, out=to_long)
        np.greater(to_long, is_long, out=to_long)  # bool a > b is a & ~b
        np.logical_or(to_short, to_long, out=flip)
        out[...] = self.sar  # the SAR reported for this bar: the reversal level on a flip
        np.copyto(out, np.maximum(ep, high2, out=tmp), where=to_short)
        np.copyto(out, np.minimum(ep, low2, out=tmp), where=to_long)
        # a trend that continues extends its extreme point and accelerates
        np.greater(np.greater(new_high, ep, out=up) & is_long, flip, out=up)
        np.greater(np.greater(np.less(new_low, ep, out=down), is_long, out=down), flip, out=down)
        np.copyto(ep, new_high, where=up)
        np.copyto(ep, new_low, where=down)
        np.copyto(af, np.minimum(af + self.acceleration, self.maximum, out=tmp), where=up | down)
        # a reversal restarts from the bar's extreme with the initial acceleration
        np.copyto(ep, new_low, where=to_short)
        np.copyto(ep, new_high, where=to_long)
        np.copyto(af, self.acceleration, where=flip)
        is_long ^= flip
        np.subtract(ep, out, out=tmp)
        tmp *= af
        tmp += out
        np.maximum(tmp, high2, out=self.other)
        np.minimum(tmp, low2, out=self.sar)
        np.copyto(self.sar, self.other, where=~is_long)


def parabolic_sar(high: np.ndarray, low: np.ndarray, acceleration: float = 0.02,
                  maximum: float = 0.2) -> np.ndarray:
    """Wilder's Parabolic SAR exactly as TA-Lib's ``SAR`` (first value at index 1).

    The initial direction is short if bar 1 has a positive −DM (TA-Lib's
    rule), else long; the first SAR is the previous bar's low (long) or high
    (short).  The SAR never enters the current or previous bar's range.
    """
    n_t = high.shape[1]
    out = np.full_like(high, np.nan)
    if n_t < 2:
        return out
    state = _SarState(high, low, acceleration, maximum)
    # highest high / lowest low of the previous and current bar (bar 1 is its own previous bar)
    hh, ll = np.maximum(high[:, :-1], high[:, 1:]), np.minimum(low[:, :-1], low[:, 1:])
    hh[:, 0], ll[:, 0] = high[:, 1], low[:, 1]
    for t in range(1, n_t):
        state.step(high[:, t], low[:, t], hh[:, t - 1], ll[:, t - 1], out[:, t])
    return out
