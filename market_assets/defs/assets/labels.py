"""``labels``: forward returns, direction and signal classes, once their window has closed."""

import dagster as dg
import polars as pl
from pydantic import Field

from market_assets.defs.metadata import frame_preview
from market_assets.defs.assets.daily import DAILY, session_window
from market_assets.defs.partitions import partition_dates

HORIZONS = (1, 5, 20)
QUANTILE_WINDOW = 252
MAX_HORIZON = max(HORIZONS)


class LabelConfig(dg.Config):
    """Signal-class thresholds (forward-return quantiles by default, point in time)."""

    class_quantiles: list[float] = Field(
        default=[0.1, 0.3, 0.7, 0.9],
        description="Quantiles of past forward returns separating STRONG_SELL|SELL|HOLD|BUY|STRONG_BUY.",
    )
    class_thresholds: list[float] | None = Field(
        default=None, description="Fixed return thresholds instead of quantiles (four values)."
    )


@dg.asset(
    **DAILY,
    group_name="features",
    kinds={"polars", "parquet"},
    ins={"validated_prices": session_window(QUANTILE_WINDOW + MAX_HORIZON, MAX_HORIZON)},
)
def labels(context: dg.AssetExecutionContext, config: LabelConfig, validated_prices: pl.DataFrame) -> dg.Output:
    """Forward returns over 1, 5 and 20 sessions, direction and five signal classes; needs t + 20 closed."""
    from market_assets.quant.labels import compute_labels

    sessions = partition_dates(context.partition_keys)
    later = validated_prices.filter(pl.col("date") > sessions[-1])["date"].n_unique()
    if later < MAX_HORIZON:
        raise dg.Failure(
            f"labels for {sessions[-1]} need the {MAX_HORIZON} sessions after it to have closed and "
            f"been validated; only {later} are. Materialize labels for sessions at least "
            f"{MAX_HORIZON} sessions in the past."
        )
    frame = compute_labels(
        validated_prices,
        horizons=HORIZONS,
        class_quantiles=config.class_quantiles,
        class_thresholds=tuple(config.class_thresholds) if config.class_thresholds else None,
        quantile_window=QUANTILE_WINDOW,
    ).filter(pl.col("date").is_in(sessions))
    metadata: dict[str, object] = {"sessions": len(sessions), "symbols": frame["symbol"].n_unique()}
    for h in HORIZONS:
        metadata[f"mean_fwd_ret_{h}"] = float(frame[f"fwd_ret_{h}"].mean() or 0.0)
        metadata[f"class_null_share_{h}"] = float(frame[f"fwd_class_{h}"].is_null().mean() or 0.0)
    metadata["preview"] = frame_preview(frame)
    return dg.Output(frame, metadata=metadata)
