"""``trained_model``: one model per weekly training period, tracked and registered in MLflow.

Lineage: week ``W`` reads ``feature_table`` and ``labels`` of the sessions
*before* ``W`` (:data:`TRAINING_HISTORY`), and only those: each week of a
range run is cut out of the loaded history at its own declared window.
Which label rows it may use is decided row by row in
:func:`market_assets.workflow.training.train_period`: validation labels
closed before ``W``, training labels more than ``embargo`` sessions before
the validation window (purge + embargo), checked on the frames trained on.
"""

import dataclasses
import datetime as dt
import json

import dagster as dg
import polars as pl
from pydantic import Field

from market_assets.calendars import sessions_between
from market_assets.defs.metadata import markdown_table
from market_assets.defs.partitions import MODEL_PERIODS, SESSIONS
from market_assets.defs.resources import MlflowResource, OptunaResource
from market_assets.quant.training import TrainingSpec
from market_assets.settings import load_settings
from market_assets.workflow.training import PeriodResult, TrainingOptions, registered_model_name

__all__ = ["HISTORY_WEEKS", "TRAINING_HISTORY", "TrainingConfig", "registered_model_name", "trained_model"]

SETTINGS = load_settings()

#: Weeks of session history a model period declares it reads: an expanding window
#: for any deployment younger than 20 years, a sliding one after.  A
#: TimeWindowPartitionMapping costs O(offset) to evaluate (start_offset=-100000
#: took 8 s per week on Dagster 1.13), so "since the first session" is spelled
#: as a bounded offset; partitions before the first session do not exist.
HISTORY_WEEKS = 1040

#: Week W -> the sessions of [W - HISTORY_WEEKS weeks, W): ``end_offset=-1`` (in weeks,
#: the downstream's unit) ends the window at the last session before W's Sunday.
TRAINING_HISTORY = dg.TimeWindowPartitionMapping(
    start_offset=-HISTORY_WEEKS, end_offset=-1, allow_nonexistent_upstream_partitions=True
)

# Every session of the window may be unmaterialized (history before the first
# stored session; labels whose 20-session window has not closed yet): the
# workflow decides which rows it can use and fails when none are left.
_ANY_SESSION_MAY_BE_MISSING = {"lookback_partitions": 10**9}

_SPEC, _OPTIONS = TrainingSpec(), TrainingOptions()


class TrainingConfig(dg.Config):
    """What to train for a period, and how honestly (defaults: ``TrainingSpec()`` and ``TrainingOptions()``)."""

    model_name: str = Field(
        default=_SPEC.model_name, description="Model zoo name: ridge, lasso, elasticnet, random_forest, xgboost, "
        "lightgbm, weighted_average, stacking, or a baseline (zero_return, momentum, prior)."
    )
    task: str = Field(default=_SPEC.task, description="regression | direction | five_class")
    horizon: int = Field(default=_SPEC.horizon, description="Label horizon in sessions (1, 5 or 20).")
    embargo: int = Field(
        default=_SPEC.embargo, description="Sessions dropped between training labels and the validation window."
    )
    window: int | None = Field(
        default=_SPEC.window,
        description="Sliding training window in sessions, inside the declared history; None = all of it.",
    )
    validation_sessions: int = Field(
        default=_SPEC.validation_sessions, description="Out-of-sample sessions scored before promotion."
    )
    params_json: str = Field(default=json.dumps(_SPEC.params), description="Model hyperparameters as JSON.")
    promotion_margin: float = Field(
        default=_OPTIONS.promotion_margin,
        description="How much better than the champion (key metric units) to become champion.",
    )
    tuning_trials: int = Field(
        default=_OPTIONS.tuning_trials, description="Optuna trials before the fit (0 = no tuning)."
    )
    tuning_timeout_seconds: float | None = Field(
        default=_OPTIONS.tuning_timeout_seconds, description="Optuna time budget in seconds (None = no limit)."
    )
    tuning_processes: int = Field(
        default=_OPTIONS.tuning_processes, ge=1,
        description="Processes searching the one Optuna study at once (above 1: Optuna storage on PostgreSQL).",
    )
    random_state: int = Field(default=_SPEC.random_state, description="Seed of every random step.")

    def spec(self) -> TrainingSpec:
        """The :class:`TrainingSpec` these settings describe."""
        fields = {f.name for f in dataclasses.fields(TrainingSpec)} - {"params"}
        return TrainingSpec(**{name: getattr(self, name) for name in fields}, params=json.loads(self.params_json))

    def options(self) -> TrainingOptions:
        """The :class:`TrainingOptions` these settings describe."""
        return TrainingOptions(**{f.name: getattr(self, f.name) for f in dataclasses.fields(TrainingOptions)})


@dg.asset(
    partitions_def=MODEL_PERIODS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    ins={
        "feature_table": dg.AssetIn(partition_mapping=TRAINING_HISTORY, metadata=_ANY_SESSION_MAY_BE_MISSING),
        "labels": dg.AssetIn(partition_mapping=TRAINING_HISTORY, metadata=_ANY_SESSION_MAY_BE_MISSING),
    },
    group_name="models",
    kinds={"mlflow", "scikitlearn"},
    pool="training",
)
def trained_model(
    context: dg.AssetExecutionContext,
    config: TrainingConfig,
    feature_table: pl.DataFrame,
    labels: pl.DataFrame,
    mlflow: MlflowResource,
    optuna: OptunaResource,
) -> dg.MaterializeResult:
    """Model for the sessions of a week, trained on labels closed before it; champion if it beats the champion.

    A range of weeks is a walk-forward in one run: each week is trained on its
    own window of the history, registered and compared with the champion of
    the week before, in order; each week gets its own metadata.
    """
    from market_assets.workflow.training import train_period

    results = []
    for week in sorted(context.partition_keys):
        train_end = dt.date.fromisoformat(week)
        result = train_period(
            feature_table, labels, spec=config.spec(), train_end=train_end,
            sessions=sessions_between(SETTINGS.calendar, SETTINGS.start_date, train_end + dt.timedelta(days=60)),
            tracking=mlflow.tracking(), options=config.options(), first_session=declared_sessions(week)[0],
            optuna_storage=optuna.storage, tags={"dagster_run_id": context.run.run_id}, log=context.log,
        )
        context.add_asset_metadata(week_metadata(result), partition_key=week)
        results.append(result)
    context.log.info("walk-forward of this run:\n" + markdown_table(
        [_walk_forward_row(r) for r in results], limit=len(results)).value)
    return dg.MaterializeResult()


def declared_sessions(week: str) -> tuple[dt.date, dt.date]:
    """First and last session that week ``week`` declares it reads (the mapping's own answer)."""
    subset = TRAINING_HISTORY.get_upstream_mapped_partitions_result_for_partitions(
        MODEL_PERIODS.subset_with_partition_keys([week]), MODEL_PERIODS, SESSIONS
    ).partitions_subset
    windows = subset.included_time_windows
    if not windows:
        raise dg.Failure(f"week {week} declares no session before it: the first session is {SETTINGS.start_date}")
    first = SESSIONS.get_partition_key_for_timestamp(windows[0].start.timestamp())
    last = SESSIONS.get_partition_key_for_timestamp(windows[-1].end.timestamp(), end_closed=True)
    return dt.date.fromisoformat(first), dt.date.fromisoformat(last)


# Validation metrics shown as floats (Dagster plots them across partitions).
PLOTTED_METRICS = ("ic", "rank_ic", "icir", "directional_accuracy", "r2", "rmse",
                   "log_loss", "roc_auc", "f1_macro", "brier")


def week_metadata(result: PeriodResult) -> dict[str, object]:
    """The metadata of one model week: its own version, decision, metrics and MLflow run."""
    champion = result.decision.champion_score
    return {
        "registered_model": result.registered_model,
        "model_version": dg.MetadataValue.int(int(result.version)),
        "alias": result.alias,
        "decision": result.decision.reason,
        "key_metric": result.key_metric,
        "validation_score": dg.MetadataValue.float(result.validation_score),
        "champion_score": dg.MetadataValue.float(float("nan") if champion is None else float(champion)),
        **{f"validation_{k}": dg.MetadataValue.float(float(result.metrics[k]))
           for k in PLOTTED_METRICS if k in result.metrics},
        "cut_off": result.train_end.isoformat(),
        "train_rows": dg.MetadataValue.int(result.train_rows),
        "train_sessions": dg.MetadataValue.int(result.train_sessions),
        "features": dg.MetadataValue.int(result.n_features),
        "first_training_session": result.first_training_session.isoformat(),
        "last_training_label_end": result.last_training_label_end.isoformat(),
        "validation_window": f"{result.validation_window[0]} … {result.validation_window[1]}",
        "last_validation_label_end": result.last_validation_label_end.isoformat(),
        "hyperparameters": dg.MetadataValue.json(result.spec.params),
        # e.g. chosen_alpha: the penalty the default ridge's purged CV picked (plots across weeks)
        **{f"chosen_{name.rstrip('_')}": dg.MetadataValue.float(value) for name, value in result.chosen.items()},
        "metrics": markdown_table(
            [{"metric": k, "value": v} for k, v in result.metrics.items() if "_vol_" not in k], limit=50
        ),
        "mlflow_run_name": result.run_name,
        "mlflow_run_id": result.run_id,
        "mlflow_run": dg.MetadataValue.url(result.run_url) if result.run_url else result.run_id,
    }


def _walk_forward_row(result: PeriodResult) -> dict[str, object]:
    champion = result.decision.champion_score
    return {
        "week": result.train_end.isoformat(), "model_version": result.version, "alias": result.alias,
        "validation_score": result.validation_score,
        "champion_score": float("nan") if champion is None else float(champion), "train_rows": result.train_rows,
    }
