"""Realised performance of served predictions: rolling IC, rank IC, direction, RMSE, R², and floors.

When a prediction is judged
---------------------------
A prediction of horizon ``h`` made for session ``t`` forecasts the return from
``t``'s close to the close of the symbol's ``h``-th later session (the
convention of :mod:`market_assets.quant.labels`).  It can be judged on the
evening that session closes: the 1-session model's prediction for ``t`` at the
close of ``t + 1``, the 20-session model's at ``t + 20``.
:func:`realized_returns` computes those returns from validated prices and
stamps each with ``known_at`` (the session it became known), so performance
does not wait for the ``labels`` asset, which needs the longest horizon to close.

The window
----------
On evaluation session ``asof``, the window of horizon ``h`` is the last
``window`` sessions whose ``h``-session return is known by ``asof`` (for
``h = 1`` and ``asof = t``: sessions ``t-window .. t-1``).  Sessions count the
dates of the realised returns, i.e. the sessions of the prices; a session
without predictions stays in the window and simply adds no rows
(``n_sessions`` counts the sessions that had some).

Metrics (:func:`market_assets.quant.metrics.regression_metrics` on the window's
rows with both values finite)
---------------------------------------------------------------------------
* ``ic`` / ``rank_ic``: per-session cross-sectional Pearson / Spearman
  correlation, equal-weighted mean over the window's sessions (ICIR per period).
* ``directional_accuracy``: share of rows with ``prediction > 0`` equal to
  ``realized_return > 0``.
* ``rmse`` / ``mae``: in return units (0.01 is one percentage point).
* ``r2``: ``1 - SSE / SST`` with SST around the window's mean realised return
  (scikit-learn's), so a forecast of 0 scores slightly below 0.

Only regression predictions (forecast returns) are meaningful here; class
predictions of the ``direction`` / ``five_class`` tasks are class indices.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from market_assets.quant.labels import compute_labels
from market_assets.quant.metrics import regression_metrics

DEFAULT_WINDOW = 20
#: Metric columns of :func:`performance_at`, in order.
METRICS: tuple[str, ...] = ("ic", "rank_ic", "directional_accuracy", "rmse", "r2", "mae", "icir", "rank_icir")
_PREDICTION_COLUMNS = ("date", "symbol", "horizon", "prediction")
_REALIZED_COLUMNS = ("date", "symbol", "horizon", "realized_return", "known_at")


@dataclass(frozen=True)
class PerformanceFloors:
    """Floors (ceilings for errors) a champion's rolling metrics must meet; None disables one.

    Defaults, from seed 000's ``PERFORMANCE_ALERT_THRESHOLDS`` where they carry
    over to returns: directional accuracy >= 0.45 (taken as is: a direction
    forecast has the same meaning for prices and returns); RMSE <= 0.15 (seed's
    "15 % of price": a price error as a share of price *is* a return error; a
    blow-up guard, loose for one session).  Seed's R² >= 0.05 is *not* taken:
    it is a price-level R², which a random walk reaches at ~0.99, while an
    out-of-sample return R² of a good model is ~0.00-0.01, so 0.05 would fail
    every day.  Added: rank IC >= 0 (the model must not rank the cross-section
    backwards), the platform's own key metric.
    """

    directional_accuracy_min: float | None = field(
        default=0.45, metadata={"description": "Lowest acceptable share of correct directions (seed 000: 0.45)."})
    rank_ic_min: float | None = field(
        default=0.0, metadata={"description": "Lowest acceptable mean rank IC over the window."})
    ic_min: float | None = field(
        default=None, metadata={"description": "Lowest acceptable mean (Pearson) IC; None: not judged."})
    r2_min: float | None = field(
        default=None, metadata={"description": "Lowest acceptable R²; None: not judged (see the class docstring)."})
    rmse_max: float | None = field(
        default=0.15, metadata={"description": "Highest acceptable RMSE in return units (seed 000: 0.15)."})
    min_sessions: int = field(
        default=10, metadata={"description": "Sessions with predictions needed before any metric is judged."})


#: ``PerformanceFloors`` field -> (metric, comparison).
_FLOOR_FIELDS: dict[str, tuple[str, str]] = {
    "directional_accuracy_min": ("directional_accuracy", ">="), "rank_ic_min": ("rank_ic", ">="),
    "ic_min": ("ic", ">="), "r2_min": ("r2", ">="), "rmse_max": ("rmse", "<="),
}


def realized_returns(prices: pl.DataFrame, horizons: Sequence[int], asof: dt.date) -> pl.DataFrame:
    """Forward returns known by the close of ``asof``, from ``adj_close``.

    Parameters
    ----------
    prices
        Validated long prices (``date, symbol, adj_close`` at least), covering
        the sessions to judge plus ``max(horizons)`` after them.
    horizons
        Horizons in sessions of the symbol (e.g. :data:`market_assets.quant.labels.HORIZONS`).
    asof
        The evaluation session; prices after it are ignored (point in time).

    Returns
    -------
    pl.DataFrame
        ``date, symbol, horizon (Int32), realized_return, known_at``, one row per
        (session, symbol, horizon) whose window closed by ``asof``;
        ``realized_return = adj_close[t+h] / adj_close[t] - 1`` (``fwd_ret_h`` of
        :func:`market_assets.quant.labels.compute_labels`), ``known_at`` the date
        of row ``t+h``.  Sorted by horizon, date, symbol.
    """
    past = prices.filter(pl.col("date") <= asof)
    labels = compute_labels(past, horizons=horizons, class_thresholds=(0.0, 0.0, 0.0, 0.0))
    dates = past.select("date", "symbol").sort("symbol", "date")
    frames = []
    for h in horizons:
        ends = dates.with_columns(known_at=pl.col("date").shift(-h).over("symbol"))
        frames.append(
            labels.select("date", "symbol", pl.lit(h, dtype=pl.Int32).alias("horizon"),
                          pl.col(f"fwd_ret_{h}").alias("realized_return"))
            .join(ends, on=["date", "symbol"], how="left")
            .filter(pl.col("realized_return").is_not_null())
        )
    return pl.concat(frames).sort("horizon", "date", "symbol")


def performance_at(
    predictions: pl.DataFrame, realized: pl.DataFrame, asof: dt.date, *,
    window: int = DEFAULT_WINDOW, by: Sequence[str] = ("horizon",),
) -> pl.DataFrame:
    """Rolling metrics of each horizon's predictions whose windows closed by ``asof``.

    Parameters
    ----------
    predictions
        ``date, symbol, horizon, prediction`` (the ``predictions`` asset; more columns allowed).
    realized
        :func:`realized_returns` for an ``asof`` on or after this one (rows
        known later are left out by their ``known_at``).
    asof
        The evaluation session.
    window
        Sessions per window (see the module docstring).
    by
        Groups, starting with ``horizon``; add ``model_version`` to judge only
        the predictions a given champion served.

    Returns
    -------
    pl.DataFrame
        ``*by, asof, first_session, last_session, n_sessions, n`` then
        :data:`METRICS`; one row per group with rows in the window, and a row of
        NaN metrics (``n = 0``) for a horizon with none.
    """
    _require(predictions, _PREDICTION_COLUMNS, "predictions")
    _require(realized, _REALIZED_COLUMNS, "realized")
    if window < 1:
        raise ValueError(f"window={window}; expected a positive number of sessions, e.g. 20")
    if not by or by[0] != "horizon":
        raise ValueError(f"by={list(by)}; expected it to start with 'horizon', e.g. ('horizon', 'model_version')")
    known = realized.filter(pl.col("known_at") <= asof)
    joined = (
        predictions.select(*dict.fromkeys([*_PREDICTION_COLUMNS, *by]))
        .with_columns(pl.col("horizon").cast(pl.Int32))
        .join(known.select(_REALIZED_COLUMNS[:4]), on=["date", "symbol", "horizon"], how="inner")
        .filter(pl.col("prediction").is_finite() & pl.col("realized_return").is_finite())
    )
    rows = []
    for h in predictions.get_column("horizon").unique().sort().to_list():
        sessions = known.filter(pl.col("horizon") == h).get_column("date").unique().sort().tail(window)
        rows.extend(_window_rows(joined.filter((pl.col("horizon") == h) & pl.col("date").is_in(sessions.implode())),
                                 h, by, asof, sessions))
    return pl.DataFrame(rows, infer_schema_length=None)


def rolling_performance(
    predictions: pl.DataFrame, realized: pl.DataFrame, asofs: Sequence[dt.date], *,
    window: int = DEFAULT_WINDOW, by: Sequence[str] = ("horizon",),
) -> pl.DataFrame:
    """:func:`performance_at` for each evaluation session in ``asofs``, stacked (e.g. for a chart)."""
    frames = [performance_at(predictions, realized, a, window=window, by=by) for a in asofs]
    return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()


def judge_performance(metrics: pl.DataFrame, floors: PerformanceFloors = PerformanceFloors()) -> pl.DataFrame:
    """Pass or fail per group and judged metric, with what was observed and the threshold.

    Parameters
    ----------
    metrics
        :func:`performance_at` output.
    floors
        The thresholds; a metric whose floor is None is not judged.

    Returns
    -------
    pl.DataFrame
        The group columns of ``metrics`` (those before ``asof``), then
        ``metric, observed, comparison ('>=' or '<='), threshold, passed,
        reason``.  ``passed`` is null, not False, when the window holds fewer than
        ``floors.min_sessions`` sessions or the metric is undefined (NaN): too
        little evidence is not a failure.
    """
    _require(metrics, ("asof", "n_sessions", *METRICS), "metrics")
    keys = metrics.columns[: metrics.columns.index("asof")]
    rows = []
    for record in metrics.iter_rows(named=True):
        for floor_field, (metric, comparison) in _FLOOR_FIELDS.items():
            threshold = getattr(floors, floor_field)
            if threshold is None:
                continue
            observed = float(record[metric])
            passed, reason = _verdict(observed, comparison, threshold, record["n_sessions"], floors.min_sessions)
            rows.append({**{k: record[k] for k in keys}, "asof": record["asof"], "metric": metric,
                         "observed": observed, "comparison": comparison, "threshold": float(threshold),
                         "passed": passed, "reason": reason})
    schema = {**{k: metrics.schema[k] for k in keys}, "asof": pl.Date, "metric": pl.String, "observed": pl.Float64,
              "comparison": pl.String, "threshold": pl.Float64, "passed": pl.Boolean, "reason": pl.String}
    return pl.DataFrame(rows, schema=schema)


def _verdict(observed: float, comparison: str, threshold: float, n_sessions: int,
             min_sessions: int) -> tuple[bool | None, str]:
    if n_sessions < min_sessions:
        return None, f"only {n_sessions} session(s) judged, fewer than min_sessions={min_sessions}"
    if np.isnan(observed):
        return None, "undefined on this window (e.g. a constant prediction)"
    ok = observed >= threshold if comparison == ">=" else observed <= threshold
    return bool(ok), f"{observed:.6g} {'meets' if ok else 'violates'} {comparison} {threshold:g}"


def _window_rows(rows: pl.DataFrame, horizon: int, by: Sequence[str], asof: dt.date,
                 sessions: pl.Series) -> list[dict]:
    """One metrics record per group of ``by`` in the window's ``rows``."""
    window = {"asof": asof, "first_session": sessions.min(), "last_session": sessions.max()}
    empty = {"n_sessions": 0, "n": 0, **dict.fromkeys(METRICS, float("nan"))}
    if rows.is_empty():
        return [{"horizon": horizon, **dict.fromkeys(by[1:]), **window, **empty}]
    out = []
    for key, group in rows.sort("date", "symbol").group_by(list(by), maintain_order=True):
        found = regression_metrics(group["realized_return"], group["prediction"], group["date"])
        out.append({**dict(zip(by, key)), **window, "n_sessions": group["date"].n_unique(), "n": group.height,
                    **{m: found[m] for m in METRICS}})
    return out


def _require(frame: pl.DataFrame, columns: Sequence[str], name: str) -> None:
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise ValueError(f"{name} has no column(s) {absent}; expected {list(columns)} (got {frame.columns})")
