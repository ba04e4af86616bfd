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

from functools import partial

import polars as pl

from market_assets.quant.indicators._frame import safe_div
from market_assets.quant.indicators.matrixops import rolling_argmax, rolling_argmin, rolling_pct_rank
from market_assets.quant.indicators.registry import FeatureSpec

WINDOWS = (5, 10, 20, 30, 60)
C, O, H, L, V = pl.col("_c"), pl.col("_o"), pl.col("_h"), pl.col("_l"), pl.col("_v")


def _corr(x: pl.Expr, y: pl.Expr, d: int) -> pl.Expr:
    """Rolling Pearson correlation from rolling moments; null if either side is flat."""
    cov = (x * y).rolling_mean(d) - x.rolling_mean(d) * y.rolling_mean(d)
    den = (x.rolling_var(d, ddof=0) * y.rolling_var(d, ddof=0)).sqrt()
    return pl.when(den > 0).then((cov / den).clip(-1.0, 1.0))


def _regression(d: int) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """Slope, R^2 and latest residual of close regressed on x = 1..d."""
    x_mean, x_var = (d + 1) / 2.0, (d * d - 1) / 12.0
    sxy = C.rolling_sum(d, weights=[float(k) for k in range(1, d + 1)]) / d
    y_mean = C.rolling_mean(d)
    cov = sxy - x_mean * y_mean
    slope = cov / x_var
    y_var = C.rolling_var(d, ddof=0)
    rsq = pl.when(y_var > 0).then((cov * cov / (x_var * y_var)).clip(0.0, 1.0))
    resi = C - (y_mean + slope * (d - x_mean))
    return slope, rsq, resi


def _kbar() -> list[FeatureSpec]:
    rng = H - L
    top, bottom = pl.max_horizontal(O, C), pl.min_horizontal(O, C)
    rows = [
        ("kmid", "(close - open) / open", (C - O) / O),
        ("klen", "(high - low) / open", rng / O),
        ("kmid2", "(close - open) / (high - low)", safe_div(C - O, rng)),
        ("kup", "(high - max(open, close)) / open", (H - top) / O),
        ("kup2", "(high - max(open, close)) / (high - low)", safe_div(H - top, rng)),
        ("klow", "(min(open, close) - low) / open", (bottom - L) / O),
        ("klow2", "(min(open, close) - low) / (high - low)", safe_div(bottom - L, rng)),
        ("ksft", "(2 close - high - low) / open", (2 * C - H - L) / O),
        ("ksft2", "(2 close - high - low) / (high - low)", safe_div(2 * C - H - L, rng)),
        ("open_0", "open / close (Qlib OPEN0)", O / C),
        ("high_0", "high / close (Qlib HIGH0)", H / C),
        ("low_0", "low / close (Qlib LOW0)", L / C),
    ]
    return [FeatureSpec(name, "alpha158", f"Qlib K-bar: {text}.", 0, expr=lambda e=e: e) for name, text, e in rows]


def _flows(x: pl.Expr, d: int) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """Qlib SUMP/SUMN/SUMD on changes of ``x`` over ``d`` sessions."""
    dx = x - x.shift(1)
    up, down, tot = dx.clip(lower_bound=0.0).rolling_sum(d), (-dx).clip(lower_bound=0.0).rolling_sum(d), \
        dx.abs().rolling_sum(d)
    return safe_div(up, tot), safe_div(down, tot), safe_div(up - down, tot)


def _rolling_exprs(d: int) -> list[tuple[str, str, int, pl.Expr]]:
    slope, rsq, resi = _regression(d)
    up, down = (C > C.shift(1)).cast(pl.Float64), (C < C.shift(1)).cast(pl.Float64)
    sump, sumn, sumd = _flows(C, d)
    vsump, vsumn, vsumd = _flows(V, d)
    wv = (C / C.shift(1) - 1.0).abs() * V
    lo, hi = L.rolling_min(d), H.rolling_max(d)
    return [
        ("roc", "Ref(close, d) / close", d, C.shift(d) / C),
        ("ma", "Mean(close, d) / close", d - 1, C.rolling_mean(d) / C),
        ("std", "Std(close, d) / close, ddof=1", d - 1, C.rolling_std(d, ddof=1) / C),
        ("beta", "Slope(close, d) / close", d - 1, slope / C),
        ("rsqr", "R^2 of close on time", d - 1, rsq),
        ("resi", "Resi(close, d) / close", d - 1, resi / C),
        ("max", "Max(high, d) / close", d - 1, hi / C),
        ("min", "Min(low, d) / close", d - 1, lo / C),
        ("qtlu", "Quantile(close, d, 0.8) / close", d - 1, C.rolling_quantile(0.8, "linear", d) / C),
        ("qtld", "Quantile(close, d, 0.2) / close", d - 1, C.rolling_quantile(0.2, "linear", d) / C),
        ("rsv", "(close - Min(low, d)) / (Max(high, d) - Min(low, d))", d - 1, safe_div(C - lo, hi - lo)),
        ("corr", "Corr(close, log(volume + 1), d)", d - 1, _corr(C, (V + 1.0).log(), d)),
        ("cord", "Corr(close / Ref(close, 1), log(volume / Ref(volume, 1) + 1), d)", d,
         _corr(C / C.shift(1), (safe_div(V, V.shift(1)) + 1.0).log(), d)),
        ("cntp", "Mean(close > Ref(close, 1), d)", d, up.rolling_mean(d)),
        ("cntn", "Mean(close < Ref(close, 1), d)", d, down.rolling_mean(d)),
        ("cntd", "CNTP - CNTN", d, up.rolling_mean(d) - down.rolling_mean(d)),
        ("sump", "Sum(gains) / Sum(|change|) of close", d, sump),
        ("sumn", "Sum(losses) / Sum(|change|) of close", d, sumn),
        ("sumd", "(Sum(gains) - Sum(losses)) / Sum(|change|) of close", d, sumd),
        ("vma", "Mean(volume, d) / volume", d - 1, safe_div(V.rolling_mean(d), V)),
        ("vstd", "Std(volume, d) / volume, ddof=1", d - 1, safe_div(V.rolling_std(d, ddof=1), V)),
        ("wvma", "Std(|ret| * volume, d) / Mean(|ret| * volume, d)", d,
         safe_div(wv.rolling_std(d, ddof=1), wv.rolling_mean(d))),
        ("vsump", "Sum(volume increases) / Sum(|volume change|)", d, vsump),
        ("vsumn", "Sum(volume decreases) / Sum(|volume change|)", d, vsumn),
        ("vsumd", "(increases - decreases) / Sum(|volume change|)", d, vsumd),
    ]


def _index_features(d: int) -> list[FeatureSpec]:
    imax = lambda h, l: rolling_argmax(h, d) / d  # noqa: E731
    imin = lambda h, l: rolling_argmin(l, d) / d  # noqa: E731
    imxd = lambda h, l: (rolling_argmax(h, d) - rolling_argmin(l, d)) / d  # noqa: E731
    rank = partial(rolling_pct_rank, d=d)
    return [
        FeatureSpec(f"imax_{d}", "alpha158", "Qlib IMAX: IdxMax(high, d) / d, 1-based position of the first "
                    "maximum (1 = oldest).", d - 1, matrix=(("_h", "_l"), imax)),
        FeatureSpec(f"imin_{d}", "alpha158", "Qlib IMIN: IdxMin(low, d) / d.", d - 1, matrix=(("_h", "_l"), imin)),
        FeatureSpec(f"imxd_{d}", "alpha158", "Qlib IMXD: (IdxMax(high, d) - IdxMin(low, d)) / d.", d - 1,
                    matrix=(("_h", "_l"), imxd)),
        FeatureSpec(f"rank_{d}", "alpha158", "Qlib RANK: percentile rank of close in its d-window (pandas "
                    "rank(pct=True), ties averaged).", d - 1, matrix=(("_c",), lambda c: rank(c))),
    ]


def specs() -> list[FeatureSpec]:
    """All Alpha158 feature specs (kbar, price, rolling)."""
    out = _kbar()
    for d in WINDOWS:
        for op, text, warm, _ in _rolling_exprs(d):
            out.append(FeatureSpec(f"{op}_{d}", "alpha158", f"Qlib {op.upper()}{d}: {text}, d={d}.", warm,
                                   expr=lambda op=op, d=d: _lookup(op, d)))
        out += _index_features(d)
    return out


def _lookup(op: str, d: int) -> pl.Expr:
    for name, _, _, expr in _rolling_exprs(d):
        if name == op:
            return expr
    raise KeyError(f"unknown Alpha158 operator {op!r}")

