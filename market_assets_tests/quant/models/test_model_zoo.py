"""The zoo: every (name, task) builds, fits and predicts; errors list valid choices."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import polars as pl
import pytest

from market_assets.quant.models import MODEL_NAMES, TASKS, make_model
from market_assets.quant.models.baselines import MomentumRegressor
from market_assets.quant.models.zoo import REGISTRY, EncodedLabelClassifier, build_estimator

SUPPORTED = [(n, t) for n in REGISTRY for t in REGISTRY[n][0]]
FAST = {"n_estimators": 20}
ENSEMBLE_PARAMS = {"members": ["ridge", "lightgbm"], "member_params": {"lightgbm": FAST}}


def _params(name: str) -> dict:
    if name in ("random_forest", "xgboost", "lightgbm"):
        return FAST
    return ENSEMBLE_PARAMS if name in ("weighted_average", "stacking") else {}


@pytest.mark.parametrize(("name", "task"), SUPPORTED + [(e, t) for e in ("weighted_average", "stacking") for t in TASKS])
def test_every_model_fits_and_predicts(name: str, task: str, small_panel: dict) -> None:
    X, y = small_panel["X"], small_panel[task]
    model = make_model(name, task, _params(name), random_state=0)
    assert model.fit(X, y) is model
    prediction = model.predict(X)
    assert prediction.shape == (X.height,) and np.isfinite(prediction.astype(float)).all()
    if task != "regression":
        proba = model.predict_proba(X)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)  # xgboost is float32
        np.testing.assert_array_equal(model.classes_, np.unique(y))
        assert set(np.unique(prediction)) <= set(np.unique(y))


def test_registry_names_and_tasks() -> None:
    assert set(MODEL_NAMES) >= {"zero_return", "momentum", "prior", "linear", "ridge", "lasso", "elasticnet",
                                "random_forest", "xgboost", "lightgbm", "weighted_average", "stacking"}
    assert TASKS == ("regression", "direction", "five_class")


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(ValueError, match=r"unknown model name 'gpt'; valid names are \['zero_return'.*'stacking'\]"):
        make_model("gpt", "regression")
    with pytest.raises(ValueError, match=r"unknown task 'ranking'; valid tasks are"):
        make_model("ridge", "ranking")
    with pytest.raises(ValueError, match=r"model 'linear' does not support task 'direction'"):
        make_model("linear", "direction")


def test_importing_the_zoo_does_not_import_boosting_libraries() -> None:
    code = ("import sys, market_assets.quant.models, market_assets.quant.tuning; "
            "print(sorted(m for m in ('xgboost', 'lightgbm', 'optuna') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_imputer_is_fitted_on_training_rows_only(small_panel: dict) -> None:
    X, y = small_panel["X"], small_panel["regression"]
    model = make_model("ridge", "regression").fit(X[:300], y[:300])
    medians = model.named_steps["impute"].statistics_
    np.testing.assert_allclose(medians, X[:300].median().row(0))
    test = X[300:].with_columns(pl.lit(None, dtype=pl.Float64).alias("mom_20"))
    before = model.predict(test)
    model.predict(X[300:])  # scoring other data must not refit anything
    np.testing.assert_array_equal(model.named_steps["impute"].statistics_, medians)
    np.testing.assert_array_equal(model.predict(test), before)


def test_a_prediction_depends_only_on_its_own_row(small_panel: dict) -> None:
    X, y = small_panel["X"], small_panel["regression"]
    model = make_model("lightgbm", "regression", FAST).fit(X[:400], y[:400])
    whole = model.predict(X[400:])
    one_by_one = np.concatenate([model.predict(X[i : i + 1]) for i in range(400, 410)])
    np.testing.assert_allclose(one_by_one, whole[:10])


def test_linear_models_are_scaled_inside_the_pipeline() -> None:
    assert [s for s, _ in make_model("ridge", "regression").steps] == ["impute", "scale", "model"]
    assert [s for s, _ in make_model("lightgbm", "regression").steps] == ["model"]  # native missing values


def test_feature_selection_runs_inside_the_pipeline(small_panel: dict) -> None:
    model = make_model("ridge", "regression", {"select_k": 1, "max_abs_corr": 0.9, "alpha": 2.0})
    model.fit(small_panel["X"], small_panel["regression"])
    assert list(model.named_steps["select"].get_feature_names_out()) == ["mom_20"]
    assert model.named_steps["model"].alpha == 2.0


def test_momentum_baseline_golden_slope() -> None:
    X = pl.DataFrame({"other": [5.0, 6.0], "mom_5": [1.0, 2.0]})
    model = make_model("momentum", "regression", {"feature": "mom_5"}).fit(X, np.array([2.0, 4.0]))
    assert model.named_steps["model"].slope_ == pytest.approx(2.0)
    np.testing.assert_allclose(model.predict(X), [2.0, 4.0])
    fixed = MomentumRegressor(feature="mom_5", slope=0.2).fit(X.to_pandas(), [0.0, 0.0])
    np.testing.assert_allclose(fixed.predict(X.to_pandas()), [0.2, 0.4])
    with pytest.raises(ValueError, match=r"momentum feature 'mom_9' not among the columns \['other', 'mom_5'\]"):
        MomentumRegressor(feature="mom_9").fit(X.to_pandas(), [0.0, 0.0])


def test_baselines_are_zero_and_prior(small_panel: dict) -> None:
    X = small_panel["X"]
    assert not make_model("zero_return", "regression").fit(X, small_panel["regression"]).predict(X).any()
    y = small_panel["direction"]
    proba = make_model("prior", "direction").fit(X, y).predict_proba(X)
    np.testing.assert_allclose(proba[0], [1 - y.mean(), y.mean()])


def test_xgboost_classifier_tolerates_a_missing_class(small_panel: dict) -> None:
    y = small_panel["five_class"].copy()
    y[y == 2] = 3  # no HOLD in this window
    model = build_estimator("xgboost", "five_class", FAST, 0)
    assert isinstance(model, EncodedLabelClassifier)
    model.fit(small_panel["X"].fill_null(0.0).to_numpy(), y)
    np.testing.assert_array_equal(model.classes_, [0, 1, 3, 4])
    assert set(model.predict(small_panel["X"].fill_null(0.0).to_numpy())) <= {0, 1, 3, 4}


def test_random_state_reaches_the_estimator() -> None:
    model = make_model("random_forest", "regression", {"random_state": 1}, random_state=5)
    assert model.named_steps["model"].random_state == 5


def test_default_ridge_chooses_alpha_by_purged_cv_and_a_given_alpha_is_kept() -> None:
    from sklearn.linear_model import Ridge

    from market_assets.quant.models.purged_ridge import PurgedRidgeCV

    assert isinstance(make_model("ridge", "regression").named_steps["model"], PurgedRidgeCV)
    assert type(make_model("ridge", "regression", {"alpha": 1.0}).named_steps["model"]) is Ridge
    assert make_model("ridge", "direction").named_steps["model"].C == 1.0  # classification unchanged


def test_horizon_and_embargo_reach_every_estimator_that_purges_its_own_folds() -> None:
    params = {**ENSEMBLE_PARAMS, "horizon": 5, "embargo": 3}
    for name in ("weighted_average", "stacking"):
        ensemble = make_model(name, "regression", params).named_steps["model"]
        assert (ensemble.horizon, ensemble.embargo) == (5, 3)
        ridge = dict(ensemble.estimators)["ridge"].named_steps["model"]
        assert (ridge.horizon, ridge.embargo) == (5, 3)
    ridge = make_model("ridge", "regression", {"horizon": 20, "embargo": 0}).named_steps["model"]
    assert (ridge.horizon, ridge.embargo) == (20, 0)
    # estimators that do not cut their rows in time ignore them
    assert "horizon" not in make_model("lightgbm", "regression", {"horizon": 5}).named_steps["model"].get_params()
