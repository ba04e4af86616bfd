"""What each stored column means, for ``dagster/column_schema`` in the UI.

One lookup, :func:`column_description`, serves the Parquet IO manager: exact
names first (the data contracts of :mod:`market_assets.schema` and the
asset tables), then the documented feature specs, then the families of
per-horizon and per-class columns (``fwd_ret_5``, ``p_class_2``).
"""

from __future__ import annotations

import functools
import re

from market_assets.quant.labels import SIGNAL_CLASSES
from market_assets.schema import PRICE_COLUMN_DESCRIPTIONS

_EXACT: dict[str, str] = {
    **PRICE_COLUMN_DESCRIPTIONS,
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
    # predictions
    "horizon": "Forecast horizon in sessions.",
    "prediction": "The model's forecast: the forward return (regression) or the predicted class index.",
    "interval_low": "Lower end of the 80% split-conformal interval of the forecast (prediction + q10 residual).",
    "interval_high": "Upper end of the 80% split-conformal interval of the forecast (prediction + q90 residual).",
    "confidence": "Probability of the predicted class.",
    "model_version": "Registered model and version that made the forecast (<name>/<version>).",
    "model_train_end": "Training cut-off of that model version: it saw only labels closed before this date.",
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
