"""Realised coverage of prediction intervals, once the labels exist.

Conventions
-----------
* A forecast's interval is ``[interval_low, interval_high]`` (closed), as the
  predictions asset writes it: the prediction plus the split-conformal
  offsets of :func:`market_assets.quant.training.residual_interval`, cut on
  the model's validation window.  The nominal coverage is 80 %.
* Coverage is honest only on rows the offsets were **not** cut from: the
  sessions after the model's training cut-off.  Measured on the validation
  residuals themselves it is 80 % by construction.
* The realised label of a forecast at horizon ``h`` is ``{target}_{h}`` of
  the same ``(date, symbol)`` (the forward return from ``date`` to ``h``
  sessions later).  Rows whose label is not known yet (absent or null) or
  whose interval is null are left out; ``n`` counts the rows scored.
* ``below`` / ``above`` are the shares of labels under the low / over the
  high bound: an interval that is too narrow on one side shows there.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from market_assets.schema import KEY_COLUMNS

INTERVAL_COLUMNS: tuple[str, str] = ("interval_low", "interval_high")


def interval_coverage(y_true: Sequence[float], low: Sequence[float], high: Sequence[float]) -> float:
    """Share of ``y_true`` inside ``[low, high]`` (row-aligned arrays; NaN rows dropped)."""
    y, lo, hi = (np.asarray(v, dtype=float).ravel() for v in (y_true, low, high))
    if not y.shape == lo.shape == hi.shape:
        raise ValueError(f"y_true, low and high must be row-aligned, got {y.size}, {lo.size}, {hi.size} rows")
    known = np.isfinite(y) & np.isfinite(lo) & np.isfinite(hi)
    if not known.any():
        raise ValueError("no row has a finite label and interval; coverage needs at least one")
    return float(np.mean((y[known] >= lo[known]) & (y[known] <= hi[known])))


def realized_interval_coverage(
    predictions: pl.DataFrame,
    labels: pl.DataFrame,
    *,
    target: str = "fwd_ret",
    by: Sequence[str] = ("horizon",),
) -> pl.DataFrame:
    """Coverage of the predictions' intervals by the labels realised since.

    Parameters
    ----------
    predictions : pl.DataFrame
        ``date, symbol, horizon, interval_low, interval_high`` (the
        predictions asset's frame; other columns are ignored unless in ``by``).
    labels : pl.DataFrame
        ``date, symbol`` and ``{target}_{h}`` for every horizon ``h`` in
        ``predictions`` (the labels asset's frame).
    target : str, default "fwd_ret"
        Label family the regression models forecast.
    by : sequence of str, default ("horizon",)
        Prediction columns to group by, e.g. ``("horizon", "model_version")``
        or ``("horizon", "date")`` for a daily series.

    Returns
    -------
    pl.DataFrame
        ``*by, n, coverage, below, above`` sorted by ``by``; groups with no
        realised label yet are absent.

    Raises
    ------
    ValueError
        A missing prediction column or label column, naming it.
    """
    needed = list(dict.fromkeys([*KEY_COLUMNS, "horizon", *INTERVAL_COLUMNS, *by]))
    missing = [c for c in needed if c not in predictions.columns]
    if missing:
        raise ValueError(
            f"predictions lack column(s) {missing}; expected the predictions asset's frame with "
            f"{needed} (a classification model has no interval)"
        )
    horizons = predictions["horizon"].unique().sort().to_list()
    columns = {h: f"{target}_{h}" for h in horizons}
    absent = [c for c in columns.values() if c not in labels.columns]
    if absent:
        raise ValueError(f"labels lack column(s) {absent} for the predicted horizons {horizons}; "
                         f"label columns are {labels.columns}")
    realised = pl.concat([
        labels.select(*KEY_COLUMNS, pl.lit(h).cast(predictions.schema["horizon"]).alias("horizon"),
                      pl.col(column).cast(pl.Float64).alias("_label"))
        for h, column in columns.items()
    ])
    low, high, label = pl.col("interval_low"), pl.col("interval_high"), pl.col("_label")
    scored = (
        predictions.select(needed)
        .join(realised, on=[*KEY_COLUMNS, "horizon"], how="inner")
        .filter(*(c.is_not_null() & c.is_not_nan() for c in (label, low.cast(pl.Float64), high.cast(pl.Float64))))
    )
    return (
        scored.group_by(list(by))
        .agg(
            n=pl.len(),
            coverage=((label >= low) & (label <= high)).mean(),
            below=(label < low).mean(),
            above=(label > high).mean(),
        )
        .sort(list(by))
    )
