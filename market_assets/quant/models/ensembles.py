"""Ensembles whose combination is learned forward in time only.

Conventions
-----------
* **Purge and embargo.**  Fit with the rows' session dates,
  ``fit(X, y, dates=...)`` (or :func:`~market_assets.quant.models.fitting.fit_model`):
  the rows are then cut on **session boundaries** (every row of a session on
  one side) and ``horizon + embargo`` sessions are left out between the last
  session a member is fitted on and the first session it predicts, so no
  fitting label window reaches a predicted session.  Rows may come in any
  order.  Validation sessions are always *later* than the sessions the
  members were fitted on, never shuffled.
* Without dates the rows must be in **time order** (``training_frame``
  returns them sorted by date then symbol) and are cut on row positions;
  ``gap`` rows are left out (default
  :func:`~market_assets.quant.cv.fallback_gap_rows`).  A cut may then split a
  session: that mode is for callers of the plain ``fit(X, y)`` contract.
* **Weighted average.**  Members are fitted on the first rows, predict the
  last ``validation_fraction`` of rows, and get weights that are
  non-negative and sum to 1: ``"inverse_error"`` sets ``w_j`` proportional to
  ``1 / MSE_j`` (regression) or ``1 / log-loss_j`` (classification), which is
  stable on noisy returns; ``"nnls"`` solves ``min ||P w - y||`` with
  ``w >= 0`` (:func:`scipy.optimize.nnls`; for classifiers on one-hot targets,
  i.e. Brier-optimal) and then rescales to sum 1.  If NNLS gives every member
  zero weight (all anti-correlated with the target), weights are equal.  The
  members are then refitted on all rows.
* **Stacking.**  scikit-learn's ``StackingRegressor`` builds its
  meta-features with ``cross_val_predict``, which only accepts a *partition*
  of the rows; any partition makes some rows be predicted by members trained
  on later data.  Here sessions are cut into ``n_splits + 1`` contiguous
  blocks and block ``k`` is predicted by members fitted on blocks ``< k``
  minus the gap: an expanding walk-forward.  The final estimator learns on those
  out-of-sample predictions; members are then refitted on all rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import nnls
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.utils.validation import check_is_fitted

from market_assets.quant.cv import fallback_gap_rows, forward_splits, time_units
from market_assets.quant.models.fitting import fit_model

Members = Sequence[tuple[str, BaseEstimator]]
Dates = Sequence | np.ndarray | None


def _rows(X, index: np.ndarray):  # noqa: N803 - sklearn naming
    return X.iloc[index] if hasattr(X, "iloc") else X[index]


def _aligned_proba(estimator: BaseEstimator, X, classes: np.ndarray) -> np.ndarray:  # noqa: N803
    """``predict_proba`` with one column per ``classes`` (0 for unseen classes)."""
    proba = estimator.predict_proba(X)
    out = np.zeros((proba.shape[0], classes.size))
    out[:, np.searchsorted(classes, estimator.classes_)] = proba
    return out


def _member_output(estimator: BaseEstimator, X, classes: np.ndarray | None) -> np.ndarray:  # noqa: N803
    if classes is None:
        return np.asarray(estimator.predict(X), dtype=float)[:, None]
    return _aligned_proba(estimator, X, classes)


def _check_members(estimators: Members) -> None:
    if len(estimators) == 0:
        raise ValueError("an ensemble needs at least one member estimator, got none")


def _fit_members(estimators: Members, X, y, dates: Dates) -> list[BaseEstimator]:  # noqa: N803
    return [fit_model(clone(estimator), X, y, dates) for _, estimator in estimators]


def _subset(dates: Dates, index: np.ndarray) -> Dates:
    return None if dates is None else np.asarray(dates)[index]


class _TimeCut:
    """The time units of the rows and the gap between fitting and predicted units."""

    horizon: int
    embargo: int
    gap: int | None

    def _units_and_gap(self, n_rows: int, dates: Dates) -> tuple[np.ndarray, int, str]:
        units = time_units(n_rows, dates)
        if dates is None:
            return units, fallback_gap_rows(n_rows) if self.gap is None else int(self.gap), "rows"
        if self.gap is not None:
            raise ValueError(
                f"gap={self.gap} counts rows and applies only to fits without dates; with dates the gap "
                f"is horizon + embargo = {self.horizon + self.embargo} sessions: drop gap"
            )
        return units, self.horizon + self.embargo, "sessions"


class _WeightedAverage(_TimeCut, BaseEstimator):
    def __init__(
        self,
        estimators: Members,
        method: str = "inverse_error",
        validation_fraction: float = 0.2,
        horizon: int = 1,
        embargo: int = 5,
        gap: int | None = None,
    ) -> None:
        self.estimators = estimators
        self.method = method
        self.validation_fraction = validation_fraction
        self.horizon = horizon
        self.embargo = embargo
        self.gap = gap

    def _fit(self, X, y, classes: np.ndarray | None, dates: Dates):  # noqa: N803
        _check_members(self.estimators)
        if self.method not in ("inverse_error", "nnls"):
            raise ValueError(f"method must be 'inverse_error' or 'nnls', got {self.method!r}")
        y = np.asarray(y)
        units, gap, kind = self._units_and_gap(len(y), dates)
        n_units = int(units.max()) + 1
        n_val = int(round(n_units * self.validation_fraction))
        if n_val < 1 or n_units - n_val - gap < 1:
            raise ValueError(
                f"{n_units} {kind} cannot hold a validation slice of fraction "
                f"{self.validation_fraction} after a gap of {gap} {kind}; expected "
                "0 < validation_fraction < 1 and more history"
            )
        ((fit_idx, val_idx),) = forward_splits(units, [np.arange(n_units - n_val, n_units)], gap)
        members = _fit_members(self.estimators, _rows(X, fit_idx), y[fit_idx], _subset(dates, fit_idx))
        outputs = [_member_output(m, _rows(X, val_idx), classes) for m in members]
        target = y[val_idx].astype(float)[:, None] if classes is None else (
            y[val_idx][:, None] == classes[None, :]).astype(float)
        self.weights_ = self._weights(outputs, target, classes is not None)
        self.estimators_ = _fit_members(self.estimators, X, y, dates)
        return self

    def _weights(self, outputs: list[np.ndarray], target: np.ndarray, proba: bool) -> np.ndarray:
        if self.method == "nnls":
            design = np.column_stack([o.ravel() for o in outputs])
            weights, _ = nnls(design, target.ravel())
        else:
            if proba:
                errors = [-np.mean(np.sum(target * np.log(np.clip(o, 1e-15, 1.0)), axis=1)) for o in outputs]
            else:
                errors = [float(np.mean((o - target) ** 2)) for o in outputs]
            self.validation_errors_ = np.asarray(errors)
            weights = 1.0 / np.maximum(self.validation_errors_, 1e-300)
        if weights.sum() <= 0:
            weights = np.ones(len(outputs))
        return weights / weights.sum()

    def _combine(self, X, classes: np.ndarray | None) -> np.ndarray:  # noqa: N803
        check_is_fitted(self, "weights_")
        outputs = [_member_output(m, X, classes) for m in self.estimators_]
        return sum(w * o for w, o in zip(self.weights_, outputs, strict=True))


class WeightedAverageRegressor(RegressorMixin, _WeightedAverage):
    """Weighted mean of member forecasts, weights fit on a later validation slice.

    Parameters
    ----------
    estimators : list of (name, estimator)
    method : {"inverse_error", "nnls"}, default "inverse_error"
    validation_fraction : float, default 0.2
        Share of the sessions (rows without dates), taken from the end, to fit
        weights on.
    horizon, embargo : int, default 1 and 5
        Label horizon and embargo in sessions: ``horizon + embargo`` sessions
        are left out between the fitting and validation slices.
    gap : int, optional
        Rows left out instead, for fits without dates (default
        :func:`~market_assets.quant.cv.fallback_gap_rows`).

    Attributes
    ----------
    weights_ : np.ndarray, non-negative, summing to 1.
    estimators_ : list, members refitted on all rows.
    """

    def fit(self, X, y, dates: Dates = None) -> WeightedAverageRegressor:  # noqa: N803
        """Fit weights on the validation slice, then refit members; returns ``self``.

        ``dates``: session date of every row (see the module docstring).
        """
        return self._fit(X, y, None, dates)

    def predict(self, X) -> np.ndarray:  # noqa: N803
        """The weighted mean forecast."""
        return self._combine(X, None)[:, 0]


class WeightedAverageClassifier(ClassifierMixin, _WeightedAverage):
    """Weighted mean of member probabilities; see :class:`WeightedAverageRegressor`."""

    def fit(self, X, y, dates: Dates = None) -> WeightedAverageClassifier:  # noqa: N803
        """Fit weights on the validation slice, then refit members; returns ``self``."""
        self.classes_ = np.unique(np.asarray(y))
        return self._fit(X, y, self.classes_, dates)

    def predict_proba(self, X) -> np.ndarray:  # noqa: N803
        """Weighted mean probabilities, columns in the order of ``classes_``."""
        return self._combine(X, self.classes_)

    def predict(self, X) -> np.ndarray:  # noqa: N803
        """The most probable class."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class _ForwardStacking(_TimeCut, BaseEstimator):
    def __init__(
        self,
        estimators: Members,
        final_estimator: BaseEstimator | None = None,
        n_splits: int = 3,
        horizon: int = 1,
        embargo: int = 5,
        gap: int | None = None,
    ) -> None:
        self.estimators = estimators
        self.final_estimator = final_estimator
        self.n_splits = n_splits
        self.horizon = horizon
        self.embargo = embargo
        self.gap = gap

    def _meta_features(self, members: list[BaseEstimator], X, classes) -> np.ndarray:  # noqa: N803
        return np.hstack([_member_output(m, X, classes) for m in members])

    def _fit(self, X, y, classes: np.ndarray | None, default_final: BaseEstimator, dates: Dates):  # noqa: N803
        _check_members(self.estimators)
        y = np.asarray(y)
        units, gap, kind = self._units_and_gap(len(y), dates)
        n_units = int(units.max()) + 1
        blocks = np.array_split(np.arange(n_units), max(self.n_splits, 0) + 1)
        if self.n_splits < 1 or min(len(b) for b in blocks) <= gap:
            raise ValueError(
                f"{n_units} {kind} cannot form n_splits={self.n_splits} forward "
                f"folds with gap={gap}; expected n_splits >= 1 and each of the n_splits + 1 blocks "
                f"longer than gap {kind}"
            )
        meta, meta_y = [], []
        for train, block in forward_splits(units, blocks[1:], gap):
            members = _fit_members(self.estimators, _rows(X, train), y[train], _subset(dates, train))
            meta.append(self._meta_features(members, _rows(X, block), classes))
            meta_y.append(y[block])
        final = default_final if self.final_estimator is None else self.final_estimator
        self.final_estimator_ = clone(final).fit(np.vstack(meta), np.concatenate(meta_y))
        self.estimators_ = _fit_members(self.estimators, X, y, dates)
        return self


class ForwardStackingRegressor(RegressorMixin, _ForwardStacking):
    """Stacking with walk-forward meta-features (see module docstring).

    Parameters
    ----------
    estimators : list of (name, estimator)
    final_estimator : estimator, optional
        Default ``LinearRegression(positive=True)``: non-negative member weights.
    n_splits : int, default 3
        Forward folds producing the meta-features.
    horizon, embargo : int, default 1 and 5
        Label horizon and embargo in sessions: ``horizon + embargo`` sessions
        are left out before each predicted block.
    gap : int, optional
        Rows left out instead, for fits without dates (default
        :func:`~market_assets.quant.cv.fallback_gap_rows`).
    """

    def fit(self, X, y, dates: Dates = None) -> ForwardStackingRegressor:  # noqa: N803
        """Learn the combination on forward predictions, refit members; returns ``self``.

        ``dates``: session date of every row (see the module docstring).
        """
        return self._fit(X, y, None, LinearRegression(positive=True), dates)

    def predict(self, X) -> np.ndarray:  # noqa: N803
        """Final estimator applied to the members' forecasts."""
        check_is_fitted(self, "final_estimator_")
        return self.final_estimator_.predict(self._meta_features(self.estimators_, X, None))


class ForwardStackingClassifier(ClassifierMixin, _ForwardStacking):
    """Stacking on member probabilities; final default ``LogisticRegression()``."""

    def fit(self, X, y, dates: Dates = None) -> ForwardStackingClassifier:  # noqa: N803
        """Learn the combination on forward probabilities, refit members; returns ``self``."""
        self.classes_ = np.unique(np.asarray(y))
        return self._fit(X, y, self.classes_, LogisticRegression(max_iter=1000), dates)

    def predict_proba(self, X) -> np.ndarray:  # noqa: N803
        """Probabilities, columns in the order of ``classes_``."""
        check_is_fitted(self, "final_estimator_")
        meta = self._meta_features(self.estimators_, X, self.classes_)
        return _aligned_proba(self.final_estimator_, meta, self.classes_)

    def predict(self, X) -> np.ndarray:  # noqa: N803
        """The most probable class."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
