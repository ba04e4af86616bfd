"""``labels``: forward returns, direction and signal classes, once their window has closed."""

import dagster as dg
import polars as pl
from pydantic import Field

from market_assets.defs.assets.daily import DAILY, session_window
from market_assets.defs.metadata import add_partition_metadata, frame_preview
from market_assets.defs.partitions import partition_dates
from market_assets.quant.labels import HORIZONS, MAX_HORIZON, QUANTILE_WINDOW, last_labelable_session


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
    validated_sessions = validated_prices["date"].unique().sort().to_list()
    ready = last_labelable_session(validated_sessions, validated_sessions[-1], MAX_HORIZON)
    if ready is None or sessions[-1] > ready:
        later = sum(1 for s in validated_sessions if s > sessions[-1])
        raise dg.Failure(
            f"labels for {sessions[-1]} need the {MAX_HORIZON} sessions after it to have closed and "
            f"been validated; only {later} are (the last labelable session is {ready}). Materialize "
            f"labels for sessions at least {MAX_HORIZON} sessions in the past."
        )
    frame = compute_labels(
        validated_prices,
        horizons=HORIZONS,
        class_quantiles=config.class_quantiles,
        class_thresholds=tuple(config.class_thresholds) if config.class_thresholds else None,
        quantile_window=QUANTILE_WINDOW,
    ).filter(pl.col("date").is_in(sessions))
    context.log.info(f"labels of {len(sessions):,} session(s) for {frame['symbol'].n_unique()} symbols")
    add_partition_metadata(context, frame, _describe)
    return dg.Output(frame)


def _describe(key: str, rows: pl.DataFrame) -> dict[str, object]:
    """One session's label statistics (plotted over partitions in the UI)."""
    metadata: dict[str, object] = {"rows": rows.height, "symbols": rows["symbol"].n_unique()}
    for h in HORIZONS:
        returns = rows[f"fwd_ret_{h}"]
        metadata[f"mean_fwd_ret_{h}"] = dg.MetadataValue.float(float(returns.mean() or 0.0))
        metadata[f"share_up_{h}"] = dg.MetadataValue.float(float(rows[f"fwd_dir_{h}"].mean() or 0.0))
        metadata[f"class_null_share_{h}"] = dg.MetadataValue.float(
            float(rows[f"fwd_class_{h}"].is_null().mean() or 0.0) if rows.height else 0.0
        )
    metadata["preview"] = frame_preview(rows)
    return metadata
