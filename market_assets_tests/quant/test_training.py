"""fit_and_validate: purged training rows, out-of-sample validation, intervals."""

import datetime as dt

import numpy as np
import pandas as pd
import polars as pl
import pytest

from market_assets.quant.training import TrainingSpec, feature_importance, fit_and_validate, split_periods

SESSIONS = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(200)]
SYMBOLS = [f"S{i:02d}" for i in range(30)]


def _panel(strength: float, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Features with one informative column; fwd_ret_5 = strength * signal + noise."""
    rng = np.random.default_rng(seed)
    n = len(SESSIONS) * len(SYMBOLS)
    signal, noise = rng.standard_normal(n), rng.standard_normal((n, 2))
    keys = {"date": pl.Series([d for d in SESSIONS for _ in SYMBOLS], dtype=pl.Date),
            "symbol": SYMBOLS * len(SESSIONS)}
    features = pl.DataFrame({**keys, "signal": signal, "noise_a": noise[:, 0], "std_20": np.abs(noise[:, 1])})
    target = 0.01 * (strength * signal + np.sqrt(1 - strength**2) * rng.standard_normal(n))
    labels = pl.DataFrame({**keys, "fwd_ret_5": target, "fwd_logret_5": np.log1p(target),
                           "fwd_dir_5": (target > 0).astype(float), "fwd_class_5": np.digitize(target, [-0.01, -0.003, 0.003, 0.01])})
    return features, labels


def test_training_labels_close_before_the_validation_window_and_validation_before_the_cut_off():
    features, labels = _panel(0.3)
    spec = TrainingSpec(model_name="ridge", horizon=5, embargo=3, validation_sessions=40)
    train_end = SESSIONS[150]
    train, validation = split_periods(features, labels, spec, train_end, SESSIONS)
    assert validation.meta["label_end"].max() < train_end
    assert validation.meta["date"].n_unique() == 40
    first_validation = validation.meta["date"].min()
    # purge + embargo: the last training label closes > embargo sessions before validation starts
    gap = SESSIONS.index(first_validation) - SESSIONS.index(train.meta["label_end"].max())
    assert gap > spec.embargo


def test_a_planted_signal_is_found_out_of_sample_and_noise_is_not():
    spec = TrainingSpec(model_name="ridge", horizon=5, embargo=5, validation_sessions=40)
    found = fit_and_validate(*split_periods(*_panel(0.3), spec, SESSIONS[180], SESSIONS), spec)
    assert 0.2 < found.metrics["rank_ic"] < 0.4  # planted rank IC ≈ 0.3
    noise = fit_and_validate(*split_periods(*_panel(0.0, seed=1), spec, SESSIONS[180], SESSIONS), spec)
    assert abs(noise.metrics["rank_ic"]) < 0.05
    assert {"low_vol_rank_ic", "high_vol_rank_ic"} <= set(found.metrics)
    importance = feature_importance(found.model, found.feature_columns)
    assert max(importance, key=importance.get) == "signal"


def test_the_interval_offsets_are_the_validation_residual_quantiles():
    # Construction only: coverage is measured on later sessions in
    # quant/models/test_interval_coverage.py (on these residuals it is 80% by construction).
    spec = TrainingSpec(model_name="ridge", horizon=5, validation_sessions=40)
    fitted = fit_and_validate(*split_periods(*_panel(0.3), spec, SESSIONS[180], SESSIONS), spec)
    residuals = fitted.validation.y - fitted.model.predict(fitted.validation.X.to_pandas())
    assert fitted.interval == pytest.approx(tuple(np.quantile(residuals, (0.1, 0.9))), rel=1e-12)
    assert fitted.interval[0] < 0 < fitted.interval[1]


def test_classification_uses_log_loss_as_its_key_metric():
    spec = TrainingSpec(model_name="ridge", task="direction", horizon=5, validation_sessions=40)
    fitted = fit_and_validate(*split_periods(*_panel(0.3), spec, SESSIONS[180], SESSIONS), spec)
    assert spec.key_metric == ("log_loss", False)
    assert fitted.interval is None
    assert fitted.metrics["roc_auc"] > 0.6



def test_importance_names_the_input_columns_with_or_without_preprocessing_steps():
    for name in ("ridge", "lightgbm"):  # a pipeline of impute, scale, model / the model alone
        spec = TrainingSpec(model_name=name, horizon=5, validation_sessions=40,
                            params={"n_estimators": 20} if name == "lightgbm" else {})
        fitted = fit_and_validate(*split_periods(*_panel(0.5), spec, SESSIONS[180], SESSIONS), spec)
        importance = feature_importance(fitted.model, fitted.feature_columns)
        assert set(importance) == {"signal", "noise_a", "std_20"}, name
        assert max(importance, key=importance.get) == "signal", name


def test_the_default_spec_is_ridge_on_the_one_session_return():
    spec = TrainingSpec()
    assert (spec.model_name, spec.task, spec.horizon, spec.window) == ("ridge", "regression", 1, None)
    assert spec.target == "fwd_ret_1"
    assert spec.key_metric == ("rank_ic", True)


def test_hyperparameters_report_the_final_estimators_values_defaults_included():
    from market_assets.quant.models import make_model
    from market_assets.quant.training import estimator_hyperparameters

    params = estimator_hyperparameters(make_model("ridge", "regression", {"alpha": 3.0}))
    assert params["alpha"] == 3.0  # given
    assert params["fit_intercept"] is True  # Ridge's default, never passed
    assert params["solver"] == "auto"
    assert estimator_hyperparameters(make_model("lightgbm", "regression", random_state=7))["random_state"] == 7
    assert all(isinstance(v, (str, int, float, bool, type(None))) for v in params.values())


def test_the_penalty_the_cv_chose_is_reported_and_a_given_one_is_not():
    from market_assets.quant.models import fit_model, make_model
    from market_assets.quant.models.purged_ridge import DEFAULT_ALPHAS
    from market_assets.quant.training import chosen_hyperparameters

    rng = np.random.default_rng(0)
    dates = np.repeat(np.arange("2024-01-01", "2024-05-01", dtype="datetime64[D]"), 10)
    X = pd.DataFrame({"a": rng.normal(size=dates.size), "b": rng.normal(size=dates.size)})
    y = 0.01 * (0.3 * X["a"].to_numpy() + rng.normal(size=dates.size))
    model = fit_model(make_model("ridge", "regression"), X, y, dates)
    chosen = chosen_hyperparameters(model)
    assert list(chosen) == ["alpha_"] and chosen["alpha_"] in DEFAULT_ALPHAS
    assert chosen["alpha_"] == model[-1].alpha_
    assert chosen_hyperparameters(fit_model(make_model("ridge", "regression", {"alpha": 3.0}), X, y, dates)) == {}


def test_nested_hyperparameters_are_logged_as_short_text():
    from market_assets.quant.models import make_model
    from market_assets.quant.training import estimator_hyperparameters

    params = estimator_hyperparameters(make_model("weighted_average", "regression", {"members": ["ridge", "lasso"]}))
    nested = [v for v in params.values() if isinstance(v, str) and "(" in v]
    assert nested and all(len(v) <= 500 for v in nested)
