"""Ridge regression whose penalty is chosen by purged walk-forward CV.

Why: on ~300 standardised features and daily returns, a fixed ``alpha`` of 1
fits mostly noise (a planted rank IC of 0.13 comes out near 0.05); the penalty
that recovers it (~1e5) depends on the number of rows, features and the
signal, so it is chosen on the training rows themselves.

Conventions
-----------
* ``fit(X, y, dates=dates)`` scores every penalty of ``alphas`` on
  ``n_splits`` expanding walk-forward folds cut on session boundaries: the
  layout of :class:`~market_assets.quant.cv.PurgedWalkForwardSplit`, the first
  training set holding ``min_train_fraction`` of the sessions and a gap of
  ``horizon + embargo`` sessions before each test fold, so no fold's training
  label window reaches its test sessions.  Only the rows passed to ``fit``
  are used.
* The score is the mean daily **rank IC** (Spearman correlation of prediction
  and target across the symbols of a session, see
  :func:`market_assets.quant.metrics.daily_ic`) over the test sessions of all
  folds, each session weighted equally: the key metric of
  :mod:`market_assets.quant.training`.  Ties go to the larger ``alpha``.
* Without ``dates`` (callers of the plain ``fit(X, y)``) the rows must be in
  time order, as :func:`market_assets.quant.dataset.training_frame` returns
  them; folds are cut on row positions with a gap of
  :func:`~market_assets.quant.cv.fallback_gap_rows`, and the score is the
  Spearman correlation pooled over the tested rows.  A fold edge may then cut
  a session in two: pass ``dates`` (see
  :func:`market_assets.quant.models.fitting.fit_model`) for the exact purge.
* **Cross-sectional fit.**  With ``dates`` (and ``cross_sectional=True``)
  the features and the target are demeaned over each session's rows before
  fitting (in every fold and in the final fit): the model learns the part of
  the return that rank IC scores.  The market's common move of the day, most
  of a daily return's variance and unpredictable here, no longer drowns the
  cross-sectional signal (at 30 symbols x 16 months it doubles the recovered
  rank IC).  ``predict`` needs no dates: a session-wide shift of the
  forecast does not change its ranks, and :attr:`offset_` puts the forecast
  back on the return scale (it averages the training mean return).  The
  forecast carries no market timing: R² against raw returns sees only the
  cross-sectional part.
* Every fold centres the features on its own training rows (the outer
  pipeline has imputed and standardised them on all training rows, which
  uses no label) and gets the whole penalty path from one eigendecomposition.
  The final :class:`~sklearn.linear_model.Ridge` with ``alpha_`` is refitted
  on all rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import spearmanr
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import Ridge
from sklearn.utils.validation import check_is_fitted, validate_data

from market_assets.quant import metrics
from market_assets.quant.cv import fallback_gap_rows, forward_splits, time_units

#: 1e-1 .. 1e6, two points per decade: from almost OLS on ~300 standardised
#: features to a penalty that keeps only the direction of ``X'y``.  Its range
#: is also the one Optuna searches for a ridge (:mod:`market_assets.quant.tuning`).
DEFAULT_ALPHAS: tuple[float, ...] = tuple(float(a) for a in np.logspace(-1, 6, 15))


def ridge_path_predictions(
    X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, alphas: Sequence[float]  # noqa: N803
) -> np.ndarray:
    """Ridge predictions on ``X_test`` for every penalty, from one eigendecomposition.

    Ridge with intercept: with ``Xc``, ``yc`` the training rows centred on
    their means and ``Xc'Xc = V diag(lam) V'``,
    ``coef(alpha) = V diag(1 / (lam + alpha)) V' Xc' yc`` (the same
    coefficients as :class:`~sklearn.linear_model.Ridge`).

    Returns
    -------
    np.ndarray
        Shape ``(len(X_test), len(alphas))``.
    """
    x_mean, y_mean = X_train.mean(axis=0), float(y_train.mean())
    centred = X_train - x_mean
    lam, vectors = np.linalg.eigh(centred.T @ centred)
    projected = vectors.T @ (centred.T @ (y_train - y_mean))
    inverse = 1.0 / (np.clip(lam, 0.0, None)[:, None] + np.asarray(alphas, dtype=float)[None, :])
    return y_mean + (X_test - x_mean) @ (vectors @ (projected[:, None] * inverse))


class PurgedRidgeCV(RegressorMixin, BaseEstimator):
    """Ridge with ``alpha`` chosen by purged walk-forward CV on the training rows.

    Parameters
    ----------
    alphas : sequence of float, default :data:`DEFAULT_ALPHAS`
        Candidate penalties (on standardised features).
    horizon : int, default 1
        Label horizon in sessions.
    embargo : int, default 5
        Extra sessions between a fold's training labels and its test sessions.
    n_splits : int, default 4
        Walk-forward test folds.
    min_train_fraction : float, default 0.5
        Share of the sessions (or rows, without dates) in the first fold's
        training set.
    cross_sectional : bool, default True
        With ``dates``, fit on the target minus its session mean (see the
        module docstring); no effect without dates.

    Attributes
    ----------
    alpha_ : float
        The chosen penalty.
    cv_scores_ : np.ndarray
        Score of each alpha (mean daily rank IC, or pooled Spearman without dates).
    cv_used_dates_ : bool
        Whether the folds were cut on session dates.
    estimator_ : Ridge
        Refitted on all rows with ``alpha_``.
    coef_, intercept_ : the coefficients of the forecast ``X @ coef_ + intercept_``.
    offset_ : float
        Added to the ridge's output so the forecast averages the training mean
        return (non-zero only for a cross-sectional fit).
    n_features_in_, feature_names_in_ : as in scikit-learn.
    """

    def __init__(
        self,
        alphas: Sequence[float] = DEFAULT_ALPHAS,
        horizon: int = 1,
        embargo: int = 5,
        n_splits: int = 4,
        min_train_fraction: float = 0.5,
        cross_sectional: bool = True,
    ) -> None:
        self.alphas = alphas
        self.horizon = horizon
        self.embargo = embargo
        self.n_splits = n_splits
        self.min_train_fraction = min_train_fraction
        self.cross_sectional = cross_sectional

    def fit(self, X, y, dates: Sequence | np.ndarray | None = None) -> PurgedRidgeCV:  # noqa: N803
        """Choose ``alpha_`` by purged CV, then refit on all rows; returns ``self``.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)
            Finite (imputed) features.
        y : array-like of shape (n_rows,)
        dates : array-like of shape (n_rows,), optional
            Session date of every row; without it see the module docstring.

        Raises
        ------
        ValueError
            Bad ``alphas`` or ``min_train_fraction``, misaligned inputs, or too
            little history for ``n_splits`` folds after the gap.
        """
        alphas = np.asarray(self.alphas, dtype=float)
        if alphas.ndim != 1 or alphas.size == 0 or not np.all(alphas > 0):
            raise ValueError(f"alphas must be a non-empty sequence of positive floats, got {self.alphas!r}")
        if not 0 < self.min_train_fraction < 1:
            raise ValueError(f"min_train_fraction must lie in (0, 1), got {self.min_train_fraction!r}")
        values, target = validate_data(self, X, y, reset=True, y_numeric=True, dtype=float)
        fit_values, fit_target = values, target
        if dates is not None and self.cross_sectional:
            units = time_units(len(target), dates)
            fit_values, fit_target = _demean_by_unit(values, units), _demean_by_unit(target, units)
        self.cv_scores_ = self._cv_scores(fit_values, target, fit_target, dates, alphas)
        self.cv_used_dates_ = dates is not None
        # ties go to the larger, safer penalty
        self.alpha_ = float(alphas[::-1][np.nanargmax(self.cv_scores_[::-1])])
        self.estimator_ = Ridge(alpha=self.alpha_).fit(fit_values, fit_target)
        # on the raw training rows the forecast averages the mean return
        self.offset_ = float(target.mean() - np.mean(self.estimator_.predict(values)))
        self.coef_, self.intercept_ = self.estimator_.coef_, self.estimator_.intercept_ + self.offset_
        return self

    def predict(self, X) -> np.ndarray:  # noqa: N803
        """The refitted ridge's forecast (plus the mean return it was fitted without)."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(validate_data(self, X, reset=False, dtype=float)) + self.offset_

    def cv_folds(self, n_rows: int, dates: Sequence | np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """The ``(train_idx, test_idx)`` row indices the penalty is chosen on.

        With ``dates`` this is :class:`~market_assets.quant.cv.PurgedWalkForwardSplit`'s
        layout on sessions (first training set ``min_train_fraction`` of them,
        gap ``horizon + embargo`` sessions); without, the same on row positions
        with a gap of :func:`~market_assets.quant.cv.fallback_gap_rows`.
        """
        units = time_units(n_rows, dates)
        n_units = int(units.max()) + 1 if n_rows else 0
        gap = self.horizon + self.embargo if dates is not None else fallback_gap_rows(n_rows)
        first_test = int(n_units * self.min_train_fraction) + gap
        if self.n_splits < 1 or n_units - first_test < self.n_splits:
            kind = "sessions" if dates is not None else "rows"
            raise ValueError(
                f"{n_units} {kind} are too few to choose ridge's alpha by {self.n_splits} purged folds "
                f"after a first training share of {self.min_train_fraction} and a gap of {gap} {kind}; "
                "pass more history, lower n_splits, or fix the penalty with params={'alpha': ...}"
            )
        return forward_splits(units, np.array_split(np.arange(first_test, n_units), self.n_splits), gap)

    def _cv_scores(self, X, y, fit_target, dates, alphas: np.ndarray) -> np.ndarray:  # noqa: N803
        folds = self.cv_folds(len(y), dates)
        path = np.vstack([
            ridge_path_predictions(X[train], fit_target[train], X[test], alphas) for train, test in folds
        ])
        tested = np.concatenate([test for _, test in folds])
        if dates is None:
            scores = [spearmanr(path[:, j], y[tested]).statistic for j in range(alphas.size)]
        else:
            day = np.asarray(dates)[tested]
            scores = [metrics.daily_ic(day, y[tested], path[:, j], method="spearman")["ic"].mean()
                      for j in range(alphas.size)]
        out = np.array([np.nan if s is None else s for s in scores], dtype=float)
        if not np.isfinite(out).any():
            raise ValueError(
                f"no penalty among {alphas.tolist()} has a defined CV score: the target or every "
                "prediction is constant on the test folds; check the target column"
            )
        return out


def _demean_by_unit(values: np.ndarray, units: np.ndarray) -> np.ndarray:
    """``values`` minus their mean over the rows of the same unit (column-wise)."""
    counts = np.bincount(units)
    if values.ndim == 1:
        return values - (np.bincount(units, weights=values) / counts)[units]
    sums = np.zeros((counts.size, values.shape[1]))
    np.add.at(sums, units, values)
    return values - (sums / counts[:, None])[units]
