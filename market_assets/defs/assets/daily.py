"""What every daily (trading-session) asset shares."""

import dagster as dg

from market_assets.defs.partitions import SESSIONS

#: One partition per session, a backfill is one run, Parquet per session.
DAILY = {
    "partitions_def": SESSIONS,
    "backfill_policy": dg.BackfillPolicy.single_run(),
    "io_manager_key": "parquet_io_manager",
}


def session_window(before: int, after: int = 0) -> dg.AssetIn:
    """An input holding ``before`` sessions of history before the partitions and ``after`` after.

    Sessions before the first partition simply do not exist; history that was
    never materialized is skipped with a warning; so are the last ``after``
    sessions (they may not have closed yet: the asset decides).
    """
    return dg.AssetIn(
        partition_mapping=dg.TimeWindowPartitionMapping(
            start_offset=-before, end_offset=after, allow_nonexistent_upstream_partitions=True
        ),
        metadata={"lookback_partitions": before, "lookahead_partitions": after},
    )
