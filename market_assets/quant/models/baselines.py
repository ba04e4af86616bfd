"""Baselines every real model must beat.

The zero-return forecast and the prior classifier are scikit-learn's
:class:`~sklearn.dummy.DummyRegressor` (``strategy="constant", constant=0``)
and :class:`~sklearn.dummy.DummyClassifier` (``strategy="prior"``); the zoo
builds them.  Only the momentum forecast needs a class of its own.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted


class MomentumRegressor(RegressorMixin, BaseEstimator):
    """Forecast the return as a multiple of one named momentum feature.

    ``prediction = slope_ * X[feature]``.  With ``slope=None`` the slope is
    fitted by least squares through the origin on the training rows
    (``sum(x * y) / sum(x * x)``), so a momentum feature measured over ``n``
    sessions is rescaled to the label's horizon, and a mean-reverting market
    gets a negative slope; a fixed ``slope`` (e.g. ``1 / n`` to spread an
    ``n``-session return over one session) is used as given.

    Parameters
    ----------
    feature : str
        The momentum column (e.g. ``"mom_20"``); ``X`` must be a DataFrame
        with named columns at ``fit`` (a zoo pipeline keeps the names).
    slope : float or None, default None
        Fixed multiplier, or None to fit it.

    Attributes
    ----------
    slope_ : float
    feature_index_ : int
        Position of ``feature`` among the training columns.
    feature_names_in_ : np.ndarray
    n_features_in_ : int
    """

    def __init__(self, feature: str = "mom_20", slope: float | None = None) -> None:
        self.feature = feature
        self.slope = slope

    def fit(self, X, y) -> MomentumRegressor:  # noqa: N803 - sklearn naming
        """Locate ``feature`` and fit the slope; returns ``self``."""
        names = getattr(X, "columns", None)
        if names is None:
            raise ValueError(
                f"MomentumRegressor needs a DataFrame with named columns to find {self.feature!r}, "
                f"got {type(X).__name__}; pass a polars/pandas frame or use a zoo pipeline"
            )
        names = [str(c) for c in names]
        if self.feature not in names:
            raise ValueError(
                f"momentum feature {self.feature!r} not among the columns {names}; "
                "set params={'feature': <column>}"
            )
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = len(names)
        self.feature_index_ = names.index(self.feature)
        x = self._column(X)
        target = np.asarray(y, dtype=float)
        if self.slope is not None:
            self.slope_ = float(self.slope)
        else:
            denominator = float(np.sum(x * x))
            if not np.isfinite(denominator) or denominator == 0.0:
                raise ValueError(
                    f"cannot fit a slope on {self.feature!r}: it is all zero or not finite "
                    "in the training rows; impute first or pass a fixed slope"
                )
            self.slope_ = float(np.sum(x * target) / denominator)
        return self

    def predict(self, X) -> np.ndarray:  # noqa: N803
        """``slope_ * X[feature]``."""
        check_is_fitted(self, "slope_")
        return self.slope_ * self._column(X)

    def _column(self, X) -> np.ndarray:  # noqa: N803
        if hasattr(X, "columns"):
            return np.asarray(X[self.feature], dtype=float)
        return np.asarray(X, dtype=float)[:, self.feature_index_]
