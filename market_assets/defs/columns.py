"""What each stored column means, for ``dagster/column_schema`` in the UI.

One lookup, :func:`column_description`, serves the Parquet IO manager: exact
names first (the data contracts of :mod:`market_assets.schema` and the
asset tables), then the documented feature specs, then the families of
per-horizon and per-class columns (``fwd_ret_5``, ``p_class_2``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

import dagster as dg
import polars as pl

from market_assets.quant.labels import SIGNAL_CLASSES
from market_assets.schema import PRICE_COLUMN_DESCRIPTIONS

_EXACT: dict[str, str] = {
    **PRICE_COLUMN_DESCRIPTIONS,
    "received_date": "The date the provider gave the row (null when undated); it differs from date when the row "
    "was dated off-session and is stored, rejected, under the session on or before it.",
    "reasons": "Reason codes of the failed validation rules, joined by ';' in rule order "
    "(e.g. 'ohlc_inconsistent;nonpositive_price').",
    # market_regimes
    "regime": "Most probable market regime of the session: bull, bear or sideways (null before a model exists).",
    "p_bull": "Filtered probability (data up to the session's close) that the market is in the bull regime.",
    "p_bear": "Filtered probability (data up to the session's close) that the market is in the bear regime.",
    "p_sideways": "Filtered probability (data up to the session's close) that the market is in the sideways regime.",
    "fit_end": "Last session of the data the month's regime HMM was fitted on (before the month starts).",
    # feature_ic
    "feature": "Feature name (see feature_table's column descriptions).",
    "family": "Signal family of the feature: monotone transforms of one signal share a family.",
    "label": "Label column the feature is correlated with (fwd_ret_<h>).",
    "ic": "Pearson correlation across the session's symbols of the column with the label (null if undefined).",
    "rank_ic": "Spearman (rank) correlation across the session's symbols with the label (null if undefined).",
    "n": "Symbols with both values present in the session's cross-section.",
    # drift_report
    "kind": "What drifted: feature (a model input), prediction (the champion's forecast) or target (the realised return).",
    "column": "The column compared between the current window and the champion's training reference.",
    "stattest": "Evidently's default test for the column: K-S p-value (<= 1000 reference rows), normed "
    "Wasserstein distance (more), chi-square / Z-test / Jensen-Shannon for few values.",
    "score": "The test's statistic: a p-value (drift when below the threshold) or a distance (drift when at or above).",
    "threshold": "The test's drift threshold (0.05 for p-values, 0.1 for distances).",
    "drifted": "Whether the column drifted: past its test's threshold and beyond the reference's own variation (null: untested).",
    "severity": "How far past its threshold the column is (>= 1 means drifted); used for ranking.",
    "reference_severity": "The largest severity of a window-sized block of the reference against the rest: "
    "what the reference shows of itself; a column drifts only beyond it.",
    "drifted_by_evidently": "Evidently's own decision (score past its threshold), before the reference calibration.",
    "n_reference": "Finite values of the column in the reference.",
    "n_current": "Finite values of the column in the current window.",
    # model_performance
    "asof": "The evaluation session: only returns known at its close are judged.",
    "first_session": "First session of the judged window.",
    "last_session": "Last session of the judged window.",
    "n_sessions": "Sessions of the window with judged predictions.",
    "directional_accuracy": "Share of rows whose predicted and realised returns have the same sign.",
    "rmse": "Root mean squared error of the predicted return, in return units.",
    "mae": "Mean absolute error of the predicted return, in return units.",
    "r2": "1 - SSE / SST of the predicted return around the window's mean realised return.",
    "interval_coverage": "Share of the window's realised returns inside the predictions' 80% interval "
    "(sessions after the model's cut-off: honest coverage).",
    "icir": "Mean daily IC over its standard deviation (per session, not annualised).",
    "rank_icir": "Mean daily rank IC over its standard deviation (per session, not annualised).",
    # predictions
    "horizon": "Forecast horizon in sessions.",
    "prediction": "The model's forecast: the forward return (regression) or the predicted class index.",
    "interval_low": "Lower end of the 80% split-conformal interval of the forecast (prediction + q10 residual).",
    "interval_high": "Upper end of the 80% split-conformal interval of the forecast (prediction + q90 residual).",
    "confidence": "Probability of the predicted class.",
    "model_version": "Registered model and version that made the forecast (<name>/<version>).",
    "model_train_end": "Training cut-off of that model version: it saw only labels closed before this date.",
    # backtest_results
    "nav": "Net asset value of the backtest book at the session's close, in currency (after costs).",
    "return": "Net return of the book over the session, close to close (simple, after costs).",
    "benchmark_return": "Equal-weight return of the universe from the previous close to this one (no costs).",
    "gross_exposure": "Sum of |position| / NAV at the session's close.",
    "net_exposure": "Sum of position / NAV at the session's close (long minus short).",
    "turnover": "Sum of |trade value| / NAV before the session's fill (two-sided: a full switch counts 2).",
    "costs": "Commission and slippage paid at the session's fill, as a fraction of the NAV before it.",
    "borrow": "Borrow fee on the short book charged in the session, as a fraction of the NAV before the fill.",
    "n_long": "Symbols held long at the session's close.",
    "n_short": "Symbols held short at the session's close.",
    "config": "The backtest configuration (canonical JSON) that produced the row; one per walk-forward.",
    # backtest_state
    "positions": "Market value of the symbol's position at the session's close, in currency (negative: short).",
    "targets": "Target weight decided at the session's close, filled at the next session.",
    "pending": "Whether the book still aims at the target (false after a dropped unfilled remainder).",
    "locked": "Side (+1/-1) a stop-loss closed and keeps closed, 0 when free.",
    "entry_ratio": "Close over the entry fill price of the open position (null when flat).",
    "executed": "Target executed at the session's fill (to see the next change of target).",
    "intents": "The strategy's intent at the session's close: +1 long, -1 short, 0 flat.",
    "valuation_close": "Adjusted close of the symbol's last bar valid for a fill, at which the position is valued.",
    # backtest_summary
    "metric": "Name of a walk-forward metric (see the asset's metadata for the conventions).",
    "value": "Value of the metric (NaN when undefined, e.g. a Sharpe without variance).",
}

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"fwd_ret_(\d+)"), "Forward simple return over the next {0} session(s) of the symbol, "
     "adj_close[t+{0}] / adj_close[t] - 1; known only once session t+{0} closed."),
    (re.compile(r"fwd_logret_(\d+)"), "Forward log return over the next {0} session(s): ln(adj_close[t+{0}] / adj_close[t])."),
    (re.compile(r"fwd_dir_(\d+)"), "Direction of the {0}-session forward return: 1.0 if it is > 0, else 0.0."),
    (re.compile(r"fwd_class_(\d+)"), "Signal class of the {0}-session forward return, index into "
     + ", ".join(f"{i} {name}" for i, name in enumerate(SIGNAL_CLASSES))
     + " (point-in-time quantile thresholds)."),
    (re.compile(r"p_class_(\d+)"), "Predicted probability of signal class {0}."),
)


def table_schema(schema: Mapping[str, pl.DataType]) -> dg.TableSchema:
    """``dagster/column_schema`` of a table with these columns: name, polars dtype, description."""
    return dg.TableSchema(columns=[dg.TableColumn(name, str(dtype), description=column_description(name))
                                   for name, dtype in schema.items()])


def declared_column_schema(schema: Mapping[str, pl.DataType]) -> dict[str, dg.TableSchema]:
    """Definition metadata declaring an asset's columns (shown in the UI's asset overview).

    The Parquet IO manager then leaves ``dagster/column_schema`` out of the
    materializations whose table has exactly these columns, in this order, with
    these dtypes (it is 40-54% of a price materialization event's bytes, written
    once per session of a range run), and attaches the written schema to any
    that differs.
    """
    return {"dagster/column_schema": table_schema(schema)}


def column_description(column: str) -> str | None:
    """The description of ``column``, or None when it is not documented."""
    if column in _EXACT:
        return _EXACT[column]
    feature = _feature_descriptions().get(column)
    if feature is not None:
        return feature
    for pattern, template in _PATTERNS:
        if match := pattern.fullmatch(column):
            return template.format(*match.groups())
    return None


@functools.cache
def _feature_descriptions() -> dict[str, str]:
    from market_assets.quant.features import FEATURE_SPECS

    return {name: spec.description for name, spec in FEATURE_SPECS.items()}
