"""Every feature that declares a TA-Lib equivalent matches it to 1e-8 relative after warm-up."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from market_assets.quant.features import FEATURE_SPECS, compute_features

from .helpers import aapl_panel, adjusted_arrays, talib_values

pytest.importorskip("talib")
TALIB_FEATURES = [name for name, spec in FEATURE_SPECS.items() if spec.talib is not None]


def _assert_parity(prices: pl.DataFrame, out: pl.DataFrame, symbol: str, name: str) -> None:
    spec = FEATURE_SPECS[name]
    expected = talib_values(spec, adjusted_arrays(prices, symbol))
    ours = out.filter(pl.col("symbol") == symbol).sort("date")[name].to_numpy().astype(float)
    valid = ~np.isnan(expected)
    assert valid.sum() > 100, f"{name}: TA-Lib produced too few values"
    assert not np.isnan(ours[valid]).any(), f"{name}: null where TA-Lib has a value"
    np.testing.assert_allclose(ours[valid], expected[valid], rtol=1e-8, atol=1e-10, err_msg=f"{name} {symbol}")
    # our warm-up is never longer than TA-Lib's lookback
    assert spec.warmup <= int(np.argmax(valid)), f"{name}: warm-up {spec.warmup} > TA-Lib lookback"


def test_at_least_25_indicators_have_talib_parity() -> None:
    functions = {FEATURE_SPECS[n].talib.function for n in TALIB_FEATURES}
    expected = {"SMA", "EMA", "WMA", "MACD", "ADX", "PLUS_DI", "MINUS_DI", "SAR", "RSI", "STOCH", "WILLR", "CCI",
                "ROC", "MOM", "BBANDS", "ATR", "NATR", "OBV", "AD", "MFI"}
    assert expected <= functions
    assert len(TALIB_FEATURES) >= 35


def test_synthetic_panel_matches_talib(panel: pl.DataFrame) -> None:
    out = compute_features(panel, features=TALIB_FEATURES)
    for symbol in panel["symbol"].unique().sort():
        for name in TALIB_FEATURES:
            _assert_parity(panel, out, symbol, name)


def test_real_aapl_history_matches_talib() -> None:
    prices = aapl_panel()
    out = compute_features(prices, features=TALIB_FEATURES)
    for name in TALIB_FEATURES:
        _assert_parity(prices, out, "AAPL", name)


def test_parity_would_catch_a_wrong_seed(panel: pl.DataFrame) -> None:
    """An EMA seeded like polars' ewm_mean(adjust=False) differs from TA-Lib beyond tolerance."""
    arrays = adjusted_arrays(panel, "SYM01")
    naive = pl.Series(arrays["close"]).ewm_mean(alpha=2 / 21, adjust=False).to_numpy()
    expected = talib_values(FEATURE_SPECS["ema_20"], arrays)
    assert not np.allclose(naive[19:40], expected[19:40], rtol=1e-8)
