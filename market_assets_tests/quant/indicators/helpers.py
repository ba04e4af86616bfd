"""Test helpers: adjusted arrays of one symbol (as the features see them), TA-Lib reference values, AAPL panel."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from market_assets.quant.adjustments import point_in_time_adjusted
from market_assets.quant.features import FeatureSpec


def adjusted_arrays(prices: pl.DataFrame, symbol: str) -> dict[str, np.ndarray]:
    """OHLCV of one symbol as the features see them, date-sorted: prices back-adjusted to its last
    session as traded, volume split-adjusted (see market_assets.quant.adjustments)."""
    adjusted = point_in_time_adjusted(prices.filter(pl.col("symbol") == symbol).sort("date"))
    return {name: adjusted[f"adj_{name}"].to_numpy().astype(float)
            for name in ("open", "high", "low", "close", "volume")}


def talib_values(spec: FeatureSpec, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """The TA-Lib output that ``spec`` promises to match."""
    import talib

    call = spec.talib
    assert call is not None
    out = getattr(talib, call.function)(*[arrays[name] for name in call.inputs], **call.kwargs)
    return np.asarray(out[call.output] if call.output is not None else out, dtype=float)


def aapl_panel() -> pl.DataFrame:
    """AAPL 2000-2013 daily OHLCV with adjusted close (bokeh_sampledata, public domain)."""
    from bokeh_sampledata.stocks import AAPL

    return pl.DataFrame({
        "date": [dt.date.fromisoformat(d) for d in AAPL["date"]], "symbol": "AAPL",
        "open": AAPL["open"], "high": AAPL["high"], "low": AAPL["low"], "close": AAPL["close"],
        "adj_close": AAPL["adj_close"], "volume": [float(v) for v in AAPL["volume"]], "source": "bundled",
    })


def cent_market(n_symbols: int = 30, start: str = "2019-01-01", end: str = "2020-12-31") -> pl.DataFrame:
    """The synthetic market with prices rounded to cents, as an exchange quotes them.

    Rounding makes unchanged closes (ties) occur, so that relations which hold
    only on tie-free data (``cntp + cntn = 1``) are not mistaken for identities.
    """
    from market_assets.sources import build_source

    source = build_source("synthetic", n_symbols=n_symbols, start=start, end=end, defects=False)
    prices = source.fetch(dt.date.fromisoformat(start), dt.date.fromisoformat(end))
    return prices.with_columns(pl.col(c).round(2) for c in ("open", "high", "low", "close", "adj_close"))


def affine_pairs(frame: pl.DataFrame, names: list[str], tol: float = 1e-9) -> list[tuple[str, str, float]]:
    """Pairs ``(a, b, corr)`` of ``names`` with ``b = α + β a`` exactly on their common non-null rows.

    Candidates have pooled ``|corr| > 0.9999``; a candidate counts when the
    least-squares line leaves no residual above ``tol`` relative to ``b``'s scale.
    """
    x = frame.select(pl.col(names).cast(pl.Float64)).to_numpy()
    corr = pairwise_corr(x, min_rows=30)
    out = []
    for i, j in zip(*np.nonzero(np.triu(np.abs(np.nan_to_num(corr)) > 0.9999, k=1))):
        both = ~np.isnan(x[:, i]) & ~np.isnan(x[:, j])
        a, b = x[both, i], x[both, j]
        slope, intercept = np.polyfit(a, b, 1)
        if np.max(np.abs(b - (intercept + slope * a))) <= tol * (np.max(np.abs(b)) + 1.0):
            out.append((names[i], names[j], float(corr[i, j])))
    return out


def pairwise_corr(x: np.ndarray, min_rows: int = 2) -> np.ndarray:
    """Pearson correlations of the columns of ``x`` on pairwise non-NaN rows, by matrix products.

    Columns are centred on their own mean first (less cancellation); NaN where
    fewer than ``min_rows`` rows are common or a side is constant there.  Good
    to ~1e-10, which is all a candidate filter needs (pandas' exact pairwise
    loop takes seconds on a few hundred columns).
    """
    valid = ~np.isnan(x)
    m = valid.astype(np.float64)
    z = np.where(valid, x - np.nanmean(x, axis=0), 0.0)
    n = m.T @ m
    s_i = z.T @ m  # s_i[i, j]: sum of column i over the rows where j is valid too
    q_i = (z * z).T @ m
    with np.errstate(all="ignore"):
        cov = z.T @ z - s_i * s_i.T / n
        var_i, var_j = q_i - s_i**2 / n, (q_i - s_i**2 / n).T
        corr = cov / np.sqrt(var_i * var_j)
    corr[(n < min_rows) | ~(var_i > 0) | ~(var_j > 0)] = np.nan
    return corr
