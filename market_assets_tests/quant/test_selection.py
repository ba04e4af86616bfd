"""Tests for market_assets.quant.selection on constructed data."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sklearn.base import clone
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline

from market_assets.quant.selection import (
    CorrelationFilter,
    MutualInformationSelector,
    VarianceThresholdSelector,
    feature_label_correlations,
    high_correlation_pairs,
)


def _frame(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    x = pd.DataFrame({
        "signal": signal,
        "constant": np.full(n, 3.0),
        "noise_1": rng.normal(size=n),
        "signal_copy": 2.0 * signal + 1.0,
        "noise_2": rng.normal(size=n),
    })
    y = np.sin(2 * signal) + 0.1 * rng.normal(size=n)  # non-linear: MI sees it
    return x, y


def test_variance_threshold_drops_constant_and_keeps_frame_type() -> None:
    x, _ = _frame()
    sel = VarianceThresholdSelector().fit(x)
    assert list(sel.get_feature_names_out()) == ["signal", "noise_1", "signal_copy", "noise_2"]
    out = sel.transform(x)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == list(sel.get_feature_names_out())
    assert out.index.equals(x.index)
    assert sel.variances_[1] == 0.0
    arr = VarianceThresholdSelector().fit(x.to_numpy()).transform(x.to_numpy())
    assert isinstance(arr, np.ndarray) and arr.shape == (len(x), 4)


def test_variance_threshold_learns_on_training_data_only() -> None:
    x, _ = _frame()
    sel = VarianceThresholdSelector(threshold=0.5).fit(x)
    test = x.assign(constant=np.arange(len(x), dtype=float))  # varies later: still dropped
    assert "constant" not in sel.transform(test).columns
    x.loc[:5, "noise_1"] = np.nan  # NaN ignored in the variance
    assert VarianceThresholdSelector().fit(x).get_support().tolist() == [True, False, True, True, True]


def test_correlation_filter_drops_later_duplicate_and_records_pair() -> None:
    x, _ = _frame()
    sel = CorrelationFilter(max_abs_corr=0.95).fit(x)
    assert list(sel.get_feature_names_out()) == ["signal", "constant", "noise_1", "noise_2"]
    assert len(sel.dropped_pairs_) == 1
    kept, dropped, corr = sel.dropped_pairs_[0]
    assert (kept, dropped) == ("signal", "signal_copy") and corr == pytest.approx(1.0)
    # Order decides which of the pair survives.
    swapped = CorrelationFilter().fit(x[["signal_copy", "signal", "noise_1"]])
    assert list(swapped.get_feature_names_out()) == ["signal_copy", "noise_1"]


def test_correlation_filter_keeps_feature_correlated_only_with_a_dropped_one() -> None:
    rng = np.random.default_rng(2)
    a, c = rng.normal(size=500), rng.normal(size=500)
    b = a + c  # corr(a, b) ~ 0.71, corr(b, c) ~ 0.71, corr(a, c) ~ 0
    x = pd.DataFrame({"a": a, "b": b, "c": c})
    sel = CorrelationFilter(max_abs_corr=0.6).fit(x)
    assert list(sel.get_feature_names_out()) == ["a", "c"]
    assert [p[:2] for p in sel.dropped_pairs_] == [("a", "b")]


def test_mutual_information_ranks_informative_feature_first() -> None:
    x, y = _frame()
    x = x.drop(columns=["constant", "signal_copy"])
    sel = MutualInformationSelector(k=1, random_state=0).fit(x, y)
    assert list(sel.get_feature_names_out()) == ["signal"]
    assert sel.scores_[0] > 5 * max(sel.scores_[1:])
    again = MutualInformationSelector(k=1, random_state=0).fit(x, y)
    np.testing.assert_array_equal(sel.scores_, again.scores_)
    top = MutualInformationSelector(quantile=0.9, random_state=0).fit(x, y)
    assert list(top.get_feature_names_out()) == ["signal"]
    classes = (y > np.median(y)).astype(int)
    clf = MutualInformationSelector(k=1, task="classification", random_state=0).fit(x, classes)
    assert list(clf.get_feature_names_out()) == ["signal"]


def test_selectors_work_inside_a_pipeline() -> None:
    x, y = _frame()
    pipe = Pipeline([
        ("variance", VarianceThresholdSelector()),
        ("correlation", CorrelationFilter()),
        ("mi", MutualInformationSelector(k=2, random_state=0)),
        ("model", LinearRegression()),
    ])
    pipe.fit(x, y)
    names = list(pipe[:-1].get_feature_names_out())
    assert len(names) == 2 and names[0] == "signal" and "signal_copy" not in names
    assert pipe.predict(x).shape == (len(x),)
    cloned = clone(pipe)
    assert cloned.get_params()["mi__k"] == 2 and not hasattr(cloned[2], "scores_")


def test_transform_rejects_other_columns() -> None:
    x, _ = _frame()
    sel = VarianceThresholdSelector().fit(x)
    with pytest.raises(ValueError, match="feature names"):
        sel.transform(x.rename(columns={"noise_1": "other"}))


@pytest.mark.parametrize(
    ("selector", "match"),
    [
        (MutualInformationSelector(), "expected exactly one"),
        (MutualInformationSelector(k=2, quantile=0.5), "expected exactly one"),
        (MutualInformationSelector(k=0), "k=0"),
        (MutualInformationSelector(k=9), "k=9 but X has only 5"),
        (MutualInformationSelector(quantile=1.5), "quantile=1.5"),
        (MutualInformationSelector(k=1, task="ranking"), "task='ranking'"),
        (CorrelationFilter(max_abs_corr=0.0), "max_abs_corr 0.0"),
        (VarianceThresholdSelector(threshold=-1.0), "threshold -1.0"),
    ],
)
def test_invalid_parameters_are_named(selector, match: str) -> None:
    x, y = _frame(50)
    with pytest.raises(ValueError, match=match):
        selector.fit(x, y)


def _keyed(columns: dict[str, list]) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    return pl.DataFrame({
        "date": [date(2024, 1, 1) + timedelta(days=i // 2) for i in range(n)],
        "symbol": ["A", "B"] * (n // 2),
        **columns,
    })


def test_high_correlation_pairs() -> None:
    a = [1.0, 2.0, 3.0, 4.0, 5.0, 7.0]
    frame = _keyed({
        "a": a,
        "noise": [1.0, -1.0, 1.0, 1.0, -1.0, -1.0],
        "b": [2 * v for v in a[:-1]] + [None],  # null handled pairwise: still exactly 1
        "c": [-v for v in a],
        "flat": [1.0] * 6,
    })
    got = high_correlation_pairs(frame, threshold=0.95)
    assert got.columns == ["feature_a", "feature_b", "corr"]
    assert got.select("feature_a", "feature_b").rows() == [("a", "b"), ("a", "c"), ("b", "c")]
    np.testing.assert_allclose(got["corr"].to_numpy(), [1.0, -1.0, -1.0])
    assert high_correlation_pairs(frame.select("date", "symbol", "a", "noise")).height == 0


def test_feature_label_correlations_golden() -> None:
    features = _keyed({
        "f": [1.0, 2.0, 3.0, 4.0, None, 6.0],
        "g": [4.0, 3.0, 2.0, 1.0, 0.0, float("nan")],
        "flat": [1.0] * 6,
    })
    labels = _keyed({"fwd_ret_1": [2.0, 4.0, 6.0, 9.0, 1.0, None]}).reverse()  # joined on keys, not position
    extra = pl.DataFrame({"date": [date(2030, 1, 1)], "symbol": ["A"], "fwd_ret_1": [100.0]})
    labels = labels.vstack(extra)  # no matching feature row: ignored
    got = feature_label_correlations(features, labels, "fwd_ret_1")
    # Pairs with non-null feature and label: f (1,2),(2,4),(3,6),(4,9); g adds (0,1).
    pearson_f = np.corrcoef([1, 2, 3, 4], [2, 4, 6, 9])[0, 1]
    pearson_g = np.corrcoef([4, 3, 2, 1, 0], [2, 4, 6, 9, 1])[0, 1]
    spearman_g = np.corrcoef([5, 4, 3, 2, 1], [2, 3, 4, 5, 1])[0, 1]
    expected = pl.DataFrame({
        "feature": ["f", "g", "flat"],
        "pearson": [pearson_f, pearson_g, None],
        "spearman": [1.0, spearman_g, None],
    })
    assert_frame_equal(got, expected, rel_tol=1e-12, abs_tol=1e-12)
    with pytest.raises(ValueError, match="label_column 'fwd_ret_5' not in labels"):
        feature_label_correlations(features, labels, "fwd_ret_5")


@pytest.mark.parametrize(
    "selector",
    [VarianceThresholdSelector(), CorrelationFilter(), MutualInformationSelector(k=1, random_state=0)],
    ids=lambda s: type(s).__name__,
)
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
def test_selectors_follow_the_sklearn_estimator_contract(selector) -> None:
    from sklearn.utils.estimator_checks import check_estimator

    check_estimator(selector)
