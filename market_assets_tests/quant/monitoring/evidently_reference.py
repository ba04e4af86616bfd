"""Run Evidently's own DataDriftPreset and read its per-column scores (test and benchmark helper)."""

from __future__ import annotations

import polars as pl

from market_assets.quant.drift_stattests import DISPLAY_NAMES

_BY_DISPLAY = {display: name for name, display in DISPLAY_NAMES.items()}


def evidently_drift(reference: pl.DataFrame, current: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, float]]:
    """``Report([DataDriftPreset()])`` on the two frames.

    Returns
    -------
    (pl.DataFrame, dict)
        ``column, stattest, score, threshold`` per ``ValueDrift`` metric, and
        ``count`` / ``share`` of ``DriftedColumnsCount``.
    """
    import warnings

    from evidently import Report
    from evidently.presets import DataDriftPreset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshot = Report([DataDriftPreset()]).run(current.to_pandas(), reference.to_pandas())
    rows, count = [], {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            rows.append((config["column"], _BY_DISPLAY[config["method"]], float(metric["value"]),
                         float(config["threshold"])))
        elif config["type"].endswith("DriftedColumnsCount"):
            count = {k: float(v) for k, v in metric["value"].items()}
    table = pl.DataFrame(rows, schema=["column", "stattest", "score", "threshold"], orient="row")
    return table, count
