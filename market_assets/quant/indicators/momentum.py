"""Momentum oscillators: RSI, stochastic, Williams %R, CCI, ROC, momentum.

Where TA-Lib returns 0 for a zero denominator (a perfectly flat window) we
return null: a flat window carries no oscillator reading.
"""

from __future__ import annotations

import numpy as np

from market_assets.quant.indicators.chunk import Chunk, derived, safe_div
from market_assets.quant.indicators.recursive import wilder
from market_assets.quant.indicators.registry import FeatureSpec, TalibCall, decay_memory

HLC = ("high", "low", "close")


def _rsi(n: int) -> FeatureSpec:
    gain = wilder(f"_rsi_gain_{n}", lambda k: k["_gain"], n, seed_pos=n)
    loss = wilder(f"_rsi_loss_{n}", lambda k: k["_loss"], n, seed_pos=n)
    return FeatureSpec(
        f"rsi_{n}", "momentum",
        f"Wilder RSI over {n} sessions on adjusted close, 0-100: average gain and loss seeded with the simple "
        f"mean of the first {n} changes, then Wilder smoothing (alpha 1/{n}); matches TA-Lib.",
        n, memory=decay_memory(1.0 / n),
        kernel=lambda k: 100.0 * safe_div(k[gain.name], k[gain.name] + k[loss.name]),
        recursions=(gain, loss), talib=TalibCall("RSI", ("close",), {"timeperiod": n}))


def _fast_k(k: Chunk, n: int) -> np.ndarray:
    low = k.min("_l", n)
    return 100.0 * safe_div(k["_c"] - low, k.max("_h", n) - low)


def _stochastic(n: int = 14, k: int = 3, d: int = 3) -> list[FeatureSpec]:
    call = {"fastk_period": n, "slowk_period": k, "slowk_matype": 0, "slowd_period": d, "slowd_matype": 0}
    fast, slow = f"_stoch_fastk_{n}", f"_stoch_k_{n}_{k}"
    derived(fast)(lambda c: _fast_k(c, n))
    derived(slow)(lambda c: c.mean(fast, k))
    return [
        FeatureSpec(f"stoch_fastk_{n}", "momentum", f"Fast %K: 100 (close - min low {n}) / (max high {n} - min "
                    f"low {n}); null on a flat window.", n - 1, kernel=lambda c: c[fast]),
        FeatureSpec(f"stoch_k_{n}_{k}", "momentum", f"Slow %K: SMA{k} of fast %K (TA-Lib STOCH, SMA smoothing).",
                    n + k - 2, kernel=lambda c: c[slow], talib=TalibCall("STOCH", HLC, call, 0)),
        FeatureSpec(f"stoch_d_{n}_{k}_{d}", "momentum", f"Slow %D: SMA{d} of slow %K.", n + k + d - 3,
                    kernel=lambda c: c.mean(slow, d), talib=TalibCall("STOCH", HLC, call, 1)),
    ]


def _cci(k: Chunk, n: int) -> np.ndarray:
    """(TP - SMA) / (0.015 * mean |TP_j - SMA|), the deviations summed newest first."""
    tp, mean = k["_tp"], k.mean("_tp", n)
    total = np.abs(tp - mean)
    dev = np.empty_like(tp)
    for j in range(1, n):
        np.subtract(tp[:-j], mean[j:], out=dev[j:])
        np.abs(dev[j:], out=dev[j:])
        total[j:] += dev[j:]
    total[: n - 1] = np.nan
    return safe_div(tp - mean, 0.015 * (total / n))


def specs() -> list[FeatureSpec]:
    """All momentum feature specs."""
    out = [_rsi(n) for n in (7, 14, 21)] + _stochastic()
    out += [
        FeatureSpec("willr_14", "momentum", "Williams %R: -100 (max high 14 - close) / (max high 14 - min low 14), "
                    "in [-100, 0].", 13,
                    kernel=lambda k: -100.0 * safe_div(k.max("_h", 14) - k["_c"], k.max("_h", 14) - k.min("_l", 14)),
                    talib=TalibCall("WILLR", HLC, {"timeperiod": 14})),
        FeatureSpec("cci_20", "momentum", "Commodity Channel Index: (TP - SMA20(TP)) / (0.015 * mean absolute "
                    "deviation of TP from that SMA), TP = (high + low + close) / 3.", 19, kernel=lambda k: _cci(k, 20),
                    talib=TalibCall("CCI", HLC, {"timeperiod": 20})),
    ]
    for n in (10, 20):
        out += [
            FeatureSpec(f"roc_pct_{n}", "momentum", f"TA-Lib ROC: 100 (close / close {n} sessions ago - 1).", n,
                        kernel=lambda k, n=n: 100.0 * (k["_c"] / k.lag("_c", n) - 1.0),
                        talib=TalibCall("ROC", ("close",), {"timeperiod": n})),
            FeatureSpec(f"mom_{n}", "momentum", f"Momentum: close - close {n} sessions ago (adjusted price units).",
                        n, kernel=lambda k, n=n: k["_c"] - k.lag("_c", n), talib=TalibCall("MOM", ("close",), {"timeperiod": n})),
        ]
    return out
