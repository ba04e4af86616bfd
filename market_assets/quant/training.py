"""Fit one model for one training period and validate it out of sample (pure).

Conventions
-----------
* ``train_end`` is the first day the model may be used on (the start of its
  weekly partition).  Every row the model sees has a label window that closed
  before ``train_end`` minus ``embargo`` sessions (see :mod:`.dataset`).
* The *validation window* is the last ``validation_sessions`` sessions whose
  labels closed before ``train_end``.  The model is fitted on rows whose
  labels closed before that window begins (purge + embargo again), then scored
  on it: its validation metrics are out of sample.  The champion is scored on
  the same window for the promotion decision.
* The key metric is rank IC for regression (higher is better) and log-loss
  for classification (lower is better).
* Prediction intervals are split-conformal: the 10% and 90% quantiles of the
  validation residuals ``y - prediction``, added to a prediction, give an 80%
  interval.
"""

from __future__ import annotations

import datetime as dt
import numbers
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from market_assets.quant.dataset import TrainingFrame, target_column, training_frame

INTERVAL_QUANTILES = (0.1, 0.9)


@dataclass(frozen=True)
class TrainingSpec:
    """What to train: model, task, horizon and the honesty margins.

    These are the project's training defaults (the Dagster ``TrainingConfig``
    reads its field defaults from ``TrainingSpec()``): a ridge regression of
    the 1-session forward return, an expanding window, an embargo of 5
    sessions and 60 validation sessions.

    Attributes
    ----------
    model_name : str
        Model zoo name (see :data:`market_assets.quant.models.MODEL_NAMES`).
    task : str
        ``regression`` | ``direction`` | ``five_class``.
    horizon : int
        Label horizon in sessions.
    embargo : int
        Sessions dropped between the last training label and the validation window.
    window : int or None
        Sliding training window in sessions; None for an expanding window.
    validation_sessions : int
        Out-of-sample sessions scored before the promotion decision.
    params : dict
        Hyperparameters passed to the zoo (unset ones keep the estimator's defaults).
    random_state : int
        Seed of every random step.
    """

    model_name: str = "ridge"
    task: str = "regression"
    horizon: int = 1
    embargo: int = 5
    window: int | None = None
    validation_sessions: int = 60
    params: dict[str, Any] = field(default_factory=dict)
    random_state: int = 0

    @property
    def target(self) -> str:
        from market_assets.quant.models import TASK_TARGETS

        return target_column(TASK_TARGETS[self.task], self.horizon)

    @property
    def is_classification(self) -> bool:
        return self.task != "regression"

    @property
    def key_metric(self) -> tuple[str, bool]:
        """(metric name, higher is better)."""
        return ("log_loss", False) if self.is_classification else ("rank_ic", True)


@dataclass
class FittedModel:
    """A fitted pipeline with what predictions and tracking need to know."""

    model: Any
    feature_columns: list[str]
    required_features: list[str]
    train: TrainingFrame
    validation: TrainingFrame
    metrics: dict[str, float]
    interval: tuple[float, float] | None


def split_periods(
    features: pl.DataFrame, labels: pl.DataFrame, spec: TrainingSpec,
    train_end: dt.date, sessions: Sequence[dt.date],
) -> tuple[TrainingFrame, TrainingFrame]:
    """(training rows, validation rows) for a model used from ``train_end`` on.

    The inputs are only read: callers that hold large frames should not keep
    other references to them once this returns.
    """
    # Only the last validation_sessions + horizon sessions can hold validation rows.
    position = max(bisect_left(list(sessions), train_end) - spec.horizon - spec.validation_sessions - 1, 0)
    recent = pl.col("date") >= sessions[position]
    validation = training_frame(
        features.filter(recent), labels.filter(recent), target=spec.target, horizon=spec.horizon, train_end=train_end,
        sessions=sessions, embargo=0, window=spec.validation_sessions,
    )
    first_validation = validation.meta["date"].min()
    train = training_frame(
        features, labels, target=spec.target, horizon=spec.horizon, train_end=first_validation,
        sessions=sessions, embargo=spec.embargo, window=spec.window,
    )
    return train, validation


def fit_and_validate(train: TrainingFrame, validation: TrainingFrame, spec: TrainingSpec) -> FittedModel:
    """Fit ``spec`` on ``train`` and score it on ``validation`` (see :func:`split_periods`)."""
    from market_assets.quant.models import fit_model, make_model

    # The purge margins reach every estimator that cuts folds or blocks (the default
    # ridge's alpha search, ensemble weights); the row dates let it cut on sessions.
    params = {**spec.params, "horizon": spec.horizon, "embargo": spec.embargo}
    model = make_model(spec.model_name, spec.task, params, spec.random_state)
    fit_model(model, train.X.to_pandas(), train.y, train.meta["date"].to_numpy())
    metrics = evaluate(model, validation, spec)
    interval = None if spec.is_classification else residual_interval(model, validation)
    required = [c for c in train.X.columns if train.X[c].null_count() == 0]
    return FittedModel(model, list(train.X.columns), required, train, validation, metrics, interval)


def evaluate(model: Any, frame: TrainingFrame, spec: TrainingSpec) -> dict[str, float]:
    """Out-of-sample metrics of ``model`` on ``frame``, overall and by volatility tercile."""
    from market_assets.quant.metrics import classification_metrics, metrics_by_volatility_tercile, regression_metrics

    X = frame.X.to_pandas()
    dates = frame.meta["date"]
    scored = pl.DataFrame({"date": dates, "y_true": frame.y})
    if spec.is_classification:
        proba = model.predict_proba(X)
        classes = list(model.classes_)
        metrics = classification_metrics(frame.y, proba, classes)
        scored = scored.with_columns(pl.Series(f"proba_{c}", proba[:, i]) for i, c in enumerate(classes))
    else:
        prediction = model.predict(X)
        metrics = regression_metrics(frame.y, prediction, dates)
        scored = scored.with_columns(pl.Series("y_pred", prediction))
        classes = None
    vol = next((c for c in ("std_20", "vol_20") if c in frame.X.columns), None)
    if vol is not None:
        scored = scored.with_columns(frame.X[vol])
        for tercile, values in metrics_by_volatility_tercile(scored, vol, classes=classes).items():
            metrics.update({f"{tercile}_vol_{k}": v for k, v in values.items()})
    return {k: float(v) for k, v in metrics.items()}


def residual_interval(model: Any, frame: TrainingFrame) -> tuple[float, float]:
    """Split-conformal offsets (q10, q90) of ``y - prediction`` on ``frame``."""
    residuals = frame.y - model.predict(frame.X.to_pandas())
    low, high = np.quantile(residuals, INTERVAL_QUANTILES)
    return float(low), float(high)


def feature_importance(model: Any, columns: Sequence[str]) -> dict[str, float] | None:
    """Importances of the pipeline's final estimator, if it exposes any.

    Tree models give ``feature_importances_``; linear models give ``|coef_|``
    (on standardised inputs, so comparable).  None for ensembles and baselines.
    """
    steps = getattr(model, "steps", [("model", model)])
    estimator = getattr(steps[-1][1], "estimator_", steps[-1][1])
    names = list(model[:-1].get_feature_names_out()) if len(steps) > 1 else list(columns)
    if hasattr(estimator, "feature_importances_"):
        values = np.asarray(estimator.feature_importances_, dtype=float)
    elif hasattr(estimator, "coef_"):
        values = np.abs(np.atleast_2d(estimator.coef_)).mean(axis=0)
    else:
        return None
    return dict(zip(names, values.tolist(), strict=False)) if len(names) == len(values) else None


def estimator_hyperparameters(model: Any) -> dict[str, Any]:
    """The hyperparameters the pipeline's final estimator actually uses, defaults included.

    ``get_params(deep=False)`` of the last pipeline step (the model itself when
    it is not a pipeline), so a parameter left unset reports the estimator's
    default.  Scalar values are returned as they are; any other value (a
    nested estimator of an ensemble, a list of members) as its ``repr``
    truncated to 500 characters, so the result can be logged as run params.
    """
    steps = getattr(model, "steps", None)
    estimator = steps[-1][1] if steps else model
    params = estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {}
    scalar = (str, bool, type(None), numbers.Number)
    return {
        str(name): value if isinstance(value, scalar) else repr(value)[:500]
        for name, value in sorted(params.items())
    }


#: Fitted attributes that are hyperparameters the estimator chose itself (the CV-tuned ridge's penalty).
CHOSEN_HYPERPARAMETERS = ("alpha_",)


def chosen_hyperparameters(model: Any) -> dict[str, float]:
    """The hyperparameters the pipeline's final estimator chose while fitting, e.g. ``{"alpha_": 1e5}``.

    The attributes of :data:`CHOSEN_HYPERPARAMETERS` the fitted final estimator
    has (``alpha_``: the penalty :class:`~market_assets.quant.models.purged_ridge.PurgedRidgeCV`
    picked by purged CV); empty for a model that chooses none (a ridge with a
    given ``alpha``, trees, ensembles, whose members' choices stay inside them).
    """
    steps = getattr(model, "steps", None)
    estimator = steps[-1][1] if steps else model
    return {name: float(value) for name in CHOSEN_HYPERPARAMETERS
            if isinstance(value := getattr(estimator, name, None), numbers.Real)}
