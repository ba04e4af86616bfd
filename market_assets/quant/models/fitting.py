"""Fitting with the rows' session dates, for the estimators that purge by them.

Some zoo estimators cut their own training rows in time (the CV-tuned
``ridge``, the ensembles): given the session date of every row they split on
session boundaries with a gap of ``horizon + embargo`` sessions; without it
they fall back to row positions (see :mod:`market_assets.quant.cv`).
:func:`fit_model` passes ``dates`` to such an estimator, alone or as the last
step of a pipeline, and calls the plain ``fit(X, y)`` of any other.
:func:`set_purge` tells them the label horizon and embargo.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

#: the parameters through which an estimator learns the labels' timing
PURGE_PARAMS: tuple[str, str] = ("horizon", "embargo")


def final_estimator(model: BaseEstimator) -> BaseEstimator:
    """The last step of a pipeline, or the estimator itself."""
    return model.steps[-1][1] if isinstance(model, Pipeline) else model


def accepts_dates(model: BaseEstimator) -> bool:
    """Whether ``model`` (or its pipeline's last step) takes ``dates`` in ``fit``."""
    return "dates" in inspect.signature(final_estimator(model).fit).parameters


def fit_model(model: BaseEstimator, X, y, dates: Sequence | np.ndarray | None = None) -> BaseEstimator:  # noqa: N803
    """``model.fit(X, y)``, routing ``dates`` to the estimator that uses them.

    Parameters
    ----------
    model : estimator or Pipeline
    X, y : training rows
    dates : array-like, optional
        Session date of every row of ``X``; ignored by estimators that do not
        cut their training rows in time.

    Returns
    -------
    The fitted ``model``.
    """
    if dates is None or not accepts_dates(model):
        return model.fit(X, y)
    if isinstance(model, Pipeline):
        return model.fit(X, y, **{f"{model.steps[-1][0]}__dates": dates})
    return model.fit(X, y, dates=dates)


def set_purge(model: BaseEstimator, horizon: int | None, embargo: int | None) -> BaseEstimator:
    """Set ``horizon``/``embargo`` on every estimator in ``model`` that has them.

    Walks pipelines and ensemble members (``estimators``); ``None`` leaves a
    value unchanged.  Returns ``model``.
    """
    values = {k: v for k, v in zip(PURGE_PARAMS, (horizon, embargo), strict=True) if v is not None}
    if not values:
        return model
    estimator = final_estimator(model)
    own = estimator.get_params(deep=False)
    estimator.set_params(**{k: v for k, v in values.items() if k in own})
    for _, member in own.get("estimators", None) or ():
        set_purge(member, horizon, embargo)
    return model
