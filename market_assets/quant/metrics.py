"""Model evaluation metrics, returned as plain dicts of floats.

Conventions
-----------
* **Regression** metrics compare predicted and realised forward returns.
  ``directional_accuracy`` counts rows where ``y_pred > 0`` agrees with
  ``y_true > 0``: a zero is "not up" on both sides, matching an up/not-up
  direction label, so a zero-return forecast scores the share of non-positive
  returns rather than 0.
* **IC** (information coefficient) and **ICIR** follow the one definition of
  :mod:`market_assets.quant.ic`: per date across symbols (Pearson; rank IC is
  Spearman on average ranks), rows with a NaN on either side left out, dates
  with fewer than 2 rows or a constant side excluded (``n_ic_dates`` counts
  the dates that counted), then an equal-weighted mean over dates; ICIR =
  mean / std (ddof=1) **per period**, *not* annualised (multiply by
  ``sqrt(periods per year)``, e.g. ``sqrt(252)`` for daily ICs).  With no
  defined date the IC is NaN (never a default of 0).
* **Classification** metrics take the true class and the predicted
  probabilities whose columns follow ``classes`` (sorted labels, like a fitted
  classifier's ``classes_``).  F1 is macro-averaged over ``classes``; ROC AUC
  is binary (probability of ``classes[1]``) for two classes, one-vs-rest
  macro for more; log-loss uses the natural log; Brier is the mean squared
  error of the probability of ``classes[1]`` for two classes (range [0, 1]),
  and the mean over rows of the summed squared errors across classes for more
  (range [0, 2]); both match :func:`sklearn.metrics.brier_score_loss`.
* ``metrics_by_volatility_tercile`` cuts terciles on the evaluation set
  itself (pooled over all dates and symbols, 1/3 and 2/3 quantiles of the
  volatility column): they describe where *this* evaluation's errors lie,
  and are not comparable bucket-for-bucket across evaluation periods.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from sklearn import metrics as skm

from market_assets.quant.ic import cross_sectional_ic, summarise_ic

TERCILES: tuple[str, str, str] = ("low", "mid", "high")


def _as_float(values: object, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float).ravel()
    if array.size == 0:
        raise ValueError(f"{name} is empty; metrics need at least one row")
    return array


def as_series(values: object, name: str) -> pl.Series:
    """A polars Series from a Series, numpy array (object arrays of dates too) or list."""
    if isinstance(values, pl.Series):
        return values.alias(name)
    if isinstance(values, np.ndarray) and values.dtype == object:
        values = values.tolist()
    return pl.Series(name, values)


def directional_accuracy(y_true: Sequence[float], y_pred: Sequence[float]) -> float:
    """Share of rows where ``y_pred > 0`` equals ``y_true > 0``."""
    true, pred = _as_float(y_true, "y_true"), _as_float(y_pred, "y_pred")
    return float(np.mean((true > 0) == (pred > 0)))


def daily_ic(
    dates: Sequence, y_true: Sequence[float], y_pred: Sequence[float], *, method: str = "pearson"
) -> pl.DataFrame:
    """Per-date cross-sectional correlation of prediction and outcome (:mod:`market_assets.quant.ic`).

    Parameters
    ----------
    dates, y_true, y_pred : array-like
        Row-aligned; ``dates`` groups the cross-sections.  NaN rows are left out.
    method : {"pearson", "spearman"}
        Spearman ranks within each date (average ranks for ties).

    Returns
    -------
    pl.DataFrame
        ``date, ic, n`` sorted by date; dates without a defined correlation
        are dropped.
    """
    if method not in ("pearson", "spearman"):
        raise ValueError(f"method must be 'pearson' or 'spearman', got {method!r}")
    column = "ic" if method == "pearson" else "rank_ic"
    return (
        _ic_frame(dates, y_true, y_pred)
        .select("date", pl.col(column).alias("ic"), "n")
        .filter(pl.col("ic").is_not_null())
    )


def ic_summary(dates: Sequence, y_true: Sequence[float], y_pred: Sequence[float]) -> dict[str, float]:
    """Mean IC, mean rank IC, ICIR and rank ICIR (per period, not annualised), NaN when undefined.

    Returns
    -------
    dict[str, float]
        ``ic, icir, n_ic_dates, rank_ic, rank_icir, n_rank_ic_dates``.
    """
    row = summarise_ic(_ic_frame(dates, y_true, y_pred), by=()).row(0, named=True)

    def number(value: float | int | None) -> float:
        return float("nan") if value is None else float(value)

    return {
        "ic": number(row["mean_ic"]), "icir": number(row["icir"]), "n_ic_dates": number(row["n_sessions"]),
        "rank_ic": number(row["mean_rank_ic"]), "rank_icir": number(row["rank_icir"]),
        "n_rank_ic_dates": number(row["n_rank_sessions"]),
    }


def _ic_frame(dates: Sequence, y_true: Sequence[float], y_pred: Sequence[float]) -> pl.DataFrame:
    """Per-date IC of the prediction with the outcome (``date, ic, rank_ic, n``)."""
    true, pred = _as_float(y_true, "y_true"), _as_float(y_pred, "y_pred")
    if true.shape != pred.shape:
        raise ValueError(f"y_true has {true.size} rows but y_pred has {pred.size}")
    frame = pl.DataFrame({"date": as_series(dates, "date"), "y_pred": pred, "y_true": true})
    return cross_sectional_ic(frame, ["y_pred"], ["y_true"]).select("date", "ic", "rank_ic", "n")


def regression_metrics(
    y_true: Sequence[float], y_pred: Sequence[float], dates: Sequence | None = None
) -> dict[str, float]:
    """R², RMSE, MAE, directional accuracy and, given ``dates``, IC statistics.

    Returns
    -------
    dict[str, float]
        ``r2, rmse, mae, directional_accuracy, n`` and with ``dates`` also
        ``ic, icir, n_ic_dates, rank_ic, rank_icir, n_rank_ic_dates``.
    """
    true, pred = _as_float(y_true, "y_true"), _as_float(y_pred, "y_pred")
    if true.shape != pred.shape:
        raise ValueError(f"y_true has {true.size} rows but y_pred has {pred.size}")
    out = {
        "r2": float(skm.r2_score(true, pred)),
        "rmse": float(np.sqrt(np.mean((true - pred) ** 2))),
        "mae": float(np.mean(np.abs(true - pred))),
        "directional_accuracy": directional_accuracy(true, pred),
        "n": float(true.size),
    }
    if dates is not None:
        out.update(ic_summary(dates, true, pred))
    return out


def classification_metrics(
    y_true: Sequence, proba: np.ndarray, classes: Sequence
) -> dict[str, float]:
    """Macro F1, ROC AUC, log-loss and Brier score from class probabilities.

    Parameters
    ----------
    y_true : array-like
        True class labels, each in ``classes``.
    proba : np.ndarray, shape (n_rows, n_classes)
        Probabilities, columns in the order of ``classes``.
    classes : Sequence
        Sorted class labels (a fitted classifier's ``classes_``).

    Returns
    -------
    dict[str, float]
        ``f1_macro, roc_auc, log_loss, brier, accuracy, n``.  ROC AUC is NaN
        when ``y_true`` holds a single class (it is undefined there).
    """
    true = np.asarray(y_true).ravel()
    prob = np.asarray(proba, dtype=float)
    labels = np.asarray(classes)
    if prob.ndim != 2 or prob.shape != (true.size, labels.size):
        raise ValueError(
            f"proba must have shape (n_rows, n_classes) = ({true.size}, {labels.size}), "
            f"got {prob.shape}; pass predict_proba output and the model's classes_"
        )
    unknown = np.setdiff1d(true, labels)
    if unknown.size:
        raise ValueError(f"y_true holds label(s) {unknown.tolist()} not in classes {labels.tolist()}")
    predicted = labels[np.argmax(prob, axis=1)]
    binary = labels.size == 2
    score = prob[:, 1] if binary else prob
    if np.unique(true).size < 2:
        auc = float("nan")
    else:
        auc = float(skm.roc_auc_score(true, score, multi_class="ovr", average="macro", labels=None if binary else labels))
    return {
        "f1_macro": float(skm.f1_score(true, predicted, labels=labels, average="macro", zero_division=0)),
        "roc_auc": auc,
        "log_loss": float(skm.log_loss(true, prob, labels=labels)),
        "brier": float(skm.brier_score_loss(true, score, labels=labels, pos_label=labels[1] if binary else None)),
        "accuracy": float(np.mean(predicted == true)),
        "n": float(true.size),
    }


def metrics_by_volatility_tercile(
    frame: pl.DataFrame,
    vol_column: str,
    *,
    classes: Sequence | None = None,
) -> dict[str, dict[str, float]]:
    """Metrics within terciles of a volatility feature.

    Parameters
    ----------
    frame : pl.DataFrame
        Regression: ``date, y_true, y_pred, <vol_column>``.  Classification
        (``classes`` given): ``y_true, <vol_column>`` and one probability
        column ``proba_<class>`` per class.
    vol_column : str
        The volatility feature (e.g. ``"vol_20"``); null rows are dropped.
    classes : Sequence, optional
        Class labels; selects classification metrics.

    Returns
    -------
    dict[str, dict[str, float]]
        ``{"low": {...}, "mid": {...}, "high": {...}}``; each also holds the
        tercile's ``vol_min`` and ``vol_max``.  Cuts are the evaluation set's
        own 1/3 and 2/3 quantiles (see module docstring); ties at a cut go to
        the lower tercile.
    """
    if vol_column not in frame.columns:
        raise ValueError(f"no column {vol_column!r} in frame; columns are {frame.columns}")
    data = frame.filter(pl.col(vol_column).is_not_null())
    vol = data[vol_column].to_numpy().astype(float)
    if vol.size < 3:
        raise ValueError(f"need >= 3 rows with {vol_column!r} to form terciles, got {vol.size}")
    cuts = np.quantile(vol, [1 / 3, 2 / 3])
    bucket = np.searchsorted(cuts, vol, side="left")
    out = {}
    for index, name in enumerate(TERCILES):
        part = data.filter(pl.Series(bucket == index))
        if part.height == 0:
            raise ValueError(f"tercile {name!r} of {vol_column!r} is empty (too many tied values)")
        if classes is None:
            scores = regression_metrics(part["y_true"], part["y_pred"], part["date"])
        else:
            proba = part.select([f"proba_{c}" for c in classes]).to_numpy()
            scores = classification_metrics(part["y_true"], proba, classes)
        scores.update(vol_min=float(part[vol_column].min()), vol_max=float(part[vol_column].max()))
        out[name] = scores
    return out


SCORERS: dict[str, tuple[str, str]] = {
    # name: (metric key, study direction)
    "ic": ("ic", "maximize"),
    "rank_ic": ("rank_ic", "maximize"),
    "r2": ("r2", "maximize"),
    "rmse": ("rmse", "minimize"),
    "directional_accuracy": ("directional_accuracy", "maximize"),
    "f1_macro": ("f1_macro", "maximize"),
    "roc_auc": ("roc_auc", "maximize"),
    "log_loss": ("log_loss", "minimize"),
    "brier": ("brier", "minimize"),
}
