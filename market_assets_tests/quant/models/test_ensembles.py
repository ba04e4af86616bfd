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


SESSION_FITS: list[np.ndarray] = []
SESSION_PREDICTS: list[np.ndarray] = []


class SessionSpy(RegressorMixin, BaseEstimator):
    """Column 0 of X is the row's session number; records the sessions it fits and predicts."""

    def fit(self, X, y):  # noqa: N803
        SESSION_FITS.append(np.asarray(X)[:, 0].astype(int))
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):  # noqa: N803
        SESSION_PREDICTS.append(np.asarray(X)[:, 0].astype(int))
        return np.full(len(X), self.mean_)


def _uneven_panel(n_sessions: int) -> tuple[np.ndarray, np.ndarray]:
    """Sessions with 3..7 rows each (symbols list and delist), rows shuffled."""
    rows_per_session = 3 + np.arange(n_sessions) % 5
    session = np.repeat(np.arange(n_sessions), rows_per_session)
    dates = np.array([np.datetime64("2024-01-01") + int(s) for s in session])
    order = np.random.default_rng(0).permutation(session.size)
    return session[order].astype(float)[:, None], dates[order]


def _sessions_are_whole(seen: np.ndarray, session: np.ndarray) -> bool:
    """Every session in ``seen`` with all of its rows."""
    return all(np.sum(seen == s) == np.sum(session == s) for s in np.unique(seen))


def test_weighted_average_fits_weights_on_whole_later_sessions_after_horizon_plus_embargo() -> None:
    SESSION_FITS.clear()
    SESSION_PREDICTS.clear()
    X, dates = _uneven_panel(20)
    session = X[:, 0].astype(int)
    model = WeightedAverageRegressor([("spy", SessionSpy())], validation_fraction=0.2, horizon=2, embargo=1)
    model.fit(X, np.zeros(len(X)), dates=dates)
    fitted, scored = SESSION_FITS[0], SESSION_PREDICTS[0]
    assert sorted(set(scored)) == [16, 17, 18, 19]  # the last 20 % of sessions, not of rows
    assert _sessions_are_whole(fitted, session) and _sessions_are_whole(scored, session)
    # labels of the last fitting session close `horizon` sessions later, `embargo` more are dropped
    assert scored.min() - fitted.max() - 1 == 2 + 1
    assert sorted(set(SESSION_FITS[1])) == list(range(20))  # refitted on everything


def test_stacking_blocks_are_whole_sessions_with_a_purged_gap() -> None:
    SESSION_FITS.clear()
    SESSION_PREDICTS.clear()
    X, dates = _uneven_panel(24)
    session = X[:, 0].astype(int)
    ForwardStackingRegressor([("spy", SessionSpy())], n_splits=3, horizon=2, embargo=1).fit(
        X, X[:, 0].copy(), dates=dates)
    assert [sorted(set(p)) for p in SESSION_PREDICTS] == [list(range(6, 12)), list(range(12, 18)),
                                                         list(range(18, 24))]
    for fitted, scored in zip(SESSION_FITS, SESSION_PREDICTS, strict=False):
        assert _sessions_are_whole(fitted, session) and _sessions_are_whole(scored, session)
        assert scored.min() - fitted.max() - 1 >= 2 + 1


def test_a_row_gap_with_dates_is_refused_and_rows_get_a_default_gap() -> None:
    X, dates = _uneven_panel(20)
    with pytest.raises(ValueError, match=r"gap=4 counts rows .* horizon \+ embargo = 6 sessions: drop gap"):
        WeightedAverageRegressor([("a", _constant(0.0))], gap=4).fit(X, np.zeros(len(X)), dates=dates)
    FIT_LOG.clear()
    X = np.arange(100.0)[:, None]
    WeightedAverageRegressor([("spy", RowSpy())]).fit(X, np.zeros(100))  # no dates: 2 % of rows
    assert FIT_LOG[0] == (0, 77)


def test_ensemble_members_get_the_dates_of_their_rows() -> None:
    from market_assets.quant.models import make_model
    from market_assets.quant.models.fitting import fit_model

    rng = np.random.default_rng(3)
    dates = np.repeat(np.arange(60), 8).astype("datetime64[D]")
    X = rng.normal(size=(dates.size, 3))
    y = 0.3 * X[:, 0] + rng.normal(size=dates.size)
    model = make_model("stacking", "regression", {"members": ["ridge", "zero_return"], "horizon": 1, "embargo": 1})
    fitted = fit_model(model, X, y, dates).named_steps["model"]
    ridge = fitted.estimators_[0].named_steps["model"]
    assert ridge.cv_used_dates_ and (ridge.horizon, ridge.embargo) == (1, 1)
