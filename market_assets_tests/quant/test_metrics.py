"""Golden values for the evaluation metrics, checked against sklearn / scipy."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from scipy import stats
from sklearn import metrics as skm

from market_assets.quant import metrics

D1, D2, D3, D4, D5 = (dt.date(2024, 1, d) for d in (2, 3, 4, 5, 8))


def test_regression_golden_values() -> None:
    y_true = np.array([0.01, -0.02, 0.0, 0.03])
    y_pred = np.array([0.5, 0.1, -0.1, 0.0])
    out = metrics.regression_metrics(y_true, y_pred)
    # up/not-up: true [T F F T], pred [T T F F] -> agree on rows 0 and 2
    assert out["directional_accuracy"] == 0.5
    assert out["rmse"] == pytest.approx(np.sqrt((0.49**2 + 0.12**2 + 0.1**2 + 0.03**2) / 4))
    assert out["mae"] == pytest.approx((0.49 + 0.12 + 0.1 + 0.03) / 4)
    assert out["r2"] == pytest.approx(skm.r2_score(y_true, y_pred))
    assert out["n"] == 4.0
    assert all(isinstance(v, float) for v in out.values())


def _ic_panel() -> tuple[list, np.ndarray, np.ndarray]:
    dates = [D1] * 3 + [D2] * 3 + [D3] * 3 + [D4] + [D5] * 2
    y_true = np.array([1, 2, 3, 1, 2, 3, 1, 2, 10, 5, 1, 2], dtype=float)
    y_pred = np.array([1, 2, 3, 3, 1, 2, 1, 2, 3, 1, 7, 7], dtype=float)
    # D4: one row; D5: constant prediction -> both have no defined IC and are excluded
    return dates, y_true, y_pred


def test_daily_ic_golden_values() -> None:
    dates, y_true, y_pred = _ic_panel()
    pearson = metrics.daily_ic(dates, y_true, y_pred)
    spearman = metrics.daily_ic(dates, y_true, y_pred, method="spearman")
    assert pearson["date"].to_list() == [D1, D2, D3]
    # D1 perfect; D2 centred t=[-1,0,1], p=[1,-1,0] -> -1/2
    np.testing.assert_allclose(pearson["ic"].to_numpy()[:2], [1.0, -0.5])
    np.testing.assert_allclose(pearson["ic"][2], stats.pearsonr([1, 2, 10], [1, 2, 3])[0])
    np.testing.assert_allclose(spearman["ic"].to_numpy(), [1.0, -0.5, 1.0])


def test_ic_summary_and_icir_are_per_period() -> None:
    dates, y_true, y_pred = _ic_panel()
    out = metrics.regression_metrics(y_true, y_pred, dates)
    pearson = np.array([1.0, -0.5, stats.pearsonr([1, 2, 10], [1, 2, 3])[0]])
    assert out["ic"] == pytest.approx(pearson.mean())
    assert out["icir"] == pytest.approx(pearson.mean() / pearson.std(ddof=1))
    assert out["rank_ic"] == pytest.approx(0.5)
    assert out["rank_icir"] == pytest.approx(0.5 / np.std([1.0, -0.5, 1.0], ddof=1))
    assert out["n_ic_dates"] == 3.0


def test_ic_is_nan_not_zero_when_undefined() -> None:
    out = metrics.ic_summary([D1, D1], [0.01, 0.02], [0.0, 0.0])
    assert np.isnan(out["ic"]) and out["n_ic_dates"] == 0.0


def test_binary_classification_golden_values() -> None:
    y = np.array([0.0, 1.0, 1.0])
    p1 = np.array([0.2, 0.6, 0.9])
    out = metrics.classification_metrics(y, np.column_stack([1 - p1, p1]), [0.0, 1.0])
    assert out["brier"] == pytest.approx((0.2**2 + 0.4**2 + 0.1**2) / 3)
    assert out["log_loss"] == pytest.approx(-(np.log(0.8) + np.log(0.6) + np.log(0.9)) / 3)
    assert out["roc_auc"] == 1.0
    assert out["f1_macro"] == 1.0 and out["accuracy"] == 1.0


def test_five_class_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(1)
    y = np.array([0, 1, 2, 3, 4] * 6)
    proba = rng.dirichlet(np.ones(5), size=y.size)
    out = metrics.classification_metrics(y, proba, [0, 1, 2, 3, 4])
    assert out["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr", average="macro"))
    assert out["log_loss"] == pytest.approx(skm.log_loss(y, proba))
    # multi-class Brier: mean over rows of the summed squared errors, range [0, 2]
    assert out["brier"] == pytest.approx(np.mean(np.sum((proba - np.eye(5)[y]) ** 2, axis=1)))
    assert out["f1_macro"] == pytest.approx(skm.f1_score(y, proba.argmax(axis=1), average="macro"))


def test_classification_shape_errors_are_named() -> None:
    with pytest.raises(ValueError, match=r"proba must have shape .* \(2, 2\), got \(2, 3\)"):
        metrics.classification_metrics([0, 1], np.full((2, 3), 1 / 3), [0, 1])
    with pytest.raises(ValueError, match=r"label\(s\) \[7\] not in classes"):
        metrics.classification_metrics([0, 7], np.full((2, 2), 0.5), [0, 1])


def test_volatility_terciles_cut_on_the_evaluation_set() -> None:
    frame = pl.DataFrame({
        "date": [D1, D2, D3] * 3,
        "vol_20": [1.0, 2, 3, 4, 5, 6, 7, 8, 9],
        "y_true": [0.0] * 9,
        "y_pred": [0.1, 0.1, 0.1, 0.2, 0.2, 0.2, 0.3, 0.3, 0.3],
    })
    out = metrics.metrics_by_volatility_tercile(frame, "vol_20")
    assert list(out) == ["low", "mid", "high"]
    assert [out[k]["rmse"] for k in out] == pytest.approx([0.1, 0.2, 0.3])
    assert [(out[k]["vol_min"], out[k]["vol_max"]) for k in out] == [(1, 3), (4, 6), (7, 9)]


def test_volatility_terciles_for_classification() -> None:
    frame = pl.DataFrame({
        "vol": np.arange(6.0), "y_true": [0, 1, 0, 1, 0, 1],
        "proba_0": [0.9, 0.1, 0.5, 0.5, 0.1, 0.9], "proba_1": [0.1, 0.9, 0.5, 0.5, 0.9, 0.1],
    })
    out = metrics.metrics_by_volatility_tercile(frame, "vol", classes=[0, 1])
    assert [out[k]["roc_auc"] for k in out] == [1.0, 0.5, 0.0]
