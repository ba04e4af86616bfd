"""``market_regimes``: bull / bear / sideways probabilities of the market, point in time."""

import datetime as dt
from itertools import groupby

import dagster as dg
import polars as pl

from market_assets.defs.metadata import frame_preview
from market_assets.defs.assets.daily import DAILY, session_window
from market_assets.defs.partitions import partition_dates

# The HMM for the sessions of month M is fitted on the FIT_SESSIONS market rows
# up to the last session before M (refit monthly), and its forward filter
# starts at the first row of that fit window.  Both ends are fixed by M, so a
# nightly run and a ten-year backfill give the same probabilities.
FIT_SESSIONS = 504
VOL_WINDOW = 20
LOOKBACK_SESSIONS = FIT_SESSIONS + VOL_WINDOW + 25  # + the sessions of the current month
MIN_FIT_ROWS = 120
# A symbol-independent warm-up: the first month with a model starts after this many sessions.
REGIME_WARMUP_SESSIONS = VOL_WINDOW + MIN_FIT_ROWS + 23

REGIME_SCHEMA = {
    "date": pl.Date(), "regime": pl.String(), "p_bull": pl.Float64(),
    "p_bear": pl.Float64(), "p_sideways": pl.Float64(), "fit_end": pl.Date(),
}


@dg.asset(
    **DAILY,
    group_name="features",
    kinds={"hmmlearn", "parquet"},
    ins={"validated_prices": session_window(LOOKBACK_SESSIONS)},
)
def market_regimes(context: dg.AssetExecutionContext, validated_prices: pl.DataFrame) -> dg.Output:
    """Filtered probabilities of a 3-state Gaussian HMM (bull / bear / sideways) fitted only on past data."""
    from market_assets.quant.regimes import market_series

    sessions = partition_dates(context.partition_keys)
    market = market_series(validated_prices, vol_window=VOL_WINDOW)
    frames = []
    for (year, month), days in groupby(sessions, key=lambda d: (d.year, d.month)):
        month_days = list(days)
        frames.append(_month_probabilities(context, market, month_days))
    result = pl.concat(frames, how="vertical")
    unfitted = result.filter(pl.col("regime").is_null()).height
    return dg.Output(
        result,
        metadata={
            "sessions": len(sessions),
            "sessions_without_model": unfitted,
            "share_bull": _share(result, "bull"),
            "share_bear": _share(result, "bear"),
            "share_sideways": _share(result, "sideways"),
            "preview": frame_preview(result.tail(10)),
        },
    )


def _month_probabilities(
    context: dg.AssetExecutionContext, market: pl.DataFrame, days: list[dt.date]
) -> pl.DataFrame:
    """Probabilities for ``days`` (one calendar month) from that month's model."""
    from market_assets.quant.regimes import fit_regime_model, regime_probabilities

    history = market.filter(pl.col("date") < days[0]).drop_nulls().tail(FIT_SESSIONS)
    if history.height < MIN_FIT_ROWS:
        context.log.warning(
            f"{days[0]:%Y-%m}: only {history.height} complete market rows before the month "
            f"(need {MIN_FIT_ROWS}); regimes left null"
        )
        return pl.DataFrame({"date": days}, schema={"date": pl.Date()}).with_columns(
            pl.lit(None, dtype=dtype).alias(name) for name, dtype in REGIME_SCHEMA.items() if name != "date"
        )
    fit_end = history["date"].max()
    model = fit_regime_model(history, fit_end=fit_end)
    context.log.info(f"{days[0]:%Y-%m}: regime HMM fitted on {history.height} sessions up to {fit_end}")
    window = market.filter((pl.col("date") >= history["date"].min()) & (pl.col("date") <= days[-1]))
    probabilities = regime_probabilities(model, window).select("date", "regime", "p_bull", "p_bear", "p_sideways")
    return (
        pl.DataFrame({"date": days}, schema={"date": pl.Date()})
        .join(probabilities, on="date", how="left")
        .with_columns(pl.lit(fit_end).alias("fit_end"))
        .select(list(REGIME_SCHEMA))
    )


def _share(frame: pl.DataFrame, regime: str) -> float:
    known = frame.filter(pl.col("regime").is_not_null())
    return float((known["regime"] == regime).mean()) if known.height else 0.0
