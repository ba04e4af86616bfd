"""Alpha158 features against a plain pandas transcription of Qlib's expressions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl

from market_assets.quant.features import compute_features

from .helpers import adjusted_arrays

WINDOWS = (5, 10, 20, 30, 60)


def _slope_rsq_resi(y: pd.Series, d: int) -> tuple[pd.Series, pd.Series, pd.Series]:
    x = np.arange(1, d + 1, dtype=float)

    def fit(w: np.ndarray) -> tuple[float, float, float]:
        b, a = np.polyfit(x, w, 1)
        pred = a + b * x
        ss_tot = ((w - w.mean()) ** 2).sum()
        return b, 1 - ((w - pred) ** 2).sum() / ss_tot, w[-1] - pred[-1]

    res = [fit(w) if i >= d - 1 else (np.nan,) * 3
           for i, w in enumerate(np.lib.stride_tricks.sliding_window_view(np.r_[np.full(d - 1, np.nan), y], d))]
    arr = np.array(res)
    return tuple(pd.Series(arr[:, k]) for k in range(3))  # type: ignore[return-value]


def _reference(a: dict[str, np.ndarray]) -> dict[str, pd.Series]:
    c, o, h, l, v = (pd.Series(a[k]) for k in ("close", "open", "high", "low", "volume"))
    ref = {"kmid": (c - o) / o, "klen": (h - l) / o, "ksft2": (2 * c - h - l) / (h - l),
           "kup": (h - np.maximum(o, c)) / o, "klow2": (np.minimum(o, c) - l) / (h - l)}
    dc = c - c.shift(1)
    for d in WINDOWS:
        r = lambda s: s.rolling(d)  # noqa: E731
        slope, rsq, resi = _slope_rsq_resi(c, d)
        ref |= {
            f"roc_{d}": c.shift(d) / c, f"ma_{d}": r(c).mean() / c, f"std_{d}": r(c).std() / c,
            f"beta_{d}": slope / c, f"rsqr_{d}": rsq, f"resi_{d}": resi / c,
            f"max_{d}": r(h).max() / c, f"min_{d}": r(l).min() / c,
            f"qtlu_{d}": r(c).quantile(0.8) / c, f"qtld_{d}": r(c).quantile(0.2) / c,
            f"rank_{d}": r(c).rank(pct=True), f"rsv_{d}": (c - r(l).min()) / (r(h).max() - r(l).min()),
            f"imax_{d}": r(h).apply(lambda x: x.argmax() + 1, raw=True) / d,
            f"imxd_{d}": (r(h).apply(lambda x: x.argmax() + 1, raw=True)
                          - r(l).apply(lambda x: x.argmin() + 1, raw=True)) / d,
            f"corr_{d}": r(c).corr(np.log(v + 1)),
            f"cord_{d}": r(c / c.shift(1)).corr(np.log(v / v.shift(1) + 1)),
            f"cntd_{d}": r((c > c.shift(1)).astype(float)).mean() - r((c < c.shift(1)).astype(float)).mean(),
            f"sumd_{d}": (r(dc.clip(lower=0)).sum() - r((-dc).clip(lower=0)).sum()) / r(dc.abs()).sum(),
            f"vma_{d}": r(v).mean() / v, f"vstd_{d}": r(v).std() / v,
            f"wvma_{d}": r((c / c.shift(1) - 1).abs() * v).std() / r((c / c.shift(1) - 1).abs() * v).mean(),
        }
    return ref


def test_alpha158_matches_pandas_reference(panel: pl.DataFrame) -> None:
    symbol = "SYM00"  # the one with a split: inputs are the adjusted prices
    ref = _reference(adjusted_arrays(panel, symbol))
    out = compute_features(panel.filter(pl.col("symbol") == symbol), features=list(ref))
    for name, expected in ref.items():
        ours = out[name].to_numpy().astype(float)
        exp = expected.to_numpy()
        valid = ~np.isnan(ours)
        assert valid.sum() > 400, name
        np.testing.assert_allclose(ours[valid], exp[valid], rtol=1e-7, atol=1e-9, err_msg=name)
        # where pandas has a full window, so do we (CNT/SUM-style counts need the diff too)
        assert np.isnan(ours[~np.isnan(exp)]).sum() <= 1, name
