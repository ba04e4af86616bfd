"""Train the model of one period: frame → fit → evaluate → champion decision.

The ``trained_model`` asset calls :func:`train_period` once per week (a
range of weeks is a walk-forward, in order) and turns the returned
:class:`PeriodResult` into that week's metadata.  No dagster here.

Conventions
-----------
* ``train_end`` is the period's cut-off, the first day its model may be used
  on (a week's Sunday).  Rows dated on or after it are cut off first
  (:func:`~market_assets.quant.dataset.rows_between`), then
  :func:`~market_assets.quant.training.split_periods` purges by label
  window: every validation label closed before ``train_end``, every training
  label closed more than ``embargo`` sessions before the validation window.
  :func:`train_period` checks both on the frames it trained on and raises
  :class:`LookAheadError` otherwise.
* One MLflow run per period, named ``"<model> h<horizon> week <train_end>"``
  (the task is added for classification), with the training settings and the
  final estimator's hyperparameters (defaults included) as params, those it
  chose while fitting (``alpha_`` of the CV-tuned ridge) as params and
  metrics, the validation metrics as metrics, the feature list as the artifact
  :data:`~market_assets.workflow.features.FEATURES_ARTIFACT`, and short tags
  (see :mod:`.registry`).
* Champion decision: the challenger and the current champion are scored on
  the challenger's validation window (see :mod:`.registry`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import polars as pl

from market_assets.quant.dataset import TrainingFrame, rows_between
from market_assets.quant.promotion import PromotionDecision
from market_assets.quant.training import (
    FittedModel, TrainingSpec, chosen_hyperparameters, fit_and_validate, split_periods,
)
from market_assets.tracking._session import TrackingConfig
from market_assets.tracking.registry import promote_or_challenge


class Log(Protocol):
    """Where progress goes: a :class:`logging.Logger`, or Dagster's ``context.log``."""

    def info(self, msg: str) -> Any: ...

    def warning(self, msg: str) -> Any: ...


class LookAheadError(RuntimeError):
    """A training or validation row's label window did not close in time."""


@dataclass(frozen=True)
class TrainingOptions:
    """How a period is tuned and promoted (the model itself is a :class:`TrainingSpec`).

    Attributes
    ----------
    promotion_margin : float
        How much better than the champion (key metric units) to become champion.
    tuning_trials : int
        Optuna trials over purged folds of the training rows before the fit (0: none).
    tuning_timeout_seconds : float or None
        Optuna time budget; None for no limit.
    tuning_processes : int
        Processes of the step's machine that search the one stored study at
        once (above 1 the Optuna storage must be PostgreSQL).
    """

    promotion_margin: float = 0.0
    tuning_trials: int = 0
    tuning_timeout_seconds: float | None = None
    tuning_processes: int = 1


@dataclass(frozen=True)
class PeriodResult:
    """What training one period produced, decided and recorded."""

    train_end: dt.date
    spec: TrainingSpec  # after tuning: the hyperparameters really used
    chosen: dict[str, float]  # chosen by the estimator while fitting, e.g. {"alpha_": 1e5} of the CV-tuned ridge
    registered_model: str
    version: str
    alias: str
    decision: PromotionDecision
    metrics: dict[str, float]
    train_rows: int
    train_sessions: int
    n_features: int
    first_training_session: dt.date
    validation_window: tuple[dt.date, dt.date]
    last_training_label_end: dt.date
    last_validation_label_end: dt.date
    run_id: str
    run_name: str
    run_url: str | None

    @property
    def key_metric(self) -> str:
        return self.spec.key_metric[0]

    @property
    def validation_score(self) -> float:
        return float(self.metrics[self.key_metric])


def registered_model_name(task: str, horizon: int) -> str:
    """Models of one task and horizon compete for one registry entry's champion alias."""
    return f"market_assets_{task}_h{horizon}"


def run_name(spec: TrainingSpec, train_end: dt.date, period: str | None = None) -> str:
    """The MLflow run name of a period, e.g. ``"ridge h1 week 2025-11-02"``.

    ``period`` replaces ``"week <train_end>"``, e.g. ``"retrain after 2026-10-07"``.
    """
    task = "" if spec.task == "regression" else f" {spec.task}"
    return f"{spec.model_name}{task} h{spec.horizon} {period or f'week {train_end.isoformat()}'}"


def train_period(
    features: pl.DataFrame,
    labels: pl.DataFrame,
    *,
    spec: TrainingSpec,
    train_end: dt.date,
    sessions: Sequence[dt.date],
    tracking: TrackingConfig,
    options: TrainingOptions = TrainingOptions(),
    first_session: dt.date | None = None,
    optuna_storage: str | None = None,
    tags: Mapping[str, str] | None = None,
    log: Log | None = None,
    period: str | None = None,
) -> PeriodResult:
    """Train, validate, log, register and judge the model used from ``train_end`` on.

    Parameters
    ----------
    features, labels : pl.DataFrame
        Session rows (``date``, ``symbol``, ...); may extend past ``train_end``
        (a walk-forward passes one history to every week): only rows dated
        ``first_session <= date < train_end`` are used.
    spec : TrainingSpec
        What to train.
    train_end : datetime.date
        The period's cut-off (see module conventions).
    sessions : Sequence[datetime.date]
        Exchange sessions covering every row used and ``train_end``.
    tracking : TrackingConfig
        MLflow store for the run, the registry version and the aliases.
    options : TrainingOptions
        Tuning and promotion settings.
    first_session : datetime.date, optional
        First session of the period's history (None: all rows before ``train_end``).
    optuna_storage : str, optional
        Optuna RDB URL; required when ``options.tuning_trials > 0``.
    tags : mapping, optional
        Extra run and version tags (e.g. the orchestrator's run id).
    log : Log, optional
        Progress messages with stage timings (default: this module's logger).
    period : str, optional
        How the run names the period (default ``"week <train_end>"``; see :func:`run_name`).

    Raises
    ------
    ValueError
        No training rows (see :func:`~market_assets.quant.dataset.training_frame`).
    LookAheadError
        A label window that did not close in time (cannot happen unless the purge is broken).
    """
    from market_assets.workflow.registry import champion_decision, log_run  # it imports this module

    log = log or logging.getLogger(__name__)
    clock = _Stopwatch(log, f"week of {train_end}")
    train, validation = split_periods(
        rows_between(features, first_session, train_end), rows_between(labels, first_session, train_end),
        spec, train_end, sessions,
    )
    clock.lap(f"{train.X.height:,} training rows × {train.X.width} features, "
              f"{validation.X.height:,} validation rows")
    if options.tuning_trials:
        spec = tuned_spec(spec, train, train_end, options, optuna_storage, log)
        clock.lap(f"tuned {spec.model_name}: {spec.params}")
    fitted = fit_and_validate(train, validation, spec)
    check_labels_closed(fitted, spec, train_end, sessions)
    chosen = chosen_hyperparameters(fitted.model)
    clock.lap(f"fitted and validated {spec.model_name} ({spec.task}, h={spec.horizon})"
              + "".join(f", {name}={value:.4g}" for name, value in chosen.items()))
    name = registered_model_name(spec.task, spec.horizon)
    decision = champion_decision(tracking, name, spec, fitted, train_end, options.promotion_margin, log)
    logged = log_run(tracking, name, spec, fitted, train_end, options, tags or {}, period=period)
    alias = promote_or_challenge(tracking, name, logged.version, decision)
    log.info(f"{name} v{logged.version} is {alias}: {decision.reason}")
    clock.lap(f"tracked in MLflow as {name} v{logged.version} (run {run_name(spec, train_end, period)!r})")
    return PeriodResult(
        train_end=train_end, spec=spec, chosen=chosen, registered_model=name, version=logged.version, alias=alias,
        decision=decision, metrics=dict(fitted.metrics), train_rows=fitted.train.X.height,
        train_sessions=fitted.train.meta["date"].n_unique(), n_features=len(fitted.feature_columns),
        first_training_session=fitted.train.meta["date"].min(),
        validation_window=(fitted.validation.meta["date"].min(), fitted.validation.meta["date"].max()),
        last_training_label_end=fitted.train.meta["label_end"].max(),
        last_validation_label_end=fitted.validation.meta["label_end"].max(),
        run_id=logged.run_id, run_name=run_name(spec, train_end, period), run_url=logged.run_url,
    )


def check_labels_closed(
    fitted: FittedModel, spec: TrainingSpec, train_end: dt.date, sessions: Sequence[dt.date]
) -> None:
    """Raise :class:`LookAheadError` unless every label the model saw closed in time.

    Validation labels must close before ``train_end``; training labels more than
    ``spec.embargo`` sessions before the first validation session.
    """
    last_validation = fitted.validation.meta["label_end"].max()
    if last_validation >= train_end:
        raise LookAheadError(
            f"a validation label closes on {last_validation}, not before the cut-off {train_end}: "
            "the purge of split_periods is broken"
        )
    position = {session: i for i, session in enumerate(sessions)}
    first_validation = fitted.validation.meta["date"].min()
    last_training = fitted.train.meta["label_end"].max()
    gap = position[first_validation] - position[last_training]
    if gap <= spec.embargo:
        raise LookAheadError(
            f"the last training label closes on {last_training}, {gap} session(s) before the validation "
            f"window starts ({first_validation}); expected more than embargo={spec.embargo}"
        )


def tuned_spec(
    spec: TrainingSpec, train: TrainingFrame, train_end: dt.date, options: TrainingOptions,
    storage: str | None, log: Log,
) -> TrainingSpec:
    """``spec`` with the best hyperparameters of an Optuna study over purged folds of ``train``.

    The study is named after the registered model, the model and the week, so
    re-training a week resumes its study.
    """
    if storage is None:
        raise ValueError(f"tuning_trials={options.tuning_trials} needs an Optuna storage URL; got None")
    from market_assets.quant.cv import PurgedWalkForwardSplit
    from market_assets.quant.tuning import tune

    study = f"{registered_model_name(spec.task, spec.horizon)}_{spec.model_name}_{train_end}"
    result = tune(
        spec.model_name, spec.task, train.X.to_pandas(), train.y, train.meta["date"].to_list(),
        storage=storage, study_name=study, n_trials=options.tuning_trials,
        timeout=options.tuning_timeout_seconds, seed=spec.random_state,
        cv=PurgedWalkForwardSplit(n_splits=3, horizon=spec.horizon, embargo=spec.embargo, min_train_sessions=60),
        fixed_params=spec.params, n_processes=options.tuning_processes,
    )
    log.info(f"Optuna study {study}: {result.n_trials_completed} trials, best {result.best_score:.4g}")
    return dataclasses.replace(spec, params={**spec.params, **result.best_params})


class _Stopwatch:
    """Logs how long each stage of a long step took."""

    def __init__(self, log: Log, label: str) -> None:
        self._log, self._label = log, label
        self._last = time.perf_counter()

    def lap(self, what: str) -> None:
        now = time.perf_counter()
        self._log.info(f"{self._label}: {what} ({now - self._last:.1f} s)")
        self._last = now
