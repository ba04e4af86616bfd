"""Record a trained period in MLflow and decide it against the champion (no dagster here).

Conventions
-----------
* Run params: the training settings, the zoo params given and the final
  estimator's hyperparameters, defaults included (:func:`training_params`),
  and those it chose while fitting (``alpha_``, the penalty the default
  ridge's purged CV picked), which are also logged as metrics so that the
  MLflow UI plots them across the weekly runs.
* Run and version tags stay short (cut-off, model, task, horizon, key metric,
  input fingerprint, interval); the feature list is the artifact
  :data:`~market_assets.workflow.features.FEATURES_ARTIFACT`.
* The challenger and the current champion are scored on the challenger's
  validation window (see :mod:`market_assets.quant.promotion`).  A champion
  trained for a *later* week than the challenger is never displaced: its
  training data overlaps this validation window, so no fair comparison exists.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from market_assets.quant.promotion import PromotionDecision, decide_promotion
from market_assets.quant.training import FittedModel, TrainingSpec
from market_assets.tracking._session import TrackingConfig
from market_assets.workflow.features import FEATURES_ARTIFACT, feature_contract, model_features
from market_assets.workflow.training import Log, TrainingOptions, run_name


def champion_decision(
    tracking: TrackingConfig, name: str, spec: TrainingSpec, fitted: FittedModel,
    train_end: dt.date, margin: float, log: Log,
) -> PromotionDecision:
    """Compare the challenger with the current champion on the challenger's validation window."""
    from market_assets.tracking.registry import champion_version

    metric, higher_is_better = spec.key_metric
    champion = champion_version(tracking, name)
    if champion is not None and champion.tags.get("train_end", "") > train_end.isoformat():
        return PromotionDecision(
            promote=False, challenger_score=fitted.metrics[metric], champion_score=None, margin=margin,
            reason=f"a newer champion (v{champion.version}, week of {champion.tags['train_end']}) exists; "
            "a re-trained past week is registered as challenger, never promoted",
        )
    score = None if champion is None else champion_score(tracking, name, champion, fitted, spec, log)
    return decide_promotion(fitted.metrics[metric], score, margin=margin, higher_is_better=higher_is_better)


def champion_score(
    tracking: TrackingConfig, name: str, champion: Any, fitted: FittedModel, spec: TrainingSpec, log: Log
) -> float | None:
    """The champion's key metric on the challenger's validation window (None if it cannot score it)."""
    from market_assets.quant.training import evaluate
    from market_assets.tracking.registry import load_model

    columns, _ = model_features(tracking, champion.run_id, champion.tags)
    if columns != fitted.feature_columns:
        log.warning(f"champion v{champion.version} was trained on other features; not comparable")
        return None
    model = load_model(tracking, name, champion.version)
    return evaluate(model, fitted.validation, spec)[spec.key_metric[0]]


def fingerprint(X: pl.DataFrame, y: np.ndarray) -> str:
    """A stable hash of the training matrix and target (same data, same fingerprint)."""
    digest = hashlib.sha256()
    digest.update(X.hash_rows(seed=0).to_numpy().tobytes())
    digest.update(np.asarray(y).astype("float64").tobytes())
    return f"{X.height}x{X.width}-{digest.hexdigest()[:16]}"


def training_params(spec: TrainingSpec, options: TrainingOptions, model: Any) -> dict[str, Any]:
    """Run params: the training settings, the zoo params given, and the estimator's actual ones.

    The final estimator's hyperparameters (defaults included) keep their own
    names, e.g. ``alpha``; one whose name is also a training setting is logged
    as ``estimator.<name>`` (a ridge's ``random_state`` is None while the
    spec's seed is 0), so neither hides the other.
    """
    from market_assets.quant.training import chosen_hyperparameters, estimator_hyperparameters

    settings = {
        "model_name": spec.model_name, "task": spec.task, "horizon": spec.horizon, "embargo": spec.embargo,
        "window": spec.window, "validation_sessions": spec.validation_sessions,
        "random_state": spec.random_state, "promotion_margin": options.promotion_margin,
        "tuning_trials": options.tuning_trials,
    }
    estimator = {
        f"estimator.{name}" if name in settings else name: value
        for name, value in estimator_hyperparameters(model).items()
    }
    return {**settings, **spec.params, **estimator, **chosen_hyperparameters(model)}


def log_run(
    tracking: TrackingConfig, name: str, spec: TrainingSpec, fitted: FittedModel, train_end: dt.date,
    options: TrainingOptions, extra_tags: Mapping[str, str], period: str | None = None,
) -> Any:
    """Log the period's MLflow run and register its model; the ``LoggedModel``.

    ``extra_tags`` may name the Dagster ``partition`` (a retrain's session); ``train_end`` is always the cut-off.
    """
    import json

    from market_assets.quant.training import chosen_hyperparameters, feature_importance
    from market_assets.tracking.mlflow_store import log_training_run

    metric, _ = spec.key_metric
    tags = {
        "partition": train_end.isoformat(), **extra_tags, "train_end": train_end.isoformat(),
        "model_name": spec.model_name, "task": spec.task, "horizon": str(spec.horizon), "key_metric": metric,
        "input_fingerprint": fingerprint(fitted.train.X, fitted.train.y),
        "n_features": str(len(fitted.feature_columns)), "interval": json.dumps(fitted.interval),
    }
    return log_training_run(
        tracking, model_name=name, model=fitted.model, X_example=fitted.validation.X.head(50).to_pandas(),
        params=training_params(spec, options, fitted.model),
        metrics={**fitted.metrics, **chosen_hyperparameters(fitted.model)}, tags=tags,
        feature_importance=feature_importance(fitted.model, fitted.feature_columns),
        run_name=run_name(spec, train_end, period),
        json_artifacts={FEATURES_ARTIFACT: feature_contract(fitted.feature_columns, fitted.required_features)},
    )
