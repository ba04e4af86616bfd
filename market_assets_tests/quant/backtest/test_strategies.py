"""Strategies, sizing and limits on literal panels."""

from __future__ import annotations

import numpy as np
import pytest

from market_assets.quant.backtest import (
    ClassSizes, EqualWeight, FractionalKelly, Limits, LongFlat, MarketPanel, TopKDropout, VolatilityTarget,
)
from market_assets.quant.backtest.sizing import trailing_volatility


def test_long_flat_threshold_treats_missing_as_flat():
    signal = np.array([[0.2, -0.1, np.nan, 0.05]])
    np.testing.assert_array_equal(LongFlat(0.05).intents(signal), [[1, 0, 0, 0]])


def test_class_sizes_map_the_five_classes():
    signal = np.array([[0, 1, 2, 3, 4, np.nan]])
    np.testing.assert_array_equal(ClassSizes().intents(signal), [[-1, -0.5, 0, 0.5, 1, 0]])
    confident = ClassSizes(min_confidence=0.6).intents(signal, confidence=np.array([[0.9, 0.5, 1, 0.7, 0.59, 1]]))
    np.testing.assert_array_equal(confident, [[-1, 0, 0, 0.5, 0, 0]])
    with pytest.raises(ValueError, match="class index 5.0"):
        ClassSizes().intents(np.array([[5.0]]))


def test_topk_dropout_replaces_at_most_n_drop_a_session():
    # six names; the ranking reverses completely on the second session
    signal = np.array([[6, 5, 4, 3, 2, 1], [1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6]], float)
    out = TopKDropout(k=3, n_drop=1, long_short=False).intents(signal)
    np.testing.assert_array_equal(out[0], [1, 1, 1, 0, 0, 0])
    # session 1: the worst held (name 0) is sold, the best new (name 5) bought
    np.testing.assert_array_equal(out[1], [0, 1, 1, 0, 0, 1])
    np.testing.assert_array_equal(out[2], [0, 0, 1, 0, 1, 1])
    np.testing.assert_array_equal(out[3], [0, 0, 0, 1, 1, 1])
    assert (np.abs(np.diff(out, axis=0)).sum(axis=1) <= 2).all()


def test_topk_dropout_long_short_and_continuation():
    rng = np.random.default_rng(0)
    signal = rng.normal(size=(30, 12))
    full = TopKDropout(k=3, n_drop=1).intents(signal)
    assert ((full > 0).sum(axis=1) == 3).all() and ((full < 0).sum(axis=1) == 3).all()
    rest = TopKDropout(k=3, n_drop=1).intents(signal[10:], previous=full[9])
    np.testing.assert_array_equal(rest, full[10:])


def _panel(close: np.ndarray) -> MarketPanel:
    dates = np.datetime64("2024-01-01") + np.arange(close.shape[0])
    return MarketPanel(dates, tuple(f"S{i}" for i in range(close.shape[1])), close, close, close, close,
                       np.ones_like(close))


def test_trailing_volatility_uses_only_the_past():
    rng = np.random.default_rng(1)
    close = 100 * np.cumprod(1 + rng.normal(0, 0.01, (40, 2)), axis=0)
    vol = trailing_volatility(_panel(close), 10)
    r = close[1:] / close[:-1] - 1
    assert vol[20, 0] == pytest.approx(np.std(r[10:20, 0], ddof=1), rel=1e-10)  # returns ending at session 20
    assert np.isnan(vol[3, 0])  # fewer than window // 2 returns


def test_sizing_rules():
    rng = np.random.default_rng(2)
    close = 100 * np.cumprod(1 + rng.normal(0, [0.01, 0.02], (60, 2)), axis=0)
    panel = _panel(close)
    intents = np.ones((60, 2))
    eq = EqualWeight().weights(intents, intents, panel)
    np.testing.assert_allclose(eq, 0.5)
    vt = VolatilityTarget(target=0.1, window=20).weights(intents, intents, panel)
    vol = trailing_volatility(panel, 20) * np.sqrt(252)
    np.testing.assert_allclose(vt[30], 0.1 / vol[30] / 2)
    assert vt[30, 0] > vt[30, 1]  # the calmer name is larger
    signal = np.full((60, 2), 0.001)
    kelly = FractionalKelly(fraction=0.5, cap=0.3, window=20).weights(intents, signal, panel)
    var = trailing_volatility(panel, 20) ** 2
    np.testing.assert_allclose(kelly[30], np.minimum(0.5 * 0.001 / var[30], 0.3))
    against = FractionalKelly().weights(intents, -signal, panel)
    assert (against == 0).all()  # a forecast against the intent's side gets no weight


def test_limits_cap_names_net_and_gross():
    w = np.array([[0.6, 0.3, 0.2, -0.1]])
    out = Limits(max_weight=0.4, max_net=0.5, max_gross=0.8).apply(w)
    assert np.abs(out).max() <= 0.4 + 1e-15
    assert abs(out.sum()) <= 0.5 + 1e-12
    assert np.abs(out).sum() <= 0.8 + 1e-12
    # per name: 0.6 -> 0.4; net 0.8 > 0.5: longs x (0.1 + 0.5) / 0.9; gross is then 0.7 <= 0.8
    netted = np.array([[0.4 * 2 / 3, 0.3 * 2 / 3, 0.2 * 2 / 3, -0.1]])
    np.testing.assert_allclose(out, netted, rtol=1e-12)
    tight = Limits(max_weight=0.4, max_net=0.5, max_gross=0.5).apply(w)
    np.testing.assert_allclose(tight, netted * 0.5 / 0.7, rtol=1e-12)
