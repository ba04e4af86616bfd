"""Monitoring assets: ``drift_report`` and ``model_performance``, one partition per session.

Both judge the champion serving each session (see
:mod:`market_assets.workflow.monitoring` and :mod:`market_assets.quant.performance`)
and carry the checks the retrain sensor watches: ``no_feature_drift``,
``no_prediction_drift`` and ``performance_above_floor``.
"""


import datetime as dt
from itertools import groupby

import dagster as dg
import polars as pl
from pydantic import Field

from market_assets.calendars import sessions_between
from market_assets.defs.assets.daily import DAILY, session_window
from market_assets.defs.checks.session_checks import SessionVerdict, session_check_events
from market_assets.defs.io_manager import PartitionedParquetIOManager
from market_assets.defs.metadata import markdown_table
from market_assets.defs.partitions import partition_dates
from market_assets.defs.resources import MlflowResource
from market_assets.quant.labels import MAX_HORIZON
from market_assets.settings import load_settings

SETTINGS = load_settings()

#: Sessions of feature history a drift partition reads: the current window, the
#: champion's reference and up to ~120 sessions of champion age.  A nightly run
#: with a week-old champion uses ~145 of them, but the reference's position moves
#: with the champion's age, which a static partition mapping cannot follow: the
#: window stays wide enough for a champion of ~120 sessions.
DRIFT_LOOKBACK_SESSIONS = 260
#: Sessions of predictions and prices a performance partition reads.
PERFORMANCE_LOOKBACK_SESSIONS = 60 + MAX_HORIZON

DRIFT_CHECKS = [
    dg.AssetCheckSpec(
        "no_feature_drift", asset="drift_report",
        description="The share of the champion's features that drifted (Evidently's tests, last window vs "
        "its training reference) stays below the limit; fails a session past it.",
    ),
    dg.AssetCheckSpec(
        "no_prediction_drift", asset="drift_report",
        description="The distribution of the champion's predictions over the last window matches its "
        "predictions on the training reference (Evidently's test for the column).",
    ),
]
PERFORMANCE_CHECKS = [
    dg.AssetCheckSpec(
        "performance_above_floor", asset="model_performance",
        description="The serving champion's realised rolling metrics (directional accuracy, rank IC, RMSE) "
        "meet their floors; too few sessions is not a failure.",
    ),
]


class DriftConfig(dg.Config):
    """Which champion is judged, over which window, against which limit."""

    task: str = Field(default="regression", description="Task of the judged champion (regression only).")
    horizon: int = Field(default=1, description="Horizon of the judged champion.")
    window: int = Field(default=20, ge=2, description="Sessions in the current window (the session included).")
    reference_sessions: int = Field(
        default=120, ge=20, description="The champion's last training sessions used as the reference."
    )
    max_drifted_share: float = Field(
        default=0.3, gt=0, le=1, description="no_feature_drift fails when at least this share of the champion's "
        "features drifted (each by Evidently's test and beyond the reference's own block-to-block variation)."
    )
    html_reports: int = Field(
        default=3, ge=0, description="Evidently HTML reports written per run (the last session and the first "
        "drifted ones; each takes seconds)."
    )
    per_session_check_limit: int = Field(
        default=31, ge=0, description="Runs of at most this many sessions record each session's check results."
    )


@dg.asset(
    **DAILY,
    group_name="monitoring",
    kinds={"evidently", "polars"},
    ins={
        "feature_table": session_window(DRIFT_LOOKBACK_SESSIONS),
        "predictions": session_window(40),
        "validated_prices": session_window(DRIFT_LOOKBACK_SESSIONS + 1),
    },
    check_specs=DRIFT_CHECKS,
)
def drift_report(
    context: dg.AssetExecutionContext,
    config: DriftConfig,
    feature_table: pl.DataFrame,
    predictions: pl.DataFrame,
    validated_prices: pl.DataFrame,
    mlflow: MlflowResource,
    parquet_io_manager: dg.ResourceParam[PartitionedParquetIOManager],
):
    """Feature, prediction and target drift of the last window against the serving champion's training data."""
    from market_assets.quant.performance import realized_returns
    from market_assets.tracking.history import champion_for, champion_history
    from market_assets.workflow.drift_reference_cache import ReferenceCache, cached_champion_reference
    from market_assets.workflow.monitoring import DriftSettings, session_drift
    from market_assets.workflow.training import registered_model_name

    sessions = partition_dates(context.partition_keys)
    calendar = sessions_between(SETTINGS.calendar, SETTINGS.start_date, sessions[-1])
    settings = DriftSettings(window=config.window, reference_sessions=config.reference_sessions,
                             max_drifted_share=config.max_drifted_share)
    tracking, name = mlflow.tracking(), registered_model_name(config.task, config.horizon)
    history = champion_history(tracking, name)
    results, reports = [], ReportBudget(config.html_reports, sessions[-1])
    realized = realized_returns(validated_prices, [config.horizon], sessions[-1])  # once; filtered per session
    plan = [(champion_for(history, s), s) for s in sessions]
    for _, group in groupby(plan, key=lambda item: item[0].version if item[0] else None):
        group = list(group)
        champion, days = group[0][0], [s for _, s in group]
        if champion is None:
            raise dg.Failure(f"no champion of {name} serves {days[0]}: drift is judged against the champion's "
                             "training data; materialize trained_model for an earlier week first")
        # Built once per champion (its training sessions do not change), then read back on later runs.
        reference, origin = cached_champion_reference(
            champion, model_name=name, horizon=config.horizon, features=feature_table, prices=validated_prices,
            calendar=calendar, tracking=tracking, settings=settings, cache=ReferenceCache(parquet_io_manager.root),
        )
        context.log.info(f"{name} v{champion.version}: reference {reference.first_session} … "
                         f"{reference.last_session} ({reference.feature_rows.height:,} rows) for {days[0]} … "
                         f"{days[-1]}: {origin.describe()}")
        for session in days:
            drift = session_drift(reference, session=session, features=feature_table, predictions=predictions,
                                  realized=realized, calendar=calendar, settings=settings)
            path = reports.write(parquet_io_manager.root, reference, drift, config, context)
            context.add_asset_metadata(drift_metadata(drift, reference, path, cached=origin.cached),
                                       partition_key=session.isoformat())
            results.append((drift, path))
    table = pl.concat([drift.table for drift, _ in results], how="diagonal_relaxed")
    yield dg.Output(table)
    yield from session_check_events(
        "drift_report", "no_feature_drift", [_feature_verdict(d, p, config) for d, p in results],
        per_session_limit=config.per_session_check_limit,
    )
    yield from session_check_events(
        "drift_report", "no_prediction_drift", [_prediction_verdict(d, p) for d, p in results],
        per_session_limit=config.per_session_check_limit,
    )


class ReportBudget:
    """Writes Evidently's HTML for the last session and the first drifted ones, up to ``limit`` per run."""

    def __init__(self, limit: int, last: dt.date) -> None:
        self.left, self.last = limit, last

    def write(self, root: str, reference, drift, config: DriftConfig, context) -> str | None:
        wanted = drift.session == self.last or drift.feature_drift_detected or bool(drift.prediction.get("drifted"))
        if not wanted or self.left <= 0 or (self.left == 1 and drift.session != self.last):
            return None
        self.left -= 1
        return write_report(root, reference, drift, config, context)


def write_report(root: str, reference, drift, config: DriftConfig, context) -> str:
    """Render the session's Evidently report beside the data; returns its path or URL."""
    import tempfile
    import time
    from pathlib import Path

    from upath import UPath

    from market_assets.quant.drift_report import report_columns, write_drift_html
    from market_assets.workflow.monitoring import report_frames

    started = time.perf_counter()
    features = drift.table.filter(pl.col("kind") == "feature")
    columns = report_columns(features, always=("prediction", "realized_return"), n_features=10)
    ref, cur = report_frames(reference, drift, columns)
    target = UPath(root) / "drift_report" / "reports" / f"{drift.session.isoformat()}.html"
    if target.protocol in ("", "file", "local"):
        write_drift_html(ref, cur, columns, str(target))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            local = write_drift_html(ref, cur, columns, Path(tmp) / target.name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(local.read_bytes())
    context.log.info(f"{drift.session}: Evidently report on {len(columns)} columns written to {target} "
                     f"({time.perf_counter() - started:.1f} s)")
    return str(target)


def drift_metadata(drift, reference, report: str | None, *, cached: bool | None = None) -> dict[str, object]:
    """One session's drift: shares and scores as floats, the top drifted features, the report link.

    ``cached``: whether the champion's reference was read from its cache entry
    (``reference_cached``) rather than built in this run.
    """
    features = drift.table.filter(pl.col("kind") == "feature")
    top = features.filter(pl.col("drifted").is_not_null()).sort("severity", descending=True).head(10)
    metadata: dict[str, object] = {
        "champion": f"{reference.model_name}/{reference.champion.version}",
        "champion_cut_off": reference.champion.train_end.isoformat(),
        "reference_window": f"{reference.first_session} … {reference.last_session}",
        **({} if cached is None else {"reference_cached": dg.MetadataValue.bool(cached)}),
        "features_tested": dg.MetadataValue.int(drift.features.n_columns),
        "features_drifted": dg.MetadataValue.int(drift.features.n_drifted),
        "drifted_share": dg.MetadataValue.float(float(drift.features.drifted_share)),
        "mean_feature_severity": dg.MetadataValue.float(
            float(features["severity"].mean()) if features.height else float("nan")
        ),
        "top_drifted_features": markdown_table(
            top.select("column", "stattest", "score", "threshold", "reference_severity", "severity", "drifted")
        .to_dicts(), limit=10
        ),
        "report": dg.MetadataValue.path(report) if report else "not rendered in this run (see html_reports)",
    }
    for kind, summary in (("prediction", drift.prediction), ("target", drift.target)):
        metadata[f"{kind}_drift_score"] = dg.MetadataValue.float(float(summary.get("score", float("nan"))))
        metadata[f"{kind}_drift_test"] = str(summary.get("stattest", "untested: no values"))
        metadata[f"{kind}_drifted"] = str(summary.get("drifted"))
    return metadata


def _feature_verdict(drift, report: str | None, config: DriftConfig) -> SessionVerdict:
    summary = drift.features
    return SessionVerdict(
        session=drift.session.isoformat(), passed=not drift.feature_drift_detected,
        metadata={"observed_drifted_share": dg.MetadataValue.float(float(summary.drifted_share)),
                  "threshold": dg.MetadataValue.float(config.max_drifted_share),
                  "features_drifted": summary.n_drifted, "features_tested": summary.n_columns,
                  "report": dg.MetadataValue.path(report) if report else "—"},
        description=f"{summary.n_drifted} of {summary.n_columns} features drifted ({summary.drifted_share:.0%}; "
        f"fails at {config.max_drifted_share:.0%})",
    )


def _prediction_verdict(drift, report: str | None) -> SessionVerdict:
    summary = drift.prediction
    drifted = bool(summary.get("drifted"))
    return SessionVerdict(
        session=drift.session.isoformat(), passed=not drifted,
        metadata={"observed_score": dg.MetadataValue.float(float(summary.get("score", float("nan")))),
                  "threshold": dg.MetadataValue.float(float(summary.get("threshold") or float("nan"))),
                  "stattest": str(summary.get("stattest", "untested")),
                  "report": dg.MetadataValue.path(report) if report else "—"},
        description=(f"prediction {summary['stattest']} score {summary['score']:.4g} vs threshold "
                     f"{summary['threshold']:.4g}" if summary else
                     "untested: fewer than half a window of the champion's predictions"),
    )


class PerformanceConfig(dg.Config):
    """The rolling window and the floors the serving champion must meet."""

    horizons: list[int] = Field(default=[1], description="Horizons with a regression champion.")
    window: int = Field(default=20, ge=1, description="Sessions of judged predictions per window.")
    directional_accuracy_min: float | None = Field(default=0.45, description="Floor of the share of right directions.")
    rank_ic_min: float | None = Field(default=0.0, description="Floor of the mean rank IC.")
    ic_min: float | None = Field(default=None, description="Floor of the mean IC (None: not judged).")
    r2_min: float | None = Field(default=None, description="Floor of R² (None: not judged).")
    rmse_max: float | None = Field(default=0.15, description="Ceiling of the RMSE in return units.")
    min_sessions: int = Field(default=10, ge=1, description="Judged sessions needed before a metric is judged.")
    per_session_check_limit: int = Field(default=31, ge=0, description="Runs of at most this many sessions "
                                         "record each session's check result.")

    def floors(self):
        from market_assets.quant.performance import PerformanceFloors

        return PerformanceFloors(
            directional_accuracy_min=self.directional_accuracy_min, rank_ic_min=self.rank_ic_min,
            ic_min=self.ic_min, r2_min=self.r2_min, rmse_max=self.rmse_max, min_sessions=self.min_sessions,
        )


@dg.asset(
    **DAILY,
    group_name="monitoring",
    kinds={"polars"},
    ins={
        "predictions": session_window(PERFORMANCE_LOOKBACK_SESSIONS),
        "validated_prices": session_window(PERFORMANCE_LOOKBACK_SESSIONS),
    },
    check_specs=PERFORMANCE_CHECKS,
)
def model_performance(
    context: dg.AssetExecutionContext, config: PerformanceConfig, predictions: pl.DataFrame,
    validated_prices: pl.DataFrame,
):
    """Realised rolling IC, rank IC, directional accuracy, RMSE and R² of the champion serving each session."""
    from market_assets.quant.performance import judge_performance, performance_at, realized_returns

    sessions = partition_dates(context.partition_keys)
    frames, verdicts = [], []
    floors = config.floors()
    # Computed once for the run: each session below keeps only the returns known at its
    # close (known_at <= session), which are the same whatever prices came later.
    realized = realized_returns(validated_prices, config.horizons, sessions[-1])
    judged_predictions = predictions.filter(pl.col("horizon").is_in(config.horizons))
    for session in sessions:
        serving = _serving_versions(predictions, session)
        metrics = performance_at(judged_predictions, realized, session,
                                 window=config.window, by=("horizon", "model_version"))
        if metrics.height:  # a horizon without judged rows has a null model_version: nothing to judge
            metrics = metrics.with_columns(pl.col("model_version").cast(pl.String), pl.col("horizon").cast(pl.Int32))
            metrics = metrics.join(serving, on=["horizon", "model_version"], how="semi")
        judged = judge_performance(metrics, floors) if metrics.height else metrics
        metrics = with_interval_coverage(metrics, predictions, realized, session)
        frames.append(metrics.with_columns(pl.lit(session).alias("date")))
        context.add_asset_metadata(performance_metadata(metrics, judged), partition_key=session.isoformat())
        verdicts.append(_performance_verdict(session, metrics, judged))
    table = pl.concat(frames, how="diagonal_relaxed")
    yield dg.Output(table.select("date", *[c for c in table.columns if c != "date"]))
    yield from session_check_events("model_performance", "performance_above_floor", verdicts,
                                    per_session_limit=config.per_session_check_limit)


def with_interval_coverage(metrics: pl.DataFrame, predictions: pl.DataFrame, realized: pl.DataFrame,
                           asof: dt.date) -> pl.DataFrame:
    """``metrics`` plus ``interval_coverage``: the share of the window's realised returns inside the 80% interval.

    Measured on sessions after the model's cut-off whose return is known at
    ``asof``'s close: the honest coverage (the validation residuals the interval
    was cut from cover 80% by construction).
    """
    from market_assets.quant.metrics_intervals import interval_coverage

    if metrics.is_empty() or "interval_low" not in predictions.columns:
        return metrics.with_columns(pl.lit(None, dtype=pl.Float64).alias("interval_coverage"))
    known = realized.filter(pl.col("known_at") <= asof).select("date", "symbol", "horizon", "realized_return")
    values = []
    for row in metrics.iter_rows(named=True):
        rows = (predictions.filter((pl.col("model_version") == row["model_version"])
                                   & pl.col("date").is_between(row["first_session"], row["last_session"]))
                .with_columns(pl.col("horizon").cast(pl.Int32))
                .join(known, on=["date", "symbol", "horizon"], how="inner")
                .filter(pl.col("horizon") == row["horizon"]))
        values.append(interval_coverage(rows["realized_return"], rows["interval_low"], rows["interval_high"])
                      if rows.height else None)
    return metrics.with_columns(pl.Series("interval_coverage", values, dtype=pl.Float64))


def _serving_versions(predictions: pl.DataFrame, session: dt.date) -> pl.DataFrame:
    """(horizon, model_version) that served ``session`` (the champion being judged)."""
    return (predictions.filter(pl.col("date") == session).select(pl.col("horizon").cast(pl.Int32), "model_version")
            .unique())


def performance_metadata(metrics: pl.DataFrame, judged: pl.DataFrame) -> dict[str, object]:
    """Per horizon: the rolling metrics as floats (plotted over sessions) and the verdicts."""
    metadata: dict[str, object] = {}
    for row in metrics.iter_rows(named=True):
        h = row["horizon"]
        metadata[f"model_version_h{h}"] = row["model_version"]
        metadata[f"judged_sessions_h{h}"] = dg.MetadataValue.int(int(row["n_sessions"]))
        for name in ("ic", "rank_ic", "directional_accuracy", "rmse", "r2"):
            metadata[f"{name}_h{h}"] = dg.MetadataValue.float(float(row[name]))
        coverage = row.get("interval_coverage")
        metadata[f"interval_coverage_h{h}"] = dg.MetadataValue.float(float("nan") if coverage is None else coverage)
    metadata["verdicts"] = markdown_table(
        judged.select("horizon", "metric", "observed", "comparison", "threshold", "passed", "reason").to_dicts()
        if judged.height else [], limit=20,
    )
    return metadata


def _performance_verdict(session: dt.date, metrics: pl.DataFrame, judged: pl.DataFrame) -> SessionVerdict:
    failed = judged.filter(pl.col("passed") == False) if judged.height else judged  # noqa: E712
    if metrics.is_empty():
        return SessionVerdict(session.isoformat(), True, {"judged_rows": 0},
                              "no served prediction has a closed window yet")
    first = (failed if failed.height else judged).row(0, named=True) if judged.height else None
    metadata: dict[str, object] = {"judged_rows": dg.MetadataValue.int(int(metrics["n"].sum()))}
    if first is not None:
        metadata.update({"metric": first["metric"], "observed": dg.MetadataValue.float(float(first["observed"])),
                         "threshold": dg.MetadataValue.float(float(first["threshold"])), "reason": first["reason"]})
    description = ("; ".join(f"h{r['horizon']} {r['metric']} {r['observed']:.4g} {r['comparison']} "
                             f"{r['threshold']:.4g} failed" for r in failed.iter_rows(named=True))
                   if failed.height else "every judged metric meets its floor (or too few sessions)")
    return SessionVerdict(session.isoformat(), failed.is_empty(), metadata, description)
