"""Price assets: ``raw_prices`` as received, ``validated_prices`` and
``price_rejections`` after the Great Expectations suite."""

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import polars as pl
from pydantic import Field

from market_assets.defs.columns import declared_column_schema
from market_assets.defs.checks.price_checks import PRICE_CHECK_SPECS, check_results, session_check_evaluations
from market_assets.defs.metadata import add_partition_metadata, frame_preview, markdown_table, partition_frames
from market_assets.defs.assets.daily import DAILY, session_window
from market_assets.defs.io_manager import PartitionedParquetIOManager
from market_assets.defs.partitions import SESSIONS, last_day_of_session, partition_dates
from market_assets.defs.resources import PriceSourceResource
from market_assets.quant.validation.received import RECEIVED_DATE
from market_assets.schema import PRICE_SCHEMA

#: The stored tables' columns, in order (declared on the assets; see declared_column_schema).
RAW_PRICES_SCHEMA = {"date": PRICE_SCHEMA["date"], RECEIVED_DATE: pl.Date(),
                     **{name: dtype for name, dtype in PRICE_SCHEMA.items() if name != "date"}}
VALIDATED_PRICES_SCHEMA = PRICE_SCHEMA
PRICE_REJECTIONS_SCHEMA = {**RAW_PRICES_SCHEMA, "reasons": pl.String()}

# Sessions of history the jump rule compares against (median of the previous N).
JUMP_LOOKBACK_SESSIONS = 5


class PriceValidationConfig(dg.Config):
    """Thresholds of the validation suite (editable in the launchpad)."""

    max_abs_log_jump: float = Field(
        default=1.0,
        description="Reject a close whose |ln(adj_close / median of the previous sessions)| "
        "exceeds this (1.0 ≈ −63% / +172%; splits are explained by adj_close).",
    )
    max_bad_share: float = Field(
        default=0.2,
        description="ERROR (blocks downstream) when a session's missing + rejected cells exceed this "
        "share of the universe.",
    )
    per_session_check_limit: int = Field(
        default=31, ge=0,
        description="Range runs of at most this many sessions also record each check's result on each "
        "session (one event per session and check); longer runs record one result per check with a "
        "per-session breakdown.",
    )


@dg.asset(
    **DAILY,
    group_name="prices",
    kinds={"polars", "parquet"},
    metadata=declared_column_schema(RAW_PRICES_SCHEMA),
)
def raw_prices(
    context: dg.AssetExecutionContext,
    price_source: PriceSourceResource,
    parquet_io_manager: dg.ResourceParam[PartitionedParquetIOManager],
) -> dg.Output:
    """Daily OHLCV bars of the whole universe as the price source delivered them, adj_close on the stored basis."""
    from market_assets.quant.adjustments import rebase_to_stored
    from market_assets.quant.validation.received import off_session, store_under_sessions

    sessions = partition_dates(context.partition_keys)
    source = price_source.build()
    context.log.info(
        f"fetching {source.name} prices for {len(sessions):,} session(s) "
        f"{sessions[0]} … {sessions[-1]}"
    )
    # The fetch starts at the stored session before the run (if any): per symbol, its
    # adj_close / close then tells whether the provider re-adjusted history since, and the
    # fetched adj_close is chained onto the stored basis, so a split on this run's first
    # session stays a split (market_assets.quant.adjustments).
    previous = _stored_session_before(context.asset_key, parquet_io_manager, sessions[0])
    # Every received row is stored: one dated off-session (or undated) goes under the
    # nearest session on or before its date (else the first), received_date keeping its
    # date, and validation rejects it there as date_not_in_sessions.  The fetch reaches
    # the days the last session owns (its weekend), so a nightly run sees what a backfill does.
    received = source.fetch(previous[0] if previous else sessions[0], last_day_of_session(sessions[-1]))
    basis = None
    if previous is not None:
        rebased = rebase_to_stored(received, previous[1], previous[0], sessions[0],
                                   previous_rebase=_recorded_rebase(context, previous[0]))
        received, basis = rebased.prices, rebased.basis
        _log_readjustment(context, source.name, previous[0], rebased.readjusted)
    stored = store_under_sessions(received, sessions)
    outside = stored.filter(off_session(stored))
    if outside.height:
        context.log.warning(
            f"{outside.height} row(s) dated on days that are not trading sessions (or undated) are stored "
            f"under the nearest session on or before their date, else the run's first (received_date keeps "
            f"their date), and will be rejected as date_not_in_sessions, e.g. {outside.head(3).to_dicts()}"
        )
    add_partition_metadata(
        context,
        stored,
        lambda key, rows: {
            "source": source.name,
            "rows": rows.height,
            "symbols": rows["symbol"].n_unique(),
            "rows_off_session": int(off_session(rows).sum()),
            **_basis_metadata(basis, first=key == sessions[0].isoformat(), last=key == sessions[-1].isoformat()),
            "preview": frame_preview(rows),
        },
    )
    return dg.Output(stored)


def _stored_session_before(asset_key: dg.AssetKey, io_manager: PartitionedParquetIOManager, first: dt.date
                           ) -> tuple[dt.date, pl.DataFrame] | None:
    """The session before ``first`` and its stored raw rows; None when it was never materialized."""
    window = SESSIONS.get_prev_partition_window(dt.datetime.combine(first, dt.time(), ZoneInfo(SESSIONS.timezone)))
    if window is None:
        return None
    key = window.start.date().isoformat()
    try:
        frame, _ = io_manager.read_partitions(asset_key, [key], optional=[key])
    except FileNotFoundError:  # raised only when none of the keys is stored: nothing to chain onto
        return None
    return window.start.date(), frame


def _recorded_rebase(context: dg.AssetExecutionContext, session: dt.date) -> dict[str, float]:
    """The ``adj_close_rebase`` recorded when ``session`` was last stored (empty: none recorded)."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=context.asset_key, asset_partitions=[session.isoformat()]), limit=1
    ).records
    materialization = records[0].asset_materialization if records else None
    recorded = materialization.metadata.get("adj_close_rebase") if materialization else None
    return dict(recorded.value) if recorded is not None else {}


def _log_readjustment(context: dg.AssetExecutionContext, source: str, overlap: dt.date,
                      readjusted: pl.DataFrame) -> None:
    if readjusted.height:
        context.log.warning(
            f"history_readjusted: {source} changed adj_close / close of {readjusted.height} symbol(s) on the "
            f"stored session {overlap} since it was stored (a split or dividend); the fetched adj_close is "
            f"multiplied by stored / fetched to stay on the stored basis, nothing stored is re-fetched: "
            f"{readjusted.head(5).to_dicts()}"
        )


def _basis_metadata(basis: pl.DataFrame | None, *, first: bool, last: bool) -> dict[str, object]:
    """``history_readjusted`` (found on the run's first session, 0 on the others) and, on the last
    session (the next run's overlap), the ``adj_close_rebase`` applied per symbol (1.0 omitted)."""
    readjusted = basis.filter(pl.col("readjusted")) if basis is not None and first else None
    metadata: dict[str, object] = {"history_readjusted": readjusted.height if readjusted is not None else 0}
    if readjusted is not None and readjusted.height:
        metadata["history_readjusted_symbols"] = markdown_table(readjusted.drop("readjusted").to_dicts())
    if last:
        rebased = basis.filter(pl.col("rebase") != 1.0) if basis is not None else None
        metadata["adj_close_rebase"] = dg.MetadataValue.json(
            dict(rebased.select("symbol", "rebase").iter_rows()) if rebased is not None else {})
    return metadata


@dg.multi_asset(
    outs={
        "validated_prices": dg.AssetOut(
            io_manager_key="parquet_io_manager",
            description="Rows of raw_prices that pass every validation rule; unique (date, symbol).",
            kinds={"polars", "parquet"},
            metadata=declared_column_schema(VALIDATED_PRICES_SCHEMA),
        ),
        "price_rejections": dg.AssetOut(
            io_manager_key="parquet_io_manager",
            description="Rows of raw_prices that failed validation, as received, with reason codes.",
            kinds={"polars", "parquet"},
            metadata=declared_column_schema(PRICE_REJECTIONS_SCHEMA),
        ),
    },
    ins={"raw_prices": session_window(JUMP_LOOKBACK_SESSIONS)},
    partitions_def=SESSIONS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    check_specs=PRICE_CHECK_SPECS,
    group_name="prices",
)
def validate_prices_step(
    context: dg.AssetExecutionContext,
    config: PriceValidationConfig,
    raw_prices: pl.DataFrame,
    price_source: PriceSourceResource,
):
    """Runs the price suite on raw_prices; routes each row to validated_prices or price_rejections."""
    from market_assets.quant.validation import ValidationConfig, validate_prices

    sessions = partition_dates(context.partition_keys)
    universe = price_source.build().symbols()
    context.log.info(
        f"validating {raw_prices.height:,} raw rows ({len(sessions):,} session(s) plus up to "
        f"{JUMP_LOOKBACK_SESSIONS} of history) against a universe of {len(universe)} symbols"
    )
    result = validate_prices(
        raw_prices,
        sessions=sessions,
        universe=universe,
        config=ValidationConfig(
            max_abs_log_jump=config.max_abs_log_jump,
            jump_reference_sessions=JUMP_LOOKBACK_SESSIONS,
            max_bad_share=config.max_bad_share,
        ),
    )
    validated, rejections = result.validated, result.rejections
    context.log.info(
        f"{validated.height:,} rows validated, {rejections.height:,} rejected {_reason_counts(rejections)}"
    )
    keys = [s.isoformat() for s in sessions]
    raw_rows = {k: f.height for k, f in partition_frames(raw_prices, keys).items()}
    valid_rows = _validated_metadata(context, validated, rejections, raw_rows, len(universe))
    yield dg.Output(validated, output_name="validated_prices")
    add_partition_metadata(
        context,
        rejections,
        lambda key, rows: {
            "rows": rows.height,
            "rejections_by_reason": markdown_table(
                [{"reason": r, "rows": n} for r, n in _reason_counts(rows).items()]
            ),
            "examples": frame_preview(rows),
        },
        asset_key="price_rejections",
    )
    yield dg.Output(rejections, output_name="price_rejections")
    if len(keys) <= config.per_session_check_limit:
        for evaluation in session_check_evaluations(
            result.outcomes, keys, raw_rows=raw_rows, valid_rows=valid_rows,
            universe_size=len(universe), max_bad_share=config.max_bad_share,
        ):
            context.log_event(evaluation)
    yield from check_results(result.outcomes, keys)


def _validated_metadata(context, validated, rejections, raw_rows: dict[str, int], universe_size: int):
    """Each session's own counts on ``validated_prices``; returns the valid rows per session."""
    rejected = {k: f.height for k, f in partition_frames(rejections, list(raw_rows)).items()}
    valid_rows: dict[str, int] = {}

    def describe(key: str, rows: pl.DataFrame) -> dict[str, object]:
        valid_rows[key] = rows.height
        total = rows.height + rejected[key]
        return {
            "rows": rows.height,
            "symbols": rows["symbol"].n_unique(),
            "missing_symbols": max(universe_size - rows["symbol"].n_unique(), 0),
            "rows_rejected": rejected[key],
            "rejected_share": dg.MetadataValue.float(rejected[key] / total if total else 0.0),
            "raw_rows": raw_rows[key],
            "mean_intraday_return": dg.MetadataValue.float(
                float((rows["close"] / rows["open"] - 1).mean()) if rows.height else float("nan")
            ),
            "dollar_volume": dg.MetadataValue.float(float((rows["close"] * rows["volume"]).sum())),
        }

    add_partition_metadata(context, validated, describe, asset_key="validated_prices")
    return valid_rows


def _reason_counts(rejections: pl.DataFrame) -> dict[str, int]:
    """Rows per reason code (a row with two reasons counts for both)."""
    if rejections.is_empty():
        return {}
    counts = (
        rejections.select(pl.col("reasons").str.split(";").alias("reason"))
        .explode("reason")
        .group_by("reason")
        .len()
        .sort("len", descending=True)
    )
    return dict(zip(counts["reason"].to_list(), counts["len"].to_list(), strict=True))
