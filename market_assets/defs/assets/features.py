"""``feature_table``: the indicator library over a lookback window of validated prices."""

import dagster as dg
import polars as pl
from pydantic import Field

from market_assets.defs.checks.feature_checks import FEATURE_CHECK_SPECS, feature_check_results
from market_assets.defs.metadata import frame_preview
from market_assets.defs.assets.regimes import REGIME_WARMUP_SESSIONS
from market_assets.defs.assets.daily import DAILY, session_window
from market_assets.defs.partitions import partition_dates
from market_assets.quant.features import FEATURE_SPECS, max_warmup

# Features whose value depends on where the data starts (cumulative OBV and A/D
# levels, Parabolic SAR) are left out: a nightly run and a full recompute would
# disagree. Their windowed versions (obv_flow_20, cmf_20, vpt_flow_20) stay.
FEATURES = [name for name, spec in FEATURE_SPECS.items() if not spec.history_dependent]
REGIME_FEATURES = ["p_bull", "p_bear", "p_sideways"]


class FeatureCheckConfig(dg.Config):
    """Limits of the feature checks."""

    max_null_share: float = Field(
        default=0.05, description="ERROR when a feature is null on more than this share of rows past warm-up."
    )
    max_abs_corr: float = Field(
        default=0.95, description="WARN on feature pairs with |Pearson correlation| above this."
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
        checked = table.join(history, on=["date", "symbol"], how="left")
        yield dg.Output(
            table,
            metadata={
                "sessions": len(sessions),
                "symbols": table["symbol"].n_unique(),
                "features": len(table.columns) - 2,
                "lookback_sessions": lookback,
                "preview": frame_preview(table.select(table.columns[:8]).tail(10)),
            },
        )
        yield from feature_check_results(
            checked,
            warmups=warmups,
            per_date_features=per_date,
            max_null_share=config.max_null_share,
            max_abs_corr=config.max_abs_corr,
        )

    return feature_table


feature_table = build_feature_table(FEATURES)
