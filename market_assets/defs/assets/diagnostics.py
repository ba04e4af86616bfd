"""``feature_ic``: how well each feature has predicted each label, session by session."""

import dagster as dg
import polars as pl

from market_assets.defs.assets.labels import HORIZONS
from market_assets.defs.metadata import markdown_table
from market_assets.defs.assets.daily import DAILY
from market_assets.defs.partitions import partition_dates


@dg.asset(
    **DAILY,
    group_name="features",
    kinds={"polars", "parquet"},
)
def feature_ic(context: dg.AssetExecutionContext, feature_table: pl.DataFrame, labels: pl.DataFrame) -> dg.Output:
    """Cross-sectional IC and rank IC of every feature with each forward return, per session."""
    from market_assets.quant.feature_quality import daily_feature_ic

    sessions = partition_dates(context.partition_keys)
    targets = [f"fwd_ret_{h}" for h in HORIZONS]
    ic = daily_feature_ic(feature_table, labels, targets)
    summary = (
        ic.group_by("feature", "label")
        .agg(pl.col("rank_ic").mean().alias("mean_rank_ic"), pl.col("rank_ic").std().alias("std_rank_ic"))
        .with_columns((pl.col("mean_rank_ic") / pl.col("std_rank_ic")).alias("icir"))
    )
    metadata: dict[str, object] = {"sessions": len(sessions), "features": ic["feature"].n_unique()}
    for target in targets:
        top = (
            summary.filter(pl.col("label") == target)
            .sort(pl.col("mean_rank_ic").abs(), descending=True, nulls_last=True)
            .head(15)
            .drop("label")
        )
        metadata[f"top_features_{target}"] = markdown_table(top.to_dicts(), limit=15)
    context.log.info(f"feature IC over {len(sessions):,} session(s) for {len(targets)} horizons")
    return dg.Output(ic, metadata=metadata)
