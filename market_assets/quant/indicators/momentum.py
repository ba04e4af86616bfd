"""Momentum oscillators: RSI, stochastic, Williams %R, CCI, ROC, momentum.

Where TA-Lib returns 0 for a zero denominator (a perfectly flat window) we
return null: a flat window carries no oscillator reading.
"""

from __future__ import annotations

import polars as pl

from market_assets.quant.indicators._frame import safe_div
from market_assets.quant.indicators.recursive import wilder
from market_assets.quant.indicators.registry import FeatureSpec, TalibCall, decay_memory

C, H, L = pl.col("_c"), pl.col("_h"), pl.col("_l")
HLC = ("high", "low", "close")


def _rsi(n: int) -> FeatureSpec:
    gain = wilder(f"_rsi_gain_{n}", lambda: pl.col("_dc").clip(lower_bound=0.0), n, seed_pos=n)
    loss = wilder(f"_rsi_loss_{n}", lambda: (-pl.col("_dc")).clip(lower_bound=0.0), n, seed_pos=n)
    return FeatureSpec(
        f"rsi_{n}", "momentum",
        f"Wilder RSI over {n} sessions on adjusted close, 0-100: average gain and loss seeded with the simple "
        f"mean of the first {n} changes, then Wilder smoothing (alpha 1/{n}); matches TA-Lib.",
        n, memory=decay_memory(1.0 / n),
        expr=lambda: 100.0 * safe_div(pl.col(gain.name), pl.col(gain.name) + pl.col(loss.name)),
        recursions=(gain, loss), talib=TalibCall("RSI", ("close",), {"timeperiod": n}))


def _fast_k(n: int) -> pl.Expr:
    low = L.rolling_min(n)
    return 100.0 * safe_div(C - low, H.rolling_max(n) - low)


def _stochastic(n: int = 14, k: int = 3, d: int = 3) -> list[FeatureSpec]:
    call = {"fastk_period": n, "slowk_period": k, "slowk_matype": 0, "slowd_period": d, "slowd_matype": 0}
    return [
        FeatureSpec(f"stoch_fastk_{n}", "momentum", f"Fast %K: 100 (close - min low {n}) / (max high {n} - min "
                    f"low {n}); null on a flat window.", n - 1, expr=lambda: _fast_k(n)),
        FeatureSpec(f"stoch_k_{n}_{k}", "momentum", f"Slow %K: SMA{k} of fast %K (TA-Lib STOCH, SMA smoothing).",
                    n + k - 2, expr=lambda: _fast_k(n).rolling_mean(k), talib=TalibCall("STOCH", HLC, call, 0)),
        FeatureSpec(f"stoch_d_{n}_{k}_{d}", "momentum", f"Slow %D: SMA{d} of slow %K.", n + k + d - 3,
                    expr=lambda: _fast_k(n).rolling_mean(k).rolling_mean(d), talib=TalibCall("STOCH", HLC, call, 1)),
    ]


def _cci(n: int) -> pl.Expr:
    tp = pl.col("_tp")
    mean = tp.rolling_mean(n)
    mad = pl.sum_horizontal([(tp.shift(k) - mean).abs() for k in range(n)]) / n
    return safe_div(tp - mean, 0.015 * mad)


def specs() -> list[FeatureSpec]:
    """All momentum feature specs."""
    out = [_rsi(n) for n in (7, 14, 21)] + _stochastic()
    out += [
        FeatureSpec("willr_14", "momentum", "Williams %R: -100 (max high 14 - close) / (max high 14 - min low 14), "
                    "in [-100, 0].", 13,
                    expr=lambda: -100.0 * safe_div(H.rolling_max(14) - C, H.rolling_max(14) - L.rolling_min(14)),
                    talib=TalibCall("WILLR", HLC, {"timeperiod": 14})),
        FeatureSpec("cci_20", "momentum", "Commodity Channel Index: (TP - SMA20(TP)) / (0.015 * mean absolute "
                    "deviation of TP from that SMA), TP = (high + low + close) / 3.", 19, expr=lambda: _cci(20),
                    talib=TalibCall("CCI", HLC, {"timeperiod": 20})),
    ]
    for n in (10, 20):
        out += [
            FeatureSpec(f"roc_pct_{n}", "momentum", f"TA-Lib ROC: 100 (close / close {n} sessions ago - 1).", n,
                        expr=lambda n=n: 100.0 * (C / C.shift(n) - 1.0),
                        talib=TalibCall("ROC", ("close",), {"timeperiod": n})),
            FeatureSpec(f"mom_{n}", "momentum", f"Momentum: close - close {n} sessions ago (adjusted price units).",
                        n, expr=lambda n=n: C - C.shift(n), talib=TalibCall("MOM", ("close",), {"timeperiod": n})),
        ]
    return out
