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

import polars as pl

from market_assets.quant.indicators._frame import safe_div
from market_assets.quant.indicators.recursive import wilder
from market_assets.quant.indicators.registry import FeatureSpec, TalibCall, decay_memory

C, H, L, O = pl.col("_c"), pl.col("_h"), pl.col("_l"), pl.col("_o")
ANNUAL = 252.0


def _bollinger(n: int = 20, k: float = 2.0) -> list[FeatureSpec]:
    mid = lambda: C.rolling_mean(n)  # noqa: E731
    sd = lambda: C.rolling_std(n, ddof=0)  # noqa: E731
    up = lambda: mid() + k * sd()  # noqa: E731
    lo = lambda: mid() - k * sd()  # noqa: E731
    call = {"timeperiod": n, "nbdevup": k, "nbdevdn": k, "matype": 0}
    tag = f"{n}_{int(k)}"
    desc = f"Bollinger band over {n} sessions, SMA +/- {k} population std (ddof=0)."
    return [
        FeatureSpec(f"bb_upper_{tag}", "volatility", "Upper " + desc, n - 1, expr=up,
                    talib=TalibCall("BBANDS", ("close",), call, 0)),
        FeatureSpec(f"bb_lower_{tag}", "volatility", "Lower " + desc, n - 1, expr=lo,
                    talib=TalibCall("BBANDS", ("close",), call, 2)),
        FeatureSpec(f"bb_pctb_{tag}", "volatility", "%b = (close - lower) / (upper - lower). " + desc, n - 1,
                    expr=lambda: safe_div(C - lo(), up() - lo())),
        FeatureSpec(f"bb_width_{tag}", "volatility", "Band width (upper - lower) / middle. " + desc, n - 1,
                    expr=lambda: safe_div(up() - lo(), mid())),
    ]


def _atr(n: int = 14) -> list[FeatureSpec]:
    rec = wilder(f"_atr_{n}", lambda: pl.col("_tr"), n, seed_pos=n)
    mem = decay_memory(1.0 / n)
    desc = (f"Average true range, Wilder smoothing (alpha 1/{n}) seeded with the mean of the first {n} true "
            "ranges (sessions 1..n; session 0 has none), as TA-Lib.")
    return [
        FeatureSpec(f"atr_{n}", "volatility", desc, n, memory=mem, expr=lambda: pl.col(rec.name), recursions=(rec,),
                    talib=TalibCall("ATR", ("high", "low", "close"), {"timeperiod": n})),
        FeatureSpec(f"natr_{n}", "volatility", "100 * ATR / close. " + desc, n, memory=mem,
                    expr=lambda: 100.0 * pl.col(rec.name) / C, recursions=(rec,),
                    talib=TalibCall("NATR", ("high", "low", "close"), {"timeperiod": n})),
    ]


def _range_estimators(n: int) -> list[FeatureSpec]:
    hl2 = lambda: (H / L).log() ** 2  # noqa: E731
    co2 = lambda: (C / O).log() ** 2  # noqa: E731
    gk = lambda: (0.5 * hl2() - (2.0 * math.log(2.0) - 1.0) * co2()).rolling_mean(n)  # noqa: E731
    return [
        FeatureSpec(f"parkinson_{n}", "volatility", f"Parkinson high-low volatility over {n} sessions, annualised "
                    "by 252.", n - 1, expr=lambda: (hl2().rolling_mean(n) * ANNUAL / (4.0 * math.log(2.0))).sqrt()),
        FeatureSpec(f"garman_klass_{n}", "volatility", f"Garman-Klass OHLC volatility over {n} sessions, annualised "
                    "by 252; null if the estimate is negative.", n - 1,
                    expr=lambda: pl.when(gk() >= 0).then((gk() * ANNUAL).sqrt())),
    ]


def specs() -> list[FeatureSpec]:
    """All volatility feature specs."""
    out = _bollinger() + _atr()
    for n in (5, 10, 20, 60):
        out.append(FeatureSpec(f"vol_{n}", "volatility", f"Std (ddof=1) of daily log returns over {n} sessions, "
                               "times sqrt(252).", n,
                               expr=lambda n=n: pl.col("_lret").rolling_std(n, ddof=1) * math.sqrt(ANNUAL)))
    for n in (10, 20, 60):
        out += _range_estimators(n)
    out += [
        FeatureSpec("hl_range", "volatility", "(high - low) / close of the session.", 0, expr=lambda: (H - L) / C),
        FeatureSpec("hl_range_20", "volatility", "Mean of (high - low) / close over 20 sessions.", 19,
                    expr=lambda: ((H - L) / C).rolling_mean(20)),
    ]
    return out
