"""Golden values on tiny literal series, conventions, and clear errors."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from market_assets.quant.features import FEATURE_SPECS, compute_features, feature_names, max_warmup

from .conftest import make_panel


def _series(closes: list[float], *, volume: list[float] | None = None, symbol: str = "AAA",
            start: dt.date = dt.date(2024, 1, 1)) -> pl.DataFrame:
    n = len(closes)
    dates = [start + dt.timedelta(days=k) for k in range(n)]
    return pl.DataFrame({
        "date": dates, "symbol": symbol, "open": closes, "high": [c + 1 for c in closes],
        "low": [c - 1 for c in closes], "close": closes, "adj_close": closes,
        "volume": volume or [100.0] * n, "source": "test",
    })


def test_registry_is_broad_documented_and_lowercase() -> None:
    names = feature_names()
    assert len(names) >= 120 and len(set(names)) == len(names)
    for name, spec in FEATURE_SPECS.items():
        assert name == name.lower() and spec.description and spec.warmup >= 0
    for name in ("sma_20", "rsi_14", "macd_hist_12_26_9", "ret_log_lag_1", "kmid", "roc_5", "cs_rank_ret_1"):
        assert name in names


def test_simple_golden_values() -> None:
    out = compute_features(_series([10.0, 11.0, 12.0, 11.0, 13.0, 14.0]),
                           features=["sma_5", "ret_1", "ret_log_lag_1", "mom_10", "kmid", "cntp_5", "sump_5"])
    np.testing.assert_allclose(out["sma_5"].to_list()[4:], [11.4, 12.2])
    assert out["sma_5"].to_list()[:4] == [None] * 4  # warm-up is null, not a guess
    np.testing.assert_allclose(out["ret_1"].to_list()[1:], [0.1, 1 / 11, -1 / 12, 2 / 11, 1 / 13])
    assert out["ret_log_lag_1"][2] == pytest.approx(math.log(1.1))
    assert out["mom_10"].null_count() == 6
    assert out["kmid"].to_list() == [0.0] * 6  # open == close
    # changes +1 +1 -1 +2 +1: 4 ups out of 5, gains 5 of |changes| 6
    assert out["cntp_5"][5] == pytest.approx(0.8) and out["sump_5"][5] == pytest.approx(5 / 6)


def test_rsi_golden_value_with_wilder_seed() -> None:
    closes = [44.0, 45.0, 44.0, 46.0, 47.0, 46.5, 48.0]
    out = compute_features(_series(closes), features=["rsi_7"]).get_column("rsi_7")
    assert out.null_count() == 7  # needs 7 changes: first value at index 7
    out = compute_features(_series(closes + [47.0]), features=["rsi_7"])["rsi_7"]
    gains, losses = (1 + 2 + 1 + 1.5) / 7, (1 + 0.5 + 1) / 7
    assert out[7] == pytest.approx(100 * gains / (gains + losses))


def test_division_by_zero_is_null_never_inf() -> None:
    out = compute_features(_series([10.0] * 30, volume=[0.0] * 30))
    for name in out.columns[2:]:
        values = out[name].drop_nulls().to_numpy()
        assert np.isfinite(values).all(), name
    assert out["volume_ratio_5"].null_count() == 30 and out["rsi_14"].null_count() == 30


def test_split_does_not_look_like_a_crash() -> None:
    prices = make_panel(n_symbols=1, n_sessions=300, seed=1)  # 2:1 split at session 150 in raw prices
    raw_jump = prices["close"][150] / prices["close"][149] - 1
    assert raw_jump < -0.3
    out = compute_features(prices, features=["ret_1", "kmid", "atr_14", "close_to_sma_20"])
    assert abs(out["ret_1"][150]) < 0.2
    assert out["atr_14"][150] < 3 * out["atr_14"][149]


def test_symbols_are_independent(panel: pl.DataFrame) -> None:
    names = [n for n, s in FEATURE_SPECS.items() if s.group != "cross_section"]
    together = compute_features(panel, features=names).filter(pl.col("symbol") == "SYM01")
    alone = compute_features(panel.filter(pl.col("symbol") == "SYM01"), features=names)
    for name in names:
        np.testing.assert_allclose(together[name].to_numpy().astype(float), alone[name].to_numpy().astype(float),
                                   rtol=1e-12, atol=1e-12, err_msg=name)


def test_output_shape_order_and_first_valid_row_equal_declared_warmup(panel: pl.DataFrame) -> None:
    out = compute_features(panel.sample(fraction=1.0, shuffle=True, seed=1))
    assert out.columns[:2] == ["date", "symbol"]
    assert all(out.schema[n] == pl.Float64 for n in out.columns[2:])
    assert out.select("date", "symbol").equals(out.select("date", "symbol").sort("date", "symbol"))
    one = out.filter(pl.col("symbol") == "SYM02")
    for name, spec in FEATURE_SPECS.items():
        first = one[name].is_not_null().arg_true()
        if spec.group != "calendar" and len(first):
            assert first[0] == spec.warmup, f"{name}: first value at {first[0]}, declared warm-up {spec.warmup}"
    assert max_warmup(["sma_200"]) == 199 and max_warmup(["ret_1"]) == 1
    assert max_warmup(["ema_20"]) == 19 + math.ceil(math.log(1e-10) / math.log(1 - 2 / 21))


def test_cross_section_rank_and_zscore() -> None:
    frames = [_series([10.0, 10.0 * (1 + r)], symbol=s) for s, r in (("A", 0.01), ("B", 0.03), ("C", -0.02))]
    out = compute_features(pl.concat(frames), features=["cs_rank_ret_1", "cs_z_ret_1"]).filter(
        pl.col("date") == dt.date(2024, 1, 2))
    assert out["cs_rank_ret_1"].to_list() == pytest.approx([2 / 3, 1.0, 1 / 3])
    r = np.array([0.01, 0.03, -0.02])
    np.testing.assert_allclose(out["cs_z_ret_1"].to_numpy(), (r - r.mean()) / r.std(ddof=1), rtol=1e-9)


def test_calendar_features() -> None:
    out = compute_features(_series([1.0, 1.0, 1.0], start=dt.date(2024, 5, 30)),
                           features=["day_of_week", "is_month_end", "is_month_start", "month", "weekdays_to_month_end"])
    # Thu 30 May, Fri 31 May (last weekday), Sat 1 June (no weekday precedes it in June)
    assert out["day_of_week"].to_list() == [3.0, 4.0, 5.0]
    assert out["is_month_end"].to_list() == [0.0, 1.0, 0.0]
    assert out["is_month_start"].to_list() == [0.0, 0.0, 1.0]
    assert out["weekdays_to_month_end"].to_list()[:2] == [1.0, 0.0]


def test_unknown_feature_lists_close_matches() -> None:
    with pytest.raises(ValueError, match=r"unknown feature name\(s\) \['rsi14'\].*rsi_14"):
        compute_features(_series([1.0, 2.0]), features=["rsi14"])


def test_bad_input_is_named() -> None:
    prices = _series([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="missing column"):
        compute_features(prices.drop("adj_close"))
    with pytest.raises(ValueError, match=r"symbol='AAA' date=2024-01-02 column\(s\) \['close'\]"):
        compute_features(prices.with_columns(close=pl.Series([1.0, None, 3.0])))
    with pytest.raises(ValueError, match="duplicate"):
        compute_features(pl.concat([prices, prices.head(1)]))
