"""Intents → target weights (equal weight, volatility target, fractional Kelly), then limits.

Conventions
-----------
* Weights are fractions of NAV, positive long, negative short; row ``t`` uses
  prices up to session t's close only.
* **Trailing volatility** of a symbol at ``t``: the sample standard deviation
  (ddof=1) of its last ``window`` close-to-close adjusted returns ending at
  ``t`` (a return spanning an invalid bar is left out); NaN with fewer than
  ``max(2, window // 2)`` returns, and a NaN volatility gives weight 0.
  Annualised with ``sqrt(252)``.
* **Limits** apply in this order: per-name cap ``max_weight`` (clip), net cap
  ``max_net`` (the dominant side is scaled down), gross cap ``max_gross``
  (everything scaled down); each later step keeps the earlier ones satisfied.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from market_assets.quant.backtest.costs import SESSIONS_PER_YEAR
from market_assets.quant.backtest.panel import MarketPanel


@dataclass(frozen=True)
class EqualWeight:
    """Intents scaled to a gross exposure, or a fixed weight per unit of intent."""

    gross: float = 1.0  #: sum of |weights| of a session with any intent
    per_name: float | None = None  #: if set: weight = intent * per_name (no normalisation)

    def weights(self, intents: np.ndarray, signal: np.ndarray, panel: MarketPanel) -> np.ndarray:
        """``(T, N)`` weights."""
        if self.per_name is not None:
            return intents * self.per_name
        total = np.abs(intents).sum(axis=-1, keepdims=True)
        return np.divide(intents * self.gross, total, out=np.zeros_like(intents), where=total > 0)


@dataclass(frozen=True)
class VolatilityTarget:
    """Per-name inverse volatility: each active name runs at ``target / n_active`` annualised volatility.

    ``w_i = intent_i * target / (vol_i * n_active)`` with ``vol_i`` the trailing
    annualised volatility and ``n_active`` the names with a non-zero intent;
    correlations are ignored, so the book's volatility is at most ``target``
    when all names are perfectly correlated and lower otherwise.
    """

    target: float = 0.10  #: annualised volatility per unit of intent
    window: int = 20  #: sessions of trailing returns

    def weights(self, intents: np.ndarray, signal: np.ndarray, panel: MarketPanel) -> np.ndarray:
        """``(T, N)`` weights."""
        vol = trailing_volatility(panel, self.window) * np.sqrt(SESSIONS_PER_YEAR)
        active = np.count_nonzero(intents, axis=-1)[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            raw = intents * self.target / (vol * active)
        return np.where(np.isfinite(raw), raw, 0.0)


@dataclass(frozen=True)
class FractionalKelly:
    """``fraction`` of the Kelly weight ``mu / sigma^2``, capped at ``cap`` per name.

    ``mu`` is the signal read as an expected return over ``horizon`` sessions
    (a regression prediction of ``fwd_ret_h``), so ``mu / horizon`` per
    session; ``sigma^2`` the trailing variance of daily returns.  The side is
    the intent's: a name whose forecast disagrees with its intent gets 0.
    """

    fraction: float = 0.5  #: of the full Kelly weight
    cap: float = 0.2  #: largest |weight| per name
    window: int = 60  #: sessions of trailing returns for the variance
    horizon: int = 1  #: sessions the signal's return covers

    def weights(self, intents: np.ndarray, signal: np.ndarray, panel: MarketPanel) -> np.ndarray:
        """``(T, N)`` weights."""
        var = trailing_volatility(panel, self.window) ** 2
        side = np.sign(intents)
        with np.errstate(divide="ignore", invalid="ignore"):
            kelly = self.fraction * (signal / self.horizon) / var * side
        size = np.clip(np.where(np.isfinite(kelly), kelly, 0.0), 0.0, self.cap)
        return side * size * np.abs(intents)


@dataclass(frozen=True)
class Limits:
    """Exposure limits on target weights (see module docstring for the order)."""

    max_weight: float | None = None  #: largest |weight| per name
    max_gross: float | None = None  #: largest sum of |weights|
    max_net: float | None = None  #: largest |sum of weights|

    def apply(self, weights: np.ndarray) -> np.ndarray:
        """Weights within the limits, ``(..., N)``."""
        w = np.asarray(weights, dtype=np.float64)
        if self.max_weight is not None:
            w = np.clip(w, -self.max_weight, self.max_weight)
        if self.max_net is not None:
            long = np.maximum(w, 0).sum(axis=-1, keepdims=True)
            short = np.maximum(-w, 0).sum(axis=-1, keepdims=True)
            with np.errstate(divide="ignore", invalid="ignore"):
                scale_long = np.where(long - short > self.max_net, (short + self.max_net) / long, 1.0)
                scale_short = np.where(short - long > self.max_net, (long + self.max_net) / short, 1.0)
            w = np.where(w > 0, w * scale_long, w * scale_short)
        if self.max_gross is not None:
            gross = np.abs(w).sum(axis=-1, keepdims=True)
            w = np.where(gross > self.max_gross, w * self.max_gross / np.where(gross > 0, gross, 1.0), w)
        return w


def trailing_volatility(panel: MarketPanel, window: int) -> np.ndarray:
    """Daily (not annualised) trailing volatility per session and symbol (see module docstring)."""
    if window < 2:
        raise ValueError(f"window={window}; expected at least 2 sessions of returns")
    close = panel.close
    ret = np.full(close.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        ret[1:] = close[1:] / close[:-1] - 1.0
    finite = np.isfinite(ret)
    x = np.where(finite, ret, 0.0)

    def rolling(a: np.ndarray) -> np.ndarray:
        c = np.cumsum(a, axis=0)
        c[window:] = c[window:] - c[:-window].copy()
        return c

    n, s, s2 = rolling(finite.astype(np.float64)), rolling(x), rolling(x * x)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = (s2 - s * s / n) / (n - 1)
    return np.where(n >= max(2, window // 2), np.sqrt(np.maximum(var, 0.0)), np.nan)
