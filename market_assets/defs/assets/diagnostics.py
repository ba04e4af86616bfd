"""``feature_ic``: how well each feature has predicted each label, session by session."""

import dagster as dg
import polars as pl

from market_assets.defs.assets.daily import DAILY
from market_assets.defs.metadata import add_partition_metadata, markdown_table
from market_assets.defs.partitions import partition_dates
from market_assets.quant.labels import HORIZONS

TARGETS = [f"fwd_ret_{h}" for h in HORIZONS]
TOP = 15


@dg.asset(
    **DAILY,
    group_name="features",
    kinds={"polars", "parquet"},
)
def feature_ic(context: dg.AssetExecutionContext, feature_table: pl.DataFrame, labels: pl.DataFrame) -> dg.Output:
    """Cross-sectional IC and rank IC of every feature with each forward return, per session."""
    from market_assets.quant.feature_quality import daily_feature_ic
    from market_assets.quant.features import feature_families

    sessions = partition_dates(context.partition_keys)
    ic = daily_feature_ic(feature_table, labels, TARGETS)
    families = feature_families(ic["feature"].unique().to_list())
    if len(sessions) > 1:
        for target, table in _range_top_families(ic, families).items():
            context.log.info(f"strongest feature families for {target} over {len(sessions):,} sessions "
                             f"(mean rank IC, per-period rank ICIR):\n{table}")
    add_partition_metadata(context, ic, lambda key, rows: _describe(rows, families))
    return dg.Output(ic)


def _describe(rows: pl.DataFrame, families: dict[str, str]) -> dict[str, object]:
    """A session's own IC numbers: features scored, mean |rank IC| and the top families per label."""
    from market_assets.quant.feature_quality import best_by_family

    metadata: dict[str, object] = {"rows": rows.height, "features": rows["feature"].n_unique()}
    for target in TARGETS:
        own = rows.filter(pl.col("label") == target)
        defined = own["rank_ic"].drop_nulls()
        metadata[f"features_with_ic_{target}"] = defined.len()
        if defined.len():
            metadata[f"mean_abs_rank_ic_{target}"] = dg.MetadataValue.float(float(defined.abs().mean()))
        top = best_by_family(own.select("feature", "rank_ic", "ic"), families, score="rank_ic", limit=TOP)
        metadata[f"top_families_{target}"] = markdown_table(top.to_dicts(), limit=TOP)
    return metadata


def _range_top_families(ic: pl.DataFrame, families: dict[str, str]) -> dict[str, str]:
    """Per label, the strongest families over the run's sessions as text (for the run's log)."""
    from market_assets.quant.feature_quality import best_by_family
    from market_assets.quant.ic import summarise_ic

    summary = summarise_ic(ic, by=["feature", "label"])
    out = {}
    for target in TARGETS:
        scores = summary.filter(pl.col("label") == target).select(
            "feature", "mean_rank_ic", "rank_icir", pl.col("n_rank_sessions").alias("sessions")
        )
        top = best_by_family(scores, families, score="mean_rank_ic", limit=TOP)
        out[target] = markdown_table(top.to_dicts(), limit=TOP).value
    return out
