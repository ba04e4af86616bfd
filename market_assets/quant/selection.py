"""Feature selection: sklearn-style selectors and pure correlation diagnostics.

Conventions
-----------
* Selectors follow the scikit-learn estimator contract: ``__init__`` stores
  parameters, ``fit`` learns from training data only and returns ``self``,
  learned state ends in ``_``, randomness enters as ``random_state``.  They are
  :class:`~sklearn.feature_selection.SelectorMixin` estimators, so they work in
  a :class:`~sklearn.pipeline.Pipeline` and provide ``get_support`` and
  ``get_feature_names_out``.
* ``transform`` of a pandas DataFrame returns a DataFrame with the selected
  columns (index kept); a numpy array gives a numpy array.
* Correlations are Pearson on pairwise-complete observations (a NaN/null in
  either column drops that row for that pair only).  Constant columns have an
  undefined (NaN) correlation and are never reported as correlated.
* The diagnostics take polars frames and ignore ``date`` and ``symbol`` and any
  non-numeric column.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import polars as pl
from sklearn.base import BaseEstimator
from sklearn.feature_selection import SelectorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from market_assets.schema import KEY_COLUMNS



class _ColumnSelector(SelectorMixin, BaseEstimator):
    """Shared transform: a DataFrame in gives a DataFrame out."""

    support_: np.ndarray

    def _get_support_mask(self) -> np.ndarray:
        check_is_fitted(self, "support_")
        return self.support_

    def transform(self, X):  # noqa: N803 - sklearn naming
        if isinstance(X, pd.DataFrame):
            check_is_fitted(self, "support_")
            validate_data(self, X, skip_check_array=True, reset=False)
            return X.iloc[:, self.get_support(indices=True)]
        return super().transform(X)


class VarianceThresholdSelector(_ColumnSelector):
    """Keep features whose training variance is strictly above ``threshold``.

    Variance is ``np.nanvar`` (population, ddof=0) ignoring NaN; an all-NaN
    column has no variance and is dropped.

    Attributes
    ----------
    variances_ : ndarray of shape (n_features,)
    support_ : ndarray of bool, True for kept features.
    """

    def __init__(self, threshold: float = 0.0) -> None:
        self.threshold = threshold

    def fit(self, X, y=None) -> VarianceThresholdSelector:  # noqa: N803
        if not np.isfinite(self.threshold) or self.threshold < 0:
            raise ValueError(f"threshold {self.threshold!r}; expected a finite variance >= 0")
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan")
        with np.errstate(all="ignore"):
            all_nan = np.isnan(X).all(axis=0)
            self.variances_ = np.where(all_nan, np.nan, np.nanvar(np.where(all_nan[None, :], 0.0, X), axis=0))
        self.support_ = np.nan_to_num(self.variances_, nan=-np.inf) > self.threshold
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


class CorrelationFilter(_ColumnSelector):
    """Drop the later feature of each pair with ``|corr| > max_abs_corr``.

    Features are visited in column order; a feature is dropped when it is too
    correlated with an *earlier kept* feature, so the result is deterministic
    and a feature correlated only with an already dropped one stays.

    Attributes
    ----------
    dropped_pairs_ : list of (kept_feature, dropped_feature, corr)
    support_ : ndarray of bool, True for kept features.
    """

    def __init__(self, max_abs_corr: float = 0.95) -> None:
        self.max_abs_corr = max_abs_corr

    def fit(self, X, y=None) -> CorrelationFilter:  # noqa: N803
        if not 0.0 < self.max_abs_corr <= 1.0:
            raise ValueError(f"max_abs_corr {self.max_abs_corr!r}; expected a value in (0, 1]")
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan")
        names = _names(self, X.shape[1])
        corr = _pairwise_corr(X)
        keep = np.ones(X.shape[1], dtype=bool)
        dropped: list[tuple[str, str, float]] = []
        for j in range(X.shape[1]):
            for i in np.flatnonzero(keep[:j]):
                if abs(corr[i, j]) > self.max_abs_corr:  # NaN compares False
                    keep[j] = False
                    dropped.append((names[i], names[j], float(corr[i, j])))
                    break
        self.support_, self.dropped_pairs_ = keep, dropped
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


class MutualInformationSelector(_ColumnSelector):
    """Keep the features with the highest mutual information with the target.

    Exactly one of ``k`` (keep the top ``k``; ties broken by column order) or
    ``quantile`` (keep features whose score is >= the ``quantile`` quantile of
    all scores, e.g. 0.8 keeps roughly the top 20 %) must be given.  Scores come
    from :func:`sklearn.feature_selection.mutual_info_regression` or
    ``mutual_info_classif`` (k-NN estimator with ``n_neighbors``); the input
    must be finite.

    Attributes
    ----------
    scores_ : ndarray of shape (n_features,), mutual information in nats.
    support_ : ndarray of bool, True for kept features.
    """

    def __init__(
        self,
        k: int | None = None,
        quantile: float | None = None,
        task: Literal["regression", "classification"] = "regression",
        n_neighbors: int = 3,
        random_state: int | None = None,
    ) -> None:
        self.k = k
        self.quantile = quantile
        self.task = task
        self.n_neighbors = n_neighbors
        self.random_state = random_state

    def fit(self, X, y) -> MutualInformationSelector:  # noqa: N803
        from sklearn.feature_selection import mutual_info_classif, mutual_info_regression

        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64)
        if self.k is not None and self.k > X.shape[1]:
            raise ValueError(f"k={self.k} but X has only {X.shape[1]} features; expected k <= n_features")
        score = mutual_info_regression if self.task == "regression" else mutual_info_classif
        self.scores_ = score(X, y, n_neighbors=self.n_neighbors, random_state=self.random_state)
        if self.k is not None:
            order = np.argsort(-self.scores_, kind="stable")
            self.support_ = np.zeros(X.shape[1], dtype=bool)
            self.support_[order[: self.k]] = True
        else:
            self.support_ = self.scores_ >= np.quantile(self.scores_, self.quantile)
        return self

    def _check_params(self) -> None:
        if (self.k is None) == (self.quantile is None):
            raise ValueError(f"k={self.k!r}, quantile={self.quantile!r}; expected exactly one of them")
        if self.k is not None and (isinstance(self.k, bool) or not isinstance(self.k, (int, np.integer))
                                   or self.k < 1):
            raise ValueError(f"k={self.k!r}; expected a positive integer number of features")
        if self.quantile is not None and not 0.0 <= self.quantile <= 1.0:
            raise ValueError(f"quantile={self.quantile!r}; expected a value in [0, 1]")
        if self.task not in ("regression", "classification"):
            raise ValueError(f"task={self.task!r}; expected 'regression' or 'classification'")


def high_correlation_pairs(frame: pl.DataFrame, threshold: float = 0.95) -> pl.DataFrame:
    """Feature pairs whose absolute Pearson correlation exceeds ``threshold``.

    Returns
    -------
    pl.DataFrame
        ``feature_a``, ``feature_b`` (``feature_a`` comes first in ``frame``),
        ``corr``; sorted by ``|corr|`` descending, ties in column order.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold {threshold!r}; expected an absolute correlation in [0, 1]")
    names = _feature_columns(frame)
    corr = _pairwise_corr(_to_float_array(frame, names))
    rows = [
        (names[i], names[j], float(corr[i, j]))
        for i in range(len(names))
        for j in range(i + 1, len(names))
        if abs(corr[i, j]) > threshold
    ]
    rows.sort(key=lambda r: -abs(r[2]))
    schema = {"feature_a": pl.String, "feature_b": pl.String, "corr": pl.Float64}
    return pl.DataFrame(rows, schema=schema, orient="row")


def feature_label_correlations(
    features: pl.DataFrame, labels: pl.DataFrame, label_column: str
) -> pl.DataFrame:
    """Pearson and Spearman correlation of each feature with one label column.

    Rows are inner-joined on ``date`` and ``symbol``; for each feature the rows
    where the feature or the label is null or NaN are dropped (pairwise).  A
    correlation that is undefined (fewer than 2 rows, or a constant side) is
    null.  Spearman uses average ranks for ties.

    Returns
    -------
    pl.DataFrame
        ``feature``, ``pearson``, ``spearman``, one row per feature in column order.
    """
    for name, frame in (("features", features), ("labels", labels)):
        missing = [c for c in KEY_COLUMNS if c not in frame.columns]
        if missing:
            raise ValueError(f"{name}: missing key column(s) {missing}; got {frame.columns}")
    if label_column not in labels.columns:
        raise ValueError(f"label_column {label_column!r} not in labels columns {labels.columns}")
    if label_column in features.columns:
        raise ValueError(f"label_column {label_column!r} is also a feature column; rename one of them")
    names = _feature_columns(features)
    joined = features.join(labels.select(*KEY_COLUMNS, label_column), on=list(KEY_COLUMNS), how="inner")
    label = pl.col(label_column).cast(pl.Float64).fill_nan(None)
    rows = []
    for name in names:
        pair = joined.select(pl.col(name).cast(pl.Float64).fill_nan(None).alias("x"), label.alias("y")).drop_nulls()
        stats = pair.select(
            pl.corr("x", "y").alias("pearson"), pl.corr("x", "y", method="spearman").alias("spearman")
        ).fill_nan(None).row(0)
        rows.append((name, *stats))
    return pl.DataFrame(rows, schema={"feature": pl.String, "pearson": pl.Float64, "spearman": pl.Float64},
                        orient="row")


def _pairwise_corr(x: np.ndarray) -> np.ndarray:
    """Pearson correlation matrix on pairwise-complete rows (NaN where undefined)."""
    with np.errstate(all="ignore"):
        return pd.DataFrame(x).corr(method="pearson", min_periods=2).to_numpy()


def _names(estimator: BaseEstimator, n: int) -> list[str]:
    names = getattr(estimator, "feature_names_in_", None)
    return [str(c) for c in names] if names is not None else [f"x{i}" for i in range(n)]


def _feature_columns(frame: pl.DataFrame) -> list[str]:
    return [c for c, t in frame.schema.items() if c not in KEY_COLUMNS and t.is_numeric()]


def _to_float_array(frame: pl.DataFrame, names: list[str]) -> np.ndarray:
    if not names:
        return np.empty((frame.height, 0))
    return frame.select(pl.col(names).cast(pl.Float64).fill_null(np.nan)).to_numpy()
