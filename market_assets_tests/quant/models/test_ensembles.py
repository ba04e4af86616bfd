"""Ensembles learn their combination forward in time only."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.dummy import DummyClassifier, DummyRegressor

from market_assets.quant.models.ensembles import (
    ForwardStackingClassifier,
    ForwardStackingRegressor,
    WeightedAverageClassifier,
    WeightedAverageRegressor,
)

FIT_LOG: list[tuple[int, int]] = []
PREDICT_LOG: list[tuple[int, int]] = []


class RowSpy(RegressorMixin, BaseEstimator):
    """Column 0 of X is the row number; records which rows it fits and predicts."""

    def fit(self, X, y):  # noqa: N803
        FIT_LOG.append((int(X[:, 0].min()), int(X[:, 0].max())))
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):  # noqa: N803
        PREDICT_LOG.append((int(X[:, 0].min()), int(X[:, 0].max())))
        return X[:, 0] * 0.0 + self.mean_


def _constant(value: float) -> DummyRegressor:
    return DummyRegressor(strategy="constant", constant=value)


def test_inverse_error_weights_golden() -> None:
    X, y = np.zeros((100, 1)), np.zeros(100)
    model = WeightedAverageRegressor([("one", _constant(1.0)), ("two", _constant(2.0))]).fit(X, y)
    # MSE 1 and 4 on the validation slice -> weights 1/1 : 1/4, normalised
    np.testing.assert_allclose(model.weights_, [0.8, 0.2])
    np.testing.assert_allclose(model.predict(X[:3]), [1.2] * 3)


def test_weights_come_from_the_latest_rows() -> None:
    X = np.zeros((100, 1))
    y = np.r_[np.zeros(80), np.full(20, 10.0)]  # the regime of the last 20 % is 10
    for method in ("inverse_error", "nnls"):
        model = WeightedAverageRegressor([("zero", _constant(0.0)), ("ten", _constant(10.0))], method=method)
        model.fit(X, y)
        assert model.weights_[1] == pytest.approx(1.0), method
        assert (model.weights_ >= 0).all() and model.weights_.sum() == pytest.approx(1.0)


def test_nnls_gives_equal_weights_when_every_member_is_useless() -> None:
    X, y = np.zeros((50, 1)), np.full(50, -1.0)
    model = WeightedAverageRegressor([("a", _constant(1.0)), ("b", _constant(2.0))], method="nnls").fit(X, y)
    np.testing.assert_allclose(model.weights_, [0.5, 0.5])


def test_weighted_members_fit_before_the_gap_and_refit_on_all_rows() -> None:
    FIT_LOG.clear()
    PREDICT_LOG.clear()
    X = np.arange(100.0)[:, None]
    WeightedAverageRegressor([("spy", RowSpy())], validation_fraction=0.2, gap=5).fit(X, np.zeros(100))
    assert FIT_LOG == [(0, 74), (0, 99)]
    assert PREDICT_LOG == [(80, 99)]


def test_stacking_meta_features_are_walk_forward() -> None:
    FIT_LOG.clear()
    PREDICT_LOG.clear()
    X = np.arange(100.0)[:, None]
    ForwardStackingRegressor([("spy", RowSpy())], n_splits=3, gap=2).fit(X, np.arange(100.0))
    # blocks of 25 rows: block k predicted by a member fitted on rows < start_k - gap
    assert PREDICT_LOG == [(25, 49), (50, 74), (75, 99)]
    assert FIT_LOG == [(0, 22), (0, 47), (0, 72), (0, 99)]


def test_stacking_rejects_too_small_blocks() -> None:
    with pytest.raises(ValueError, match="cannot form n_splits=3 forward folds with gap=30"):
        ForwardStackingRegressor([("a", _constant(0.0))], n_splits=3, gap=30).fit(np.zeros((100, 1)), np.zeros(100))


def test_classifier_ensembles_align_classes_missing_early() -> None:
    X = np.arange(120.0)[:, None]
    y = np.r_[np.zeros(60), np.tile([0.0, 1.0, 2.0], 20)]  # class 2 only appears late
    for model in (
        WeightedAverageClassifier([("prior", DummyClassifier(strategy="prior"))], validation_fraction=0.25),
        ForwardStackingClassifier([("prior", DummyClassifier(strategy="prior"))], n_splits=2),
    ):
        proba = model.fit(X, y).predict_proba(X)
        assert proba.shape == (120, 3)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        np.testing.assert_array_equal(model.classes_, [0.0, 1.0, 2.0])
