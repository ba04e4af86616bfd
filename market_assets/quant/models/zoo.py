"""The model zoo: every estimator behind one name, one task vocabulary.

Tasks
-----
``"regression"``
    Forward return (label ``fwd_ret_h``).
``"direction"``
    Up / not up (label ``fwd_dir_h``), a binary classifier.
``"five_class"``
    STRONG_SELL .. STRONG_BUY (label ``fwd_class_h``, 0..4).

Models
------
``zero_return`` (regression)
    Always 0: the random-walk forecast.
``momentum`` (regression)
    Slope times a named momentum feature (:class:`MomentumRegressor`),
    ``params={"feature": "mom_20"}``.
``prior`` (classification)
    Class priors of the training labels; predicts the majority class.
``linear`` (regression)
    Ordinary least squares.
``ridge``, ``lasso``, ``elasticnet``
    Penalised least squares for regression.  ``ridge`` without an ``alpha``
    is :class:`~market_assets.quant.models.purged_ridge.PurgedRidgeCV`: it
    chooses ``alpha`` (1e-1 .. 1e6) by purged walk-forward CV on its training
    rows (params ``alphas``, ``n_splits``, ``min_train_fraction``, and the
    labels' ``horizon`` / ``embargo``); with ``params={"alpha": a}`` it is a
    plain :class:`~sklearn.linear_model.Ridge`.  The L1 models default to
    ``alpha`` 1e-4, sized for daily returns on standardised features.  For
    classification (default ``alpha`` 1) all three are the logistic
    regression with the same penalty and ``C = 1 / alpha`` (so ``alpha`` means
    "more regularisation" in both tasks).
``random_forest``, ``xgboost``, ``lightgbm``
    Tree ensembles for every task; ``n_jobs=1`` by default so results are
    reproducible and the shared cores are not oversubscribed.
``weighted_average``, ``stacking``
    Ensembles of zoo members, see :mod:`market_assets.quant.models.ensembles`.

Every estimator follows the scikit-learn contract and takes ``random_state``.
xgboost and lightgbm are imported inside the builders, never at import time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

from market_assets.quant.models.baselines import MomentumRegressor
from market_assets.quant.models.purged_ridge import PurgedRidgeCV

TASKS: tuple[str, ...] = ("regression", "direction", "five_class")
CLASSIFICATION_TASKS: tuple[str, ...] = ("direction", "five_class")
TASK_TARGETS: dict[str, str] = {"regression": "fwd_ret", "direction": "fwd_dir", "five_class": "fwd_class"}

Builder = Callable[[str, dict[str, Any], int], BaseEstimator]


class EncodedLabelClassifier(ClassifierMixin, BaseEstimator):
    """Fit ``estimator`` on labels encoded as 0..K-1 and decode its output.

    XGBoost requires consecutive integer labels; the five signal classes of a
    training window may miss one (no STRONG_SELL in a calm year), and the
    direction label arrives as 0.0 / 1.0 floats.

    Attributes
    ----------
    classes_ : np.ndarray
        The sorted original labels seen in ``fit``.
    estimator_ : BaseEstimator
    """

    def __init__(self, estimator: BaseEstimator) -> None:
        self.estimator = estimator

    def fit(self, X, y) -> EncodedLabelClassifier:  # noqa: N803 - sklearn naming
        """Encode ``y`` and fit a clone of ``estimator``; returns ``self``."""
        encoder = LabelEncoder().fit(np.asarray(y))
        self.classes_ = encoder.classes_
        self.estimator_ = clone(self.estimator).fit(X, encoder.transform(np.asarray(y)))
        return self

    def predict_proba(self, X) -> np.ndarray:  # noqa: N803
        """Probabilities, columns in the order of ``classes_``."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(X)

    def predict(self, X) -> np.ndarray:  # noqa: N803
        """The most probable original label."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def _linear(name: str) -> Builder:
    regressors = {"ridge": Ridge, "lasso": Lasso, "elasticnet": ElasticNet}

    def build(task: str, params: dict[str, Any], random_state: int) -> BaseEstimator:
        if task == "regression":
            if name == "linear":
                return LinearRegression(**params)
            if name == "ridge" and "alpha" not in params:
                return PurgedRidgeCV(**params)
            # returns are ~1e-2: an L1 penalty of 1 would zero every coefficient
            extra = {} if name == "ridge" else {"alpha": 1e-4, "random_state": random_state}
            return regressors[name](**{**extra, **params})
        options = dict(params)
        alpha = float(options.pop("alpha", 1.0))
        l1_ratio = {"ridge": 0.0, "lasso": 1.0}.get(name, options.pop("l1_ratio", 0.5))
        solver = "lbfgs" if l1_ratio == 0.0 else "saga"
        return LogisticRegression(
            **{"C": 1.0 / alpha, "l1_ratio": l1_ratio, "solver": solver, "max_iter": 1000,
               "random_state": random_state, **options}
        )

    return build


def _prior(task: str, params: dict[str, Any], random_state: int) -> BaseEstimator:
    return DummyClassifier(**{"strategy": "prior", "random_state": random_state, **params})


def _zero_return(task: str, params: dict[str, Any], random_state: int) -> BaseEstimator:
    return DummyRegressor(**{"strategy": "constant", "constant": 0.0, **params})


def _momentum(task: str, params: dict[str, Any], random_state: int) -> BaseEstimator:
    return MomentumRegressor(**params)


def _random_forest(task: str, params: dict[str, Any], random_state: int) -> BaseEstimator:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    cls = RandomForestRegressor if task == "regression" else RandomForestClassifier
    defaults = {"n_estimators": 100, "min_samples_leaf": 50, "max_features": "sqrt", "n_jobs": 1}
    return cls(**{**defaults, **params, "random_state": random_state})


def _xgboost(task: str, params: dict[str, Any], random_state: int) -> BaseEstimator:
    import xgboost

    defaults = {
        "n_estimators": 200, "learning_rate": 0.05, "max_depth": 3, "subsample": 0.8,
        "colsample_bytree": 0.8, "tree_method": "hist", "n_jobs": 1,
    }
    options = {**defaults, **params, "random_state": random_state}
    if task == "regression":
        return xgboost.XGBRegressor(**options)
    return EncodedLabelClassifier(xgboost.XGBClassifier(**options))


def _lightgbm(task: str, params: dict[str, Any], random_state: int) -> BaseEstimator:
    import lightgbm

    defaults = {
        "n_estimators": 200, "learning_rate": 0.05, "num_leaves": 15, "min_child_samples": 100,
        "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.8, "n_jobs": 1,
        "verbose": -1, "deterministic": True, "force_row_wise": True,
    }
    cls = lightgbm.LGBMRegressor if task == "regression" else lightgbm.LGBMClassifier
    return cls(**{**defaults, **params, "random_state": random_state})


_ALL = TASKS
_CLASSIFY = CLASSIFICATION_TASKS
#: name -> (tasks it supports, builder, needs feature scaling)
REGISTRY: dict[str, tuple[tuple[str, ...], Builder, bool]] = {
    "zero_return": (("regression",), _zero_return, False),
    "momentum": (("regression",), _momentum, False),
    "prior": (_CLASSIFY, _prior, False),
    "linear": (("regression",), _linear("linear"), True),
    "ridge": (_ALL, _linear("ridge"), True),
    "lasso": (_ALL, _linear("lasso"), True),
    "elasticnet": (_ALL, _linear("elasticnet"), True),
    "random_forest": (_ALL, _random_forest, False),
    "xgboost": (_ALL, _xgboost, False),
    "lightgbm": (_ALL, _lightgbm, False),
}
ENSEMBLE_NAMES: tuple[str, ...] = ("weighted_average", "stacking")
MODEL_NAMES: tuple[str, ...] = (*REGISTRY, *ENSEMBLE_NAMES)


def check_name_and_task(name: str, task: str) -> None:
    """Raise a ValueError naming the valid choices if ``name``/``task`` are unknown."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; valid tasks are {list(TASKS)}")
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown model name {name!r}; valid names are {list(MODEL_NAMES)}")
    if name in REGISTRY and task not in REGISTRY[name][0]:
        raise ValueError(
            f"model {name!r} does not support task {task!r}; it supports {list(REGISTRY[name][0])}"
        )


def build_estimator(name: str, task: str, params: dict[str, Any] | None, random_state: int) -> BaseEstimator:
    """The bare estimator for a single (non-ensemble) zoo model.

    Parameters
    ----------
    name : str
        A key of :data:`REGISTRY`.
    task : str
        One of :data:`TASKS`.
    params : dict, optional
        Estimator hyperparameters overriding the zoo defaults.
    random_state : int
        Seed passed to every estimator that uses randomness.
    """
    check_name_and_task(name, task)
    if name not in REGISTRY:
        raise ValueError(f"{name!r} is an ensemble; build it with make_model, not build_estimator")
    return REGISTRY[name][1](task, dict(params or {}), random_state)


#: Models that route missing values themselves at each split (no imputation step).
NATIVE_MISSING: tuple[str, ...] = ("xgboost", "lightgbm")


def handles_missing(name: str) -> bool:
    """Whether the model learns where missing values go (gradient-boosted trees)."""
    return name in NATIVE_MISSING


def needs_scaling(name: str) -> bool:
    """Whether the model is scale-sensitive (linear models)."""
    return name in REGISTRY and REGISTRY[name][2]


def build_member(name: str, task: str, params: dict[str, Any] | None, random_state: int) -> BaseEstimator:
    """An ensemble member: the estimator, behind a scaler if it is linear.

    Members receive already imputed features from the outer pipeline.
    """
    estimator = build_estimator(name, task, params, random_state)
    if needs_scaling(name):
        return Pipeline([("scale", StandardScaler()), ("model", estimator)])
    return estimator
