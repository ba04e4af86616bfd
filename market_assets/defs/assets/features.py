"""``feature_table``: the indicator library over a lookback window of validated prices."""

import dagster as dg
import polars as pl
from pydantic import Field

from market_assets.defs.assets.daily import DAILY, session_window
from market_assets.defs.checks.feature_checks import FEATURE_CHECK_SPECS, feature_check_results
from market_assets.defs.columns import declared_column_schema
from market_assets.defs.metadata import add_partition_metadata, frame_preview
from market_assets.defs.partitions import partition_dates
from market_assets.quant.features import FEATURE_SPECS, canonical_feature_names, max_warmup
from market_assets.workflow.regimes import REGIME_WARMUP_SESSIONS

# Features whose value depends on where the data starts (cumulative OBV and A/D
# levels, Parabolic SAR) are left out: a nightly run and a full recompute would
# disagree. Their windowed versions (obv_flow_20, cmf_20, vpt_flow_20) stay.
# Aliases (affine copies such as willr_14 = stoch_fastk_14 - 100, see
# market_assets.quant.indicators.relations) are stored once, as their canonical feature.
FEATURES = canonical_feature_names(history_dependent=False)
REGIME_FEATURES = ["p_bull", "p_bear", "p_sideways"]


class FeatureCheckConfig(dg.Config):
    """Limits of the feature checks."""

    max_null_share: float = Field(
        default=0.05, description="ERROR when a feature is null on more than this share of rows past warm-up."
    )
    max_abs_corr: float = Field(
        default=0.95, description="WARN on feature pairs with |Pearson correlation| above this."
    )
    per_session_check_limit: int = Field(
        default=31, ge=0,
        description="Range runs of at most this many sessions also record each row check's result on each "
        "session (one event per session and check); longer runs record one result per check with a "
        "per-session breakdown.",
    )


def build_feature_table(features: list[str]) -> dg.AssetsDefinition:
    """The ``feature_table`` asset computing ``features`` (tests use small subsets).

    It reads ``max_warmup(features)`` sessions of validated prices before its
    first partition: enough history to reproduce every value of a full
    recompute (recursive smoothing to 1e-10 relative).
    """
    lookback = max_warmup(features)
    per_date = [n for n in features if FEATURE_SPECS[n].group == "calendar"] + REGIME_FEATURES
    warmups = {n: FEATURE_SPECS[n].warmup for n in features} | dict.fromkeys(
        REGIME_FEATURES, REGIME_WARMUP_SESSIONS
    )

    @dg.asset(
        **DAILY,
        name="feature_table",
        group_name="features",
        kinds={"numpy", "parquet"},
        ins={"validated_prices": session_window(lookback), "market_regimes": dg.AssetIn()},
        check_specs=FEATURE_CHECK_SPECS,
        metadata=declared_column_schema({"date": pl.Date(), "symbol": pl.String(),
                                         **dict.fromkeys([*features, *REGIME_FEATURES], pl.Float64())}),
    )
    def feature_table(
        context: dg.AssetExecutionContext,
        config: FeatureCheckConfig,
        validated_prices: pl.DataFrame,
        market_regimes: pl.DataFrame,
    ):
        """One row per (session, symbol): documented indicator features plus market regime probabilities."""
        from market_assets.quant.features import compute_features

        sessions = partition_dates(context.partition_keys)
        context.log.info(
            f"computing {len(features)} features for {len(sessions):,} session(s) from "
            f"{validated_prices.height:,} validated rows ({validated_prices['date'].n_unique():,} sessions "
            f"incl. up to {lookback} of lookback)"
        )
        history = validated_prices.select(
            "date", "symbol", pl.int_range(pl.len()).over("symbol", order_by="date").alias("history")
        )
        table = (
            compute_features(validated_prices, features=features, output_dates=sessions)
            .join(market_regimes.select("date", *REGIME_FEATURES), on="date", how="left")
        )
        context.log.info(
            f"{table.height:,} rows, {table['symbol'].n_unique():,} symbols, "
            f"{_null_share(table):.2%} of feature values null over the run's sessions"
        )
        add_partition_metadata(context, table, _describe)
        yield dg.Output(table)
        yield from feature_check_results(
            table.join(history, on=["date", "symbol"], how="left"),
            sessions=sorted(context.partition_keys),
            warmups=warmups,
            per_date_features=per_date,
            max_null_share=config.max_null_share,
            max_abs_corr=config.max_abs_corr,
            per_session_limit=config.per_session_check_limit,
        )

    return feature_table


def _describe(partition_key: str, rows: pl.DataFrame) -> dict[str, object]:
    """The session's own counts, null share and preview."""
    return {
        "rows": rows.height,
        "symbols": rows["symbol"].n_unique(),
        "features": len(rows.columns) - 2,
        "null_share": dg.MetadataValue.float(_null_share(rows)),
        "preview": frame_preview(rows.select(rows.columns[:8])),
    }


def _null_share(frame: pl.DataFrame) -> float:
    """Share of null cells among the feature columns (warm-up included); 0.0 for no rows."""
    cells = frame.height * (len(frame.columns) - 2)
    return float(frame.drop("date", "symbol").null_count().sum_horizontal()[0] / cells) if cells else 0.0


feature_table = build_feature_table(FEATURES)
