"""Qlib Alpha158 features (K-bar shape, price levels, 29 rolling operators × 5 windows).

Definitions follow ``qlib/contrib/data/loader.py::Alpha158DL.get_feature_config``
with ``$close``/``$open``/... the adjusted prices.  Names are Qlib's in lower
case with an underscore before the window (``KMID`` → ``kmid``, ``ROC5`` →
``roc_5``).  Deliberate differences, all documented per feature:

* Qlib adds ``1e-12`` to denominators; we return null where a denominator is
  exactly zero instead (otherwise identical up to ~1e-12 relative).
* Qlib's rolling operators use ``min_periods=1``; ours need a full window
  (warm-up rows are null, not partial-window guesses).
* ``Std`` is pandas' sample std (ddof=1); ``Quantile`` interpolates linearly;
  ``Rank`` is the pandas ``rank(pct=True)`` of the latest value; ``IdxMax`` /
  ``IdxMin`` are the 1-based positions (1 = oldest) of the first extreme;
  ``Slope`` / ``Rsquare`` / ``Resi`` regress close on ``x = 1..d`` and
  ``Resi`` is the residual of the latest point.
"""

from __future__ import annotations

import numpy as np

from market_assets.quant.indicators.chunk import Chunk, Kernel, derived, safe_div
from market_assets.quant.indicators.registry import FeatureSpec

WINDOWS = (5, 10, 20, 30, 60)
QUANTILES = (0.2, 0.8)  # QTLD, QTLU: computed together


def _prev(k: Chunk, name: str) -> np.ndarray:
    return k.lag(name, 1)


def _first_null(x: np.ndarray) -> np.ndarray:
    x[0] = np.nan
    return x


derived("_lv1")(lambda k: np.log(k["_v"] + 1.0))
derived("_cr")(lambda k: k["_c"] / _prev(k, "_c"))
derived("_lvr")(lambda k: np.log(safe_div(k["_v"], _prev(k, "_v")) + 1.0))
derived("_up")(lambda k: _first_null((k["_c"] > _prev(k, "_c")).astype(np.float64)))
derived("_down")(lambda k: _first_null((k["_c"] < _prev(k, "_c")).astype(np.float64)))
derived("_absdc")(lambda k: np.abs(k["_dc"]))
derived("_dv")(lambda k: k["_v"] - _prev(k, "_v"))
derived("_vgain")(lambda k: np.maximum(k["_dv"], 0.0))
derived("_vloss")(lambda k: np.maximum(-k["_dv"], 0.0))
derived("_absdv")(lambda k: np.abs(k["_dv"]))
derived("_wv")(lambda k: np.abs(k["_ret"]) * k["_v"])


def _corr(k: Chunk, x: str, y: str, d: int) -> np.ndarray:
    """Rolling Pearson correlation from centred co-moments; null if either side is flat."""
    den = np.sqrt(k.comoment(x, x, d) * k.comoment(y, y, d))
    return np.where(den > 0, np.clip(k.comoment(x, y, d) / den, -1.0, 1.0), np.nan)


def _regression(k: Chunk, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Slope, R^2 and latest residual of close regressed on x = 1..d."""
    def compute() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x_mean, x_var = (d + 1) / 2.0, (d * d - 1) / 12.0
        y_mean = k.mean("_c", d)
        cov = k.wsum("_c", d) / d - x_mean * y_mean
        slope = cov / x_var
        y_var = k.var("_c", d, 0)
        rsq = np.where(y_var > 0, np.clip(cov * cov / (x_var * y_var), 0.0, 1.0), np.nan)
        resi = k["_c"] - (y_mean + slope * (d - x_mean))
        return slope, rsq, resi
    return k.memo(("regression", d), compute)  # type: ignore[return-value]


def _kbar() -> list[FeatureSpec]:
    def rng(k: Chunk) -> np.ndarray:
        return k["_h"] - k["_l"]

    def top(k: Chunk) -> np.ndarray:
        return np.maximum(k["_o"], k["_c"])

    def bottom(k: Chunk) -> np.ndarray:
        return np.minimum(k["_o"], k["_c"])

    def ksft(k: Chunk) -> np.ndarray:
        return 2 * k["_c"] - k["_h"] - k["_l"]

    rows: list[tuple[str, str, Kernel]] = [
        ("kmid", "(close - open) / open", lambda k: (k["_c"] - k["_o"]) / k["_o"]),
        ("klen", "(high - low) / open", lambda k: rng(k) / k["_o"]),
        ("kmid2", "(close - open) / (high - low)", lambda k: safe_div(k["_c"] - k["_o"], rng(k))),
        ("kup", "(high - max(open, close)) / open", lambda k: (k["_h"] - top(k)) / k["_o"]),
        ("kup2", "(high - max(open, close)) / (high - low)", lambda k: safe_div(k["_h"] - top(k), rng(k))),
        ("klow", "(min(open, close) - low) / open", lambda k: (bottom(k) - k["_l"]) / k["_o"]),
        ("klow2", "(min(open, close) - low) / (high - low)", lambda k: safe_div(bottom(k) - k["_l"], rng(k))),
        ("ksft", "(2 close - high - low) / open", lambda k: ksft(k) / k["_o"]),
        ("ksft2", "(2 close - high - low) / (high - low)", lambda k: safe_div(ksft(k), rng(k))),
        ("open_0", "open / close (Qlib OPEN0)", lambda k: k["_o"] / k["_c"]),
        ("high_0", "high / close (Qlib HIGH0)", lambda k: k["_h"] / k["_c"]),
        ("low_0", "low / close (Qlib LOW0)", lambda k: k["_l"] / k["_c"]),
    ]
    return [FeatureSpec(name, "alpha158", f"Qlib K-bar: {text}.", 0, kernel=fn) for name, text, fn in rows]


def _flows(k: Chunk, gain: str, loss: str, total: str, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Qlib SUMP/SUMN/SUMD from rolling sums of gains, losses and absolute changes."""
    def compute() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        up, down, tot = k.sum(gain, d), k.sum(loss, d), k.sum(total, d)
        return safe_div(up, tot), safe_div(down, tot), safe_div(up - down, tot)
    return k.memo(("flows", gain, d), compute)  # type: ignore[return-value]


def _rolling_ops(d: int) -> list[tuple[str, str, int, Kernel]]:
    """(operator, description, warm-up, kernel) of Alpha158's rolling operators for window ``d``."""
    reg = lambda k, i: _regression(k, d)[i]  # noqa: E731
    flows = lambda k, i: _flows(k, "_gain", "_loss", "_absdc", d)[i]  # noqa: E731
    vflows = lambda k, i: _flows(k, "_vgain", "_vloss", "_absdv", d)[i]  # noqa: E731
    lo_hi = lambda k: (k.min("_l", d), k.max("_h", d))  # noqa: E731
    return [
        ("roc", "Ref(close, d) / close", d, lambda k: k.lag("_c", d) / k["_c"]),
        ("ma", "Mean(close, d) / close", d - 1, lambda k: k.mean("_c", d) / k["_c"]),
        ("std", "Std(close, d) / close, ddof=1", d - 1, lambda k: k.std("_c", d, 1) / k["_c"]),
        ("beta", "Slope(close, d) / close", d - 1, lambda k: reg(k, 0) / k["_c"]),
        ("rsqr", "R^2 of close on time", d - 1, lambda k: reg(k, 1)),
        ("resi", "Resi(close, d) / close", d - 1, lambda k: reg(k, 2) / k["_c"]),
        ("max", "Max(high, d) / close", d - 1, lambda k: k.max("_h", d) / k["_c"]),
        ("min", "Min(low, d) / close", d - 1, lambda k: k.min("_l", d) / k["_c"]),
        ("qtlu", "Quantile(close, d, 0.8) / close", d - 1, lambda k: k.quantiles("_c", d, QUANTILES)[1] / k["_c"]),
        ("qtld", "Quantile(close, d, 0.2) / close", d - 1, lambda k: k.quantiles("_c", d, QUANTILES)[0] / k["_c"]),
        ("rsv", "(close - Min(low, d)) / (Max(high, d) - Min(low, d))", d - 1,
         lambda k: safe_div(k["_c"] - lo_hi(k)[0], lo_hi(k)[1] - lo_hi(k)[0])),
        ("corr", "Corr(close, log(volume + 1), d)", d - 1, lambda k: _corr(k, "_c", "_lv1", d)),
        ("cord", "Corr(close / Ref(close, 1), log(volume / Ref(volume, 1) + 1), d)", d,
         lambda k: _corr(k, "_cr", "_lvr", d)),
        ("cntp", "Mean(close > Ref(close, 1), d)", d, lambda k: k.mean("_up", d)),
        ("cntn", "Mean(close < Ref(close, 1), d)", d, lambda k: k.mean("_down", d)),
        ("cntd", "CNTP - CNTN", d, lambda k: k.mean("_up", d) - k.mean("_down", d)),
        ("sump", "Sum(gains) / Sum(|change|) of close", d, lambda k: flows(k, 0)),
        ("sumn", "Sum(losses) / Sum(|change|) of close", d, lambda k: flows(k, 1)),
        ("sumd", "(Sum(gains) - Sum(losses)) / Sum(|change|) of close", d, lambda k: flows(k, 2)),
        ("vma", "Mean(volume, d) / volume", d - 1, lambda k: safe_div(k.mean("_v", d), k["_v"])),
        ("vstd", "Std(volume, d) / volume, ddof=1", d - 1, lambda k: safe_div(k.std("_v", d, 1), k["_v"])),
        ("wvma", "Std(|ret| * volume, d) / Mean(|ret| * volume, d)", d,
         lambda k: safe_div(k.std("_wv", d, 1), k.mean("_wv", d))),
        ("vsump", "Sum(volume increases) / Sum(|volume change|)", d, lambda k: vflows(k, 0)),
        ("vsumn", "Sum(volume decreases) / Sum(|volume change|)", d, lambda k: vflows(k, 1)),
        ("vsumd", "(increases - decreases) / Sum(|volume change|)", d, lambda k: vflows(k, 2)),
    ]


def _index_features(d: int) -> list[FeatureSpec]:
    return [
        FeatureSpec(f"imax_{d}", "alpha158", "Qlib IMAX: IdxMax(high, d) / d, 1-based position of the first "
                    "maximum (1 = oldest).", d - 1, kernel=lambda k: k.argmax("_h", d) / d),
        FeatureSpec(f"imin_{d}", "alpha158", "Qlib IMIN: IdxMin(low, d) / d.", d - 1,
                    kernel=lambda k: k.argmin("_l", d) / d),
        FeatureSpec(f"imxd_{d}", "alpha158", "Qlib IMXD: (IdxMax(high, d) - IdxMin(low, d)) / d.", d - 1,
                    kernel=lambda k: (k.argmax("_h", d) - k.argmin("_l", d)) / d),
        FeatureSpec(f"rank_{d}", "alpha158", "Qlib RANK: percentile rank of close in its d-window (pandas "
                    "rank(pct=True), ties averaged).", d - 1, kernel=lambda k: k.rank("_c", d)),
    ]


def specs() -> list[FeatureSpec]:
    """All Alpha158 feature specs (kbar, price, rolling)."""
    out = _kbar()
    for d in WINDOWS:
        for op, text, warm, kernel in _rolling_ops(d):
            out.append(FeatureSpec(f"{op}_{d}", "alpha158", f"Qlib {op.upper()}{d}: {text}, d={d}.", warm,
                                   kernel=kernel))
        out += _index_features(d)
    return out
