"""``retrained_model``: a model retrained at a session's close because a drift or performance check failed.

Retraining the current week's partition on the data it already saw would
change nothing, so a retrain is its own partition: session ``s`` is the model
trained on everything known at ``s``'s close.  Its cut-off (``train_end``,
the first day it may serve) is the day after ``s``; predictions for a
session ``t`` only use versions whose cut-off is on or before ``t``, i.e.
trained on sessions before ``t``.  Labels closed by ``s`` but not yet in the
``labels`` asset (which waits for the longest horizon) are computed from
validated prices up to ``s``, exactly as ``labels`` will compute them, so the
retrain sees the sessions that triggered it.  The champion/challenger gate
decides promotion, as for the weekly models.  The retrain sensor requests
these partitions; a user may also materialize one by hand.
"""


import datetime as dt

import dagster as dg
import polars as pl

from market_assets.calendars import sessions_between
from market_assets.defs.assets.daily import session_window
from market_assets.defs.assets.models import HISTORY_WEEKS, TrainingConfig, week_metadata
from market_assets.defs.partitions import SESSIONS, partition_dates
from market_assets.defs.resources import MlflowResource, OptunaResource
from market_assets.quant.labels import MAX_HORIZON, QUANTILE_WINDOW
from market_assets.settings import load_settings

SETTINGS = load_settings()

#: Session s -> every session up to and including s (as far back as a weekly model reads).
RETRAIN_HISTORY = dg.TimeWindowPartitionMapping(
    start_offset=-5 * HISTORY_WEEKS, end_offset=0, allow_nonexistent_upstream_partitions=True
)
_ANY_SESSION_MAY_BE_MISSING = {"lookback_partitions": 10**9}
#: Prices behind the labels that closed after the ``labels`` asset's last partition.
RECENT_PRICES = QUANTILE_WINDOW + 2 * MAX_HORIZON + 5

#: Run tags the retrain sensor sets and the version records.
TRIGGER_TAGS = ("market_assets/retrain_trigger", "market_assets/failed_checks", "market_assets/failed_partition")


@dg.asset(
    partitions_def=SESSIONS,
    ins={
        "feature_table": dg.AssetIn(partition_mapping=RETRAIN_HISTORY, metadata=_ANY_SESSION_MAY_BE_MISSING),
        "labels": dg.AssetIn(partition_mapping=RETRAIN_HISTORY, metadata=_ANY_SESSION_MAY_BE_MISSING),
        "validated_prices": session_window(RECENT_PRICES),
    },
    group_name="models",
    kinds={"mlflow", "scikitlearn"},
    pool="training",
)
def retrained_model(
    context: dg.AssetExecutionContext,
    config: TrainingConfig,
    feature_table: pl.DataFrame,
    labels: pl.DataFrame,
    validated_prices: pl.DataFrame,
    mlflow: MlflowResource,
    optuna: OptunaResource,
) -> dg.MaterializeResult:
    """A model trained on everything known at the session's close (cut-off: the next day); champion if it beats the champion."""
    from market_assets.workflow.training import train_period

    trigger = {k: context.run.tags[k] for k in TRIGGER_TAGS if k in context.run.tags}
    for session in partition_dates(context.partition_keys):
        train_end = session + dt.timedelta(days=1)
        known = labels_known_at(labels, validated_prices, session)
        result = train_period(
            feature_table.filter(pl.col("date") <= session), known, spec=config.spec(), train_end=train_end,
            sessions=sessions_between(SETTINGS.calendar, SETTINGS.start_date, session + dt.timedelta(days=60)),
            tracking=mlflow.tracking(), options=config.options(),
            optuna_storage=optuna.storage, log=context.log, period=f"retrain after {session.isoformat()}",
            tags={"dagster_run_id": context.run.run_id, "partition": session.isoformat(),
                  "cut_off_session": session.isoformat(), **{k.split("/")[-1]: v for k, v in trigger.items()}},
        )
        context.add_asset_metadata(
            {**week_metadata(result), "cut_off_session": session.isoformat(),
             "trigger": trigger.get("market_assets/retrain_trigger", "manual"),
             "failed_checks": trigger.get("market_assets/failed_checks", "—")},
            partition_key=session.isoformat(),
        )
    return dg.MaterializeResult()


def labels_known_at(labels: pl.DataFrame, prices: pl.DataFrame, session: dt.date) -> pl.DataFrame:
    """``labels`` plus the rows closed by ``session`` that the ``labels`` asset does not hold yet.

    The recent rows come from :func:`market_assets.quant.labels.compute_labels` on
    prices up to ``session`` (point in time: a label whose window reaches past
    ``session`` is null), with the same class-threshold window as ``labels``.
    """
    from market_assets.quant.labels import HORIZONS, compute_labels

    stored = labels.filter(pl.col("date") <= session)
    last = stored["date"].max() if stored.height else None
    recent = compute_labels(prices.filter(pl.col("date") <= session), horizons=HORIZONS,
                            quantile_window=QUANTILE_WINDOW)
    if last is not None:
        recent = recent.filter(pl.col("date") > last)
    return pl.concat([stored, recent.select(stored.columns) if stored.height else recent], how="vertical_relaxed")
