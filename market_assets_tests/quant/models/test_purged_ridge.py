"""The default ridge chooses its penalty by purged walk-forward CV on its own training rows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from market_assets.quant import metrics
from market_assets.quant.cv import PurgedWalkForwardSplit
from market_assets.quant.dataset import training_frame
from market_assets.quant.features import FEATURE_SPECS, compute_features
from market_assets.quant.labels import compute_labels
from market_assets.quant.models import make_model, walk_forward_predict
from market_assets.quant.models.fitting import fit_model
from market_assets.quant.models.purged_ridge import DEFAULT_ALPHAS, PurgedRidgeCV, ridge_path_predictions
from market_assets.sources import build_source

N_SESSIONS, N_SYMBOLS = 40, 5


def _panel(seed: int = 0, strength: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    dates = np.repeat([dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(N_SESSIONS)], N_SYMBOLS)
    X = rng.normal(size=(dates.size, 4))
    y = strength * X[:, 0] + rng.normal(size=dates.size)
    return X, y, dates


def test_the_penalty_path_equals_sklearn_ridge() -> None:
    X, y, _ = _panel()
    alphas = (0.1, 10.0, 1e4)
    path = ridge_path_predictions(X[:150], y[:150], X[150:], alphas)
    for j, alpha in enumerate(alphas):
        np.testing.assert_allclose(path[:, j], Ridge(alpha=alpha).fit(X[:150], y[:150]).predict(X[150:]), atol=1e-10)


@pytest.mark.parametrize(("horizon", "embargo"), [(1, 0), (1, 5), (5, 3)])
def test_folds_split_on_sessions_and_purge_the_label_horizon(horizon: int, embargo: int) -> None:
    _, _, dates = _panel()
    order = np.random.default_rng(1).permutation(dates.size)  # any row order
    shuffled = dates[order]
    session = np.unique(shuffled, return_inverse=True)[1]
    folds = PurgedRidgeCV(horizon=horizon, embargo=embargo, n_splits=3).cv_folds(dates.size, shuffled)
    assert len(folds) == 3
    for train, test in folds:
        # every session wholly on one side
        assert not set(session[train]) & set(session[test])
        assert all(np.sum(session[test] == s) == N_SYMBOLS for s in set(session[test]))
        # no training label window [t, t + h] reaches the test sessions, plus the embargo
        assert session[train].max() + horizon + embargo < session[test].min()
    assert sorted(set(np.concatenate([session[t] for _, t in folds]))) == list(range(20 + horizon + embargo, 40))


def test_dates_route_through_the_pipeline_and_the_choice_is_recorded() -> None:
    X, y, dates = _panel()
    model = fit_model(make_model("ridge", "regression", {"horizon": 1, "embargo": 2}), X, y, dates)
    ridge = model.named_steps["model"]
    assert isinstance(ridge, PurgedRidgeCV) and ridge.cv_used_dates_ and (ridge.horizon, ridge.embargo) == (1, 2)
    assert ridge.alpha_ in DEFAULT_ALPHAS and ridge.cv_scores_.shape == (len(DEFAULT_ALPHAS),)
    best = np.nanmax(ridge.cv_scores_)  # ties (equal ranks on 4 features) go to the larger alpha
    assert ridge.alpha_ == max(a for a, s in zip(DEFAULT_ALPHAS, ridge.cv_scores_, strict=True) if s == best)
    plain = make_model("ridge", "regression").fit(X, y)  # the plain fit(X, y) contract still works
    assert not plain.named_steps["model"].cv_used_dates_
    assert np.isfinite(plain.predict(X)).all()


def test_a_fixed_alpha_is_a_plain_ridge() -> None:
    model = make_model("ridge", "regression", {"alpha": 3.0})
    assert type(model.named_steps["model"]) is Ridge and model.named_steps["model"].alpha == 3.0


def test_cross_sectional_fit_ignores_the_common_move_of_a_session() -> None:
    X, y, dates = _panel(strength=0.0)
    y = 0.3 * X[:, 0] + 0.05 * X[:, 1]
    session = np.unique(dates, return_inverse=True)[1]
    market = np.random.default_rng(2).normal(scale=100.0, size=N_SESSIONS)[session]  # huge common move
    fitted = PurgedRidgeCV(alphas=(1e-3,), n_splits=2, embargo=1).fit(X, y + market, dates)
    np.testing.assert_allclose(fitted.coef_, [0.3, 0.05, 0.0, 0.0], atol=0.02)
    # the forecast keeps the mean return of the training rows
    assert fitted.predict(X).mean() == pytest.approx((y + market).mean(), abs=0.05)
    assert fitted.predict(X) == pytest.approx(X @ fitted.coef_ + fitted.intercept_)


def test_too_little_history_and_bad_alphas_are_clear_errors() -> None:
    X, y, dates = _panel()
    with pytest.raises(ValueError, match=r"40 sessions are too few to choose ridge's alpha by 4 purged folds .* "
                                         r"gap of 25 sessions.*params=\{'alpha'"):
        PurgedRidgeCV(horizon=20, embargo=5).fit(X, y, dates)
    with pytest.raises(ValueError, match=r"alphas must be a non-empty sequence of positive floats, got \(0.0, 1.0\)"):
        PurgedRidgeCV(alphas=(0.0, 1.0)).fit(X, y)
    with pytest.raises(ValueError, match=r"dates must hold one session date per row \(200 rows\), got shape \(199,\)"):
        PurgedRidgeCV().fit(X, y, dates[:-1])


FEATURES = [name for name, spec in FEATURE_SPECS.items() if not spec.history_dependent]


def _default_pipeline_rank_ic(signal_strength: float, params: dict | None = None) -> np.ndarray:
    """Daily out-of-sample rank IC of the default ridge on the full feature table.

    30 synthetic symbols, 2024-01 .. 2025-04 (~335 sessions, ~300 features),
    label fwd_ret_1; three purged walk-forward folds after 150 sessions.
    """
    start, end = dt.date(2024, 1, 2), dt.date(2025, 4, 30)
    prices = build_source("synthetic", seed=7, n_symbols=30, signal_strength=signal_strength,
                          start=start, end=end).fetch(start, end)
    features, labels = compute_features(prices, features=FEATURES), compute_labels(prices, horizons=[1])
    sessions = features["date"].unique().sort().to_list()
    X, y, meta = training_frame(features, labels, target="fwd_ret", horizon=1,
                                train_end=sessions[-1] + dt.timedelta(days=1), sessions=sessions)
    assert X.width > 250
    cv = PurgedWalkForwardSplit(n_splits=3, horizon=1, embargo=5, min_train_sessions=150)
    oos = walk_forward_predict(lambda: make_model("ridge", "regression", params), X, y, meta["date"], cv)
    return metrics.daily_ic(oos["date"], oos["y_true"], oos["y_pred"], method="spearman")["ic"].to_numpy()


def _t(ic: np.ndarray) -> float:
    return float(ic.mean() / ic.std(ddof=1) * np.sqrt(ic.size))


@pytest.mark.slow
def test_the_default_ridge_recovers_a_planted_signal_and_finds_none_in_a_random_walk() -> None:
    # The planted predictor alone scores a rank IC of ~0.10 on these sessions.  The default
    # ridge recovers ~0.09 (t ~ 5.6 over ~175 dates); a fixed alpha of 1 (the old default)
    # fits noise on ~300 features and scores ~0.025 (t ~ 1.6), failing both bounds.
    signal = _default_pipeline_rank_ic(0.1)
    assert signal.size > 150
    assert signal.mean() > 0.06 and _t(signal) > 3.5
    # A random walk: each date's IC is a mean-zero draw, the t-statistic ~N(0, 1).
    placebo = _default_pipeline_rank_ic(0.0)
    assert abs(_t(placebo)) < 2.5
