"""Optuna tuning: seeded, pruned over folds, persisted and resumable."""

from __future__ import annotations

import datetime as dt
import uuid

import numpy as np
import polars as pl
import pytest

from market_assets.quant.cv import PurgedWalkForwardSplit
from market_assets.quant.models.purged_ridge import DEFAULT_ALPHAS
from market_assets.quant.tuning import SEARCH_SPACES, TuningResult, sqlite_url, tune

CV = PurgedWalkForwardSplit(n_splits=3, horizon=1, embargo=0, min_train_sessions=20)


@pytest.fixture
def data() -> tuple[pl.DataFrame, np.ndarray, list]:
    rng = np.random.default_rng(3)
    n_sessions, n_symbols = 50, 8
    dates = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(n_sessions) for _ in range(n_symbols)]
    X = pl.DataFrame({"a": rng.normal(size=len(dates)), "b": rng.normal(size=len(dates))})
    y = 0.01 * (0.3 * X["a"].to_numpy() + rng.normal(size=len(dates)))
    return X, y, dates


def _trials(storage: str, name: str) -> list:
    import optuna

    return optuna.load_study(study_name=name, storage=storage).trials


def test_tune_returns_the_best_trial(tmp_path, data) -> None:
    X, y, dates = data
    storage = sqlite_url(tmp_path / "optuna.db")
    result = tune("ridge", "regression", X, y, dates, storage=storage, study_name="ridge-reg",
                  n_trials=3, seed=1, cv=CV)
    assert isinstance(result, TuningResult)
    assert result.n_trials_completed == 3 and result.study_name == "ridge-reg"
    assert DEFAULT_ALPHAS[0] <= result.best_params["alpha"] <= DEFAULT_ALPHAS[-1]
    assert result.best_score > 0.1  # rank IC of a planted signal of corr ~0.29
    trials = _trials(storage, "ridge-reg")
    assert all(sorted(t.intermediate_values) == [0, 1, 2] for t in trials)  # one report per fold
    assert max(t.value for t in trials) == result.best_score


def test_resume_adds_trials_without_replaying_points(tmp_path, data) -> None:
    X, y, dates = data
    storage = sqlite_url(tmp_path / "optuna.db")
    args = dict(storage=storage, study_name="resume", n_trials=3, seed=5, cv=CV)
    tune("ridge", "regression", X, y, dates, **args)
    second = tune("ridge", "regression", X, y, dates, **args)
    trials = _trials(storage, "resume")
    assert len(trials) == 6 and second.n_trials_completed == 6
    alphas = [t.params["alpha"] for t in trials]
    assert len(set(alphas)) == 6  # the resumed sampler did not repeat the first three


def test_same_seed_same_search(tmp_path, data) -> None:
    X, y, dates = data
    runs = [
        tune("ridge", "direction", X, (y > 0).astype(float), dates, storage=sqlite_url(tmp_path / f"{i}.db"),
             study_name="s", n_trials=2, seed=9, cv=CV)
        for i in range(2)
    ]
    assert runs[0] == runs[1]


def test_median_pruner_stops_bad_trials_at_a_fold(tmp_path, data) -> None:
    import optuna

    X, y, dates = data
    storage = sqlite_url(tmp_path / "optuna.db")
    tune("random_forest", "regression", X, y, dates, storage=storage, study_name="prune", n_trials=12,
         seed=0, cv=CV, fixed_params={"n_estimators": 10, "min_samples_leaf": 5})
    states = [t.state for t in _trials(storage, "prune")]
    assert optuna.trial.TrialState.PRUNED in states


def test_invalid_requests_are_refused(tmp_path, data) -> None:
    X, y, dates = data
    storage = sqlite_url(tmp_path / "optuna.db")
    with pytest.raises(ValueError, match="unknown scoring 'sharpe'"):
        tune("ridge", "regression", X, y, dates, storage=storage, study_name="x", n_trials=1, cv=CV,
             scoring="sharpe")
    with pytest.raises(ValueError, match="give n_trials or timeout"):
        tune("ridge", "regression", X, y, dates, storage=storage, study_name="x", n_trials=None, cv=CV)
    tune("ridge", "regression", X, y, dates, storage=storage, study_name="dir", n_trials=1, cv=CV)
    with pytest.raises(ValueError, match="stored with direction maximize, but scoring 'rmse' needs minimize"):
        tune("ridge", "regression", X, y, dates, storage=storage, study_name="dir", n_trials=1, cv=CV,
             scoring="rmse")


def test_undefined_fold_score_fails_the_trial_not_the_study(tmp_path, data) -> None:
    import optuna

    X, y, dates = data
    storage = sqlite_url(tmp_path / "o.db")
    with pytest.raises(ValueError, match="no completed trial after this run .2 trials"):
        tune("zero_return", "regression", X, y, dates, storage=storage, study_name="zero", n_trials=2, cv=CV)
    trials = _trials(storage, "zero")
    assert [t.state for t in trials] == [optuna.trial.TrialState.FAIL] * 2
    assert "fold 0 scored rank_ic=nan" in trials[0].user_attrs["failure"]


class _BoundsTrial:
    """Records what a search space asks for."""

    def __init__(self) -> None:
        self.floats: dict[str, tuple[float, float, bool]] = {}

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        self.floats[name] = (low, high, log)
        return low


def test_ridge_is_tuned_over_the_penalties_the_default_model_chooses_among() -> None:
    trial = _BoundsTrial()
    SEARCH_SPACES["ridge"](trial, "regression")
    assert trial.floats["alpha"] == (min(DEFAULT_ALPHAS), max(DEFAULT_ALPHAS), True)
    assert trial.floats["alpha"][:2] == pytest.approx((1e-1, 1e6))  # the 15-point CV grid's range
    SEARCH_SPACES["ridge"](trial, "direction")  # C = 1/alpha of a logistic regression
    assert trial.floats["alpha"] == (1e-3, 1e3, True)


def test_every_model_has_a_search_space() -> None:
    from market_assets.quant.models import MODEL_NAMES

    assert set(SEARCH_SPACES) == set(MODEL_NAMES)


@pytest.mark.postgres
def test_study_shared_through_postgresql(postgres_url: str, data) -> None:
    import optuna

    X, y, dates = data
    name = f"market-assets-test-{uuid.uuid4().hex}"
    try:
        tune("ridge", "regression", X, y, dates, storage=postgres_url, study_name=name, n_trials=2, seed=0, cv=CV)
        result = tune("ridge", "regression", X, y, dates, storage=postgres_url, study_name=name, n_trials=1,
                      seed=1, cv=CV)
        assert result.n_trials_completed == 3
    finally:
        optuna.delete_study(study_name=name, storage=postgres_url)


@pytest.mark.postgres
def test_processes_share_one_postgresql_study(postgres_url: str, data) -> None:
    """Two processes optimise one stored study: the trials of both land in it, each with its process."""
    import os

    import optuna

    X, y, dates = data
    name = f"test_processes_{uuid.uuid4().hex}"
    try:
        result = tune("ridge", "regression", X, y, dates, storage=postgres_url, study_name=name, n_trials=6,
                      seed=0, cv=CV, n_processes=2)
        trials = _trials(postgres_url, name)
        assert len(trials) == 6 and result.n_trials_completed == 6
        pids = [t.user_attrs["pid"] for t in trials]
        assert os.getpid() in pids
        assert len(set(pids)) == 2, pids  # the spawned process did its share: 3 trials each
        assert sorted(pids.count(pid) for pid in set(pids)) == [3, 3]
        assert len({t.params["alpha"] for t in trials}) == 6  # different seeds: no replayed points
    finally:
        optuna.delete_study(study_name=name, storage=postgres_url)


def test_processes_refuse_sqlite_and_nonsense(tmp_path, data) -> None:
    X, y, dates = data
    storage = sqlite_url(tmp_path / "optuna.db")
    with pytest.raises(ValueError, match="is SQLite, which serialises writers"):
        tune("ridge", "regression", X, y, dates, storage=storage, study_name="s", n_trials=2, cv=CV, n_processes=2)
    with pytest.raises(ValueError, match="n_processes=0: expected at least 1"):
        tune("ridge", "regression", X, y, dates, storage=storage, study_name="s", n_trials=2, cv=CV, n_processes=0)
