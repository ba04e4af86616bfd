"""The one IC definition: pairwise deletion, ranks after deletion, null when undefined, ICIR per period."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from scipy import stats

from market_assets.quant import metrics
from market_assets.quant.feature_quality import daily_feature_ic
from market_assets.quant.ic import cross_sectional_ic, summarise_ic

D1, D2, D3 = (dt.date(2024, 1, d) for d in (2, 3, 4))
NAN, INF = float("nan"), float("inf")


def _frame() -> pl.DataFrame:
    return pl.DataFrame({
        "date": [D1] * 5 + [D2] * 4 + [D3] * 3,
        "a": [1.0, 2.0, 3.0, 4.0, 50.0, 1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0],
        "b": [5.0, None, 2.0, NAN, 1.0, 7.0, 7.0, 7.0, 7.0, 3.0, 1.0, INF],
        "y": [1.0, 3.0, 2.0, 5.0, 4.0, 4.0, 3.0, 2.0, 1.0, 1.0, None, 2.0],
    })


def test_pairwise_deletion_and_ranks_after_it() -> None:
    ic = cross_sectional_ic(_frame(), ["a", "b"], ["y"])
    assert ic.columns == ["date", "signal", "outcome", "ic", "rank_ic", "n"]
    row = {(r["date"], r["signal"]): r for r in ic.iter_rows(named=True)}
    # a on D1 uses all five rows; b only rows 0, 2, 4 (None and NaN leave for b only)
    assert row[D1, "a"]["n"] == 5 and row[D1, "b"]["n"] == 3
    a, y = [1, 2, 3, 4, 50], [1, 3, 2, 5, 4]
    assert row[D1, "a"]["ic"] == pytest.approx(stats.pearsonr(a, y)[0])
    assert row[D1, "a"]["rank_ic"] == pytest.approx(stats.spearmanr(a, y)[0])
    assert row[D1, "b"]["rank_ic"] == pytest.approx(stats.spearmanr([5, 2, 1], [1, 2, 4])[0])  # -1
    # D2: b constant -> undefined, null (not 0, not NaN); a is perfectly decreasing
    assert row[D2, "b"]["ic"] is None and row[D2, "b"]["rank_ic"] is None and row[D2, "b"]["n"] == 4
    assert row[D2, "a"]["rank_ic"] == pytest.approx(-1.0)
    # D3: y null on one row, b infinite on another -> one common row for b: undefined
    assert row[D3, "a"]["n"] == 2 and row[D3, "a"]["ic"] == pytest.approx(1.0)
    assert row[D3, "b"]["n"] == 1 and row[D3, "b"]["ic"] is None


def test_summary_is_per_period_and_null_when_undefined() -> None:
    ic = pl.DataFrame({"signal": ["s"] * 4 + ["t"] * 2, "ic": [0.1, 0.3, None, NAN, 0.2, None],
                       "rank_ic": [0.2, 0.2, 0.5, None, 0.1, 0.1]})
    out = {r["signal"]: r for r in summarise_ic(ic, by=["signal"]).iter_rows(named=True)}
    assert out["s"]["mean_ic"] == pytest.approx(0.2) and out["s"]["n_sessions"] == 2
    assert out["s"]["icir"] == pytest.approx(0.2 / np.std([0.1, 0.3], ddof=1))
    assert out["s"]["rank_icir"] == pytest.approx(0.3 / np.std([0.2, 0.2, 0.5], ddof=1))
    assert out["t"]["icir"] is None and out["t"]["n_sessions"] == 1  # one session: no spread
    assert out["t"]["rank_icir"] is None  # zero spread


def test_features_and_predictions_share_the_definition() -> None:
    frame = _frame().with_columns(symbol=pl.int_range(pl.len()).cast(pl.String))
    features = frame.select("date", "symbol", "a", "b")
    labels = frame.select("date", "symbol", pl.col("y").alias("fwd_ret_1"))
    by_feature = daily_feature_ic(features, labels, ["fwd_ret_1"])
    assert by_feature.columns == ["date", "feature", "label", "ic", "rank_ic"]
    for name in ("a", "b"):
        own = by_feature.filter(pl.col("feature") == name).drop_nulls("ic")
        y = frame["y"].fill_null(NAN).to_numpy()
        model = metrics.daily_ic(frame["date"], y, frame[name].fill_null(NAN).to_numpy())
        assert own["date"].to_list() == model["date"].to_list()
        np.testing.assert_allclose(own["ic"].to_numpy(), model["ic"].to_numpy())
        ranked = metrics.daily_ic(frame["date"], y, frame[name].fill_null(NAN).to_numpy(), method="spearman")
        np.testing.assert_allclose(own.drop_nulls("rank_ic")["rank_ic"].to_numpy(), ranked["ic"].to_numpy())


def test_nan_predictions_leave_their_rows_not_the_date() -> None:
    # before the shared definition a NaN prediction was ranked as the largest value
    y_true = [1.0, 2.0, 3.0, 4.0]
    out = metrics.ic_summary([D1] * 4, y_true, [1.0, 2.0, NAN, 3.0])
    assert out["rank_ic"] == pytest.approx(1.0) and out["n_rank_ic_dates"] == 1.0


def test_names_must_exist_and_not_overlap() -> None:
    with pytest.raises(ValueError, match=r"missing column\(s\) \['zz'\]"):
        cross_sectional_ic(_frame(), ["zz"], ["y"])
    with pytest.raises(ValueError, match=r"\['y'\] named both as signal and outcome"):
        cross_sectional_ic(_frame(), ["a", "y"], ["y"])
