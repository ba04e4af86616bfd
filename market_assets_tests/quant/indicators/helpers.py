"""Test helpers: adjusted arrays of one symbol, TA-Lib reference values, AAPL panel."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from market_assets.quant.features import FeatureSpec


def adjusted_arrays(prices: pl.DataFrame, symbol: str) -> dict[str, np.ndarray]:
    """OHLC of one symbol rescaled by adj_close / close, plus raw volume, date-sorted."""
    raw = prices.filter(pl.col("symbol") == symbol).sort("date")
    factor = (raw["adj_close"] / raw["close"]).to_numpy()
    return {
        "open": raw["open"].to_numpy() * factor, "high": raw["high"].to_numpy() * factor,
        "low": raw["low"].to_numpy() * factor, "close": raw["adj_close"].to_numpy(),
        "volume": raw["volume"].to_numpy().astype(float),
    }


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
