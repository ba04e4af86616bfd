"""``market_regimes``: bull / bear / sideways probabilities of the market, point in time."""

import dagster as dg
import polars as pl

from market_assets.defs.assets.daily import DAILY, session_window
from market_assets.defs.metadata import add_partition_metadata, frame_preview
from market_assets.defs.partitions import partition_dates
from market_assets.workflow.regimes import LOOKBACK_SESSIONS


@dg.asset(
    **DAILY,
    group_name="features",
    kinds={"hmmlearn", "parquet"},
    ins={"validated_prices": session_window(LOOKBACK_SESSIONS)},
)
def market_regimes(context: dg.AssetExecutionContext, validated_prices: pl.DataFrame) -> dg.Output:
    """Filtered probabilities of a 3-state Gaussian HMM (bull / bear / sideways) refitted monthly on past data."""
    from market_assets.settings import load_settings
    from market_assets.workflow.regimes import regime_probabilities_for

    sessions = partition_dates(context.partition_keys)
    result, fits = regime_probabilities_for(validated_prices, sessions, calendar=load_settings().calendar)
    for fit in fits:
        (context.log.info if fit.fitted else context.log.warning)(fit.describe())
    known = result.filter(pl.col("regime").is_not_null())
    shares = ", ".join(f"{r} {(known['regime'] == r).mean():.0%}" for r in ("bull", "bear", "sideways")) \
        if known.height else "no model"
    context.log.info(f"{len(sessions):,} session(s), {result.height - known.height} without a model; {shares}")
    add_partition_metadata(context, result, _describe)
    return dg.Output(result)


def _describe(partition_key: str, rows: pl.DataFrame) -> dict[str, object]:
    """The session's own regime and probabilities (floats plot over partitions)."""
    metadata: dict[str, object] = {"has_model": bool(rows.height and rows["fit_end"][0] is not None)}
    if rows.height and rows["regime"][0] is not None:
        row = rows.row(0, named=True)
        metadata |= {
            "regime": row["regime"],
            **{name: dg.MetadataValue.float(float(row[name])) for name in ("p_bull", "p_bear", "p_sideways")},
        }
    if rows.height and rows["fit_end"][0] is not None:
        metadata["fit_end"] = rows["fit_end"][0].isoformat()
    metadata["preview"] = frame_preview(rows)
    return metadata
