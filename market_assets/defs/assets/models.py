"""``trained_model``: one model per weekly training period, tracked and registered in MLflow."""

import datetime as dt
import json

import dagster as dg
import polars as pl
from pydantic import Field

from market_assets.calendars import sessions_between
from market_assets.defs.io_manager import PartitionedParquetIOManager
from market_assets.defs.metadata import markdown_table
from market_assets.defs.partitions import MODEL_PERIODS
from market_assets.defs.resources import MlflowResource, OptunaResource
from market_assets.settings import load_settings

SETTINGS = load_settings()


class TrainingConfig(dg.Config):
    """What to train for a period, and how honestly."""

    model_name: str = Field(
        default="ridge", description="Model zoo name: ridge, lasso, elasticnet, random_forest, xgboost, "
        "lightgbm, weighted_average, stacking, or a baseline (zero_return, momentum, prior)."
    )
    task: str = Field(default="regression", description="regression | direction | five_class")
    horizon: int = Field(default=1, description="Label horizon in sessions (1, 5 or 20).")
    embargo: int = Field(default=5, description="Sessions dropped between training labels and the cut-off.")
    window: int | None = Field(default=None, description="Sliding window in sessions; None = expanding.")
    validation_sessions: int = Field(default=60, description="Out-of-sample sessions scored before promotion.")
    params_json: str = Field(default="{}", description="Model hyperparameters as JSON.")
    promotion_margin: float = Field(
        default=0.0, description="How much better than the champion (key metric units) to become champion."
    )
    tuning_trials: int = Field(default=0, description="Optuna trials before the fit (0 = no tuning).")
    tuning_timeout_seconds: float | None = Field(default=None, description="Optuna time budget.")
    random_state: int = Field(default=0, description="Seed of every random step.")

    def spec(self):
        from market_assets.quant.training import TrainingSpec

        return TrainingSpec(
            model_name=self.model_name, task=self.task, horizon=self.horizon, embargo=self.embargo,
            window=self.window, validation_sessions=self.validation_sessions,
            params=json.loads(self.params_json), random_state=self.random_state,
        )


def registered_model_name(task: str, horizon: int) -> str:
    """Models of one task and horizon compete for one registry entry's champion alias."""
    return f"market_assets_{task}_h{horizon}"


@dg.asset(
    partitions_def=MODEL_PERIODS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[
        dg.AssetDep("feature_table", partition_mapping=dg.AllPartitionMapping()),
        dg.AssetDep("labels", partition_mapping=dg.AllPartitionMapping()),
    ],
    group_name="models",
    kinds={"mlflow", "scikitlearn"},
    pool="training",
)
def trained_model(
    context: dg.AssetExecutionContext,
    config: TrainingConfig,
    parquet_io_manager: dg.ResourceParam[PartitionedParquetIOManager],
    mlflow: MlflowResource,
    optuna: OptunaResource,
) -> dg.MaterializeResult:
    """Model for the sessions of a week, trained on labels closed before it; champion if it beats the champion.

    A range of weeks is a walk-forward in one run: each week is trained,
    registered and compared with the champion of the week before, in order.
    """
    weeks = sorted(dt.date.fromisoformat(key) for key in context.partition_keys)
    summaries = [
        _train_period(context, config, parquet_io_manager, mlflow, optuna, train_end) for train_end in weeks
    ]
    last = summaries[-1]
    return dg.MaterializeResult(
        metadata={
            **{k: v for k, v in last.items() if k != "week"},
            "weeks_trained": len(summaries),
            "walk_forward": markdown_table(
                [{k: v for k, v in summary.items() if k in WALK_FORWARD_COLUMNS} for summary in summaries],
                limit=60,
            ),
        }
    )


WALK_FORWARD_COLUMNS = ("week", "model_version", "alias", "validation_score", "champion_score", "train_rows")
# Validation metrics shown as floats (Dagster plots them across materializations).
PLOTTED_METRICS = ("ic", "rank_ic", "icir", "directional_accuracy", "r2", "rmse",
                   "log_loss", "roc_auc", "f1_macro", "brier")


def _train_period(context, config, store, mlflow, optuna, train_end: dt.date) -> dict:
    """Train, track and register the model of the week starting ``train_end``."""
    from market_assets.quant.training import fit_and_validate, split_periods

    spec = config.spec()
    sessions = sessions_between(SETTINGS.calendar, SETTINGS.start_date, train_end + dt.timedelta(days=60))
    clock = _Stopwatch(context, f"week of {train_end}")
    # The full history frames are not kept: only the training and validation rows live on.
    train, validation = split_periods(
        *_history(store, [s for s in sessions if s < train_end]), spec, train_end, sessions
    )
    clock.lap(f"{train.X.height:,} training rows × {train.X.width} features, "
              f"{validation.X.height:,} validation rows")
    if config.tuning_trials:
        spec = _tuned(context, spec, config, optuna, train, train_end)
        clock.lap(f"tuned {spec.model_name}: {spec.params}")
    fitted = fit_and_validate(train, validation, spec)
    clock.lap(f"fitted and validated {spec.model_name} ({spec.task}, h={spec.horizon})")
    name = registered_model_name(spec.task, spec.horizon)
    logged, decision = _track_and_promote(context, mlflow, name, spec, fitted, train_end, config.promotion_margin)
    clock.lap(f"tracked in MLflow as {name} v{logged.version}")
    metric, _ = spec.key_metric
    return {
        "week": train_end.isoformat(),
        "registered_model": name,
        "model_version": logged.version,
        "alias": "champion" if decision.promote else "challenger",
        "decision": decision.reason,
        "validation_score": float(fitted.metrics[metric]),
        "champion_score": float("nan") if decision.champion_score is None else float(decision.champion_score),
        "key_metric": metric,
        **{f"validation_{k}": float(fitted.metrics[k]) for k in PLOTTED_METRICS if k in fitted.metrics},
        "train_rows": fitted.train.X.height,
        "train_sessions": fitted.train.meta["date"].n_unique(),
        "validation_window": f"{fitted.validation.meta['date'].min()} … {fitted.validation.meta['date'].max()}",
        "last_training_label_end": str(fitted.train.meta["label_end"].max()),
        "metrics": markdown_table(
            [{"metric": k, "value": v} for k, v in fitted.metrics.items() if "_vol_" not in k]
        ),
        "mlflow_run": dg.MetadataValue.url(logged.run_url) if logged.run_url else logged.run_id,
    }


def _history(store: PartitionedParquetIOManager, sessions: list[dt.date]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Features and labels of ``sessions`` (unmaterialized sessions are skipped)."""
    keys = [s.isoformat() for s in sessions]
    features, _ = store.read_partitions(dg.AssetKey("feature_table"), keys, optional=keys)
    labels, _ = store.read_partitions(dg.AssetKey("labels"), keys, optional=keys)
    return features, labels


def _tuned(context, spec, config, optuna, train, train_end):
    """``spec`` with the best hyperparameters of an Optuna study over purged folds of ``train``."""
    import dataclasses

    from market_assets.quant.cv import PurgedWalkForwardSplit
    from market_assets.quant.tuning import tune

    study = f"{registered_model_name(spec.task, spec.horizon)}_{spec.model_name}_{train_end}"
    result = tune(
        spec.model_name, spec.task, train.X.to_pandas(), train.y, train.meta["date"].to_list(),
        storage=optuna.storage, study_name=study, n_trials=config.tuning_trials,
        timeout=config.tuning_timeout_seconds, seed=spec.random_state,
        cv=PurgedWalkForwardSplit(n_splits=3, horizon=spec.horizon, embargo=spec.embargo, min_train_sessions=60),
        fixed_params=spec.params,
    )
    context.log.info(f"Optuna study {study}: {result.n_trials_completed} trials, best {result.best_score:.4g}")
    return dataclasses.replace(spec, params={**spec.params, **result.best_params})


class _Stopwatch:
    """Logs how long each stage of a long step took."""

    def __init__(self, context, label: str) -> None:
        import time

        self._time, self._context, self._label = time.perf_counter, context, label
        self._last = self._time()

    def lap(self, what: str) -> None:
        now = self._time()
        self._context.log.info(f"{self._label}: {what} ({now - self._last:.1f} s)")
        self._last = now


def _track_and_promote(context, mlflow, name, spec, fitted, train_end, margin):
    """Log the run, register the version, compare with the champion on the same window."""
    from market_assets.quant.promotion import PromotionDecision, decide_promotion
    from market_assets.quant.training import evaluate, feature_importance
    from market_assets.tracking.mlflow_store import champion_version, load_model, log_training_run, promote_or_challenge

    tracking = mlflow.tracking()
    metric, higher_is_better = spec.key_metric
    champion = champion_version(tracking, name)
    if champion is not None and champion.tags.get("train_end", "") > train_end.isoformat():
        # Re-training a past week: the champion is newer and was trained on data that
        # overlaps this week's validation window, so no fair comparison exists.
        decision = PromotionDecision(
            promote=False, challenger_score=fitted.metrics[metric], champion_score=None, margin=margin,
            reason=f"a newer champion (v{champion.version}, week of {champion.tags['train_end']}) exists; "
            "a re-trained past week is registered as challenger, never promoted",
        )
    else:
        champion_score = None if champion is None else _champion_score(
            context, tracking, name, champion, fitted, spec, evaluate, load_model, metric
        )
        decision = decide_promotion(
            fitted.metrics[metric], champion_score, margin=margin, higher_is_better=higher_is_better
        )
    tags = {
        "dagster_run_id": context.run.run_id, "partition": train_end.isoformat(),
        "train_end": train_end.isoformat(), "model_name": spec.model_name, "task": spec.task,
        "horizon": str(spec.horizon), "key_metric": metric,
        "input_fingerprint": _fingerprint(fitted.train.X, fitted.train.y),
        "feature_columns": json.dumps(fitted.feature_columns),
        "required_features": json.dumps(fitted.required_features),
        "interval": json.dumps(fitted.interval),
    }
    params = {"embargo": spec.embargo, "window": spec.window, "validation_sessions": spec.validation_sessions,
              "random_state": spec.random_state, **spec.params}
    logged = log_training_run(
        tracking, model_name=name, model=fitted.model, X_example=fitted.validation.X.head(50).to_pandas(),
        params=params, metrics=fitted.metrics, tags=tags,
        feature_importance=feature_importance(fitted.model, fitted.feature_columns),
    )
    alias = promote_or_challenge(tracking, name, logged.version, decision)
    context.log.info(f"{name} v{logged.version} is {alias}: {decision.reason}")
    return logged, decision


def _champion_score(context, tracking, name, champion, fitted, spec, evaluate, load_model, metric):
    """The champion's key metric on the challenger's validation window (None if it cannot score it)."""
    columns = json.loads(champion.tags.get("feature_columns", "[]"))
    if columns != fitted.feature_columns:
        context.log.warning(f"champion v{champion.version} was trained on other features; not comparable")
        return None
    model = load_model(tracking, name, champion.version)
    return evaluate(model, fitted.validation, spec)[metric]


def _fingerprint(X: pl.DataFrame, y) -> str:
    """A stable hash of the training matrix and target (same data, same fingerprint)."""
    import hashlib

    digest = hashlib.sha256()
    digest.update(X.hash_rows(seed=0).to_numpy().tobytes())
    digest.update(y.astype("float64").tobytes())
    return f"{X.height}x{X.width}-{digest.hexdigest()[:16]}"
