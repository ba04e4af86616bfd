"""``predictions``: the champion's forecasts for each session, from a model trained before it.

Lineage: session ``t`` depends on the ``trained_model`` weeks up to and
including its own week and on the ``retrained_model`` sessions before it, over the last :data:`CHAMPION_LOOKBACK_SESSIONS`
sessions (:data:`CHAMPION_WEEKS`): the champion that serves ``t`` is the
latest promoted week on or before ``t``, which may be an older week when
later ones lost to it.  A champion older than the declared window is refused.
"""

import dagster as dg
import polars as pl
from pydantic import Field

from market_assets.calendars import sessions_between
from market_assets.defs.assets.daily import DAILY
from market_assets.defs.assets.models import HISTORY_WEEKS
from market_assets.defs.metadata import add_partition_metadata, frame_preview
from market_assets.defs.partitions import partition_dates
from market_assets.defs.resources import MlflowResource
from market_assets.settings import load_settings

SETTINGS = load_settings()

#: How far back (in sessions) the champion of a session may have been trained:
#: the same ~20 years a model period reads (5 sessions a week).
CHAMPION_LOOKBACK_SESSIONS = 5 * HISTORY_WEEKS

#: Session t -> the weeks overlapping [t - CHAMPION_LOOKBACK_SESSIONS sessions, t]
#: (offsets count the downstream's sessions); the last one is the week containing t.
CHAMPION_WEEKS = dg.TimeWindowPartitionMapping(
    start_offset=-CHAMPION_LOOKBACK_SESSIONS, end_offset=0, allow_nonexistent_upstream_partitions=True
)


#: Session t -> the retrains of the sessions before t (a retrain after s serves s's next session on).
CHAMPION_RETRAINS = dg.TimeWindowPartitionMapping(
    start_offset=-CHAMPION_LOOKBACK_SESSIONS, end_offset=-1, allow_nonexistent_upstream_partitions=True
)


class PredictionConfig(dg.Config):
    """Which registered models to predict with."""

    task: str = Field(default="regression", description="regression | direction | five_class")
    horizons: list[int] = Field(default=[1], description="Horizons with a registered champion.")


@dg.asset(
    **DAILY,
    group_name="models",
    kinds={"mlflow", "polars"},
    deps=[dg.AssetDep("trained_model", partition_mapping=CHAMPION_WEEKS),
          dg.AssetDep("retrained_model", partition_mapping=CHAMPION_RETRAINS)],
)
def predictions(
    context: dg.AssetExecutionContext,
    config: PredictionConfig,
    feature_table: pl.DataFrame,
    mlflow: MlflowResource,
) -> dg.Output:
    """Per symbol and horizon: the champion's prediction, an 80% interval or class probabilities, the model version."""
    from market_assets.workflow.prediction import NoChampionError, predict_sessions

    sessions = partition_dates(context.partition_keys)
    try:
        result = predict_sessions(
            feature_table, sessions, tracking=mlflow.tracking(), task=config.task, horizons=config.horizons,
            calendar=sessions_between(SETTINGS.calendar, SETTINGS.start_date, sessions[-1]),
            max_champion_age=CHAMPION_LOOKBACK_SESSIONS, log=context.log,
        )
    except NoChampionError as error:
        raise dg.Failure(str(error)) from error
    add_partition_metadata(context, result, session_metadata)
    return dg.Output(result)


def session_metadata(key: str, rows: pl.DataFrame) -> dict[str, object]:
    """One session's own numbers: rows, the model version(s) that served it, mean prediction, preview."""
    versions = sorted(rows["model_version"].unique().to_list())
    return {
        "rows": dg.MetadataValue.int(rows.height),
        "model_versions": ", ".join(versions) if versions else "—",
        "model_train_ends": ", ".join(sorted({d.isoformat() for d in rows["model_train_end"]})) or "—",
        "mean_prediction": dg.MetadataValue.float(float("nan") if rows.is_empty() else float(rows["prediction"].mean())),
        "preview": frame_preview(rows),
    }
