"""train_period: one period from frames to a registered, judged model; no dagster involved."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from market_assets.quant.dataset import TrainingFrame
from market_assets.quant.training import FittedModel, TrainingSpec
from market_assets.tracking import local_tracking_config
from market_assets.tracking._session import client_for
from market_assets.workflow.features import model_features
from market_assets.workflow.registry import fingerprint
from market_assets.workflow.training import (
    LookAheadError,
    TrainingOptions,
    check_labels_closed,
    registered_model_name,
    run_name,
    train_period,
)

SESSIONS = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(200)]
SYMBOLS = [f"S{i:02d}" for i in range(20)]
SPEC = TrainingSpec(model_name="ridge", horizon=5, embargo=3, validation_sessions=30)
TRAIN_END = SESSIONS[150]


def _panel(seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One informative feature: fwd_ret_5 = 0.3 * signal + noise."""
    rng = np.random.default_rng(seed)
    n = len(SESSIONS) * len(SYMBOLS)
    keys = {"date": pl.Series([d for d in SESSIONS for _ in SYMBOLS], dtype=pl.Date), "symbol": SYMBOLS * len(SESSIONS)}
    signal = rng.standard_normal(n)
    features = pl.DataFrame({**keys, "signal": signal, "noise": rng.standard_normal(n)})
    target = 0.01 * (0.3 * signal + 0.95 * rng.standard_normal(n))
    return features, pl.DataFrame({**keys, "fwd_ret_5": target})


def test_names_of_the_registry_entry_and_the_run():
    assert registered_model_name("regression", 1) == "market_assets_regression_h1"
    assert run_name(TrainingSpec(), dt.date(2025, 11, 2)) == "ridge h1 week 2025-11-02"
    assert run_name(TrainingSpec(task="direction", horizon=5), dt.date(2025, 11, 2)) == "ridge direction h5 week 2025-11-02"


def _fitted(train_dates: list[dt.date], train_ends: list[dt.date], validation_dates, validation_ends) -> FittedModel:
    def frame(dates, ends):
        meta = pl.DataFrame({"date": dates, "symbol": ["A"] * len(dates), "label_end": ends})
        return TrainingFrame(pl.DataFrame({"x": [0.0] * len(dates)}), np.zeros(len(dates)), meta)

    return FittedModel(None, ["x"], ["x"], frame(train_dates, train_ends), frame(validation_dates, validation_ends), {}, None)


def test_a_validation_label_closing_on_the_cut_off_is_refused():
    fitted = _fitted([SESSIONS[100]], [SESSIONS[105]], [SESSIONS[145]], [SESSIONS[150]])
    with pytest.raises(LookAheadError, match=r"closes on 2024-05-30, not before the cut-off 2024-05-30"):
        check_labels_closed(fitted, SPEC, TRAIN_END, SESSIONS)


def test_a_training_label_inside_the_embargo_is_refused():
    fitted = _fitted([SESSIONS[110]], [SESSIONS[115]], [SESSIONS[118]], [SESSIONS[123]])
    with pytest.raises(LookAheadError, match=r"3 session\(s\) before the validation window.*embargo=3"):
        check_labels_closed(fitted, SPEC, TRAIN_END, SESSIONS)
    check_labels_closed(_fitted([SESSIONS[110]], [SESSIONS[115]], [SESSIONS[119]], [SESSIONS[124]]),
                        SPEC, TRAIN_END, SESSIONS)  # a gap of 4 > embargo passes


def test_the_fingerprint_follows_the_data():
    features, labels = _panel()
    X = features.drop("date", "symbol")
    y = labels["fwd_ret_5"].to_numpy()
    assert fingerprint(X, y) == fingerprint(X.clone(), y.copy())
    assert fingerprint(X, y) != fingerprint(X, y + 1e-9)
    assert fingerprint(X, y).startswith(f"{X.height}x2-")


def test_tuning_without_a_study_storage_is_refused(tmp_path):
    features, labels = _panel()
    with pytest.raises(ValueError, match=r"tuning_trials=2 needs an Optuna storage URL; got None"):
        train_period(features, labels, spec=SPEC, train_end=TRAIN_END, sessions=SESSIONS,
                     tracking=local_tracking_config(tmp_path), options=TrainingOptions(tuning_trials=2))


def test_older_versions_keep_their_feature_list_in_tags():
    tags = {"feature_columns": '["a", "b"]', "required_features": '["a"]'}
    assert model_features(None, None, tags) == (["a", "b"], ["a"])
    with pytest.raises(FileNotFoundError, match="without a run has no feature contract"):
        model_features(None, None, {})


@pytest.mark.slow
def test_a_period_never_sees_rows_from_its_cut_off_on(tmp_path):
    """Changing every row dated on or after train_end leaves the model and its record unchanged."""
    features, labels = _panel()
    future = pl.col("date") >= TRAIN_END
    leaked = labels.with_columns(pl.when(future).then(pl.col("fwd_ret_5") * 100).otherwise(pl.col("fwd_ret_5")))
    peeking = features.with_columns(
        pl.when(future).then(pl.lit(0.0)).otherwise(pl.col("signal")).alias("signal")
    )
    results = []
    for name, (f, l) in {"honest": (features, labels), "changed": (peeking, leaked)}.items():
        tracking = local_tracking_config(tmp_path / name)
        results.append((tracking, train_period(f, l, spec=SPEC, train_end=TRAIN_END, sessions=SESSIONS,
                                               tracking=tracking, tags={"caller": "test"})))
    (tracking, honest), (_, changed) = results
    assert honest.metrics == changed.metrics
    assert honest.last_validation_label_end < TRAIN_END
    assert honest.alias == "champion" and honest.version == "1"
    assert 0.2 < honest.validation_score < 0.45  # the planted rank IC ~0.3
    run = client_for(tracking).get_run(honest.run_id)
    assert run.info.run_name == "ridge h5 week 2024-05-30"
    assert run.data.tags["caller"] == "test" and run.data.tags["train_end"] == "2024-05-30"
    params = run.data.params
    assert (params["horizon"], params["embargo"], params["random_state"]) == ("5", "3", "0")  # the spec
    from market_assets.quant.models import make_model
    from market_assets.quant.training import estimator_hyperparameters

    own = estimator_hyperparameters(make_model("ridge", "regression"))  # the final estimator's, defaults too
    assert own and all(name in params or f"estimator.{name}" in params for name in own)
    from market_assets.quant.models.purged_ridge import DEFAULT_ALPHAS

    chosen = honest.chosen["alpha_"]  # the penalty the default ridge's purged CV picked, as param and metric
    assert chosen in DEFAULT_ALPHAS and float(params["alpha_"]) == run.data.metrics["alpha_"] == chosen
    assert model_features(tracking, honest.run_id, {}) == (["signal", "noise"], ["signal", "noise"])


@pytest.mark.slow
def test_a_second_period_is_judged_against_the_first_on_its_own_window(tmp_path):
    features, labels = _panel()
    tracking = local_tracking_config(tmp_path)
    first = train_period(features, labels, spec=SPEC, train_end=SESSIONS[140], sessions=SESSIONS, tracking=tracking)
    second = train_period(features, labels, spec=SPEC, train_end=TRAIN_END, sessions=SESSIONS, tracking=tracking,
                          options=TrainingOptions(promotion_margin=1.0))  # an impossible margin
    assert (first.alias, second.alias) == ("champion", "challenger")
    assert second.decision.champion_score is not None  # the champion was re-scored on the second window
    assert "does not beat margin 1" in second.decision.reason
    again = train_period(features, labels, spec=SPEC, train_end=SESSIONS[130], sessions=SESSIONS, tracking=tracking)
    assert again.alias == "challenger" and "newer champion" in again.decision.reason
