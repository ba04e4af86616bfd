"""``make_model``: one fitted object holding every learned step.

Conventions
-----------
* The returned :class:`~sklearn.pipeline.Pipeline` is
  ``[impute] -> [select] -> [scale] -> model``.  Imputation (median per column),
  optional feature selection and scaling (linear models only) are *fitted
  inside* the pipeline, i.e. on the training rows of each fit: nothing is
  learned from test rows.  An all-null training column is kept and imputed
  with 0 (``keep_empty_features=True``) so the column set never changes.
  Gradient-boosted trees (xgboost, lightgbm) get no imputation step unless
  feature selection needs one: they learn at each split where missing values
  go, which a median would erase, and imputing would copy the whole matrix.
* The pipeline outputs pandas frames between steps, so column names reach the
  model (the momentum baseline looks its feature up by name).
* Pipeline-level options travel in ``params`` next to the estimator
  hyperparameters, under the reserved keys of :data:`PIPELINE_OPTIONS`.
* ``horizon`` and ``embargo`` (sessions) describe the labels, not a model:
  they reach every estimator that cuts its training rows in time (the
  CV-tuned ``ridge``, the ensembles and their members) and are ignored by the
  others.  Those estimators also want the rows' session dates at fit time:
  fit with :func:`market_assets.quant.models.fitting.fit_model`.
* Ensembles (``weighted_average``, ``stacking``) take ``members`` (zoo names),
  optional ``member_params`` ({name: params}) and their own options
  (``method``, ``validation_fraction``, ``n_splits``, and ``gap`` in rows
  for fits without dates); each linear member carries its own scaler.
"""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from market_assets.quant.models import ensembles
from market_assets.quant.models.fitting import set_purge
from market_assets.quant.models.zoo import (
    CLASSIFICATION_TASKS,
    build_estimator,
    build_member,
    check_name_and_task,
    handles_missing,
    needs_scaling,
)

#: reserved ``params`` keys configuring the pipeline rather than the estimator
PIPELINE_OPTIONS: dict[str, str] = {
    "max_abs_corr": "drop the later of two features with |corr| above this (CorrelationFilter)",
    "select_k": "keep the k features with most mutual information with the target",
    "horizon": "label horizon in sessions, for estimators that purge their own folds",
    "embargo": "sessions of embargo after the label horizon, for estimators that purge their own folds",
}
DEFAULT_MEMBERS: tuple[str, ...] = ("ridge", "random_forest", "lightgbm")


def make_model(
    name: str, task: str, params: dict[str, Any] | None = None, random_state: int = 0
) -> Pipeline:
    """Build an unfitted zoo pipeline.

    Parameters
    ----------
    name : str
        One of :data:`market_assets.quant.models.MODEL_NAMES`.
    task : str
        One of :data:`market_assets.quant.models.TASKS`.
    params : dict, optional
        Estimator hyperparameters plus the :data:`PIPELINE_OPTIONS` keys.
    random_state : int, default 0
        Seed for every random step.

    Returns
    -------
    sklearn.pipeline.Pipeline
        With steps ``impute``, optionally ``select``, optionally ``scale``, and
        ``model``.

    Raises
    ------
    ValueError
        Unknown name or task (listing the valid ones), or a task the model
        does not support.
    """
    check_name_and_task(name, task)
    options = dict(params or {})
    pipeline_options = {key: options.pop(key) for key in list(options) if key in PIPELINE_OPTIONS}
    selection = _selection_steps(pipeline_options, task, random_state)
    steps: list[tuple[str, BaseEstimator]] = []
    if selection or not handles_missing(name):
        steps.append(("impute", SimpleImputer(strategy="median", keep_empty_features=True)))
    steps += selection
    if needs_scaling(name):
        steps.append(("scale", StandardScaler()))
    if name in ("weighted_average", "stacking"):
        model = _ensemble(name, task, options, random_state)
    else:
        model = build_estimator(name, task, options, random_state)
    steps.append(("model", set_purge(model, pipeline_options.get("horizon"), pipeline_options.get("embargo"))))
    return Pipeline(steps).set_output(transform="pandas")


def _selection_steps(options: dict[str, Any], task: str, random_state: int) -> list:
    from market_assets.quant.selection import CorrelationFilter, MutualInformationSelector

    steps: list[tuple[str, BaseEstimator]] = []
    if options.get("max_abs_corr") is not None:
        steps.append(("decorrelate", CorrelationFilter(max_abs_corr=options["max_abs_corr"])))
    if options.get("select_k") is not None:
        kind = "classification" if task in CLASSIFICATION_TASKS else "regression"
        steps.append(
            ("select", MutualInformationSelector(k=options["select_k"], task=kind, random_state=random_state))
        )
    return steps


def _ensemble(name: str, task: str, options: dict[str, Any], random_state: int) -> BaseEstimator:
    members = tuple(options.pop("members", DEFAULT_MEMBERS))
    member_params = options.pop("member_params", {})
    unknown = set(member_params) - set(members)
    if unknown:
        raise ValueError(f"member_params for {sorted(unknown)} which are not in members {list(members)}")
    estimators = [
        (member, build_member(member, task, member_params.get(member), random_state))
        for member in members
    ]
    classify = task in CLASSIFICATION_TASKS
    if name == "weighted_average":
        cls = ensembles.WeightedAverageClassifier if classify else ensembles.WeightedAverageRegressor
    else:
        cls = ensembles.ForwardStackingClassifier if classify else ensembles.ForwardStackingRegressor
    return cls(estimators=estimators, **options)
