"""Out-of-sample predictions and scores over purged walk-forward folds.

Each fold fits a *fresh* model (from a factory) on its training rows and
predicts its test rows; folds come from
:class:`market_assets.quant.cv.PurgedWalkForwardSplit`, so training labels
never overlap the test fold.  A model that cuts its own training rows in time
(the CV-tuned ridge, the ensembles) gets the fold's session dates and the
splitter's ``horizon`` and ``embargo`` for its inner folds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator, is_classifier

from market_assets.quant import metrics
from market_assets.quant.cv import PurgedWalkForwardSplit
from market_assets.quant.models.fitting import fit_model, set_purge


def _rows(X, index: np.ndarray):  # noqa: N803 - sklearn naming
    return X.iloc[index] if hasattr(X, "iloc") else X[index]


def walk_forward_folds(
    factory: Callable[[], BaseEstimator],
    X,  # noqa: N803
    y: np.ndarray,
    dates: Sequence,
    cv: PurgedWalkForwardSplit,
) -> Iterator[pl.DataFrame]:
    """Yield one prediction frame per fold, fitting lazily fold by fold.

    Parameters
    ----------
    factory : callable
        Returns a new unfitted estimator, e.g. ``lambda: make_model(...)``.
    X : pl.DataFrame or pandas.DataFrame or np.ndarray
        Features, row-aligned with ``y`` and ``dates``.
    y : np.ndarray
    dates : array-like
        Session date of each row.
    cv : PurgedWalkForwardSplit

    Yields
    ------
    pl.DataFrame
        ``fold, row, date, y_true, y_pred`` and, for classifiers, one
        ``proba_<class>`` column per class seen in training.
    """
    y = np.asarray(y)
    date_values = np.asarray(dates)
    if not len(y) == len(date_values) == len(X):
        raise ValueError(f"X, y and dates must be row-aligned, got {len(X)}, {len(y)}, {len(date_values)} rows")
    for fold, (train, test) in enumerate(cv.split(date_values)):
        model = set_purge(factory(), cv.horizon, cv.embargo)
        model = fit_model(model, _rows(X, train), y[train], date_values[train])
        x_test = _rows(X, test)
        columns = {"fold": np.full(test.size, fold), "row": test, "date": metrics.as_series(date_values[test], "date"),
                   "y_true": y[test], "y_pred": np.asarray(model.predict(x_test))}
        if is_classifier(model):
            proba = model.predict_proba(x_test)
            columns |= {f"proba_{c}": proba[:, j] for j, c in enumerate(model.classes_)}
        yield pl.DataFrame(columns)


def walk_forward_predict(
    factory: Callable[[], BaseEstimator], X, y: np.ndarray, dates: Sequence, cv: PurgedWalkForwardSplit  # noqa: N803
) -> pl.DataFrame:
    """All folds of :func:`walk_forward_folds` stacked (missing probabilities are 0)."""
    frames = list(walk_forward_folds(factory, X, y, dates, cv))
    return pl.concat(frames, how="diagonal").fill_null(0.0) if frames else pl.DataFrame()


def score_fold(frame: pl.DataFrame, scoring: str, classes: Sequence | None = None) -> float:
    """One number for a fold's predictions, per :data:`metrics.SCORERS`.

    Regression scorers use ``y_pred`` (and ``date`` for IC); classification
    scorers use the ``proba_<class>`` columns for ``classes`` (missing ones
    count as probability 0).
    """
    if scoring not in metrics.SCORERS:
        raise ValueError(f"unknown scoring {scoring!r}; valid are {list(metrics.SCORERS)}")
    key = metrics.SCORERS[scoring][0]
    if classes is None:
        return metrics.regression_metrics(frame["y_true"], frame["y_pred"], frame["date"])[key]
    proba = np.column_stack([
        frame[f"proba_{c}"].to_numpy() if f"proba_{c}" in frame.columns else np.zeros(frame.height)
        for c in classes
    ])
    return metrics.classification_metrics(frame["y_true"], proba, classes)[key]
