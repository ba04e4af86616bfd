"""Ensembles whose combination is learned forward in time only.

Conventions
-----------
* Rows of ``X`` must be in **time order** (``training_frame`` returns them
  sorted by date then symbol).  Validation rows are always *later* than the
  rows the members were fitted on, never shuffled.
* ``gap`` rows are left out between a fitting slice and the rows it predicts,
  so labels of the fitting slice do not overlap them: use
  ``(horizon + embargo) * n_symbols`` for a panel.
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
  on later data.  Here rows are cut into ``n_splits + 1`` contiguous blocks and
  block ``k`` is predicted by members fitted on blocks ``< k`` (minus ``gap``
  rows): an expanding walk-forward.  The final estimator learns on those
  out-of-sample predictions; members are then refitted on all rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import nnls
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.utils.validation import check_is_fitted

Members = Sequence[tuple[str, BaseEstimator]]


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


def _fit_members(estimators: Members, X, y) -> list[BaseEstimator]:  # noqa: N803
    return [clone(estimator).fit(X, y) for _, estimator in estimators]


class _WeightedAverage(BaseEstimator):
    def __init__(
        self,
        estimators: Members,
        method: str = "inverse_error",
        validation_fraction: float = 0.2,
        gap: int = 0,
    ) -> None:
        self.estimators = estimators
        self.method = method
        self.validation_fraction = validation_fraction
        self.gap = gap

    def _fit(self, X, y, classes: np.ndarray | None):  # noqa: N803
        _check_members(self.estimators)
        if self.method not in ("inverse_error", "nnls"):
            raise ValueError(f"method must be 'inverse_error' or 'nnls', got {self.method!r}")
        y = np.asarray(y)
        n_val = int(round(len(y) * self.validation_fraction))
        n_fit = len(y) - n_val - self.gap
        if n_val < 1 or n_fit < 1:
            raise ValueError(
                f"{len(y)} rows cannot hold a validation slice of fraction "
                f"{self.validation_fraction} after a gap of {self.gap} rows; expected "
                "0 < validation_fraction < 1 and more rows"
            )
        fit_idx, val_idx = np.arange(n_fit), np.arange(len(y) - n_val, len(y))
        members = _fit_members(self.estimators, _rows(X, fit_idx), y[fit_idx])
        outputs = [_member_output(m, _rows(X, val_idx), classes) for m in members]
        target = y[val_idx].astype(float)[:, None] if classes is None else (
            y[val_idx][:, None] == classes[None, :]).astype(float)
        self.weights_ = self._weights(outputs, target, classes is not None)
        self.estimators_ = _fit_members(self.estimators, X, y)
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
        Share of the (time-ordered) rows, taken from the end, to fit weights on.
    gap : int, default 0
        Rows left out between the fitting and validation slices.

    Attributes
    ----------
    weights_ : np.ndarray, non-negative, summing to 1.
    estimators_ : list, members refitted on all rows.
    """

    def fit(self, X, y) -> WeightedAverageRegressor:  # noqa: N803
        """Fit weights on the validation slice, then refit members; returns ``self``."""
        return self._fit(X, y, None)

    def predict(self, X) -> np.ndarray:  # noqa: N803
        """The weighted mean forecast."""
        return self._combine(X, None)[:, 0]


class WeightedAverageClassifier(ClassifierMixin, _WeightedAverage):
    """Weighted mean of member probabilities; see :class:`WeightedAverageRegressor`."""

    def fit(self, X, y) -> WeightedAverageClassifier:  # noqa: N803
        """Fit weights on the validation slice, then refit members; returns ``self``."""
        self.classes_ = np.unique(np.asarray(y))
        return self._fit(X, y, self.classes_)

    def predict_proba(self, X) -> np.ndarray:  # noqa: N803
        """Weighted mean probabilities, columns in the order of ``classes_``."""
        return self._combine(X, self.classes_)

    def predict(self, X) -> np.ndarray:  # noqa: N803
        """The most probable class."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class _ForwardStacking(BaseEstimator):
    def __init__(
        self,
        estimators: Members,
        final_estimator: BaseEstimator | None = None,
        n_splits: int = 3,
        gap: int = 0,
    ) -> None:
        self.estimators = estimators
        self.final_estimator = final_estimator
        self.n_splits = n_splits
        self.gap = gap

    def _meta_features(self, members: list[BaseEstimator], X, classes) -> np.ndarray:  # noqa: N803
        return np.hstack([_member_output(m, X, classes) for m in members])

    def _fit(self, X, y, classes: np.ndarray | None, default_final: BaseEstimator):  # noqa: N803
        _check_members(self.estimators)
        y = np.asarray(y)
        blocks = np.array_split(np.arange(len(y)), self.n_splits + 1)
        if self.n_splits < 1 or min(len(b) for b in blocks) <= self.gap:
            raise ValueError(
                f"{len(y)} rows cannot form n_splits={self.n_splits} forward folds with "
                f"gap={self.gap}; expected n_splits >= 1 and each of the n_splits + 1 blocks "
                "longer than gap"
            )
        meta, meta_y = [], []
        for block in blocks[1:]:
            train = np.arange(block[0] - self.gap)
            members = _fit_members(self.estimators, _rows(X, train), y[train])
            meta.append(self._meta_features(members, _rows(X, block), classes))
            meta_y.append(y[block])
        final = default_final if self.final_estimator is None else self.final_estimator
        self.final_estimator_ = clone(final).fit(np.vstack(meta), np.concatenate(meta_y))
        self.estimators_ = _fit_members(self.estimators, X, y)
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
    gap : int, default 0
        Rows left out before each predicted block.
    """

    def fit(self, X, y) -> ForwardStackingRegressor:  # noqa: N803
        """Learn the combination on forward predictions, refit members; returns ``self``."""
        return self._fit(X, y, None, LinearRegression(positive=True))

    def predict(self, X) -> np.ndarray:  # noqa: N803
        """Final estimator applied to the members' forecasts."""
        check_is_fitted(self, "final_estimator_")
        return self.final_estimator_.predict(self._meta_features(self.estimators_, X, None))


class ForwardStackingClassifier(ClassifierMixin, _ForwardStacking):
    """Stacking on member probabilities; final default ``LogisticRegression()``."""

    def fit(self, X, y) -> ForwardStackingClassifier:  # noqa: N803
        """Learn the combination on forward probabilities, refit members; returns ``self``."""
        self.classes_ = np.unique(np.asarray(y))
        return self._fit(X, y, self.classes_, LogisticRegression(max_iter=1000))

    def predict_proba(self, X) -> np.ndarray:  # noqa: N803
        """Probabilities, columns in the order of ``classes_``."""
        check_is_fitted(self, "final_estimator_")
        meta = self._meta_features(self.estimators_, X, self.classes_)
        return _aligned_proba(self.final_estimator_, meta, self.classes_)

    def predict(self, X) -> np.ndarray:  # noqa: N803
        """The most probable class."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
