"""Tests for market_assets.quant.labels: golden values and point-in-time behaviour."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal, assert_series_equal

from market_assets.quant.labels import (
    SIGNAL_CLASSES,
    THRESHOLD_COLUMNS,
    class_thresholds_point_in_time,
    compute_labels,
    label_columns,
    last_labelable_session,
)

D = [date(2024, 1, 2) + timedelta(days=i) for i in range(8)]  # eight sessions d0..d7
A = [100.0, 102.0, 101.0, 105.0, 110.0, 99.0, 99.0, 100.0]
B = {0: 50.0, 1: 40.0, 2: 60.0, 4: 45.0, 5: 50.0, 6: 55.0, 7: 44.0}  # B misses d3


def _prices() -> pl.DataFrame:
    rows = [(D[i], "A", p) for i, p in enumerate(A)] + [(D[i], "B", p) for i, p in B.items()]
    frame = pl.DataFrame(rows, schema={"date": pl.Date, "symbol": pl.String, "adj_close": pl.Float64},
                         orient="row")
    return frame.with_columns(
        open=pl.col("adj_close"), high=pl.col("adj_close"), low=pl.col("adj_close"),
        close=pl.col("adj_close"), volume=pl.lit(1.0), source=pl.lit("test"),
    ).sort("date", "symbol")


def test_golden_forward_returns_with_fixed_thresholds() -> None:
    got = compute_labels(_prices(), horizons=(1, 2), class_thresholds=(-0.15, -0.05, 0.05, 0.15))
    # Rows in (date, symbol) order; B has no d3 row, so its horizon skips to d4.
    keys = [(0, "A"), (0, "B"), (1, "A"), (1, "B"), (2, "A"), (2, "B"), (3, "A"), (4, "A"), (4, "B"),
            (5, "A"), (5, "B"), (6, "A"), (6, "B"), (7, "A"), (7, "B")]
    ret1 = [102 / 100 - 1, 40 / 50 - 1, 101 / 102 - 1, 60 / 40 - 1, 105 / 101 - 1, 45 / 60 - 1,
            110 / 105 - 1, 99 / 110 - 1, 50 / 45 - 1, 0.0, 55 / 50 - 1, 100 / 99 - 1, 44 / 55 - 1, None, None]
    ret2 = [101 / 100 - 1, 60 / 50 - 1, 105 / 102 - 1, 45 / 40 - 1, 110 / 101 - 1, 50 / 60 - 1,
            99 / 105 - 1, 99 / 110 - 1, 55 / 45 - 1, 100 / 99 - 1, 44 / 50 - 1, None, None, None, None]
    cls1 = [2, 0, 2, 4, 2, 0, 2, 1, 3, 2, 3, 2, 0, None, None]
    cls2 = [2, 4, 2, 3, 3, 0, 1, 1, 4, 2, 1, None, None, None, None]
    expected = pl.DataFrame({
        "date": [D[i] for i, _ in keys],
        "symbol": [s for _, s in keys],
        "fwd_ret_1": ret1,
        "fwd_logret_1": [None if r is None else float(np.log1p(r)) for r in ret1],
        "fwd_dir_1": [None if r is None else float(r > 0) for r in ret1],
        "fwd_class_1": pl.Series(cls1, dtype=pl.Int8),
        "fwd_ret_2": ret2,
        "fwd_logret_2": [None if r is None else float(np.log1p(r)) for r in ret2],
        "fwd_dir_2": [None if r is None else float(r > 0) for r in ret2],
        "fwd_class_2": pl.Series(cls2, dtype=pl.Int8),
    }, schema_overrides={"date": pl.Date})
    assert_frame_equal(got, expected, rel_tol=1e-12, abs_tol=1e-12)
    assert got.columns == ["date", "symbol", *label_columns((1, 2))]


def test_flat_window_is_down_and_null_stays_null() -> None:
    got = compute_labels(_prices(), horizons=(1,), class_thresholds=(-0.1, -0.05, 0.05, 0.1))
    flat = got.filter((pl.col("date") == D[5]) & (pl.col("symbol") == "A"))
    assert flat["fwd_ret_1"].item() == 0.0 and flat["fwd_dir_1"].item() == 0.0
    last = got.filter(pl.col("date") == D[7])
    assert last.select(label_columns((1,))).null_count().row(0) == (2, 2, 2, 2)


def test_boundary_ties_go_toward_hold() -> None:
    prices = pl.DataFrame({
        "date": [D[0], D[1], D[0], D[1], D[0], D[1]],
        "symbol": ["A", "A", "B", "B", "C", "C"],
        "adj_close": [100.0, 150.0, 100.0, 75.0, 100.0, 50.0],  # +0.5, -0.25, -0.5 exactly
    })
    got = compute_labels(prices, horizons=(1,), class_thresholds=(-0.5, -0.25, 0.25, 0.5))
    assert got.filter(pl.col("date") == D[0])["fwd_class_1"].to_list() == [3, 2, 1]
    assert SIGNAL_CLASSES[3] == "BUY" and SIGNAL_CLASSES[2] == "HOLD" and SIGNAL_CLASSES[1] == "SELL"


def test_point_in_time_thresholds_golden_and_gap_aware() -> None:
    q = (0.1, 0.3, 0.7, 0.9)
    thr = class_thresholds_point_in_time(_prices(), 1, class_quantiles=q, quantile_window=2)
    rows = {r[0]: r[1:] for r in thr.iter_rows()}
    # Before a full window of end dates could exist (index < h + window - 1 = 2): null.
    assert rows[D[0]] == (None,) * 4 and rows[D[1]] == (None,) * 4
    # d2 pools returns ending at d1 or d2: A d0, A d1, B d0, B d1.
    np.testing.assert_allclose(rows[D[2]], np.quantile([0.02, 101 / 102 - 1, -0.2, 0.5], q), rtol=1e-12)
    # d3 pools returns ending at d2 or d3; B's d2 return ends at d4 (B has no d3), so it is not known yet.
    np.testing.assert_allclose(rows[D[3]], np.quantile([101 / 102 - 1, 0.5, 105 / 101 - 1], q), rtol=1e-12)

    labels = compute_labels(_prices(), horizons=(1,), class_quantiles=q, quantile_window=2)
    assert labels.filter(pl.col("date") <= D[1])["fwd_class_1"].null_count() == 4
    a3 = labels.filter((pl.col("date") == D[3]) & (pl.col("symbol") == "A"))["fwd_class_1"].item()
    c = rows[D[3]]
    assert c[1] < 110 / 105 - 1 < c[2] and a3 == 2


def _random_prices(seed: int, n_sessions: int = 60, symbols: tuple[str, ...] = ("A", "B", "C")) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    days = [date(2023, 1, 2) + timedelta(days=i) for i in range(n_sessions)]
    frames = [
        pl.DataFrame({"date": days, "symbol": s,
                      "adj_close": 100 * np.exp(np.cumsum(rng.normal(0, 0.02, n_sessions)))})
        for s in symbols
    ]
    return pl.concat(frames).sort("date", "symbol")


def test_future_moves_labels_but_not_thresholds() -> None:
    h, cut = 5, 40
    prices = _random_prices(0)
    days = prices["date"].unique().sort()
    t0 = days[cut]
    rng = np.random.default_rng(1)
    changed = prices.with_columns(
        pl.when(pl.col("date") > t0)
        .then(pl.col("adj_close") * pl.Series(np.exp(rng.normal(0, 0.1, prices.height))))
        .otherwise(pl.col("adj_close"))
    )
    kwargs = {"horizons": (h,), "quantile_window": 10}
    before, after = compute_labels(prices, **kwargs), compute_labels(changed, **kwargs)
    thr_before = class_thresholds_point_in_time(prices, h, quantile_window=10)
    thr_after = class_thresholds_point_in_time(changed, h, quantile_window=10)
    past = pl.col("date") <= t0
    assert thr_before.filter(past)[THRESHOLD_COLUMNS[0]].drop_nulls().len() > 0
    assert_frame_equal(thr_before.filter(past), thr_after.filter(past))
    assert not thr_before.filter(~past).equals(thr_after.filter(~past))
    # Labels whose window reaches past t0 must change; those that closed by t0 must not.
    window_open = (pl.col("date") > days[cut - h]) & past
    assert (before.filter(window_open)["fwd_ret_5"] != after.filter(window_open)["fwd_ret_5"]).all()
    closed = pl.col("date") <= days[cut - h]
    assert_frame_equal(before.filter(closed), after.filter(closed))


def _tied_prices() -> pl.DataFrame:
    """Prices that are powers of two: forward returns repeat exactly (many ties)."""
    rng = np.random.default_rng(4)
    steps = rng.integers(-1, 2, size=(30, 4)).cumsum(axis=0)
    prices = _random_prices(0, n_sessions=30, symbols=("A", "B", "C", "D"))  # rows: date-major, symbol-minor
    return prices.with_columns(adj_close=pl.Series(2.0 ** steps.ravel()))


@pytest.mark.parametrize("kind", ["gaps", "ties"])
def test_thresholds_match_brute_force(kind: str) -> None:
    if kind == "gaps":
        prices = _random_prices(3, n_sessions=30).filter(  # punch gaps into one symbol
            ~((pl.col("symbol") == "B") & pl.col("date").dt.day().is_in([5, 6, 17]))
        )
    else:
        prices = _tied_prices()
    h, window, q = 3, 7, (0.1, 0.3, 0.7, 0.9)
    labels = compute_labels(prices, horizons=(h,), quantile_window=window)
    days = prices["date"].unique().sort().to_list()
    ends = prices.sort("symbol", "date").with_columns(
        end=pl.col("date").shift(-h).over("symbol"),
        ret=(pl.col("adj_close").shift(-h).over("symbol") / pl.col("adj_close") - 1),
    ).drop_nulls("ret")
    thr = class_thresholds_point_in_time(prices, h, quantile_window=window)
    for i, t in enumerate(days):
        got = thr.filter(pl.col("date") == t).select(THRESHOLD_COLUMNS).row(0)
        if i < h + window - 1:
            assert got == (None,) * 4
            continue
        pool = ends.filter((pl.col("end") <= t) & (pl.col("end") >= days[i - window + 1]))["ret"]
        np.testing.assert_allclose(got, np.quantile(pool.to_numpy(), q), rtol=1e-12)
    assert labels["fwd_class_3"].drop_nulls().is_in([0, 1, 2, 3, 4]).all()


def test_label_columns_and_sessions_helpers() -> None:
    assert label_columns((1, 5)) == ["fwd_ret_1", "fwd_logret_1", "fwd_dir_1", "fwd_class_1",
                                     "fwd_ret_5", "fwd_logret_5", "fwd_dir_5", "fwd_class_5"]
    cal = [date(2024, 1, 8) + timedelta(days=i) for i in range(5)]  # Mon..Fri
    cal += [date(2024, 1, 15) + timedelta(days=i) for i in range(5)]
    assert last_labelable_session(cal, cal[6], 2) == cal[4]
    assert last_labelable_session(cal, date(2024, 1, 13), 1) == cal[3]  # Saturday: Friday is the latest close
    assert last_labelable_session(cal, cal[1], 2) is None
    assert last_labelable_session(cal, date(2024, 1, 1), 1) is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"horizons": (0,)}, "horizon 0 is not a positive"),
        ({"horizons": (-1, 5)}, "horizon -1"),
        ({"horizons": (5, 5)}, "duplicates"),
        ({"class_quantiles": (0.3, 0.1, 0.7, 0.9)}, "strictly increasing"),
        ({"class_thresholds": (0.1, -0.1, 0.2, 0.3)}, "non-decreasing"),
        ({"quantile_window": 0}, "quantile_window 0"),
    ],
)
def test_invalid_parameters_are_named(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        compute_labels(_prices(), **kwargs)


def test_invalid_prices_are_named() -> None:
    prices = _prices()
    with pytest.raises(ValueError, match="duplicate \\(date, symbol\\) 2024-01-02, 'A'"):
        compute_labels(pl.concat([prices, prices.head(1)]))
    bad = prices.with_columns(pl.when(pl.col("symbol") == "B").then(0.0).otherwise("adj_close").alias("adj_close"))
    with pytest.raises(ValueError, match="adj_close 0.0 for 'B'"):
        compute_labels(bad)
    with pytest.raises(ValueError, match="missing column"):
        compute_labels(prices.drop("adj_close"))
    with pytest.raises(ValueError, match="not strictly increasing"):
        last_labelable_session([D[1], D[0]], D[1], 1)


def test_order_of_input_rows_does_not_matter() -> None:
    prices = _random_prices(5, n_sessions=25)
    kwargs = {"horizons": (1, 5), "quantile_window": 5}
    assert_frame_equal(compute_labels(prices, **kwargs), compute_labels(prices.reverse(), **kwargs))
    assert_series_equal(compute_labels(prices, **kwargs)["date"], prices["date"])
