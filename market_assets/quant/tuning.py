"""Hyperparameter search with Optuna over purged walk-forward folds.

Conventions
-----------
* **Sampler.**  ``TPESampler(seed=seed + n)`` where ``n`` is the number of
  trials already in the study: a fresh study is reproducible from ``seed``,
  and a resumed study does not replay the random start-up points it already
  tried.  Workers sharing one study should each get a different ``seed``.
* **Pruner.**  ``MedianPruner``: the score of each walk-forward fold is
  reported as intermediate value ``step = fold index``; a trial whose running
  fold score is worse than the median of earlier trials at the same fold is
  stopped.  The trial's value is the mean fold score.
* **Storage.**  The study lives in an RDB given as a URL
  (``sqlite:///path/optuna.db`` locally, see :func:`sqlite_url`;
  ``postgresql+psycopg2://postgres@127.0.0.1:5432/test`` in production) and
  is opened with ``load_if_exists=True``: rerunning after a crash resumes it,
  and several workers can optimise the same study concurrently.  That storage
  is the only I/O of this module.
* **Processes.**  ``n_processes > 1`` fans the search out over that many
  processes of this machine (the caller's and ``n_processes - 1`` spawned
  ones), each optimising the same stored study with its own sampler seed
  (``seed + 1000 * k``), so TPE in each process learns from every trial any
  process finished.  The study must live in a server database (PostgreSQL):
  SQLite serialises writers and an in-memory study is not shared.  Each
  trial records the ``pid`` of the process that ran it as a user attribute.
  ``n_trials`` is the budget of the whole call, split between the processes;
  ``timeout`` applies to each.  Workers on other machines share a study the
  same way: call :func:`tune` there with the same ``storage`` and
  ``study_name`` and another ``seed``.
* **Budget.**  ``n_trials`` and ``timeout`` (seconds) bound *this call*; each
  call adds up to ``n_trials`` trials to the study.
* **Scoring.**  Default ``"rank_ic"`` for regression and ``"log_loss"`` for
  classification (see :data:`market_assets.quant.metrics.SCORERS` for all
  names and their directions).  A fold whose score is undefined (NaN, e.g.
  the IC of a model that predicts a constant) raises
  :class:`UndefinedScoreError`: the trial is recorded as FAILED with the
  reason in its ``failure`` user attribute and the study goes on; the score
  is never replaced by a default.  Any other exception stops the study.
* Optuna is imported inside the functions (cheap code-location loading).

Search spaces (:data:`SEARCH_SPACES`)
-------------------------------------
``zero_return``, ``momentum``, ``prior``, ``linear``: nothing to tune.
``ridge``: ``alpha`` log-uniform over the range of the default model's CV
grid (:data:`~market_assets.quant.models.purged_ridge.DEFAULT_ALPHAS`,
[1e-1, 1e6]) for regression, so a tuned ridge and the CV-tuned default
search the same penalties; [1e-3, 1e3] for classification (``C = 1/alpha``
of a logistic regression, whose default is ``alpha`` 1).
``lasso``: ``alpha`` log-uniform [1e-6, 1e-2] (regression on returns) or
[1e-2, 1e2] (classification, ``C = 1/alpha``).
``elasticnet``: as ``lasso`` plus ``l1_ratio`` uniform [0.05, 0.95].
``random_forest``: ``n_estimators`` 50..300 step 50, ``max_depth`` 2..12,
``min_samples_leaf`` log 10..500, ``max_features`` [0.2, 1.0].
``xgboost``: ``n_estimators`` 50..400 step 50, ``learning_rate`` log
[1e-3, 0.3], ``max_depth`` 2..8, ``min_child_weight`` log [1, 100],
``subsample`` and ``colsample_bytree`` [0.5, 1], ``reg_lambda`` log [1e-3, 10].
``lightgbm``: ``n_estimators`` 50..400 step 50, ``learning_rate`` log
[1e-3, 0.3], ``num_leaves`` 4..64, ``min_child_samples`` log 20..500,
``subsample`` and ``colsample_bytree`` [0.5, 1], ``reg_lambda`` log [1e-3, 10].
``weighted_average``: ``method`` in {inverse_error, nnls}.
``stacking``: ``n_splits`` 2..4.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from market_assets.quant.cv import PurgedWalkForwardSplit
from market_assets.quant.metrics import SCORERS
from market_assets.quant.models import CLASSIFICATION_TASKS, make_model, score_fold, walk_forward_folds
from market_assets.quant.models.purged_ridge import DEFAULT_ALPHAS
from market_assets.quant.models.zoo import check_name_and_task


class UndefinedScoreError(ValueError):
    """A fold's score is undefined (NaN) for the trial's parameters."""


@dataclass(frozen=True)
class TuningResult:
    """Outcome of :func:`tune`.

    Attributes
    ----------
    best_params : dict
        Hyperparameters of the best completed trial in the whole study.
    best_score : float
        Its mean fold score (in the scorer's own direction).
    n_trials_completed : int
        Completed trials in the study (all runs so far, not only this call).
    study_name : str
    """

    best_params: dict[str, Any]
    best_score: float
    n_trials_completed: int
    study_name: str


def sqlite_url(path: str | Path) -> str:
    """The SQLAlchemy URL of an SQLite study file, e.g. ``sqlite:////data/optuna.db``."""
    return f"sqlite:///{Path(path).resolve()}"


def _no_params(trial, task: str) -> dict[str, Any]:
    return {}


def ridge_alpha_bounds(task: str) -> tuple[float, float]:
    """The ``alpha`` range searched for a ridge of ``task`` (see module docstring)."""
    return (min(DEFAULT_ALPHAS), max(DEFAULT_ALPHAS)) if task == "regression" else (1e-3, 1e3)


def _ridge(trial, task: str) -> dict[str, Any]:
    return {"alpha": trial.suggest_float("alpha", *ridge_alpha_bounds(task), log=True)}


def _lasso(trial, task: str) -> dict[str, Any]:
    low, high = (1e-6, 1e-2) if task == "regression" else (1e-2, 1e2)
    return {"alpha": trial.suggest_float("alpha", low, high, log=True)}


def _elasticnet(trial, task: str) -> dict[str, Any]:
    return {**_lasso(trial, task), "l1_ratio": trial.suggest_float("l1_ratio", 0.05, 0.95)}


def _random_forest(trial, task: str) -> dict[str, Any]:
    return {
        "n_estimators": trial.suggest_int("n_estimators", 50, 300, step=50),
        "max_depth": trial.suggest_int("max_depth", 2, 12),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 10, 500, log=True),
        "max_features": trial.suggest_float("max_features", 0.2, 1.0),
    }


def _boosting_common(trial) -> dict[str, Any]:
    return {
        "n_estimators": trial.suggest_int("n_estimators", 50, 400, step=50),
        "learning_rate": trial.suggest_float("learning_rate", 1e-3, 0.3, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
    }


def _xgboost(trial, task: str) -> dict[str, Any]:
    return {
        **_boosting_common(trial),
        "max_depth": trial.suggest_int("max_depth", 2, 8),
        "min_child_weight": trial.suggest_float("min_child_weight", 1.0, 100.0, log=True),
    }


def _lightgbm(trial, task: str) -> dict[str, Any]:
    return {
        **_boosting_common(trial),
        "num_leaves": trial.suggest_int("num_leaves", 4, 64),
        "min_child_samples": trial.suggest_int("min_child_samples", 20, 500, log=True),
    }


SEARCH_SPACES: dict[str, Callable[[Any, str], dict[str, Any]]] = {
    "zero_return": _no_params,
    "momentum": _no_params,
    "prior": _no_params,
    "linear": _no_params,
    "ridge": _ridge,
    "lasso": _lasso,
    "elasticnet": _elasticnet,
    "random_forest": _random_forest,
    "xgboost": _xgboost,
    "lightgbm": _lightgbm,
    "weighted_average": lambda trial, task: {
        "method": trial.suggest_categorical("method", ["inverse_error", "nnls"])
    },
    "stacking": lambda trial, task: {"n_splits": trial.suggest_int("n_splits", 2, 4)},
}


def default_scoring(task: str) -> str:
    """``"rank_ic"`` for regression, ``"log_loss"`` for classification."""
    return "log_loss" if task in CLASSIFICATION_TASKS else "rank_ic"


def _objective(model_name, task, X, y, dates, cv, scoring, seed, fixed_params):  # noqa: N803
    import optuna

    classes = np.unique(y) if task in CLASSIFICATION_TASKS else None

    def objective(trial) -> float:
        params = {**SEARCH_SPACES[model_name](trial, task), **fixed_params}
        scores = []
        folds = walk_forward_folds(lambda: make_model(model_name, task, params, seed), X, y, dates, cv)
        for step, frame in enumerate(folds):
            score = score_fold(frame, scoring, classes)
            if not math.isfinite(score):
                message = (
                    f"fold {step} scored {scoring}={score} for params {params}; the score is undefined "
                    "(e.g. constant predictions give no IC): check the model or choose another scoring"
                )
                trial.set_user_attr("failure", message)
                raise UndefinedScoreError(message)
            scores.append(score)
            trial.report(score, step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at fold {step} with {scoring}={score:.6g}")
        return float(np.mean(scores))

    return objective


@dataclass(frozen=True)
class _Work:
    """What every process of one :func:`tune` call needs (pickled to spawned processes)."""

    model_name: str
    task: str
    X: Any  # noqa: N815 - sklearn naming
    y: np.ndarray
    dates: list
    storage: str
    study_name: str
    timeout: float | None
    seed: int
    cv: PurgedWalkForwardSplit
    scoring: str
    fixed_params: dict[str, Any]


def _split(n_trials: int | None, n_processes: int) -> list[int | None]:
    """Trials per process: ``n_trials`` shared out as evenly as possible (None: each until its timeout)."""
    if n_trials is None:
        return [None] * n_processes
    return [n_trials // n_processes + (1 if k < n_trials % n_processes else 0) for k in range(n_processes)]


def _optimize(work: _Work, k: int, n_trials: int | None, study=None) -> None:
    """Add up to ``n_trials`` trials to the stored study, as process ``k`` of the call."""
    import optuna

    if n_trials == 0:
        return
    if study is None:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.load_study(study_name=work.study_name, storage=work.storage,
                                  pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0))
    study.sampler = optuna.samplers.TPESampler(seed=work.seed + 1000 * k + len(study.get_trials(deepcopy=False)))
    objective = _objective(work.model_name, work.task, work.X, work.y, work.dates, work.cv, work.scoring,
                           work.seed, work.fixed_params)

    def in_this_process(trial) -> float:
        trial.set_user_attr("pid", os.getpid())
        return objective(trial)

    study.optimize(in_this_process, n_trials=n_trials, timeout=work.timeout, catch=(UndefinedScoreError,))


def tune(
    model_name: str,
    task: str,
    X,  # noqa: N803 - sklearn naming
    y: np.ndarray,
    dates: Sequence,
    *,
    storage: str,
    study_name: str,
    n_trials: int | None,
    timeout: float | None = None,
    seed: int = 0,
    cv: PurgedWalkForwardSplit,
    scoring: str | None = None,
    fixed_params: dict[str, Any] | None = None,
    n_processes: int = 1,
) -> TuningResult:
    """Search hyperparameters of a zoo model and persist the study.

    Parameters
    ----------
    model_name, task : str
        As for :func:`market_assets.quant.models.make_model`.
    X, y, dates
        Training matrix, target and session date per row (from
        :func:`market_assets.quant.dataset.training_frame`).
    storage : str
        RDB URL of the study (see module docstring).
    study_name : str
        Created if absent, resumed if present.
    n_trials : int or None
        Trials to add in this call (None: until ``timeout``).
    timeout : float, optional
        Seconds after which no new trial starts.
    seed : int, default 0
        Sampler seed (offset by the existing trial count) and model seed.
    cv : PurgedWalkForwardSplit
        The folds every trial is scored on.
    scoring : str, optional
        A key of :data:`market_assets.quant.metrics.SCORERS`; default by task.
    fixed_params : dict, optional
        Parameters held constant in every trial (e.g. ensemble ``members``);
        they override any sampled value of the same name.
    n_processes : int, default 1
        Processes optimising the study at once (see module docstring);
        above 1 the storage must be a server database, not SQLite.

    Returns
    -------
    TuningResult

    Raises
    ------
    ValueError
        Unknown model/task/scoring, a study stored with the opposite
        direction, ``n_processes`` below 1 or above 1 on SQLite, or no
        completed trial in the study.
    """
    import optuna

    check_name_and_task(model_name, task)
    scoring = scoring or default_scoring(task)
    if scoring not in SCORERS:
        raise ValueError(f"unknown scoring {scoring!r}; valid are {list(SCORERS)}")
    if n_trials is None and timeout is None:
        raise ValueError("give n_trials or timeout (or both); got neither, which would never stop")
    if n_processes < 1:
        raise ValueError(f"n_processes={n_processes}: expected at least 1")
    if n_processes > 1 and storage.startswith("sqlite"):
        raise ValueError(
            f"n_processes={n_processes} shares the study through its storage, but {storage!r} is SQLite, which "
            "serialises writers (processes would wait on its lock); use a PostgreSQL URL such as "
            "postgresql+psycopg2://user@host:5432/optuna, or n_processes=1"
        )
    direction = SCORERS[scoring][1]
    study = optuna.create_study(
        storage=storage, study_name=study_name, direction=direction, load_if_exists=True,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0),
    )
    if study.direction.name.lower() != direction:
        raise ValueError(
            f"study {study_name!r} in {storage} is stored with direction {study.direction.name.lower()}, "
            f"but scoring {scoring!r} needs {direction}; use another study_name"
        )
    work = _Work(model_name, task, X, y, list(dates), storage, study_name, timeout, seed, cv, scoring,
                 dict(fixed_params or {}))
    shares = _split(n_trials, n_processes)
    if n_processes == 1:
        _optimize(work, 0, shares[0], study)
    else:
        context = multiprocessing.get_context("spawn")  # no fork of a process holding threads and connections
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=n_processes - 1, mp_context=context) as pool:
            others = [pool.submit(_optimize, work, k, shares[k]) for k in range(1, n_processes)]
            _optimize(work, 0, shares[0], study)
            for other in others:
                other.result()  # a worker's exception is raised here
    completed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not completed:
        raise ValueError(
            f"study {study_name!r} has no completed trial after this run "
            f"({len(study.trials)} trials, all pruned or failed: see each trial's 'failure' user "
            "attribute); raise n_trials or timeout, or check the model and scoring"
        )
    return TuningResult(
        best_params={**study.best_params, **dict(fixed_params or {})},
        best_score=float(study.best_value),
        n_trials_completed=len(completed),
        study_name=study_name,
    )
