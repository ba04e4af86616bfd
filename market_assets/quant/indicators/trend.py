"""Trend features: moving averages, MACD, ADX/DI, Parabolic SAR, Ichimoku.

All prices are split/dividend adjusted (see :mod:`._frame`).  Moving
averages are reported in adjusted price units; the ``close_to_*`` ratios
(``close / MA - 1``) are scale-free and better suited to models.
"""

from __future__ import annotations

import numpy as np

from market_assets.quant.indicators.chunk import Chunk, safe_div
from market_assets.quant.indicators.matrixops import parabolic_sar
from market_assets.quant.indicators.recursive import ema, wilder
from market_assets.quant.indicators.registry import FeatureSpec, TalibCall, decay_memory

MA_WINDOWS = (5, 10, 20, 50, 100, 200)


def _close(k: Chunk) -> np.ndarray:
    return k["_c"]


def _moving_averages() -> list[FeatureSpec]:
    specs = []
    for n in MA_WINDOWS:
        total = n * (n + 1) / 2
        rec = ema(f"_ema_{n}", _close, n)
        mem = decay_memory(rec.alpha)
        specs += [
            FeatureSpec(f"sma_{n}", "trend", f"Simple moving average of adjusted close over {n} sessions.",
                        n - 1, kernel=lambda k, n=n: k.mean("_c", n), talib=TalibCall("SMA", ("close",), {"timeperiod": n})),
            FeatureSpec(f"ema_{n}", "trend",
                        f"Exponential moving average of adjusted close, alpha = 2/({n}+1), seeded TA-Lib style with "
                        f"the SMA of the first {n} closes; memory {mem} sessions to 1e-10.",
                        n - 1, memory=mem, kernel=lambda k, n=n: k[f"_ema_{n}"], recursions=(rec,),
                        talib=TalibCall("EMA", ("close",), {"timeperiod": n})),
            FeatureSpec(f"wma_{n}", "trend", f"Linearly weighted moving average over {n} sessions (weight k for the "
                        f"k-th oldest, sum of weights {int(total)}).", n - 1,
                        kernel=lambda k, n=n, total=total: k.wsum("_c", n) / total,
                        talib=TalibCall("WMA", ("close",), {"timeperiod": n})),
            FeatureSpec(f"close_to_sma_{n}", "trend", f"close / sma_{n} - 1.", n - 1,
                        kernel=lambda k, n=n: k["_c"] / k.mean("_c", n) - 1.0),
            FeatureSpec(f"close_to_ema_{n}", "trend", f"close / ema_{n} - 1 (EMA seeded as ema_{n}).", n - 1,
                        memory=mem, kernel=lambda k, n=n: k["_c"] / k[f"_ema_{n}"] - 1.0, recursions=(rec,)),
        ]
    return specs


def _macd(fast: int = 12, slow: int = 26, signal: int = 9) -> list[FeatureSpec]:
    tag = f"{fast}_{slow}_{signal}"
    f_rec = ema(f"_macd_fast_{tag}", _close, fast, seed_pos=slow - 1)
    s_rec = ema(f"_macd_slow_{tag}", _close, slow, seed_pos=slow - 1)
    line = lambda k: k[f_rec.name] - k[s_rec.name]  # noqa: E731
    sig = ema(f"_macd_signal_{tag}", line, signal, seed_pos=slow + signal - 2, level=2)
    warm = slow + signal - 2
    mem = decay_memory(s_rec.alpha) + decay_memory(sig.alpha)
    recs = (f_rec, s_rec, sig)
    conv = (f"TA-Lib convention: both EMAs start at index {slow - 1}, the fast one seeded with the SMA of the "
            f"last {fast} closes there; the signal is an EMA({signal}) of the line seeded with its SMA.")
    return [
        FeatureSpec(f"macd_{tag}", "trend", f"MACD line EMA{fast} - EMA{slow}. {conv}", warm, memory=mem,
                    kernel=line, recursions=recs, talib=TalibCall("MACD", ("close",), {"fastperiod": fast,
                    "slowperiod": slow, "signalperiod": signal}, 0)),
        FeatureSpec(f"macd_signal_{tag}", "trend", f"MACD signal line. {conv}", warm, memory=mem,
                    kernel=lambda k: k[sig.name], recursions=recs, talib=TalibCall("MACD", ("close",),
                    {"fastperiod": fast, "slowperiod": slow, "signalperiod": signal}, 1)),
        FeatureSpec(f"macd_hist_{tag}", "trend", f"MACD histogram (line - signal). {conv}", warm, memory=mem,
                    kernel=lambda k: line(k) - k[sig.name], recursions=recs, talib=TalibCall("MACD", ("close",),
                    {"fastperiod": fast, "slowperiod": slow, "signalperiod": signal}, 2)),
    ]


def _masked_dm(k: Chunk, sign: int) -> np.ndarray:
    """+DM (``sign > 0``) or -DM: the move if it is positive and beats the opposite one, else 0; null first."""
    up, down = k["_h"] - k.lag("_h", 1), k.lag("_l", 1) - k["_l"]
    move, other = (up, down) if sign > 0 else (down, up)
    out = np.where((move > 0) & (move > other), move, 0.0)
    out[0] = np.nan
    return out


def _adx(n: int = 14) -> list[FeatureSpec]:
    kw = dict(seed_pos=n - 1, seed_len=n - 1, seed_factor=(n - 1) / n)
    plus = wilder(f"_pdm_{n}", lambda k: _masked_dm(k, 1), n, **kw)
    minus = wilder(f"_mdm_{n}", lambda k: _masked_dm(k, -1), n, **kw)
    tr = wilder(f"_trs_{n}", lambda k: k["_tr"], n, **kw)
    pdi = lambda k: 100.0 * safe_div(k[plus.name], k[tr.name])  # noqa: E731
    mdi = lambda k: 100.0 * safe_div(k[minus.name], k[tr.name])  # noqa: E731

    def dx(k: Chunk) -> np.ndarray:
        p, m = pdi(k), mdi(k)
        return 100.0 * safe_div(np.abs(p - m), p + m)

    adx = wilder(f"_adx_{n}", dx, n, seed_pos=2 * n - 1, level=2)
    mem = decay_memory(1.0 / n)
    conv = (f"Wilder smoothing (alpha 1/{n}) of +DM, -DM and true range, seeded TA-Lib style with the sum of the "
            f"first {n - 1} values; +DM counts only if the up-move exceeds the down-move (and vice versa).")
    hlc = ("high", "low", "close")
    return [
        FeatureSpec(f"plus_di_{n}", "trend", f"+DI = 100 * smoothed(+DM) / smoothed(TR). {conv}", n, memory=mem,
                    kernel=pdi, recursions=(plus, tr), talib=TalibCall("PLUS_DI", hlc, {"timeperiod": n})),
        FeatureSpec(f"minus_di_{n}", "trend", f"-DI = 100 * smoothed(-DM) / smoothed(TR). {conv}", n, memory=mem,
                    kernel=mdi, recursions=(minus, tr), talib=TalibCall("MINUS_DI", hlc, {"timeperiod": n})),
        FeatureSpec(f"adx_{n}", "trend", f"ADX: Wilder average of DX = 100|+DI - -DI|/(+DI + -DI), seeded with the "
                    f"mean of the first {n} DX values. {conv}", 2 * n - 1, memory=2 * mem,
                    kernel=lambda k: k[adx.name], recursions=(plus, minus, tr, adx),
                    talib=TalibCall("ADX", hlc, {"timeperiod": n})),
    ]


def _sar() -> list[FeatureSpec]:
    matrix = (("_h", "_l"), lambda h, l: parabolic_sar(h, l, 0.02, 0.2))
    note = ("Parabolic SAR (acceleration 0.02, maximum 0.2), TA-Lib's algorithm including its initial-direction "
            "rule. Path dependent: the value depends on the whole history, so a trailing-window recompute can "
            "differ until both paths share a reversal.")
    return [
        FeatureSpec("sar", "trend", note, 1, matrix=matrix, history_dependent=True,
                    talib=TalibCall("SAR", ("high", "low"), {"acceleration": 0.02, "maximum": 0.2})),
        FeatureSpec("close_to_sar", "trend", "close / sar - 1 (positive in an up-trend). " + note, 1,
                    kernel=lambda k: k["_c"] / k["sar"] - 1.0, depends=("sar",), history_dependent=True),
    ]


def _ichimoku(tenkan: int = 9, kijun: int = 26, senkou: int = 52) -> list[FeatureSpec]:
    mid = lambda k, n: (k.max("_h", n) + k.min("_l", n)) / 2.0  # noqa: E731
    lag = (" Reported at the session it is computed from, NOT displaced 26 sessions ahead as on charts (that "
           "display shift would place the value on a future row; here row t uses data up to t only).")
    return [
        FeatureSpec(f"ichimoku_tenkan_{tenkan}", "trend", f"Tenkan-sen: midpoint of the {tenkan}-session high/low.",
                    tenkan - 1, kernel=lambda k: mid(k, tenkan)),
        FeatureSpec(f"ichimoku_kijun_{kijun}", "trend", f"Kijun-sen: midpoint of the {kijun}-session high/low.",
                    kijun - 1, kernel=lambda k: mid(k, kijun)),
        FeatureSpec(f"ichimoku_senkou_a_{tenkan}_{kijun}", "trend", "Senkou span A: (tenkan + kijun) / 2." + lag,
                    kijun - 1, kernel=lambda k: (mid(k, tenkan) + mid(k, kijun)) / 2.0),
        FeatureSpec(f"ichimoku_senkou_b_{senkou}", "trend", f"Senkou span B: midpoint of the {senkou}-session "
                    "high/low." + lag, senkou - 1, kernel=lambda k: mid(k, senkou)),
        FeatureSpec(f"close_to_kijun_{kijun}", "trend", f"close / kijun_{kijun} - 1.", kijun - 1,
                    kernel=lambda k: k["_c"] / mid(k, kijun) - 1.0),
    ]


def specs() -> list[FeatureSpec]:
    """All trend feature specs."""
    return _moving_averages() + _macd() + _adx() + _sar() + _ichimoku()
