"""``predictions``: the champion's forecasts for each session, from a model trained before it."""

import json
from itertools import groupby

import dagster as dg
import polars as pl
from pydantic import Field

from market_assets.defs.assets.models import registered_model_name
from market_assets.defs.metadata import frame_preview
from market_assets.defs.assets.daily import DAILY
from market_assets.defs.partitions import partition_dates
from market_assets.defs.resources import MlflowResource


class PredictionConfig(dg.Config):
    """Which registered models to predict with."""

    task: str = Field(default="regression", description="regression | direction | five_class")
    horizons: list[int] = Field(default=[1], description="Horizons with a registered champion.")


@dg.asset(
    **DAILY,
    group_name="models",
    kinds={"mlflow", "polars"},
    deps=[dg.AssetDep("trained_model", partition_mapping=dg.AllPartitionMapping())],
)
def predictions(
    context: dg.AssetExecutionContext,
    config: PredictionConfig,
    feature_table: pl.DataFrame,
    mlflow: MlflowResource,
) -> dg.Output:
    """Per symbol and horizon: the champion's prediction, an 80% interval or class probabilities, the model version."""
    from market_assets.tracking.history import champion_for, champion_history

    sessions = partition_dates(context.partition_keys)
    tracking = mlflow.tracking()
    frames = []
    for horizon in config.horizons:
        name = registered_model_name(config.task, horizon)
        history = champion_history(tracking, name)
        plan = [(champion_for(history, session), session) for session in sessions]
        for _, group in groupby(plan, key=lambda item: item[0].version if item[0] else None):
            group = list(group)
            version, days = group[0][0], [session for _, session in group]
            if version is None:
                raise dg.Failure(
                    f"no champion of {name} was trained before {days[0]}; materialize trained_model "
                    "for an earlier week first (a prediction may only use a model trained before it)"
                )
            rows = feature_table.filter(pl.col("date").is_in(days))
            frames.append(_predict(tracking, name, version, rows, config.task, horizon))
            context.log.info(f"{name} v{version.version} (trained to {version.train_end}) "
                             f"predicted {rows.height:,} rows for {days[0]} … {days[-1]}")
    result = pl.concat(frames, how="diagonal_relaxed").sort("date", "horizon", "symbol")
    return dg.Output(
        result,
        metadata={
            "rows": result.height,
            "model_versions": ", ".join(sorted(set(result["model_version"].unique().to_list()))),
            "mean_prediction": dg.MetadataValue.float(float(result["prediction"].mean() or 0.0)),
            "preview": frame_preview(result),
        },
    )


def _predict(tracking, name, version, rows: pl.DataFrame, task: str, horizon: int) -> pl.DataFrame:
    """Score ``rows`` with one model version after checking its input contract."""
    from market_assets.quant.dataset import model_input_check
    from market_assets.tracking.mlflow_store import load_model

    columns = json.loads(version.tags["feature_columns"])
    required = json.loads(version.tags["required_features"])
    X = model_input_check(
        rows, columns, dict.fromkeys(columns, pl.Float64()), required=required
    ).to_pandas()
    model = load_model(tracking, name, version.version)
    out = rows.select("date", "symbol").with_columns(
        pl.lit(horizon, dtype=pl.Int32).alias("horizon"),
        pl.lit(f"{name}/{version.version}").alias("model_version"),
        pl.lit(version.train_end).alias("model_train_end"),
    )
    if task == "regression":
        prediction = model.predict(X)
        low, high = json.loads(version.tags["interval"])
        return out.with_columns(
            pl.Series("prediction", prediction, dtype=pl.Float64),
            pl.Series("interval_low", prediction + low, dtype=pl.Float64),
            pl.Series("interval_high", prediction + high, dtype=pl.Float64),
        )
    proba = model.predict_proba(X)
    classes = list(model.classes_)
    return out.with_columns(
        pl.Series("prediction", [float(classes[i]) for i in proba.argmax(axis=1)], dtype=pl.Float64),
        pl.Series("confidence", proba.max(axis=1), dtype=pl.Float64),
        *[pl.Series(f"p_class_{int(c)}", proba[:, i], dtype=pl.Float64) for i, c in enumerate(classes)],
    )
