"""Volatility: Bollinger bands, ATR/NATR, realised and range-based volatility.

Conventions
-----------
* Bollinger bands use the *population* standard deviation (ddof=0), as TA-Lib.
* ``vol_{n}`` is the sample standard deviation (ddof=1) of daily log returns of
  adjusted close over ``n`` sessions, annualised by ``sqrt(252)``.
* Parkinson: ``sqrt(252 / (4 ln 2) * mean(ln(H/L)^2))``; Garman–Klass:
  ``sqrt(252 * mean(0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2))`` over ``n``
  sessions (null if the mean is negative).  Both annualised by 252.
"""

from __future__ import annotations

import math

import numpy as np

from market_assets.quant.indicators.chunk import Chunk, derived, safe_div
from market_assets.quant.indicators.recursive import wilder
from market_assets.quant.indicators.registry import FeatureSpec, TalibCall, decay_memory

ANNUAL = 252.0


def _bollinger(n: int = 20, k: float = 2.0) -> list[FeatureSpec]:
    mid = lambda c: c.mean("_c", n)  # noqa: E731
    up = lambda c: mid(c) + k * c.std("_c", n, 0)  # noqa: E731
    lo = lambda c: mid(c) - k * c.std("_c", n, 0)  # noqa: E731
    call = {"timeperiod": n, "nbdevup": k, "nbdevdn": k, "matype": 0}
    tag = f"{n}_{int(k)}"
    desc = f"Bollinger band over {n} sessions, SMA +/- {k} population std (ddof=0)."
    return [
        FeatureSpec(f"bb_upper_{tag}", "volatility", "Upper " + desc, n - 1, kernel=up,
                    talib=TalibCall("BBANDS", ("close",), call, 0)),
        FeatureSpec(f"bb_lower_{tag}", "volatility", "Lower " + desc, n - 1, kernel=lo,
                    talib=TalibCall("BBANDS", ("close",), call, 2)),
        FeatureSpec(f"bb_pctb_{tag}", "volatility", "%b = (close - lower) / (upper - lower). " + desc, n - 1,
                    kernel=lambda c: safe_div(c["_c"] - lo(c), up(c) - lo(c))),
        FeatureSpec(f"bb_width_{tag}", "volatility", "Band width (upper - lower) / middle. " + desc, n - 1,
                    kernel=lambda c: safe_div(up(c) - lo(c), mid(c))),
    ]


def _atr(n: int = 14) -> list[FeatureSpec]:
    rec = wilder(f"_atr_{n}", lambda k: k["_tr"], n, seed_pos=n)
    mem = decay_memory(1.0 / n)
    desc = (f"Average true range, Wilder smoothing (alpha 1/{n}) seeded with the mean of the first {n} true "
            "ranges (sessions 1..n; session 0 has none), as TA-Lib.")
    return [
        FeatureSpec(f"atr_{n}", "volatility", desc, n, memory=mem, kernel=lambda k: k[rec.name], recursions=(rec,),
                    talib=TalibCall("ATR", ("high", "low", "close"), {"timeperiod": n})),
        FeatureSpec(f"natr_{n}", "volatility", "100 * ATR / close. " + desc, n, memory=mem,
                    kernel=lambda k: 100.0 * k[rec.name] / k["_c"], recursions=(rec,),
                    talib=TalibCall("NATR", ("high", "low", "close"), {"timeperiod": n})),
    ]


@derived("_hl2")
def _log_range_sq(k: Chunk) -> np.ndarray:
    """ln(high / low)^2."""
    return np.log(k["_h"] / k["_l"]) ** 2


@derived("_gk")
def _garman_klass_term(k: Chunk) -> np.ndarray:
    """0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2."""
    return 0.5 * k["_hl2"] - (2.0 * math.log(2.0) - 1.0) * np.log(k["_c"] / k["_o"]) ** 2


@derived("_hl_range")
def _hl_range(k: Chunk) -> np.ndarray:
    return (k["_h"] - k["_l"]) / k["_c"]


def _garman_klass(k: Chunk, n: int) -> np.ndarray:
    gk = k.mean("_gk", n)
    return np.where(gk >= 0, np.sqrt(np.maximum(gk, 0.0) * ANNUAL), np.nan)


def _range_estimators(n: int) -> list[FeatureSpec]:
    return [
        FeatureSpec(f"parkinson_{n}", "volatility", f"Parkinson high-low volatility over {n} sessions, annualised "
                    "by 252.", n - 1, kernel=lambda k: np.sqrt(k.mean("_hl2", n) * ANNUAL / (4.0 * math.log(2.0)))),
        FeatureSpec(f"garman_klass_{n}", "volatility", f"Garman-Klass OHLC volatility over {n} sessions, annualised "
                    "by 252; null if the estimate is negative.", n - 1,
                    kernel=lambda k: _garman_klass(k, n)),
    ]


def specs() -> list[FeatureSpec]:
    """All volatility feature specs."""
    out = _bollinger() + _atr()
    for n in (5, 10, 20, 60):
        out.append(FeatureSpec(f"vol_{n}", "volatility", f"Std (ddof=1) of daily log returns over {n} sessions, "
                               "times sqrt(252).", n,
                               kernel=lambda k, n=n: k.std("_lret", n, 1) * math.sqrt(ANNUAL)))
    for n in (10, 20, 60):
        out += _range_estimators(n)
    out += [
        FeatureSpec("hl_range", "volatility", "(high - low) / close of the session.", 0, kernel=lambda k: k["_hl_range"]),
        FeatureSpec("hl_range_20", "volatility", "Mean of (high - low) / close over 20 sessions.", 19,
                    kernel=lambda k: k.mean("_hl_range", 20)),
    ]
    return out
