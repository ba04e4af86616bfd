"""Assemble the training matrix from features and labels, honestly.

Conventions
-----------
* Sessions are exchange trading sessions, given as a sorted sequence of dates
  (the exchange calendar).  Horizons and embargoes count **sessions**, never
  calendar days.
* The label of row ``t`` at horizon ``h`` uses prices up to session ``t + h``:
  its *label window* is sessions ``[t, t + h]`` and it *closes* at ``t + h``.
* **Purge.**  A model trained for use from ``train_end`` on may only see rows
  whose label window closed strictly before ``train_end``: row ``t`` qualifies
  iff session ``t + h`` precedes ``train_end``.  ``train_end`` itself need not
  be a session (a weekly partition may start on a holiday): what counts is the
  number ``k`` of sessions strictly before it, and row ``t`` (session index
  ``i``) qualifies iff ``i + h < k``.
* **Embargo.**  ``embargo`` further sessions are dropped after the purge, so row
  ``t`` qualifies iff ``i + h + embargo < k``.  The embargo is a safety margin
  against serial correlation of features and labels near the cut-off.
* **Window.**  ``window=None`` keeps all qualifying history (expanding window);
  ``window=n`` keeps the last ``n`` qualifying sessions (sliding window).
* Rows with a null target are dropped; null features are kept (the model
  pipeline imputes them with a median fitted on the training rows only).
* Rows come back sorted by ``date`` then ``symbol``; ``X``, ``y`` and ``meta``
  are row-aligned.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import polars as pl

from market_assets.schema import KEY_COLUMNS

TARGET_FAMILIES: tuple[str, ...] = ("fwd_ret", "fwd_logret", "fwd_dir", "fwd_class")


class TrainingFrame(NamedTuple):
    """The training matrix; unpacks as ``X, y, meta``.

    Attributes
    ----------
    X : pl.DataFrame
        Feature columns only, in the order of the features frame.
    y : np.ndarray
        The target, row-aligned with ``X``.
    meta : pl.DataFrame
        ``date``, ``symbol`` and ``label_end`` (the session at which the row's
        label window closed), row-aligned with ``X``.
    """

    X: pl.DataFrame
    y: np.ndarray
    meta: pl.DataFrame


class ModelInputError(ValueError):
    """A feature frame does not match what a fitted model expects."""


def target_column(target: str, horizon: int) -> str:
    """The label column for ``target`` at ``horizon``.

    ``target`` is a family (``"fwd_ret"``, ``"fwd_logret"``, ``"fwd_dir"``,
    ``"fwd_class"``) or a full column name whose suffix equals ``horizon``.
    """
    for family in TARGET_FAMILIES:
        if target == family:
            return f"{family}_{horizon}"
        if target.startswith(family + "_") and target[len(family) + 1 :].isdigit():
            if int(target[len(family) + 1 :]) != horizon:
                raise ValueError(
                    f"target {target!r} disagrees with horizon={horizon}; pass the family "
                    f"{family!r} with the horizon, or {family}_{horizon}"
                )
            return target
    raise ValueError(
        f"unknown target {target!r}: expected one of {list(TARGET_FAMILIES)} "
        "(optionally suffixed with _<horizon>)"
    )


def training_frame(
    features: pl.DataFrame,
    labels: pl.DataFrame,
    *,
    target: str,
    horizon: int,
    train_end: dt.date,
    sessions: Sequence[dt.date],
    embargo: int = 0,
    window: int | None = None,
) -> TrainingFrame:
    """Join features and labels and keep only rows a model may train on.

    Parameters
    ----------
    features : pl.DataFrame
        ``date, symbol, <float feature columns>`` (nulls allowed).
    labels : pl.DataFrame
        ``date, symbol, fwd_*_{h}`` columns.
    target : str
        Target family (``"fwd_ret"``, ``"fwd_dir"``, ...) or full column name.
    horizon : int
        Label horizon ``h`` in sessions (>= 1).
    train_end : datetime.date
        First date the model will be used on; see the module docstring.
    sessions : Sequence[datetime.date]
        Sorted exchange sessions covering every row date (and ``train_end``'s
        neighbourhood); positions in it define session arithmetic.
    embargo : int, default 0
        Extra sessions dropped after the purge.
    window : int or None, default None
        ``None`` for an expanding window, else the number of most recent
        qualifying sessions to keep.

    Returns
    -------
    TrainingFrame
        ``(X, y, meta)``, sorted by date then symbol.

    Raises
    ------
    ValueError
        Bad arguments, a row date that is not a session, or no rows left.
    """
    _check_arguments(horizon, embargo, window, sessions)
    column = target_column(target, horizon)
    if column not in labels.columns:
        raise ValueError(
            f"labels have no column {column!r}; label columns are {labels.columns}"
        )
    feature_names = [c for c in features.columns if c not in KEY_COLUMNS]
    session_index = _session_index(sessions)
    last_usable = bisect_left(list(sessions), train_end) - horizon - embargo - 1
    first_usable = 0 if window is None else last_usable - window + 1
    # Lazy: the filter runs before the wide join is materialized (features can be GBs).
    joined = (
        features.lazy()
        .join(session_index.lazy(), on="date", how="left")
        .join(labels.lazy().select(*KEY_COLUMNS, column), on=list(KEY_COLUMNS), how="inner")
    )
    unknown = (
        joined.filter(pl.col("_session").is_null()).select(pl.col("date").unique().sort()).collect()["date"]
    )
    if unknown.len() > 0:
        raise ValueError(
            f"{unknown.len()} row date(s) are not in `sessions`, e.g. {unknown.head(3).to_list()}; "
            "pass the exchange calendar's sessions covering the whole history"
        )
    kept = (
        joined.filter(
            pl.col("_session").is_between(first_usable, last_usable),
            pl.col(column).is_not_null(),
        )
        .sort(list(KEY_COLUMNS))
        .collect()
    )
    if kept.height == 0:
        raise ValueError(
            f"no training rows: need label windows (h={horizon}, embargo={embargo}) closed "
            f"before train_end={train_end}; the features span "
            f"{features['date'].min()}..{features['date'].max()} ({features.height} rows)"
        )
    ends = pl.Series("label_end", list(sessions), dtype=pl.Date)
    meta = kept.select(
        *KEY_COLUMNS, label_end=ends.gather(kept["_session"] + horizon)
    )
    return TrainingFrame(kept.select(feature_names), kept[column].to_numpy(), meta)


def rows_between(frame: pl.DataFrame, first: dt.date | None, end: dt.date) -> pl.DataFrame:
    """The rows of ``frame`` dated ``first <= date < end`` (``first=None``: no lower bound).

    This is how a training period is cut out of a longer history: ``end`` is
    the period's cut-off, so no row dated on or after it can reach the model.
    A frame sorted by ``date`` (as the Parquet IO manager returns session
    partitions) is sliced without copying; an unsorted one is filtered.
    """
    dates = frame["date"]
    if not dates.is_sorted():
        low = pl.lit(True) if first is None else pl.col("date") >= first
        return frame.filter(low, pl.col("date") < end)
    start = 0 if first is None else int(dates.search_sorted(first, side="left"))
    stop = int(dates.search_sorted(end, side="left"))
    return frame.slice(start, max(stop - start, 0))


def _check_arguments(
    horizon: int, embargo: int, window: int | None, sessions: Sequence[dt.date]
) -> None:
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1 session, got {horizon}")
    if embargo < 0:
        raise ValueError(f"embargo must be >= 0 sessions, got {embargo}")
    if window is not None and window < 1:
        raise ValueError(f"window must be None (expanding) or >= 1 session, got {window}")
    if len(sessions) == 0 or any(a >= b for a, b in zip(sessions, sessions[1:], strict=False)):
        raise ValueError("sessions must be a non-empty, strictly increasing sequence of dates")


def _session_index(sessions: Sequence[dt.date]) -> pl.DataFrame:
    return pl.DataFrame(
        {"date": list(sessions), "_session": np.arange(len(sessions))},
        schema={"date": pl.Date, "_session": pl.Int64},
    )


def model_input_check(
    X: pl.DataFrame,
    expected_columns: Sequence[str],
    dtypes: Mapping[str, pl.DataType] | None = None,
    *,
    required: Sequence[str] | None = None,
    id_columns: Sequence[str] = KEY_COLUMNS,
) -> pl.DataFrame:
    """Refuse a feature frame that a fitted model was not trained on.

    Parameters
    ----------
    X : pl.DataFrame
        Frame to score.  Identifier columns (``id_columns``) may be present.
    expected_columns : Sequence[str]
        The model's feature columns, in training order.
    dtypes : Mapping[str, pl.DataType], optional
        Expected dtype per column (e.g. ``X_train.schema``); unchecked if None.
    required : Sequence[str], optional
        Columns that must have no nulls; ``None`` means every expected column,
        ``()`` allows nulls everywhere (the pipeline imputes them).
    id_columns : Sequence[str], default ("date", "symbol")
        Columns tolerated besides the features and dropped from the result.

    Returns
    -------
    pl.DataFrame
        ``X`` restricted to ``expected_columns`` in that order.

    Raises
    ------
    ModelInputError
        Listing every missing or extra column, null count and wrong dtype.
    """
    problems = []
    missing = [c for c in expected_columns if c not in X.columns]
    extra = [c for c in X.columns if c not in expected_columns and c not in id_columns]
    if missing:
        problems.append(f"missing column(s) {missing}")
    if extra:
        problems.append(f"unexpected column(s) {extra}")
    for name, dtype in (dtypes or {}).items():
        if name in X.columns and X.schema[name] != dtype:
            problems.append(f"column {name!r} has dtype {X.schema[name]}, expected {dtype}")
    for name in expected_columns if required is None else required:
        if name in X.columns and (n_null := X[name].null_count()):
            problems.append(f"column {name!r} has {n_null} null(s) out of {X.height} rows")
    if problems:
        raise ModelInputError(
            "feature frame does not match the model input: " + "; ".join(problems)
            + ". Recompute features with the feature set the model was trained on "
            "(or retrain the model on the current feature set)"
        )
    return X.select(list(expected_columns))
