"""Evidently's HTML drift report for a handful of columns: prediction, target, the most drifted features.

Evidently renders the report (its charts and tables); the scores it shows are
the ones :func:`market_assets.quant.drift.feature_drift` computes, since both
use the same tests (see :mod:`market_assets.quant.drift_stattests`).  Evidently
needs about 0.7 s per column against a 125,000-row reference (12 columns: ~9 s), so the
report is limited to the columns worth a look: :func:`report_columns` picks
them from a drift table, :func:`write_drift_html` renders and writes them.
The one side effect is writing the HTML file to the path given.
:func:`evidently_scores` runs Evidently's own computation for cross-checks.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from market_assets.quant.drift import most_drifted
from market_assets.quant.drift_stattests import DISPLAY_NAMES

#: Features shown besides the prediction and target columns.
DEFAULT_TOP_FEATURES = 10


def report_columns(
    drift_table: pl.DataFrame, *, always: Sequence[str] = ("prediction",), n_features: int = DEFAULT_TOP_FEATURES,
) -> list[str]:
    """``always`` (e.g. the prediction and target columns) then the ``n_features`` most drifted others.

    Parameters
    ----------
    drift_table
        ``feature_drift(...).table`` of the features.
    always
        Columns shown first whatever their drift.
    n_features
        How many of the most drifted remaining columns to add (drifted first, then by severity).
    """
    if n_features < 0:
        raise ValueError(f"n_features={n_features}; expected a count >= 0")
    return [*always, *most_drifted(drift_table, n_features, exclude=always)]


def write_drift_html(
    reference: pl.DataFrame, current: pl.DataFrame, columns: Sequence[str], path: str | os.PathLike[str],
) -> Path:
    """Render Evidently's ``DataDriftPreset`` report on ``columns`` and write it to ``path``.

    Parameters
    ----------
    reference, current
        Frames holding ``columns`` (e.g. features left-joined with predictions
        and labels on ``date, symbol``).  Nulls are dropped per column, so
        columns may cover different rows.
    columns
        The columns to show; keep it to about a dozen (each costs Evidently
        ~0.7 s against a 125k-row reference).
    path
        Where the HTML goes; parent directories are created.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    import warnings

    from evidently import Report
    from evidently.presets import DataDriftPreset

    names = list(columns)
    if not names:
        raise ValueError("columns is empty; name the prediction, target and features to show")
    for side, frame in (("reference", reference), ("current", current)):
        absent = [c for c in names if c not in frame.columns]
        if absent:
            raise ValueError(f"{side} has no column(s) {absent}; it holds {frame.columns[:8]}...")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Evidently's and NumPy's runtime warnings on all-equal columns
        snapshot = Report([DataDriftPreset(columns=names)]).run(
            current.select(names).to_pandas(), reference.select(names).to_pandas()
        )
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(target))
    return target


def evidently_scores(reference: pl.DataFrame, current: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, float]]:
    """Evidently's own ``Report([DataDriftPreset()])`` scores of every column (a cross-check; slow).

    Returns
    -------
    (pl.DataFrame, dict)
        ``column, stattest, score, threshold`` from each ``ValueDrift`` metric
        (``stattest`` as in :data:`market_assets.quant.drift_stattests.DISPLAY_NAMES`),
        and ``count`` / ``share`` of the ``DriftedColumnsCount`` metric.
    """
    import warnings

    from evidently import Report
    from evidently.presets import DataDriftPreset

    by_display = {display: name for name, display in DISPLAY_NAMES.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshot = Report([DataDriftPreset()]).run(current.to_pandas(), reference.to_pandas())
    rows, count = [], {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            rows.append((config["column"], by_display[config["method"]], float(metric["value"]),
                         float(config["threshold"])))
        elif config["type"].endswith("DriftedColumnsCount"):
            count = {k: float(v) for k, v in metric["value"].items()}
    return pl.DataFrame(rows, schema=["column", "stattest", "score", "threshold"], orient="row"), count
